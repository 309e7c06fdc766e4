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

Safety. The compiled loops do not check bounds, so each kernel is called only
through a Python wrapper of the same name (:func:`mp_run`, :func:`store_rows`,
:func:`add_atoms`) that checks, vectorised and before the call, every shape and
every index the loop will compute (kernel numbers, atom positions, offsets into the
flattened cross-correlations), raising a one-line
:class:`~neuromod.auditory.audio.AudioError` instead of reading or writing outside
an array.
"""
import numpy as np

from neuromod.runtime import ensure_cache_dir

ensure_cache_dir(__file__)   # before numba: a cache directory it can write (see there)

from llvmlite import ir  # noqa: E402
from numba import njit, types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

from neuromod.auditory.audio import AudioError

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
def _mp_run(c, n_valid, xc, xc_off, xc_lo, xc_len, levels, budget, energy0, r, kernels,
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
def _store_rows(c, full, offs, k0, i, m):
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
def _add_atoms(y, kernels, lengths, starts, ks, amps):
    """:func:`add_atoms` without its checks."""
    n = y.size
    for i in range(starts.size):
        k = ks[i]
        a = amps[i]
        t0 = starts[i]
        for j in range(max(0, -t0), min(lengths[k], n - t0)):
            y[t0 + j] += a * kernels[k, j]


def _fail(what, reason):
    raise AudioError(f"{what}: {reason} (refused before the compiled loop)")


def _int_array(what, name, a, n=None):
    """``a`` as a C-contiguous 1-D int64 array (of size ``n`` if given), checked."""
    a = np.asarray(a)
    if a.ndim != 1 or a.dtype.kind not in "iu" or (n is not None and a.size != n):
        _fail(what, f"{name} must be a 1-D integer array"
                    f"{'' if n is None else f' of {n} values'}, got shape {a.shape} {a.dtype}")
    if a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
        _fail(what, f"{name} too large")
    return np.ascontiguousarray(a, dtype=np.int64)


def add_atoms(y, kernels, lengths, starts, ks, amps):
    """``y[starts[i] + j] += amps[i] * kernels[ks[i], j]`` for ``j < lengths[ks[i]]``
    (atoms that fall partly outside ``y`` are clipped), in place.

    Checked first: ``y`` a writable float64 vector, ``kernels`` (K, L) float64,
    ``0 <= lengths <= L``, one kernel number ``0 <= ks < K`` and one amplitude per
    start, and every start in ``[-L, y.size]`` (an atom starting further away would not
    touch ``y``, and its indices could overflow).

    Examples
    --------
    >>> y = np.zeros(4)
    >>> add_atoms(y, np.ones((1, 2)), np.array([2]), np.array([3]), np.array([0]),
    ...           np.array([0.5]))
    >>> y.tolist()
    [0.0, 0.0, 0.0, 0.5]
    >>> add_atoms(y, np.ones((1, 2)), np.array([2]), np.array([-2 ** 63]), np.array([0]),
    ...           np.array([0.5]))
    Traceback (most recent call last):
    ...
    neuromod.auditory.audio.AudioError: add_atoms: atom 0 starts at sample -9223372036854775808, outside [-2, 4] (refused before the compiled loop)
    """
    what = "add_atoms"
    if not (isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype == np.float64
            and y.flags.c_contiguous and y.flags.writeable):
        _fail(what, "y must be a writable C-contiguous float64 vector")
    kernels = np.ascontiguousarray(kernels, dtype=np.float64)
    if kernels.ndim != 2:
        _fail(what, f"kernels must be 2-D, got shape {kernels.shape}")
    K, L = kernels.shape
    lengths = _int_array(what, "lengths", lengths, K)
    if lengths.size and (lengths.min() < 0 or lengths.max() > L):
        _fail(what, f"kernel lengths must lie in 0..{L}")
    starts = _int_array(what, "starts", starts)
    ks = _int_array(what, "ks", ks, starts.size)
    amps = np.ascontiguousarray(amps, dtype=np.float64)
    if amps.shape != starts.shape:
        _fail(what, f"{amps.size} amplitudes for {starts.size} atoms")
    if starts.size:
        bad = (ks < 0) | (ks >= K)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            _fail(what, f"atom {i} uses kernel {int(ks[i])}, outside 0..{K - 1}")
        bad = (starts < -L) | (starts > y.size)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            _fail(what, f"atom {i} starts at sample {int(starts[i])}, outside [{-L}, {y.size}]")
    _add_atoms(y, kernels, lengths, starts, ks, amps)


def store_rows(c, full, offs, k0, i, m):
    """``c[k0 + j, i:i + m] = full[j, offs[k0 + j]:offs[k0 + j] + m]`` for every row ``j``
    of ``full`` (rounded to ``c``'s type); returns the largest ``|value|`` before rounding.

    Checked first: the rows ``k0 .. k0 + len(full)`` exist in ``c`` and ``offs``, and
    both column ranges lie inside their arrays.

    Examples
    --------
    >>> c = np.zeros((2, 3))
    >>> store_rows(c, np.array([[1.0, -4.0, 2.0]]), np.array([0, 1]), 1, 1, 2)
    4.0
    >>> c.tolist()
    [[0.0, 0.0, 0.0], [0.0, -4.0, 2.0]]
    """
    what = "store_rows"
    if not (isinstance(c, np.ndarray) and c.ndim == 2 and c.dtype in (np.float32, np.float64)
            and c.flags.writeable):
        _fail(what, "c must be a writable 2-D float32 or float64 array")
    full = np.asarray(full, dtype=np.float64)
    if full.ndim != 2:
        _fail(what, f"full must be 2-D, got shape {full.shape}")
    offs = _int_array(what, "offs", offs)
    k0, i, m = int(k0), int(i), int(m)
    rows = full.shape[0]
    if k0 < 0 or k0 + rows > min(c.shape[0], offs.size):
        _fail(what, f"rows {k0}..{k0 + rows - 1} outside the {c.shape[0]} rows of c")
    if i < 0 or m < 0 or i + m > c.shape[1]:
        _fail(what, f"columns {i}..{i + m - 1} outside the {c.shape[1]} columns of c")
    o = offs[k0:k0 + rows]
    if rows and (o.min() < 0 or o.max() + m > full.shape[1]):
        _fail(what, f"source offsets {int(o.min())}..{int(o.max())} + {m} outside the "
                    f"{full.shape[1]} columns of full")
    return _store_rows(c, full, offs, k0, i, m)


def mp_run(c, n_valid, xc, xc_off, xc_lo, xc_len, levels, budget, energy0, r, kernels,
           lengths, shift, out_p, out_k, out_sign, out_level, out_energy):
    """Run matching pursuit on ``c`` and ``r`` (both modified in place) for at most
    ``budget`` spikes; the compiled loop of the encoder.

    Checked first, against the contract below: ``c`` is (K, n_alloc) with ``n_alloc``
    a multiple of :data:`BLOCK` and ``0 < n_valid <= n_alloc``; every
    cross-correlation range ``xc_off + [0, xc_len)`` lies inside ``xc``; every atom
    ``(k, p < n_valid)`` lies inside ``r``; the kernels and the outputs are large
    enough for their indices. See :func:`_mp_run` for the algorithm.
    """
    what = "mp_run"
    if not (isinstance(c, np.ndarray) and c.ndim == 2 and c.dtype in (np.float32, np.float64)
            and c.flags.c_contiguous and c.flags.writeable):
        _fail(what, "c must be a writable C-contiguous 2-D float32 or float64 array")
    K, n_alloc = c.shape
    n_valid, budget = int(n_valid), int(budget)
    if K < 1 or n_alloc % BLOCK or not 0 < n_valid <= n_alloc:
        _fail(what, f"c of shape {c.shape} with {n_valid} valid columns (need K >= 1, a "
                    f"multiple of {BLOCK} columns, 0 < n_valid <= columns)")
    if not (isinstance(xc, np.ndarray) and xc.dtype == c.dtype and xc.ndim == 1
            and xc.flags.c_contiguous):
        _fail(what, "xc must be a C-contiguous 1-D array of c's type")
    xc_off, xc_lo, xc_len = (np.asarray(a) for a in (xc_off, xc_lo, xc_len))
    for name, a in (("xc_off", xc_off), ("xc_lo", xc_lo), ("xc_len", xc_len)):
        if a.shape != (K, K) or a.dtype != np.int64:
            _fail(what, f"{name} must be ({K}, {K}) int64, got {a.shape} {a.dtype}")
    if xc_off.min() < 0 or xc_len.min() < 0 or (xc_off + xc_len).max() > xc.size:
        _fail(what, f"cross-correlation ranges outside the {xc.size} values of xc")
    if np.abs(xc_lo).max() > 2 ** 40:
        _fail(what, "cross-correlation shifts out of range")
    levels = np.asarray(levels)
    if levels.ndim != 1 or levels.size < 1 or levels.dtype != np.float64:
        _fail(what, "levels must be a non-empty float64 vector")
    kernels = np.asarray(kernels)
    if kernels.ndim != 2 or kernels.shape[0] != K or kernels.dtype != np.float64:
        _fail(what, f"kernels must be ({K}, L) float64, got {kernels.shape} {kernels.dtype}")
    for name, a in (("lengths", lengths), ("shift", shift)):
        a = np.asarray(a)
        if a.shape != (K,) or a.dtype != np.int64:
            _fail(what, f"{name} must be ({K},) int64, got {a.shape} {a.dtype}")
    lengths, shift = np.asarray(lengths), np.asarray(shift)
    if lengths.min() < 1 or lengths.max() > kernels.shape[1] or shift.min() < 0:
        _fail(what, "kernel lengths or shifts out of range")
    if not (isinstance(r, np.ndarray) and r.ndim == 1 and r.dtype == np.float64
            and r.flags.writeable):
        _fail(what, "r must be a writable float64 vector")
    if int((shift + lengths).max()) + n_valid - 1 > r.size:
        _fail(what, f"atoms up to sample {int((shift + lengths).max()) + n_valid - 1} outside "
                    f"the {r.size} samples of r")
    for name, a, kind in (("out_p", out_p, "i"), ("out_k", out_k, "i"),
                          ("out_sign", out_sign, "i"), ("out_level", out_level, "i"),
                          ("out_energy", out_energy, "f")):
        if not (isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype.kind == kind
                and a.flags.writeable and a.size >= budget):
            _fail(what, f"{name} must be a writable 1-D array of at least {budget} values")
    if n_alloc > n_valid and np.any(c[:, n_valid:]):
        _fail(what, "columns of c beyond n_valid must be zero")
    return _mp_run(c, n_valid, xc, xc_off, xc_lo, xc_len, levels, budget, energy0, r, kernels,
                   lengths, shift, out_p, out_k, out_sign, out_level, out_energy)
