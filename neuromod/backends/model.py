"""The model definition shared by both backends: equations written once.

A :class:`NeuronModel` holds, in one place, everything both backends need:

* state variables and their differential equations, subexpressions and input
  variables -- in Brian2's equation syntax, parsed once (:mod:`.equations`);
* parameters with physical units and defaults (:class:`Parameter`);
* the threshold condition, the reset statements and the refractory period;
* synaptic *ports*: the ``on_pre`` statement a presynaptic spike executes on
  the neuron (``I_e += w`` for a current-based synapse, ``g_e += w`` for a
  conductance-based one), linear in the weight ``w``;
* initial values and the integration method.

The Brian2 backend hands the equation text to ``brian2.NeuronGroup`` verbatim; the
Torch backend derives its update from the sympy form of the same text
(:func:`analyse`). Nothing is written twice.

Integration methods (identical on both backends, see ``docs/backends.md``):

``'exact'``
    For linear equations ``dx/dt = A x + c(inputs)`` with ``A`` built from
    parameters only: the zero-order-hold solution ``x(t+dt) = e^{A dt} x(t) +
    (int_0^dt e^{A s} ds) c``, inputs held constant over the step. For a single
    leaky variable this is ``x <- x exp(-dt/tau) + (1 - exp(-dt/tau)) tau c``.
    Brian2's ``method='exact'`` computes the same solution symbolically.
``'exponential_euler'``
    Each variable is treated as linear in itself, ``dx/dt = a x + b``, with ``a``
    and ``b`` evaluated at the start of the step: ``x <- x e^{a dt} + b (e^{a dt} - 1)/a``.
``'euler'``
    ``x <- x + dt f(x)``.

Examples
--------
>>> m = NeuronModel("leaky", '''
... dv/dt = (I - v)/tau : volt (unless refractory)
... I : volt
... ''', parameters={"tau": "10*ms", "v_th": "1*mV"}, threshold="v > v_th",
...     reset="v = 0*mV", inputs=("I",))
>>> m.parameters["tau"].value
0.01
"""
import copy
import functools
import math
from dataclasses import dataclass

import numpy as np

from neuromod.backends.dims import (DIMENSIONLESS, UNITS, as_si, format_quantity,
                                    parse_quantity, parse_unit, unit_name)
from neuromod.backends.equations import (ModelDefinitionError, identifiers, parse_condition,
                                         parse_equations, parse_statements)
from neuromod.errors import UnitError

__all__ = ["NeuronModel", "Parameter", "Port", "analyse", "METHODS", "FORMAT_VERSION"]

METHODS = ("exact", "exponential_euler", "euler")
#: Version of the JSON form written by :meth:`NeuronModel.to_dict`.
FORMAT_VERSION = 1
_RESERVED = {"t", "dt", "i", "N", "w", "not_refractory", "lastspike", "refractory",
             "xi", "lambda", "True", "False"}


@dataclass(frozen=True)
class Parameter:
    """A model parameter: default value in SI units and its physical dimension.

    Examples
    --------
    >>> p = Parameter.from_spec("tau_m", "20*ms")
    >>> p.value, p.unit, p.text()
    (0.02, 'second', '20*ms')
    """
    name: str
    value: float
    dim: tuple
    doc: str = ""

    @property
    def unit(self):
        """Unit name Brian2 accepts (``'second'``, ``'volt'``, ``'1'``...)."""
        return unit_name(self.dim)

    def text(self):
        """The default in Brian2 syntax (``'20*ms'``)."""
        return format_quantity(self.value, self.dim)

    @classmethod
    def from_spec(cls, name, spec, doc=""):
        """From ``'20*ms'``, ``(value_SI, 'second')``, a Brian2/quantities quantity,
        a :class:`Parameter` or a plain number (dimensionless)."""
        if isinstance(spec, Parameter):
            return cls(name, spec.value, spec.dim, doc or spec.doc)
        if isinstance(spec, tuple) and len(spec) in (2, 3):
            value, unit = spec[0], spec[1]
            doc = spec[2] if len(spec) == 3 else doc
            dim = parse_unit(unit)
            return cls(name, float(as_si(value, dim, name)), dim, doc)
        if isinstance(spec, str):
            v, d = parse_quantity(spec)
            return cls(name, v, d, doc)
        mod = type(spec).__module__ or ""
        if mod.startswith("brian2"):
            from brian2.units.fundamentalunits import get_dimensions
            dd = get_dimensions(spec)
            dim = tuple(int(dd._dims[k]) for k in range(7))
            return cls(name, float(as_si(spec, dim, name)), dim, doc)
        if mod.startswith("quantities"):
            from neuromod.backends.dims import _quantities_dim
            v, dim = _quantities_dim(spec)
            return cls(name, float(v), dim, doc)
        return cls(name, float(spec), DIMENSIONLESS, doc)


@dataclass(frozen=True)
class Port:
    """A synaptic input of a model: what one presynaptic spike of weight ``w`` does.

    ``code`` holds ``on_pre`` statements (``'I_e += w'``) that are linear in ``w``;
    ``dim`` is the dimension of ``w``.
    """
    name: str
    code: str
    dim: tuple

    @property
    def unit(self):
        return unit_name(self.dim)


class NeuronModel:
    """A spiking neuron model written once, run by the Brian2 and Torch backends.

    Parameters
    ----------
    name : str
        Short name (``'lif'``).
    equations : str
        Brian2-syntax equations: differential equations, subexpressions and input
        declarations (``I_ext : amp``). Parameters are *not* declared here.
    parameters : dict
        Name -> default, as Brian2 text (``'20*ms'``), ``(value_SI, 'unit')``,
        a quantity, or a :class:`Parameter`.
    threshold : str, optional
        One comparison, e.g. ``'v > v_th'``.
    reset : str, optional
        Statements executed on a spike, e.g. ``'v = v_reset; w += b'``.
    refractory : str or float or quantity
        A parameter name (time) or a duration; ``0`` for none. Variables flagged
        ``(unless refractory)`` are clamped while refractory, and the threshold is
        not tested (Brian2's semantics).
    inputs : sequence of str
        Names declared in ``equations`` (``I_ext : amp``) that are driven from
        outside, held constant over each step (0 when not driven).
    ports : dict, optional
        Port name -> ``on_pre`` code (``'I_e += w'``) or ``(code, unit of w)``.
    init : dict, optional
        State variable -> initial value (expression in parameters, e.g. ``'E_L'``,
        or a quantity). Others start at 0.
    method : {'exact', 'exponential_euler', 'euler'}
        Integration method, the same on both backends.
    surrogate_scale : str
        Expression (parameters only) by which the threshold distance is divided
        before the surrogate gradient is applied (e.g. ``'v_th - v_reset'``).
    description : str
        One line shown by ``neuromod simulate --list``.

    Examples
    --------
    >>> from neuromod.neurons import lif
    >>> m = lif()
    >>> sorted(m.ports)
    ['e', 'i']
    >>> m.with_parameters(tau_m="10*ms").parameters["tau_m"].value
    0.01
    """

    def __init__(self, name, equations, parameters, threshold=None, reset=None, refractory=0.0,
                 inputs=(), ports=None, init=None, method="exact", surrogate_scale="1",
                 description=""):
        self.name = str(name)
        self.equations = str(equations)
        self.eqs = parse_equations(self.equations)
        self.parameters = {k: Parameter.from_spec(k, v) for k, v in (parameters or {}).items()}
        self.threshold = threshold
        self.reset = reset or ""
        self.inputs = tuple(inputs)
        self.method = method
        self.surrogate_scale = str(surrogate_scale)
        self.description = description
        if method not in METHODS:
            raise ModelDefinitionError(f"model {name!r}: method must be one of {METHODS}, got {method!r}")
        # refractory: parameter name or constant duration (seconds)
        if isinstance(refractory, str) and refractory.isidentifier():
            if refractory not in self.parameters:
                raise ModelDefinitionError(f"model {name!r}: refractory parameter {refractory!r} not defined")
            if self.parameters[refractory].dim != (0, 0, 1, 0, 0, 0, 0):
                raise UnitError(f"model {name!r}: refractory parameter {refractory!r} must be a time")
            self.refractory = refractory
        else:
            self.refractory = float(as_si(refractory, (0, 0, 1, 0, 0, 0, 0), "refractory"))
        ports = ports or {}
        self.ports = {}
        for pname, spec in ports.items():
            if isinstance(spec, Port):
                self.ports[pname] = Port(pname, spec.code, spec.dim)
                continue
            code, unit = (spec if isinstance(spec, tuple) else (spec, None))
            self.ports[pname] = Port(pname, code, parse_unit(unit) if unit else None)
        self.init = {}
        for k, v in (init or {}).items():
            self.init[k] = v if isinstance(v, str) else None
            if not isinstance(v, str):
                self.init[k] = repr(float(as_si(v, None, f"init {k}")))
        self._check()

    # ----------------------------------------------------------------- structure
    @property
    def states(self):
        """State variables (differential equations), in definition order."""
        return [e.name for e in self.eqs if e.kind == "diff"]

    @property
    def subexpressions(self):
        return [e.name for e in self.eqs if e.kind == "sub"]

    def dim_of(self, name):
        """Dimension of a state variable, subexpression, input or parameter."""
        for e in self.eqs:
            if e.name == name:
                return e.dim
        if name in self.parameters:
            return self.parameters[name].dim
        raise KeyError(name)

    def _check(self):
        m = self.name
        declared = {e.name: e for e in self.eqs}
        for e in self.eqs:
            if e.name in _RESERVED:
                raise ModelDefinitionError(f"model {m!r}: {e.name!r} is a reserved name")
            if e.name in self.parameters:
                raise ModelDefinitionError(
                    f"model {m!r}: {e.name!r} is both a parameter and declared in the equations")
            if e.kind == "param" and e.name not in self.inputs:
                raise ModelDefinitionError(
                    f"model {m!r}: {e.name!r} is declared in the equations but is not an input; "
                    "give parameters in 'parameters'")
        for p in self.parameters:
            if p in _RESERVED or not p.isidentifier():
                raise ModelDefinitionError(f"model {m!r}: bad parameter name {p!r}")
        for name in self.inputs:
            if name not in declared or declared[name].kind != "param":
                raise ModelDefinitionError(
                    f"model {m!r}: input {name!r} must be declared in the equations as '{name} : unit'")
        if not self.states:
            raise ModelDefinitionError(f"model {m!r}: no differential equation")
        used = set()
        for e in self.eqs:
            if e.expr is not None:
                used |= identifiers(e.expr)
        for name in self.inputs:
            if name not in used:
                raise ModelDefinitionError(f"model {m!r}: input {name!r} appears in no equation")
        known = set(declared) | set(self.parameters) | set(UNITS)
        for e in self.eqs:
            if e.expr is not None:
                bad = identifiers(e.expr) - known
                if bad:
                    raise ModelDefinitionError(
                        f"model {m!r}: unknown name {sorted(bad)[0]!r} in the equation for {e.name!r}")
        if self.threshold:
            lhs, _, rhs = parse_condition(self.threshold)
            bad = (identifiers(lhs) | identifiers(rhs)) - known
            if bad:
                raise ModelDefinitionError(f"model {m!r}: unknown name {sorted(bad)[0]!r} in the threshold")
        for target, op, expr in parse_statements(self.reset):
            if target not in self.states:
                raise ModelDefinitionError(f"model {m!r}: reset assigns {target!r}, not a state variable")
            bad = identifiers(expr) - known
            if bad:
                raise ModelDefinitionError(f"model {m!r}: unknown name {sorted(bad)[0]!r} in the reset")
        for pname, port in list(self.ports.items()):
            stmts = parse_statements(port.code)
            if not stmts:
                raise ModelDefinitionError(f"model {m!r}: port {pname!r} has no statement")
            for target, op, expr in stmts:
                if target not in self.states:
                    raise ModelDefinitionError(
                        f"model {m!r}: port {pname!r} changes {target!r}, not a state variable")
                if op not in ("+=", "-="):
                    raise ModelDefinitionError(
                        f"model {m!r}: port {pname!r} must add to its target ('{target} += w')")
                bad = identifiers(expr) - set(self.parameters) - {"w"} - set(UNITS)
                if bad:
                    raise ModelDefinitionError(
                        f"model {m!r}: port {pname!r} may use w and parameters only, not {sorted(bad)[0]!r}")
            if port.dim is None:
                target, op, expr = stmts[0]
                if expr.strip() != "w":
                    raise ModelDefinitionError(
                        f"model {m!r}: give the unit of w for port {pname!r}: (code, unit)")
                self.ports[pname] = Port(pname, port.code, self.dim_of(target))
        for k, v in self.init.items():
            if k not in self.states:
                raise ModelDefinitionError(f"model {m!r}: initial value for {k!r}, not a state variable")
            bad = identifiers(v) - set(self.parameters) - set(UNITS)
            if bad:
                raise ModelDefinitionError(
                    f"model {m!r}: initial value of {k!r} may use parameters only, not {sorted(bad)[0]!r}")
        bad = identifiers(self.surrogate_scale) - set(self.parameters) - set(UNITS)
        if bad:
            raise ModelDefinitionError(f"model {m!r}: surrogate_scale uses unknown {sorted(bad)[0]!r}")

    # ----------------------------------------------------------------- copies
    def with_parameters(self, **values):
        """A copy with new parameter defaults (same dimension required).

        Values may be Brian2 text (``'10*ms'``), quantities or SI numbers.

        Examples
        --------
        >>> from neuromod.neurons import lif
        >>> lif().with_parameters(v_th=-0.045).parameters["v_th"].value
        -0.045
        """
        new = copy.copy(self)
        new.parameters = dict(self.parameters)
        for k, v in values.items():
            if k not in self.parameters:
                raise ModelDefinitionError(
                    f"model {self.name!r} has no parameter {k!r}; it has {', '.join(self.parameters)}")
            p = self.parameters[k]
            new.parameters[k] = Parameter(k, float(as_si(v, p.dim, k)), p.dim, p.doc)
        new.__dict__.pop("_analysis", None)
        return new

    def resolve_parameters(self, n, overrides=None):
        """Parameter values for ``n`` neurons in SI: dict name -> float or (n,) array.

        ``overrides`` maps names to scalars, per-neuron arrays, Brian2 text or
        quantities; their dimensions are checked.
        """
        out = {k: p.value for k, p in self.parameters.items()}
        for k, v in (overrides or {}).items():
            if k not in self.parameters:
                raise ModelDefinitionError(
                    f"model {self.name!r} has no parameter {k!r}; it has {', '.join(self.parameters)}")
            val = as_si(v, self.parameters[k].dim, k)
            if np.ndim(val) > 0:
                val = np.asarray(val, dtype=np.float64)
                if val.shape != (n,):
                    raise ModelDefinitionError(
                        f"parameter {k!r}: {val.size} values for {n} neurons")
            out[k] = val
        return out

    # ----------------------------------------------------------------- serialisation
    def to_dict(self):
        """A JSON-ready description (see :func:`neuromod.backends.save`)."""
        return {
            "name": self.name, "equations": self.equations,
            "parameters": {k: {"value": p.value, "unit": p.unit, "doc": p.doc}
                           for k, p in self.parameters.items()},
            "threshold": self.threshold, "reset": self.reset,
            "refractory": self.refractory, "inputs": list(self.inputs),
            "ports": {k: {"code": p.code, "unit": p.unit} for k, p in self.ports.items()},
            "init": dict(self.init), "method": self.method,
            "surrogate_scale": self.surrogate_scale, "description": self.description,
        }

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict`."""
        params = {k: (v["value"], v["unit"], v.get("doc", "")) for k, v in d["parameters"].items()}
        ports = {k: (v["code"], v["unit"]) for k, v in d.get("ports", {}).items()}
        return cls(d["name"], d["equations"], params, threshold=d.get("threshold"),
                   reset=d.get("reset"), refractory=d.get("refractory", 0.0),
                   inputs=d.get("inputs", ()), ports=ports, init=d.get("init"),
                   method=d.get("method", "exact"),
                   surrogate_scale=d.get("surrogate_scale", "1"),
                   description=d.get("description", ""))

    def __eq__(self, other):
        return isinstance(other, NeuronModel) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash((self.name, self.equations))

    def __repr__(self):
        return f"NeuronModel({self.name!r}, states={self.states}, method={self.method!r})"

    @property
    def analysis(self):
        """The sympy analysis of the equations (computed once, see :func:`analyse`).

        It is also kept on disk (:func:`cached_analysis`), so that later processes
        skip the symbolic simplification."""
        a = self.__dict__.get("_analysis")
        if a is None:
            a = self.__dict__["_analysis"] = cached_analysis(self)
        return a


# =============================================================================== analysis
@dataclass
class Analysis:
    """What the Torch backend needs, derived from the equations by sympy.

    Attributes
    ----------
    states : list of str
    refractory_states : set of str
        Variables flagged ``(unless refractory)``.
    symbols : dict of str to sympy.Symbol
    rhs : dict of str to sympy.Expr
        Right-hand side of each state, subexpressions substituted.
    subexpressions : dict of str to sympy.Expr
        Fully substituted.
    A : dict of (str, str) to sympy.Expr
        ``exact`` only: non-zero entries ``d rhs_i / d x_j`` (parameters only).
    c : dict of str to sympy.Expr
        ``exact`` only: ``rhs_i`` at ``x = 0`` (parameters and inputs).
    expeuler : dict of str to (a, b)
        ``exponential_euler`` only: ``rhs_i = a x_i + b``.
    threshold : sympy.Expr or None
        Signed distance to threshold, > 0 means spike (``lhs - rhs`` for ``>``).
    threshold_strict : bool
    reset : list of (str, str, sympy.Expr)
    ports : dict of str to list of (str, sympy.Expr)
        Per port: (target state, coefficient of ``w``).
    init : dict of str to sympy.Expr
    surrogate_scale : sympy.Expr
    """
    states: list
    refractory_states: set
    symbols: dict
    rhs: dict
    subexpressions: dict
    A: dict
    c: dict
    expeuler: dict
    threshold: object
    threshold_strict: bool
    reset: list
    ports: dict
    init: dict
    surrogate_scale: object


def analyse(model):
    """Derive the symbolic pieces of the update from the model's equations.

    Raises
    ------
    ModelDefinitionError
        When ``method='exact'`` and the equations are not linear with
        parameter-only coefficients, or ``'exponential_euler'`` and a variable's
        equation is not linear in itself.
    """
    import sympy as sp
    from neuromod.backends.equations import to_sympy
    names = set(model.parameters) | {e.name for e in model.eqs} | {"w"}
    symbols = {n: sp.Symbol(n, real=True) for n in names}
    subs = {}
    for e in model.eqs:  # subexpressions may refer to earlier or later ones
        if e.kind == "sub":
            subs[e.name] = to_sympy(e.expr, symbols)
    # substitute subexpressions into one another until fixed point
    for _ in range(len(subs) + 1):
        changed = False
        for k, v in subs.items():
            nv = v.xreplace({symbols[s]: subs[s] for s in subs if s != k})
            if nv != v:
                subs[k], changed = nv, True
        if not changed:
            break
    else:
        raise ModelDefinitionError(f"model {model.name!r}: circular subexpressions")

    def full(expr_text):
        return to_sympy(expr_text, symbols).xreplace({symbols[s]: subs[s] for s in subs})

    states = model.states
    xs = [symbols[s] for s in states]
    inputs = [symbols[s] for s in model.inputs]
    rhs = {e.name: full(e.expr) for e in model.eqs if e.kind == "diff"}
    refr = {e.name for e in model.eqs if e.kind == "diff" and "unless refractory" in e.flags}
    A, c, ee = {}, {}, {}
    if model.method == "exact":
        zero = {x: 0 for x in xs}
        for si in states:
            f = sp.expand(rhs[si])
            for sj, xj in zip(states, xs):
                a = sp.simplify(sp.diff(f, xj))
                if a.free_symbols & (set(xs) | set(inputs)):
                    raise ModelDefinitionError(
                        f"model {model.name!r}: the equation for {si!r} is not linear with "
                        f"parameter-only coefficients (d/d{sj} = {a}); use method='exponential_euler'")
                if a != 0:
                    A[(si, sj)] = a
            cc = sp.simplify(f.xreplace(zero))
            if cc != 0:
                c[si] = cc
    elif model.method == "exponential_euler":
        for si, x in zip(states, xs):
            f = sp.expand(rhs[si])
            a = sp.simplify(sp.diff(f, x))
            if x in a.free_symbols:
                raise ModelDefinitionError(
                    f"model {model.name!r}: the equation for {si!r} is not linear in {si!r}; "
                    "use method='euler'")
            b = sp.simplify(f.xreplace({x: 0}))
            ee[si] = (a, b)
    thr, strict = None, True
    if model.threshold:
        lhs, op, rhs_t = parse_condition(model.threshold)
        d = full(lhs) - full(rhs_t)
        thr = d if op in (">", ">=") else -d
        strict = op in (">", "<")
    reset = [(t, op, full(ex)) for t, op, ex in parse_statements(model.reset)]
    ports = {}
    w = symbols["w"]
    for pname, port in model.ports.items():
        items = []
        for target, op, ex in parse_statements(port.code):
            e = to_sympy(ex, symbols)
            coef = sp.simplify(sp.diff(e, w))
            if w in coef.free_symbols or sp.simplify(e - coef * w) != 0:
                raise ModelDefinitionError(
                    f"model {model.name!r}: port {pname!r} must be linear in w ({ex!r})")
            items.append((target, -coef if op == "-=" else coef))
        ports[pname] = items
    init = {s: (to_sympy(model.init[s], symbols) if s in model.init else sp.Integer(0))
            for s in states}
    scale = to_sympy(model.surrogate_scale, symbols)
    return Analysis(states, refr, symbols, rhs, subs, A, c, ee, thr, strict, reset, ports,
                    init, scale)


def _reach(states, A):
    """reach[i] = set of j reachable from i in the dependency graph (i included)."""
    idx = {s: k for k, s in enumerate(states)}
    adj = {k: set() for k in range(len(states))}
    for (si, sj) in A:
        adj[idx[si]].add(idx[sj])
    out = {}
    for i in range(len(states)):
        seen, stack = {i}, [i]
        while stack:
            for j in adj[stack.pop()]:
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        out[i] = seen
    return out


@dataclass
class PropagatorStructure:
    """Which coefficients the exact propagator of a model has (see
    :func:`propagator_structure`); indices are positions in ``states``.

    Attributes
    ----------
    has_refractory : bool
    reach : dict of int to set of int
        Variables each row of ``E = e^{A dt}`` can be non-zero in.
    ref_rows : set of int
        Rows whose refractory variant differs (refractory rows and rows reaching them).
    c0 : dict of int to sympy.Expr
        Non-zero constant parts of ``c`` (inputs at 0).
    g : dict of (int, int) to sympy.Expr
        Non-zero ``d c_i / d u_k``.
    linear_inputs : bool
        ``c`` is linear in the inputs (then ``K``/``G`` coefficients, else ``F``).
    fields : list of str
        Names of the coefficients: ``E{variant}_{i}_{j}``, ``K{variant}_{i}``,
        ``G{variant}_{i}_{k}`` or ``F{variant}_{i}_{j}``, variant ``''`` or ``'r'``.
    """
    has_refractory: bool
    reach: dict
    ref_rows: set
    c0: dict
    g: dict
    linear_inputs: bool
    fields: list


def propagator_structure(model):
    """The :class:`PropagatorStructure` of a ``method='exact'`` model (sympy, no torch).

    Shared by the Torch backend (:class:`~neuromod.backends.torch_backend.TorchModel`)
    and the Brian2 backend's exact state updater.
    """
    import sympy as sp
    an = model.analysis
    states = list(an.states)
    m = len(states)
    idx = {s: k for k, s in enumerate(states)}
    has_refractory = bool(an.refractory_states) or model.refractory != 0.0
    reach = _reach(states, an.A)
    refr_idx = {idx[s] for s in an.refractory_states}
    ref_rows = {i for i in range(m) if reach[i] & refr_idx} if has_refractory else set()
    inp_syms = [an.symbols[u] for u in model.inputs]
    c0, g, linear = {}, {}, True
    for s, c in an.c.items():
        i = idx[s]
        c0_i = c.xreplace({u: 0 for u in inp_syms})
        if c0_i != 0:
            c0[i] = c0_i
        for k, u in enumerate(inp_syms):
            g_ik = sp.diff(c, u)
            if g_ik.free_symbols & set(inp_syms):
                linear = False
            if g_ik != 0:
                g[(i, k)] = g_ik
    fields = []
    for variant in ("", "r") if ref_rows else ("",):
        for i in range(m):
            if variant and i not in ref_rows:
                continue
            for j in sorted(reach[i]):
                fields.append(f"E{variant}_{i}_{j}")
            if linear:
                if any(j in c0 for j in reach[i]):
                    fields.append(f"K{variant}_{i}")
                for k in range(len(model.inputs)):
                    if any((j, k) in g for j in reach[i]):
                        fields.append(f"G{variant}_{i}_{k}")
            else:
                for j in sorted(reach[i]):
                    fields.append(f"F{variant}_{i}_{j}")
    return PropagatorStructure(has_refractory, reach, ref_rows, c0, g, linear, fields)


def cache_folder(name):
    """``$NEUROMOD_CACHE/<name>`` (default ``~/.cache/neuromod/<name>``), created if
    needed; ``None`` when it cannot be created."""
    import os
    base = os.environ.get("NEUROMOD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                            "neuromod")
    folder = os.path.join(base, name)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    return folder


def _analysis_key(model):
    """Hash of what :func:`analyse` depends on: the equations and statements (not the
    parameter values), the sympy and Python versions and the source of the modules
    that derive the analysis."""
    import hashlib
    import json
    import sys

    import sympy

    from neuromod.backends import dims, equations
    d = model.to_dict()
    d.pop("description", None)
    d["parameters"] = sorted([k, v["unit"]] for k, v in d["parameters"].items())
    h = hashlib.sha1(json.dumps(d, sort_keys=True).encode())
    h.update(f"{sympy.__version__} {sys.version_info[:2]}".encode())
    for mod in (sys.modules[__name__], equations, dims):
        with open(mod.__file__, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:24]


def cached_analysis(model):
    """:func:`analyse`, kept on disk between processes (``$NEUROMOD_CACHE/analysis``).

    The analysis (sympy expressions) is pickled under a hash of everything it
    depends on (:func:`_analysis_key`), so a changed model, sympy or neuromod
    computes a new one. A missing, unreadable or unwritable cache only costs the
    recomputation.
    """
    import os
    import pickle
    import tempfile
    folder = cache_folder("analysis")
    path = None
    if folder is not None and __name__ == "neuromod.backends.model":
        try:
            path = os.path.join(folder, f"{_analysis_key(model)}.pkl")
            with open(path, "rb") as fh:
                a = pickle.load(fh)
            if isinstance(a, Analysis):
                return a
        except FileNotFoundError:
            pass
        except Exception:  # noqa: BLE001 -- a stale or broken cache file is recomputed
            pass
    a = analyse(model)
    if path is not None:
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    pickle.dump(a, fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except Exception:  # noqa: BLE001 -- e.g. read-only cache: keep the result in memory
            pass
    return a


def refractory_steps(refractory_s, dt):
    """Refractory period in steps, as Brian2 counts it: ``timestep(t_ref, dt)``,
    i.e. ``floor((t_ref + 1e-3 dt) / dt)``. A neuron that spiked at step ``k`` is
    refractory during steps ``k+1 .. k+n-1`` (``n`` = this value).

    Examples
    --------
    >>> int(refractory_steps(0.002, 0.0001))
    20
    """
    return np.floor((np.asarray(refractory_s, dtype=np.float64) + 1e-3 * dt) / dt).astype(np.int64)
