"""The model definition: equation parsing, units (against Brian2's own unit system),
parameter handling, clear errors for bad definitions, and the docstring examples of
the backend modules."""

import numpy as np
import pytest

from neuromod.backends import ModelDefinitionError, NeuronModel, Parameter
from neuromod.units import as_si, parse_quantity, unit_name
from neuromod.backends.equations import parse_condition, parse_equations, parse_statements
from neuromod.backends.synapses import biexp_peak_factor
from neuromod.errors import UnitError
from neuromod.neurons import MODELS, alif, coba_lif, lif


@pytest.mark.parametrize("text", ["20*ms", "-70*mV", "0.9*nA", "100*Mohm", "10*nS", "200*pF",
                                  "5*kHz", "3*uS", "1.5*second", "2*mV/ms", "1/(20*ms)",
                                  "nsiemens", "0.5*namp", "4*psiemens*10", "ms**-1", "7"])
def test_quantities_match_brian2(text):
    import brian2
    ns = {k: getattr(brian2, k) for k in dir(brian2) if not k.startswith("_")}
    q = eval(text, ns)   # noqa: S307 -- Brian2 as the oracle
    v, d = parse_quantity(text)
    from brian2.units.fundamentalunits import get_dimensions
    bd = get_dimensions(q)
    assert d == tuple(int(bd._dims[k]) for k in range(7))
    assert v == pytest.approx(float(np.asarray(q)), rel=1e-15)


def test_units_and_conversions():
    assert unit_name(parse_quantity("1*nS")[1]) == "siemens"
    import quantities as pq
    import brian2
    assert as_si(20 * pq.ms, (0, 0, 1, 0, 0, 0, 0)) == pytest.approx(0.02)
    assert as_si(20 * brian2.ms, (0, 0, 1, 0, 0, 0, 0)) == pytest.approx(0.02)
    assert as_si("0.02", (0, 0, 1, 0, 0, 0, 0)) == 0.02          # plain SI number as text
    with pytest.raises(UnitError, match="expected second, got volt"):
        as_si("5*mV", (0, 0, 1, 0, 0, 0, 0), "tau")
    with pytest.raises(UnitError, match="unknown unit 'furlong'"):
        parse_quantity("3*furlong")


def test_parse_equations_kinds_flags_and_text():
    eqs = parse_equations("""
        dv/dt = (E_L - v + R*I)/tau : volt (unless refractory)   # membrane
        I = I_syn + I_ext : amp
        dI_syn/dt = -I_syn/tau_s : amp
        I_ext : amp
    """)
    assert [(e.kind, e.name) for e in eqs] == [("diff", "v"), ("sub", "I"), ("diff", "I_syn"),
                                               ("param", "I_ext")]
    assert eqs[0].flags == ("unless refractory",)
    assert eqs[0].text() == "dv/dt = (E_L - v + R*I)/tau : volt (unless refractory)"


@pytest.mark.parametrize("text,message", [
    ("dv/dt = -v/tau", "missing ': unit'"),
    ("dv/dt = -v/tau : volt (sometimes)", "unknown flag 'sometimes'"),
    ("dv/dt = -v/tau : furlong", "unknown unit"),
    ("dv/dt = (-v/tau : volt", "cannot parse expression"),
    ("dv/dt = -v/tau : volt\ndv/dt = v : volt", "'v' defined twice"),
    ("x = 3 : 1 (unless refractory)", "applies to state variables only"),
])
def test_bad_equations(text, message):
    with pytest.raises(ModelDefinitionError, match=message):
        parse_equations(text)


def test_statements_and_conditions():
    assert parse_statements("v = v_reset\nw += b; x -= 1") == [
        ("v", "=", "v_reset"), ("w", "+=", "b"), ("x", "-=", "1")]
    assert parse_condition("v >= v_th") == ("v", ">=", "v_th")
    with pytest.raises(ModelDefinitionError, match="one comparison"):
        parse_condition("v > a and v < b")


def _model(**kw):
    base = dict(name="m", equations="dv/dt = (I - v)/tau : volt (unless refractory)\nI : volt",
                parameters={"tau": "10*ms", "v_th": "1*mV"}, threshold="v > v_th",
                reset="v = 0*volt", inputs=("I",), refractory="2*ms")
    base.update(kw)
    return NeuronModel(**base)


@pytest.mark.parametrize("kw,message", [
    (dict(parameters={"tau": "10*ms"}), "unknown name 'v_th' in the threshold"),
    (dict(reset="u = 0"), "reset assigns 'u'"),
    (dict(inputs=()), "'I' is declared in the equations but is not an input"),
    (dict(equations="dv/dt = (I - v)/tau : volt\nI : volt\nw : 1", inputs=("I",)),
     "'w' is a reserved name"),
    (dict(ports={"e": "v *= w"}), "must add to its target"),
    (dict(ports={"e": ("v += w*w", "volt")}), "linear in w"),
    (dict(ports={"e": "v += w*tau"}), "give the unit of w"),
    (dict(ports={"e": "v += w*k"}), "may use w and parameters only, not 'k'"),
    (dict(method="rk4"), "method must be one of"),
    (dict(refractory="t_ref"), "refractory parameter 't_ref' not defined"),
    (dict(equations="dv/dt = (I - v)/tau + zz : volt\nI : volt"), "unknown name 'zz'"),
])
def test_bad_models_are_clear_errors(kw, message):
    with pytest.raises(ModelDefinitionError, match=message):
        m = _model(**kw)
        m.analysis   # linearity checks run on the first analysis


def test_nonlinear_equation_needs_another_method():
    m = _model(equations="dv/dt = (I - v**2/volt)/tau : volt (unless refractory)\nI : volt")
    with pytest.raises(ModelDefinitionError, match="not linear"):
        m.analysis
    euler = _model(equations="dv/dt = (I - v**2/volt)/tau : volt (unless refractory)\nI : volt",
                   method="euler", parameters={"tau": "10*ms", "v_th": "1*mV", "volt": "1*volt"})
    assert euler.analysis.rhs["v"] is not None


def test_parameters_units_and_overrides():
    m = lif()
    assert isinstance(m.parameters["tau_m"], Parameter)
    assert m.parameters["R"].unit == "ohm" and m.parameters["R"].value == 1e7
    with pytest.raises(UnitError):
        m.with_parameters(tau_m="3*mV")
    with pytest.raises(ModelDefinitionError, match="no parameter 'tau_x'"):
        m.with_parameters(tau_x=1)
    vals = m.resolve_parameters(3, {"tau_m": [0.01, 0.02, 0.03]})
    assert vals["tau_m"].tolist() == [0.01, 0.02, 0.03] and vals["R"] == 1e7
    with pytest.raises(ModelDefinitionError, match="2 values for 3 neurons"):
        m.resolve_parameters(3, {"tau_m": [0.01, 0.02]})


@pytest.mark.parametrize("name", sorted(MODELS))
def test_dict_round_trip(name):
    m = MODELS[name]()
    assert NeuronModel.from_dict(m.to_dict()) == m


def test_reference_model_structure():
    assert lif().analysis.refractory_states == {"v"}
    assert set(alif().analysis.A) >= {("v", "I_adapt"), ("I_adapt", "v")}    # coupled both ways
    assert coba_lif().method == "exponential_euler"
    assert lif(kernel="biexp").states == ["v", "I_e_d", "I_e_r", "I_i_d", "I_i_r"]


def test_biexp_peak_factor_normalises_the_peak():
    t = np.linspace(0, 0.05, 2_000_001)
    for td, tr in ((5e-3, 1e-3), (10e-3, 2e-3), (3e-3, 2.9e-3)):
        k = biexp_peak_factor(td, tr)
        assert (k * (np.exp(-t / td) - np.exp(-t / tr))).max() == pytest.approx(1.0, rel=1e-9)


def test_derived_quantities_are_part_of_the_definition(tmp_path):
    """Facts that follow from the parameters (the rheobase) are declared by the model,
    evaluated with its current values, saved with it; bad ones are refused up front."""
    from neuromod.backends import load, save
    from neuromod.backends.equations import ModelDefinitionError
    from neuromod.errors import ParameterError
    from neuromod.neurons import alif, coba_lif, lif, rheobase
    for m in (lif(), lif(R="20*Mohm"), alif(), coba_lif()):
        p = {k: v.value for k, v in m.parameters.items()}
        gap = p["v_th"] - p["E_L"]
        want = {"lif": gap / p.get("R", 1.0), "alif": gap * (1 + p.get("a", 0) * p.get("R", 1))
                / p.get("R", 1), "coba-lif": gap * p.get("g_L", 0)}[m.name]
        assert rheobase(m) == pytest.approx(want, rel=1e-15)
        save(m, tmp_path / "m.npz")
        assert rheobase(load(tmp_path / "m.npz")) == rheobase(m)
    assert rheobase(lif().with_parameters(R="20*Mohm")) == pytest.approx(0.5e-9, rel=1e-12)
    eqs = "dv/dt = -v/tau : volt"
    with pytest.raises(ModelDefinitionError, match="names 'nope', not a parameter"):
        NeuronModel("m", eqs, {"tau": "10*ms"}, derived={"x": "nope/tau"})
    with pytest.raises(ParameterError, match="not finite"):
        NeuronModel("m", eqs, {"tau": "10*ms", "z": 0.0}, derived={"x": "tau/z"})
    with pytest.raises(ModelDefinitionError, match="declares no derived quantity 'rheobase'"):
        rheobase(NeuronModel("m", eqs, {"tau": "10*ms"}))
