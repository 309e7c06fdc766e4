"""Bernoulli (escape-noise) firing, ``firing=Bernoulli(noise, sigma)``: a neuron spikes
with probability ``F((u - theta)/sigma)`` in each step, on every path -- eager Torch,
the fused layer kernels, the fused network simulator and Brian2 -- with the same
spikes for the same variates, and the noise density as the spike's gradient."""
import numpy as np
import pytest
import torch

import neuromod
from neuromod.backends import NeuronModel
from neuromod.backends.equations import ModelDefinitionError
from neuromod.backends.fused import plan
from neuromod.backends.network import simulate
from neuromod.backends.noise import FAMILIES, Bernoulli
from neuromod.backends.torch_backend import NeuronLayer
from neuromod.errors import ParameterError
from neuromod.neurons.renewal import renewal_rate

NAMES = sorted(FAMILIES)
PATHS = [("torch", {"fused": False}), ("torch", {"fused": True}), ("brian2", {})]
IDS = ["eager", "fastsim", "brian2"]


def noisy(noise="gaussian", reset="v = 0", refractory=0.0, updates="v = beta*v + I"):
    return NeuronModel("noisy", "v : 1 (unless refractory)\nI : 1",
                       {"beta": 0.5, "theta": 1.0, "sigma": 0.3}, threshold="v > theta",
                       reset=reset, inputs=("I",), updates=updates, refractory=refractory,
                       domains={"sigma": "positive"}, firing=Bernoulli(noise, "sigma"))


def fresh_state_rate(noise, backend, options, u, n=4000, steps=5):
    """Firing rate per step of neurons held at ``v = u`` before each step: beta = 0 and
    the input ``u`` put the membrane at ``u`` in every step, whatever the reset."""
    m = noisy(noise).with_parameters(beta=0.0)
    r = simulate(m, n, steps * 1e-3, dt=1e-3, backend=backend, inputs={"I": u}, seed=11,
                 **options)
    return r.spikes["neurons"].n_spikes / (n * steps)


@pytest.mark.parametrize("backend,options", PATHS, ids=IDS)
@pytest.mark.parametrize("noise", NAMES)
def test_rate_is_the_cdf_within_three_standard_errors(noise, backend, options):
    fam = FAMILIES[noise]
    for u in (0.8, 1.1):
        p = float(fam.cdf(np.float64((u - 1.0) / 0.3)))
        rate = fresh_state_rate(noise, backend, options, u)
        se = np.sqrt(p * (1 - p) / 20000)
        assert abs(rate - p) < 3 * se, (noise, u, rate, p)


@pytest.mark.parametrize("noise", NAMES)
def test_layer_rate_matches_the_cdf_on_eager_and_fused_paths(noise):
    fam = FAMILIES[noise]
    m = noisy(noise).with_parameters(beta=0.0)
    u = 0.9
    p = float(fam.cdf(np.float64((u - 1.0) / 0.3)))
    x = torch.full((4, 500, 10), u, dtype=torch.float64)
    for fused in (False, True):
        layer = NeuronLayer(m, 500, dt=1e-3, drive="I", dtype=torch.float64, fused=fused)
        rate = layer(x, generator=torch.Generator().manual_seed(4)).mean().item()
        assert abs(rate - p) < 3 * np.sqrt(p * (1 - p) / x.numel())


def test_same_variates_same_spikes_on_every_path():
    I = np.linspace(0.3, 0.7, 30)
    for noise in NAMES:
        m = noisy(noise, refractory=2e-3)
        runs = [simulate(m, 30, 0.1, dt=1e-3, backend=b, inputs={"I": I}, seed=7, **o)
                for b, o in PATHS]
        a = runs[0].spikes["neurons"]
        assert a.n_spikes > 100
        for r in runs[1:]:
            b = r.spikes["neurons"]
            np.testing.assert_array_equal(a.times, b.times)
            np.testing.assert_array_equal(a.ids, b.ids)


def test_brian2_cython_target_gives_the_same_spikes():
    pytest.importorskip("Cython")
    m = noisy("logistic")
    I = np.linspace(0.3, 0.7, 8)
    a = simulate(m, 8, 0.05, dt=1e-3, inputs={"I": I}, seed=3).spikes["neurons"]
    b = simulate(m, 8, 0.05, dt=1e-3, backend="brian2", target="cython", inputs={"I": I},
                 seed=3).spikes["neurons"]
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.ids, b.ids)


def test_layer_paths_agree_for_one_generator_and_differ_for_another():
    m = noisy(refractory=1e-3)
    x = torch.full((2, 40, 80), 0.45, dtype=torch.float64)
    layer = NeuronLayer(m, 40, dt=1e-3, drive="I", dtype=torch.float64)
    assert plan(layer.tm, "I", layer.surrogate, True) is not None
    a = layer(x, generator=torch.Generator().manual_seed(1))
    layer.fused = False
    b = layer(x, generator=torch.Generator().manual_seed(1))
    c = layer(x, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(b, c)


def test_the_reset_uses_the_same_sample_as_the_spike():
    # the membrane is reset exactly where (and only where) a spike was drawn
    m = noisy()
    layer = NeuronLayer(m, 64, dt=1e-3, drive="I", dtype=torch.float64, fused=False)
    x = torch.full((1, 64, 50), 0.6, dtype=torch.float64)
    s, tr, _ = layer(x, record=["v"], generator=torch.Generator().manual_seed(0))
    v = tr["v"]
    assert s.sum() > 100
    assert torch.all(v[s > 0] == 0) and torch.all(v[s == 0] != 0)


@pytest.mark.parametrize("noise", NAMES)
def test_gradient_is_the_noise_density(noise):
    # one step from v = 0 with input u: spike probability F((u - theta)/sigma), gradient
    # wrt the input f((u - theta)/sigma)/sigma, on both layer paths (float64)
    fam = FAMILIES[noise]
    m = noisy(noise)
    u = torch.linspace(0.2, 1.8, 33, dtype=torch.float64)
    want = fam.pdf((u - 1.0) / 0.3) / 0.3
    for fused in (False, True):
        x = u.reshape(1, 33, 1).clone().requires_grad_(True)
        layer = NeuronLayer(m, 33, dt=1e-3, drive="I", dtype=torch.float64, fused=fused)
        layer(x, generator=torch.Generator().manual_seed(0)).sum().backward()
        torch.testing.assert_close(x.grad.reshape(-1), want, rtol=1e-6, atol=1e-12)


def test_fused_and_eager_gradients_agree_over_many_steps():
    m = noisy("logistic", refractory=2e-3)
    grads = []
    for fused in (False, True):
        layer = NeuronLayer(m, 12, dt=1e-3, drive="I", dtype=torch.float64, fused=fused,
                            train=("beta", "sigma", "theta"))
        x = torch.rand((3, 12, 60), generator=torch.Generator().manual_seed(5),
                       dtype=torch.float64).requires_grad_(True)
        s = layer(x, generator=torch.Generator().manual_seed(9))
        (s * torch.linspace(-1, 1, 60, dtype=torch.float64)).sum().backward()
        grads.append([x.grad] + [p.grad for _, p in sorted(layer.named_parameters())])
    for g0, g1 in zip(*grads):
        torch.testing.assert_close(g1, g0, rtol=1e-9, atol=1e-12 * g0.abs().max().item())


def test_noise_in_a_continuous_time_model():
    # escape noise on an exactly integrated LIF (volts): the rate of a neuron clamped by
    # a strong leak near its threshold is the CDF
    m = NeuronModel("escape", "dv/dt = (I - v)/tau : volt\nI : volt",
                    {"tau": "0.01*ms", "v_th": "10*mV", "sigma": "2*mV"}, threshold="v > v_th",
                    reset="v = 0*volt", inputs=("I",), domains={"sigma": "positive"},
                    firing=Bernoulli("gaussian", "sigma"))
    p = float(FAMILIES["gaussian"].cdf(np.float64((0.011 - 0.010) / 0.002)))
    for backend, options in PATHS:
        r = simulate(m, 2000, 0.01, dt=1e-3, backend=backend, inputs={"I": 0.011}, seed=2,
                     **options)
        rate = r.spikes["neurons"].n_spikes / (2000 * 10)
        assert abs(rate - p) < 3 * np.sqrt(p * (1 - p) / 20000), (backend, rate, p)


def test_firing_rule_is_saved_with_the_model(tmp_path):
    m = noisy("triangular")
    path = str(tmp_path / "noisy.npz")
    neuromod.save(m, path)
    back = neuromod.load(path)
    assert back == m and back.firing == Bernoulli("triangular", "sigma")
    layer = NeuronLayer(m, 3, dt=1e-3, drive="I", dtype=torch.float64, train=("sigma",))
    neuromod.save(layer, str(tmp_path / "layer.npz"))
    assert neuromod.load(str(tmp_path / "layer.npz")).model.firing == m.firing


def test_bad_firing_rules_are_one_line_errors():
    with pytest.raises(ParameterError, match="unknown noise family 'cauchy'"):
        Bernoulli("cauchy")
    with pytest.raises(ModelDefinitionError, match="must be declared positive"):
        NeuronModel("x", "v : 1\nI : 1", {"theta": 1.0, "sigma": 0.3}, threshold="v > theta",
                    inputs=("I",), updates="v = I", firing=Bernoulli("gaussian", "sigma"))
    with pytest.raises(ModelDefinitionError, match="uses 'zz', not a parameter"):
        NeuronModel("x", "v : 1\nI : 1", {"theta": 1.0}, threshold="v > theta",
                    inputs=("I",), updates="v = I", firing=Bernoulli("gaussian", "zz"))
    with pytest.raises(ParameterError, match="a surrogate does not apply"):
        NeuronLayer(noisy(), 3, dt=1e-3, drive="I", surrogate="sigmoid")
    tm = NeuronLayer(noisy(), 3, dt=1e-3, drive="I").tm
    P = tm.params(3)
    with pytest.raises(ValueError, match="give the step's uniform variates"):
        tm.step(tm.initial_state(1, 3, P), P, tm.coefficients(P, 1e-3), dt=1e-3)


def test_renewal_rates_of_the_closed_form():
    # the figures of the NSNN notes: 0.1264 / 0.3703 / 0.6433 spikes per step
    np.testing.assert_allclose([renewal_rate(I, sigma=0.4) for I in (0.3, 0.6, 1.0)],
                               [0.1264, 0.3703, 0.6433], atol=6e-5)


@pytest.mark.parametrize("backend,options", PATHS, ids=IDS)
def test_stationary_rate_is_the_renewal_rate(backend, options):
    m = noisy().with_parameters(sigma=0.4)
    n, steps, burn = 1000, 200, 50
    I = np.repeat([0.3, 0.6, 1.0], n)
    r = simulate(m, 3 * n, steps * 1e-3, dt=1e-3, backend=backend, inputs={"I": I}, seed=21,
                 **options)
    st = r.spikes["neurons"]
    late = np.rint(st.times / 1e-3) >= burn
    counts = np.bincount(st.ids[late], minlength=3 * n).reshape(3, n) / (steps - burn)
    for g, current in enumerate((0.3, 0.6, 1.0)):
        se = counts[g].std(ddof=1) / np.sqrt(n)
        want = renewal_rate(current, sigma=0.4)
        assert abs(counts[g].mean() - want) < 3 * se, (current, counts[g].mean())
