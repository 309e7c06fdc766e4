"""The NSNN neurons (noisy-lif, escape-lif) on both backends, against closed forms."""
import numpy as np
import pytest
import torch

from neuromod.backends.network import simulate
from neuromod.backends.noise import FAMILIES
from neuromod.backends.torch_backend import NeuronLayer
from neuromod.errors import NeuromodError
from neuromod.neurons.nsnn import escape_lif, noisy_lif
from neuromod.neurons.renewal import renewal_rate

PATHS = [("torch", {"fused": False}), ("torch", {"fused": True}), ("brian2", {})]
IDS = ["eager", "fastsim", "brian2"]


@pytest.mark.parametrize("backend,options", PATHS, ids=IDS)
@pytest.mark.parametrize("noise", sorted(FAMILIES))
def test_noisy_lif_rate_is_the_renewal_rate(noise, backend, options):
    m = noisy_lif(noise, sigma=0.4)
    n, steps, burn = 600, 150, 40
    currents = (0.4, 0.8)
    r = simulate(m, 2 * n, steps * 1e-3, dt=1e-3, backend=backend,
                 inputs={"x": np.repeat(currents, n)}, seed=3, **options)
    st = r.spikes["neurons"]
    late = np.rint(st.times / 1e-3) >= burn
    counts = np.bincount(st.ids[late], minlength=2 * n).reshape(2, n) / (steps - burn)
    for g, current in enumerate(currents):
        want = renewal_rate(current, sigma=0.4, noise=noise)
        se = counts[g].std(ddof=1) / np.sqrt(n)
        assert abs(counts[g].mean() - want) < 3 * se, (noise, current, counts[g].mean(), want)


def test_reset_by_subtraction_and_options():
    m = noisy_lif(reset="subtract", beta=0.8, sigma=1e-3)       # nearly deterministic
    layer = NeuronLayer(m, 1, dt=1e-3, drive="x", dtype=torch.float64, fused=False)
    s, tr, _ = layer(torch.full((1, 1, 30), 0.5, dtype=torch.float64), record=["u"],
                     generator=torch.Generator().manual_seed(0))
    u, want = 0.0, []
    for _ in range(30):                    # the deterministic recursion (sigma -> 0)
        u = 0.8 * u + 0.5
        u = u - 1.0 if u > 1.0 else u
        want.append(u)
    np.testing.assert_allclose(tr["u"][0, 0].numpy(), want, atol=1e-12)
    assert noisy_lif().derived_value("rheobase") == 0.5
    with pytest.raises(NeuromodError, match="reset must be one of"):
        noisy_lif(reset="soft")
    with pytest.raises(NeuromodError, match="unknown noise family"):
        noisy_lif("cauchy")


def test_escape_lif_same_spikes_on_every_path_and_rate_near_threshold():
    m = escape_lif()
    I = np.linspace(0.8e-9, 1.2e-9, 40)          # rheobase 1 nA: fluctuation-driven firing
    runs = [simulate(m, 40, 0.2, dt=1e-4, backend=b, inputs={"I_ext": I}, seed=8, **o)
            for b, o in PATHS]
    a = runs[0].spikes["neurons"]
    assert a.n_spikes > 50
    assert a.counts[:10].sum() > 0          # below the rheobase, noise makes them fire
    for r in runs[1:]:
        np.testing.assert_array_equal(r.spikes["neurons"].times, a.times)
        np.testing.assert_array_equal(r.spikes["neurons"].ids, a.ids)
