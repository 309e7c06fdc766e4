"""Torch backend: the model's update derived from its equations, batched and differentiable.

:func:`compile_model` turns a :class:`~neuromod.backends.model.NeuronModel` into a
:class:`TorchModel` holding generated Python/Torch code for one time step. The
functional API has typed tuples (``namedtuple`` types made per model):

* ``Params``  -- one tensor per parameter (0-d or one value per neuron);
* ``Coeffs``  -- per-run constants derived from ``Params`` and ``dt`` (the
  ``exact`` propagator ``e^{A dt}``, refractory steps, surrogate scale);
* ``State``   -- one ``(batch, n)`` tensor per state variable plus ``refrac``,
  the refractory countdown (int32).

One step follows Brian2's default schedule (see ``docs/backends.md``):

1. refractoriness: ``refrac -= 1``; ``active = refrac <= 0``;
2. state update over ``[t, t + dt)`` with inputs held constant; variables
   flagged ``(unless refractory)`` are frozen where ``active`` is false;
3. threshold: ``spike = H((lhs - rhs)/scale)`` and ``active``; spiking neurons
   get ``refrac = ref_steps`` (``timestep(t_ref, dt)`` as in Brian2);
4. synaptic propagation: port increments ``x += coef * sum_j w_ij s_j`` (ignored
   on refractory-flagged variables of neurons that are refractory or just spiked,
   Brian2's conditional write);
5. reset statements on spiking neurons.

No instance registry and no hidden state: every call starts from
:meth:`TorchModel.initial_state` unless a state is passed in.

Examples
--------
>>> import torch
>>> from neuromod.neurons import lif
>>> tm = compile_model(lif())
>>> P = tm.params(3, dtype=torch.float64)
>>> C = tm.coefficients(P, 1e-4)
>>> S = tm.initial_state(2, 3, P)
>>> S, s = tm.step(S, P, C, inputs={"I_ext": torch.full((2, 3), 2e-9, dtype=torch.float64)})
>>> tuple(s.shape)
(2, 3)
"""
import collections
import functools
import json
import math

import numpy as np
import torch

from neuromod.backends.equations import torch_code
from neuromod.backends.model import NeuronModel, propagator_structure, refractory_steps
from neuromod.backends.surrogate import get_surrogate

__all__ = ["TorchModel", "compile_model", "NeuronLayer", "as_tensor"]


def as_tensor(x, dtype, device):
    """A tensor of ``dtype`` on ``device`` (tensors keep their autograd graph)."""
    if isinstance(x, torch.Tensor):
        return x.to(dtype=dtype, device=device)
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype, device=device)


class TorchModel:
    """Generated Torch code for one :class:`NeuronModel` (see :func:`compile_model`).

    Attributes
    ----------
    model : NeuronModel
    states : tuple of str
    Params, Coeffs, State : namedtuple types
    """

    def __init__(self, model):
        import sympy as sp
        self.model = model
        an = model.analysis
        self.an = an
        self.states = tuple(an.states)
        self.param_names = tuple(model.parameters)
        self.inputs = tuple(model.inputs)
        self.ports = tuple(model.ports)
        self.Params = collections.namedtuple(f"{_ident(model.name)}Params", self.param_names or ("_",))
        self.State = collections.namedtuple(f"{_ident(model.name)}State", self.states + ("refrac",))
        self.has_refractory = bool(an.refractory_states) or model.refractory != 0.0
        names = {s: f"x_{s}" for s in self.states}
        names.update({p: f"p_{p}" for p in self.param_names})
        names.update({u: f"u_{u}" for u in self.inputs})
        self._names = names
        self._sp = sp
        self._idx = {s: k for k, s in enumerate(self.states)}
        # ----------------------------------------------------------- coefficient plan
        coeff_fields = ["ref_steps", "scale"]
        self._coeff_code = {}    # field -> python expression in params (p_*) / dt
        if model.method == "exact":
            ps = propagator_structure(model)
            self._reach = ps.reach
            # rows whose refractory variant differs: refractory rows, and rows reaching them
            self._ref_rows = ps.ref_rows
            # linear in the inputs?
            self._c0, self._g, self._linear_inputs = ps.c0, ps.g, ps.linear_inputs
            coeff_fields += ps.fields
        self.Coeffs = collections.namedtuple(f"{_ident(model.name)}Coeffs", coeff_fields)
        self._step_cache = {}

    # ------------------------------------------------------------------ parameters
    def params(self, n, overrides=None, dtype=torch.float32, device=None):
        """``Params`` for ``n`` neurons: 0-d tensors for shared values, ``(n,)`` for per-neuron.

        ``overrides`` values may be numbers, arrays, Brian2 text, quantities or
        tensors (kept in the autograd graph, e.g. trainable ``nn.Parameter``).
        """
        overrides = dict(overrides or {})
        tens = {k: v for k, v in overrides.items() if isinstance(v, torch.Tensor)}
        vals = self.model.resolve_parameters(n, {k: v for k, v in overrides.items() if k not in tens})
        out = []
        for k in self.param_names:
            if k in tens:
                t = tens[k].to(dtype=dtype, device=device)
                if t.ndim and t.shape != (n,):
                    raise ValueError(f"parameter {k!r}: shape {tuple(t.shape)} for {n} neurons")
            else:
                t = as_tensor(vals[k], dtype, device)
            out.append(t)
        return self.Params(*out) if out else self.Params(torch.zeros((), dtype=dtype, device=device))

    def _eval_params(self, expr, P, dtype=None):
        """Evaluate a sympy expression of parameters with the ``Params`` tensors."""
        sp = self._sp
        if expr.is_number:
            ref = P[0]
            return torch.as_tensor(float(expr), dtype=dtype or ref.dtype, device=ref.device)
        ns = {"torch": torch, "_t": _t}
        for k, name in zip(self.param_names, self.param_names):
            ns[f"p_{k}"] = getattr(P, k) if dtype is None else getattr(P, k).to(dtype)
        return eval(torch_code(expr, self._names), ns)  # noqa: S307 -- generated from parsed sympy

    def coefficients(self, P, dt):
        """Per-run constants (``Coeffs``) for time step ``dt`` (seconds).

        For ``method='exact'`` the propagator of ``dx/dt = A x + c`` over one step,
        with ``c`` held constant, comes from one matrix exponential (Van Loan):
        ``expm([[A, I], [0, 0]] dt) = [[E, F], [0, I]]``, ``E = e^{A dt}`` and
        ``F = int_0^dt e^{A s} ds``. It is computed in float64 (differentiable in
        the parameters) and cast to the parameters' dtype. ``E_ii = exp(-dt/tau)``
        for a single leaky variable. A second propagator with the rows of
        ``(unless refractory)`` variables zeroed serves refractory neurons (the
        solution Brian2's ``exact`` method gives with ``not_refractory = 0``).
        """
        dt = float(dt)
        an, model = self.an, self.model
        dtype = P[0].dtype
        device = P[0].device
        out = {}
        ref = model.refractory
        if isinstance(ref, str):
            rs = getattr(P, ref).detach().cpu().double().numpy()
        else:
            rs = np.float64(ref)
        out["ref_steps"] = torch.as_tensor(refractory_steps(rs, dt), dtype=torch.int32, device=device)
        out["scale"] = self._eval_params(an.surrogate_scale, P).to(dtype)
        if model.method == "exact":
            m = len(self.states)
            f64 = torch.float64
            entries = {}
            shape = ()       # np.broadcast_shapes: torch's imports torch.fx (~0.1 s)
            for (si, sj), a in an.A.items():
                val = self._eval_params(a, P, f64)
                entries[(self._idx[si], self._idx[sj])] = val
                shape = np.broadcast_shapes(shape, tuple(val.shape))
            cvals = {}
            for i, c0 in self._c0.items():
                cvals[("c0", i)] = self._eval_params(c0, P, f64)
                shape = np.broadcast_shapes(shape, tuple(cvals[("c0", i)].shape))
            for (i, k), g in self._g.items():
                cvals[("g", i, k)] = self._eval_params(g, P, f64)
                shape = np.broadcast_shapes(shape, tuple(cvals[("g", i, k)].shape))
            variants = ("", "r") if self._ref_rows else ("",)
            refr = {self._idx[s] for s in an.refractory_states}
            for variant in variants:
                A = {}
                for (i, j), val in entries.items():
                    if not (variant == "r" and i in refr):
                        A[(i, j)] = torch.broadcast_to(val, shape)
                E, F = propagator(A, m, dt, shape, device,
                                  frozen=refr if variant == "r" else ())
                for i in range(m):
                    if variant and i not in self._ref_rows:
                        continue
                    reach = sorted(self._reach[i])
                    for j in reach:
                        out[f"E{variant}_{i}_{j}"] = E[..., i, j].to(dtype)
                    if self._linear_inputs:
                        if any(j in self._c0 for j in reach):
                            out[f"K{variant}_{i}"] = sum(
                                F[..., i, j] * cvals[("c0", j)] for j in reach if j in self._c0).to(dtype)
                        for k in range(len(self.inputs)):
                            if any((j, k) in self._g for j in reach):
                                out[f"G{variant}_{i}_{k}"] = sum(
                                    F[..., i, j] * cvals[("g", j, k)] for j in reach
                                    if (j, k) in self._g).to(dtype)
                    else:
                        for j in reach:
                            out[f"F{variant}_{i}_{j}"] = F[..., i, j].to(dtype)
        return self.Coeffs(**out)

    # ------------------------------------------------------------------ state
    def initial_state(self, batch, n, P, init=None):
        """``State`` of ``batch x n`` neurons at the model's initial values.

        ``init`` maps state names to values overriding the model's (numbers,
        ``(n,)`` arrays, ``(batch, n)`` tensors).
        """
        dtype, device = P[0].dtype, P[0].device
        vals = []
        for s in self.states:
            if init is not None and s in init:
                v = as_tensor(init[s], dtype, device)
            else:
                v = self._eval_params(self.an.init[s], P)
            vals.append(torch.broadcast_to(v, (batch, n)).to(dtype).clone())
        refrac = torch.zeros((batch, n), dtype=torch.int32, device=device)
        return self.State(*vals, refrac)

    # ------------------------------------------------------------------ code generation
    def _generate(self, has_inputs, has_ports, detach_reset):
        """Source of ``advance`` (steps 1-3) and ``finish`` (steps 4-5)."""
        an, model = self.an, self.model
        m = len(self.states)
        N = self._names
        L = []
        a = L.append
        a("def advance(S, P, C, U, surrogate):")
        for s in self.states:
            a(f"    x_{s} = S.{s}")
        for p in self.param_names:
            a(f"    p_{p} = P.{p}")
        for k, u in enumerate(self.inputs):
            if has_inputs[k]:
                a(f"    u_{u} = U[{k}]")
            else:
                a(f"    u_{u} = 0.0")
        if self.has_refractory:
            a("    refrac = S.refrac - 1")
            a("    active = refrac <= 0")
        else:
            a("    refrac = S.refrac")
            a("    active = None")
        refr = {self._idx[s] for s in an.refractory_states}
        if model.method == "exact":
            fields = set(self.Coeffs._fields)
            for i, s in enumerate(self.states):
                exprs = []
                for variant in ("", "r") if i in self._ref_rows else ("",):
                    if variant == "r" and i in refr:
                        exprs.append(f"x_{s}")
                        continue
                    terms = [f"C.E{variant}_{i}_{j}*x_{self.states[j]}" for j in sorted(self._reach[i])]
                    if self._linear_inputs:
                        if f"K{variant}_{i}" in fields:
                            terms.append(f"C.K{variant}_{i}")
                        for k, u in enumerate(self.inputs):
                            if has_inputs[k] and f"G{variant}_{i}_{k}" in fields:
                                terms.append(f"C.G{variant}_{i}_{k}*u_{u}")
                    else:
                        for j in sorted(self._reach[i]):
                            sj = self.states[j]
                            if sj in an.c:
                                cexpr = torch_code(an.c[sj], N)
                                if variant == "r" and j in refr:
                                    continue
                                terms.append(f"C.F{variant}_{i}_{j}*{cexpr}")
                    exprs.append(" + ".join(terms))
                if len(exprs) == 1:
                    a(f"    n_{s} = {exprs[0]}")
                else:
                    a(f"    n_{s} = torch.where(active, {exprs[0]}, {exprs[1]})")
        elif model.method == "exponential_euler":
            for i, s in enumerate(self.states):
                av, bv = an.expeuler[s]
                if av == 0:
                    a(f"    n_{s} = x_{s} + dt*({torch_code(bv, N)})")
                else:
                    a(f"    _a = {_code(av, N)}")
                    a(f"    _b = {_code(bv, N)}")
                    a(f"    _e = torch.expm1(_a*dt)")
                    a(f"    n_{s} = x_{s} + (x_{s} + _b/_a)*_e")
                if i in refr:
                    a(f"    n_{s} = torch.where(active, n_{s}, x_{s})")
        else:  # euler
            for i, s in enumerate(self.states):
                a(f"    n_{s} = x_{s} + dt*({torch_code(an.rhs[s], N)})")
                if i in refr:
                    a(f"    n_{s} = torch.where(active, n_{s}, x_{s})")
        for s in self.states:
            a(f"    x_{s} = n_{s}")
        if an.threshold is not None:
            a(f"    _d = {torch_code(an.threshold, N)}")
            a(f"    spike = surrogate(_d / C.scale, {an.threshold_strict})")
            if self.has_refractory:
                a("    spike = spike * active")
                a("    fired = spike > 0")
                a("    refrac = torch.where(fired, C.ref_steps, refrac)")
                a("    active = active & ~fired")
        else:
            a("    spike = torch.zeros_like(x_{0})".format(self.states[0]))
        a(f"    return S.__class__({', '.join('x_' + s for s in self.states)}, refrac), spike, active")
        a("")
        # ---------------------------------------------------------------- finish
        a("def finish(S, spike, active, P, C, U, W):")
        for s in self.states:
            a(f"    x_{s} = S.{s}")
        for p in self.param_names:
            a(f"    p_{p} = P.{p}")
        for k, u in enumerate(self.inputs):
            a(f"    u_{u} = {'U[%d]' % k if has_inputs[k] else '0.0'}")
        for k, port in enumerate(self.ports):
            if not has_ports[k]:
                continue
            for target, coef in an.ports[port]:
                inc = f"W[{k}]" if coef == 1 else f"({_code(coef, N)})*W[{k}]"
                if target in an.refractory_states and self.has_refractory:
                    a(f"    x_{target} = torch.where(active, x_{target} + {inc}, x_{target})")
                else:
                    a(f"    x_{target} = x_{target} + {inc}")
        if an.reset:
            a("    fired = spike > 0")
            a("    _sg = spike - spike.detach()" if not detach_reset else "")
            for target, op, ex in an.reset:
                code = torch_code(ex, N)
                if op == "=":
                    a(f"    _r = {code}")
                    a(f"    _n = torch.where(fired, _r, x_{target})")
                    if not detach_reset:
                        a(f"    _n = _n + _sg*(_r - x_{target})")
                else:
                    opmap = {"+=": "+", "-=": "-", "*=": "*", "/=": "/"}[op]
                    a(f"    _r = x_{target} {opmap} ({code})")
                    a(f"    _n = torch.where(fired, _r, x_{target})")
                    if not detach_reset:
                        a(f"    _n = _n + _sg*(_r - x_{target})")
                a(f"    x_{target} = _n")
        a(f"    return S.__class__({', '.join('x_' + s for s in self.states)}, S.refrac)")
        return "\n".join(L) + "\n"

    def functions(self, has_inputs=None, has_ports=None, detach_reset=True, dt=None):
        """The generated ``(advance, finish)`` pair for the given input/port presence."""
        has_inputs = tuple(bool(x) for x in (has_inputs or (False,) * len(self.inputs)))
        has_ports = tuple(bool(x) for x in (has_ports or (False,) * len(self.ports)))
        key = (has_inputs, has_ports, bool(detach_reset), dt)
        fns = self._step_cache.get(key)
        if fns is None:
            src = self._generate(has_inputs, has_ports, detach_reset)
            ns = {"torch": torch, "_t": _t, "dt": dt}
            exec(compile(src, f"<neuromod {self.model.name} step>", "exec"), ns)  # noqa: S102
            fns = self._step_cache[key] = (ns["advance"], ns["finish"])
            self.source = src
        return fns

    def step(self, S, P, C, inputs=None, ports=None, surrogate="fast_sigmoid", dt=None,
             detach_reset=True):
        """One full time step; returns ``(new_state, spikes)``.

        Parameters
        ----------
        S, P, C : State, Params, Coeffs
        inputs : dict of str to tensor, optional
            Input variables (``(batch, n)`` or broadcastable) held over the step.
        ports : dict of str to tensor, optional
            Weighted presynaptic spike sums per port, ``(batch, n)``, in the
            port's weight unit; applied after the threshold (delay 0).
        surrogate : str or Surrogate
        dt : float
            Needed by the ``exponential_euler`` and ``euler`` methods.
        """
        U = tuple((inputs or {}).get(u) for u in self.inputs)
        W = tuple((ports or {}).get(p) for p in self.ports)
        adv, fin = self.functions([u is not None for u in U], [w is not None for w in W],
                                  detach_reset, None if self.model.method == "exact" else float(dt))
        sur = get_surrogate(surrogate)
        S, spike, active = adv(S, P, C, U, sur)
        S = fin(S, spike, active, P, C, U, W)
        return S, spike


def _balance(A, m, dt):
    """Powers of two ``d`` such that ``A_ij d_j / d_i`` is of the order of the diagonal.

    SI units make the coupling entries of ``A`` differ by many orders of magnitude
    (``R/tau_m`` ~ 1e9 next to ``1/tau`` ~ 1e2); ``expm`` loses relative accuracy on
    such matrices. The similarity ``D^-1 A D`` with ``log2 d`` from a least-squares
    fit of every off-diagonal entry to the diagonal scale fixes that, and with
    powers of two scaling and unscaling are exact.
    """
    mags = {k: float(v.detach().abs().max()) for k, v in A.items()}
    diag = [mags.get((i, i), 0.0) for i in range(m)]
    rho = max(diag) if max(diag, default=0.0) > 0 else 1.0 / dt
    rows, rhs = [], []
    for (i, j), a in mags.items():
        if i != j and a > 0:
            r = np.zeros(m)
            r[j], r[i] = 1.0, -1.0
            rows.append(r)
            rhs.append(np.log2(rho) - np.log2(a))
    if not rows:
        return np.ones(m)
    y = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    return np.exp2(np.round(y - y.mean()))


def expm(M, degree=18):
    """Matrix exponential by Taylor series with scaling and squaring (batched, differentiable).

    ``torch.linalg.matrix_exp`` loses up to ~1e-10 relative accuracy on small
    triangular matrices in float64 (measured against 50-digit mpmath); here the
    matrix is scaled by ``2^-s`` to a norm <= 1/4, where the degree-18 Taylor
    polynomial (Horner form) is accurate to ~1e-29, then squared ``s`` times.

    Examples
    --------
    >>> import math
    >>> abs(expm(torch.tensor([[1.0]], dtype=torch.float64)).item() - math.e) < 1e-15
    True
    """
    norm = float(M.detach().abs().sum(-1).max()) if M.numel() else 0.0
    s = max(0, math.ceil(math.log2(norm / 0.25))) if norm > 0 else 0
    X = M / (2.0 ** s)
    eye = torch.eye(M.shape[-1], dtype=M.dtype, device=M.device)
    R = eye
    for k in range(degree, 0, -1):
        R = eye + (X @ R) / k
    for _ in range(s):
        R = R @ R
    return R


def _cyclic(A, m):
    """Indices of variables on a dependency cycle (strongly connected component > 1)."""
    reach = {i: {i} for i in range(m)}
    adj = {i: {j for (a, j) in A if a == i and j != i} for i in range(m)}
    for i in range(m):
        stack = list(adj[i])
        while stack:
            j = stack.pop()
            if j not in reach[i]:
                reach[i].add(j)
                stack.extend(adj[j])
    return {i for i in range(m) for j in reach[i] if j != i and i in reach[j]}


def propagator(A, m, dt, shape, device, frozen=()):
    """``E = e^{A dt}`` and ``F = int_0^dt e^{A s} ds`` (float64) for ``dx/dt = A x + c``.

    Parameters
    ----------
    A : dict of (int, int) to tensor
        Non-zero entries of ``A`` (each broadcastable to ``shape``).
    m : int
        Number of state variables.
    dt : float
    shape : tuple
        Batch shape of the entries (``()`` or ``(n,)``).
    frozen : set of int
        Variables held constant (refractory): no row in ``A`` and no forcing, so
        ``E_ii = 1`` and column ``i`` of ``F`` is zero.

    Returns
    -------
    E, F : tensors of shape ``shape + (m, m)``

    Notes
    -----
    Van Loan's block form ``expm([[A, I], [0, 0]] dt) = [[E, F], [0, I]]`` after the
    exact power-of-two balancing of :func:`_balance`. Diagonal entries of variables
    that are on no dependency cycle are set to their closed forms
    ``E_ii = exp(a dt)`` and ``F_ii = expm1(a dt)/a`` (``dt`` when ``a = 0``), so a
    leaky variable decays by exactly ``exp(-dt/tau)``.
    """
    f64 = torch.float64
    d = _balance(A, m, dt)
    M = torch.zeros(shape + (2 * m, 2 * m), dtype=f64, device=device)
    rows = []
    for i in range(m):
        row = [torch.zeros(shape, dtype=f64, device=device) for _ in range(2 * m)]
        for j in range(m):
            if (i, j) in A:
                row[j] = A[(i, j)].to(f64) * (dt * d[j] / d[i])
        if i not in frozen:
            row[m + i] = torch.full(shape, dt, dtype=f64, device=device)
        rows.append(torch.stack(row, dim=-1))
    for _ in range(m):
        rows.append(torch.zeros(shape + (2 * m,), dtype=f64, device=device))
    M = torch.stack(rows, dim=-2)
    X = expm(M)
    scale = torch.as_tensor(d[:, None] / d[None, :], dtype=f64, device=device)
    E = X[..., :m, :m] * scale
    F = X[..., :m, m:] * scale
    cyc = _cyclic(A, m)
    if len(cyc) < m:
        E = E.clone()
        F = F.clone()
        for i in range(m):
            if i in cyc:
                continue
            a = A.get((i, i))
            if i in frozen:
                E[..., i, i] = 1.0
                F[..., i, i] = 0.0
            elif a is None:
                E[..., i, i] = 1.0
                F[..., i, i] = dt
            else:
                a = torch.broadcast_to(a.to(f64), shape)
                E[..., i, i] = torch.exp(a * dt)
                safe = torch.where(a == 0, torch.ones_like(a), a)
                F[..., i, i] = torch.where(a == 0, torch.full_like(a, dt), torch.expm1(a * dt) / safe)
    return E, F


def _t(x):
    return x if isinstance(x, torch.Tensor) else torch.tensor(x)


def _code(expr, names):
    return torch_code(expr, names)


def _ident(name):
    return "".join(ch if ch.isalnum() else "_" for ch in name).title().replace("_", "")


@functools.lru_cache(maxsize=64)
def _compile_cached(key):
    return TorchModel(NeuronModel.from_dict(json.loads(key)))


def compile_model(model):
    """The :class:`TorchModel` of ``model`` (cached by definition).

    Examples
    --------
    >>> from neuromod.neurons import lif
    >>> compile_model(lif()).states
    ('v', 'I_e', 'I_i')
    """
    key = json.dumps(model.to_dict(), sort_keys=True)
    return _compile_cached(key)


class NeuronLayer(torch.nn.Module):
    """A population of ``n`` neurons of one model as a Torch module (batch x neurons x time).

    Parameters
    ----------
    model : NeuronModel
    n : int
        Number of neurons.
    dt : float or quantity
        Time step in seconds.
    drive : str, optional
        Where the input tensor goes: an input variable (``'I_ext'``, held over the
        step) or a port (``'e'``: added as ``sum_j w_ij s_j`` after the threshold,
        like a synapse with zero delay). Default: the model's first port, else
        its first input.
    surrogate : str or Surrogate
        Spike non-linearity (see :mod:`neuromod.backends.surrogate`).
    alpha : float, optional
        Surrogate steepness.
    params : dict, optional
        Parameter overrides (scalars, ``(n,)`` arrays, Brian2 text, quantities).
    train : sequence of str
        Parameters to learn (become ``nn.Parameter``, SI units).
    dtype : torch.dtype
    device : str or torch.device, optional
    detach_reset : bool
        Stop gradients through the reset.
    fused : bool
        Use the fused CPU time loop (:mod:`neuromod.backends.fused`) where it applies;
        it gives the same spikes and gradients as the step-by-step path.

    Examples
    --------
    >>> import torch
    >>> from neuromod.neurons import lif
    >>> layer = NeuronLayer(lif(), 4, dt=1e-4, drive="I_ext", dtype=torch.float64)
    >>> x = torch.full((2, 4, 300), 3e-9, dtype=torch.float64)
    >>> layer(x).sum(-1).tolist()
    [[2.0, 2.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0]]
    """

    def __init__(self, model, n, dt, drive=None, surrogate="fast_sigmoid", alpha=None,
                 params=None, train=(), dtype=torch.float32, device=None, detach_reset=True,
                 fused=True):
        super().__init__()
        from neuromod.units import as_si
        self.model = model
        self.n = int(n)
        self.dt = float(as_si(dt, (0, 0, 1, 0, 0, 0, 0), "dt"))
        self.tm = compile_model(model)
        if drive is None:
            drive = next(iter(model.ports), None) or (model.inputs[0] if model.inputs else None)
        if drive not in model.ports and drive not in model.inputs:
            raise ValueError(f"drive {drive!r} is neither a port ({', '.join(model.ports)}) "
                             f"nor an input ({', '.join(model.inputs)}) of model {model.name!r}")
        self.drive = drive
        self.surrogate = get_surrogate(surrogate, alpha)
        self.detach_reset = detach_reset
        self.fused = fused
        self._plan = False
        vals = model.resolve_parameters(self.n, params)
        self._names = list(self.tm.param_names)
        for k in self._names:
            t = as_tensor(vals[k], dtype, device)
            if k in train:
                setattr(self, "p_" + k, torch.nn.Parameter(t))
            else:
                self.register_buffer("p_" + k, t)
        for k in train:
            if k not in vals:
                raise ValueError(f"model {model.name!r} has no parameter {k!r}")

    def _use_fused(self, x, S, record, return_state):
        """The fused CPU kernels (:mod:`neuromod.backends.fused`) apply when the model
        is integrated exactly, the surrogate is a built-in one, the reset detached,
        tensors are on the CPU, and no gradient must flow through the initial or final
        state or through recorded traces (traces of state variables are recorded by the
        fused kernels when autograd is off)."""
        if not self.fused or x.device.type != "cpu":
            return False
        grad = torch.is_grad_enabled()
        if record and (grad or any(v not in self.tm.states for v in record)):
            return False
        if grad and (return_state or any(t.requires_grad for t in S)):
            return False
        if self._plan is False:
            from neuromod.backends.fused import plan
            self._plan = plan(self.tm, self.drive, self.surrogate, self.detach_reset) or None
        return self._plan is not None

    def params(self):
        """The current ``Params`` tuple (trainable entries stay in the graph)."""
        return self.tm.Params(*[getattr(self, "p_" + k) for k in self._names])

    def forward(self, x, state=None, record=(), return_state=False):
        """Run the layer over the time axis of ``x``.

        Parameters
        ----------
        x : tensor, shape (batch, n, time)
            Drive per step, in the SI unit of the drive (amp for ``I_ext`` and
            for current ports, siemens for conductance ports).
        state : State, optional
            Continue from this state (returned by an earlier call); otherwise each
            call starts from the initial values -- no reset call is ever needed.
        record : sequence of str
            State variables to return as ``(batch, n, time)`` traces (value after
            each step, post reset).
        return_state : bool
            Also return the final state (for carrying it to the next call).

        Returns
        -------
        spikes : tensor (batch, n, time)
            0/1 with surrogate gradients. With ``record`` or ``return_state``,
            ``(spikes, traces, state)``.
        """
        if x.ndim != 3 or x.shape[1] != self.n:
            raise ValueError(f"input must be (batch, {self.n}, time), got {tuple(x.shape)}")
        P = self.params()
        C = self.tm.coefficients(P, self.dt)
        B, _, T = x.shape
        S = state if state is not None else self.tm.initial_state(B, self.n, P)
        if self._use_fused(x, S, record, return_state):
            from neuromod.backends.fused import run_fused
            xt = x.to(P[0].dtype).permute(2, 0, 1)
            spikes, S, traces = run_fused(self._plan, xt, P, C, S, record=tuple(record))
            spikes = spikes.permute(1, 2, 0)
            if not record and not return_state:
                return spikes
            return spikes, {v: tr.permute(1, 2, 0) for v, tr in traces.items()}, S
        is_port = self.drive in self.model.ports
        has_in = [u == self.drive for u in self.tm.inputs]
        has_port = [p == self.drive for p in self.tm.ports]
        adv, fin = self.tm.functions(has_in, has_port, self.detach_reset,
                                     None if self.model.method == "exact" else self.dt)
        xt = x.to(P[0].dtype).permute(2, 0, 1).contiguous()
        k_in = has_in.index(True) if any(has_in) else None
        k_port = has_port.index(True) if any(has_port) else None
        n_in, n_port = len(self.tm.inputs), len(self.tm.ports)
        out, rec = [], {v: [] for v in record}
        sur = self.surrogate
        for t in range(T):
            xk = xt[t]
            U = tuple(xk if j == k_in else None for j in range(n_in))
            S, s, act = adv(S, P, C, U, sur)
            W = tuple(xk if j == k_port else None for j in range(n_port))
            S = fin(S, s, act, P, C, U, W)
            out.append(s)
            for v in record:
                rec[v].append(getattr(S, v))
        spikes = torch.stack(out).permute(1, 2, 0)      # (time, batch, n) -> (batch, n, time) view
        if not record and not return_state:
            return spikes
        traces = {v: torch.stack(xs).permute(1, 2, 0) for v, xs in rec.items()}
        return spikes, traces, S
