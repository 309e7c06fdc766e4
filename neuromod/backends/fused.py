"""Fused CPU kernels for :class:`~neuromod.backends.torch_backend.NeuronLayer`: the whole
time loop, forward and backward (BPTT), in one compiled numba loop.

The eager Torch path runs ~10-20 small tensor operations per time step and records
each for autograd; for a layer of neurons the dynamics are element-wise, so one
pass per step over the neurons, keeping everything in registers, does the same work
with far less memory traffic. This module does that for every model the exact
integrator covers, and for affine discrete-time maps (the same update): from the model's structure it generates a numba kernel pair
(forward, backward) with every loop over state variables unrolled and structural
zeros dropped, and keeps the generated source on disk (checked against its hash
before use, see :func:`neuromod.runtime.generated_module`). The state update is the propagator
``x' = E x + K + G u`` (``E_r``, ``K_r``, ``G_r`` while refractory), the threshold an
affine form ``d = a . x' + b``, the reset statements ``x_i = r`` / ``x_i += r`` with
parameter-only right-hand sides, and the drive either an input (through ``G``) or a
port (``x += coef * w`` after the threshold, masked on refractory variables as in
Brian2).

Backward, per neuron and step in reverse (``lam`` = dLoss/dstate after the step;
reset detached, as in the eager default)::

    lam_port = lam with the '=' reset targets of spiking neurons zeroed
    dL/dw_t  = sum_i lam_port_i coef_i           (port drive)
    lam_mid  = lam_port + a * g_t phi'(z_t) / scale      (only where the neuron could spike)
    dL/du_t  = G'^T lam_mid,   lam <- E'^T lam_mid

with ``z = d/scale`` and ``phi'`` the surrogate's derivative (for Bernoulli firing
``scale`` is the noise's standard deviation, the forward step fires where the step's
uniform variate is below ``F(z)`` and ``phi'`` is the noise density ``f``); gradients of ``E``,
``K``, ``G``, ``a``, ``b``, ``scale``, reset values and ``coef`` are accumulated
likewise (outer products with the stored pre-step state) and handed to autograd,
which carries them on to the parameters. The tests compare every gradient with
the eager autograd path in float64.

Applicability is decided by :func:`plan`; anything else (exponential Euler, custom
surrogates, recorded traces, CUDA tensors, non-detached reset) uses the eager path.
"""
import functools
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch

from neuromod.runtime import ensure_cache_dir, generated_module, numba_cache

ensure_cache_dir(__file__)   # before numba: a cache directory it can write (see there)

from numba import njit  # noqa: E402

from neuromod.backends.printers import SCALAR_DIALECT, print_expr

__all__ = ["plan", "run_fused", "Plan"]


def _parallel():
    """Compile with numba's parallel loops (default; ~2x faster kernels even on one thread,
    ~2x longer compilation). ``NEUROMOD_FUSED_PARALLEL=0`` selects plain loops."""
    import os
    return os.environ.get("NEUROMOD_FUSED_PARALLEL", "1") != "0"


_BLOCK = 128   # columns (batch x neuron) per block: each step's rows stay contiguous

def _source(pl):
    """Numba source of the forward and backward kernels specialised to a plan."""
    m = pl.m
    L = []
    a = L.append
    a("import math")
    a("import numpy as np")
    a("from numba import njit, prange")
    a("")
    par = _parallel()
    opts = f"cache={numba_cache()}, nogil=True, error_model='numpy'" + (", parallel=True" if par else "")
    head = "\n".join(["    T, BN = x.shape", "    N = bthr.shape[0]",
                      f"    nblocks = (BN + {_BLOCK - 1}) // {_BLOCK}"])
    loop = "\n".join([f"    for blk in {'prange' if par else 'range'}(nblocks):", f"        j0 = blk * {_BLOCK}",
                      f"        j1 = min(BN, j0 + {_BLOCK})", "        nstart = j0 % N"])
    inner = "\n".join(["            n = nstart - 1", "            for j in range(j0, j1):",
                       "                n += 1", "                if n == N:",
                       "                    n = 0"])
    I = " " * 16

    def upd(i, variant):
        """Propagator row i: expression in s*, u."""
        if variant == "r" and i in pl.frozen:
            return f"s{i}"
        rows = pl.rows_r if variant == "r" else pl.rows
        EE = "Er" if variant == "r" else "E"
        terms = [f"{EE}[{i}, {k}, n] * s{k}" for k in rows[i]]
        if pl.has_K[variant][i]:
            terms.append(f"{'Kr' if variant == 'r' else 'K'}[{i}, n]")
        if not pl.drive_is_port and pl.has_G[variant][i]:
            terms.append(f"{'Gr' if variant == 'r' else 'G'}[{i}, n] * u")
        return " + ".join(terms) if terms else "0.0"

    # ------------------------------------------------------------------ forward
    a(f"@njit({opts})")
    a("def forward(x, E, Er, K, Kr, G, Gr, A, bthr, scale, rval, coef, ref_steps, x0, r0,")
    a("            spikes, z_out, flags, xprev, keep_prev, rnd):")
    a(head)
    a(loop)
    a("        for t in range(T):")
    a(inner)
    for i in range(m):
        a(f"{I}s{i} = x0[{i}, j]")
    a(f"{I}if keep_prev:")
    for i in range(m):
        a(f"{I}    xprev[t, {i}, j] = s{i}")
    a(f"{I}u = x[t, j]")
    if pl.has_ref:
        a(f"{I}r = r0[j] - 1")
        a(f"{I}active = r <= 0")
        a(f"{I}if active:")
        for i in range(m):
            a(f"{I}    n{i} = {upd(i, '')}")
        a(f"{I}else:")
        for i in range(m):
            a(f"{I}    n{i} = {upd(i, 'r')}")
    else:
        a(f"{I}active = True")
        for i in range(m):
            a(f"{I}n{i} = {upd(i, '')}")
    thr = " + ".join([f"A[{i}, n] * n{i}" for i in pl.thr_nz] + ["bthr[n]"])
    a(f"{I}z = ({thr}) / scale[n]")
    a(f"{I}z_out[t, j] = z")
    if pl.noise_cdf:
        # Bernoulli firing: the step's uniform variate against F(z), z = d / sigma
        a(f"{I}fired = active and rnd[t, j] < {pl.noise_cdf}")
    else:
        a(f"{I}fired = active and z {'>' if pl.strict else '>='} 0.0")
    a(f"{I}fl = 1 if active else 0")
    a(f"{I}if fired:")
    a(f"{I}    fl += 2")
    if pl.has_ref:
        a(f"{I}    r = ref_steps[n]")
    a(f"{I}    active = False")
    a(f"{I}flags[t, j] = fl")
    a(f"{I}spikes[t, j] = 1.0 if fired else 0.0")
    if pl.drive_is_port:
        for i in pl.coef_nz:
            if pl.cmask[i]:
                a(f"{I}if active:")
                a(f"{I}    n{i} += coef[{i}, n] * u")
            else:
                a(f"{I}n{i} += coef[{i}, n] * u")
    if pl.resets:
        a(f"{I}if fired:")
        for q, (i, op) in enumerate(pl.reset_ops):
            a(f"{I}    n{i} = rval[{q}, n]" if op == 0 else f"{I}    n{i} += rval[{q}, n]")
    for i in range(m):
        a(f"{I}x0[{i}, j] = n{i}")
    if pl.has_ref:
        a(f"{I}r0[j] = r")
    a("")
    # ------------------------------------------------------------------ backward
    a(f"@njit({opts})")
    a("def backward(gs, x, E, Er, K, Kr, G, Gr, A, bthr, scale, rval, coef, z_out, flags, xprev,")
    a("             want, alpha, gx, gE, gEr, gK, gKr, gG, gGr, gA, gb, gscale, grval,")
    a("             gcoef):")
    a(head)
    a(loop)
    a(f"        lams = np.zeros((j1 - j0, {m}), dtype=E.dtype)")
    a("        for t in range(T - 1, -1, -1):")
    a(inner)
    a(f"{I}jj = j - j0")
    for i in range(m):
        a(f"{I}l{i} = lams[jj, {i}]")
    a(f"{I}fl = flags[t, j]")
    a(f"{I}active_pre = (fl & 1) != 0")
    a(f"{I}fired = (fl & 2) != 0")
    a(f"{I}u = x[t, j]")
    if pl.resets:
        a(f"{I}if fired:")
        for q in range(len(pl.reset_ops) - 1, -1, -1):
            i, op = pl.reset_ops[q]
            a(f"{I}    if want:")
            a(f"{I}        grval[{q}, j] += l{i}")
            if op == 0:
                a(f"{I}    l{i} = 0.0")
    if pl.drive_is_port:
        a(f"{I}active_post = active_pre and not fired")
        a(f"{I}g = 0.0")
        for i in pl.coef_nz:
            ind = f"{I}    " if pl.cmask[i] else I
            if pl.cmask[i]:
                a(f"{I}if active_post:")
            a(f"{ind}g += l{i} * coef[{i}, n]")
            a(f"{ind}if want:")
            a(f"{ind}    gcoef[{i}, j] += l{i} * u")
        a(f"{I}gx[t, j] = g")
    a(f"{I}if active_pre:")
    a(f"{I}    z = z_out[t, j]")
    # the surrogate's derivative, printed from its formula (Bernoulli: the noise density)
    a(f"{I}    _dp = {pl.surrogate_code}")
    a(f"{I}    gz = gs[t, j] * _dp")
    a(f"{I}    if gz != 0.0:")
    a(f"{I}        gd = gz / scale[n]")
    for i in pl.thr_nz:
        a(f"{I}        l{i} += gd * A[{i}, n]")
    a(f"{I}        if want:")
    a(f"{I}            gb[j] += gd")
    a(f"{I}            gscale[j] -= gz * z / scale[n]")
    for k in range(m):
        a(f"{I}            s{k} = xprev[t, {k}, j]")
    for i in pl.thr_nz:
        a(f"{I}            gA[{i}, j] += gd * ({upd(i, '')})")
    for variant in (("", "r") if pl.has_ref else ("",)):
        ind = I + "    " if pl.has_ref else I
        if pl.has_ref:
            a(f"{I}{'if active_pre:' if variant == '' else 'else:'}")
        EE, KK, GG = ("Er", "Kr", "Gr") if variant == "r" else ("E", "K", "G")
        gE_, gK_, gG_ = ("gEr", "gKr", "gGr") if variant == "r" else ("gE", "gK", "gG")
        rows = pl.rows_r if variant == "r" else pl.rows
        a(f"{ind}if want:")
        wrote = False
        for i in range(m):
            if variant == "r" and i in pl.frozen:
                continue
            for k in rows[i]:
                a(f"{ind}    {gE_}[{i}, {k}, j] += l{i} * xprev[t, {k}, j]")
                wrote = True
            if pl.has_K[variant][i]:
                a(f"{ind}    {gK_}[{i}, j] += l{i}")
                wrote = True
            if not pl.drive_is_port and pl.has_G[variant][i]:
                a(f"{ind}    {gG_}[{i}, j] += l{i} * u")
                wrote = True
        if not wrote:
            a(f"{ind}    pass")
        if not pl.drive_is_port:
            terms = [f"{GG}[{i}, n] * l{i}" for i in range(m)
                     if pl.has_G[variant][i] and not (variant == "r" and i in pl.frozen)]
            a(f"{ind}gx[t, j] = {' + '.join(terms) if terms else '0.0'}")
        for k in range(m):
            terms = []
            for i in range(m):
                if variant == "r" and i in pl.frozen:
                    if i == k:
                        terms.append(f"l{i}")
                elif k in rows[i]:
                    terms.append(f"{EE}[{i}, {k}, n] * l{i}")
            a(f"{ind}m{k} = {' + '.join(terms) if terms else '0.0'}")
        for k in range(m):
            a(f"{ind}l{k} = m{k}")
    for i in range(m):
        a(f"{I}lams[jj, {i}] = l{i}")
    return "\n".join(L) + "\n"


@functools.lru_cache(maxsize=64)
def _kernels(pl):
    """Compile the kernels of a plan (once per process; see
    :func:`neuromod.runtime.generated_module`)."""
    return generated_module(_source(pl))


@dataclass(frozen=True, eq=False)
class Plan:
    """Static structure of a model for the fused kernels (see :func:`plan`); read-only.

    Built from the public :class:`~neuromod.backends.ir.CompiledModel` of the layer's
    :class:`~neuromod.backends.torch_backend.TorchModel`: the rows of the exact
    propagator (positions in its layout), the affine threshold, the reset values and
    the drive's port coefficients."""
    tm: object
    m: int
    drive_is_port: bool
    kin: int
    alpha: float
    surrogate_code: str
    noise_cdf: str
    strict: bool
    thr_a: tuple
    thr_b: object
    resets: tuple
    coef: object
    cmask: tuple
    has_ref: bool
    rows: tuple
    rows_r: tuple
    frozen: frozenset
    has_K: object
    has_G: object
    thr_nz: tuple
    reset_ops: tuple
    coef_nz: tuple


def _plan(tm, drive, surrogate, affine):
    import sympy as sp
    cm = tm.compiled
    m = len(cm.states)
    pos = cm.layout.position
    drive_is_port = drive in cm.ports
    kin = cm.inputs.index(drive) if not drive_is_port else -1
    coef = {}
    if drive_is_port:
        for target, c in cm.port_terms[cm.ports.index(drive)]:
            coef[target] = coef[target] + c if target in coef else c
    resets = tuple((i, 0 if op == "=" else 1, ex if op != "-=" else -ex)
                   for i, op, ex in cm.resets)
    has_K = {"": tuple(pos("K", i) is not None for i in range(m))}
    has_G = {"": tuple(kin >= 0 and pos("G", i, kin) is not None for i in range(m))}
    has_K["r"] = tuple((pos("K", i, -1, True) is not None) if i in cm.ref_rows
                       else has_K[""][i] for i in range(m))
    has_G["r"] = tuple((kin >= 0 and pos("G", i, kin, True) is not None) if i in cm.ref_rows
                       else has_G[""][i] for i in range(m))
    if cm.noise:
        from neuromod.backends.noise import family
        fam = family(cm.noise)
        code, noise_cdf, alpha_value = fam.py_pdf, fam.py_cdf, 0.0
    else:
        z, alpha = sp.Symbol("z", real=True), sp.Symbol("alpha", positive=True)
        code = print_expr(type(surrogate).formula(z, alpha), {"z": "z", "alpha": "alpha"},
                          SCALAR_DIALECT)
        noise_cdf, alpha_value = "", surrogate.alpha
    rows = tuple(tuple(sorted(cm.reach[i])) for i in range(m))
    thr_a, thr_b = affine
    return Plan(
        tm=tm, m=m, drive_is_port=drive_is_port, kin=kin, alpha=alpha_value,
        surrogate_code=code, noise_cdf=noise_cdf, strict=cm.strict, thr_a=thr_a, thr_b=thr_b, resets=resets,
        coef=MappingProxyType(coef),
        cmask=tuple(i in cm.refractory_rows and cm.has_refractory for i in range(m)),
        has_ref=cm.has_refractory, rows=rows, rows_r=rows,
        frozen=frozenset(i for i in cm.refractory_rows if i in cm.ref_rows),
        has_K=MappingProxyType(has_K), has_G=MappingProxyType(has_G),
        thr_nz=tuple(i for i, a in enumerate(thr_a) if sp.simplify(a) != 0),
        reset_ops=tuple((i, op) for i, op, _ in resets), coef_nz=tuple(sorted(coef)))


def plan(tm, drive: str, surrogate, detach_reset: bool) -> "Plan | None":
    """A :class:`Plan` when the fused kernels apply to this model and options, else None:
    exact integration with inputs entering linearly (or an affine discrete-time map,
    ``x' = E x + K + G u``, the same kernel), a threshold affine in the states
    with parameter-only coefficients, ``=``/``+=``/``-=`` resets with parameter-only
    values, a detached reset and a surrogate that has a :meth:`formula
    <neuromod.backends.surrogate.Surrogate.formula>`."""
    cm = tm.compiled
    if cm.method not in ("exact", "map") or not cm.linear_inputs or not detach_reset:
        return None
    if cm.noise is None and type(surrogate).formula(0, 1) is None:
        return None
    affine = cm.threshold_affine()
    if affine is None:
        return None
    dynamic = {cm.symbols[s] for s in cm.states} | {cm.symbols[u] for u in cm.inputs}
    for _, op, ex in cm.resets:
        if op not in ("=", "+=", "-=") or ex.free_symbols & dynamic:
            return None
    return _plan(tm, drive, surrogate, affine)


def _full(val, N, dtype):
    return torch.broadcast_to(val.to(dtype), (N,))


def coefficient_tensors(pl: "Plan", P, C, N: int, dtype: torch.dtype) -> tuple:
    """The kernel's coefficient tensors, built with differentiable torch operations
    from the layout-ordered ``C.prop``."""
    tm, m = pl.tm, pl.m
    cm = tm.compiled
    pos = cm.layout.position
    zero = torch.zeros(N, dtype=dtype, device=P[0].device)
    one = torch.ones(N, dtype=dtype, device=P[0].device)

    def entry(kind, i, k=-1, refractory=False):
        p = pos(kind, i, k, refractory)
        return zero if p is None else _full(C.prop[p], N, dtype)

    E, Er, K, Kr, G, Gr = [], [], [], [], [], []
    for i in range(m):
        E.append(torch.stack([entry("E", i, k) for k in range(m)]))
        K.append(entry("K", i))
        G.append(entry("G", i, pl.kin) if pl.kin >= 0 else zero)
        if i in pl.frozen:
            Er.append(torch.stack([one if k == i else zero for k in range(m)]))
            Kr.append(zero)
            Gr.append(zero)
        elif i in cm.ref_rows:
            Er.append(torch.stack([entry("E", i, k, True) for k in range(m)]))
            Kr.append(entry("K", i, -1, True))
            Gr.append(entry("G", i, pl.kin, True) if pl.kin >= 0 else zero)
        else:
            Er.append(E[-1])
            Kr.append(K[-1])
            Gr.append(G[-1])
    ev = tm.parameter_value
    A = torch.stack([_full(ev(a, P), N, dtype) for a in pl.thr_a])
    b = _full(ev(pl.thr_b, P), N, dtype)
    scale = _full(C.scale, N, dtype)
    rval = torch.stack([_full(ev(ex, P), N, dtype) for _, _, ex in pl.resets]) if pl.resets \
        else torch.zeros((0, N), dtype=dtype)
    coef = torch.stack([_full(ev(pl.coef[i], P), N, dtype) if i in pl.coef else zero
                        for i in range(m)])
    return (torch.stack(E).contiguous(), torch.stack(Er).contiguous(), torch.stack(K),
            torch.stack(Kr), torch.stack(G), torch.stack(Gr), A, b, scale, rval, coef)


class _Fused(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, E, Er, K, Kr, G, Gr, A, b, scale, rval, coef, x0, r0, pl, want_params,
                ref, keep_states, rnd):
        T, B, N = x.shape
        BN = B * N
        xn = x.detach().reshape(T, BN).numpy()
        args = [a.detach().contiguous().numpy() for a in (E, Er, K, Kr, G, Gr, A, b, scale, rval, coef)]
        st = x0.detach().reshape(pl.m, BN).numpy().copy()
        rr = r0.detach().reshape(BN).numpy().astype(np.int32).copy()
        spikes = np.empty((T, BN), dtype=xn.dtype)
        z = np.empty((T, BN), dtype=xn.dtype)
        flags = np.empty((T, BN), dtype=np.uint8)
        keep = bool(want_params or keep_states)
        # the state at the start of every step: for the parameter gradients, and for traces
        xprev = np.empty((T, pl.m, BN) if keep else (1, pl.m, 1), dtype=xn.dtype)
        k = _kernels(pl)
        with _kernel_threads():
            k.forward(xn, *args, ref, st, rr, spikes, z, flags, xprev, keep, rnd)
        ctx.pl, ctx.want = pl, want_params
        ctx.shape = (T, B, N)
        ctx.np = (xn, args, z, flags, xprev)
        final_x = torch.from_numpy(st).reshape(pl.m, B, N)
        final_r = torch.from_numpy(rr).reshape(B, N)
        states = torch.from_numpy(xprev).reshape(T, pl.m, B, N) if keep_states else \
            torch.zeros(())
        ctx.mark_non_differentiable(final_x, final_r, states)
        return torch.from_numpy(spikes).reshape(T, B, N), final_x, final_r, states

    @staticmethod
    def backward(ctx, grad, _gx, _gr, _gs):
        pl, want = ctx.pl, ctx.want
        T, B, N = ctx.shape
        BN = B * N
        xn, args, z, flags, xprev = ctx.np
        gs = grad.detach().contiguous().reshape(T, BN).numpy().astype(xn.dtype, copy=False)
        m = pl.m
        f = xn.dtype
        gx = np.zeros((T, BN), dtype=f)
        shp = (lambda *s: s) if want else (lambda *s: tuple(1 for _ in s))
        gE, gEr = np.zeros(shp(m, m, BN), f), np.zeros(shp(m, m, BN), f)
        gK, gKr = np.zeros(shp(m, BN), f), np.zeros(shp(m, BN), f)
        gG, gGr = np.zeros(shp(m, BN), f), np.zeros(shp(m, BN), f)
        gA, gb, gsc = np.zeros(shp(m, BN), f), np.zeros(shp(BN), f), np.zeros(shp(BN), f)
        grv = np.zeros((max(len(pl.resets), 1), BN) if want else (1, 1), f)
        gco = np.zeros(shp(m, BN), f)
        with _kernel_threads():
            _kernels(pl).backward(gs, xn, *args, z, flags, xprev, want, pl.alpha, gx,
                                  gE, gEr, gK, gKr, gG, gGr, gA, gb, gsc, grv, gco)
        out = [torch.from_numpy(gx).reshape(T, B, N)]
        if want:
            def red(a, lead):
                return torch.from_numpy(a.reshape(*lead, B, N).sum(axis=-2))
            out += [red(gE, (m, m)), red(gEr, (m, m)), red(gK, (m,)), red(gKr, (m,)),
                    red(gG, (m,)), red(gGr, (m,)), red(gA, (m,)), red(gb, ()), red(gsc, ()),
                    red(grv[:len(pl.resets)], (len(pl.resets),)), red(gco, (m,))]
        else:
            out += [None] * 11
        return tuple(out) + (None,) * 7


def _kernel_threads():
    """The parallel kernels run on as many threads as torch is allowed, for this call
    only (:func:`neuromod.runtime.threads`)."""
    from neuromod.runtime import threads
    return threads(numba=torch.get_num_threads()) if _parallel() else threads()


def _ref_steps(ref_steps, N):
    return np.ascontiguousarray(np.broadcast_to(ref_steps, (N,)).astype(np.int32))


def run_fused(pl: "Plan", x_tbn: torch.Tensor, P, C, S, record: tuple = (),
              variates: "torch.Tensor | None" = None) -> tuple:
    """Run the layer over ``x_tbn`` (time, batch, n); returns ``(spikes_tbn, final_state,
    traces)``, ``traces[v]`` the ``(time, batch, n)`` values of state ``v`` after each
    step (post reset), for the states named in ``record``. ``variates`` (time, batch,
    n): the uniform variates of Bernoulli firing.

    The final state and the traces carry no gradient (the caller uses this path only
    when none is needed through them). The plan is not modified."""
    T, B, N = x_tbn.shape
    dtype = x_tbn.dtype
    ref = _ref_steps(C.ref_steps.detach().cpu().numpy(), N)
    coeffs = coefficient_tensors(pl, P, C, N, dtype)
    want = any(c.requires_grad for c in coeffs)
    x0 = torch.stack([getattr(S, s).to(dtype) for s in pl.tm.states])
    if pl.noise_cdf:
        if variates is None:
            raise ValueError("a model with Bernoulli firing needs its uniform variates")
        rnd = variates.detach().to(torch.float64).reshape(T, B * N).contiguous().numpy()
    else:
        rnd = np.zeros((1, 1), np.float64)
    spikes, fx, fr, states = _Fused.apply(x_tbn.contiguous(), *coeffs, x0, S.refrac, pl, want,
                                          ref, bool(record), rnd)
    final = pl.tm.State(*[fx[i].to(S[i].dtype) for i in range(pl.m)], fr.to(torch.int32))
    traces = {}
    for v in record:
        i = pl.tm.states.index(v)
        # the state at the start of step t + 1 is the value after step t
        traces[v] = torch.cat([states[1:, i], fx[i][None]]).to(S[i].dtype)
    return spikes, final, traces
