"""Resource bounds checked before allocation, and value domains checked once.

Two kinds of guard shared by every part of neuromod, so that a tiny file or option
can never ask for unbounded memory and a nonsense value never reaches a kernel:

* **Memory.** :func:`check_allocation` compares what an operation is about to
  allocate with the limit ``NEUROMOD_MEMORY_LIMIT`` (default ``8G``; a number of
  bytes with an optional ``K``/``M``/``G``/``T`` suffix, powers of 1024) and raises
  :class:`~neuromod.errors.ResourceLimitError` above it, with a message such as
  ``simulate: state arrays would allocate 74.5 GiB (limit 8 GiB; set
  NEUROMOD_MEMORY_LIMIT)``. The estimate is made from sizes and counts alone,
  before anything is allocated.
* **Domains.** A :class:`Domain` names the valid range of a number (``positive``,
  ``non_negative``, ``finite``, ``unit_interval``, ``any``); :func:`check_value`
  raises :class:`~neuromod.errors.ParameterError` naming the value when it lies
  outside. Model parameters declare their domain in the model definition
  (:class:`neuromod.backends.model.Parameter`), configuration readers and option
  parsers use the same functions.

Examples
--------
>>> check_value("tau_m", 0.02, "positive")
0.02
>>> check_value("tau_m", -0.005, "positive")
Traceback (most recent call last):
...
neuromod.errors.ParameterError: tau_m = -0.005 must be > 0 (positive)
>>> parse_size("512M")
536870912
>>> format_bytes(80_000_000_000)
'74.5 GiB'
"""
import math
import operator
import os
from dataclasses import dataclass

import numpy as np

from neuromod.errors import ParameterError, ResourceLimitError

__all__ = ["DOMAINS", "Domain", "check_value", "check_int", "check_seed", "domain",
           "memory_limit", "check_allocation", "parse_size", "format_bytes",
           "DEFAULT_MEMORY_LIMIT", "MAX_SEED"]

#: Default of ``NEUROMOD_MEMORY_LIMIT``: 8 GiB.
DEFAULT_MEMORY_LIMIT = 8 * 1024 ** 3
#: Seeds are integers ``0 <= seed < MAX_SEED`` (what numpy and torch accept).
MAX_SEED = 2 ** 64

_SUFFIX = {"": 1, "B": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


@dataclass(frozen=True)
class Domain:
    """The valid range of a number: ``low``/``high`` bounds (None: unbounded), whether
    each bound is included, whether infinities are allowed. ``name`` is the word the
    model definitions use (``"positive"``)."""
    name: str
    low: float = None
    high: float = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    finite: bool = True

    def mask(self, values):
        """Elementwise: which of ``values`` (a float or an array) lie in the domain (NaN
        never does); one vectorised test shared by scalars and per-neuron arrays."""
        arr = np.asarray(values, dtype=np.float64)
        ok = ~np.isnan(arr)
        if self.finite:
            ok &= np.isfinite(arr)
        with np.errstate(invalid="ignore"):
            if self.low is not None:
                ok &= (arr >= self.low) if self.low_inclusive else (arr > self.low)
            if self.high is not None:
                ok &= (arr <= self.high) if self.high_inclusive else (arr < self.high)
        return ok

    def contains(self, value: float) -> bool:
        """Whether the float ``value`` lies in the domain (NaN never does)."""
        return bool(self.mask(float(value)))

    def describe(self) -> str:
        """``'> 0'``, ``'>= 0'``, ``'in [0, 1]'``, ``'finite'``..."""
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            return (f"in {'[' if self.low_inclusive else '('}{lo:g}, {hi:g}"
                    f"{']' if self.high_inclusive else ')'}")
        if lo is not None:
            return f"{'>=' if self.low_inclusive else '>'} {lo:g}"
        if hi is not None:
            return f"{'<=' if self.high_inclusive else '<'} {hi:g}"
        return "finite" if self.finite else "a number (not NaN)"


#: The named domains a parameter may declare.
DOMAINS = {
    "positive": Domain("positive", low=0.0, low_inclusive=False),
    "non_negative": Domain("non_negative", low=0.0),
    "finite": Domain("finite"),
    "unit_interval": Domain("unit_interval", low=0.0, high=1.0),
    "any": Domain("any", finite=False),
}


def domain(spec: "str | tuple | Domain") -> Domain:
    """The :class:`Domain` for a name of :data:`DOMAINS`, a ``(low, high)`` pair
    (inclusive, None for unbounded) or a :class:`Domain`."""
    if isinstance(spec, Domain):
        return spec
    if isinstance(spec, str):
        try:
            return DOMAINS[spec]
        except KeyError:
            raise ParameterError(f"unknown domain {spec!r}; known: {', '.join(DOMAINS)}") from None
    if isinstance(spec, tuple) and len(spec) == 2:
        lo, hi = (None if b is None else float(b) for b in spec)
        return Domain(f"[{lo}, {hi}]", low=lo, high=hi)
    raise ParameterError(f"a domain is a name ({', '.join(DOMAINS)}) or a (low, high) pair, "
                         f"not {spec!r}")


def check_value(name: str, value, spec: "str | tuple | Domain" = "finite") -> float:
    """Return ``float(value)`` if it lies in the domain ``spec``; else raise
    :class:`~neuromod.errors.ParameterError` naming ``name``.

    Parameters
    ----------
    name : str
        What the value is, for the message (``"tau_m"``, ``"config field gain"``).
    value : float
    spec : str, tuple or Domain
        See :func:`domain`.

    Examples
    --------
    >>> check_value("p", 0.5, "unit_interval")
    0.5
    >>> check_value("p", float("nan"), "unit_interval")
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: p = nan must be in [0, 1] (unit_interval)
    """
    d = domain(spec)
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"{name} = {value!r} is not a number") from None
    if not d.contains(v):
        raise ParameterError(f"{name} = {v:g} must be {d.describe()} ({d.name})")
    return v


def check_int(name: str, value, low: "int | None" = None, high: "int | None" = None) -> int:
    """Return ``value`` as an int if it is an integer (not a bool, not a float with a
    fraction) with ``low <= value <= high``; else a one-line ParameterError.

    Examples
    --------
    >>> check_int("channels", 32, 1, 4096)
    32
    >>> check_int("channels", "1e3", 1, 4096)
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: channels = '1e3' is not an integer
    """
    if isinstance(value, bool):
        raise ParameterError(f"{name} = {value!r} is not an integer")
    try:
        v = operator.index(value)
    except TypeError:
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            v = int(value)
        else:
            raise ParameterError(f"{name} = {value!r} is not an integer") from None
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "" if low is None else f"{low} <= "
        hi = "" if high is None else f" <= {high}"
        raise ParameterError(f"{name} = {v} must satisfy {lo}{name}{hi}")
    return v


def check_seed(seed) -> "int | None":
    """A random seed: None, or an integer ``0 <= seed < 2**64``.

    Examples
    --------
    >>> check_seed(7)
    7
    >>> check_seed(2**64)
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: seed = 18446744073709551616 must satisfy 0 <= seed <= 18446744073709551615
    """
    if seed is None:
        return None
    return check_int("seed", seed, 0, MAX_SEED - 1)


# --------------------------------------------------------------------- memory
def parse_size(text: str) -> int:
    """Bytes of ``'8G'``, ``'512M'``, ``'100K'``, ``'1.5G'`` or ``'123'`` (powers of 1024).

    Raises ParameterError for anything else (negative, NaN, unknown suffix).
    """
    s = str(text).strip().upper()
    if s.endswith("IB"):
        s = s[:-2]
    unit = s[-1:] if s[-1:] in _SUFFIX and not s[-1:].isdigit() else ""
    number = s[:-1] if unit else s
    try:
        v = float(number)
    except ValueError:
        raise ParameterError(f"NEUROMOD_MEMORY_LIMIT={text!r}: expected a size such as 8G, "
                             "512M or 100000000") from None
    if not (math.isfinite(v) and v > 0):
        raise ParameterError(f"NEUROMOD_MEMORY_LIMIT={text!r}: must be a size > 0")
    return int(v * _SUFFIX[unit])


def format_bytes(n: float) -> str:
    """``'74.5 GiB'``, ``'8 GiB'``, ``'512 MiB'``, ``'12 KiB'``, ``'100 B'`` (up to EiB,
    then ``'1.2e+30 B'``).

    Examples
    --------
    >>> format_bytes(3 * 1024 ** 5), format_bytes(10 ** 30)
    ('3 PiB', '1e+30 B')
    """
    n = float(n)
    if n >= 1024 ** 7:
        return f"{n:.3g} B"
    for unit, size in (("EiB", 1024 ** 6), ("PiB", 1024 ** 5), ("TiB", 1024 ** 4),
                       ("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v == round(v) else f"{v:.1f} {unit}"
    return f"{n:.0f} B"


def memory_limit() -> int:
    """The allocation limit in bytes: ``NEUROMOD_MEMORY_LIMIT`` or 8 GiB.

    Read from the environment at each call (no state is kept).
    """
    text = os.environ.get("NEUROMOD_MEMORY_LIMIT", "").strip()
    return parse_size(text) if text else DEFAULT_MEMORY_LIMIT


def check_allocation(nbytes: float, what: str) -> None:
    """Raise :class:`~neuromod.errors.ResourceLimitError` if ``nbytes`` (an estimate
    made before allocating) exceeds :func:`memory_limit`.

    Parameters
    ----------
    nbytes : int or float
        Estimated bytes; may be a Python int of any size (products of counts from a
        file are computed exactly, never overflowing).
    what : str
        What would allocate, for the message (``"simulate: state arrays"``,
        ``"data.csv: 1000000000000 trains"``).

    Examples
    --------
    >>> check_allocation(1024, "a small array")
    >>> import os
    >>> os.environ["NEUROMOD_MEMORY_LIMIT"] = "1M"
    >>> check_allocation(80_000_000_000, "simulate: state arrays")
    Traceback (most recent call last):
    ...
    neuromod.errors.ResourceLimitError: simulate: state arrays would allocate 74.5 GiB (limit 1 MiB; set NEUROMOD_MEMORY_LIMIT)
    >>> del os.environ["NEUROMOD_MEMORY_LIMIT"]
    """
    limit = memory_limit()
    if nbytes > limit:
        raise ResourceLimitError(f"{what} would allocate {format_bytes(nbytes)} "
                                 f"(limit {format_bytes(limit)}; set NEUROMOD_MEMORY_LIMIT)")
