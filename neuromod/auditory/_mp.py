"""Compiled kernels of the spiketrum encoder and decoder (numba, ``cache=True``, no GIL).

Matching pursuit on a correlation array ``c[k, p]`` (kernel ``k``, envelope peak at
sample ``p`` of the chunk) kept up to date by LOCAL updates: subtracting atom
``(k0, p0)`` with amplitude ``s q`` changes ``c[k, p0 + D]`` by ``-s q R_{k0,k}(D)`` for
the few shifts ``D`` where the precomputed kernel cross-correlation ``R`` is non-zero.
The largest ``|c|`` is found through a three-level maximum hierarchy (per channel and
block of ``B`` samples, per block, per group of ``S`` blocks), refreshed only where
the update touched, so one spike costs ``O(sum_k (L_k + L_k0))`` instead of a full
re-correlation ``O(K N L)``.

Precision. ``c`` and the cross-correlations may be float32 (the default of the
encoder) or float64; the kernel is compiled for either. ``c`` only SELECTS the atom:
the selected correlation is recomputed exactly (float64 inner product of the kernel
with the float64 residual, which the kernel keeps up to date), and the quantisation,
the energy bookkeeping and the "move on" test use that exact value. With float32
storage the pursuit can therefore differ from an exact one only where two candidates
are closer than the rounding accumulated in ``c`` (about 1e-6 of the largest
correlation); every emitted spike still lowers the residual energy by exactly the
recorded amount.

Speed. A spike touches ``sum_k (L_k + L_k0 - 1)`` correlations (about 19,000 for the
default 32 kernels) and as many cross-correlation values, at a random place of a
chunk that does not fit in the caches: float32 halves that memory traffic and doubles
the SIMD width. The inner loops work on views made without reference counting
(:func:`_view`; numba's slices cost two atomic operations each) with indices from 0,
so the axpy and the block maxima vectorise (``llvm.maxnum``: numba's ``max`` does
not vectorise). Blocks of 64 samples: with 32 the per-block overhead dominates.
Taking the block maxima in the same pass as the axpy was measured slower than a
separate pass over the (then L1-resident) blocks.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

BLOCK = 64   # samples per block of the maximum hierarchy
GROUP = 32   # blocks per group


@intrinsic
def _fmax(typingctx, a, b):
    """``llvm.maxnum(a, b)`` (same float type): vectorisable, unlike numba's ``max``."""
    sig = a(a, b)

    def codegen(context, builder, signature, args):
        ty = args[0].type
        fn = builder.module.declare_intrinsic("llvm.maxnum", [ty], ir.FunctionType(ty, [ty, ty]))
        return builder.call(fn, args)
    return sig, codegen


@njit(cache=True, nogil=True, fastmath=True)
def _absmax(v):
    """max |v| (v non-empty)."""
    m = abs(v[0])
    for i in range(v.size):
        m = _fmax(m, abs(v[i]))
    return m


@intrinsic
def _view(typingctx, arr, start, n):
    """``arr.ravel()[start:start + n]`` of a C-contiguous array as a 1-D array WITHOUT a
    reference to ``arr``'s memory (no reference counting; the caller keeps ``arr``
    alive and the range inside it)."""
    dtype = arr.dtype
    retty = types.Array(dtype, 1, "C")
    sig = retty(arr, start, n)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        out = context.make_array(retty)(context, builder)
        itemsize = context.get_constant(types.intp,
                                        context.get_abi_sizeof(context.get_data_type(dtype)))
        context.populate_array(out, data=builder.gep(ary.data, [args[1]], inbounds=True),
                               shape=cgutils.pack_array(builder, [args[2]]),
                               strides=cgutils.pack_array(builder, [itemsize]),
                               itemsize=itemsize, meminfo=None)
        return out._getvalue()
    return sig, codegen


@njit(cache=True, nogil=True, fastmath=True)
def _axpy(rs, xs, q):
    """``rs -= q * xs`` (equal sizes)."""
    for i in range(rs.size):
        rs[i] -= q * xs[i]


@njit(cache=True, nogil=True, fastmath=True)
def _block_max(blk):
    """max |blk| of one block (``BLOCK`` values)."""
    m = abs(blk[0])
    for i in range(BLOCK):
        m = _fmax(m, abs(blk[i]))
    return m


@njit(cache=True, nogil=True, fastmath=True)
def _dot(r, g):
    """``sum r[i] g[i]`` in float64 (equal sizes)."""
    acc = 0.0
    for i in range(r.size):
        acc += r[i] * g[i]
    return acc


@njit(cache=True, nogil=True, fastmath=True)
def _sub_atom(r, g, a):
    """``r -= a g`` (equal sizes)."""
    for i in range(r.size):
        r[i] -= a * g[i]


@njit(cache=True, nogil=True, fastmath=True)
def _refresh(bm, gbm, sbm, blo, bhi):
    """Recompute the block maxima ``gbm[blo..bhi]`` (over channels) and the maxima of
    the groups containing them."""
    K = bm.shape[0]
    S = GROUP
    nb = gbm.size
    g = gbm[blo:bhi + 1]
    b0 = bm[0, blo:bhi + 1]
    for i in range(g.size):
        g[i] = b0[i]
    for k in range(1, K):
        bk = bm[k, blo:bhi + 1]
        for i in range(g.size):
            g[i] = _fmax(g[i], bk[i])
    for s in range(blo // S, bhi // S + 1):
        sbm[s] = _absmax(gbm[s * S:min(nb, (s + 1) * S)])


@njit(cache=True, nogil=True)
def mp_run(c, n_valid, xc, xc_off, xc_lo, xc_len, levels, budget, energy0, r, kernels,
           lengths, shift, out_p, out_k, out_sign, out_level, out_energy):
    """Run matching pursuit on ``c`` and ``r`` (both modified in place) for at most
    ``budget`` spikes.

    ``c`` (float32 or float64, ``xc`` of the same type) has shape ``(K, n_alloc)`` with
    ``n_alloc`` a multiple of :data:`BLOCK`; only peaks ``p < n_valid`` are candidates
    (the columns beyond must be zero). ``r`` is the float64 residual the correlations
    belong to: atom ``(k, p)`` covers ``r[p + shift[k] : p + shift[k] + lengths[k]]``
    with the values ``kernels[k, :lengths[k]]``, and ``energy0 = sum r**2``.

    Each step takes the ``(k, p)`` of largest ``|c|`` (first maximum on ties),
    recomputes its correlation ``v`` exactly from ``r``, quantises ``|v|`` to the level
    ``q`` (from ascending ``levels``) that removes the most energy, ``q (2|v| - q)`` (=
    the nearest level), and subtracts the atom from ``r`` and its correlations from
    ``c``. If even that atom cannot lower the residual energy (``|v| <= levels[0] / 2``)
    the pursuit stops ("moves on"); when ``c`` overstated ``|v|`` by rounding, the
    exact value is stored and the selection repeated first. ``out_*`` receive peak
    sample, kernel, sign (+1/-1), level index and the residual energy after the spike.
    Returns the number of spikes emitted and the final energy
    ``energy0 - sum q (2|v| - q)``.
    """
    K, n_alloc = c.shape
    n = n_valid
    B = BLOCK
    S = GROUP
    nb = n_alloc // B
    ns = (nb + S - 1) // S
    J = levels.size
    cval = np.empty(1, dtype=c.dtype)   # float64 -> c's type
    bm = np.empty((K, nb), dtype=c.dtype)   # max |c| per channel and block
    gbm = np.empty(nb, dtype=c.dtype)       # per block (all channels)
    sbm = np.empty(ns, dtype=c.dtype)       # per group of S blocks
    for k in range(K):
        for b in range(nb):
            bm[k, b] = _block_max(_view(c, k * n_alloc + b * B, B))
    _refresh(bm, gbm, sbm, 0, nb - 1)
    energy = energy0
    count = 0
    while count < budget:
        # ---- select the largest |c| through the hierarchy (first maximum on ties)
        s0 = 0
        for s in range(1, ns):
            if sbm[s] > sbm[s0]:
                s0 = s
        b0 = s0 * S
        for b in range(s0 * S + 1, min(nb, (s0 + 1) * S)):
            if gbm[b] > gbm[b0]:
                b0 = b
        k0 = 0
        for k in range(1, K):
            if bm[k, b0] > bm[k0, b0]:
                k0 = k
        p0 = b0 * B
        for i in range(b0 * B + 1, (b0 + 1) * B):
            if abs(c[k0, i]) > abs(c[k0, p0]):
                p0 = i
        # ---- its exact correlation with the residual
        t0 = p0 + shift[k0]
        g = kernels[k0, :lengths[k0]]
        rs = r[t0:t0 + g.size]
        cv = _dot(rs, g)
        a = abs(cv)
        # ---- quantise: the level removing the most energy, q (2a - q)
        j0 = 0
        best = levels[0] * (2.0 * a - levels[0])
        for j in range(1, J):
            d = levels[j] * (2.0 * a - levels[j])
            if d > best:
                best = d
                j0 = j
        if not best > 0.0:
            cval[0] = cv
            if c[k0, p0] == cval[0]:
                break   # no atom can lower the energy any more: move on
            c[k0, p0] = cval[0]   # c overstated it: store the exact value, select again
            bm[k0, b0] = _block_max(_view(c, k0 * n_alloc + b0 * B, B))
            _refresh(bm, gbm, sbm, b0, b0)
            continue
        sgn = 1.0 if cv > 0.0 else -1.0
        qs = sgn * levels[j0]
        energy -= best
        out_p[count] = p0
        out_k[count] = k0
        out_sign[count] = 1 if cv > 0.0 else -1
        out_level[count] = j0
        out_energy[count] = energy
        count += 1
        # ---- subtract the atom: residual, correlations, maximum hierarchy
        _sub_atom(rs, g, qs)
        cval[0] = qs
        q = cval[0]
        blo = nb
        bhi = -1
        for k in range(K):
            ln = xc_len[k0, k]
            if ln == 0:
                continue
            lo = p0 + xc_lo[k0, k]
            i0 = max(lo, 0)
            i1 = min(lo + ln, n)
            if i0 >= i1:
                continue
            o = xc_off[k0, k] + i0 - lo
            _axpy(_view(c, k * n_alloc + i0, i1 - i0), _view(xc, o, i1 - i0), q)
            for b in range(i0 // B, (i1 - 1) // B + 1):
                bm[k, b] = _block_max(_view(c, k * n_alloc + b * B, B))
            blo = min(blo, i0 // B)
            bhi = max(bhi, (i1 - 1) // B)
        if bhi >= 0:
            _refresh(bm, gbm, sbm, blo, bhi)
    return count, energy


@njit(cache=True, nogil=True)
def store_rows(c, full, offs, k0, i, m):
    """``c[k0 + j, i:i + m] = full[j, offs[k0 + j]:offs[k0 + j] + m]`` for every row ``j``
    of ``full`` (rounded to ``c``'s type); returns the largest ``|value|`` before rounding."""
    peak = 0.0
    for j in range(full.shape[0]):
        o = offs[k0 + j]
        src = full[j, o:o + m]
        dst = c[k0 + j, i:i + m]
        for t in range(m):
            v = src[t]
            a = abs(v)
            if a > peak:
                peak = a
            dst[t] = v
    return peak


@njit(cache=True, nogil=True)
def add_atoms(y, kernels, lengths, starts, ks, amps):
    """``y[starts[i] + j] += amps[i] * kernels[ks[i], j]`` for ``j < lengths[ks[i]]``
    (atoms that fall partly outside ``y`` are clipped)."""
    n = y.size
    for i in range(starts.size):
        k = ks[i]
        a = amps[i]
        t0 = starts[i]
        for j in range(max(0, -t0), min(lengths[k], n - t0)):
            y[t0 + j] += a * kernels[k, j]
