"""Save/load: one .npz with a JSON header and numeric arrays, no pickle, versioned;
round trips of models, networks and trained layers on both backends."""
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sps
import torch

from neuromod.backends import Network, load, save
from neuromod.backends.serialize import VERSION
from neuromod.backends.torch_backend import NeuronLayer
from neuromod.errors import FileFormatError, NeuromodError
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
    m0 = MODELS[name]()
    key, text, si = (("t_ref", "3*ms", 0.003) if "t_ref" in m0.parameters else
                     ("sigma", "0.25", 0.25) if "sigma" in m0.parameters else
                     (sorted(m0.parameters)[0], "0.25", 0.25))
    m = m0.with_parameters(**{key: text})
    save(m, tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert back == m and back.parameters[key].value == si


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


def test_version_1_models_load_with_the_declared_domains_of_today(tmp_path):
    """A version-1 header has no parameter domains: those parameters read as 'finite'
    (NaN and infinities still refused); files written now record each domain."""
    net = load(DATA / "network_v1.npz")
    m = net.populations["a"].model
    assert all(p.domain == "finite" for p in m.parameters.values())
    save(lif(), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        head = json.loads(str(z["__neuromod__"]))
    assert head["version"] == VERSION == 2
    assert head["model"]["parameters"]["tau_m"]["domain"] == "positive"
    assert load(tmp_path / "m.npz").parameters["t_ref"].domain == "non_negative"
    # a version-1 header with a bad value is refused in one line
    head["version"] = 1
    for p in head["model"]["parameters"].values():
        p.pop("domain")
    head["model"]["parameters"]["tau_m"]["value"] = float("nan")
    np.savez(tmp_path / "bad.npz", __neuromod__=np.array(json.dumps(head)))
    with pytest.raises(NeuromodError, match="tau_m = nan"):
        load(tmp_path / "bad.npz")


def test_training_state_round_trip_and_damage(tmp_path):
    from neuromod.backends.serialize import load_state, save_state
    state = {"epoch": 7, "w": torch.arange(6, dtype=torch.float32).reshape(2, 3),
             "gen": torch.Generator().manual_seed(3).get_state(), "arr": np.eye(2),
             "opt": {"state": {0: {"step": torch.tensor(4.0)}}, "groups": [{"betas": (0.9, 0.99),
                                                                         "foreach": None}]},
             "nan": float("nan"), "flag": True, "name": "x"}
    save_state(state, tmp_path / "s.npz")
    back = load_state(tmp_path / "s.npz")
    assert back["epoch"] == 7 and back["flag"] is True and back["name"] == "x"
    assert torch.equal(back["w"], state["w"]) and back["w"].dtype == torch.float32
    assert torch.equal(back["gen"], state["gen"]) and np.array_equal(back["arr"], np.eye(2))
    assert list(back["opt"]["state"]) == [0] and back["opt"]["groups"][0]["betas"] == (0.9, 0.99)
    assert math.isnan(back["nan"])
    with pytest.raises(TypeError):
        save_state({"f": lambda: 0}, tmp_path / "f.npz")
    with np.load(tmp_path / "s.npz", allow_pickle=False) as z:
        head = json.loads(str(z["__neuromod__"]))
        arrays = {k: z[k] for k in z.files if k != "__neuromod__"}
    for damage in ({"code": {"__import__": "os"}}, {"tensor": "a99", "dtype": "float32"},
                   {"tensor": "a0", "dtype": "complex64"}):
        head["state"]["dict"]["w"] = damage
        np.savez(tmp_path / "d.npz", __neuromod__=np.array(json.dumps(head)), **arrays)
        with pytest.raises(FileFormatError, match="d.npz: damaged training state"):
            load_state(tmp_path / "d.npz")
    with pytest.raises(FileFormatError, match="not a training state"):
        save(lif(), tmp_path / "m.npz") or load_state(tmp_path / "m.npz")


@pytest.mark.parametrize("damage", [
    lambda h: h["model"].pop("equations"),
    lambda h: h["model"]["parameters"]["tau_m"].pop("value"),
    lambda h: h["model"]["parameters"]["tau_m"].update(value="fast"),
    lambda h: h["model"]["parameters"]["tau_m"].update(domain=7),
    lambda h: h["model"]["parameters"]["tau_m"].update(domain=[0, 1, 2]),
    lambda h: h["model"]["parameters"]["tau_m"].update(value=-1.0),
    lambda h: h["model"].update(parameters=[]),
    lambda h: h.update(model=None),
])
def test_damaged_model_fields_are_one_line_errors_naming_the_file(tmp_path, damage):
    save(lif(), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        head = json.loads(str(z["__neuromod__"]))
    damage(head)
    np.savez(tmp_path / "bad.npz", __neuromod__=np.array(json.dumps(head)))
    with pytest.raises(NeuromodError) as exc:
        load(tmp_path / "bad.npz")
    msg = str(exc.value)
    assert "bad.npz" in msg and "\n" not in msg


def test_top_level_load_reads_every_saved_kind(tmp_path):
    """neuromod.load is one loader for models, networks, layers and training states."""
    import numpy as np
    import torch

    import neuromod
    from neuromod.backends import serialize
    from neuromod.backends.network import Network
    from neuromod.backends.torch_backend import NeuronLayer
    from neuromod.errors import FileFormatError
    from neuromod.neurons import lif
    model = lif(tau_m="12*ms")
    net = Network()
    net.add_population("p", model, 3)
    layer = NeuronLayer(model, 4, 1e-4, dtype=torch.float64)
    state = {"epoch": 3, "weights": np.arange(4.0), "rng": torch.tensor([1, 2], dtype=torch.int64)}
    neuromod.save(model, tmp_path / "m.npz")
    neuromod.save(net, tmp_path / "n.npz")
    neuromod.save(layer, tmp_path / "l.npz")
    serialize.save_state(state, tmp_path / "s.npz")
    assert neuromod.load(tmp_path / "m.npz") == model
    assert neuromod.load(tmp_path / "n.npz").populations["p"].n == 3
    assert isinstance(neuromod.load(tmp_path / "l.npz"), NeuronLayer)
    back = neuromod.load(tmp_path / "s.npz")
    assert back["epoch"] == 3 and np.array_equal(back["weights"], state["weights"])
    assert torch.equal(back["rng"], state["rng"])
    np.savez(tmp_path / "plain.npz", x=np.arange(3))
    with pytest.raises(FileFormatError, match="plain.npz"):
        neuromod.load(tmp_path / "plain.npz")
