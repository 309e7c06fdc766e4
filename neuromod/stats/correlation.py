"""Pairwise spike-train correlation: cross-correlograms and the spike time tiling coefficient.

Both work on the flat arrays of a :class:`~neuromod.spikes.SpikeTrains` (or anything
:func:`neuromod.spikes.as_spike_trains` accepts), in seconds. Trains share the
container's window ``[t_start, t_stop]``.
"""
import math

import numpy as np

from neuromod.errors import SpikeDataError
from neuromod.spikes import as_spike_trains
from neuromod.stats._bounds import check_pairwise
from neuromod.stats.rates import _bin_shape, bin_counts
from neuromod.units import to_seconds

__all__ = ["cross_correlogram", "sttc", "sttc_matrix", "tiling_fraction"]

#: Above this many spike pairs in the lag window the correlogram uses an FFT.
_MAX_PAIRS = 5_000_000


def _train_index(st, i, name):
    try:
        k = int(i)
    except (TypeError, ValueError):
        raise SpikeDataError(f"{name} must be a train index, got {i!r}") from None
    if k < 0:
        k += st.n_trains
    if not 0 <= k < st.n_trains:
        raise SpikeDataError(f"{name} = {i} outside 0..{st.n_trains - 1}")
    return k


def _lag_window(window, bs, n_bins):
    """Integer lag window (lo, hi) in bins."""
    full = (-(n_bins - 1), n_bins - 1)
    if window is None or (isinstance(window, str) and window == "full"):
        return full
    if isinstance(window, str):
        raise ValueError(f"window must be None, 'full', a maximum lag or (min_lag, max_lag); got {window!r}")
    w = to_seconds(window, "window")
    w = np.atleast_1d(np.asarray(w, dtype=np.float64))
    if w.size == 1:
        if not w[0] > 0:
            raise SpikeDataError(f"maximum lag must be > 0, got {w[0]} s")
        w = np.array([-w[0], w[0]])
    if w.size != 2 or not np.all(np.isfinite(w)):
        raise SpikeDataError("window must be a maximum lag or (min_lag, max_lag) in seconds")
    lo, hi = (int(np.round(v / bs)) for v in w)
    if lo >= hi:
        raise SpikeDataError(f"window's left edge ({lo} bins) must be below its right edge ({hi} bins)")
    if lo < full[0] or hi > full[1]:
        raise SpikeDataError(
            f"window [{lo}, {hi}] bins exceeds the spike trains' length ({n_bins} bins)")
    return lo, hi


def _pair_lag_counts(xi, xj, lo, hi):
    """sum_k xi[k] xj[k + lag] for lag in lo..hi from the nonzero bins (exact integers);
    None when there are too many spike pairs."""
    bi = np.flatnonzero(xi)
    bj = np.flatnonzero(xj)
    n_lags = hi - lo + 1
    if bi.size == 0 or bj.size == 0:
        return np.zeros(n_lags, dtype=np.int64)
    left = np.searchsorted(bj, bi + lo, side="left")
    right = np.searchsorted(bj, bi + hi, side="right")
    n = right - left
    total = int(n.sum())
    if total > _MAX_PAIRS:
        return None
    rep = np.repeat(np.arange(bi.size), n)
    start = np.repeat(left - (np.cumsum(n) - n), n)
    jj = start + np.arange(total)
    lag = bj[jj] - bi[rep]
    w = xi[bi[rep]] * xj[bj[jj]]
    return np.bincount(lag - lo, weights=w, minlength=n_lags).astype(np.int64)


def cross_correlogram(st, i, j, bin_size, window=None, border_correction=False, binary=False):
    r"""Cross-correlation histogram of trains ``i`` and ``j``, as Elephant's
    ``cross_correlation_histogram`` of the two binned trains.

    With :math:`x_i[k]`, :math:`x_j[k]` the spike counts in bin :math:`k`
    (Elephant's binning, :func:`neuromod.stats.rates.bin_counts`),

    .. math:: C[\ell] = \sum_k x_i[k]\, x_j[k + \ell],

    so a positive lag :math:`\ell` means train ``j`` fires after train ``i``.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain
    i, j : int
        Reference and target train.
    bin_size : float or quantity
        Bin width in seconds.
    window : None, float/quantity or (float, float)
        ``None`` (Elephant's ``'full'``): every lag ``-(n_bins-1) .. n_bins-1``. A
        number: lags in ``[-window, window]``; a pair: ``[min_lag, max_lag]``
        (seconds, rounded to whole bins).
    border_correction : bool
        Multiply lag :math:`\ell` by :math:`n/(n - |\ell|)` for :math:`n` bins
        (Elephant's correction for trains on the same window). Off by default.
    binary : bool
        Count at most one spike per bin. Off by default.

    Returns
    -------
    counts : numpy.ndarray
        int64 (float64 with ``border_correction``), one value per lag.
    lags : numpy.ndarray
        Lags in seconds, ``lag_bins * bin_size``.

    Notes
    -----
    Computed exactly from the spike pairs in the window when there are at most
    5e6 of them, otherwise by FFT correlation rounded to integers (Elephant's
    ``method='speed'``); both equal Elephant's ``memory`` method, and its ``speed``
    method for ``'full'`` and symmetric windows (for an asymmetric window Elephant
    1.2's ``speed`` method returns truncated output).

    References
    ----------
    Eggermont (2010), in *Analysis of Parallel Spike Trains*, Springer, ch. 5.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.45], [0.75]], t_stop=1.0)
    >>> c, lags = cross_correlogram(st, 0, 1, 0.1, window=0.5)
    >>> c.tolist(), round(float(lags[c.argmax()]), 3)
    ([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], 0.3)
    """
    st = as_spike_trains(st)
    a = _train_index(st, i, "i")
    b = _train_index(st, j, "j")
    pair = st.subset([a, b])
    # two count rows, and fftconvolve's padded complex transforms of the full correlation
    _bin_shape(pair, bin_size, cell_bytes=24, extra_per_bin=160)
    counts, edges = bin_counts(pair, bin_size, binary=binary)
    bs = edges[1] - edges[0]
    n_bins = counts.shape[1]
    lo, hi = _lag_window(window, bs, n_bins)
    xi, xj = counts[0], counts[1]
    cch = _pair_lag_counts(xi, xj, lo, hi)
    if cch is None:
        from scipy.signal import fftconvolve
        full = fftconvolve(xj.astype(np.float64), xi[::-1].astype(np.float64), mode="full")
        # full[m] is the lag m - (n_bins - 1)
        cch = np.rint(full[lo + n_bins - 1: hi + n_bins]).astype(np.int64)
    lags_bins = np.arange(lo, hi + 1)
    if border_correction:
        cch = cch * (n_bins / (n_bins - np.abs(lags_bins)))
    return cch, lags_bins * bs


_ccg_kernel = None


def _get_ccg_kernel():
    global _ccg_kernel
    if _ccg_kernel is None:
        from neuromod.runtime import ensure_cache_dir
        ensure_cache_dir(__file__)
        from numba import njit, prange

        @njit(parallel=True, cache=__name__ == "neuromod.stats.correlation")
        def ccg_pairs(bins, offsets, pi, pj, lo, hi, out):
            """out[p, l - lo]: spike pairs of trains pi[p], pj[p] whose bins differ by l.

            A sorted merge per pair: the spikes of the target train within lags [lo, hi]
            of each reference spike form a window whose left edge only moves forward."""
            for p in prange(pi.size):
                a0, a1 = offsets[pi[p]], offsets[pi[p] + 1]
                b0, b1 = offsets[pj[p]], offsets[pj[p] + 1]
                left = b0
                for s in range(a0, a1):
                    x = bins[s]
                    while left < b1 and bins[left] < x + lo:
                        left += 1
                    r = left
                    while r < b1 and bins[r] <= x + hi:
                        out[p, bins[r] - x - lo] += 1
                        r += 1

        _ccg_kernel = ccg_pairs
    return _ccg_kernel


def cross_correlograms(st, bin_size, window=None, pairs=None, border_correction=False,
                       binary=False):
    r"""Cross-correlation histograms of many pairs of trains, by sorted merges.

    Entry ``p`` equals :func:`cross_correlogram` ``(st, i, j, ...)`` of the pair
    ``pairs[p] = (i, j)``: with every spike's bin index :math:`k = \lfloor (t -
    t_{start}) / \Delta floor` (Elephant's binning, spikes past the last whole bin
    dropped),

    .. math:: C_{ij}[\ell] = \#\{(s, s') : s \in i,\ s' \in j,\ k_{s'} - k_s = \ell\}
              = \sum_k x_i[k]\, x_j[k + \ell].

    The recording is never binned as a whole: each pair is one merge of its two sorted
    trains (a compiled kernel, parallel over pairs), so the cost is the spikes of the
    two trains plus the spike pairs within the window, and the memory the result
    (``n_pairs x n_lags`` counts) -- an hour of 500 units at 1 ms needs no
    ``500 x 3.6e6`` count array.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain
    bin_size : float or quantity
        Bin width in seconds.
    window : None, float/quantity or (float, float)
        As :func:`cross_correlogram` (None: every lag of the window).
    pairs : array-like of (int, int), optional
        Reference and target trains; default every ``i < j`` in row order.
    border_correction, binary : bool
        As :func:`cross_correlogram`.

    Returns
    -------
    counts : numpy.ndarray, shape (n_pairs, n_lags)
        int64 (float64 with ``border_correction``).
    lags : numpy.ndarray
        Lags in seconds.
    pairs : numpy.ndarray of int64, shape (n_pairs, 2)

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.45], [0.75], [0.5]], t_stop=1.0)
    >>> c, lags, pairs = cross_correlograms(st, 0.1, window=0.5)
    >>> pairs.tolist(), c[0].tolist() == cross_correlogram(st, 0, 1, 0.1, 0.5)[0].tolist()
    ([[0, 1], [0, 2], [1, 2]], True)
    """
    from neuromod.limits import check_allocation
    from neuromod.stats._bounds import whole_bins
    from neuromod.stats.rates import _positive_seconds, _round_bins
    st = as_spike_trains(st)
    n = st.n_trains
    bs = _positive_seconds(bin_size, "bin_size")
    t0, t1 = st.t_start, st.t_stop
    n_bins = whole_bins(t0, t1, bs)
    lo, hi = _lag_window(window, bs, n_bins)
    if pairs is None:
        check_allocation(16 * (n * (n - 1) // 2), f"the {n * (n - 1) // 2} pairs of {n} trains")
        pi, pj = np.triu_indices(n, 1)
    else:
        P = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        pi, pj = P[:, 0].copy(), P[:, 1].copy()
        for name, v in (("i", pi), ("j", pj)):
            if v.size and (v.min() < -n or v.max() >= n):
                raise SpikeDataError(f"pairs: {name} outside 0..{n - 1}")
        pi, pj = pi % max(n, 1), pj % max(n, 1)
    pi = np.ascontiguousarray(pi, dtype=np.int64)
    pj = np.ascontiguousarray(pj, dtype=np.int64)
    n_lags = hi - lo + 1
    check_allocation(8 * pi.size * n_lags * (2 if border_correction else 1),
                     f"cross-correlograms of {pi.size} pairs x {n_lags} lags")
    times, ids = st.times, st.ids
    keep = (times >= t0) & (times <= t1)
    k = _round_bins((times[keep] - t0) * (1.0 / bs))
    ids = ids[keep]
    ok = k < n_bins
    k, ids = k[ok], ids[ok]
    if binary:                      # one spike per bin: drop repeats within a train
        first = np.ones(k.size, dtype=bool)
        first[1:] = (k[1:] != k[:-1]) | (ids[1:] != ids[:-1])
        k, ids = k[first], ids[first]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(ids, minlength=n), out=offsets[1:])
    out = np.zeros((pi.size, n_lags), dtype=np.int64)
    if pi.size:
        _get_ccg_kernel()(np.ascontiguousarray(k, dtype=np.int64), offsets, pi, pj, lo, hi,
                          out)
    lags_bins = np.arange(lo, hi + 1)
    if border_correction:
        out = out * (n_bins / (n_bins - np.abs(lags_bins)))
    return out, lags_bins * bs, np.stack([pi, pj], 1)


# ---------------------------------------------------------------------- STTC
def _positive_dt(dt):
    v = to_seconds(dt, "dt")
    if v is None or not np.isscalar(v) or not math.isfinite(v) or not v > 0:
        raise SpikeDataError(f"dt must be a finite time > 0, got {dt}")
    return float(v)


def tiling_fraction(st, dt=0.005):
    r"""Fraction of the window within :math:`\pm dt` of a spike, for every train.

    .. math:: T = \frac{1}{t_{stop} - t_{start}}\Big[\sum_k \min(I_k, 2dt)
              + \min(t_1 - t_{start}, dt) + \min(t_{stop} - t_n, dt)\Big]

    (the ``T_A`` of Cutts & Eglen 2014; intervals of the union of
    :math:`[t - dt, t + dt]` clipped to the window). NaN for an empty train.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> tiling_fraction(SpikeTrains.from_list([[0.5]], t_stop=1.0), 0.1).round(6).tolist()
    [0.2]
    """
    st = as_spike_trains(st)
    dt = _positive_dt(dt)
    n = st.n_trains
    times, ids, off = st.times, st.ids, st.offsets
    covered = np.zeros(n)
    if times.size > 1:
        same = ids[1:] == ids[:-1]
        d = np.minimum(np.diff(times)[same], 2 * dt)
        covered += np.bincount(ids[1:][same], weights=d, minlength=n)
    has = off[1:] > off[:-1]
    first = times[off[:-1][has]]
    last = times[off[1:][has] - 1]
    covered[has] += np.minimum(first - st.t_start, dt) + np.minimum(st.t_stop - last, dt)
    out = covered / st.duration
    out[~has] = np.nan
    return out


def _near_fraction(a, b, dt):
    """Fraction of spikes of sorted ``a`` within ``dt`` (|a - b| <= dt) of a spike of sorted ``b``."""
    if a.size == 0 or b.size == 0:
        return np.nan
    k = np.searchsorted(b, a)
    left = np.abs(a - b[np.maximum(k - 1, 0)]) <= dt
    right = np.abs(b[np.minimum(k, b.size - 1)] - a) <= dt
    return float(np.count_nonzero(left | right)) / a.size


def _sttc_term(p, t):
    """(p - t) / (1 - p t), with the 0/0 at p = t = 1 set to 1 (Elephant 1.2)."""
    p = np.asarray(p, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    one = p * t == 1
    with np.errstate(invalid="ignore", divide="ignore"):
        v = (p - t) / (1 - p * t)
    return np.where(one, 1.0, v)


def sttc(st, i, j, dt=0.005):
    r"""Spike time tiling coefficient of trains ``i`` and ``j`` (Cutts & Eglen 2014).

    .. math:: \mathrm{STTC} = \tfrac12\left(\frac{P_A - T_B}{1 - P_A T_B}
              + \frac{P_B - T_A}{1 - P_B T_A}\right)

    :math:`P_A`: fraction of A's spikes within :math:`\pm dt` (:math:`|t_a - t_b| \le dt`)
    of a spike of B; :math:`T_A`: :func:`tiling_fraction` of A. A term whose
    :math:`P T = 1` (0/0) is set to 1, as in Elephant 1.2's
    ``spike_time_tiling_coefficient``. Ranges over [-1, 1]; symmetric in i, j.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain
    i, j : int
        Train indices.
    dt : float or quantity
        Synchrony window in seconds (default 5 ms).

    Returns
    -------
    float
        NaN when either train is empty.

    Notes
    -----
    Elephant 1.2 tests closeness with ``numpy.isclose(t_a, t_b, atol=dt)``, whose
    default ``rtol = 1e-5`` widens the window to :math:`dt + 10^{-5}|t_b|` (1 ms
    extra at t = 100 s). We use Cutts' original :math:`|t_a - t_b| \le dt`; the
    two agree unless a spike pair's distance falls in that sliver.

    References
    ----------
    Cutts & Eglen (2014), J. Neurosci. 34:14288-14303.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> a = np.array([1.3, 7.56, 15.87, 28.23, 30.9, 34.2, 38.2, 43.2]) / 1000  # ms -> s
    >>> b = np.array([1.02, 2.71, 18.82, 28.46, 28.79, 43.6]) / 1000
    >>> st = SpikeTrains.from_list([a, b], t_stop=0.05)
    >>> round(sttc(st, 0, 1, dt=0.005), 6)
    0.49586
    """
    st = as_spike_trains(st)
    a = _train_index(st, i, "i")
    b = _train_index(st, j, "j")
    dt = _positive_dt(dt)
    A, B = st.train(a), st.train(b)
    if A.size == 0 or B.size == 0:
        return float("nan")
    T = tiling_fraction(st.subset([a, b]), dt)
    pa = _near_fraction(A, B, dt)
    pb = _near_fraction(B, A, dt)
    return float(0.5 * (_sttc_term(pa, T[1]) + _sttc_term(pb, T[0])))


_near_kernel = None


def _get_near_kernel():
    global _near_kernel
    if _near_kernel is None:
        from neuromod.runtime import ensure_cache_dir
        ensure_cache_dir(__file__)
        from numba import njit

        # Cache only under the package's own module name (a copy imported under
        # another name, e.g. by ``python -m doctest``, would poison the cache).
        @njit(cache=__name__ == "neuromod.stats.correlation")
        def near_counts(gt, gid, n, dt):
            """near[a, b]: spikes of train a with a spike of train b within dt (a != b).

            ``gt``/``gid``: all spike times sorted globally, and their train ids. A
            sliding window [lo, hi) holds the spikes within dt of spike s; each train
            in it is counted once per spike (``mark``)."""
            S = gt.size
            out = np.zeros((n, n), dtype=np.int64)
            mark = np.full(n, -1, dtype=np.int64)
            lo = 0
            hi = 0
            for s in range(S):
                x = gt[s]
                a = gid[s]
                while x - gt[lo] > dt:
                    lo += 1
                if hi < s + 1:
                    hi = s + 1
                while hi < S and gt[hi] - x <= dt:
                    hi += 1
                for j in range(lo, hi):
                    b = gid[j]
                    if b != a and mark[b] != s:
                        mark[b] = s
                        out[a, b] += 1
            return out

        _near_kernel = near_counts
    return _near_kernel


def sttc_matrix(st, dt=0.005):
    """STTC of every pair of trains, an ``(n_trains, n_trains)`` symmetric matrix.

    Same definition as :func:`sttc` (entry ``[i, j]`` equals ``sttc(st, i, j, dt)``);
    the diagonal is 1 for non-empty trains; rows and columns of empty trains are NaN.
    The "spike within dt" counts of all pairs come from one compiled sweep (numba)
    over all spikes in time order with a sliding +-dt window: O(n_spikes x w) for
    w spikes of the population per 2 dt window, plus O(n_trains^2) memory.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.1, 0.5], [0.102, 0.9], []], t_stop=1.0)
    >>> m = sttc_matrix(st, dt=0.005)
    >>> bool(m[0, 1] == m[1, 0]), float(m[0, 0]), bool(np.isnan(m[2, 0]))
    (True, 1.0, True)
    """
    st = as_spike_trains(st)
    dt = _positive_dt(dt)
    n = st.n_trains
    check_pairwise(n, 6, "STTC matrix")
    counts = st.counts
    order = np.argsort(st.times, kind="stable")
    near = _get_near_kernel()(np.ascontiguousarray(st.times[order]),
                              np.ascontiguousarray(st.ids[order]), n, dt)
    near[np.diag_indices(n)] = counts
    with np.errstate(invalid="ignore", divide="ignore"):
        P = near / counts[:, None]            # P[a, b]: fraction of a's spikes near b
    T = tiling_fraction(st, dt)
    # sttc(i, j) = 0.5 * (term(P[j, i], T[i]) + term(P[i, j], T[j]))
    M = 0.5 * (_sttc_term(P.T, T[:, None]) + _sttc_term(P, T[None, :]))
    empty = counts == 0
    M[empty, :] = np.nan
    M[:, empty] = np.nan
    return M
