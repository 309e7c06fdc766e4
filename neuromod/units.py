"""The unit layer: physical dimensions, Brian2-style unit text, conversion to SI.

neuromod works in SI units inside (seconds, volts, amps, hertz); this module is
where values cross that boundary, for every part of the package.

* A dimension is a tuple of seven integer exponents over the SI base units
  ``(metre, kilogram, second, amp, kelvin, mole, candela)`` -- the order Brian2
  uses -- with names for the common ones (:data:`TIME`, :data:`VOLTAGE`,
  :data:`CURRENT`, ... in :data:`DIMENSIONS`).
* :func:`parse_quantity` reads the text Brian2 users write (``20*ms``, ``0.9*nA``,
  ``100*Mohm``, ``-70*mV``, ``5``) with a restricted evaluator (no ``eval``;
  bounded length, nesting and powers) and returns the SI value and its dimension.
* :func:`as_si` converts text, Brian2 quantities and ``quantities`` quantities to SI
  and checks the dimension; :func:`to_seconds`, :func:`to_hertz` and :func:`to_si`
  are the time and rate forms used by the data layer.

Neither ``quantities`` nor ``brian2`` is imported unless the value passed in already
is one of theirs.

Examples
--------
>>> parse_quantity("20*ms")
(0.02, (0, 0, 1, 0, 0, 0, 0))
>>> unit_name(parse_quantity("0.9*nA")[1])
'amp'
>>> DIMENSIONS["conductance"] == parse_unit("siemens")
True
"""
import ast
import math

import numpy as np

from neuromod.errors import UnitError

__all__ = ["Dim", "DIMENSIONLESS", "DIMENSIONS", "TIME", "FREQUENCY", "VOLTAGE", "CURRENT",
           "CONDUCTANCE", "CAPACITANCE", "RESISTANCE", "CHARGE", "UNITS", "parse_quantity",
           "parse_unit", "unit_name", "as_si", "format_quantity", "quantities_dim",
           "to_seconds", "to_hertz", "to_si"]


Dim = tuple
DIMENSIONLESS = (0, 0, 0, 0, 0, 0, 0)


def _d(m=0, kg=0, s=0, a=0, k=0, mol=0, cd=0):
    return (m, kg, s, a, k, mol, cd)


#: Named dimensions (exponents over metre, kilogram, second, amp, kelvin, mole, candela).
TIME = _d(s=1)
FREQUENCY = _d(s=-1)
VOLTAGE = _d(m=2, kg=1, s=-3, a=-1)
CURRENT = _d(a=1)
CONDUCTANCE = _d(m=-2, kg=-1, s=3, a=2)
CAPACITANCE = _d(m=-2, kg=-1, s=4, a=2)
RESISTANCE = _d(m=2, kg=1, s=-3, a=-2)
CHARGE = _d(s=1, a=1)
DIMENSIONS = {"dimensionless": DIMENSIONLESS, "time": TIME, "frequency": FREQUENCY,
              "voltage": VOLTAGE, "current": CURRENT, "conductance": CONDUCTANCE,
              "capacitance": CAPACITANCE, "resistance": RESISTANCE, "charge": CHARGE}


#: Named (unprefixed) units: long name, short name, dimension.
_BASE = [
    ("metre", "m", _d(m=1)),
    ("meter", None, _d(m=1)),
    ("kilogram", None, _d(kg=1)),
    ("gram", "g", _d(kg=1)),  # scale handled below
    ("second", "s", _d(s=1)),
    ("amp", "A", _d(a=1)),
    ("ampere", None, _d(a=1)),
    ("kelvin", "K", _d(k=1)),
    ("mole", "mol", _d(mol=1)),
    ("molar", "M", _d(m=-3, mol=1)),  # scale handled below
    ("candela", "cd", _d(cd=1)),
    ("volt", "V", _d(m=2, kg=1, s=-3, a=-1)),
    ("ohm", None, _d(m=2, kg=1, s=-3, a=-2)),
    ("siemens", "S", _d(m=-2, kg=-1, s=3, a=2)),
    ("farad", "F", _d(m=-2, kg=-1, s=4, a=2)),
    ("hertz", "Hz", _d(s=-1)),
    ("coulomb", "C", _d(s=1, a=1)),
    ("watt", "W", _d(m=2, kg=1, s=-3)),
    ("joule", "J", _d(m=2, kg=1, s=-2)),
    ("newton", "N", _d(m=1, kg=1, s=-2)),
    ("pascal", "Pa", _d(m=-1, kg=1, s=-2)),
    ("liter", "l", _d(m=3)),
    ("litre", None, _d(m=3)),
]
_SCALE = {"gram": 1e-3, "molar": 1e3, "liter": 1e-3, "litre": 1e-3}
_PREFIXES = {"y": 1e-24, "z": 1e-21, "a": 1e-18, "f": 1e-15, "p": 1e-12, "n": 1e-9,
             "u": 1e-6, "m": 1e-3, "c": 1e-2, "d": 1e-1, "da": 1e1, "h": 1e2, "k": 1e3,
             "M": 1e6, "G": 1e9, "T": 1e12}


def _build_units():
    units = {}
    for long, short, dim in _BASE:
        base_scale = _SCALE.get(long, 1.0)
        units[long] = (base_scale, dim)
        if short:
            units.setdefault(short, (base_scale, dim))
        for pre, f in _PREFIXES.items():
            if long not in ("kilogram",):
                units.setdefault(pre + long, (base_scale * f, dim))
            if short and short != "g" or (short == "g" and pre != "k"):
                if short:
                    units.setdefault(pre + short, (base_scale * f, dim))
    units["kilogram"] = (1.0, _d(kg=1))
    units["kg"] = (1.0, _d(kg=1))
    # Brian2 spells these with the 'metre' short form and a few aliases.
    units["Mohm"] = (1e6, units["ohm"][1])
    units["kohm"] = (1e3, units["ohm"][1])
    units["Gohm"] = (1e9, units["ohm"][1])
    return units


#: Every unit name understood by :func:`parse_quantity`: name -> (scale to SI, dimension).
UNITS = _build_units()

#: Preferred display names of common dimensions (the names Brian2 accepts in equations).
_NAMES = [("1", DIMENSIONLESS), ("second", _d(s=1)), ("volt", _d(m=2, kg=1, s=-3, a=-1)),
          ("amp", _d(a=1)), ("ohm", _d(m=2, kg=1, s=-3, a=-2)),
          ("siemens", _d(m=-2, kg=-1, s=3, a=2)), ("farad", _d(m=-2, kg=-1, s=4, a=2)),
          ("hertz", _d(s=-1)), ("coulomb", _d(s=1, a=1)), ("metre", _d(m=1)),
          ("volt/second", _d(m=2, kg=1, s=-4, a=-1)), ("amp/second", _d(s=-1, a=1)),
          ("siemens/second", _d(m=-2, kg=-1, s=2, a=2)), ("kilogram", _d(kg=1)),
          ("mole", _d(mol=1)), ("kelvin", _d(k=1)), ("candela", _d(cd=1))]
_BASE_NAMES = ("metre", "kilogram", "second", "amp", "kelvin", "mole", "candela")


def dim_mul(a, b):
    return tuple(x + y for x, y in zip(a, b))


def dim_div(a, b):
    return tuple(x - y for x, y in zip(a, b))


def dim_pow(a, p):
    out = []
    for x in a:
        y = x * p
        if abs(y - round(y)) > 1e-12:
            raise UnitError(f"fractional power {p} of a dimensioned quantity")
        out.append(int(round(y)))
    return tuple(out)


def unit_name(dim):
    """A unit expression Brian2 understands for dimension ``dim`` (e.g. ``'volt'``).

    Examples
    --------
    >>> unit_name((0, 0, -1, 0, 0, 0, 0))
    'hertz'
    """
    dim = tuple(int(x) for x in dim)
    for name, d in _NAMES:
        if d == dim:
            return name
    parts = [f"{b}**{e}" if e != 1 else b for b, e in zip(_BASE_NAMES, dim) if e]
    return "*".join(parts)


#: Bounds on a quantity's text: characters, nesting depth of the expression, size
#: of an exponent applied to a dimensioned quantity.
MAX_TEXT = 1000
MAX_DEPTH = 50
MAX_UNIT_POWER = 64


def _show(text):
    """The text for a message: repr, cut to 60 characters (one line)."""
    r = repr(text)
    return r if len(r) <= 60 else r[:56] + "...'"


def _bad(text, what):
    return UnitError(f"cannot read {_show(text)} as a quantity: {what}")


def _depth(tree):
    """Nesting depth of an ast, computed without recursion."""
    best, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        if d > MAX_DEPTH:
            return d
        stack.extend((c, d + 1) for c in ast.iter_child_nodes(node))
    return best


def _power(base, exponent, text):
    """``base ** exponent`` for floats, refusing overflow and complex results
    before computing (so that ``10**10**10`` answers at once)."""
    if base == 0.0:
        if exponent < 0:
            raise _bad(text, "0 raised to a negative power")
        return 0.0 if exponent > 0 else 1.0
    if base < 0 and exponent != int(exponent):
        raise _bad(text, "fractional power of a negative number")
    if exponent * math.log10(abs(base)) > 308.5:
        raise _bad(text, "the power overflows")
    return base ** exponent       # underflows to 0 quietly


def _eval(node, text):
    if isinstance(node, ast.Expression):
        return _eval(node.body, text)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        v = float(node.value)         # OverflowError for huge ints: caught by the caller
        if not math.isfinite(v):
            raise _bad(text, "a number is not finite")
        return v, DIMENSIONLESS
    if isinstance(node, ast.Name):
        if node.id not in UNITS:
            raise UnitError(f"unknown unit {node.id!r} in {_show(text)}")
        return UNITS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v, d = _eval(node.operand, text)
        return (-v if isinstance(node.op, ast.USub) else v), d
    if isinstance(node, ast.BinOp):
        lv, ld = _eval(node.left, text)
        if isinstance(node.op, ast.Pow):
            rv, rd = _eval(node.right, text)
            if rd != DIMENSIONLESS:
                raise UnitError(f"exponent must be dimensionless in {_show(text)}")
            if ld != DIMENSIONLESS and abs(rv) > MAX_UNIT_POWER:
                raise _bad(text, f"a unit raised to the power {rv:g}")
            try:
                dim = dim_pow(ld, rv)
            except UnitError as exc:
                raise _bad(text, str(exc)) from None
            return _power(lv, rv, text), dim
        rv, rd = _eval(node.right, text)
        if isinstance(node.op, ast.Mult):
            return lv * rv, dim_mul(ld, rd)
        if isinstance(node.op, ast.Div):
            if rv == 0.0:
                raise _bad(text, "division by zero")
            return lv / rv, dim_div(ld, rd)
        if isinstance(node.op, (ast.Add, ast.Sub)):
            if ld != rd:
                raise UnitError(f"adding quantities of different dimensions in {_show(text)}")
            return (lv + rv if isinstance(node.op, ast.Add) else lv - rv), ld
    raise UnitError(f"cannot read {_show(text)} as a quantity (write e.g. 20*ms or 0.9*nA)")


def _parse(text):
    """``(value, dim, has_units)`` of a quantity's text; every failure a one-line
    :class:`~neuromod.errors.UnitError` naming the text."""
    text = str(text).strip()
    if len(text) > MAX_TEXT:
        raise _bad(text, f"longer than {MAX_TEXT} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        raise UnitError(f"cannot read {_show(text)} as a quantity "
                        "(write e.g. 20*ms or 0.9*nA)") from None
    if _depth(tree) > MAX_DEPTH:
        raise _bad(text, f"nested more than {MAX_DEPTH} deep")
    try:
        v, d = _eval(tree, text)
    except UnitError:
        raise
    except ZeroDivisionError:
        raise _bad(text, "division by zero") from None
    except (OverflowError, RecursionError, MemoryError):
        raise _bad(text, "a value overflows") from None
    except (TypeError, ValueError):
        raise _bad(text, "not a real number") from None
    v = float(v)
    if not math.isfinite(v):
        raise _bad(text, "the value is not finite")
    has_units = any(isinstance(n, ast.Name) for n in ast.walk(tree))
    return v, tuple(int(x) for x in d), has_units


def parse_quantity(text):
    """Read a Brian2-syntax quantity such as ``'20*ms'`` or ``'-70*mV'``.

    Parameters
    ----------
    text : str
        Numbers, unit names (``ms``, ``mV``, ``nA``, ``Mohm``, ``nS``, ``pF``,
        ``Hz``, ``volt``, ``second`` and every SI-prefixed form), ``*``, ``/``,
        ``**``, unary minus and parentheses. A plain number is dimensionless. At
        most :data:`MAX_TEXT` characters, nested at most :data:`MAX_DEPTH` deep.

    Returns
    -------
    value : float
        In SI units, finite.
    dim : tuple of 7 ints
        Dimension exponents (metre, kilogram, second, amp, kelvin, mole, candela).

    Raises
    ------
    UnitError
        On unknown unit names or inconsistent dimensions, and -- one line naming
        the text -- on division by zero, overflow (powers are bounded before they
        are computed), non-finite or complex values, too long or too deeply
        nested text.

    Examples
    --------
    >>> parse_quantity("100*Mohm")[0]
    100000000.0
    >>> parse_quantity("10**10**10")
    Traceback (most recent call last):
    ...
    neuromod.errors.UnitError: cannot read '10**10**10' as a quantity: the power overflows
    >>> parse_quantity("1/0")
    Traceback (most recent call last):
    ...
    neuromod.errors.UnitError: cannot read '1/0' as a quantity: division by zero
    """
    v, d, _ = _parse(text)
    return v, d


def parse_unit(text):
    """Dimension of a unit expression such as ``'volt'``, ``'amp'``, ``'1'`` or ``'volt/second'``.

    Examples
    --------
    >>> parse_unit("siemens")
    (-2, -1, 3, 2, 0, 0, 0)
    """
    return parse_quantity(text)[1]


def quantities_dim(x):
    """``(SI value, dimension)`` of a ``quantities`` quantity."""
    simp = x.simplified
    dim = [0] * 7
    names = {"m": 0, "kg": 1, "s": 2, "A": 3, "K": 4, "mol": 5, "cd": 6}
    for u, p in simp.dimensionality.items():
        sym = u.symbol
        if sym not in names:
            raise UnitError(f"unsupported unit {sym!r}")
        dim[names[sym]] += int(p)
    return float(np.asarray(simp.magnitude)) if np.ndim(simp.magnitude) == 0 else \
        np.asarray(simp.magnitude, dtype=np.float64), tuple(dim)


def as_si(value, dim=None, name="value"):
    """Convert a value to SI units and check its dimension.

    Parameters
    ----------
    value : float, array_like, str, brian2 Quantity or quantities Quantity
        Plain numbers and arrays are taken as SI already; strings are parsed with
        :func:`parse_quantity` (Brian2 syntax, e.g. ``'20*ms'``); a string without
        unit names (``'0.02'``) is an SI number too.
    dim : tuple of 7 ints, optional
        Expected dimension. Plain numbers are accepted for any dimension.
    name : str
        Used in error messages.

    Returns
    -------
    float or numpy.ndarray (float64)

    Raises
    ------
    UnitError
        When ``value`` carries units of another dimension, is text that
        :func:`parse_quantity` refuses, or is not a number. (Finite values and
        domains are checked where the value is used, e.g.
        :meth:`~neuromod.backends.model.NeuronModel.with_parameters`.)

    Examples
    --------
    >>> as_si("20*ms", (0, 0, 1, 0, 0, 0, 0))
    0.02
    >>> as_si(0.5)
    0.5
    """
    mod = type(value).__module__ or ""
    got = None
    if isinstance(value, str):
        v, got, has_units = _parse(value)
        if not has_units:
            got = None   # a plain number: SI units of whatever is expected
    elif mod.startswith("brian2"):
        from brian2.units.fundamentalunits import get_dimensions
        d = get_dimensions(value)
        got = tuple(int(d._dims[k]) for k in range(7))
        arr = np.asarray(value, dtype=np.float64)  # brian2 stores SI values
        v = float(arr) if arr.ndim == 0 else arr
    elif mod.startswith("quantities"):
        v, got = quantities_dim(value)
    else:
        if value is None:
            raise UnitError(f"{name}: None is not a number or a quantity")
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise UnitError(f"{name}: {_show(value)} is not a number or a quantity") from None
        v = float(arr) if arr.ndim == 0 else arr
    if got is not None and dim is not None and tuple(got) != tuple(dim):
        raise UnitError(f"{name}: expected {unit_name(dim)}, got {unit_name(got)}")
    return v


def format_quantity(value, dim):
    """Text of a value in the most readable Brian2 unit (``0.02, second -> '20. ms'``).

    Examples
    --------
    >>> format_quantity(0.02, (0, 0, 1, 0, 0, 0, 0))
    '20*ms'
    """
    base = unit_name(dim)
    short = {"second": "s", "volt": "V", "amp": "A", "ohm": "ohm", "siemens": "S",
             "farad": "F", "hertz": "Hz"}.get(base)
    if short is None or value == 0 or not math.isfinite(value):
        return f"{value:g}" if base == "1" else f"{value:g}*{base}"
    for pre, f in (("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1.0), ("m", 1e-3), ("u", 1e-6),
                   ("n", 1e-9), ("p", 1e-12), ("f", 1e-15)):
        if abs(value) >= f * 0.9999999:
            return f"{value / f:.10g}*{pre}{short}"
    return f"{value:g}*{base}"


def _is_quantities(x):
    mod = type(x).__module__ or ""
    return mod.startswith("quantities")


def _is_brian2(x):
    mod = type(x).__module__ or ""
    return mod.startswith("brian2")


def to_si(x, dimension, name="value"):
    """Convert ``x`` to a float or float64 array in the SI unit of ``dimension``.

    Parameters
    ----------
    x : float, array_like, str, quantities.Quantity or brian2.Quantity
        Plain numbers are taken to be in SI units already; text is read as Brian2
        syntax (``'20*ms'``, ``'5*Hz'``; see :func:`as_si`).
    dimension : {'s', 'Hz'}
        The expected dimension.
    name : str
        Used in the error message.

    Returns
    -------
    float or numpy.ndarray

    Raises
    ------
    UnitError
        If ``x`` carries units of another dimension, or is not a number.

    Examples
    --------
    >>> import quantities as pq
    >>> to_si(20 * pq.ms, "s")
    0.02
    """
    if x is None:
        return None
    if isinstance(x, str):          # Brian2 syntax ('20*ms', '5*Hz') or a plain number
        return as_si(x, TIME if dimension == "s" else FREQUENCY, name)
    if _is_quantities(x):
        import quantities as pq
        target = pq.s if dimension == "s" else pq.Hz
        try:
            v = x.rescale(target).magnitude
        except ValueError as exc:
            raise UnitError(f"{name}: expected {dimension}, got {x.dimensionality.string}") from exc
        return float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=np.float64)
    if _is_brian2(x):
        from brian2 import second, Hz
        from brian2.units.fundamentalunits import DimensionMismatchError, get_dimensions
        target = second if dimension == "s" else Hz
        if get_dimensions(x) != get_dimensions(target):
            raise UnitError(f"{name}: expected {dimension}, got {get_dimensions(x)}")
        v = np.asarray(x / target, dtype=np.float64)
        return float(v) if v.ndim == 0 else v
    try:
        if np.ndim(x) == 0:
            return float(x)
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        text = repr(x)
        text = text if len(text) <= 60 else text[:57] + "..."
        raise UnitError(f"{name}: {text} is not a number (in {dimension})") from None


def to_seconds(x, name="time"):
    """Convert a time (number in seconds, ``quantities`` or Brian2 quantity) to seconds.

    Examples
    --------
    >>> to_seconds(0.5)
    0.5
    """
    return to_si(x, "s", name)


def to_hertz(x, name="rate"):
    """Convert a rate (number in Hz, ``quantities`` or Brian2 quantity) to Hz.

    Examples
    --------
    >>> to_hertz(10.0)
    10.0
    """
    return to_si(x, "Hz", name)
