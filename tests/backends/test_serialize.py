"""Save/load: one .npz with a JSON header and numeric arrays, no pickle, versioned;
round trips of models, networks and trained layers on both backends."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sps
import torch

from neuromod.backends import Network, load, save
from neuromod.backends.serialize import VERSION
from neuromod.backends.torch_backend import NeuronLayer
from neuromod.errors import FileFormatError
from neuromod.neurons import MODELS, lif
from neuromod.spikes import SpikeTrains

DATA = Path(__file__).parent / "data"


def _network():
    rng = np.random.default_rng(0)
    net = Network()
    net.add_poisson("noise", 30, rates=np.linspace(5, 40, 30))
    net.add_spike_source("cue", SpikeTrains.from_list([[0.005, 0.02], [], [0.011]], t_stop=0.05))
    net.add_population("a", lif(), 8, params={"tau_m": np.linspace(0.01, 0.03, 8)},
                       init={"v": rng.uniform(-0.06, -0.05, 8)},
                       inputs={"I_ext": 0.9e-9 + 0.3e-9 * rng.standard_normal((500, 8))})
    net.add_population("b", MODELS["alif"](), 4, inputs={"I_ext": "0.5*nA"})
    net.connect("noise", "a", "e", np.where(rng.random((30, 8)) < 0.3, 0.4e-9, 0.0))
    net.connect("cue", "a", "e", np.full((3, 8), 1e-9), delays=rng.integers(0, 10, (3, 8)) * 1e-4)
    net.connect("a", "b", "i", sps.random(8, 4, density=0.5, random_state=2,
                                          data_rvs=lambda k: -np.ones(k) * 1e-9, format="csr"),
                delays=2e-3)
    return net


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_round_trip(tmp_path, name):
    m = MODELS[name]().with_parameters(t_ref="3*ms")
    save(m, tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert back == m and back.parameters["t_ref"].value == 0.003


def test_file_is_plain_arrays_and_json(tmp_path):
    save(_network(), tmp_path / "n.npz")
    with np.load(tmp_path / "n.npz", allow_pickle=False) as z:
        head = json.loads(str(z["__neuromod__"]))
        assert head["format"] == "neuromod-model" and head["version"] == VERSION
        assert all(z[k].dtype.kind in "fiuU" for k in z.files)


@pytest.mark.parametrize("backend", ["torch", "brian2"])
def test_network_round_trip_runs_identically(tmp_path, backend):
    net = _network()
    save(net, tmp_path / "n.npz")
    back = load(tmp_path / "n.npz")
    a = net.run(0.05, 1e-4, backend=backend, seed=3, record={"a": ["v"]})
    b = back.run(0.05, 1e-4, backend=backend, seed=3, record={"a": ["v"]})
    assert a.spikes["a"].n_spikes > 0
    for pop in ("a", "b"):
        assert a.spikes[pop].equals(b.spikes[pop])
    np.testing.assert_array_equal(a.traces["a"]["v"], b.traces["a"]["v"])


def test_trained_layer_round_trip(tmp_path):
    layer = NeuronLayer(lif(), 3, 1e-4, drive="I_ext", train=("tau_m",), dtype=torch.float64)
    with torch.no_grad():
        layer.p_tau_m.fill_(0.0123)
    save(layer, tmp_path / "l.npz")
    back = load(tmp_path / "l.npz")
    assert isinstance(back.p_tau_m, torch.nn.Parameter) and back.p_tau_m.item() == 0.0123
    x = torch.full((1, 3, 400), 2e-9, dtype=torch.float64)
    assert torch.equal(layer(x), back(x))


def test_version_1_file_still_loads():
    """tests/backends/data/network_v1.npz was written by file version 1; keep it loading."""
    net = load(DATA / "network_v1.npz")
    r = net.run(0.05, 1e-4, backend="torch", seed=3)
    ref = _network().run(0.05, 1e-4, backend="torch", seed=3)
    assert r.spikes["a"].equals(ref.spikes["a"])


def test_newer_version_and_foreign_files_are_refused(tmp_path):
    save(lif(), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        head = json.loads(str(z["__neuromod__"]))
    head["version"] = VERSION + 1
    np.savez(tmp_path / "new.npz", __neuromod__=np.array(json.dumps(head)))
    with pytest.raises(FileFormatError, match="newer neuromod"):
        load(tmp_path / "new.npz")
    np.savez(tmp_path / "spikes.npz", times=np.zeros(3))
    with pytest.raises(FileFormatError, match="not a neuromod model file"):
        load(tmp_path / "spikes.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(FileFormatError):
        load(tmp_path / "junk.npz")
