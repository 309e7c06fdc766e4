"""Fuzzing the ``--set`` value parser (:func:`neuromod.units.as_si` with a
model parameter's dimension) and the parameter path behind it: any text -> a finite
SI value or a one-line NeuromodError, never another exception, never a hang."""
import math
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from neuromod.units import UNITS, as_si, parse_quantity
from neuromod.errors import NeuromodError
from neuromod.neurons import alif, coba_lif, lif

#: (model, parameter) pairs covering every dimension the built-in models use.
MODELS = {"lif": lif(), "alif": alif(), "coba-lif": coba_lif()}
TARGETS = sorted({(m, p) for m, model in MODELS.items() for p in model.parameters})
#: Each case must answer at once (the bound powers and nesting make it so): a guard
#: against hangs (an unbounded power takes minutes), not a speed goal, in CPU time of
#: this process and generous for a loaded machine (a case takes about 2 ms).
PER_CASE_S = 5.0

UNIT_NAMES = sorted(UNITS)
_NUMBERS = st.one_of(
    st.integers(-10 ** 6, 10 ** 6).map(str),
    st.integers(0, 10 ** 400).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["0", "0.0", "1e308", "1e-308", "1e400", "-0", "10", "2", "0.5", "1e-320",
                     "9" * 60, ".5", "5.", "1_000", "0x1F", "1j", "True", "None", "nan", "inf"]),
)
_LEAVES = st.one_of(_NUMBERS, st.sampled_from(UNIT_NAMES), st.sampled_from(["ms", "mV", "nA",
                                                                            "Mohm", "pF", "nS"]))


def _combine(children):
    binop = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**", "//", "%", "@"]),
                      children).map(lambda t: f"{t[0]}{t[1]}{t[2]}")
    return st.one_of(binop,
                     children.map(lambda c: f"({c})"),
                     children.map(lambda c: f"-{c}"),
                     st.tuples(children, st.integers(1, 120)).map(
                         lambda t: "(" * t[1] + t[0] + ")" * t[1]),
                     st.tuples(children, st.integers(1, 80)).map(lambda t: "-" * t[1] + t[0]),
                     st.tuples(children, children).map(lambda t: f"{t[0]}**{t[1]}**{t[1]}"),
                     children.map(lambda c: f"exp({c})"))


#: Structured expressions: numbers (tiny, huge, odd spellings), unit names, operators,
#: towers of powers, deep nesting of parentheses and unary minus.
EXPRESSIONS = st.recursive(_LEAVES, _combine, max_leaves=12)
#: Arbitrary text: printable and control characters, Python syntax fragments.
TEXT = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.sampled_from(list("0123456789.eE+-*/()_ msVAnuMkohm\t\n\x00")),
            max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=900, max_size=1200),
)


def _check(text, model, param):
    dim = MODELS[model].parameters[param].dim
    t0 = time.process_time()
    try:
        v = as_si(text, dim, param)
    except NeuromodError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg and len(msg) < 300, msg
    else:
        assert isinstance(v, float) and math.isfinite(v), (text, v)
        # the value goes on to the model: accepted or a one-line domain error
        try:
            MODELS[model].with_parameters(**{param: text})
        except NeuromodError as exc:
            assert "\n" not in str(exc)
    assert time.process_time() - t0 < PER_CASE_S, text[:80]


@settings(max_examples=900)
@given(EXPRESSIONS, st.sampled_from(TARGETS))
def test_structured_expressions_give_a_value_or_one_line(text, target):
    _check(text, *target)


@settings(max_examples=900)
@given(TEXT, st.sampled_from(TARGETS))
def test_arbitrary_text_gives_a_value_or_one_line(text, target):
    _check(text, *target)


@settings(max_examples=200)
@given(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(TARGETS))
def test_plain_numbers_are_kept_or_refused_by_the_domain(value, target):
    model, param = target
    p = MODELS[model].parameters[param]
    try:
        m = MODELS[model].with_parameters(**{param: value})
    except NeuromodError as exc:
        assert "\n" not in str(exc) and param in str(exc)
        assert not math.isfinite(value) or p.domain != "finite"
    else:
        assert math.isfinite(value) and m.parameters[param].value == value


def test_parse_quantity_on_the_classic_troublemakers():
    for text in ["10**10**10", "9**9**9**9", "(" * 199 + "1" + ")" * 199, "-" * 999 + "1",
                 "1/0", "0**-1", "(-8)**0.5", "ms**1e300", "1e308*1e308", "10**-10**10"]:
        t0 = time.process_time()
        try:
            v, _ = parse_quantity(text)
        except NeuromodError as exc:
            assert "\n" not in str(exc)
        else:
            assert math.isfinite(v)
        assert time.process_time() - t0 < PER_CASE_S, text
