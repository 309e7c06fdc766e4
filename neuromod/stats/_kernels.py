"""Numba kernels of the pairwise spike-train distances (private).

Every kernel works on the flat CSR layout of :class:`~neuromod.spikes.SpikeTrains`:
``times`` (float64 seconds, sorted within each train) and ``offsets`` (int64,
length ``n_trains + 1``); train ``i`` is ``times[offsets[i]:offsets[i + 1]]``.
The ``*_matrix`` kernels fill the whole ``n x n`` matrix in one compiled call,
parallel over pairs: ``prange`` runs over *folds* ``r``, each fold being rows
``r`` and ``n - 1 - r`` of the upper triangle, so every fold holds about ``n``
pairs and the threads stay balanced.

The ISI-distance, SPIKE-distance and SPIKE-synchronization kernels are line-by-line
ports of PySpike 0.9's ``cython_distances.pyx`` / ``cython_get_tau.pyx``
(Mulansky & Kreuz 2016), BSD licence, so the numbers agree with PySpike to
rounding. ``error_model="numpy"`` gives C's division semantics, as Cython's
``cdivision=True`` does.

Compiled with ``cache=True``: the machine code is stored beside this file and
reused by later processes (compiling from cold takes a few seconds once).
"""
import math

import numpy as np

from neuromod.runtime import ensure_cache_dir

ensure_cache_dir(__file__)   # before numba: a cache directory it can write (see there)

from numba import njit, prange  # noqa: E402

_OPTS = dict(cache=True, nogil=True, error_model="numpy")

#: Below this many elementary steps a kernel runs on one thread: waking the thread
#: pool costs more than it saves (and far more on a busy machine).
PARALLEL_MIN_WORK = 10_000_000


def call(kernel, work, *args, blocks=False):
    """Run a parallel ``kernel(*args)``, on one thread when ``work`` (an estimate of
    its elementary steps) is below :data:`PARALLEL_MIN_WORK`. With ``blocks=True`` the
    number of threads used is passed as the kernel's last argument."""
    import numba
    from neuromod.runtime import threads
    nt = numba.get_num_threads()
    use = nt if work >= PARALLEL_MIN_WORK else 1
    if blocks:
        args = args + (use,)
    if use == nt:
        return kernel(*args)
    with threads(numba=use):
        return kernel(*args)


# --------------------------------------------------------------------------- helpers
@njit(**_OPTS)
def _fold_row(r, h, n):
    """Row ``h`` (0 or 1) of fold ``r``: ``r`` and then ``n - 1 - r``; -1 when the
    fold is the middle row of an odd ``n`` and has no second row."""
    r = np.int64(r)
    if h == 0:
        return r
    r2 = np.int64(n) - 1 - r
    return r2 if r2 != r else np.int64(-1)


# --------------------------------------------------------------------------- van Rossum
@njit(parallel=True, **_OPTS)
def vr_cross_sums(t_sorted, id_sorted, n, n_blocks):
    """``C[u, v] = sum over spikes a of u and b of v with b before a in the global
    time order of exp(-(t_a - t_b)/tau)``, for all trains at once (times in units of tau).

    One sweep over every spike of the population in time order carries the filtered
    trains ``z_v(t) = sum_{b in v, b <= t} exp(-(t - t_b))`` as a vector over ``v``:
    at each spike (train ``u``, time ``t``) the vector decays by
    ``exp(-(t - t_prev))``, row ``C[u, :]`` gains ``z``, then ``z_u`` gains 1. Every pair
    of spikes is counted once, in ``C[u, v]`` or ``C[v, u]`` (coincident spikes once,
    with weight 1), so ``sum_{a in u, b in v} exp(-|t_a - t_b|) = C[u, v] + C[v, u]``
    for ``u != v`` and ``n_u + 2 C[u, u]`` for ``u = v``. Cost: ``O(S n)`` vector
    operations for ``S`` spikes. Threads split the columns ``v`` into ``n_blocks``.

    Entries of ``z`` that decay below 1e-200 are set to 0 (their future contributions
    are below 1e-200, far under the rounding of sums that are >= 1), which keeps
    subnormal numbers out of the loop.
    """
    return vr_cross_sums_of(t_sorted, id_sorted, np.arange(n), n, n_blocks)


@njit(parallel=True, **_OPTS)
def vr_cross_sums_of(t_sorted, id_sorted, local, w, n_blocks):
    """The sums ``C[u, v]`` of :func:`vr_cross_sums` for the ``w`` trains with
    ``local[train] >= 0`` (``local`` their row and column), from the same sweep over
    *every* spike of the population: each carried sum ``z[v]`` gets the same decays,
    resets and additions in the same order whichever trains are carried, so a block of
    trains gets the entries of the whole matrix bit for bit
    (:mod:`neuromod.stats.blocked`). Threads split the columns into ``n_blocks``."""
    out = np.zeros((w, w))
    S = t_sorted.size
    for blk in prange(n_blocks):
        c0 = (blk * w) // n_blocks
        c1 = ((blk + 1) * w) // n_blocks
        m = c1 - c0
        if m == 0:
            continue
        z = np.zeros(m)
        prev = t_sorted[0] if S else 0.0
        cum = 1.0
        for k in range(S):
            t = t_sorted[k]
            if t != prev:
                fac = math.exp(-(t - prev))
                prev = t
                if fac < 1e-100:
                    z[:] = 0.0
                    cum = 1.0
                else:
                    for v in range(m):
                        z[v] *= fac
                    cum *= fac
                    if cum < 1e-100:
                        for v in range(m):
                            if z[v] < 1e-200:
                                z[v] = 0.0
                        cum = 1.0
            lu = local[id_sorted[k]]
            if lu >= 0:
                row = out[lu]
                for v in range(m):
                    row[c0 + v] += z[v]
                if c0 <= lu < c1:
                    z[lu - c0] += 1.0
    return out


# --------------------------------------------------------------------------- Victor-Purpura
@njit(inline="always", **_OPTS)
def _vp_cell(diag, up, left, ai, bj, q):
    """One cell: ``min(G[i-1, j-1] + q |a_i - b_j|, G[i-1, j] + 1, G[i, j-1] + 1)``."""
    d = abs(ai - bj)
    c = diag + (0.0 if d == 0.0 else q * d)
    up = up + 1.0
    left = left + 1.0
    if up < c:
        c = up
    if left < c:
        c = left
    return c


@njit(inline="always", **_OPTS)
def _vp_far(ai, bj, q):
    """True when shifting ``a_i`` onto ``b_j`` costs ``>= 3``: more than deleting one and
    inserting the other (2), so that cell is ``min(G[i-1, j], G[i, j-1]) + 1`` exactly
    (the shift term exceeds ``G[i-1, j] + 1`` even after rounding)."""
    d = abs(ai - bj)
    return d != 0.0 and q * d >= 3.0


@njit(inline="always", **_OPTS)
def _vp_window(ai, b, q, lo, hi):
    """``b[lo:hi]``: the spikes of the sorted train ``b`` that are not far from ``a_i``
    (:func:`_vp_far`); ``lo`` and ``hi`` start from the previous row's window."""
    m = b.size
    while lo > 0 and (b[lo - 1] >= ai or not _vp_far(ai, b[lo - 1], q)):
        lo -= 1
    while lo < m and b[lo] < ai and _vp_far(ai, b[lo], q):
        lo += 1
    if hi < lo:
        hi = lo
    while hi > lo and b[hi - 1] > ai and _vp_far(ai, b[hi - 1], q):
        hi -= 1
    while hi < m and not (b[hi] > ai and _vp_far(ai, b[hi], q)):
        hi += 1
    return lo, hi


@njit(**_OPTS)
def vp_pair(a, b, q, row, windows):
    """Victor-Purpura distance by the O(n m) dynamic programme of Victor & Purpura (1996).

    ``G[i, j] = min(G[i-1, j] + 1, G[i, j-1] + 1, G[i-1, j-1] + q |a_i - b_j|)``, one
    row kept in ``row`` (length >= ``len(b) + 1``). A shift of zero length costs 0
    even when ``q`` is infinite (the limit ``q -> inf``).

    Rows are computed two at a time (two independent dependency chains for the CPU),
    and with ``windows`` (both trains sorted) cells whose shift costs ``>= 3``
    (:func:`_vp_far`) skip the shift term. Every cell gets the value, bit for bit, of
    the plain programme.
    """
    n = a.size
    m = b.size
    if n == 0 or m == 0:
        return float(max(n, m))
    for j in range(m + 1):
        row[j] = j
    lo1 = hi1 = lo2 = hi2 = 0
    i = 1
    while i < n:                       # rows i and i + 1
        a1 = a[i - 1]
        a2 = a[i]
        if windows:
            lo1, hi1 = _vp_window(a1, b, q, lo1, hi1)
            lo2, hi2 = _vp_window(a2, b, q, lo2, hi2)
            lo = min(lo1, lo2)
            hi = max(hi1, hi2)
        else:
            lo = 0
            hi = m
        d1 = row[0]                    # G[i-1, j-1]
        l1 = d1 + 1.0                  # G[i, j-1]
        d2 = l1                        # G[i, j-1] as the next row's diagonal
        l2 = l1 + 1.0                  # G[i+1, j-1]
        row[0] = l2
        for j in range(1, lo + 1):     # b_j far before a_i and a_(i+1)
            u = row[j]
            c1 = (u if u < l1 else l1) + 1.0
            c2 = (c1 if c1 < l2 else l2) + 1.0
            d1 = u
            d2 = c1
            l1 = c1
            l2 = c2
            row[j] = c2
        for j in range(lo + 1, hi + 1):
            bj = b[j - 1]
            u = row[j]
            c1 = _vp_cell(d1, u, l1, a1, bj, q)
            c2 = _vp_cell(d2, c1, l2, a2, bj, q)
            d1 = u
            d2 = c1
            l1 = c1
            l2 = c2
            row[j] = c2
        for j in range(hi + 1, m + 1):  # b_j far after both
            u = row[j]
            c1 = (u if u < l1 else l1) + 1.0
            c2 = (c1 if c1 < l2 else l2) + 1.0
            l1 = c1
            l2 = c2
            row[j] = c2
        i += 2
    if i == n:                         # odd n: the last row alone
        diag = row[0]
        left = diag + 1.0
        row[0] = left
        ai = a[i - 1]
        for j in range(1, m + 1):
            u = row[j]
            c = _vp_cell(diag, u, left, ai, b[j - 1], q)
            diag = u
            row[j] = c
            left = c
    return row[m]


@njit(**_OPTS)
def _all_sorted(times, offsets):
    for i in range(offsets.size - 1):
        for k in range(offsets[i] + 1, offsets[i + 1]):
            if times[k] < times[k - 1]:
                return False
    return True


@njit(parallel=True, **_OPTS)
def vp_matrix(times, offsets, q):
    n = offsets.size - 1
    out = np.zeros((n, n))
    width = 1
    for i in range(n):
        width = max(width, offsets[i + 1] - offsets[i] + 1)
    windows = _all_sorted(times, offsets)
    for r in prange((n + 1) // 2):
        row = np.empty(width)
        for h in range(2):
            i = _fold_row(r, h, n)
            if i < 0:
                break
            x = times[offsets[i]:offsets[i + 1]]
            for j in range(i + 1, n):
                d = vp_pair(x, times[offsets[j]:offsets[j + 1]], q, row, windows)
                out[i, j] = d
                out[j, i] = d
    return out


# --------------------------------------------------------------------------- ISI-distance
@njit(**_OPTS)
def isi_pair(s1, s2, t_start, t_end, mrts):
    """PySpike ``isi_distance_cython``: time-averaged ``|nu1 - nu2| / max(MRTS, nu1, nu2)``.

    ``s1``, ``s2`` are sorted, duplicate-free and non-empty (empty trains are given
    the auxiliary spikes ``[t_start, t_end]`` by the caller, as PySpike does).
    """
    N1 = s1.size
    N2 = s2.size
    if s1[0] > t_start:
        nu1 = max(s1[0] - t_start, s1[1] - s1[0]) if N1 > 1 else s1[0] - t_start
        index1 = -1
    else:
        nu1 = s1[1] - s1[0] if N1 > 1 else t_end - s1[0]
        index1 = 0
    if s2[0] > t_start:
        nu2 = max(s2[0] - t_start, s2[1] - s2[0]) if N2 > 1 else s2[0] - t_start
        index2 = -1
    else:
        nu2 = s2[1] - s2[0] if N2 > 1 else t_end - s2[0]
        index2 = 0
    last_t = t_start
    curr_isi = abs(nu1 - nu2) / max(mrts, max(nu1, nu2))
    isi_value = 0.0
    curr_t = t_start
    while index1 + index2 < N1 + N2 - 2:
        if (index1 < N1 - 1) and ((index2 == N2 - 1) or (s1[index1 + 1] < s2[index2 + 1])):
            index1 += 1
            curr_t = s1[index1]
            if index1 < N1 - 1:
                nu1 = s1[index1 + 1] - s1[index1]
            else:
                nu1 = max(t_end - s1[index1], nu1) if N1 > 1 else t_end - s1[index1]
        elif (index2 < N2 - 1) and ((index1 == N1 - 1) or (s1[index1 + 1] > s2[index2 + 1])):
            index2 += 1
            curr_t = s2[index2]
            if index2 < N2 - 1:
                nu2 = s2[index2 + 1] - s2[index2]
            else:
                nu2 = max(t_end - s2[index2], nu2) if N2 > 1 else t_end - s2[index2]
        else:
            index1 += 1
            index2 += 1
            curr_t = s1[index1]
            if index1 < N1 - 1:
                nu1 = s1[index1 + 1] - s1[index1]
            else:
                nu1 = max(t_end - s1[index1], nu1) if N1 > 1 else t_end - s1[index1]
            if index2 < N2 - 1:
                nu2 = s2[index2 + 1] - s2[index2]
            else:
                nu2 = max(t_end - s2[index2], nu2) if N2 > 1 else t_end - s2[index2]
        isi_value += curr_isi * (curr_t - last_t)
        curr_isi = abs(nu1 - nu2) / max(mrts, max(nu1, nu2))
        last_t = curr_t
    # A last segment of zero length (both trains end with a spike at t_end and one
    # spike each, so nu1 = nu2 = 0 and curr_isi = 0/0) adds nothing: PySpike adds NaN.
    if t_end > last_t:
        isi_value += curr_isi * (t_end - last_t)
    return isi_value / (t_end - t_start)


@njit(parallel=True, **_OPTS)
def isi_matrix(times, offsets, t_start, t_end, mrts):
    n = offsets.size - 1
    out = np.zeros((n, n))
    for r in prange((n + 1) // 2):
        for h in range(2):
            i = _fold_row(r, h, n)
            if i < 0:
                break
            x = times[offsets[i]:offsets[i + 1]]
            for j in range(i + 1, n):
                d = isi_pair(x, times[offsets[j]:offsets[j + 1]], t_start, t_end, mrts)
                out[i, j] = d
                out[j, i] = d
    return out


# --------------------------------------------------------------------------- SPIKE-distance
@njit(**_OPTS)
def _min_dist(spike_time, train, N, start_index, t_start, t_end):
    """PySpike ``get_min_dist_cython``: min |spike_time - train[k]| for k >= start_index,
    the edges ``t_start``/``t_end`` (the other train's auxiliary spikes) included."""
    d = abs(spike_time - t_start)
    if start_index < 0:
        start_index = 0
    while start_index < N:
        d_temp = abs(spike_time - train[start_index])
        if d_temp > d:
            return d
        d = d_temp
        start_index += 1
    d_temp = abs(t_end - spike_time)
    if d_temp > d:
        return d
    return d_temp


@njit(**_OPTS)
def _dist_at_t(isi1, isi2, s1, s2, mrts, ri):
    mean_isi = 0.5 * (isi1 + isi2)
    limited = max(mrts, mean_isi)
    if ri:
        return 0.5 * (s1 + s2) / limited
    # each ISI relative to their mean first: the product mean_isi * limited underflows
    # to 0 for ISIs near the smallest normal number (0/0 otherwise)
    return 0.5 * (s1 * (isi2 / mean_isi) + s2 * (isi1 / mean_isi)) / limited


@njit(**_OPTS)
def spike_pair(t1, t2, t_start, t_end, mrts, ri):
    """PySpike ``spike_distance_cython`` (SPIKE-distance, with the adaptive ``MRTS``
    and the rate-independent ``RI`` variants), trains as in :func:`isi_pair`."""
    N1 = t1.size
    N2 = t2.size
    spike_value = 0.0
    t_last = t_start
    # auxiliary spikes for edge correction, consistent with the first/last ISI
    a10 = min(t_start, 2 * t1[0] - t1[1]) if N1 > 1 else t_start
    a11 = max(t_end, 2 * t1[N1 - 1] - t1[N1 - 2]) if N1 > 1 else t_end
    a20 = min(t_start, 2 * t2[0] - t2[1]) if N2 > 1 else t_start
    a21 = max(t_end, 2 * t2[N2 - 1] - t2[N2 - 2]) if N2 > 1 else t_end
    t_p1 = t_start if t1[0] == t_start else a10
    t_p2 = t_start if t2[0] == t_start else a20
    if t1[0] > t_start:
        t_f1 = t1[0]
        dt_f1 = _min_dist(t_f1, t2, N2, 0, a20, a21)
        isi1 = max(t_f1 - t_start, t1[1] - t1[0]) if N1 > 1 else t_f1 - t_start
        dt_p1 = dt_f1
        s1 = dt_p1
        index1 = -1
    else:
        t_f1 = t1[1] if N1 > 1 else t_end
        dt_f1 = _min_dist(t_f1, t2, N2, 0, a20, a21)
        dt_p1 = _min_dist(t_p1, t2, N2, 0, a20, a21)
        isi1 = t_f1 - t1[0]
        s1 = dt_p1
        index1 = 0
    if t2[0] > t_start:
        t_f2 = t2[0]
        dt_f2 = _min_dist(t_f2, t1, N1, 0, a10, a11)
        dt_p2 = dt_f2
        isi2 = max(t_f2 - t_start, t2[1] - t2[0]) if N2 > 1 else t_f2 - t_start
        s2 = dt_p2
        index2 = -1
    else:
        t_f2 = t2[1] if N2 > 1 else t_end
        dt_f2 = _min_dist(t_f2, t1, N1, 0, a10, a11)
        dt_p2 = _min_dist(t_p2, t1, N1, 0, a10, a11)
        isi2 = t_f2 - t2[0]
        s2 = dt_p2
        index2 = 0

    y_start = _dist_at_t(isi1, isi2, s1, s2, mrts, ri)
    t_curr = t_start
    while index1 + index2 < N1 + N2 - 2:
        if (index1 < N1 - 1) and (t_f1 < t_f2 or index2 == N2 - 1):
            index1 += 1
            s1 = dt_f1 * (t_f1 - t_p1) / isi1
            dt_p1 = dt_f1
            t_p1 = t_f1
            if index1 < N1 - 1:
                t_f1 = t1[index1 + 1]
            else:
                t_f1 = a11
            t_curr = t_p1
            s2 = (dt_p2 * (t_f2 - t_p1) + dt_f2 * (t_p1 - t_p2)) / isi2
            y_end = _dist_at_t(isi1, isi2, s1, s2, mrts, ri)
            spike_value += 0.5 * (y_start + y_end) * (t_curr - t_last)
            if index1 < N1 - 1:
                dt_f1 = _min_dist(t_f1, t2, N2, index2, a20, a21)
                isi1 = t_f1 - t_p1
                s1 = dt_p1
            else:
                dt_f1 = dt_p1
                isi1 = max(t_end - t1[N1 - 1], t1[N1 - 1] - t1[N1 - 2]) if N1 > 1 \
                    else t_end - t1[N1 - 1]
                s1 = dt_p1
            y_start = _dist_at_t(isi1, isi2, s1, s2, mrts, ri)
        elif (index2 < N2 - 1) and (t_f1 > t_f2 or index1 == N1 - 1):
            index2 += 1
            s2 = dt_f2 * (t_f2 - t_p2) / isi2
            dt_p2 = dt_f2
            t_p2 = t_f2
            if index2 < N2 - 1:
                t_f2 = t2[index2 + 1]
            else:
                t_f2 = a21
            t_curr = t_p2
            s1 = (dt_p1 * (t_f1 - t_p2) + dt_f1 * (t_p2 - t_p1)) / isi1
            y_end = _dist_at_t(isi1, isi2, s1, s2, mrts, ri)
            spike_value += 0.5 * (y_start + y_end) * (t_curr - t_last)
            if index2 < N2 - 1:
                dt_f2 = _min_dist(t_f2, t1, N1, index1, a10, a11)
                isi2 = t_f2 - t_p2
                s2 = dt_p2
            else:
                dt_f2 = dt_p2
                isi2 = max(t_end - t2[N2 - 1], t2[N2 - 1] - t2[N2 - 2]) if N2 > 1 \
                    else t_end - t2[N2 - 1]
                s2 = dt_p2
            y_start = _dist_at_t(isi1, isi2, s1, s2, mrts, ri)
        else:  # t_f1 == t_f2: one event
            index1 += 1
            index2 += 1
            t_p1 = t_f1
            t_p2 = t_f2
            dt_p1 = 0.0
            dt_p2 = 0.0
            t_curr = t_f1
            y_end = 0.0
            spike_value += 0.5 * (y_start + y_end) * (t_curr - t_last)
            y_start = 0.0
            if index1 < N1 - 1:
                t_f1 = t1[index1 + 1]
                dt_f1 = _min_dist(t_f1, t2, N2, index2, a20, a21)
                isi1 = t_f1 - t_p1
            else:
                t_f1 = a11
                dt_f1 = dt_p1
                isi1 = max(t_end - t1[N1 - 1], t1[N1 - 1] - t1[N1 - 2]) if N1 > 1 \
                    else t_end - t1[N1 - 1]
            if index2 < N2 - 1:
                t_f2 = t2[index2 + 1]
                dt_f2 = _min_dist(t_f2, t1, N1, index1, a10, a11)
                isi2 = t_f2 - t_p2
            else:
                t_f2 = a21
                dt_f2 = dt_p2
                isi2 = max(t_end - t2[N2 - 1], t2[N2 - 1] - t2[N2 - 2]) if N2 > 1 \
                    else t_end - t2[N2 - 1]
        t_last = t_curr
    # The last segment; of zero length when both trains end with a spike at t_end
    # (their last ISIs are then 0 and the profile 0/0): it adds nothing, not NaN.
    if t_end > t_last:
        s1 = dt_f1
        s2 = dt_f2
        y_end = _dist_at_t(isi1, isi2, s1, s2, mrts, ri)
        spike_value += 0.5 * (y_start + y_end) * (t_end - t_last)
    return spike_value / (t_end - t_start)


@njit(parallel=True, **_OPTS)
def spike_matrix(times, offsets, t_start, t_end, mrts, ri):
    n = offsets.size - 1
    out = np.zeros((n, n))
    for r in prange((n + 1) // 2):
        for h in range(2):
            i = _fold_row(r, h, n)
            if i < 0:
                break
            x = times[offsets[i]:offsets[i + 1]]
            for j in range(i + 1, n):
                d = spike_pair(x, times[offsets[j]:offsets[j + 1]], t_start, t_end, mrts, ri)
                out[i, j] = d
                out[j, i] = d
    return out


# --------------------------------------------------------------------------- SPIKE-synchronization
@njit(inline="always", **_OPTS)
def _interpolate(a, b, t):
    """PySpike ``Interpolate``: thresholded interpolation (``min(a, b)`` when ``t = 0``).

    The cases of PySpike's ``if`` chain (``t < a < b``: ``a``; ``t < b <= a``: ``b``;
    ``t > b``: ``b``; else ``t``), written as selects in reverse order of priority:
    the data-dependent branches were the kernel's main cost."""
    r = t
    r = b if t > b else r
    r = b if (t < b) & (b <= a) else r
    r = a if (t < a) & (a < b) else r
    return r


@njit(inline="always", **_OPTS)
def _get_tau(sp1, sp2, i, j, max_tau, mrts):
    """PySpike ``get_tau``: the coincidence window of spikes ``sp1[i]`` and ``sp2[j]``
    (half the smallest neighbouring ISI; ``max_tau`` stands in for missing ones)."""
    mF1 = max_tau
    mP1 = max_tau
    mF2 = max_tau
    mP2 = max_tau
    if i < sp1.size - 1 and i > -1:
        mF1 = sp1[i + 1] - sp1[i]
    if j < sp2.size - 1 and j > -1:
        mF2 = sp2[j + 1] - sp2[j]
    if i > 0:
        mP1 = sp1[i] - sp1[i - 1]
    if j > 0:
        mP2 = sp2[j] - sp2[j - 1]
    mF1 = mF1 / 2.0
    mF2 = mF2 / 2.0
    mP1 = mP1 / 2.0
    mP2 = mP2 / 2.0
    mrts = mrts / 4.0
    # PySpike: if i < 0 or j < 0 or sp1[i] <= sp2[j]:  a = Interpolate(mP1, mF1),
    # b = Interpolate(mF2, mP2); else the arguments swapped. Selects, as above.
    first = (i < 0) | (j < 0)
    if not first:
        first = sp1[i] <= sp2[j]
    a = _interpolate(mP1 if first else mF1, mF1 if first else mP1, mrts)
    b = _interpolate(mF2 if first else mP2, mP2 if first else mF2, mrts)
    return b if b < a else a


@njit(**_OPTS)
def sync_pair(spikes1, spikes2, t_start, t_end, max_tau, mrts):
    """PySpike ``coincidence_value_cython``: (coincidence count, multiplicity).

    Trains are sorted and duplicate-free; empty trains stay empty here."""
    N1 = spikes1.size
    N2 = spikes2.size
    i = -1
    j = -1
    coinc = 0.0
    mp = 0.0
    true_max = t_end - t_start
    if max_tau > 0:
        true_max = min(true_max, 2 * max_tau)
    while i + j < N1 + N2 - 2:
        if (i < N1 - 1) and (j == N2 - 1 or spikes1[i + 1] < spikes2[j + 1]):
            i += 1
            mp += 1
            tau = _get_tau(spikes1, spikes2, i, j, true_max, mrts)
            if j > -1 and spikes1[i] - spikes2[j] < tau:
                coinc += 2
        elif (j < N2 - 1) and (i == N1 - 1 or spikes1[i + 1] > spikes2[j + 1]):
            j += 1
            mp += 1
            tau = _get_tau(spikes1, spikes2, i, j, true_max, mrts)
            if i > -1 and spikes2[j] - spikes1[i] < tau:
                coinc += 2
        else:
            j += 1
            i += 1
            mp += 2
            coinc += 2
    return coinc, mp


@njit(parallel=True, **_OPTS)
def sync_matrix(times, offsets, t_start, t_end, max_tau, mrts):
    n = offsets.size - 1
    out = np.ones((n, n))
    for r in prange((n + 1) // 2):
        for h in range(2):
            i = _fold_row(r, h, n)
            if i < 0:
                break
            x = times[offsets[i]:offsets[i + 1]]
            for j in range(i + 1, n):
                c, mp = sync_pair(x, times[offsets[j]:offsets[j + 1]], t_start, t_end,
                                  max_tau, mrts)
                v = 1.0 if mp == 0.0 else c / mp
                out[i, j] = v
                out[j, i] = v
    return out
