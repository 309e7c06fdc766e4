"""Time-scale-free measures of spike-train synchrony: ISI-distance, SPIKE-distance
and SPIKE-synchronization (Kreuz et al.).

Each function returns the ``n x n`` float64 matrix of the pairwise, time-averaged
measure over the observation window ``[t_start, t_stop]`` of the trains, computed
in one compiled (numba, cached) call that is parallel over pairs. The kernels are
ports of PySpike 0.9's Cython code and agree with ``pyspike.isi_distance_matrix``,
``spike_distance_matrix`` and ``spike_sync_matrix`` (tested to a relative 1e-6)
when each PySpike train's edges are ``[t_start, t_stop]``. As in PySpike:

* duplicate spike times within a train count once;
* for the ISI- and SPIKE-distance an empty train is given the two auxiliary
  spikes ``t_start`` and ``t_stop``;
* the first and last inter-spike intervals are edge-corrected: the interval
  before the first spike is ``max(t_1 - t_start, t_2 - t_1)`` and the one after
  the last spike ``max(t_stop - t_n, t_n - t_{n-1})``; the SPIKE-distance places
  auxiliary spikes at ``min(t_start, 2 t_1 - t_2)`` and ``max(t_stop, 2 t_n - t_{n-1})``.

None of the three is ever NaN for valid trains: every interval is positive.
"""
import math

import numpy as np

from neuromod.spikes import as_spike_trains
from neuromod.stats._bounds import check_pairwise
from neuromod.errors import ParameterError
from neuromod.units import to_seconds

__all__ = ["isi_distance", "spike_distance", "spike_sync"]


def _unique_csr(st):
    """Flat times/offsets with repeated spike times inside a train removed."""
    t, ids = st.times, st.ids
    if t.size > 1:
        keep = np.ones(t.size, dtype=bool)
        keep[1:] = (ids[1:] != ids[:-1]) | (t[1:] != t[:-1])
        if not keep.all():
            t, ids = t[keep], ids[keep]
    return np.ascontiguousarray(t, dtype=np.float64), ids


def _offsets(ids, n):
    return np.concatenate(([0], np.cumsum(np.bincount(ids, minlength=n)))).astype(np.int64)


def _in_window_units(st, fill_empty, mrts):
    """``_prepared`` with times in units of the window, ``(t - t_start) / duration``
    in ``[0, 1]``, and ``mrts`` likewise: ISI- and SPIKE-distance are dimensionless
    (time scales only enter as ratios), and the kernels' products of two or three
    intervals neither underflow (a window of 1e-300 s) nor overflow (spike times
    near 1e308 s) there. Returns (times, offsets, mrts)."""
    T = st.t_stop - st.t_start
    if not math.isfinite(T):
        raise ParameterError(f"the window [{st.t_start:g}, {st.t_stop:g}] s is too long "
                             "for the synchrony measures (its duration overflows)")
    times, offsets = _prepared(st, fill_empty)
    u = (times - st.t_start) / T
    np.clip(u, 0.0, 1.0, out=u)
    if u.size > 1:       # rounding may join two spikes of a train: keep one
        ids = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
        keep = np.ones(u.size, dtype=bool)
        keep[1:] = (ids[1:] != ids[:-1]) | (u[1:] != u[:-1])
        if not keep.all():
            u, ids = u[keep], ids[keep]
            offsets = _offsets(ids, offsets.size - 1)
    return np.ascontiguousarray(u), offsets, mrts / T


def _prepared(st, fill_empty):
    times, ids = _unique_csr(st)
    n = st.n_trains
    if fill_empty:
        empty = np.flatnonzero(np.bincount(ids, minlength=n) == 0)
        if empty.size:
            aux_t = np.tile([st.t_start, st.t_stop], empty.size)
            aux_i = np.repeat(empty, 2)
            ids = np.concatenate((ids, aux_i))
            order = np.argsort(ids, kind="stable")
            times = np.ascontiguousarray(np.concatenate((times, aux_t))[order])
            ids = ids[order]
    return times, _offsets(ids, n)


def _work(st):
    """Steps of a pairwise merge over all pairs: (n - 1) x (number of spikes)."""
    return max(st.n_trains - 1, 0) * (st.n_spikes + 2 * st.n_trains)


def _mrts(mrts):
    v = to_seconds(mrts, "mrts")
    if not (v >= 0 and math.isfinite(v)):
        raise ParameterError(f"mrts must be a finite time >= 0 s, got {v}")
    return float(v)


def isi_distance(spiketrains, t_start=None, t_stop=None, mrts=0.0):
    r"""Pairwise ISI-distance (Kreuz et al. 2007), as PySpike's ``isi_distance_matrix``.

    With :math:`\nu_x(t)` the inter-spike interval of train :math:`x` that contains
    :math:`t` (edge-corrected, see the module notes),

    .. math::

        D_I(x, y) = \frac{1}{T}\int_{t_\mathrm{start}}^{t_\mathrm{stop}}
            \frac{|\nu_x(t) - \nu_y(t)|}{\max(\mathrm{MRTS}, \nu_x(t), \nu_y(t))}\,dt ,

    exact integration of the piecewise-constant profile (no time grid).

    Parameters
    ----------
    spiketrains : SpikeTrains or anything :func:`neuromod.spikes.as_spike_trains` accepts
        ``n`` trains; their window ``[t_start, t_stop]`` is the averaging interval.
    t_start, t_stop : float or quantity, optional
        Another window (seconds): the trains are cut to it first.
    mrts : float or quantity
        Minimum relevant time scale in seconds for the adaptive A-ISI-distance
        (Satuvuori et al. 2017); 0 (default) is the classic ISI-distance.

    Returns
    -------
    numpy.ndarray, shape (n, n), float64
        Values in ``[0, 1]``, zero diagonal, symmetric.

    References
    ----------
    T. Kreuz, J. S. Haas, A. Morelli, H. D. I. Abarbanel & A. Politi (2007).
    Measuring spike train synchrony. J. Neurosci. Methods 165(1), 151–161.
    E. Satuvuori et al. (2017). Measures of spike train synchrony for data with
    multiple time scales. J. Neurosci. Methods 287, 25–38.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.25, 0.5, 0.75], [0.5]], t_stop=1.0)
    >>> float(isi_distance(st)[0, 1])     # ISIs 0.25 vs 0.5 everywhere
    0.5
    """
    st = as_spike_trains(spiketrains, t_start, t_stop)
    check_pairwise(st.n_trains, 2, "ISI-distances")
    mrts = _mrts(mrts)
    from neuromod.stats import _kernels
    times, offsets, mrts = _in_window_units(st, True, mrts)
    return _kernels.call(_kernels.isi_matrix, _work(st), times, offsets, 0.0, 1.0, mrts)


def spike_distance(spiketrains, t_start=None, t_stop=None, mrts=0.0, rate_independent=False):
    r"""Pairwise SPIKE-distance (Kreuz et al. 2013), as PySpike's ``spike_distance_matrix``.

    For :math:`t` between spikes :math:`t_P^{(x)} \le t \le t_F^{(x)}` of train
    :math:`x` (ISI :math:`\nu_x = t_F - t_P`, position
    :math:`x_P = t - t_P`, :math:`x_F = t_F - t`), with :math:`\Delta t_P, \Delta t_F`
    the distances of those spikes to the nearest spike of the other train, the local
    weighted difference is :math:`S_x = (\Delta t_P x_F + \Delta t_F x_P)/\nu_x` and

    .. math::

        S(t) = \frac{S_x \nu_y + S_y \nu_x}{2\,\langle\nu\rangle\,
               \max(\mathrm{MRTS}, \langle\nu\rangle)},\qquad
        \langle\nu\rangle = \tfrac{1}{2}(\nu_x + \nu_y),\qquad
        D_S = \frac{1}{T}\int S(t)\,dt .

    :math:`S` is piecewise linear, so the integral is exact (trapezoids between
    spikes). Edge handling follows PySpike (see the module notes).

    Parameters
    ----------
    spiketrains : SpikeTrains or anything :func:`neuromod.spikes.as_spike_trains` accepts
        ``n`` trains; their window is the averaging interval.
    t_start, t_stop : float or quantity, optional
        Another window (seconds): the trains are cut to it first.
    mrts : float or quantity
        Minimum relevant time scale (seconds) of the adaptive A-SPIKE-distance
        (Satuvuori et al. 2017); 0 (default) is the classic SPIKE-distance.
    rate_independent : bool
        Use the rate-independent variant (RI-SPIKE):
        :math:`S(t) = (S_x + S_y) / (2 \max(\mathrm{MRTS}, \langle\nu\rangle))`.

    Returns
    -------
    numpy.ndarray, shape (n, n), float64
        Values in ``[0, 1]``, zero diagonal, symmetric.

    References
    ----------
    T. Kreuz, D. Chicharro, C. Houghton, R. G. Andrzejak & F. Mormann (2013).
    Monitoring spike train synchrony. J. Neurophysiol. 109(5), 1457–1472.
    M. Mulansky & T. Kreuz (2016). PySpike — a Python library for analyzing spike
    train synchrony. SoftwareX 5, 183–189.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.2, 0.6], [0.2, 0.6]], t_stop=1.0)
    >>> float(spike_distance(st)[0, 1])
    0.0
    """
    st = as_spike_trains(spiketrains, t_start, t_stop)
    check_pairwise(st.n_trains, 2, "SPIKE-distances")
    mrts = _mrts(mrts)
    from neuromod.stats import _kernels
    times, offsets, mrts = _in_window_units(st, True, mrts)
    return _kernels.call(_kernels.spike_matrix, _work(st), times, offsets, 0.0, 1.0, mrts,
                         bool(rate_independent))


def spike_sync(spiketrains, t_start=None, t_stop=None, max_tau=None, mrts=0.0):
    r"""Pairwise SPIKE-synchronization (Kreuz et al. 2015), as PySpike's ``spike_sync_matrix``.

    Two spikes of different trains are coincident when they are closer than the
    adaptive window :math:`\tau_{ij} = \tfrac{1}{2}\min(\text{the ISIs on either side
    of both spikes})` (capped by ``max_tau``; a missing neighbouring ISI counts as
    ``T = t_stop - t_start``, or ``2 max_tau``, as PySpike). The value of a pair is

    .. math:: \mathrm{SYNC}(x, y) = \frac{C}{M},

    with :math:`C` twice the number of coincidences found and :math:`M = n_x + n_y`
    the number of spikes (PySpike's one-pass scan: each spike is compared with the
    latest spike of the other train). Two empty trains give 1 (PySpike's
    convention: nothing to disagree on); one empty and one non-empty train give 0.
    The diagonal is 1.

    Parameters
    ----------
    spiketrains : SpikeTrains or anything :func:`neuromod.spikes.as_spike_trains` accepts
        ``n`` trains.
    t_start, t_stop : float or quantity, optional
        Another window (seconds): the trains are cut to it first.
    max_tau : float or quantity, optional
        Upper bound of the coincidence window (seconds); ``None`` or 0: unbounded.
    mrts : float or quantity
        Minimum relevant time scale (seconds) of the adaptive A-SPIKE-synchronization.

    Returns
    -------
    numpy.ndarray, shape (n, n), float64
        Values in ``[0, 1]``, symmetric, ones on the diagonal. A similarity, not a
        distance.

    References
    ----------
    T. Kreuz, M. Mulansky & N. Bozanic (2015). SPIKY: a graphical user interface
    for monitoring spike train synchrony. J. Neurophysiol. 113(9), 3432–3445.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.1, 0.5, 0.9], [0.11, 0.52, 0.7]], t_stop=1.0)
    >>> round(float(spike_sync(st)[0, 1]), 4)   # 2 coincidences: C = 4, M = 6
    0.6667
    """
    st = as_spike_trains(spiketrains, t_start, t_stop)
    check_pairwise(st.n_trains, 2, "SPIKE-synchronization")
    mrts = _mrts(mrts)
    if max_tau is None:
        max_tau = 0.0
    max_tau = to_seconds(max_tau, "max_tau")
    if not (max_tau >= 0 and math.isfinite(max_tau)):
        raise ParameterError(f"max_tau must be a finite time >= 0 s, got {max_tau}")
    from neuromod.stats import _kernels
    times, offsets = _prepared(st, fill_empty=False)
    return _kernels.call(_kernels.sync_matrix, _work(st), times, offsets, st.t_start,
                         st.t_stop, float(max_tau), mrts)
