"""Brian2 ``cpp_standalone`` target against the numpy target, in one process.

The tests run in file order: a standalone run, numpy runs after it, then a second
standalone run (a new project, kept in a given directory). Each standalone run
compiles a C++ project (tens of seconds); there are three (the last one a discrete-time
model with Bernoulli firing).

Why exact equality of spike steps: both targets execute the same abstract code
(neuromod's exact propagator with the same float64 coefficients, the same threshold,
reset and synaptic statements) in double precision under Brian2's schedule, and
spikes are reported on the step grid (``round(t/dt)``). The compiled code may round
differently (``-ffast-math``: reassociation, fused multiply-add), by ~1e-16 relative;
that can only move a spike when ``v`` ends a step within rounding distance of
``v_th``, which ``_check_margin`` rules out for these inputs (1 nV).
"""
import os
import shutil
import tempfile

import numpy as np
import pytest

from neuromod.backends.network import Network, simulate
from neuromod.errors import NeuromodError
from neuromod.neurons import lif
from neuromod.spikes import SpikeTrains

DT = 1e-4
DURATION = 0.05
V_TH = -0.05

needs_compiler = pytest.mark.skipif(shutil.which("make") is None or
                                    shutil.which(os.environ.get("CXX", "g++").split()[0]) is None,
                                    reason="no C++ compiler or make")


def _network():
    """Spike generator -> 6 LIF neurons (constant currents 0.6-1.6 nA, some above the
    1 nA rheobase) -> 2 LIF neurons, which inhibit the 6; delays of 0-0.9 ms."""
    rng = np.random.default_rng(2)
    net = Network()
    trains = [np.sort(rng.choice(np.arange(1, 480), 8, replace=False)) * DT for _ in range(5)]
    net.add_spike_source("inp", SpikeTrains.from_list(trains, t_stop=DURATION))
    net.add_population("exc", lif(), 6, inputs={"I_ext": np.linspace(0.6e-9, 1.6e-9, 6)})
    net.add_population("out", lif(), 2, inputs={"I_ext": 0.9e-9})
    net.connect("inp", "exc", "e", rng.random((5, 6)) * 0.8e-9,
                delays=rng.integers(0, 10, (5, 6)) * DT)
    net.connect("exc", "out", "e", np.full((6, 2), 0.6e-9), delays=1e-3)
    net.connect("out", "exc", "i", np.full((2, 6), -0.5e-9))
    return net


def _steps(trains):
    """(neuron ids, step indices) of a SpikeTrains, in its order (by id, then time)."""
    return np.asarray(trains.ids), np.round(np.asarray(trains.times) / DT).astype(np.int64)


def _same_spikes(a, b):
    assert set(a.spikes) == set(b.spikes)
    for name in a.spikes:
        ia, ka = _steps(a.spikes[name])
        ib, kb = _steps(b.spikes[name])
        np.testing.assert_array_equal(ia, ib, err_msg=name)
        np.testing.assert_array_equal(ka, kb, err_msg=name)


def _check_margin(result):
    """No recorded membrane value within 1 nV of the threshold (see the module notes)."""
    for name, tr in result.traces.items():
        assert np.abs(tr["v"] - V_TH).min() > 1e-9, name


def _active_device():
    from brian2.devices.device import get_device
    return get_device()


def _runtime_device():
    from brian2.devices.device import runtime_device
    return runtime_device


@needs_compiler
def test_standalone_matches_numpy_and_restores_the_runtime_device(tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    net = _network()
    record = {"exc": ["v"], "out": ["v"]}

    sa = net.run(DURATION, DT, backend="brian2", target="cpp_standalone", record=record)
    assert _active_device() is _runtime_device()
    # the project was built in a temporary directory, removed afterwards
    assert [p for p in os.listdir(temp) if p.startswith("neuromod-brian2-")] == []
    assert os.listdir(cwd) == []
    assert sa.run_s > 0 and sa.build_s > sa.run_s        # build_s includes the compilation

    rt = net.run(DURATION, DT, backend="brian2", target="numpy", record=record)  # after standalone
    counts = {k: s.n_spikes for k, s in rt.spikes.items()}
    assert counts["exc"] >= 10 and counts["out"] >= 2, counts   # inputs, recurrence in play
    _check_margin(rt)
    _same_spikes(sa, rt)
    for name in record:
        np.testing.assert_allclose(sa.traces[name]["v"], rt.traces[name]["v"], rtol=0, atol=1e-12)
    assert os.listdir(cwd) == []


@needs_compiler
def test_second_standalone_run_in_a_kept_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = tmp_path / "project"
    currents = np.array([0.5, 1.2, 2.0, 3.3]) * 1e-9
    kw = dict(backend="brian2", inputs={"I_ext": currents}, record=["v"])
    sa = simulate(lif(receptors=()), 4, DURATION, DT, target="cpp_standalone",
                  directory=str(project), **kw)
    assert _active_device() is _runtime_device()
    assert (project / "main").is_file()                 # kept where asked
    assert sorted(os.listdir(tmp_path)) == ["project"]
    rt = simulate(lif(receptors=()), 4, DURATION, DT, target="numpy", **kw)
    assert rt.spikes["neurons"].counts.tolist()[0] == 0 and rt.spikes["neurons"].n_spikes >= 5
    _check_margin(rt)
    _same_spikes(sa, rt)


@needs_compiler
def test_standalone_runs_discrete_maps_with_bernoulli_firing(tmp_path, monkeypatch):
    # the map runs as a run_regularly operation, the variates as a TimedArray and the
    # noise CDF as the C++ implementation of a Brian2 function: the same spikes as the
    # Torch backend for the same seed (a variate within rounding of F(z), which alone
    # could differ, has probability ~1e-16 per comparison)
    from neuromod.backends import NeuronModel
    from neuromod.backends.noise import Bernoulli
    monkeypatch.chdir(tmp_path)
    m = NeuronModel("noisy", "v : 1 (unless refractory)\nI : 1",
                    {"beta": 0.5, "theta": 1.0, "sigma": 0.3}, threshold="v > theta",
                    reset="v = 0", inputs=("I",), updates="v = beta*v + I", refractory=2e-3,
                    domains={"sigma": "positive"}, firing=Bernoulli("logistic", "sigma"))
    kw = dict(inputs={"I": np.linspace(0.3, 0.7, 10)}, seed=4)
    sa = simulate(m, 10, 0.05, 1e-3, backend="brian2", target="cpp_standalone", **kw)
    rt = simulate(m, 10, 0.05, 1e-3, backend="torch", **kw)
    assert rt.spikes["neurons"].n_spikes > 30
    _same_spikes(sa, rt)


def test_missing_compiler_is_one_line_error(monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    with pytest.raises(NeuromodError, match="target='numpy'") as info:
        simulate(lif(), 2, 0.01, DT, backend="brian2", target="cpp_standalone")
    assert "\n" not in str(info.value) and "/nonexistent/c++" in str(info.value)
    assert _active_device() is _runtime_device()


@needs_compiler
def test_failed_compilation_is_one_line_error_and_restores_the_device(tmp_path, monkeypatch):
    if shutil.which("false") is None:
        pytest.skip("no 'false' command")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CXX", "false")               # found, but every compilation fails
    with pytest.raises(NeuromodError, match="compilation failed.*target='cython'") as info:
        simulate(lif(), 2, 0.01, DT, backend="brian2", target="cpp_standalone")
    assert "\n" not in str(info.value)
    assert _active_device() is _runtime_device()
    assert os.listdir(tmp_path) == []
    r = simulate(lif(), 2, 0.01, DT, backend="brian2", target="numpy",
                 inputs={"I_ext": [0.5e-9, 3e-9]})
    assert r.spikes["neurons"].counts.tolist()[0] == 0


def test_directory_is_a_standalone_option(tmp_path):
    with pytest.raises(NeuromodError, match="cpp_standalone"):
        simulate(lif(), 1, 0.01, DT, backend="brian2", target="numpy", directory=str(tmp_path))
