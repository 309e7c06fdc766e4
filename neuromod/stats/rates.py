"""Firing rates and count statistics: mean rates, Fano factors, PSTHs, kernel rates.

Every function takes a :class:`~neuromod.spikes.SpikeTrains` (or anything
:func:`neuromod.spikes.as_spike_trains` accepts), works in seconds and Hz, and is
vectorised over all trains (binning is one ``np.bincount`` on ``ids * n_bins + bin``).

Binning convention (:func:`bin_counts`, used by the PSTH, the windowed Fano factor
and :mod:`neuromod.stats.evaluation`) is Elephant's ``BinnedSpikeTrain``: only
whole bins, ``n_bins = floor((t_stop - t_start) / bin_size)``; bin ``k`` is
``[t_start + k b, t_start + (k+1) b)``; a spike within ``1e-8`` of a bin's width
below an edge is counted in the next bin (floating-point rounding), and spikes
in a trailing partial bin or exactly at ``t_stop`` (when ``bin_size`` divides the
window) are dropped. This differs on purpose from :meth:`SpikeTrains.bin`, which
keeps the partial last bin.
"""
from collections import namedtuple
import math

import numpy as np

from neuromod.errors import SpikeDataError
from neuromod.spikes import as_spike_trains
from neuromod.stats._bounds import check_bins, whole_bins
from neuromod.units import to_seconds

__all__ = ["bin_counts", "mean_rates", "fano_factor", "windowed_fano_factor", "time_histogram",
           "psth", "optimal_kernel_bandwidth", "instantaneous_rate", "WindowedFano"]

#: Elephant's binning tolerance (fraction of a bin), ``BinnedSpikeTrain(tolerance=1e-8)``.
BIN_TOLERANCE = 1e-8

WindowedFano = namedtuple("WindowedFano", ["fano", "per_bin", "bin_edges"])
WindowedFano.__doc__ = """Result of :func:`windowed_fano_factor`.

fano : float
    Aggregate Fano factor (summed across-trial variance over summed mean count).
per_bin : numpy.ndarray, shape (n_bins,)
    Fano factor of each bin (NaN where no trial has a spike).
bin_edges : numpy.ndarray, shape (n_bins + 1,)
    Bin edges in seconds.
"""


def _positive_seconds(x, name):
    v = to_seconds(x, name)
    if v is None or not np.isscalar(v) or not math.isfinite(v) or not v > 0:
        raise SpikeDataError(f"{name} must be a finite time > 0, got {x}")
    return float(v)


def _round_bins(x):
    """Elephant's ``round_binning_errors``: values within 1e-8 below an integer round up."""
    x = np.asarray(x, dtype=np.float64)
    x = np.where(np.mod(x, 1.0) >= 1.0 - BIN_TOLERANCE, x + 0.5, x)
    return np.floor(x).astype(np.int64)


def _window(st, t_start, t_stop):
    t0 = st.t_start if t_start is None else float(to_seconds(t_start, "t_start"))
    t1 = st.t_stop if t_stop is None else float(to_seconds(t_stop, "t_stop"))
    if not (math.isfinite(t0) and math.isfinite(t1)):
        raise SpikeDataError(f"t_start and t_stop must be finite, got [{t0}, {t1}] s")
    if not t1 > t0:
        raise SpikeDataError(f"t_stop ({t1:.9g} s) must be greater than t_start ({t0:.9g} s)")
    return t0, t1


def _bin_shape(st, bin_size, t_start=None, t_stop=None, cell_bytes=24, extra_per_bin=0):
    """(bin width, t0, t1, n_bins) of :func:`bin_counts`, checked against the memory
    limit for ``cell_bytes`` per train and bin (and ``extra_per_bin`` per bin)."""
    bs = _positive_seconds(bin_size, "bin_size")
    t0, t1 = _window(st, t_start, t_stop)
    n_bins = whole_bins(t0, t1, bs)
    check_bins(st.n_trains, n_bins, cell_bytes, bs, extra=n_bins * extra_per_bin)
    return bs, t0, t1, n_bins


def bin_counts(st, bin_size, t_start=None, t_stop=None, binary=False):
    """Spike counts in whole bins with Elephant's ``BinnedSpikeTrain`` convention.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain
    bin_size : float or quantity
        Bin width in seconds.
    t_start, t_stop : float or quantity, optional
        Window to bin (seconds); defaults to the trains' window. Spikes outside
        ``[t_start, t_stop]`` are ignored.
    binary : bool
        Count at most one spike per bin (Elephant's ``binarize``).

    Returns
    -------
    counts : numpy.ndarray of int64, shape (n_trains, n_bins)
    edges : numpy.ndarray, shape (n_bins + 1,)
        Bin edges in seconds, ``t_start + k * bin_size``.

    Notes
    -----
    ``n_bins = floor((t_stop - t_start) / bin_size)`` (rounded up when within 1e-8 of
    the next integer), bin index ``floor((t - t_start) / bin_size)`` with the same
    rounding; indices ``>= n_bins`` are dropped, so a spike at exactly ``t_stop``
    is not counted when ``bin_size`` divides the window -- as in Elephant 1.2.

    Examples
    --------
    >>> counts, edges = bin_counts([[0.05, 0.15, 0.3]], 0.1, t_stop=0.3)
    >>> counts.tolist(), edges.round(2).tolist()
    ([[1, 1, 0]], [0.0, 0.1, 0.2, 0.3])
    """
    st = as_spike_trains(st)
    bs, t0, t1, n_bins = _bin_shape(st, bin_size, t_start, t_stop)
    times, ids = st.times, st.ids
    keep = (times >= t0) & (times <= t1)
    if not keep.all():
        times, ids = times[keep], ids[keep]
    k = _round_bins((times - t0) * (1.0 / bs))
    ok = k < n_bins
    flat = ids[ok] * n_bins + k[ok]
    counts = np.bincount(flat, minlength=st.n_trains * n_bins).reshape(st.n_trains, n_bins)
    if binary:
        counts = np.minimum(counts, 1)
    return counts.astype(np.int64, copy=False), t0 + bs * np.arange(n_bins + 1)


def mean_rates(st):
    """Mean firing rate of every train, count / (t_stop - t_start), in Hz.

    Same as ``elephant.statistics.mean_firing_rate`` applied to each train with
    its window.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain

    Returns
    -------
    numpy.ndarray, shape (n_trains,)
        Rates in Hz.

    Examples
    --------
    >>> mean_rates([[0.1, 0.2], [0.3, 0.4, 0.5, 2.0]]).tolist()
    [1.0, 2.0]
    """
    st = as_spike_trains(st)
    return st.counts / st.duration


def fano_factor(st):
    r"""Fano factor of the whole-window spike counts across trains.

    .. math:: F = \frac{\mathrm{Var}(N)}{\mathrm{E}[N]}

    with the population variance (``ddof = 0``) of the counts :math:`N_i` of all
    trains, as ``elephant.statistics.fanofactor``. F = 1 for Poisson counts.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain
        Typically repeated trials of one neuron.

    Returns
    -------
    float
        NaN when there are no trains or no train has a spike (Elephant returns NaN
        in both cases too).

    References
    ----------
    Fano (1947), Phys. Rev. 72:26-29; Teich et al. (1997), J. Opt. Soc. Am. A 14:529.

    Examples
    --------
    >>> round(fano_factor([[0.3, 4.5, 6.7, 9.3], [1.4, 3.3, 8.2]]), 6)
    0.071429
    """
    st = as_spike_trains(st)
    counts = st.counts.astype(np.float64)
    if counts.size == 0 or not counts.any():
        return float("nan")
    return float(counts.var() / counts.mean())


def _select_unit(st, unit):
    if unit is None:
        return st
    sub = st.select(unit=unit)
    if sub.n_trains == 0:
        raise SpikeDataError(f"no trains of unit {unit}")
    return sub


def windowed_fano_factor(st, bin_size=0.1, unit=None, return_per_bin=False):
    r"""Fano factor of spike counts in time bins across repeated trials of one unit.

    For bin :math:`k` with counts :math:`N_{rk}` over trials :math:`r = 1..R`,
    :math:`m_k = \frac1R\sum_r N_{rk}` and :math:`v_k = \frac1R\sum_r (N_{rk} - m_k)^2`
    (``ddof = 0``, as :func:`fano_factor`). The per-bin Fano factor is
    :math:`F_k = v_k / m_k`; the aggregate is the pooled ratio

    .. math:: F = \frac{\sum_k v_k}{\sum_k m_k},

    i.e. the mean-weighted average of the :math:`F_k`, which stays defined when some
    bins are silent and does not let low-count bins dominate. For an
    inhomogeneous Poisson process every :math:`v_k = m_k` in expectation, so F -> 1.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain
        Each train is one trial.
    bin_size : float or quantity
        Counting window in seconds (default 0.1 s); binned as :func:`bin_counts`.
    unit : int, optional
        Use only the trains whose ``unit`` annotation equals this. By default every
        train is taken as one trial of the same unit.
    return_per_bin : bool
        Return a :class:`WindowedFano` ``(fano, per_bin, bin_edges)`` instead of the
        aggregate alone.

    Returns
    -------
    float or WindowedFano
        The aggregate F (NaN when no trial has a spike); per-bin values are NaN
        where no trial has a spike in the bin.

    References
    ----------
    Churchland et al. (2010), Nat. Neurosci. 13:369-378 (count variance across trials).

    Examples
    --------
    >>> trials = [[0.05, 0.15], [0.05], [0.15], []]
    >>> windowed_fano_factor(trials, 0.1)
    0.5
    >>> windowed_fano_factor(trials, 0.1, return_per_bin=True).per_bin.tolist()
    [0.5]
    """
    st = _select_unit(as_spike_trains(st), unit)
    if st.n_trains == 0:
        raise SpikeDataError("no trials: the windowed Fano factor needs at least one train")
    _bin_shape(st, bin_size, cell_bytes=48)   # counts, float copy and the variance's temporaries
    counts, edges = bin_counts(st, bin_size)
    c = counts.astype(np.float64)
    m = c.mean(axis=0)
    v = c.var(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_bin = v / m
    total = m.sum()
    fano = float(v.sum() / total) if total > 0 else float("nan")
    if return_per_bin:
        return WindowedFano(fano, per_bin, edges)
    return fano


def time_histogram(st, bin_size, t_start=None, t_stop=None, output="counts", binary=False):
    """Population time histogram, as ``elephant.statistics.time_histogram``.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain
    bin_size : float or quantity
        Bin width in seconds; binned as :func:`bin_counts` (Elephant's binning).
    t_start, t_stop : float or quantity, optional
        Window (seconds); defaults to the trains' window.
    output : {'counts', 'mean', 'rate'}
        ``counts``: spikes of all trains per bin; ``mean``: counts / n_trains;
        ``rate``: counts / (n_trains * bin_size) in Hz.
    binary : bool
        Count at most one spike per train and bin.

    Returns
    -------
    values : numpy.ndarray, shape (n_bins,)
        int64 for ``counts``, float64 otherwise.
    edges : numpy.ndarray, shape (n_bins + 1,)
        Bin edges in seconds.

    Examples
    --------
    >>> h, e = time_histogram([[0.3, 4.5, 6.7, 9.3], [0.7, 4.3, 8.2]], 1.0, t_stop=10.0)
    >>> h.tolist()
    [2, 0, 0, 0, 2, 0, 1, 0, 1, 1]
    """
    st = as_spike_trains(st)
    if output not in ("counts", "mean", "rate"):
        raise ValueError(f"output must be 'counts', 'mean' or 'rate', got {output!r}")
    counts, edges = bin_counts(st, bin_size, t_start, t_stop, binary=binary)
    hist = counts.sum(axis=0)
    if output == "counts":
        return hist, edges
    if st.n_trains == 0:
        raise SpikeDataError("no spike trains to average")
    if output == "mean":
        return hist / st.n_trains, edges
    return hist / (st.n_trains * (edges[1] - edges[0])), edges


def psth(st, bin_size, t_start=None, t_stop=None, output="rate", binary=False):
    """Peri-stimulus time histogram: :func:`time_histogram` with ``output='rate'`` (Hz).

    Pass the repeated trials of one unit (e.g. ``st.select(unit=3)``).

    Examples
    --------
    >>> r, e = psth([[0.05, 0.15], [0.05]], 0.1, t_stop=0.2)
    >>> r.tolist()
    [10.0, 5.0]
    """
    return time_histogram(st, bin_size, t_start, t_stop, output=output, binary=binary)


# ---------------------------------------------------------------------- kernel rate
def _fftkernel(x, w):
    """Gaussian smoothing by FFT (Shimazaki's ``fftkernel``); ``w`` in samples."""
    L = len(x)
    n = 2 ** math.ceil(math.log2(L + 3 * w))
    X = np.fft.fft(x, n)
    f = np.arange(0, n, 1.0) / n
    f = np.concatenate((-f[:int(n / 2)], f[int(n / 2):0:-1]))
    K = np.exp(-0.5 * (w * 2 * np.pi * f) ** 2)
    return np.fft.ifft(X * K, n)[:L]


def _logexp(x):
    return np.log(1 + np.exp(x)) if x < 1e2 else x


def _ilogexp(x):
    return np.log(np.exp(x) - 1) if x < 1e2 else x


def _ss_cost(yhist, N, w, dt):
    yh = np.abs(_fftkernel(yhist, w / dt))
    C = np.sum(yh ** 2) * dt - 2 * np.sum(yh * yhist) * dt + 2 / np.sqrt(2 * np.pi) / w / N
    return C * N * N


def optimal_kernel_bandwidth(st):
    r"""Optimal fixed Gaussian kernel bandwidth (sigma, seconds) of Shimazaki & Shinomoto.

    Minimises the estimated mean integrated squared error of the kernel density
    of the spike times,
    :math:`C(w) = \sum_{i,j}\int k_w(x-x_i)k_w(x-x_j)\,dx - 2\sum_{i\ne j}k_w(x_i-x_j)`,
    by the same discretisation and golden-section search (on the ``log(1+e^x)``
    scale, 20 iterations, tolerance 1e-5) as
    ``elephant.statistics.optimal_kernel_bandwidth(times, bootstrap=False)``.
    With several trains the spike times are pooled (one bandwidth for all).

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain

    Returns
    -------
    float
        Bandwidth sigma in seconds.

    Raises
    ------
    SpikeDataError
        With fewer than two distinct spike times.

    Notes
    -----
    The search runs in seconds. Elephant runs it in the train's own unit and the
    ``log(1+e^x)`` search scale is not scale-invariant, so Elephant's result for
    a train in ms can differ slightly from the same train in s; ours does not.

    References
    ----------
    Shimazaki & Shinomoto (2010), J. Comput. Neurosci. 29:171-182.

    Examples
    --------
    >>> round(optimal_kernel_bandwidth([[0.3, 4.5, 6.7, 9.3]]), 6)
    7.273226
    """
    st = as_spike_trains(st)
    x = st.times if st.n_trains == 1 else np.sort(st.times)
    isi = np.diff(x)
    isi = isi[isi > 0]
    if isi.size == 0:
        raise SpikeDataError("cannot estimate a kernel bandwidth from fewer than two distinct spike times")
    span = x[-1] - x[0]
    dt = np.min(isi)
    n_t = min(int(span / dt + 0.5), 1000)
    if n_t < 2:
        raise SpikeDataError("cannot estimate a kernel bandwidth: spikes too close together")
    t = np.linspace(x[0], x[-1], n_t)
    dt = np.min(np.diff(t))
    yhist, _ = np.histogram(x, np.r_[t - dt / 2, t[-1] + dt / 2])
    N = np.sum(yhist)
    yhist = yhist / (N * dt)
    wmin, wmax = 2 * dt, span
    phi = 0.5 * (np.sqrt(5) + 1)
    a, b = _ilogexp(wmin), _ilogexp(wmax)
    c1 = (phi - 1) * a + (2 - phi) * b
    c2 = (2 - phi) * a + (phi - 1) * b
    f1 = _ss_cost(yhist, N, _logexp(c1), dt)
    f2 = _ss_cost(yhist, N, _logexp(c2), dt)
    optw = None
    k = 0
    while np.abs(b - a) > 1e-5 * (np.abs(c1) + np.abs(c2)) and k < 20:
        if f1 < f2:
            b, c2 = c2, c1
            c1 = (phi - 1) * a + (2 - phi) * b
            f2 = f1
            f1 = _ss_cost(yhist, N, _logexp(c1), dt)
            optw = _logexp(c1)
        else:
            a, c1 = c1, c2
            c2 = (2 - phi) * a + (phi - 1) * b
            f1 = f2
            f2 = _ss_cost(yhist, N, _logexp(c2), dt)
            optw = _logexp(c2)
        k += 1
    if optw is None or not np.isfinite(optw):
        raise SpikeDataError("could not find an optimal kernel bandwidth")
    return float(optw)


def instantaneous_rate(st, sampling_period, kernel="auto", cutoff=5.0, t_start=None, t_stop=None,
                       trim=False, center_kernel=True, border_correction=False, pool=False):
    r"""Firing rate by kernel smoothing, as Elephant 1.2's ``instantaneous_rate``.

    Each train is histogrammed on ``n = int((t_stop - t_start) / sampling_period)``
    bins of width :math:`\Delta` = ``sampling_period`` (half-open, the last closed,
    a trailing partial bin dropped) and convolved (``scipy.signal.fftconvolve``,
    mode ``same``, or ``valid`` with ``trim``) with the kernel sampled on
    ``2 * ceil(cutoff * sigma / Delta) + 1`` points evenly spanning
    :math:`[-\mathrm{cutoff}\,\sigma, +\mathrm{cutoff}\,\sigma]` (shifted by the
    kernel median if ``center_kernel``), in 1/s. The rate is

    .. math:: r(t_m) = \sum_k h_{m-k}\,K(k\Delta),

    so a spike contributes :math:`\approx 1` to :math:`\Delta\sum_m r(t_m)`. Values
    below 0 (round-off) are clipped to 0.

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain
    sampling_period : float or quantity
        Output time step :math:`\Delta` in seconds (also the histogram bin).
    kernel : 'auto', float/quantity, or elephant.kernels.Kernel
        ``'auto'``: Gaussian with the bandwidth of :func:`optimal_kernel_bandwidth`
        (Elephant's default; for several trains Elephant refuses, we pool their
        spikes for one bandwidth). A number or quantity: Gaussian kernel with that
        sigma (seconds). An Elephant kernel object is evaluated through Elephant.
    cutoff : float
        Kernel support in units of sigma (default 5; raised to the kernel's
        ``min_cutoff``, 3 for a Gaussian, as Elephant does).
    t_start, t_stop : float or quantity, optional
        Window (seconds); default the trains' window.
    trim : bool
        ``valid`` convolution: only samples where the kernel lies fully inside the
        window; the time axis shifts by the kernel median index.
    center_kernel : bool
        Centre the kernel's median on each spike (default, Elephant's default).
    border_correction : bool
        Gaussian only: divide by the kernel mass inside the window,
        :math:`2/(\mathrm{erf}((t_{stop}-t)/\sqrt2\sigma)-\mathrm{erf}((t_{start}-t)/\sqrt2\sigma))`,
        then rescale each train so :math:`\overline{r}\,(t_{stop}-t_{start})` equals its count.
    pool : bool
        Average the rates over trains (Elephant's ``pool_spike_trains``); with
        ``border_correction`` each train is corrected before averaging.

    Returns
    -------
    rate : numpy.ndarray, shape (n_times, n_trains), or (n_times,) with ``pool``
        Rates in Hz (time along axis 0, as Elephant's AnalogSignal).
    times : numpy.ndarray, shape (n_times,)
        Sample times in seconds: left edges ``t_start + m * sampling_period``.

    Notes
    -----
    ``n`` is computed in seconds with a 1e-9 relative tolerance, so ``0.3 s / 0.1 s``
    gives 3 bins; Elephant truncates the raw float quotient (2 bins here, 3 in ms).

    References
    ----------
    Nawrot, Aertsen & Rotter (1999), J. Neurosci. Methods 94:81-92;
    Shimazaki & Shinomoto (2010), J. Comput. Neurosci. 29:171-182.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.0]], t_start=0.0, t_stop=1.0)
    >>> r, t = instantaneous_rate(st, 0.2, kernel=0.3, t_start=-1.0, t_stop=1.0)
    >>> r[:, 0].round(4).tolist()[4:7]
    [1.0939, 1.3298, 1.0939]
    """
    st = as_spike_trains(st)
    sp = _positive_seconds(sampling_period, "sampling_period")
    t0, t1 = _window(st, t_start, t_stop)
    q = (t1 - t0) / sp
    if not math.isfinite(q) or q > 2.0 ** 62:
        raise SpikeDataError(f"sampling_period {sp:.9g} s gives too many samples for the "
                             f"window [{t0:.9g}, {t1:.9g}] s")
    # the histogram and the rate (float64), before the kernel's length is known
    check_bins(st.n_trains, int(q * (1 + 1e-9)), 16, sp, "sampling_period")
    if (not isinstance(cutoff, (int, float)) or isinstance(cutoff, bool)
            or not math.isfinite(cutoff) or not cutoff > 0):
        raise ValueError(f"cutoff must be a number > 0, got {cutoff!r}")
    elephant_kernel = None
    if isinstance(kernel, str):
        if kernel != "auto":
            raise ValueError(f"kernel must be 'auto', a sigma or an Elephant kernel, got {kernel!r}")
        sigma = optimal_kernel_bandwidth(st)
        min_cutoff = 3.0
    elif hasattr(kernel, "sigma") and hasattr(kernel, "icdf"):
        elephant_kernel = kernel
        sigma = float(to_seconds(kernel.sigma, "kernel sigma"))
        min_cutoff = float(kernel.min_cutoff)
        gaussian = type(kernel).__name__ == "GaussianKernel"
        if border_correction and not gaussian:
            raise ValueError("border correction is only implemented for Gaussian kernels")
    else:
        sigma = _positive_seconds(kernel, "kernel sigma")
        min_cutoff = 3.0
    if not sigma > 0:
        raise SpikeDataError(f"kernel sigma must be > 0, got {sigma}")
    if cutoff < min_cutoff:
        cutoff = min_cutoff

    n_bins = int(math.floor((t1 - t0) / sp * (1 + 1e-9)))
    if n_bins < 1:
        raise SpikeDataError(f"sampling_period {sp:.9g} s is longer than the window")
    edges = np.linspace(t0, t0 + n_bins * sp, n_bins + 1)
    times, ids = st.times, st.ids
    k = np.searchsorted(edges, times, side="right") - 1
    k[times == edges[-1]] = n_bins - 1
    ok = (k >= 0) & (k < n_bins)
    hist = np.bincount(k[ok] * st.n_trains + ids[ok],
                       minlength=n_bins * st.n_trains).reshape(n_bins, st.n_trains).astype(np.float64)

    # Kernel on an odd grid in units of the sampling period (Elephant issue #360).
    cutoff_sigma = cutoff * sigma / sp
    if not math.isfinite(cutoff_sigma) or cutoff_sigma > 2.0 ** 62:
        raise SpikeDataError(f"kernel sigma {sigma:.9g} s spans too many samples of "
                             f"sampling_period {sp:.9g} s")
    half = math.ceil(cutoff_sigma)
    length = 2 * half + 1
    # fftconvolve: padded complex transforms of histogram and kernel, the rate
    check_bins(max(st.n_trains, 1), n_bins + length, 64, sp, "sampling_period")
    if elephant_kernel is None:
        median = 0.0
        grid = np.linspace(-cutoff_sigma, cutoff_sigma, length)
        s = sigma / sp
        kern = np.exp(-0.5 * (grid / s) ** 2) / (np.sqrt(2 * np.pi) * s) / sp
        median_id = half
    else:
        import quantities as pq
        unit = pq.CompoundUnit(f"{sp}*s")
        median = float(elephant_kernel.icdf(0.5).rescale(unit).item()) if center_kernel else 0.0
        grid = np.linspace(-cutoff_sigma + median, cutoff_sigma + median, length) * unit
        kern = elephant_kernel(grid).rescale(pq.Hz).magnitude
        median_id = elephant_kernel.median_index(grid) if trim else 0
    from scipy.signal import fftconvolve
    if trim:
        if length > n_bins:
            raise SpikeDataError(
                f"kernel ({length} samples) is longer than the window ({n_bins} samples); "
                "use trim=False or a narrower kernel")
        rate = fftconvolve(hist, kern[:, None], mode="valid")
        t0 = t0 + median_id * sp
        t1 = t1 - (length - median_id) * sp
    else:
        rate = fftconvolve(hist, kern[:, None], mode="same")
    np.clip(rate, 0, None, out=rate)
    out_times = t0 + sp * np.arange(rate.shape[0])
    if border_correction:
        from scipy.special import erf
        corr = 2.0 / (erf((t1 - out_times) / (np.sqrt(2.0) * sigma))
                      - erf((t0 - out_times) / (np.sqrt(2.0) * sigma)))
        rate *= corr[:, None]
        # Rescale so that the mean rate times the duration equals each train's count.
        n = st.counts
        mean = rate.mean(axis=0)
        has = n > 0
        rate[:, has] *= n[has] / (mean[has] * (t1 - t0))
    if pool:
        rate = rate.mean(axis=1)
    return rate, out_times
