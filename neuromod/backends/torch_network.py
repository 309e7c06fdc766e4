"""Torch backend for networks: populations, Poisson and spike-time sources, weight
matrices with delays, as a differentiable ``nn.Module``.

:class:`TorchNetwork` is built from a backend-neutral
:class:`~neuromod.backends.network.Network`. Weights become ``nn.Parameter``
(dense) or sparse values (``scipy.sparse`` input); :meth:`TorchNetwork.to_network`
writes trained weights back into a ``Network`` that the Brian2 backend runs.

Within a step all populations advance (state update, threshold), then all
connections propagate the step's spikes into delay buffers, then every
population applies the buffer slot due now to its ports and resets -- Brian2's
``groups -> thresholds -> synapses -> resets`` order.

Examples
--------
>>> import numpy as np, torch
>>> from neuromod.backends.network import Network
>>> from neuromod.neurons import lif
>>> net = Network()
>>> _ = net.add_population("a", lif(), 2, inputs={"I_ext": 3e-9})
>>> tnet = TorchNetwork(net, dt=1e-4, dtype=torch.float64)
>>> out = tnet(n_steps=200)
>>> tuple(out["a"].shape)
(1, 2, 200)
"""
import time

import numpy as np
import torch
from torch import nn

from neuromod.backends.coupling import conv_input
from neuromod.backends.network import (MAX_STEPS, ConvConnection, Network, SimulationResult,
                                       check_record, connection_bytes, n_steps_for, run_bytes,
                                       spike_table)
from neuromod.backends.surrogate import get_surrogate
from neuromod.backends.torch_backend import as_tensor, compile_model
from neuromod.errors import NeuromodError
from neuromod.limits import check_allocation, check_int, check_seed

__all__ = ["TorchNetwork", "run_torch"]


class _Conn:
    """One connection split into delay groups."""

    def __init__(self, conn, steps, sparse):
        self.conn = conn
        self.groups = []      # (delay_steps, payload)
        self.sparse = sparse


class TorchNetwork(nn.Module):
    """A :class:`Network` as a Torch module.

    Parameters
    ----------
    net : Network
    dt : float
        Time step in seconds.
    dtype : torch.dtype
        ``torch.float32`` or ``torch.float64``.
    device : str or torch.device, optional
    surrogate : str or Surrogate
        Spike non-linearity (see :mod:`neuromod.backends.surrogate`).
    alpha : float, optional
        Surrogate steepness.
    detach_reset : bool
        Stop gradients through the reset (the common choice; Zenke & Vogels 2021).

    Attributes
    ----------
    weights : nn.ParameterDict
        One entry per connection (dense matrix, or the values of a sparse one in
        row-major order of its pattern).
    """

    def __init__(self, net, dt, dtype=torch.float32, device=None, surrogate="fast_sigmoid",
                 alpha=None, detach_reset=True):
        super().__init__()
        self.net = net
        self.dt = float(dt)
        self.dtype = dtype
        self.surrogate = get_surrogate(surrogate, alpha)
        self.detach_reset = detach_reset
        dev = torch.device(device) if device is not None else torch.device("cpu")
        self.compiled = {name: compile_model(p.model) for name, p in net.populations.items()}
        self.weights = nn.ParameterDict()
        self._conns = []
        self._param_values = {name: p.resolved_params() for name, p in net.populations.items()}
        for k, c in enumerate(net.connections):
            key = f"c{k}"
            if isinstance(c, ConvConnection):
                # the kernel is the trainable weight; conv2d delivers the spikes
                self.weights[key] = nn.Parameter(torch.tensor(c.kernel, dtype=dtype, device=dev))
                self._conns.append({"conn": c, "key": key, "conv": True, "sparse": False,
                                    "n_post": net.populations[c.target].n,
                                    "groups": [{"d": int(round(c.delays / self.dt))}]})
                continue
            pre, post, w, d = c.coo()
            steps = np.round(d / self.dt).astype(np.int64)  # Brian2: round(delay/dt)
            sparse = hasattr(c.weights, "tocoo")
            entry = {"conn": c, "key": key, "sparse": sparse, "groups": [],
                     "n_post": net.populations[c.target].n}
            if sparse:
                self.weights[key] = nn.Parameter(torch.tensor(w, dtype=dtype, device=dev))
                for ds in np.unique(steps):
                    sel = np.flatnonzero(steps == ds)
                    # CSR by pre (sel is already row-major sorted)
                    rows = pre[sel]
                    crow = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=net.size(c.source)))))
                    entry["groups"].append({
                        "d": int(ds),
                        "sel": torch.as_tensor(sel, device=dev),
                        "pre": torch.as_tensor(rows, device=dev),
                        "post": torch.as_tensor(post[sel], device=dev),
                        "crow": torch.as_tensor(crow, device=dev)})
            else:
                W = np.asarray(c.weights, dtype=np.float64)
                # a copy: training must not change the network description in place
                self.weights[key] = nn.Parameter(torch.tensor(W, dtype=dtype, device=dev))
                uniq = np.unique(steps)
                for ds in uniq:
                    if uniq.size == 1:
                        mask = None
                    else:
                        M = np.zeros(W.shape, dtype=bool)
                        sel = steps == ds
                        M[pre[sel], post[sel]] = True
                        mask = torch.as_tensor(M, device=dev)
                    entry["groups"].append({"d": int(ds), "mask": mask})
            self._conns.append(entry)
        self._device = dev
        self._synapse_bytes = connection_bytes(net, self.dt)   # fixed for the module's life
        self.max_delay = max([g["d"] for e in self._conns for g in e["groups"]] + [0])

    # ------------------------------------------------------------------ helpers
    def _params(self, name, overrides=None):
        p = self.net.populations[name]
        vals = dict(self._param_values[name])
        vals.update(overrides or {})
        return self.compiled[name].params(p.n, vals, dtype=self.dtype, device=self._device)

    def _propagate(self, entry, s_pre, grad, act=None):
        """Weighted spike sums ``(B, n_post)`` per delay group of one connection.

        Without autograd the sums are event-driven: only the rows of the
        presynaptic neurons in ``act`` (those that spiked in any batch entry) are read.
        """
        W = self.weights[entry["key"]]
        if entry.get("conv"):
            c = entry["conn"]
            return [(entry["groups"][0]["d"], conv_input(s_pre, W, c.shape, c.boundary))]
        out = []
        B = s_pre.shape[0]
        n_post = entry["n_post"]
        for g in entry["groups"]:
            if entry["sparse"]:
                if not grad:
                    starts = g["crow"][act]
                    counts = g["crow"][act + 1] - starts
                    total = int(counts.sum())
                    if total == 0:
                        continue
                    offs = torch.repeat_interleave(starts - (torch.cumsum(counts, 0) - counts), counts)
                    idx = offs + torch.arange(total, device=s_pre.device)
                    vals = W[g["sel"][idx]]
                    if B == 1:
                        contrib = vals[None, :]   # spikes are 0/1: the active rows carry weight 1
                        if not bool(torch.all(s_pre[0, act] == 1)):
                            contrib = torch.repeat_interleave(s_pre[:, act], counts, dim=1) * vals
                    else:
                        contrib = torch.repeat_interleave(s_pre[:, act], counts, dim=1) * vals
                    inc = torch.zeros((B, n_post), dtype=s_pre.dtype, device=s_pre.device)
                    inc.index_add_(1, g["post"][idx], contrib)
                else:
                    vals = W[g["sel"]]
                    inc = torch.zeros((B, n_post), dtype=s_pre.dtype, device=s_pre.device)
                    inc = inc.index_add(1, g["post"], s_pre[:, g["pre"]] * vals)
            else:
                Wg = W if g["mask"] is None else W * g["mask"]
                if not grad:
                    inc = s_pre[:, act] @ Wg[act]
                else:
                    inc = s_pre @ Wg
            out.append((g["d"], inc))
        return out

    # ------------------------------------------------------------------ forward
    def forward(self, n_steps, batch=1, inputs=None, params=None, state=None, record=None,
                seed=None, return_state=False, source_spikes=None):
        """Run ``n_steps`` steps.

        Parameters
        ----------
        n_steps : int
        batch : int
        inputs : dict, optional
            ``inputs[pop][var]``: tensor ``(batch, n, n_steps)``, ``(n_steps, n)``,
            ``(n,)`` or scalar; defaults to the network's inputs.
        params : dict, optional
            ``params[pop][name]``: tensors replacing parameters (e.g. trained).
        state : dict, optional
            State returned by an earlier call with ``return_state=True``: the run
            continues from it (otherwise it starts from the initial values).
        record : dict of str to sequence of str, optional
            Variables to record; traces come back as ``(batch, n, n_steps)``.
        seed : int or torch.Generator, optional
            For Poisson sources, and for the variates of Bernoulli firing
            (:meth:`Network.firing_variates`, drawn before the first step).
        source_spikes : dict, optional
            ``source_spikes[name]``: ``(batch, n, n_steps)`` spikes replacing a source.

        Returns
        -------
        spikes : dict of str to tensor
            ``(batch, n, n_steps)`` per population (with surrogate gradients when
            autograd is on); if ``record`` or ``return_state``, a tuple
            ``(spikes, traces, state)``.
        """
        net = self.net
        n_steps = check_int("n_steps", n_steps, 1, MAX_STEPS)
        batch = check_int("batch", batch, 1)
        record = None if record is None else check_record(record)
        if not isinstance(seed, torch.Generator):
            seed = check_seed(seed)
        n_total = sum(int(p.n) for p in net.populations.values())
        itemsize = torch.empty((), dtype=self.dtype).element_size()
        # the run's arrays per batch entry, plus the spike tensors (batch, n, n_steps) returned
        check_allocation(batch * (run_bytes(net, n_steps, self.dt, record, self._synapse_bytes)
                                  + itemsize * n_total * n_steps),
                         f"TorchNetwork ({batch} x {n_total} neurons, {n_steps} steps)")
        dev, dtype = self._device, self.dtype
        grad = torch.is_grad_enabled()
        noise = net.firing_variates(n_steps, seed, batch, dev)
        gen = seed if isinstance(seed, torch.Generator) else None
        if gen is None:
            gen = torch.Generator(device=dev)
            if seed is not None:
                gen.manual_seed(int(seed))
            else:
                gen.seed()
        P, C, S, U = {}, {}, {}, {}
        for name, pop in net.populations.items():
            tm = self.compiled[name]
            P[name] = self._params(name, (params or {}).get(name))
            C[name] = tm.coefficients(P[name], self.dt)
            if state is not None:
                S[name] = state["neurons"][name]
            else:
                S[name] = tm.initial_state(batch, pop.n, P[name], init=pop.init or None)
            U[name] = []
            given = (inputs or {}).get(name, {})
            for var in tm.inputs:
                if var in given:
                    x = as_tensor(given[var], dtype, dev)
                elif var in pop.inputs:
                    x = as_tensor(net.input_array(name, var, n_steps), dtype, dev)
                else:
                    U[name].append(None)
                    continue
                if x.ndim == 3:
                    U[name].append(("bnt", x))
                elif x.ndim == 2:
                    U[name].append(("tn", x))
                else:
                    U[name].append(("c", x))
        fns = {}
        for name in net.populations:
            tm = self.compiled[name]
            ports_used = [any(c.target == name and c.port == p for c in net.connections) for p in tm.ports]
            fns[name] = tm.functions([u is not None for u in U[name]], ports_used, self.detach_reset,
                                     None if tm.model.method == "exact" else self.dt)
        # sources
        src = {}
        for name, g in net.generators.items():
            given = (source_spikes or {}).get(name)
            if given is not None:
                src[name] = ("given", as_tensor(given, dtype, dev))
            elif hasattr(g, "rates"):
                src[name] = ("poisson", as_tensor(np.broadcast_to(g.rates, (g.n,)) * self.dt, torch.float64, dev))
            else:
                src[name] = ("table", torch.as_tensor(spike_table(g.spikes, self.dt, n_steps),
                                                      device=dev))
        L = self.max_delay + 1
        if state is not None:
            pending, k0 = state["pending"], state["step"]
        else:
            pending, k0 = {}, 0
        rec = {name: {v: [] for v in vars_} for name, vars_ in (record or {}).items()}
        spikes_out = {name: [] for name in net.populations}
        pops = list(net.populations)
        used = {name: _used(net, name, self.compiled[name]) for name in pops}
        n_of = {name: net.populations[name].n for name in pops}
        by_source = {}
        for entry in self._conns:
            by_source.setdefault(entry["conn"].source, []).append(entry)
        sur = self.surrogate if grad else _hard_spike

        def at(u, k):
            if u is None:
                return None
            return u[1][..., k] if u[0] == "bnt" else (u[1][k] if u[0] == "tn" else u[1])

        for k in range(n_steps):
            kk = k0 + k
            for name, vars_ in rec.items():
                for v in vars_:
                    vars_[v].append(_state_value(self.compiled[name], S[name], P[name], v))
            fired, actives, Uks = {}, {}, {}
            for name in pops:
                Uk = Uks[name] = tuple(at(u, k) for u in U[name])
                S[name], s, act = fns[name][0](S[name], P[name], C[name], Uk, sur,
                                               noise[name][k] if name in noise else None, kk)
                fired[name], actives[name] = s, act
                spikes_out[name].append(s if grad else s > 0)
            for name, (kind, x) in src.items():
                if kind == "poisson":
                    r = torch.rand((batch, x.shape[0]), generator=gen, dtype=torch.float64, device=dev)
                    fired[name] = (r < x).to(dtype)
                elif kind == "table":
                    fired[name] = x[kk].to(dtype).expand(batch, -1) if kk < x.shape[0] else \
                        torch.zeros((batch, x.shape[1]), dtype=dtype, device=dev)
                else:
                    fired[name] = x[..., k]
            for source, entries in by_source.items():
                s_pre = fired[source]
                act = None
                if not grad:
                    act = torch.nonzero(s_pre.any(0)).squeeze(1)
                    if act.numel() == 0:
                        continue
                for entry in entries:
                    c = entry["conn"]
                    for d, inc in self._propagate(entry, s_pre, grad, act):
                        key = ((kk + d) % L, c.target, c.port)
                        pending[key] = inc if key not in pending else pending[key] + inc
            for name in pops:
                tm = self.compiled[name]
                W = []
                for p, u in zip(tm.ports, used[name]):
                    w = pending.pop((kk % L, name, p), None)
                    if w is None and u:
                        w = torch.zeros((batch, n_of[name]), dtype=dtype, device=dev)
                    W.append(w)
                S[name] = fns[name][1](S[name], fired[name], actives[name], P[name], C[name],
                                       Uks[name], tuple(W))
        spikes = {name: torch.stack(v, dim=-1) if v else
                  torch.zeros((batch, net.populations[name].n, 0), dtype=dtype, device=dev)
                  for name, v in spikes_out.items()}
        if record is None and not return_state:
            return spikes
        traces = {name: {v: torch.stack(xs, dim=-1) if xs else None for v, xs in vars_.items()}
                  for name, vars_ in rec.items()}
        new_state = {"neurons": S, "pending": pending, "step": k0 + n_steps}
        return spikes, traces, new_state

    def to_network(self):
        """A copy of the network description holding the current (trained) weights."""
        import copy
        import scipy.sparse as sps
        net = copy.copy(self.net)
        net.connections = []
        for entry, c in zip(self._conns, self.net.connections):
            W = self.weights[entry["key"]].detach().cpu().double().numpy().copy()
            if entry.get("conv"):
                import dataclasses
                net.connections.append(dataclasses.replace(c, kernel=W))
            elif entry["sparse"]:
                pre, post, _, _ = c.coo()
                # keep the synapse pattern even where a weight became 0 (delays align with it)
                Wn = sps.coo_matrix((W, (pre, post)), shape=c.weights.shape).tocsr()
                net.connections.append(type(c)(c.source, c.target, c.port, Wn, c.delays, c.name))
            else:
                net.connections.append(type(c)(c.source, c.target, c.port, W, c.delays, c.name))
        return net


def _hard_spike(x, strict=True):
    """Heaviside without autograd bookkeeping (simulation without gradients)."""
    return ((x > 0) if strict else (x >= 0)).to(x.dtype)


def _used(net, name, tm):
    return [any(c.target == name and c.port == p for c in net.connections) for p in tm.ports]


def _state_value(tm, S, P, var):
    """A recorded variable's value after a step (a copy for a state variable)."""
    value = tm.value(var, S, P)
    return value.clone() if var in tm.states else value


def run_torch(net, duration, dt, record=None, seed=None, dtype=torch.float64, device=None,
              fused=True):
    """Simulate a :class:`Network` on the Torch backend (no gradients); see :meth:`Network.run`.

    On the CPU the fused kernels of :mod:`neuromod.backends.fastsim` run the loop
    (``fused=False``: the step-by-step :class:`TorchNetwork`, as on CUDA)."""
    if fused and (device is None or torch.device(device).type == "cpu"):
        from neuromod.backends.fastsim import run_fast, supported
        if all(supported(compile_model(p.model)) for p in net.populations.values()):
            return run_fast(net, duration, dt, record, seed, dtype)
    t0 = time.perf_counter()
    n_steps = n_steps_for(duration, dt)
    mod = TorchNetwork(net, dt, dtype=dtype, device=device)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    with torch.no_grad():
        spikes, traces, _ = mod(n_steps, batch=1, record=record or {}, seed=seed, return_state=True)
    run_s = time.perf_counter() - t1
    from neuromod.spikes import SpikeTrains
    out = {}
    for name, s in spikes.items():
        nz = torch.nonzero(s[0].T)           # (step, neuron) in time order
        steps = nz[:, 0].cpu().numpy()
        ids = nz[:, 1].cpu().numpy()
        order = np.lexsort((steps, ids))
        out[name] = SpikeTrains(steps[order] * dt, ids[order], t_start=0.0, t_stop=duration,
                                n_trains=net.populations[name].n)
    tr = {name: {v: x[0].detach().cpu().double().numpy() for v, x in vars_.items()}
          for name, vars_ in traces.items()}
    return SimulationResult(out, tr, np.arange(n_steps) * dt, "torch", dt, duration, build, run_s)
