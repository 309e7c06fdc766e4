"""One representation of a time step, from which every backend prints its code.

A :class:`~neuromod.backends.model.NeuronModel` is compiled once into a frozen
:class:`CompiledModel`: its state, parameter, input and port names, the sympy pieces
of its update (from :func:`~neuromod.backends.model.analyse`) and, for exactly
integrated models, the :class:`Layout` of the propagator's coefficients -- a tuple of
:class:`Coefficient` entries addressed by position, never by a parsed name. From it,
:meth:`CompiledModel.program` lowers one time step, for a given set of driven
inputs and used ports, to a :class:`Program`: a typed list of operations in
Brian2's schedule order::

    advance:  Countdown                      refrac -= 1; active = refrac <= 0
              Propagate / ExpEuler / Euler   n_i = new value of state i (old values read)
              / Map
              Commit                         x_i = n_i
              Spike                          spike = H(d / scale) (and active); refractory set
    finish:   PortAdd                        x_i += coef * w_port (masked when refractory)
              Reset                          x_i = r, x_i += r ... where the neuron spiked

The printers turn a program into each target's code: Torch tensor code and numba
scalar code (:mod:`neuromod.backends.printers`), the fused layer's forward and BPTT
kernels (:mod:`neuromod.backends.fused`) and Brian2 abstract code
(:mod:`neuromod.backends.brian2_backend`). Expressions inside operations are sympy
expressions over the model's symbols; each printer prints them in its own dialect
(:func:`neuromod.backends.printers.print_expr`). ``docs/backends.md`` shows the
program of the LIF model and the code each target prints from it.

Examples
--------
>>> from neuromod.neurons import lif
>>> cm = compile_model(lif())
>>> cm.states
('v', 'I_e', 'I_i')
>>> [type(op).__name__ for op in cm.program(has_inputs=(True,)).advance]
['Countdown', 'Propagate', 'Propagate', 'Propagate', 'Commit', 'Spike']
>>> cm.layout.position("E", 0, 0)
0
"""
import functools
import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Optional

__all__ = ["Coefficient", "Layout", "State", "Input", "One", "Expr", "Term", "Countdown",
           "Propagate", "ExpEuler", "Euler", "Map", "Commit", "Spike", "PortAdd", "Reset", "Program",
           "CompiledModel", "compile_model", "code_names"]


# ============================================================================ layout
@dataclass(frozen=True)
class Coefficient:
    """One coefficient of the exact propagator ``x' = E x + K + G u`` (or ``E x + F c``),
    or of an affine discrete-time map ``x' = E x + K + G u``.

    Attributes
    ----------
    kind : {'E', 'K', 'G', 'F'}
        ``E[row, col]``: state ``col`` -> state ``row``; ``K[row]``: the constant
        forcing; ``G[row, col]``: input ``col`` (held over the step); ``F[row, col]``:
        the forcing ``c_col(inputs)`` of a model not linear in its inputs.
    refractory : bool
        The variant used while the neuron is refractory (frozen rows).
    row, col : int
        Positions in the state (and input) order; ``col = -1`` for ``K``.
    """
    kind: str
    refractory: bool
    row: int
    col: int = -1


@dataclass(frozen=True)
class Layout:
    """The propagator's coefficients, in the order the backends store them.

    A backend holds the values as one sequence (a tuple of tensors, the rows of an
    array) in this order; code refers to an entry by its :meth:`position`.
    """
    entries: tuple = ()

    def position(self, kind: str, row: int, col: int = -1, refractory: bool = False
                 ) -> Optional[int]:
        """Index of a coefficient, or None when the model has no such (structurally
        non-zero) coefficient."""
        try:
            return self.entries.index(Coefficient(kind, bool(refractory), row, col))
        except ValueError:
            return None

    def __len__(self):
        return len(self.entries)


# ============================================================================ operands
@dataclass(frozen=True)
class State:
    """Operand: the value of state ``index`` at the start of the step."""
    index: int


@dataclass(frozen=True)
class Input:
    """Operand: input ``index`` (held over the step)."""
    index: int


@dataclass(frozen=True)
class One:
    """Operand: the constant 1 (a ``K`` term)."""


@dataclass(frozen=True)
class Expr:
    """Operand: a sympy expression of states, parameters and inputs (an ``F`` term)."""
    expr: object


@dataclass(frozen=True)
class Term:
    """``coefficient[position] * operand``."""
    coefficient: int
    operand: object


# ============================================================================ operations
@dataclass(frozen=True)
class Countdown:
    """``refrac -= 1; active = refrac <= 0`` (models with refractoriness only)."""


@dataclass(frozen=True)
class Propagate:
    """``n_target = sum(terms)``; where the neuron is refractory ``sum(refractory)``,
    or the unchanged value when ``frozen`` (``refractory`` None and not frozen: the
    same in both cases)."""
    target: int
    terms: tuple
    refractory: Optional[tuple] = None
    frozen: bool = False


@dataclass(frozen=True)
class ExpEuler:
    """``n = x + (x + b/a) expm1(a dt)`` for ``dx/dt = a x + b`` (``x + dt b`` when
    ``a`` is 0); unchanged while refractory when ``masked``."""
    target: int
    a: object
    b: object
    masked: bool


@dataclass(frozen=True)
class Euler:
    """``n = x + dt rhs``; unchanged while refractory when ``masked``."""
    target: int
    rhs: object
    masked: bool


@dataclass(frozen=True)
class Map:
    """``n = value`` (a discrete-time model's map, not affine in the states and
    inputs); unchanged while refractory when ``masked``."""
    target: int
    value: object
    masked: bool


@dataclass(frozen=True)
class Commit:
    """``x_i = n_i`` for every state: the update above read the old values only."""


@dataclass(frozen=True)
class Spike:
    """``spike = H(distance / scale)`` (``> 0`` when ``strict``, else ``>= 0``), with the
    chosen surrogate gradient; or, when ``noise`` names a noise family (Bernoulli
    firing, ``scale`` its standard deviation), ``spike = r < F(distance / scale)``
    with ``r`` the step's uniform variate and the density ``f`` as gradient. With
    refractoriness also ``spike *= active``, spiking neurons get ``refrac =
    ref_steps`` and ``active`` becomes false for them."""
    distance: object
    strict: bool
    refractory: bool
    noise: Optional[str] = None


@dataclass(frozen=True)
class PortAdd:
    """``x_target += coefficient * w_port``; skipped where the neuron is refractory or
    just spiked when ``masked`` (Brian2's conditional write on ``(unless refractory)``
    variables)."""
    port: int
    target: int
    coefficient: object
    masked: bool


@dataclass(frozen=True)
class Reset:
    """Reset statement ``x_target <op> value`` applied where the neuron spiked
    (``op`` one of ``= += -= *= /=``); ``detach``: no gradient through the reset."""
    target: int
    op: str
    value: object
    detach: bool


@dataclass(frozen=True)
class Program:
    """One time step: ``advance`` (update and threshold), then -- after the network
    has propagated the step's spikes -- ``finish`` (ports and resets).

    ``inputs`` and ``ports`` say which inputs are driven (the others read 0) and
    which ports receive spikes."""
    advance: tuple
    finish: tuple
    inputs: tuple
    ports: tuple


# ============================================================================ compiled model
def code_names(states, params, inputs):
    """Symbol name -> identifier in generated code: ``x_<state>``, ``p_<parameter>``,
    ``u_<input>`` (one convention for every printer); the clock's ``dt``, ``t`` and
    ``t_in_timesteps`` keep their names."""
    names = {"dt": "dt", "t": "t", "t_in_timesteps": "t_in_timesteps"}
    names.update({s: f"x_{s}" for s in states})
    names.update({p: f"p_{p}" for p in params})
    names.update({u: f"u_{u}" for u in inputs})
    return MappingProxyType(names)


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """A model compiled for the printers (see the module docstring); read-only.

    Attributes
    ----------
    model : NeuronModel
    states, params, inputs, ports : tuple of str
    method : str
    names : mapping
        Symbol name -> identifier in generated code (:func:`code_names`).
    symbols : mapping
        Symbol name -> sympy symbol.
    has_refractory : bool
    refractory_rows : frozenset of int
        States flagged ``(unless refractory)``.
    reach : tuple of frozenset
        ``exact``: the states each row of ``E`` can be non-zero in (for an affine
        ``map``: the states row ``i`` reads).
    ref_rows : frozenset of int
        ``exact``: rows whose refractory variant differs (``map``: the held rows).
    linear_inputs : bool
        ``exact``: the forcing is linear in the inputs (``K``, ``G``), else ``F``;
        ``map``: the map is affine in states and inputs (``E``, ``K``, ``G``), else
        it is printed as it is (:class:`Map`).
    layout : Layout
        ``exact`` and affine ``map``: the coefficients.
    constant_forcing, input_forcing : mapping
        ``exact``: non-zero ``c_i`` at zero input (state index -> sympy) and
        ``d c_i / d u_k`` ((state, input) -> sympy); affine ``map``: ``K_i`` and
        ``G_ik`` themselves.
    A : mapping
        ``exact``: non-zero ``d rhs_i / d x_j`` ((i, j) -> sympy, parameters only);
        affine ``map``: ``E_ij`` (parameters and ``dt``).
    forcing : mapping
        ``exact``: ``c_i`` (state index -> sympy, parameters and inputs).
    threshold : sympy expression or None
        Signed distance to threshold, > 0 (or >= 0 when not ``strict``) is a spike.
    strict : bool
    scale : sympy expression
        Surrogate scale (parameters only); for Bernoulli firing the noise's standard
        deviation.
    noise : str or None
        The noise family of Bernoulli firing (None: the Heaviside threshold).
    uses_time : bool
        A discrete-time map reads ``t`` or ``t_in_timesteps``: the printers bind
        them from the step index (and the map is not affine).
    resets : tuple of (int, str, sympy)
    port_terms : tuple of tuple of (int, sympy)
        Per port (in ``ports`` order): (target state, coefficient of ``w``).
    init : tuple of sympy
        Initial value of each state (parameters only).
    subexpressions : mapping
        Name -> sympy expression (states, parameters, inputs).
    analysis : Analysis
        The symbolic analysis this was built from.
    """
    model: object
    states: tuple
    params: tuple
    inputs: tuple
    ports: tuple
    method: str
    names: object
    symbols: object
    has_refractory: bool
    refractory_rows: frozenset
    reach: tuple
    ref_rows: frozenset
    linear_inputs: bool
    layout: Layout
    constant_forcing: object
    input_forcing: object
    A: object
    forcing: object
    threshold: object
    strict: bool
    scale: object
    resets: tuple
    port_terms: tuple
    init: tuple
    subexpressions: object
    analysis: object
    noise: Optional[str] = None
    uses_time: bool = False

    # ------------------------------------------------------------------ lowering
    def program(self, has_inputs=None, has_ports=None, detach_reset=True) -> Program:
        """Lower one time step to a :class:`Program`.

        Parameters
        ----------
        has_inputs : sequence of bool, optional
            Which inputs are driven (default none; undriven inputs read 0).
        has_ports : sequence of bool, optional
            Which ports receive spikes (default none).
        detach_reset : bool
            No gradient through the reset statements.
        """
        has_inputs = tuple(bool(x) for x in (has_inputs or (False,) * len(self.inputs)))
        has_ports = tuple(bool(x) for x in (has_ports or (False,) * len(self.ports)))
        return _program(self, has_inputs, has_ports, bool(detach_reset))

    def threshold_affine(self):
        """``(a, b)`` with the threshold distance ``d = sum_i a[i] x_i + b``, ``a`` and
        ``b`` sympy expressions of the parameters alone; None when the distance is
        not of that form (it depends on an input, or non-linearly on a state)."""
        if self.threshold is None:
            return None
        xs = [self.symbols[s] for s in self.states]
        others = set(xs) | {self.symbols[u] for u in self.inputs}
        a = tuple(self.threshold.diff(x) for x in xs)
        if any(ai.free_symbols & others for ai in a):
            return None
        b = self.threshold.xreplace({x: 0 for x in xs})
        if b.free_symbols & others:
            return None
        return a, b


def _program(cm, has_inputs, has_ports, detach):
    adv = []
    if cm.has_refractory:
        adv.append(Countdown())
    refr = cm.refractory_rows
    if cm.method == "exact":
        for i in range(len(cm.states)):
            normal = _terms(cm, i, False, has_inputs)
            if i not in cm.ref_rows:
                adv.append(Propagate(i, normal))
            elif i in refr:
                adv.append(Propagate(i, normal, None, True))
            else:
                adv.append(Propagate(i, normal, _terms(cm, i, True, has_inputs)))
    elif cm.method == "exponential_euler":
        for i, s in enumerate(cm.states):
            a, b = cm.analysis.expeuler[s]
            adv.append(ExpEuler(i, a, b, i in refr))
    elif cm.method == "map":
        for i, s in enumerate(cm.states):
            held = i in refr and cm.has_refractory
            if cm.linear_inputs:
                adv.append(Propagate(i, _terms(cm, i, False, has_inputs), None, held))
            else:
                undriven = {cm.symbols[u]: 0 for k, u in enumerate(cm.inputs) if not has_inputs[k]}
                adv.append(Map(i, cm.analysis.rhs[s].xreplace(undriven), held))
    else:
        for i, s in enumerate(cm.states):
            adv.append(Euler(i, cm.analysis.rhs[s], i in refr))
    adv.append(Commit())
    if cm.threshold is not None:
        adv.append(Spike(cm.threshold, cm.strict, cm.has_refractory, cm.noise))
    fin = []
    for k, terms in enumerate(cm.port_terms):
        if has_ports[k]:
            for target, coef in terms:
                fin.append(PortAdd(k, target, coef, target in refr and cm.has_refractory))
    for target, op, value in cm.resets:
        fin.append(Reset(target, op, value, detach))
    return Program(tuple(adv), tuple(fin), has_inputs, has_ports)


def _terms(cm, i, refractory, has_inputs):
    """The terms of row ``i`` of the exact propagator (variant ``refractory``)."""
    pos = cm.layout.position
    reach = sorted(cm.reach[i])
    terms = [Term(pos("E", i, j, refractory), State(j)) for j in reach]
    if cm.linear_inputs:
        k_pos = pos("K", i, -1, refractory)
        if k_pos is not None:
            terms.append(Term(k_pos, One()))
        for k in range(len(cm.inputs)):
            g_pos = pos("G", i, k, refractory)
            if has_inputs[k] and g_pos is not None:
                terms.append(Term(g_pos, Input(k)))
    else:
        for j in reach:
            if j in cm.forcing and not (refractory and j in cm.refractory_rows):
                terms.append(Term(pos("F", i, j, refractory), Expr(cm.forcing[j])))
    return tuple(terms)


def _reach(m, A):
    """reach[i] = the states reachable from i in the dependency graph of ``A`` (i included)."""
    adj = {k: set() for k in range(m)}
    for (i, j) in A:
        adj[i].add(j)
    out = []
    for i in range(m):
        seen, stack = {i}, [i]
        while stack:
            for j in adj[stack.pop()]:
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        out.append(frozenset(seen))
    return tuple(out)


def _affine_map(an, states, inputs):
    """``(E, K, G, affine)`` of a discrete map ``x' = f(x, u)``: ``E_ij = df_i/dx_j``,
    ``K_i = f_i(0, 0)``, ``G_ik = df_i/du_k`` (non-zero entries, by index), all free
    of states and inputs when ``affine``; empty when not."""
    import sympy as sp
    xs = [an.symbols[s] for s in states]
    us = [an.symbols[u] for u in inputs]
    clock = {an.symbols["t"], an.symbols["t_in_timesteps"]}
    dynamic = set(xs) | set(us) | clock
    E, K, G = {}, {}, {}
    for i, s in enumerate(states):
        f = sp.expand(an.rhs[s])
        if f.free_symbols & clock:
            return {}, {}, {}, False        # coefficients that change from step to step
        for j, x in enumerate(xs):
            e = sp.simplify(sp.diff(f, x))
            if e.free_symbols & dynamic:
                return {}, {}, {}, False
            if e != 0:
                E[(i, j)] = e
        for k, u in enumerate(us):
            e = sp.simplify(sp.diff(f, u))
            if e.free_symbols & dynamic:
                return {}, {}, {}, False
            if e != 0:
                G[(i, k)] = e
        k0 = sp.simplify(f.xreplace({x: 0 for x in dynamic}))
        if k0 != 0:
            K[i] = k0
    return E, K, G, True


def _build(model):
    import sympy as sp
    an = model.analysis
    states = tuple(an.states)
    idx = {s: k for k, s in enumerate(states)}
    m = len(states)
    has_refractory = bool(an.refractory_states) or model.refractory != 0.0
    refr = frozenset(idx[s] for s in an.refractory_states)
    reach, ref_rows, linear, entries = (), frozenset(), True, []
    A = {(idx[si], idx[sj]): v for (si, sj), v in an.A.items()}
    forcing = {idx[s]: v for s, v in an.c.items()}
    c0, g = {}, {}
    if model.method == "map":
        A, c0, g, linear = _affine_map(an, states, model.inputs)
        reach = tuple(frozenset(j for (r, j) in A if r == i) for i in range(m))
        ref_rows = refr if has_refractory else frozenset()
        for i in range(m) if linear else ():
            entries += [Coefficient("E", False, i, j) for j in sorted(reach[i])]
            if i in c0:
                entries.append(Coefficient("K", False, i))
            entries += [Coefficient("G", False, i, k) for k in range(len(model.inputs))
                        if (i, k) in g]
    elif model.method == "exact":
        reach = _reach(m, A)
        if has_refractory:
            ref_rows = frozenset(i for i in range(m) if reach[i] & refr)
        inp = [an.symbols[u] for u in model.inputs]
        for i, c in forcing.items():
            c0_i = c.xreplace({u: 0 for u in inp})
            if c0_i != 0:
                c0[i] = c0_i
            for k, u in enumerate(inp):
                g_ik = sp.diff(c, u)
                if g_ik.free_symbols & set(inp):
                    linear = False
                if g_ik != 0:
                    g[(i, k)] = g_ik
        for refractory in (False, True) if ref_rows else (False,):
            for i in range(m):
                if refractory and (i not in ref_rows or i in refr):
                    continue        # unchanged while refractory, or held: no coefficients
                for j in sorted(reach[i]):
                    entries.append(Coefficient("E", refractory, i, j))
                if linear:
                    if any(j in c0 for j in reach[i]):
                        entries.append(Coefficient("K", refractory, i))
                    for k in range(len(model.inputs)):
                        if any((j, k) in g for j in reach[i]):
                            entries.append(Coefficient("G", refractory, i, k))
                else:
                    for j in sorted(reach[i]):
                        entries.append(Coefficient("F", refractory, i, j))
    ports = tuple(model.ports)
    ro = MappingProxyType
    return CompiledModel(
        model=model, states=states, params=tuple(model.parameters), inputs=tuple(model.inputs),
        ports=ports, method=model.method,
        names=code_names(states, tuple(model.parameters), tuple(model.inputs)),
        symbols=ro(dict(an.symbols)), has_refractory=has_refractory, refractory_rows=refr,
        reach=reach, ref_rows=ref_rows, linear_inputs=linear, layout=Layout(tuple(entries)),
        constant_forcing=ro(c0), input_forcing=ro(g), A=ro(A), forcing=ro(forcing),
        threshold=an.threshold, strict=bool(an.threshold_strict), scale=an.surrogate_scale,
        resets=tuple((idx[t], op, ex) for t, op, ex in an.reset),
        port_terms=tuple(tuple((idx[t], c) for t, c in an.ports[p]) for p in ports),
        init=tuple(an.init[s] for s in states), subexpressions=ro(dict(an.subexpressions)),
        analysis=an, noise=model.firing.noise if model.firing is not None else None,
        uses_time=model.discrete and any(
            e.free_symbols & {an.symbols["t"], an.symbols["t_in_timesteps"]}
            for e in an.rhs.values()))


@functools.lru_cache(maxsize=64)
def _compiled(key):
    from neuromod.backends.model import NeuronModel
    return _build(NeuronModel.from_dict(json.loads(key)))


def compile_model(model) -> CompiledModel:
    """The :class:`CompiledModel` of ``model`` (cached by its definition; the cached
    object is never modified).

    Examples
    --------
    >>> from neuromod.neurons import lif
    >>> compile_model(lif()).layout.entries[0]
    Coefficient(kind='E', refractory=False, row=0, col=0)
    """
    return _compiled(json.dumps(model.to_dict(), sort_keys=True))
