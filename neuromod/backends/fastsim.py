"""Fused CPU simulation of a whole network without gradients (the Torch backend's
``Network.run`` on the CPU).

The eager Torch loop pays ~20 tensor operations per population and step; here the
same update -- generated from the same sympy analysis as the Torch code, printed
for scalars -- runs as two numba kernels per population and step (``advance``:
refractoriness, state update, threshold; ``finish``: ports, reset), and spikes
propagate through CSR synapse tables into per-port ring buffers, event by event.
Every model and method is covered (exact, exponential Euler, Euler). Poisson
sources draw from the same ``torch.Generator`` stream as the eager loop, so a seed
gives the same input spikes on both paths; results agree with the eager loop to
float rounding (synaptic inputs are summed in another order).

The generated kernels are loaded like those of :mod:`neuromod.backends.fused` (source
checked against its hash; numba's pickled on-disk cache only on request, see
:func:`neuromod.backends.fused.numba_cache`).
"""
import time

import numpy as np
import torch

from neuromod.backends.equations import ModelDefinitionError
from neuromod.backends.network import SimulationResult, n_steps_for, spike_table
from neuromod.backends.printers import scalar_step_source
from neuromod.backends.torch_backend import compile_model

__all__ = ["run_fast", "supported"]


def supported(tm) -> bool:
    """True when every expression of the model prints as scalar code."""
    try:
        _source(tm, (True,) * len(tm.inputs), (True,) * len(tm.ports), 1e-4)
        return True
    except ModelDefinitionError:
        return False


def _source(tm, has_inputs, has_ports, dt):
    """The scalar kernels of one population, printed from the model's step program."""
    return scalar_step_source(tm.compiled, tm.program(has_inputs, has_ports), dt)


def _propagation_source(cache):
    """Source of the event-driven propagation kernel (spikes through CSR tables into
    ring buffers)."""
    return "\n".join([
        "import numpy as np",
        "from numba import njit",
        "",
        "",
        f"@njit(cache={cache}, nogil=True, error_model='numpy')",
        "def propagate(idx, crow, post, w, dsteps, buf, k):",
        "    L = buf.shape[0]",
        "    for q in range(idx.shape[0]):",
        "        i = idx[q]",
        "        for s in range(crow[i], crow[i + 1]):",
        "            buf[(k + dsteps[s]) % L, post[s]] += w[s]",
        ""])


def _record_plan(tm, names, n, n_steps):
    """State rows to store per step: those recorded and those subexpressions need."""
    rows = set()
    idx = {s: i for i, s in enumerate(tm.states)}
    for v in names:
        if v in idx:
            rows.add(idx[v])
        else:
            used = {x.name for x in tm.compiled.subexpressions[v].free_symbols}
            rows |= {idx[x] for x in used if x in idx}
    return {i: np.empty((n, n_steps), np.float64) for i in sorted(rows)}


def _traces(tm, names, rows, P, shape):
    """Recorded variables ``(n, n_steps)``; subexpressions evaluated from the stored states
    (inputs taken as 0, as in the step-by-step path)."""
    out = {}
    idx = {s: i for i, s in enumerate(tm.states)}
    for v in names:
        if v in idx:
            out[v] = rows[idx[v]]
            continue
        S = tm.State(*[torch.from_numpy(rows[i]) if i in rows else torch.zeros(())
                       for i in range(len(tm.states))], torch.zeros(()))
        Pc = tm.Params(*[(t.double()[:, None] if t.ndim else t.double()) for t in P])
        val = tm.value(v, S, Pc)
        out[v] = np.broadcast_to(np.asarray(val, dtype=np.float64), shape).copy()
    return out


def _module(src):
    from neuromod.runtime import generated_module
    return generated_module(src)


def _numba_cache():
    from neuromod.runtime import numba_cache
    return numba_cache()


def run_fast(net, duration: float, dt: float, record: "dict | None" = None,
             seed: "int | None" = None, dtype: torch.dtype = torch.float64):
    """Simulate a :class:`Network` on the CPU without gradients; see :meth:`Network.run`."""
    from neuromod.spikes import SpikeTrains
    t0 = time.perf_counter()
    npdt = np.float64 if dtype == torch.float64 else np.float32
    n_steps = n_steps_for(duration, dt)
    record = record or {}
    pops = {}
    for name, pop in net.populations.items():
        tm = compile_model(pop.model)
        n = pop.n
        P = tm.params(n, pop.resolved_params(), dtype=torch.float64)
        C = tm.coefficients(P, dt)
        S = tm.initial_state(1, n, P, init=pop.init or None)
        has_in = [u in pop.inputs for u in tm.inputs]
        has_port = [any(c.target == name and c.port == p for c in net.connections) for p in tm.ports]
        mod = _module(_source(tm, has_in, has_port, dt))
        Pa = np.stack([np.broadcast_to(getattr(P, k).numpy(), (n,)) for k in tm.param_names]
                      ).astype(npdt) if tm.param_names else np.zeros((1, n), npdt)
        Ca = np.stack([np.broadcast_to(c.detach().numpy(), (n,)) for c in C.prop]).astype(npdt) \
            if C.prop else np.zeros((1, n), npdt)
        REF = np.ascontiguousarray(np.broadcast_to(C.ref_steps.numpy(), (n,)).astype(np.int32))
        X = np.stack([getattr(S, s)[0].detach().numpy() for s in tm.states]).astype(npdt)
        inputs = []
        for k, u in enumerate(tm.inputs):
            inputs.append(net.input_array(name, u, n_steps).astype(npdt) if has_in[k] else None)
        U = np.zeros((max(len(tm.inputs), 1), n), npdt)
        for k, arr in enumerate(inputs):
            if arr is not None and arr.ndim == 1:
                U[k] = arr
        pops[name] = dict(tm=tm, mod=mod, P=Pa, C=Ca, REF=REF, X=X, R=np.zeros(n, np.int32),
                          inputs=inputs, U=U, spk=np.zeros(n, np.bool_), act=np.zeros(n, np.bool_),
                          W=np.zeros((max(len(tm.ports), 1), n), npdt), n=n, times=[], ids=[],
                          rec=_record_plan(tm, record.get(name, ()), n, n_steps), Ptorch=P)
    prop = _module(_propagation_source(_numba_cache())).propagate
    max_d = 0
    conns = []
    for c in net.connections:
        pre, post, w, d = c.coo()
        steps = np.round(d / dt).astype(np.int64)
        max_d = max(max_d, int(steps.max()) if steps.size else 0)
        crow = np.concatenate(([0], np.cumsum(np.bincount(pre, minlength=net.size(c.source))))).astype(np.int64)
        conns.append((c, crow, post.astype(np.int64), w.astype(npdt), steps))
    Lbuf = max_d + 1
    bufs = {}
    for c, *_ in conns:
        key = (c.target, c.port)
        if key not in bufs:
            bufs[key] = np.zeros((Lbuf, net.populations[c.target].n), npdt)
    noise = {k: v[:, 0].numpy() for k, v in net.firing_variates(n_steps, seed).items()}
    no_noise = np.zeros(1, np.float64)
    gen = torch.Generator()
    if seed is not None:
        gen.manual_seed(int(seed))
    else:
        gen.seed()
    src = {}
    for name, g in net.generators.items():
        if hasattr(g, "rates"):
            src[name] = ("poisson", torch.as_tensor(np.broadcast_to(g.rates, (g.n,)) * dt,
                                                    dtype=torch.float64))
        else:
            src[name] = ("table", spike_table(g.spikes, dt, n_steps))
    by_source = {}
    for entry in conns:
        by_source.setdefault(entry[0].source, []).append(entry)
    port_index = {name: {p: k for k, p in enumerate(st["tm"].ports)} for name, st in pops.items()}
    # compile (or load) the kernels now, on empty arrays of the run's types: the run
    # time below is the simulation alone
    for st in pops.values():
        z = lambda a: a[..., :0]   # noqa: E731
        st["mod"].advance(z(st["X"]), z(st["R"]), z(st["P"]), z(st["C"]), z(st["REF"]), z(st["U"]),
                          z(st["spk"]), z(st["act"]), z(no_noise), 0)
        st["mod"].finish(z(st["X"]), z(st["P"]), z(st["C"]), z(st["U"]), z(st["W"]), z(st["spk"]),
                         z(st["act"]))
    for c, crow, post, w, steps in conns:
        prop(np.empty(0, np.int64), crow, post, w, steps, bufs[(c.target, c.port)], 0)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    items = list(pops.items())
    for k in range(n_steps):
        fired = {}
        for name, st in items:
            for i, arr in st["rec"].items():
                arr[:, k] = st["X"][i]
            U = st["U"]
            for q, arr in enumerate(st["inputs"]):
                if arr is not None and arr.ndim == 2:
                    U[q] = arr[k]
            rnd = noise[name][k] if name in noise else no_noise
            st["mod"].advance(st["X"], st["R"], st["P"], st["C"], st["REF"], U, st["spk"], st["act"],
                              rnd, k)
            idx = np.flatnonzero(st["spk"])
            fired[name] = idx
            if idx.size:
                st["times"].append(np.full(idx.size, k))
                st["ids"].append(idx)
        for name, (kind, x) in src.items():
            if kind == "poisson":
                r = torch.rand((1, x.shape[0]), generator=gen, dtype=torch.float64)
                fired[name] = np.flatnonzero((r[0] < x).numpy())
            else:
                fired[name] = np.flatnonzero(x[k]) if k < x.shape[0] else np.empty(0, np.int64)
        for source, entries in by_source.items():
            idx = fired[source]
            if idx.size == 0:
                continue
            for c, crow, post, w, steps in entries:
                prop(idx, crow, post, w, steps, bufs[(c.target, c.port)], k)
        slot = k % Lbuf
        for name, st in items:
            W = st["W"]
            for p, q in port_index[name].items():
                b = bufs.get((name, p))
                if b is not None:
                    W[q] = b[slot]
                    b[slot] = 0.0
            st["mod"].finish(st["X"], st["P"], st["C"], st["U"], W, st["spk"], st["act"])
    run_s = time.perf_counter() - t1
    spikes, traces = {}, {}
    for name, st in items:
        if st["times"]:
            steps = np.concatenate(st["times"])
            ids = np.concatenate(st["ids"])
        else:
            steps = ids = np.empty(0, np.int64)
        order = np.lexsort((steps, ids))
        spikes[name] = SpikeTrains(steps[order] * dt, ids[order], t_start=0.0, t_stop=duration,
                                   n_trains=st["n"])
        if record.get(name):
            traces[name] = _traces(st["tm"], record[name], st["rec"], st["Ptorch"], (st["n"], n_steps))
    return SimulationResult(spikes, traces, np.arange(n_steps) * dt, "torch", dt, duration, build, run_s)
