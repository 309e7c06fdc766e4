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

from neuromod.backends.equations import torch_code
from neuromod.backends.network import SimulationResult, n_steps_for, spike_table
from neuromod.backends.torch_backend import compile_model

__all__ = ["run_fast", "supported"]

_MATH = (("torch.expm1(", "math.expm1("), ("torch.exp(", "math.exp("), ("torch.log(", "math.log("),
         ("torch.sqrt(", "math.sqrt("), ("torch.abs(", "abs("), ("torch.minimum(", "min("),
         ("torch.maximum(", "max("), ("_t(", "("), ("torch.sinh(", "math.sinh("),
         ("torch.cosh(", "math.cosh("), ("torch.tanh(", "math.tanh("), ("torch.sin(", "math.sin("),
         ("torch.cos(", "math.cos("), ("torch.tan(", "math.tan("), ("torch.atan(", "math.atan("))


def _scalar(expr, names):
    code = torch_code(expr, names)
    for a, b in _MATH:
        code = code.replace(a, b)
    if "torch." in code:
        raise NotImplementedError(code)
    return code


def supported(tm):
    """True when every expression of the model prints as scalar code."""
    try:
        _source(tm, (True,) * len(tm.inputs), (True,) * len(tm.ports), 1e-4)
        return True
    except NotImplementedError:
        return False


def _load_locals(a, tm, has_inputs, indent):
    """Lines binding neuron ``j``'s states, parameters and inputs to local names."""
    for i, s in enumerate(tm.states):
        a(f"{indent}x_{s} = X[{i}, j]")
    for k, p in enumerate(tm.param_names):
        a(f"{indent}p_{p} = P[{k}, j]")
    for k, u in enumerate(tm.inputs):
        a(f"{indent}u_{u} = U[{k}, j]" if has_inputs[k] else f"{indent}u_{u} = 0.0")


def _source(tm, has_inputs, has_ports, dt):
    an, model = tm.an, tm.model
    N = tm._names
    cidx = {f: k for k, f in enumerate(f for f in tm.Coeffs._fields if f != "ref_steps")}
    L = []
    a = L.append
    I = "        "
    cache = _numba_cache()
    a("import math")
    a("from numba import njit")
    a("")
    a(f"@njit(cache={cache}, nogil=True, error_model='numpy')")
    a("def advance(X, R, P, C, REF, U, spk, act):")
    a("    for j in range(X.shape[1]):")
    _load_locals(a, tm, has_inputs, I)
    if tm.has_refractory:
        a(f"{I}refrac = R[j] - 1")
        a(f"{I}active = refrac <= 0")
    else:
        a(f"{I}refrac = R[j]")
        a(f"{I}active = True")
    refr = {tm._idx[s] for s in an.refractory_states}
    if model.method == "exact":
        fields = set(tm.Coeffs._fields)
        for i, s in enumerate(tm.states):
            exprs = []
            for variant in ("", "r") if i in tm._ref_rows else ("",):
                if variant == "r" and i in refr:
                    exprs.append(f"x_{s}")
                    continue
                terms = [f"C[{cidx[f'E{variant}_{i}_{j}']}, j]*x_{tm.states[j]}"
                         for j in sorted(tm._reach[i])]
                if tm._linear_inputs:
                    if f"K{variant}_{i}" in fields:
                        terms.append(f"C[{cidx[f'K{variant}_{i}']}, j]")
                    for k, u in enumerate(tm.inputs):
                        if has_inputs[k] and f"G{variant}_{i}_{k}" in fields:
                            terms.append(f"C[{cidx[f'G{variant}_{i}_{k}']}, j]*u_{u}")
                else:
                    for jj in sorted(tm._reach[i]):
                        sj = tm.states[jj]
                        if sj in an.c and not (variant == "r" and jj in refr):
                            terms.append(f"C[{cidx[f'F{variant}_{i}_{jj}']}, j]*({_scalar(an.c[sj], N)})")
                exprs.append(" + ".join(terms) if terms else "0.0")
            if len(exprs) == 1:
                a(f"{I}n_{s} = {exprs[0]}")
            else:
                a(f"{I}n_{s} = ({exprs[0]}) if active else ({exprs[1]})")
    elif model.method == "exponential_euler":
        for i, s in enumerate(tm.states):
            av, bv = an.expeuler[s]
            if av == 0:
                a(f"{I}n_{s} = x_{s} + {dt!r}*({_scalar(bv, N)})")
            else:
                a(f"{I}_a = {_scalar(av, N)}")
                a(f"{I}_b = {_scalar(bv, N)}")
                a(f"{I}n_{s} = x_{s} + (x_{s} + _b/_a)*math.expm1(_a*{dt!r})")
            if i in refr:
                a(f"{I}if not active:")
                a(f"{I}    n_{s} = x_{s}")
    else:
        for i, s in enumerate(tm.states):
            a(f"{I}n_{s} = x_{s} + {dt!r}*({_scalar(an.rhs[s], N)})")
            if i in refr:
                a(f"{I}if not active:")
                a(f"{I}    n_{s} = x_{s}")
    for i, s in enumerate(tm.states):
        a(f"{I}X[{i}, j] = n_{s}")
    if an.threshold is not None:
        for s in tm.states:
            a(f"{I}x_{s} = n_{s}")
        a(f"{I}_d = {_scalar(an.threshold, N)}")
        a(f"{I}fired = active and _d {'>' if an.threshold_strict else '>='} 0.0")
    else:
        a(f"{I}fired = False")
    a(f"{I}if fired:")
    a(f"{I}    refrac = REF[j]" if tm.has_refractory else f"{I}    pass")
    a(f"{I}    active = False")
    a(f"{I}R[j] = refrac")
    a(f"{I}spk[j] = fired")
    a(f"{I}act[j] = active")
    a("")
    a(f"@njit(cache={cache}, nogil=True, error_model='numpy')")
    a("def finish(X, P, C, U, W, spk, act):")
    a("    for j in range(X.shape[1]):")
    _load_locals(a, tm, has_inputs, I)
    for k, port in enumerate(tm.ports):
        if not has_ports[k]:
            continue
        for target, coef in an.ports[port]:
            inc = f"W[{k}, j]" if coef == 1 else f"({_scalar(coef, N)})*W[{k}, j]"
            if target in an.refractory_states and tm.has_refractory:
                a(f"{I}if act[j]:")
                a(f"{I}    x_{target} = x_{target} + {inc}")
            else:
                a(f"{I}x_{target} = x_{target} + {inc}")
    if an.reset:
        a(f"{I}if spk[j]:")
        for target, op, ex in an.reset:
            code = _scalar(ex, N)
            if op == "=":
                a(f"{I}    x_{target} = {code}")
            else:
                a(f"{I}    x_{target} = x_{target} {op[0]} ({code})")
    for i, s in enumerate(tm.states):
        a(f"{I}X[{i}, j] = x_{s}")
    return "\n".join(L) + "\n"


_PROP_SRC = '''import numpy as np
from numba import njit


@njit(cache=CACHE, nogil=True, error_model="numpy")
def propagate(idx, crow, post, w, dsteps, buf, k):
    L = buf.shape[0]
    for q in range(idx.shape[0]):
        i = idx[q]
        for s in range(crow[i], crow[i + 1]):
            buf[(k + dsteps[s]) % L, post[s]] += w[s]
'''


def _record_plan(tm, names, n, n_steps):
    """State rows to store per step: those recorded and those subexpressions need."""
    rows = set()
    for v in names:
        if v in tm._idx:
            rows.add(tm._idx[v])
        else:
            used = {x.name for x in tm.an.subexpressions[v].free_symbols}
            rows |= {tm._idx[x] for x in used if x in tm._idx}
    return {i: np.empty((n, n_steps), np.float64) for i in sorted(rows)}


def _traces(tm, names, rows, P, shape):
    """Recorded variables ``(n, n_steps)``; subexpressions evaluated from the stored states
    (inputs taken as 0, as in the step-by-step path)."""
    out = {}
    for v in names:
        if v in tm._idx:
            out[v] = rows[tm._idx[v]]
            continue
        ns = {"torch": torch}
        for s, i in tm._idx.items():
            if i in rows:
                ns[f"x_{s}"] = torch.from_numpy(rows[i])
        for p in tm.param_names:
            t = getattr(P, p).double()
            ns[f"p_{p}"] = t[:, None] if t.ndim else t
        for u in tm.inputs:
            ns[f"u_{u}"] = 0.0
        val = eval(torch_code(tm.an.subexpressions[v], tm._names), ns)  # noqa: S307 -- generated
        out[v] = np.broadcast_to(np.asarray(val, dtype=np.float64), shape).copy()
    return out


def _module(src):
    from neuromod.runtime import generated_module
    return generated_module(src)


def _numba_cache():
    from neuromod.runtime import numba_cache
    return numba_cache()


def run_fast(net, duration, dt, record=None, seed=None, dtype=torch.float64):
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
        cf = [f for f in tm.Coeffs._fields if f != "ref_steps"]
        Ca = np.stack([np.broadcast_to(getattr(C, f).detach().numpy(), (n,)) for f in cf]).astype(npdt) \
            if cf else np.zeros((1, n), npdt)
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
    prop = _module(_PROP_SRC.replace("CACHE", _numba_cache())).propagate
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
                          z(st["spk"]), z(st["act"]))
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
            st["mod"].advance(st["X"], st["R"], st["P"], st["C"], st["REF"], U, st["spk"], st["act"])
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
