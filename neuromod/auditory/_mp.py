"""Compiled kernels of the spiketrum encoder and decoder (numba, ``cache=True``, no GIL).

Matching pursuit on a correlation array ``c[k, p]`` (kernel ``k``, envelope peak at
sample ``p`` of the chunk) kept up to date by LOCAL updates: subtracting atom
``(k0, p0)`` with amplitude ``s q`` changes ``c[k, p0 + D]`` by ``-s q R_{k0,k}(D)`` for
the few shifts ``D`` where the precomputed kernel cross-correlation ``R`` is non-zero.
The largest ``|c|`` is found through a three-level maximum hierarchy (per channel and
block of ``B`` samples, per block, per group of ``S`` blocks), refreshed only where
the update touched, so one spike costs ``O(sum_k (L_k + L_k0))`` instead of a full
re-correlation ``O(K N L)``.
"""
import numpy as np
from numba import njit

BLOCK = 32   # samples per block of the maximum hierarchy
GROUP = 32   # blocks per group


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _block_max(row, b):
    """max |row[b*B:(b+1)*B]| (rows are padded to whole blocks)."""
    blk = row[b * BLOCK:(b + 1) * BLOCK]
    m = 0.0
    for i in range(BLOCK):
        m = max(m, abs(blk[i]))
    return m


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _axpy(rs, qs, xs):
    """rs -= qs * xs (contiguous views, vectorised)."""
    for i in range(rs.size):
        rs[i] -= qs * xs[i]


@njit(cache=True, nogil=True)
def mp_run(c, n_valid, xc, xc_off, xc_lo, xc_len, levels, budget, energy0,
           out_p, out_k, out_sign, out_level, out_energy):
    """Run matching pursuit on ``c`` (modified in place) for at most ``budget`` spikes.

    ``c`` has shape ``(K, n_alloc)`` with ``n_alloc`` a multiple of :data:`BLOCK`;
    only peaks ``p < n_valid`` are candidates (the columns beyond must be zero).

    Each step takes the ``(k, p)`` of largest ``|c|``, quantises ``|c|`` to the level
    ``q`` (from ascending ``levels``) that removes the most energy,
    ``q (2|c| - q)`` (= the nearest level), and stops early ("moves on") when even
    the best atom cannot lower the residual energy (``|c| <= levels[0] / 2``).
    ``out_*`` receive peak sample, kernel, sign (+1/-1), level index and the
    residual energy after the spike. Returns the number of spikes emitted and the
    final energy ``energy0 - sum q (2|c| - q)``.
    """
    K, n_alloc = c.shape
    n = n_valid
    B = BLOCK
    S = GROUP
    nb = n_alloc // B
    ns = (nb + S - 1) // S
    J = levels.size
    bm = np.zeros((nb, K))      # block-major: the max over k of one block is contiguous
    gbm = np.zeros(nb)
    sbm = np.zeros(ns)
    for k in range(K):
        row = c[k]
        for b in range(nb):
            bm[b, k] = _block_max(row, b)
    for b in range(nb):
        m = 0.0
        for k in range(K):
            if bm[b, k] > m:
                m = bm[b, k]
        gbm[b] = m
    for s in range(ns):
        m = 0.0
        for b in range(s * S, min(nb, (s + 1) * S)):
            if gbm[b] > m:
                m = gbm[b]
        sbm[s] = m
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
            if bm[b0, k] > bm[b0, k0]:
                k0 = k
        p0 = b0 * B
        for i in range(b0 * B + 1, (b0 + 1) * B):
            if abs(c[k0, i]) > abs(c[k0, p0]):
                p0 = i
        cv = c[k0, p0]
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
            break   # no atom can lower the energy any more: move on
        sgn = 1.0 if cv > 0.0 else -1.0
        qs = sgn * levels[j0]
        energy -= best
        out_p[count] = p0
        out_k[count] = k0
        out_sign[count] = 1 if cv > 0.0 else -1
        out_level[count] = j0
        out_energy[count] = energy
        count += 1
        # ---- local update of the correlations and of the maximum hierarchy
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
            row = c[k]
            _axpy(row[i0:i1], qs, xc[o:o + i1 - i0])
            bb0 = i0 // B
            bb1 = (i1 - 1) // B
            for b in range(bb0, bb1 + 1):
                bm[b, k] = _block_max(row, b)
            if bb0 < blo:
                blo = bb0
            if bb1 > bhi:
                bhi = bb1
        for b in range(blo, bhi + 1):
            m = 0.0
            for k in range(K):
                if bm[b, k] > m:
                    m = bm[b, k]
            gbm[b] = m
        if bhi >= 0:
            for s in range(blo // S, bhi // S + 1):
                m = 0.0
                for b in range(s * S, min(nb, (s + 1) * S)):
                    if gbm[b] > m:
                        m = gbm[b]
                sbm[s] = m
    return count, energy


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
