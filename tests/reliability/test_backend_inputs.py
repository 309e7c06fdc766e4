"""Values that make no sense are refused in one line before any simulation: parameter
domains of every built-in model on both backends, inputs, rates, weights, delays,
durations, step counts, seeds and memory -- in the library and through
``neuromod simulate``."""
import math

import numpy as np
import pytest

from neuromod.auditory.digits import classifier_neuron
from neuromod.backends import Network, NeuronModel, simulate
from neuromod.backends.model import check_parameter
from neuromod.errors import NeuromodError, ParameterError, ResourceLimitError, UnitError
from neuromod.neurons import alif, coba_lif, lif
from neuromod.neurons.networks import cuba

#: Every built-in model (name -> factory).
MODELS = {"lif": lif, "lif-biexp": lambda: lif(kernel="biexp"),
          "lif-delta": lambda: lif(kernel="delta"), "alif": alif, "coba-lif": coba_lif,
          "coba-lif-biexp": lambda: coba_lif(kernel="biexp"), "digit-lif": classifier_neuron}

#: Values outside each domain (SI), and values inside it.
OUTSIDE = {"positive": [0.0, -1e-3, -0.0, math.nan, math.inf, -math.inf],
           "non_negative": [-1e-3, -1e-12, math.nan, math.inf],
           "finite": [math.nan, math.inf, -math.inf],
           "unit_interval": [-1e-9, 1.0 + 1e-9, 2.0, math.nan, math.inf]}


def _cases():
    for mname, factory in MODELS.items():
        for pname, p in factory().parameters.items():
            for bad in OUTSIDE[p.domain]:
                yield pytest.param(mname, pname, bad, id=f"{mname}-{pname}={bad}")


def _one_line(exc):
    text = str(exc.value)
    assert text and "\n" not in text and len(text) < 300, text
    return text


@pytest.fixture
def no_backend(monkeypatch):
    """Fail the test if a backend starts (the check must come first)."""
    import neuromod.backends.brian2_backend as b2b
    import neuromod.backends.torch_network as tn

    def boom(*a, **k):
        raise AssertionError("a backend ran")
    monkeypatch.setattr(tn, "run_torch", boom)
    monkeypatch.setattr(b2b, "run_brian2", boom)


def test_every_parameter_of_every_builtin_model_declares_a_domain():
    expect = {"tau": "positive", "C_m": "positive", "g_L": "positive", "R": "positive",
              "t_ref": "non_negative"}
    for factory in MODELS.values():
        m = factory()
        for name, p in m.parameters.items():
            assert p.domain in OUTSIDE, (m.name, name)
            for prefix, dom in expect.items():
                if name.startswith(prefix):
                    assert p.domain == dom, (m.name, name, p.domain)
    net = cuba(n=50, seed=1)
    assert net.populations["exc"].model.parameters["tau_m"].domain == "positive"


@pytest.mark.parametrize("mname, pname, bad", list(_cases()))
def test_bad_parameter_value_is_one_line_before_any_simulation(mname, pname, bad, no_backend):
    m = MODELS[mname]()
    with pytest.raises(ParameterError) as exc:
        m.with_parameters(**{pname: bad})
    assert pname in _one_line(exc)
    for backend in ("torch", "brian2"):
        with pytest.raises(ParameterError) as exc:
            simulate(m, 3, 0.01, backend=backend, params={pname: bad})
        assert pname in _one_line(exc)
    per_neuron = np.array([m.parameters[pname].value] * 3)
    per_neuron[2] = bad
    with pytest.raises(ParameterError) as exc:
        simulate(m, 3, 0.01, backend="brian2", params={pname: per_neuron})
    assert f"{pname}[2]" in _one_line(exc)


@pytest.mark.parametrize("factory, kw, match", [
    (lif, {"tau_m": "0*ms"}, "tau_m = 0 must be > 0"),
    (lif, {"tau_m": "-5*ms"}, "tau_m = -0.005"),
    (lif, {"t_ref": "-1*ms"}, "t_ref = -0.001 must be >= 0"),
    (lif, {"R": "0*ohm"}, "R = 0 must be > 0"),
    (lif, {"tau_e": 0.0}, "tau_e"),
    (lif, {"E_L": float("nan")}, "E_L = nan"),
    (lif, {"v_th": float("inf")}, "v_th = inf"),
    (alif, {"tau_w": "-1*ms"}, "tau_w"),
    (alif, {"a": float("nan")}, "a = nan"),
    (coba_lif, {"C_m": "-200*pF"}, "C_m = -2e-10 must be > 0"),
    (coba_lif, {"g_L": "0*nS"}, "g_L = 0"),
    (coba_lif, {"E_e": float("-inf")}, "E_e = -inf"),
])
def test_factories_refuse_bad_overrides(factory, kw, match):
    with pytest.raises(ParameterError, match=match) as exc:
        factory(**kw)
    assert _one_line(exc).startswith("model '")


def test_domains_are_part_of_the_model_definition_and_are_saved(tmp_path):
    from neuromod.backends import load, save
    m = NeuronModel("leak", "dv/dt = -v/tau : volt", {"tau": "10*ms", "g": "0.5"},
                    domains={"tau": "positive", "g": (0.0, 1.0)})
    assert m.parameters["tau"].domain == "positive" and m.parameters["g"].domain == (0.0, 1.0)
    with pytest.raises(ParameterError, match=r"g = 1.5 must be in \[0, 1\]"):
        m.with_parameters(g=1.5)
    save(m, tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert back == m and back.parameters["g"].domain == (0.0, 1.0)
    with pytest.raises(ParameterError, match="g = -1"):
        back.with_parameters(g=-1.0)
    with pytest.raises(ParameterError, match="model 'leak': tau = -0.01"):
        NeuronModel("leak", "dv/dt = -v/tau : volt", {"tau": "-10*ms"}, domains={"tau": "positive"})
    with pytest.raises(NeuromodError, match="domain for 'nope'"):
        NeuronModel("leak", "dv/dt = -v/tau : volt", {"tau": "10*ms"}, domains={"nope": "positive"})
    with pytest.raises(ParameterError, match="unknown domain"):
        NeuronModel("leak", "dv/dt = -v/tau : volt", {"tau": "10*ms"}, domains={"tau": "big"})
    # undeclared parameters are still finite
    with pytest.raises(ParameterError, match="finite"):
        NeuronModel("leak", "dv/dt = -v/tau : volt", {"tau": float("nan")})
    with pytest.raises(ParameterError, match="refractory"):
        NeuronModel("leak", "dv/dt = -v/tau : volt", {"tau": "1*ms"}, refractory=-0.001)


def test_check_parameter_is_vectorised():
    arr = np.full(100_000, 0.02)
    assert check_parameter("tau", arr, "positive") is not None
    arr[77_777] = -1.0
    with pytest.raises(ParameterError, match=r"tau\[77777\] = -1"):
        check_parameter("tau", arr, "positive")


BAD_INPUTS = [
    ("current nan", dict(inputs={"I_ext": [1e-9, np.nan, 1e-9]}), "input I_ext[1] = nan"),
    ("current inf", dict(inputs={"I_ext": np.inf}), "input I_ext = inf"),
    ("current series", dict(inputs={"I_ext": np.full((100, 3), -np.inf)}), "I_ext[0, 0] = -inf"),
    ("init nan", dict(init={"v": [np.nan, 0.0, 0.0]}), "initial v[0] = nan"),
    ("init unknown", dict(init={"zz": 0.0}), "not a state variable"),
    ("input text", dict(inputs={"I_ext": "1/0"}), "division by zero"),
    ("input units", dict(inputs={"I_ext": "5*ms"}), "expected amp"),
    ("input object", dict(inputs={"I_ext": object()}), "not a number"),
    ("init shape", dict(init={"v": [0.0, 0.0]}), "initial v has shape (2,); expected () or (3,)"),
    ("param None", dict(params={"tau_m": None}), "tau_m: None is not a number"),
    ("unknown option", dict(foo=1), "has no option 'foo'"),
]


@pytest.mark.parametrize("backend", ["torch", "brian2"])
@pytest.mark.parametrize("label, kw, match", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_inputs_name_the_input(label, kw, match, backend, no_backend):
    with pytest.raises(NeuromodError) as exc:
        simulate(lif(), 3, 0.01, backend=backend, **kw)
    assert match in _one_line(exc)


RUN_CASES = [
    ({"duration": 0.0}, "duration = 0 must be > 0"),
    ({"duration": -1.0}, "duration = -1"),
    ({"duration": math.nan}, "duration = nan"),
    ({"duration": math.inf}, "duration = inf"),
    ({"dt": 0.0}, "dt = 0"),
    ({"dt": -1e-4}, "dt = -0.0001"),
    ({"dt": 1e-12}, "100000000000 steps; a run takes at most 2147483647"),
    ({"duration": 1e-6}, "shorter than one step"),
    ({"duration": "ten"}, "unknown unit 'ten'"),
    ({"duration": "5*mV"}, "duration: expected second, got volt"),
    ({"dt": "1/0"}, "division by zero"),
    ({"seed": -1}, "seed = -1"),
    ({"seed": 2 ** 64}, "seed = 18446744073709551616"),
    ({"seed": 1.5}, "seed = 1.5 is not an integer"),
    ({"seed": "7"}, "seed = '7' is not an integer"),
    ({"n": 0}, "n = 0"),
    ({"n": 2.5}, "n = 2.5 is not an integer"),
]


@pytest.mark.parametrize("backend", ["torch", "brian2"])
@pytest.mark.parametrize("kw, match", RUN_CASES, ids=[str(c[0]) for c in RUN_CASES])
def test_bad_run_settings_are_one_line(kw, match, backend, no_backend):
    args = dict(n=3, duration=0.1, dt=1e-4, seed=None)
    args.update(kw)
    with pytest.raises(NeuromodError) as exc:
        simulate(lif(), args["n"], args["duration"], args["dt"], backend=backend, seed=args["seed"])
    assert match in _one_line(exc)


@pytest.mark.parametrize("backend", ["torch", "brian2"])
def test_memory_is_checked_before_allocating(backend, no_backend, monkeypatch):
    with pytest.raises(ResourceLimitError, match=r"simulate \(10000000000 neurons, 1000 steps\) "
                       r"would allocate 3.3 TiB \(limit 8 GiB; set NEUROMOD_MEMORY_LIMIT\)"):
        simulate(lif(), 10 ** 10, 0.1, 1e-4, backend=backend)
    monkeypatch.setenv("NEUROMOD_MEMORY_LIMIT", "64M")
    with pytest.raises(ResourceLimitError, match="would allocate 76.3 MiB"):   # the v trace
        simulate(lif(), 10, 100.0, 1e-4, backend=backend, record=["v"])
    net = Network()
    net.add_spike_source("src", [[0.001], [0.002]])
    net.add_population("p", lif(), 2)
    net.connect("src", "p", "e", np.full((2, 2), 1e-9), delays=1e6)   # a 1e10-step ring buffer
    with pytest.raises(ResourceLimitError, match="would allocate"):
        net.run(0.01, 1e-4, backend=backend)


@pytest.mark.parametrize("call, match", [
    (lambda n: n.add_poisson("x", 3, rates=[1.0, np.nan, 2.0]), "rates[1] = nan"),
    (lambda n: n.add_poisson("x", 3, rates=-5.0), "rates = -5 must be >= 0"),
    (lambda n: n.add_poisson("x", 3, rates=[1.0, 2.0]), "2 rates for 3 sources"),
    (lambda n: n.add_poisson("x", 0, rates=1.0), "n = 0"),
    (lambda n: n.connect("p", "p", "e", np.full((2, 2), np.nan)), "weights[0, 0] = nan"),
    (lambda n: n.connect("p", "p", "e", np.eye(2) * 1e-9, delays=np.nan), "delays = nan"),
    (lambda n: n.connect("p", "p", "e", np.eye(2) * 1e-9, delays=-1e-3), "delays = -0.001"),
    (lambda n: n.add_population("q", lif(), 2, params={"tau_m": "1/0"}), "division by zero"),
    (lambda n: n.add_population("q", lif(), 2, params={"tau_m": [0.01, -0.01]}), "tau_m[1]"),
])
def test_bad_network_pieces_are_one_line(call, match):
    net = Network()
    net.add_population("p", lif(), 2)
    with pytest.raises(NeuromodError) as exc:
        call(net)
    assert match in _one_line(exc)


def test_cuba_checks_its_arguments():
    for kw, match in [({"p": 0.0}, "p = 0"), ({"p": 1.5}, "p = 1.5"), ({"n": 1}, "n = 1"),
                      ({"frac_exc": 1.0, "n": 10}, "leaves a population empty"),
                      ({"seed": -3}, "seed = -3")]:
        with pytest.raises(ParameterError, match=match):
            cuba(**kw)


def test_refractory_steps_fit_the_kernels_counters():
    from neuromod.backends.model import refractory_steps
    assert int(refractory_steps(1e9, 1e-4)) == 2 ** 31 - 1


@pytest.mark.parametrize("argv, match", [
    (["--set", "tau_m=0*ms"], "--set tau_m=0*ms: model 'lif': tau_m = 0 must be > 0"),
    (["--set", "tau_m=-5*ms"], "tau_m = -0.005 must be > 0"),
    (["--set", "t_ref=-1*ms"], "t_ref = -0.001 must be >= 0"),
    (["--set", "R=0*ohm"], "R = 0 must be > 0"),
    (["--set", "tau_m=1/0"], "division by zero"),
    (["--set", "tau_m=10**10**10"], "the power overflows"),
    (["--set", "tau_m=" + "(" * 1000 + "1" + ")" * 1000], "longer than 1000 characters"),
    (["--set", "tau_m=" + "(" * 150 + "-" * 60 + "1" + ")" * 150], "nested more than 50 deep"),
    (["--set", "tau_m=1e400*ms"], "not finite"),
    (["--set", "I_min=nan*nA"], "unknown unit 'nan'"),
    (["--set", "E_L=5*ms"], "expected volt, got second"),
    (["--set", "=3"], "expected NAME=VALUE"),
    (["--dt", "1e-12"], "steps; a run takes at most 2147483647"),
    (["--seed", str(2 ** 64 + 1)], "seed = 18446744073709551617"),
    (["--seed", "-1"], "seed = -1"),
    (["--n", "10000000000"], "would allocate 74.5 GiB (limit 8 GiB; set NEUROMOD_MEMORY_LIMIT)"),
])
def test_simulate_command_refuses_in_one_line(cli, argv, match, no_backend):
    rc, out, err = cli(["simulate", "lif", "--n", "5", "--duration", "0.1"] + argv)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err and match in err, err



@pytest.mark.parametrize("backend", ["torch", "brian2"])
def test_every_valid_seed_runs_on_both_backends(backend):
    """Seeds up to 2**64 - 1 run (Brian2's 32-bit seed is drawn from the 64-bit one)."""
    def spikes(seed):
        net = Network()
        net.add_poisson("src", 20, rates=200.0)
        net.add_population("p", lif(), 2)
        net.connect("src", "p", "e", np.full((20, 2), 0.5e-9))
        return net.run(0.02, 1e-4, backend=backend, seed=seed).spikes["p"]
    a, b = spikes(2 ** 64 - 1), spikes(2 ** 64 - 1)
    assert a.equals(b) and a.n_spikes > 0


def test_any_domain_survives_a_save(tmp_path):
    from neuromod.backends import load, save
    from neuromod.limits import Domain
    open_unit = Domain("open_unit", low=0.0, high=1.0, low_inclusive=False)
    m = NeuronModel("leak", "dv/dt = -v/tau : volt", {"tau": "10*ms", "p": 0.5, "q": 1.0},
                    domains={"tau": "positive", "p": open_unit, "q": (None, 2.0)})
    save(m, tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert back == m and back.parameters["p"].domain == open_unit
    with pytest.raises(ParameterError, match=r"p = 0 must be in \(0, 1\]"):
        back.with_parameters(p=0.0)
    with pytest.raises(ParameterError, match="q = 3 must be <= 2"):
        back.with_parameters(q=3.0)


@pytest.mark.parametrize("factory", [lambda **k: lif(kernel="biexp", **k),
                                     lambda **k: alif(kernel="biexp", **k),
                                     lambda **k: coba_lif(kernel="biexp", **k)])
def test_biexp_kernels_need_decay_longer_than_rise(factory, no_backend):
    """Equal time constants divide the peak factor by zero (a traceback on both
    backends before); the relation is part of the model and checked like a domain."""
    with pytest.raises(ParameterError, match="must satisfy tau_e > tau_r_e") as exc:
        factory(tau_e="1*ms")
    _one_line(exc)
    m = factory(tau_e="0.5*ms", tau_r_e="0.2*ms")        # both at once: fine
    assert m.parameters["tau_e"].value == 0.0005
    for backend in ("torch", "brian2"):
        with pytest.raises(ParameterError, match=r"tau_i > tau_r_i \(neuron 1\)"):
            simulate(factory(), 2, 0.01, backend=backend,
                     params={"tau_r_i": np.array([1e-3, 20e-3])})


def test_constraints_are_checked_saved_and_must_name_parameters(tmp_path):
    from neuromod.backends import load, save
    from neuromod.backends.equations import ModelDefinitionError
    eqs = "dv/dt = -v/tau : volt"
    m = NeuronModel("c", eqs, {"tau": "10*ms", "tau2": "5*ms"}, constraints=["tau > tau2"])
    save(m, tmp_path / "m.npz")
    assert load(tmp_path / "m.npz").constraints == ("tau > tau2",)
    with pytest.raises(ParameterError, match="must satisfy tau > tau2"):
        load(tmp_path / "m.npz").with_parameters(tau2="20*ms")
    for bad in ["tau > nope", "tau >> tau2", "tau > 3"]:
        with pytest.raises(ModelDefinitionError):
            NeuronModel("c", eqs, {"tau": "10*ms", "tau2": "5*ms"}, constraints=[bad])


def test_simulate_with_several_valid_set_values_runs(cli):
    rc, out, err = cli(["simulate", "lif", "--n", "2", "--duration", "0.01", "--set",
                        "tau_m=1*ms", "tau_e=1*ms", "--json"])
    assert rc == 0, err


def test_durations_may_be_brian2_text():
    r = simulate(lif(), 2, "10*ms", "0.1*ms", inputs={"I_ext": "2*nA"})
    assert r.duration == 0.01 and r.dt == 1e-4 and r.t.size == 100


@pytest.mark.parametrize("record,match", [
    ("v", "record must map populations"),
    ({"neurons": 3}, "must be a variable name or a list"),
    ({"neurons": [1]}, "must list variable names"),
    ({"nobody": ["v"]}, "unknown population"),
    ({"neurons": "vx"}, "no variable 'vx'"),
])
def test_bad_record_is_one_line(record, match):
    from neuromod.backends.network import Network
    from neuromod.errors import NeuromodError
    from neuromod.neurons import lif
    net = Network()
    net.add_population("neurons", lif(), 2)
    with pytest.raises(NeuromodError, match=match):
        net.run(0.01, 1e-4, record=record)


@pytest.mark.parametrize("kwargs,match", [
    ({"n_steps": 0}, "n_steps"), ({"n_steps": 2.5}, "n_steps"), ({"n_steps": 10, "batch": 0}, "batch"),
    ({"n_steps": 10, "seed": -1}, "seed"), ({"n_steps": 10, "record": "v"}, "record must map"),
    ({"n_steps": 2 ** 30, "batch": 2 ** 20}, "NEUROMOD_MEMORY_LIMIT"),
])
def test_torch_network_forward_checks_its_run(kwargs, match):
    """The training API (TorchNetwork.forward) checks what Network.run checks."""
    from neuromod.backends.network import Network
    from neuromod.backends.torch_network import TorchNetwork
    from neuromod.errors import NeuromodError
    from neuromod.neurons import lif
    net = Network()
    net.add_population("neurons", lif(), 2)
    with pytest.raises(NeuromodError, match=match):
        TorchNetwork(net, 1e-4)(**kwargs)
