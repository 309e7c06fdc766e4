"""Discrete-time models (``NeuronModel(updates=...)``, method ``'map'``): the update
statements are the step on every path -- eager Torch, the fused layer kernels, the
fused network simulator and Brian2 -- checked against closed forms of the map."""
import numpy as np
import pytest
import torch

import neuromod
from neuromod.backends import NeuronModel
from neuromod.backends.equations import ModelDefinitionError
from neuromod.backends.fused import plan
from neuromod.backends.ir import Map, Propagate, compile_model
from neuromod.backends.network import simulate
from neuromod.backends.torch_backend import NeuronLayer

PATHS = [("torch", {"fused": False}), ("torch", {"fused": True}), ("brian2", {})]
IDS = ["eager", "fastsim", "brian2"]


def leaky(**kw):
    """``v <- beta v + I``, threshold ``theta``, hard reset, 2-step refractoriness."""
    base = dict(parameters={"beta": 0.5, "theta": 1.0, "t_ref": (2e-3, "second")},
                threshold="v > theta", reset="v = 0", refractory="t_ref", inputs=("I",),
                updates="v = beta*v + I", ports={"e": "v += w"})
    base.update(kw)
    return NeuronModel("leaky-map", "v : 1 (unless refractory)\nI : 1", **base)


@pytest.mark.parametrize("backend,options", PATHS, ids=IDS)
def test_subthreshold_map_matches_its_closed_form(backend, options):
    # v_n = I (1 - beta^n) / (1 - beta) after n steps; a trace holds the value at the
    # start of each step (as Brian2's StateMonitor records it), n = 0, 1, ...
    beta = np.array([0.2, 0.5, 0.9])
    I = np.array([0.3, 0.1, 0.05])
    r = simulate(leaky(), 3, 0.03, dt=1e-3, backend=backend, params={"beta": beta},
                 inputs={"I": I}, record=["v"], **options)
    n = np.arange(30)
    want = I[:, None] * (1 - beta[:, None] ** n) / (1 - beta[:, None])
    np.testing.assert_allclose(r.traces["neurons"]["v"], want, rtol=1e-12, atol=1e-15)
    assert r.spikes["neurons"].counts.tolist() == [0, 0, 0]


@pytest.mark.parametrize("backend,options", PATHS, ids=IDS)
def test_threshold_reset_and_refractory_period(backend, options):
    # A refractory period of 2 ms = 2 steps counts from the spike's step (Brian2's
    # timestep rule), so one step is held. I = 0.6: v = 0.6, 0.9, 1.05 (spike, reset),
    # held at 0, then again: spikes in steps 2, 6, 10, ...; I = 1.2 fires every
    # other step.
    r = simulate(leaky(), 2, 0.03, dt=1e-3, backend=backend, inputs={"I": [0.6, 1.2]},
                 **options)
    st = r.spikes["neurons"]
    steps = [np.rint(st.times[st.ids == k] / 1e-3).astype(int).tolist() for k in range(2)]
    assert steps[0] == list(range(2, 30, 4))
    assert steps[1] == list(range(0, 30, 2))


def test_dt_and_per_step_parameters():
    # v = v exp(-dt/tau) + I is the exact LIF decay; with dt a symbol of the map
    m = NeuronModel("decay", "v : 1\nI : 1", {"tau": (0.02, "second")}, inputs=("I",),
                    updates="v = v*exp(-dt/tau) + I")
    for dt in (1e-3, 2.5e-4):
        r = simulate(m, 1, 0.01, dt=dt, inputs={"I": 1.0}, record=["v"])
        q = np.exp(-dt / 0.02)
        n = np.arange(r.traces["neurons"]["v"].shape[1])
        np.testing.assert_allclose(r.traces["neurons"]["v"][0], (1 - q ** n) / (1 - q),
                                   rtol=1e-12)


def test_statements_run_in_order():
    # a = a + I; v = beta v + a: v reads the new a (Brian2's abstract-code semantics)
    m = NeuronModel("seq", "v : 1\na : 1\nI : 1", {"beta": 0.5}, inputs=("I",),
                    updates="a = a + I\nv = beta*v + a")
    r = simulate(m, 1, 0.004, dt=1e-3, inputs={"I": 1.0}, record=["v", "a"])
    a, v, want_v = 0.0, 0.0, []
    for _ in range(4):
        want_v.append(v)
        a = a + 1.0
        v = 0.5 * v + a
    np.testing.assert_allclose(r.traces["neurons"]["v"][0], want_v, rtol=1e-15)
    np.testing.assert_allclose(r.traces["neurons"]["a"][0], [0, 1, 2, 3], rtol=1e-15)


def quadratic():
    """A map that is not affine: ``v <- v + k v^2 + I`` with reset."""
    return NeuronModel("quadratic", "v : 1 (unless refractory)\nI : 1",
                       {"k": 0.5, "v_th": 1.0, "v_r": -0.2}, threshold="v > v_th",
                       reset="v = v_r", refractory=1e-3, inputs=("I",),
                       updates="v = v + k*v**2 + I")


def test_a_map_that_is_not_affine_is_printed_as_it_is():
    cm = compile_model(quadratic())
    ops = cm.program(has_inputs=(True,)).advance
    assert any(isinstance(op, Map) for op in ops) and not len(cm.layout)
    assert not any(isinstance(op, Propagate) for op in ops)
    cm = compile_model(leaky())
    assert any(isinstance(op, Propagate) for op in cm.program(has_inputs=(True,)).advance)


def test_nonlinear_map_is_the_same_on_every_path():
    I = np.linspace(0.05, 0.4, 6)
    runs = [simulate(quadratic(), 6, 0.05, dt=1e-3, backend=b, inputs={"I": I}, record=["v"],
                     **o) for b, o in PATHS]
    for r in runs[1:]:
        for k in range(6):
            a, b = runs[0].spikes["neurons"], r.spikes["neurons"]
            np.testing.assert_array_equal(a.times[a.ids == k], b.times[b.ids == k])
        np.testing.assert_allclose(r.traces["neurons"]["v"], runs[0].traces["neurons"]["v"],
                                   rtol=1e-12, atol=1e-12)
    assert runs[0].spikes["neurons"].counts.sum() > 20
    # the map iterated by hand (a refractory period of one step holds no step)
    v, want = np.zeros(6), []
    for _ in range(50):
        want.append(v)
        v = v + 0.5 * v * v + I
        v = np.where(v > 1.0, -0.2, v)
    np.testing.assert_allclose(runs[0].traces["neurons"]["v"], np.array(want).T, rtol=1e-12,
                               atol=1e-14)


def test_fused_layer_runs_affine_maps_and_matches_the_eager_path():
    layer = NeuronLayer(leaky(), 4, dt=1e-3, drive="I", dtype=torch.float64)
    assert plan(layer.tm, "I", layer.surrogate, True) is not None
    x = torch.rand((2, 4, 200), generator=torch.Generator().manual_seed(3),
                   dtype=torch.float64)
    fused = layer(x)
    layer.fused = False
    eager = layer(x)
    assert torch.equal(fused, eager) and eager.sum() > 50
    # a map that is not affine has no fused kernel: the eager path runs it
    q = NeuronLayer(quadratic(), 2, dt=1e-3, drive="I", dtype=torch.float64)
    assert plan(q.tm, "I", q.surrogate, True) is None


def test_ports_are_masked_while_refractory_on_both_backends():
    # I = 0.6 and a port spike of weight 0.3 in steps 0, 2 (refractory: ignored) and 4:
    # the trace (value at the start of each step) worked out by hand
    from neuromod.backends.network import Network
    for backend in ("torch", "brian2"):
        net = Network()
        net.add_population("n", leaky(), 1, inputs={"I": 0.6})
        net.add_spike_source("g", [np.array([0.0, 0.002, 0.004])])
        net.connect("g", "n", "e", weights=[[0.3]])
        r = net.run(0.01, 1e-3, backend=backend, record={"n": ["v"]})
        np.testing.assert_allclose(r.traces["n"]["v"][0],
                                   [0, 0.9, 0, 0, 0.6, 1.2, 0, 0, 0.6, 0.9], atol=1e-12)
        np.testing.assert_allclose(r.spikes["n"].times, [0.001, 0.005, 0.009], atol=1e-12)


def test_save_and_load_round_trip(tmp_path):
    m = leaky()
    path = tmp_path / "map.npz"
    neuromod.save(m, str(path))
    back = neuromod.load(str(path))
    assert back == m and back.method == "map" and back.updates == m.updates


@pytest.mark.parametrize("kw,message", [
    (dict(updates="v = v + I; u = 1"), "update assigns 'u', not a state variable"),
    (dict(updates="v = beta*v + zz + I"), "unknown name 'zz' in the update of 'v'"),
    (dict(method="euler"), "discrete-time map; method='euler' does not apply"),
])
def test_bad_discrete_models_are_one_line_errors(kw, message):
    with pytest.raises(ModelDefinitionError, match=message):
        leaky(**kw)


def test_a_discrete_model_has_no_differential_equation():
    with pytest.raises(ModelDefinitionError, match="has no differential equation"):
        NeuronModel("x", "dv/dt = -v/tau : 1\nI : 1", {"tau": (0.01, "second")},
                    inputs=("I",), updates="v = v + I")
    with pytest.raises(ModelDefinitionError, match="method='map' needs update statements"):
        NeuronModel("x", "dv/dt = -v/tau : 1", {"tau": (0.01, "second")}, method="map")


@pytest.mark.parametrize("backend,options", PATHS, ids=IDS)
def test_maps_read_the_clock(backend, options):
    # a = a + t_in_timesteps (the step index) and b = t (seconds, start of the step):
    # a_n = n (n - 1) / 2 and b_n = (n - 1) dt after n steps, on every path
    m = NeuronModel("clock", "a : 1\nb : second", {"k": 1.0},
                    updates="a = a + k*t_in_timesteps\nb = t")
    cm = compile_model(m)
    assert cm.uses_time and not len(cm.layout)
    dt = 2.5e-4
    r = simulate(m, 2, 20 * dt, dt=dt, backend=backend, record=["a", "b"], **options)
    n = np.arange(20)                       # the trace holds the value after n steps
    np.testing.assert_allclose(r.traces["neurons"]["a"][0], n * (n - 1) / 2, atol=1e-12)
    np.testing.assert_allclose(r.traces["neurons"]["b"][0], np.maximum(n - 1, 0) * dt,
                               rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("backend,options", PATHS, ids=IDS)
def test_models_without_parameters_run_on_every_path(backend, options):
    cases = [(NeuronModel("count", "a : 1", {}, updates="a = a + 1"), "a", [0, 1, 2, 3]),
             (NeuronModel("leak", "dv/dt = -v/(10*ms) : 1", {}, init={"v": "1"}), "v",
              np.exp(-np.arange(4) * 0.1))]
    for m, var, want in cases:
        r = simulate(m, 2, 0.004, dt=1e-3, backend=backend, record=[var], **options)
        np.testing.assert_allclose(r.traces["neurons"][var][1], want, rtol=1e-12)
