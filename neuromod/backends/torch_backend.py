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
import re
import functools

import numpy as np
import torch

from neuromod.backends import ir
from neuromod.backends.model import refractory_steps
from neuromod.backends.printers import evaluate, torch_step_source
from neuromod.backends.propagator import layout_values, parameter_value
from neuromod.backends.surrogate import get_surrogate

__all__ = ["TorchModel", "compile_model", "NeuronLayer", "as_tensor"]


def as_tensor(x, dtype: torch.dtype, device) -> torch.Tensor:
    """A tensor of ``dtype`` on ``device`` (tensors keep their autograd graph)."""
    if isinstance(x, torch.Tensor):
        return x.to(dtype=dtype, device=device)
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype, device=device)


class TorchModel:
    """The Torch target of one compiled model (see :func:`compile_model`); read-only
    after construction.

    Attributes
    ----------
    model : NeuronModel
    compiled : neuromod.backends.ir.CompiledModel
        The backend-neutral form the code is printed from.
    states, param_names, inputs, ports : tuple of str
    has_refractory : bool
    Params, Coeffs, State : namedtuple types
        ``Coeffs`` is ``(ref_steps, scale, prop)``, ``prop`` the propagator's
        coefficients in the order of ``compiled.layout`` (empty for the
        ``exponential_euler`` and ``euler`` methods).
    """

    def __init__(self, compiled):
        self.compiled = compiled
        self.model = compiled.model
        self.states = compiled.states
        self.param_names = compiled.params
        self.inputs = compiled.inputs
        self.ports = compiled.ports
        self.has_refractory = compiled.has_refractory
        name = _ident(self.model.name)
        # a model without parameters still has a (placeholder) entry, renamed '_0'
        self.Params = collections.namedtuple(f"{name}Params", self.param_names or ("_",),
                                             rename=not self.param_names)
        self.State = collections.namedtuple(f"{name}State", self.states + ("refrac",))
        self.Coeffs = collections.namedtuple(f"{name}Coeffs", ("ref_steps", "scale", "prop"))

    # ------------------------------------------------------------------ parameters
    def params(self, n: int, overrides: "dict | None" = None, dtype: torch.dtype = torch.float32,
               device=None):
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

    def parameter_value(self, expr, P, dtype: "torch.dtype | None" = None) -> torch.Tensor:
        """A sympy expression of parameters evaluated with the ``Params`` tensors."""
        values = dict(zip(self.param_names, P)) if self.param_names else {"_": P[0]}
        return parameter_value(self.compiled, expr, values, dtype)

    def coefficients(self, P, dt: float):
        """Per-run constants (``Coeffs``) for time step ``dt`` (seconds).

        For ``method='exact'`` the propagator of ``dx/dt = A x + c`` over one step,
        with ``c`` held constant (:func:`neuromod.backends.propagator.layout_values`):
        ``E = e^{A dt}`` and ``F = int_0^dt e^{A s} ds`` from one matrix exponential
        (Van Loan), in float64 (differentiable in the parameters) and cast to the
        parameters' dtype. ``E_ii = exp(-dt/tau)`` for a single leaky variable. A
        second propagator with the rows of ``(unless refractory)`` variables zeroed
        serves refractory neurons (the solution Brian2's ``exact`` method gives with
        ``not_refractory = 0``).
        """
        dt = float(dt)
        model = self.model
        dtype, device = P[0].dtype, P[0].device
        ref = model.refractory
        rs = getattr(P, ref).detach().cpu().double().numpy() if isinstance(ref, str) \
            else np.float64(ref)
        ref_steps = torch.as_tensor(refractory_steps(rs, dt), dtype=torch.int32, device=device)
        scale = self.parameter_value(self.compiled.scale, P).to(dtype)
        prop = ()
        if len(self.compiled.layout):
            values = dict(zip(self.param_names, P)) if self.param_names else {"_": P[0]}
            prop = layout_values(self.compiled, values, dt, dtype)
        return self.Coeffs(ref_steps, scale, prop)

    # ------------------------------------------------------------------ state
    def initial_state(self, batch: int, n: int, P, init: "dict | None" = None):
        """``State`` of ``batch x n`` neurons at the model's initial values.

        ``init`` maps state names to values overriding the model's (numbers,
        ``(n,)`` arrays, ``(batch, n)`` tensors).
        """
        dtype, device = P[0].dtype, P[0].device
        vals = []
        for s, expr in zip(self.states, self.compiled.init):
            if init is not None and s in init:
                v = as_tensor(init[s], dtype, device)
            else:
                v = self.parameter_value(expr, P)
            vals.append(torch.broadcast_to(v, (batch, n)).to(dtype).clone())
        refrac = torch.zeros((batch, n), dtype=torch.int32, device=device)
        return self.State(*vals, refrac)

    def value(self, name: str, S, P) -> torch.Tensor:
        """A state variable's or a subexpression's value in state ``S`` (inputs 0)."""
        if name in self.states:
            return getattr(S, name)
        cm = self.compiled
        ns = {cm.names[s]: getattr(S, s) for s in self.states}
        ns.update({cm.names[p]: getattr(P, p) for p in self.param_names})
        ns.update({cm.names[u]: 0.0 for u in self.inputs})
        return evaluate(cm.subexpressions[name], cm.names, ns)

    # ------------------------------------------------------------------ code
    def program(self, has_inputs=None, has_ports=None, detach_reset: bool = True) -> ir.Program:
        """The step's :class:`~neuromod.backends.ir.Program` for these inputs and ports."""
        return self.compiled.program(has_inputs, has_ports, detach_reset)

    def source(self, has_inputs=None, has_ports=None, detach_reset: bool = True) -> str:
        """The printed Torch source of ``advance`` (update, threshold) and ``finish``
        (ports, reset)."""
        return torch_step_source(self.compiled, self.program(has_inputs, has_ports, detach_reset))

    def functions(self, has_inputs=None, has_ports=None, detach_reset: bool = True,
                  dt: "float | None" = None) -> tuple:
        """The generated ``(advance, finish)`` pair for the given input/port presence
        (``dt`` is a constant of the code for the ``exponential_euler`` and ``euler``
        methods)."""
        has_inputs = tuple(bool(x) for x in (has_inputs or (False,) * len(self.inputs)))
        has_ports = tuple(bool(x) for x in (has_ports or (False,) * len(self.ports)))
        return _functions(self.compiled, has_inputs, has_ports, bool(detach_reset), dt)

    def step(self, S, P, C, inputs=None, ports=None, surrogate="fast_sigmoid", dt=None,
             detach_reset=True, variates=None, step_index=0):
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
            Needed by the ``exponential_euler``, ``euler`` and ``map`` methods.
        variates : tensor, optional
            Bernoulli firing: the step's uniform variates, ``(batch, n)`` in ``[0, 1)``
            (see :func:`neuromod.backends.noise.variates`).
        step_index : int
            The step's index (``t = step_index * dt``), for maps that read the clock.
        """
        if self.compiled.noise and variates is None:
            raise ValueError(f"model {self.model.name!r} fires stochastically: give the step's "
                             "uniform variates (variates=)")
        U = tuple((inputs or {}).get(u) for u in self.inputs)
        W = tuple((ports or {}).get(p) for p in self.ports)
        adv, fin = self.functions([u is not None for u in U], [w is not None for w in W],
                                  detach_reset, None if self.model.method == "exact" else float(dt))
        sur = get_surrogate(surrogate)
        S, spike, active = adv(S, P, C, U, sur, variates, int(step_index))
        S = fin(S, spike, active, P, C, U, W)
        return S, spike


@functools.lru_cache(maxsize=256)
def _functions(compiled, has_inputs, has_ports, detach_reset, dt):
    """The ``(advance, finish)`` functions printed from a compiled model's program
    (once per model, input/port presence, reset option and dt)."""
    src = torch_step_source(compiled, compiled.program(has_inputs, has_ports, detach_reset))
    from neuromod.backends.noise import FAMILIES
    ns = {"torch": torch, "_t": _t, "dt": dt}
    ns.update({f"_noise_{k}": fam for k, fam in FAMILIES.items()})
    exec(compile(src, f"<neuromod {compiled.model.name} step>", "exec"), ns)  # noqa: S102
    return ns["advance"], ns["finish"]


def firing_surrogate(model, surrogate=None, alpha: "float | None" = None):
    """The surrogate of a threshold model (default ``'fast_sigmoid'``), or None for a
    model with Bernoulli firing, which refuses one (one-line error)."""
    if model.firing is None:
        return get_surrogate(surrogate or "fast_sigmoid", alpha)
    if surrogate is not None or alpha is not None:
        from neuromod.errors import ParameterError
        raise ParameterError(
            f"model {model.name!r} fires by Bernoulli({model.firing.noise}) noise: its spike "
            "gradient is the noise density, a surrogate does not apply")
    return None


def _t(x):
    return x if isinstance(x, torch.Tensor) else torch.tensor(x)


def _ident(name):
    return "".join(part.capitalize() for part in re.split(r"[^0-9A-Za-z]+", name) if part)


@functools.lru_cache(maxsize=64)
def _torch_model(compiled):
    return TorchModel(compiled)


def compile_model(model) -> TorchModel:
    """The :class:`TorchModel` of ``model`` (cached by definition).

    Examples
    --------
    >>> from neuromod.neurons import lif
    >>> compile_model(lif()).states
    ('v', 'I_e', 'I_i')
    """
    return _torch_model(ir.compile_model(model))


class NeuronLayer(torch.nn.Module):
    """A population of ``n`` neurons of one model as a Torch module (batch x neurons x time).

    Parameters
    ----------
    model : NeuronModel
    n : int
        Number of neurons.
    dt : float or quantity
        Time step in seconds.
    drive : str or tuple of str, optional
        Where the input tensor goes: an input variable (``'I_ext'``, held over the
        step) or a port (``'e'``: added as ``sum_j w_ij s_j`` after the threshold,
        like a synapse with zero delay). Default: the model's first port, else
        its first input. A tuple of ``D`` input variables (the branch drives of a
        dendritic neuron) takes ``x`` of shape ``(batch, D, n, time)``, entry ``d``
        driving ``drive[d]``; it runs on the step-by-step path (the fused kernels
        take one drive).
    surrogate : str or Surrogate, optional
        Spike non-linearity of a threshold model (see
        :mod:`neuromod.backends.surrogate`; default ``'fast_sigmoid'``). A model with
        Bernoulli firing takes none: its gradient is its noise density.
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

    def __init__(self, model, n, dt, drive=None, surrogate=None, alpha=None,
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
        if isinstance(drive, (tuple, list)):
            drive = tuple(drive)
            bad = [d for d in drive if d not in model.inputs]
            if not drive or bad or len(set(drive)) != len(drive):
                raise ValueError(f"drive {drive!r}: several drives must be distinct input "
                                 f"variables of model {model.name!r} "
                                 f"({', '.join(model.inputs)})")
        elif drive not in model.ports and drive not in model.inputs:
            raise ValueError(f"drive {drive!r} is neither a port ({', '.join(model.ports)}) "
                             f"nor an input ({', '.join(model.inputs)}) of model {model.name!r}")
        self.drive = drive
        self.surrogate = firing_surrogate(model, surrogate, alpha)
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
        if not self.fused or x.device.type != "cpu" or isinstance(self.drive, tuple):
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

    def forward(self, x: torch.Tensor, state=None, record=(), return_state: bool = False,
                generator: "torch.Generator | None" = None,
                variates: "torch.Tensor | None" = None):
        """Run the layer over the time axis of ``x``.

        Parameters
        ----------
        x : tensor, shape (batch, n, time)
            Drive per step, in the SI unit of the drive (amp for ``I_ext`` and
            for current ports, siemens for conductance ports); ``(batch, D, n,
            time)`` for a tuple of ``D`` drives.
        state : State, optional
            Continue from this state (returned by an earlier call); otherwise each
            call starts from the initial values -- no reset call is ever needed.
        record : sequence of str
            State variables to return as ``(batch, n, time)`` traces (value after
            each step, post reset).
        return_state : bool
            Also return the final state (for carrying it to the next call).
        generator : torch.Generator, optional
            Bernoulli firing: the source of the uniform variates, drawn once per call
            as ``torch.rand((time, batch, n), generator=generator, dtype=float64)``
            (:func:`neuromod.backends.noise.variates`; torch's default generator when
            omitted). The eager and fused paths give the same spikes for the same
            generator state.
        variates : tensor (time, batch, n), optional
            The variates themselves (instead of ``generator``).

        Returns
        -------
        spikes : tensor (batch, n, time)
            0/1 with surrogate gradients. With ``record`` or ``return_state``,
            ``(spikes, traces, state)``.
        """
        multi = isinstance(self.drive, tuple)
        if multi and (x.ndim != 4 or tuple(x.shape[1:3]) != (len(self.drive), self.n)):
            raise ValueError(f"input must be (batch, {len(self.drive)}, {self.n}, time) for "
                             f"{len(self.drive)} drives, got {tuple(x.shape)}")
        if not multi and (x.ndim != 3 or x.shape[1] != self.n):
            raise ValueError(f"input must be (batch, {self.n}, time), got {tuple(x.shape)}")
        P = self.params()
        C = self.tm.coefficients(P, self.dt)
        B, T = x.shape[0], x.shape[-1]
        S = state if state is not None else self.tm.initial_state(B, self.n, P)
        R = None
        if self.tm.compiled.noise:
            from neuromod.backends.noise import variates as draw
            R = draw((T, B, self.n), generator, x.device) if variates is None else variates
            if tuple(R.shape) != (T, B, self.n):
                raise ValueError(f"variates must be (time, batch, n) = {(T, B, self.n)}, "
                                 f"got {tuple(R.shape)}")
        if self._use_fused(x, S, record, return_state):
            from neuromod.backends.fused import run_fused
            xt = x.to(P[0].dtype).permute(2, 0, 1)
            spikes, S, traces = run_fused(self._plan, xt, P, C, S, record=tuple(record),
                                          variates=R)
            spikes = spikes.permute(1, 2, 0)
            if not record and not return_state:
                return spikes
            return spikes, {v: tr.permute(1, 2, 0) for v, tr in traces.items()}, S
        drives = self.drive if multi else (self.drive,)
        slot = {u: drives.index(u) for u in self.tm.inputs if u in drives}  # input -> entry
        has_port = [p == self.drive for p in self.tm.ports]
        adv, fin = self.tm.functions([u in slot for u in self.tm.inputs], has_port,
                                     self.detach_reset,
                                     None if self.model.method == "exact" else self.dt)
        # (time, D, batch, n): entry d drives drives[d] (D = 1 for one drive)
        xt = (x.to(P[0].dtype) if multi else x.to(P[0].dtype)[:, None]).permute(3, 1, 0, 2)
        xt = xt.contiguous()
        out, rec = [], {v: [] for v in record}
        sur = self.surrogate
        for t in range(T):
            xk = xt[t]
            U = tuple(xk[slot[u]] if u in slot else None for u in self.tm.inputs)
            S, s, act = adv(S, P, C, U, sur, None if R is None else R[t], t)
            W = tuple(xk[0] if h else None for h in has_port)
            S = fin(S, s, act, P, C, U, W)
            out.append(s)
            for v in record:
                rec[v].append(getattr(S, v))
        spikes = torch.stack(out).permute(1, 2, 0)      # (time, batch, n) -> (batch, n, time) view
        if not record and not return_state:
            return spikes
        traces = {v: torch.stack(xs).permute(1, 2, 0) for v, xs in rec.items()}
        return spikes, traces, S
