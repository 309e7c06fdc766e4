"""Printers of the time-step representation (:mod:`neuromod.backends.ir`) as Python code.

Two targets share one printer, :class:`PythonPrinter`, and differ only where their
code differs: the Torch target (:data:`TORCH`) prints tensor code over a whole
``(batch, n)`` population -- masked assignments are ``torch.where``, the spike goes
through the surrogate (autograd) -- and the scalar target (:data:`SCALAR`) prints
numba code looping over neurons -- masked assignments are ``if`` statements, the
spike a comparison. Expressions are printed by :func:`print_expr` in a
:class:`Dialect` (function names, ``min``/``max`` forms), so no printer ever edits
code another printed. The fused BPTT kernels and Brian2 print the same programs in
their own modules.

Examples
--------
>>> import sympy
>>> v, tau = sympy.symbols("v tau", real=True)
>>> print_expr(sympy.exp(-v/tau), {"v": "x_v", "tau": "p_tau"}, TORCH_DIALECT)
'torch.exp((-((x_v)*((p_tau)**(-1)))))'
>>> print_expr(sympy.exp(-v/tau), {"v": "x_v", "tau": "p_tau"}, SCALAR_DIALECT)
'math.exp((-((x_v)*((p_tau)**(-1)))))'
"""
import functools
from dataclasses import dataclass
from types import MappingProxyType

from neuromod.backends.equations import ModelDefinitionError
from neuromod.backends.ir import (Commit, Countdown, Euler, ExpEuler, Expr, Input, Map, One,
                                  PortAdd, Propagate, Reset, Spike, State)

__all__ = ["Dialect", "TORCH_DIALECT", "SCALAR_DIALECT", "print_expr", "PythonPrinter",
           "TORCH", "torch_step_source", "scalar_step_source", "evaluate", "torch_function"]


@dataclass(frozen=True)
class Dialect:
    """How one target spells functions: ``functions`` maps sympy function names (and
    ``expm1``) to the target's, ``minimum``/``maximum`` are format strings of
    ``{a}`` and ``{b}``."""
    name: str
    functions: object
    minimum: str
    maximum: str


_FUNCS = ("exp", "expm1", "log", "sqrt", "Abs", "sin", "cos", "tan", "sinh", "cosh", "tanh",
          "atan")
TORCH_DIALECT = Dialect("torch", MappingProxyType(
    {f: "torch.abs" if f == "Abs" else f"torch.{f}" for f in _FUNCS}),
    "torch.minimum(_t({a}), _t({b}))", "torch.maximum(_t({a}), _t({b}))")
SCALAR_DIALECT = Dialect("scalar", MappingProxyType(
    {f: "abs" if f == "Abs" else f"math.{f}" for f in _FUNCS}),
    "min({a}, ({b}))", "max({a}, ({b}))")


def print_expr(expr, names, dialect):
    """Python source of a sympy expression in ``dialect``; ``names`` maps symbol names
    to identifiers. Every product and power is parenthesised, so the evaluation
    order is the same in every dialect.

    Raises
    ------
    ModelDefinitionError
        For a node no target prints.
    """
    import sympy as sp
    fn = dialect.functions

    def pr(e):
        if e.is_number:
            return repr(float(e))
        if isinstance(e, sp.Symbol):
            return names[e.name]
        if isinstance(e, sp.Add):
            return "(" + " + ".join(pr(a) for a in e.args) + ")"
        if isinstance(e, sp.Mul):
            coeff, rest = e.as_coeff_Mul()
            if coeff == -1:
                return "(-" + pr(rest) + ")"
            return "(" + "*".join(f"({pr(a)})" if not a.is_number else pr(a)
                                  for a in e.args) + ")"
        if isinstance(e, sp.Pow):
            b, x = e.args
            if x == sp.Rational(1, 2):
                return f"{fn['sqrt']}({pr(b)})"
            if x.is_number:
                xf = float(x)
                xs = str(int(xf)) if xf == int(xf) else repr(xf)
                return f"({pr(b)})**({xs})"
            return f"({pr(b)})**({pr(x)})"
        if isinstance(e, sp.Min) and len(e.args) == 2:
            return dialect.minimum.format(a=pr(e.args[0]), b=pr(e.args[1]))
        if isinstance(e, sp.Max) and len(e.args) == 2:
            return dialect.maximum.format(a=pr(e.args[0]), b=pr(e.args[1]))
        name = type(e).__name__
        if name in fn and len(e.args) == 1 and type(e) is getattr(sp, name):
            return f"{fn[name]}({pr(e.args[0])})"
        raise ModelDefinitionError(f"cannot generate {dialect.name} code for {e}")

    return pr(expr)


class PythonPrinter:
    """Prints a :class:`~neuromod.backends.ir.Program` as the Python source of two
    functions, ``advance`` and ``finish``. Subclasses say how values are loaded and
    stored and how a masked assignment and the spike are written."""
    dialect = None
    indent = "    "
    decorator = ""
    advance_signature = ""
    finish_signature = ""

    # --------------------------------------------------------------- target hooks
    def prologue(self, cm, program, a, finish):
        """Lines binding states, parameters, inputs (and coefficients) to locals."""
        raise NotImplementedError

    def coefficient(self, position):
        raise NotImplementedError

    def select(self, a, name, value_active, value_refractory):
        """``name = value_active`` where active, else ``value_refractory``."""
        raise NotImplementedError

    def hold(self, a, name, old):
        """``name = old`` where the neuron is refractory."""
        raise NotImplementedError

    def spike(self, a, cm, op):
        raise NotImplementedError

    def no_spike(self, a, cm):
        raise NotImplementedError

    def end_advance(self, a, cm):
        raise NotImplementedError

    def port_add(self, a, op, target, inc):
        raise NotImplementedError

    def port_weight(self, k):
        raise NotImplementedError

    def reset(self, a, cm, resets):
        raise NotImplementedError

    def end_finish(self, a, cm):
        raise NotImplementedError

    # --------------------------------------------------------------- shared printing
    def expr(self, cm, e):
        return print_expr(e, cm.names, self.dialect)

    def term(self, cm, term):
        op = term.operand
        if isinstance(op, State):
            operand = cm.names[cm.states[op.index]]
        elif isinstance(op, Input):
            operand = cm.names[cm.inputs[op.index]]
        elif isinstance(op, One):
            return self.coefficient(term.coefficient)
        elif isinstance(op, Expr):
            operand = self.expr(cm, op.expr)
        else:
            raise TypeError(op)
        return f"{self.coefficient(term.coefficient)}*{operand}"

    def sum(self, cm, terms):
        return " + ".join(self.term(cm, t) for t in terms) if terms else "0.0"

    def print(self, cm, program):
        """The source (a string) of ``advance`` and ``finish``."""
        L = []
        a = L.append
        I = self.indent
        a(self.decorator)
        a(self.advance_signature)
        self.prologue(cm, program, a, False)
        for op in program.advance:
            if isinstance(op, Countdown):
                continue            # in the prologue: every path needs ``active``
            if isinstance(op, Propagate):
                s = cm.states[op.target]
                new = self.sum(cm, op.terms)
                if op.frozen:
                    self.select(a, f"n_{s}", new, f"x_{s}")
                elif op.refractory is not None:
                    self.select(a, f"n_{s}", new, self.sum(cm, op.refractory))
                else:
                    a(f"{I}n_{s} = {new}")
            elif isinstance(op, ExpEuler):
                s = cm.states[op.target]
                if op.a == 0:
                    a(f"{I}n_{s} = x_{s} + dt*({self.expr(cm, op.b)})")
                else:
                    a(f"{I}_a = {self.expr(cm, op.a)}")
                    a(f"{I}_b = {self.expr(cm, op.b)}")
                    a(f"{I}_e = {self.dialect.functions['expm1']}(_a*dt)")
                    a(f"{I}n_{s} = x_{s} + (x_{s} + _b/_a)*_e")
                if op.masked:
                    self.hold(a, f"n_{s}", f"x_{s}")
            elif isinstance(op, Euler):
                s = cm.states[op.target]
                a(f"{I}n_{s} = x_{s} + dt*({self.expr(cm, op.rhs)})")
                if op.masked:
                    self.hold(a, f"n_{s}", f"x_{s}")
            elif isinstance(op, Map):
                s = cm.states[op.target]
                a(f"{I}n_{s} = {self.map_value(s, self.expr(cm, op.value))}")
                if op.masked:
                    self.hold(a, f"n_{s}", f"x_{s}")
            elif isinstance(op, Commit):
                self.commit(a, cm)
            elif isinstance(op, Spike):
                self.spike(a, cm, op)
            else:
                raise TypeError(f"{type(self).__name__} cannot print {op!r}")
        if not any(isinstance(op, Spike) for op in program.advance):
            self.no_spike(a, cm)
        self.end_advance(a, cm)
        a("")
        a(self.decorator)
        a(self.finish_signature)
        self.prologue(cm, program, a, True)
        resets = []
        for op in program.finish:
            if isinstance(op, PortAdd):
                s = cm.states[op.target]
                w = self.port_weight(op.port)
                inc = w if op.coefficient == 1 else f"({self.expr(cm, op.coefficient)})*{w}"
                self.port_add(a, op, f"x_{s}", inc)
            elif isinstance(op, Reset):
                resets.append(op)
            else:
                raise TypeError(f"{type(self).__name__} cannot print {op!r}")
        if resets:
            self.reset(a, cm, resets)
        self.end_finish(a, cm)
        return "\n".join(L) + "\n"

    def commit(self, a, cm):
        for s in cm.states:
            a(f"{self.indent}x_{s} = n_{s}")

    def map_value(self, s, value):
        """The new value of state ``s`` from a map's expression ``value``."""
        return value


_OPS = {"+=": "+", "-=": "-", "*=": "*", "/=": "/"}


class TorchPrinter(PythonPrinter):
    """Tensor code over a ``(batch, n)`` population (eager Torch, autograd)."""
    dialect = TORCH_DIALECT
    advance_signature = "def advance(S, P, C, U, surrogate, R=None, step=0):"
    finish_signature = "def finish(S, spike, active, P, C, U, W):"

    def prologue(self, cm, program, a, finish):
        for s in cm.states:
            a(f"    x_{s} = S.{s}")
        for p in cm.params:
            a(f"    p_{p} = P.{p}")
        for k, u in enumerate(cm.inputs):
            a(f"    u_{u} = U[{k}]" if program.inputs[k] else f"    u_{u} = 0.0")
        if finish:
            return
        if cm.uses_time:
            a("    t_in_timesteps = step")
            a("    t = step*dt")
        if len(cm.layout):
            a("    _c = C.prop")
        if cm.has_refractory:
            a("    refrac = S.refrac - 1")
            a("    active = refrac <= 0")
        else:
            a("    refrac = S.refrac")
            a("    active = None")

    def coefficient(self, position):
        return f"_c[{position}]"

    def map_value(self, s, value):
        # a map may not read the state (b = t): keep the (batch, n) shape
        return f"torch.zeros_like(x_{s}) + ({value})"

    def select(self, a, name, value_active, value_refractory):
        a(f"    {name} = torch.where(active, {value_active}, {value_refractory})")

    def hold(self, a, name, old):
        a(f"    {name} = torch.where(active, {name}, {old})")

    def spike(self, a, cm, op):
        a(f"    _d = {self.expr(cm, op.distance)}")
        if op.noise:
            a(f"    spike = _noise_{op.noise}.spike(_d / C.scale, R)")
        else:
            a(f"    spike = surrogate(_d / C.scale, {op.strict})")
        if op.refractory:
            a("    spike = spike * active")
            a("    fired = spike > 0")
            a("    refrac = torch.where(fired, C.ref_steps, refrac)")
            a("    active = active & ~fired")

    def no_spike(self, a, cm):
        a(f"    spike = torch.zeros_like(x_{cm.states[0]})")

    def end_advance(self, a, cm):
        a(f"    return S.__class__({', '.join('x_' + s for s in cm.states)}, refrac), spike, active")

    def port_weight(self, k):
        return f"W[{k}]"

    def port_add(self, a, op, x, inc):
        if op.masked:
            a(f"    {x} = torch.where(active, {x} + {inc}, {x})")
        else:
            a(f"    {x} = {x} + {inc}")

    def reset(self, a, cm, resets):
        a("    fired = spike > 0")
        if not resets[0].detach:
            a("    _sg = spike - spike.detach()")
        for op in resets:
            x = f"x_{cm.states[op.target]}"
            value = self.expr(cm, op.value)
            a(f"    _r = {value}" if op.op == "=" else f"    _r = {x} {_OPS[op.op]} ({value})")
            a(f"    _n = torch.where(fired, _r, {x})")
            if not op.detach:
                a(f"    _n = _n + _sg*(_r - {x})")
            a(f"    {x} = _n")

    def end_finish(self, a, cm):
        a(f"    return S.__class__({', '.join('x_' + s for s in cm.states)}, S.refrac)")


class ScalarPrinter(PythonPrinter):
    """numba code looping over the neurons of a population (the fused network
    simulator): arrays ``X`` (states x n), ``R`` (refractory counters), ``P``
    (parameters x n), ``C`` (coefficients x n, in layout order), ``U`` (inputs x n),
    ``W`` (port sums x n), ``spk``/``act`` (per-neuron flags), ``RND`` (the step's
    uniform variates of Bernoulli firing, n), ``K`` (the step index)."""
    dialect = SCALAR_DIALECT
    indent = "        "
    advance_signature = "def advance(X, R, P, C, REF, U, spk, act, RND, K):"

    def __init__(self, decorator=""):
        self.decorator = decorator
    finish_signature = "def finish(X, P, C, U, W, spk, act):"

    def prologue(self, cm, program, a, finish):
        I = self.indent
        a("    for j in range(X.shape[1]):")
        for i, s in enumerate(cm.states):
            a(f"{I}x_{s} = X[{i}, j]")
        for k, p in enumerate(cm.params):
            a(f"{I}p_{p} = P[{k}, j]")
        for k, u in enumerate(cm.inputs):
            a(f"{I}u_{u} = U[{k}, j]" if program.inputs[k] else f"{I}u_{u} = 0.0")
        if finish:
            return
        if cm.uses_time:
            a(f"{I}t_in_timesteps = K")
            a(f"{I}t = K*dt")
        if cm.has_refractory:
            a(f"{I}refrac = R[j] - 1")
            a(f"{I}active = refrac <= 0")
        else:
            a(f"{I}refrac = R[j]")
            a(f"{I}active = True")

    def coefficient(self, position):
        return f"C[{position}, j]"

    def select(self, a, name, value_active, value_refractory):
        a(f"{self.indent}{name} = ({value_active}) if active else ({value_refractory})")

    def hold(self, a, name, old):
        a(f"{self.indent}if not active:")
        a(f"{self.indent}    {name} = {old}")

    def commit(self, a, cm):
        for i, s in enumerate(cm.states):
            a(f"{self.indent}X[{i}, j] = n_{s}")
        super().commit(a, cm)

    def spike(self, a, cm, op):
        a(f"{self.indent}_d = {self.expr(cm, op.distance)}")
        if op.noise:
            from neuromod.backends.noise import family
            scale = self.expr(cm, cm.scale)
            a(f"{self.indent}z = _d / ({scale})")
            a(f"{self.indent}fired = active and RND[j] < {family(op.noise).py_cdf}")
        else:
            a(f"{self.indent}fired = active and _d {'>' if op.strict else '>='} 0.0")

    def no_spike(self, a, cm):
        a(f"{self.indent}fired = False")

    def end_advance(self, a, cm):
        I = self.indent
        a(f"{I}if fired:")
        a(f"{I}    refrac = REF[j]" if cm.has_refractory else f"{I}    pass")
        a(f"{I}    active = False")
        a(f"{I}R[j] = refrac")
        a(f"{I}spk[j] = fired")
        a(f"{I}act[j] = active")

    def port_weight(self, k):
        return f"W[{k}, j]"

    def port_add(self, a, op, x, inc):
        I = self.indent
        if op.masked:
            a(f"{I}if act[j]:")
            a(f"{I}    {x} = {x} + {inc}")
        else:
            a(f"{I}{x} = {x} + {inc}")

    def reset(self, a, cm, resets):
        I = self.indent
        a(f"{I}if spk[j]:")
        for op in resets:
            x = f"x_{cm.states[op.target]}"
            value = self.expr(cm, op.value)
            a(f"{I}    {x} = {value}" if op.op == "=" else f"{I}    {x} = {x} {_OPS[op.op]} ({value})")

    def end_finish(self, a, cm):
        for i, s in enumerate(cm.states):
            a(f"{self.indent}X[{i}, j] = x_{s}")


TORCH = TorchPrinter()


def torch_step_source(cm, program):
    """Source of the Torch ``advance``/``finish`` pair of ``program``."""
    return TORCH.print(cm, program)


def scalar_step_source(cm, program, dt):
    """Source of a numba module with the scalar ``advance``/``finish`` kernels of
    ``program`` (``dt`` a module constant)."""
    from neuromod.runtime import numba_cache
    printer = ScalarPrinter(f"@njit(cache={numba_cache()}, nogil=True, error_model='numpy')")
    return "\n".join(["import math", "from numba import njit", "", f"dt = {float(dt)!r}", "",
                      "", printer.print(cm, program)])


@functools.lru_cache(maxsize=512)
def _compiled_expr(source):
    return compile(source, "<neuromod expression>", "eval")


def evaluate(expr, names, namespace):
    """Value of a sympy expression printed in the Torch dialect, with ``namespace``
    binding the identifiers of ``names`` (compiled once per expression)."""
    import torch
    ns = {"torch": torch, "_t": _tensor}
    ns.update(namespace)
    return eval(_compiled_expr(print_expr(expr, names, TORCH_DIALECT)), ns)  # noqa: S307


def torch_function(expr, arg):
    """A Torch function of one tensor: the sympy expression ``expr`` in the symbol named
    ``arg``, printed in the Torch dialect once.

    Examples
    --------
    >>> import sympy, torch
    >>> x = sympy.Symbol("x")
    >>> torch_function(sympy.Max(x, 0), "x")(torch.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    import torch
    code = _compiled_expr(print_expr(expr, {arg: arg}, TORCH_DIALECT))

    def f(value):
        return eval(code, {"torch": torch, "_t": _tensor, arg: value})  # noqa: S307
    return f


def _tensor(x):
    import torch
    return x if isinstance(x, torch.Tensor) else torch.tensor(x)
