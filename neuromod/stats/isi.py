"""Inter-spike-interval statistics of every train at once: ISIs, CV, CV2, LV.

All functions take a :class:`~neuromod.spikes.SpikeTrains` (or anything
:func:`neuromod.spikes.as_spike_trains` accepts) and work on its flat arrays: the
CV, CV2 and LV of all trains come from one compiled kernel (numba) that walks each
train's contiguous range of the flat ``times`` (CSR ``offsets``) once for the mean
interval and once for the squared deviations and the consecutive-interval terms; no
Python loop runs over trains or spikes and no per-spike temporaries are allocated.
:func:`isis` is ``np.diff`` of the flat ``times`` with the train boundaries masked out.

Conventions
-----------
* Times are in seconds; intervals are in seconds.
* A train with fewer than 3 spikes (fewer than 2 intervals) gets NaN for CV, CV2
  and LV. (Elephant raises ``ValueError`` for fewer than 2 intervals in CV2/LV;
  we return NaN so a population never fails on one quiet train.)
* Two consecutive zero intervals (three coincident spikes) make the CV2/LV term
  ``0/0``: that train's value is NaN, as in Elephant.
"""
import numpy as np

from neuromod.spikes import as_spike_trains

__all__ = ["isis", "cv", "cv2", "lv", "per_train"]

#: Fewest spikes for which CV, CV2 and LV are defined here (two intervals).
MIN_SPIKES = 3


def _flat_isis(st):
    """Intervals (s), their train ids and per-train interval counts."""
    times, ids = st.times, st.ids
    if times.size < 2:
        return np.empty(0), np.empty(0, dtype=np.int64), np.zeros(st.n_trains, dtype=np.int64)
    same = ids[1:] == ids[:-1]
    d = np.diff(times)[same]
    d_ids = ids[1:][same]
    n = np.bincount(d_ids, minlength=st.n_trains)
    return d, d_ids, n


def isis(st):
    """Inter-spike intervals of every train, as one flat array plus CSR offsets.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain
        The spike trains (any input :func:`neuromod.spikes.as_spike_trains` accepts).

    Returns
    -------
    values : numpy.ndarray of float64
        All intervals :math:`I_k = t_{k+1} - t_k` (seconds), train after train.
    offsets : numpy.ndarray of int64, shape (n_trains + 1,)
        Train ``i``'s intervals are ``values[offsets[i]:offsets[i + 1]]``
        (``max(n_spikes - 1, 0)`` of them).

    Examples
    --------
    >>> values, offsets = isis([[0.1, 0.3, 0.6], [0.5]])
    >>> values.round(3).tolist(), offsets.tolist()
    ([0.2, 0.3], [0, 2, 2])
    """
    st = as_spike_trains(st)
    d, _, n = _flat_isis(st)
    offsets = np.concatenate(([0], np.cumsum(n))).astype(np.int64)
    return d, offsets


_kernel = None


def _get_kernel():
    """Compile (or load from cache) the one-pass-per-train ISI kernel."""
    global _kernel
    if _kernel is None:
        from neuromod.runtime import ensure_cache_dir
        ensure_cache_dir(__file__)
        from numba import njit

        # error_model='numpy': 0/0 gives NaN (as numpy/Elephant) instead of raising.
        # Cache only under the package's own module name (a copy imported under
        # another name, e.g. by ``python -m doctest``, would poison the cache).
        @njit(cache=__name__ == "neuromod.stats.isi", error_model="numpy")
        def isi_stats(times, offsets, with_cv):
            n = offsets.size - 1
            cv = np.full(n, np.nan)
            cv2 = np.full(n, np.nan)
            lv = np.full(n, np.nan)
            for i in range(n):
                a = offsets[i]
                b = offsets[i + 1]
                m = b - a - 1                      # number of intervals
                if m < MIN_SPIKES - 1:
                    continue
                mean = 0.0
                if with_cv:                        # first pass: mean interval
                    s = 0.0
                    for k in range(a, b - 1):
                        s += times[k + 1] - times[k]
                    mean = s / m
                prev = times[a + 1] - times[a]
                dev = prev - mean
                ss = dev * dev
                s_abs = 0.0
                s_sq = 0.0
                for k in range(a + 1, b - 1):
                    cur = times[k + 1] - times[k]
                    if with_cv:
                        dev = cur - mean
                        ss += dev * dev
                    r = (cur - prev) / (prev + cur)
                    s_abs += abs(r)
                    s_sq += r * r
                    prev = cur
                if with_cv:
                    cv[i] = np.sqrt(ss / m) / mean
                cv2[i] = 2.0 * s_abs / (m - 1)
                lv[i] = 3.0 * s_sq / (m - 1)
            return cv, cv2, lv

        _kernel = isi_stats
    return _kernel


def _isi_stats(st, with_cv=True):
    """(cv, cv2, lv) of every train from one compiled pass per train (two for the CV;
    the CV is left NaN without ``with_cv``)."""
    return _get_kernel()(np.ascontiguousarray(st.times, dtype=np.float64),
                         np.ascontiguousarray(st.offsets, dtype=np.int64), bool(with_cv))


def cv(st):
    r"""Coefficient of variation of the ISIs of each train.

    .. math:: \mathrm{CV} = \frac{\sqrt{\frac{1}{n}\sum_k (I_k - \bar I)^2}}{\bar I}

    (population standard deviation, ``ddof = 0``, as ``scipy.stats.variation``),
    computed in two passes (mean, then squared deviations) for accuracy. CV = 1 for
    a Poisson process and 0 for a perfectly regular train.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain

    Returns
    -------
    numpy.ndarray, shape (n_trains,)
        Dimensionless; NaN for trains with fewer than 3 spikes.

    References
    ----------
    Softky & Koch (1993), J. Neurosci. 13:334-350.

    Examples
    --------
    >>> cv([[0.0, 0.25, 0.5, 0.75], [0.0, 0.1]]).tolist()
    [0.0, nan]
    """
    return _isi_stats(as_spike_trains(st))[0]


def cv2(st):
    r"""Local coefficient of variation CV2 of each train (Holt et al. 1996).

    .. math:: \mathrm{CV2} = \frac{1}{N-1}\sum_{k=1}^{N-1}
              \frac{2\,|I_{k+1} - I_k|}{I_{k+1} + I_k}

    over the :math:`N` intervals of the train, exactly as
    ``elephant.statistics.cv2`` (Elephant 1.2). CV2 = 1 for a Poisson process and
    is insensitive to slow rate changes.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain

    Returns
    -------
    numpy.ndarray, shape (n_trains,)
        Dimensionless; NaN for trains with fewer than 3 spikes.

    References
    ----------
    Holt, Softky, Koch & Douglas (1996), J. Neurophysiol. 75:1806-1814.

    Examples
    --------
    >>> round(float(cv2([[0.0, 0.3, 4.8, 11.5, 20.8]])[0]), 6)
    0.822619
    """
    return _isi_stats(as_spike_trains(st), with_cv=False)[1]


def lv(st):
    r"""Local variation LV of each train (Shinomoto et al. 2003).

    .. math:: \mathrm{LV} = \frac{3}{N-1}\sum_{k=1}^{N-1}
              \left(\frac{I_k - I_{k+1}}{I_k + I_{k+1}}\right)^2

    over the :math:`N` intervals of the train, exactly as
    ``elephant.statistics.lv`` (Elephant 1.2). LV = 1 for a Poisson process, 0 for
    a regular train.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain

    Returns
    -------
    numpy.ndarray, shape (n_trains,)
        Dimensionless; NaN for trains with fewer than 3 spikes.

    References
    ----------
    Shinomoto, Shima & Tanji (2003), Neural Comput. 15:2823-2842.

    Examples
    --------
    >>> round(float(lv([[0.0, 0.3, 4.8, 11.5, 20.8]])[0]), 6)
    0.830615
    """
    return _isi_stats(as_spike_trains(st), with_cv=False)[2]


def per_train(st):
    """Per-train summary: spike count, mean rate and the three variability measures.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain

    Returns
    -------
    dict of numpy.ndarray, each of shape (n_trains,)
        ``n_spikes`` (int64), ``rate_hz`` (count / (t_stop - t_start), Hz),
        ``cv``, ``cv2``, ``lv`` (dimensionless, NaN below 3 spikes).

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> s = per_train(SpikeTrains.from_list([[0.1, 0.2, 0.3]], t_stop=1.0))
    >>> s["n_spikes"].tolist(), s["rate_hz"].tolist()
    ([3], [3.0])
    """
    st = as_spike_trains(st)
    cv_, cv2_, lv_ = _isi_stats(st)
    counts = st.counts
    return {
        "n_spikes": counts.astype(np.int64),
        "rate_hz": counts / st.duration,
        "cv": cv_,
        "cv2": cv2_,
        "lv": lv_,
    }
