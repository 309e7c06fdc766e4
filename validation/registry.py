"""Claim registry and runner for ``neuromod validate``.

A claim is a function ``f(quick: bool) -> dict`` registered with :func:`claim`; it
returns ``{"measured": float, "passed": bool}`` and optionally ``"details"`` (a
JSON-ready dict of the side figures: per-rate values, per-encoder accuracies...).
``quick=True`` must finish in under a minute on 2 CPU cores; ``quick=False`` is the
full size the README's validation table reports. Every random choice inside a
claim is seeded, and every claim runs with Torch on one thread (:func:`run_claim`):
the order of floating-point sums then does not depend on the machine's cores, so a
claim measures the same figure on every run and every machine.

Claim modules are the modules of this package whose names end in ``_claims``; they
are imported by :func:`discover` (and only then), so adding a family's claims is
adding one file.
"""
import importlib
import pkgutil
import time
from dataclasses import dataclass
from typing import Callable, Optional

__all__ = ["Claim", "claim", "discover", "select", "run_claim", "run"]

_REGISTRY = {}
_PACKAGE = "neuromod.validation"


@dataclass(frozen=True)
class Claim:
    """One checkable statement from a paper (or from MODELS.md's calibration).

    Attributes
    ----------
    name : str
        Identifier, ``<family>-<what>`` (e.g. ``spiketrum-exact``).
    statement : str
        The claim in one sentence.
    expected : str
        The expected figure with its relation, e.g. ``"> 100"``, ``"<= 0.01"``, ``">= 15"``.
    tolerance : float or None
        The numeric tolerance of ``expected`` (None for one-sided bounds).
    unit : str
        Unit of the measured figure.
    func : callable
        ``func(quick) -> {"measured", "passed"[, "details"]}``.

    Examples
    --------
    >>> c = Claim("demo-x", "statement", "> 1", None, "", lambda quick: {})
    >>> c.family
    'demo'

    """
    name: str
    statement: str
    expected: str
    tolerance: Optional[float]
    unit: str
    func: Callable

    @property
    def family(self):
        return self.name.split("-", 1)[0]


def claim(name, statement, expected, unit, tolerance=None):
    """Decorator registering ``func(quick) -> dict`` as the claim ``name``.

    Examples
    --------
    >>> @claim("example-sum", "1 + 1 = 2", "= 2 ± 0", "", tolerance=0.0)
    ... def _sum(quick):
    ...     return {"measured": 1 + 1, "passed": 1 + 1 == 2}
    >>> run_claim(_REGISTRY.pop("example-sum"), quick=True)["passed"]
    True
    """
    def deco(func):
        old = _REGISTRY.get(name)
        if old is not None and (old.func.__code__.co_filename, old.func.__qualname__) != (
                func.__code__.co_filename, func.__qualname__):
            # (the same function imported under two module names is not a clash)
            raise ValueError(f"claim {name!r} registered twice")
        _REGISTRY[name] = Claim(name, statement, expected, tolerance, unit, func)
        return func
    return deco


def discover():
    """Import every ``*_claims`` module of this package; return ``{name: Claim}`` sorted.

    Examples
    --------
    >>> "spiketrum-exact" in discover()
    True
"""
    pkg = importlib.import_module(_PACKAGE)
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.endswith("_claims"):
            importlib.import_module(f"{_PACKAGE}.{info.name}")
    # claim modules register with the installed name's registry (this file may also be
    # imported under another name, e.g. by a doctest run from the source tree)
    registry = importlib.import_module(f"{_PACKAGE}.registry")._REGISTRY
    return dict(sorted(registry.items()))


def select(names=None):
    """The claims named (exact names or family prefixes such as ``spiketrum``); all if none.

    Raises
    ------
    KeyError
        Naming an unknown claim; the message lists the known ones.

    Examples
    --------
    >>> [c.name for c in select(["spiketrum-exact"])]
    ['spiketrum-exact']
    """
    claims = discover()
    if not names:
        return list(claims.values())
    chosen = []
    for n in names:
        hits = [c for c in claims.values()
                if c.name == n or c.family == n or c.name.startswith(n.rstrip("-") + "-")]
        if not hits:
            raise KeyError(f"unknown claim {n!r}; known: {', '.join(claims) or 'none'}")
        chosen.extend(c for c in hits if c not in chosen)
    return chosen


def run_claim(c, quick=False):
    """Run one claim; return ``{name, claim, expected, tolerance, measured, unit, passed,
    seconds}`` (plus ``details`` when the claim gives them).

    Examples
    --------
    See :func:`claim`."""
    from neuromod.runtime import threads
    t0 = time.perf_counter()
    with threads(torch=1):      # one summation order: figures independent of the cores
        out = c.func(quick)
    seconds = time.perf_counter() - t0
    res = {"name": c.name, "claim": c.statement, "expected": c.expected,
           "tolerance": c.tolerance, "measured": float(out["measured"]), "unit": c.unit,
           "passed": bool(out["passed"]), "seconds": seconds}
    if out.get("details") is not None:
        res["details"] = out["details"]
    return res


def run(names=None, quick=False, on_result=None):
    """Run the selected claims in name order; ``on_result(result)`` after each.

    Examples
    --------
    >>> run(["spiketrum-exact"], quick=True)[0]["passed"]   # doctest: +SKIP
    True"""
    results = []
    for c in select(names):
        r = run_claim(c, quick=quick)
        results.append(r)
        if on_result is not None:
            on_result(r)
    return results
