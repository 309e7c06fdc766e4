"""Inter-spike-interval statistics of every train at once: ISIs, CV, CV2, LV.

All functions take a :class:`~neuromod.spikes.SpikeTrains` (or anything
:func:`neuromod.spikes.as_spike_trains` accepts) and work on its flat arrays: the
intervals are ``np.diff`` of the flat ``times`` (the differences that cross a train
boundary are never summed), and per-train sums are one ``np.add.reduceat`` over each
train's contiguous range (CSR ``offsets``). No Python loop runs over trains or spikes.

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


def _segment_sums(v, starts, stops):
    """Sums of ``v[starts[i]:stops[i]]`` (0 for empty ranges); ranges ordered and disjoint.

    One ``np.add.reduceat`` over the interleaved bounds: sequential sums, no copy of ``v``.
    """
    out = np.zeros(starts.size)
    ne = stops > starts
    if not ne.any():
        return out
    idx = np.empty(2 * int(ne.sum()), dtype=np.int64)
    idx[0::2] = starts[ne]
    idx[1::2] = stops[ne]
    if idx[-1] >= v.size:            # the last range runs to the end of v
        idx = idx[:-1]
    out[ne] = np.add.reduceat(v, idx)[0::2]
    return out


def _moments(st):
    """Flat ISIs ``d = diff(times)`` (entries at train boundaries are junk and never summed),
    each train's ISI range in ``d``, the ISI counts and the per-train mean ISI."""
    off = st.offsets
    counts = np.diff(off)
    n = np.maximum(counts - 1, 0)
    d = np.diff(st.times)
    starts = off[:-1]
    stops = starts + n
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = _segment_sums(d, starts, stops) / n
    return d, starts, stops, n, mean


def _cv_from(st, d, starts, stops, n, mean):
    if d.size == 0:
        return np.full(st.n_trains, np.nan)
    # Two-pass variance: deviations from each train's mean (np.repeat aligns the means with d).
    dev = d - np.repeat(mean, st.counts)[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.sqrt(_segment_sums(dev * dev, starts, stops) / n) / mean
    out[n < MIN_SPIKES - 1] = np.nan
    return out


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
    st = as_spike_trains(st)
    return _cv_from(st, *_moments(st))


def _pair_sums(st, d, starts, n):
    """Per train: sum of |r_k| and of r_k^2 with r_k = (I_{k+1} - I_k) / (I_{k+1} + I_k),
    and the number of pairs (n - 1)."""
    n_pairs = np.maximum(n - 1, 0)
    if d.size < 2:
        z = np.zeros(st.n_trains)
        return z, z.copy(), n_pairs
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (d[1:] - d[:-1]) / (d[:-1] + d[1:])
    stops = starts + n_pairs
    return _segment_sums(np.abs(r), starts, stops), _segment_sums(r * r, starts, stops), n_pairs


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
    st = as_spike_trains(st)
    d, starts, _, n, _ = _moments(st)
    s_abs, _, n_pairs = _pair_sums(st, d, starts, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 2.0 * s_abs / n_pairs
    out[n_pairs < 1] = np.nan
    return out


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
    st = as_spike_trains(st)
    d, starts, _, n, _ = _moments(st)
    _, s_sq, n_pairs = _pair_sums(st, d, starts, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 3.0 * s_sq / n_pairs
    out[n_pairs < 1] = np.nan
    return out


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
    d, starts, stops, n, mean = _moments(st)
    cv_ = _cv_from(st, d, starts, stops, n, mean)
    s_abs, s_sq, n_pairs = _pair_sums(st, d, starts, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv2_ = 2.0 * s_abs / n_pairs
        lv_ = 3.0 * s_sq / n_pairs
    cv2_[n_pairs < 1] = np.nan
    lv_[n_pairs < 1] = np.nan
    counts = st.counts
    return {
        "n_spikes": counts.astype(np.int64),
        "rate_hz": counts / st.duration,
        "cv": cv_,
        "cv2": cv2_,
        "lv": lv_,
    }
