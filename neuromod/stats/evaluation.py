"""Model evaluation against repeated-trial spike data: PSTH correlation, noise ceiling,
fraction of explainable variance explained, and the time-rescaling goodness-of-fit test.

Trials are a :class:`~neuromod.spikes.SpikeTrains` (or anything
:func:`neuromod.spikes.as_spike_trains` accepts) whose trains are the repeated trials
of one neuron; select them first, e.g. ``st.select(unit=3)``. Binning follows
:func:`neuromod.stats.rates.bin_counts` (Elephant's: whole bins only). Responses are
rates in Hz (count / bin_size).
"""
from collections import namedtuple
import math

import numpy as np

from neuromod.errors import SpikeDataError
from neuromod.spikes import SpikeTrains, as_spike_trains
from neuromod.limits import check_allocation
from neuromod.stats.rates import _bin_shape, bin_counts
from neuromod.units import to_hertz, to_seconds

__all__ = ["psth_correlation", "split_half_noise_ceiling", "fraction_explainable_variance",
           "time_rescaling_ks", "KSResult"]

KSResult = namedtuple("KSResult", ["statistic", "bound", "rescaled"])
KSResult.__doc__ = """Result of :func:`time_rescaling_ks`.

statistic : float
    Kolmogorov-Smirnov distance between the rescaled values and U(0, 1).
bound : float
    Approximate 95% bound 1.36 / sqrt(n) for n rescaled intervals.
rescaled : numpy.ndarray
    The rescaled values z_i in [0, 1), spike order (train after train).
"""


def _rates(trials, bin_size, t_start=None, t_stop=None):
    """Per-trial rates (trials x bins, Hz) and the bin width (s)."""
    counts, edges = bin_counts(trials, bin_size, t_start, t_stop)
    bs = edges[1] - edges[0]
    return counts / bs, bs


def _is_trains(x):
    """True for spike-train inputs (a SpikeTrains or Neo objects), False for rate arrays."""
    if isinstance(x, SpikeTrains):
        return True
    first = x[0] if isinstance(x, (list, tuple)) and len(x) else x
    return (type(first).__module__ or "").startswith("neo")


def _unit_scale(x):
    """``x`` divided by its largest magnitude along the last axis (rows of zeros
    unchanged): Pearson's r does not change, and its sums of products can neither
    overflow (rates of 1e300 Hz in bins of 1e-300 s) nor underflow."""
    m = np.max(np.abs(x), axis=-1, keepdims=True)
    return x / np.where(m > 0, m, 1.0)


def _pearson(x, y):
    x = _unit_scale(x)
    y = _unit_scale(y)
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x * y).sum(axis=-1) / np.sqrt((x * x).sum(axis=-1) * (y * y).sum(axis=-1))


def psth_correlation(model_trials, data_trials, bin_size):
    r"""Pearson correlation of the trial-averaged PSTHs of model and data.

    .. math:: r = \frac{\sum_k (m_k - \bar m)(d_k - \bar d)}
              {\sqrt{\sum_k (m_k - \bar m)^2 \sum_k (d_k - \bar d)^2}}

    with :math:`m_k`, :math:`d_k` the mean rates over trials in bin :math:`k`, both
    binned on the data's window.

    Parameters
    ----------
    model_trials, data_trials : SpikeTrains or list of arrays / neo.SpikeTrain
        Repeated trials (any number of each).
    bin_size : float or quantity
        Bin width in seconds.

    Returns
    -------
    float
        In [-1, 1]; NaN when either PSTH is constant.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> d = SpikeTrains.from_list([[0.05, 0.25], [0.05]], t_stop=0.3)
    >>> m = SpikeTrains.from_list([[0.06, 0.26], [0.07]], t_stop=0.3)
    >>> round(psth_correlation(m, d, 0.1), 6)
    1.0
    """
    data = as_spike_trains(data_trials)
    model = as_spike_trains(model_trials)
    if data.n_trains == 0 or model.n_trains == 0:
        raise SpikeDataError("need at least one trial of model and of data")
    d, _ = _rates(data, bin_size)
    m, _ = _rates(model, bin_size, data.t_start, data.t_stop)
    return float(_pearson(m.mean(axis=0), d.mean(axis=0)))


def split_half_noise_ceiling(trials, bin_size, n_splits=100, seed=0):
    r"""Noise ceiling of PSTH correlation: sqrt of the split-half reliability, Spearman-Brown corrected.

    For each of ``n_splits`` random splits of the :math:`R` trials into halves of
    :math:`\lfloor R/2\rfloor` and :math:`\lceil R/2\rceil` trials, :math:`r` is the
    Pearson correlation of the two halves' PSTHs and
    :math:`\rho = 2r/(1 + r)` its Spearman-Brown correction to the full data set.
    The ceiling is

    .. math:: c = \sqrt{\max(0,\ \langle \rho \rangle_{\text{splits}})},

    an estimate of the correlation between the observed PSTH and the true
    (noise-free) rate, so of the best :func:`psth_correlation` a model can reach.

    Parameters
    ----------
    trials : SpikeTrains or list of arrays / neo.SpikeTrain
        At least 2 repeated trials of one neuron.
    bin_size : float or quantity
        Bin width in seconds.
    n_splits : int
        Number of random splits averaged (default 100).
    seed : int
        Seed of the random splits (``numpy.random.default_rng``).

    Returns
    -------
    float
        In [0, 1]; NaN when every split has a constant half-PSTH.

    Notes
    -----
    Splits where a half-PSTH is constant (e.g. no spike) are ignored. With an odd
    number of trials the halves differ by one trial.

    References
    ----------
    Spearman (1910), Br. J. Psychol. 3:271-295; Brown (1910), Br. J. Psychol.
    3:296-322; Schoppe, Harper, Willmore, King & Schnupp (2016), "Measuring the
    performance of neural models", Front. Comput. Neurosci. 10:10.

    Examples
    --------
    >>> t = [[0.05, 0.25]] * 4
    >>> split_half_noise_ceiling(t, 0.1, n_splits=10, seed=1)
    1.0
    """
    st = as_spike_trains(trials)
    R = st.n_trains
    if R < 2:
        raise SpikeDataError(f"the split-half noise ceiling needs at least 2 trials, got {R}")
    n_splits = int(n_splits)
    if n_splits < 1:
        raise ValueError("n_splits must be >= 1")
    # counts and rates (trials x bins), the split PSTHs and Pearson's temporaries
    # (splits x bins), checked before binning
    _bin_shape(st, bin_size, cell_bytes=32, extra_per_bin=48 * n_splits)
    check_allocation(n_splits * R * 40, f"split-half noise ceiling: {n_splits} splits of {R} trials")
    rates, _ = _rates(st, bin_size)
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((n_splits, R)), axis=1)
    h = R // 2
    first = np.zeros((n_splits, R))
    np.put_along_axis(first, order[:, :h], 1.0 / h, axis=1)
    second = np.zeros((n_splits, R))
    np.put_along_axis(second, order[:, h:], 1.0 / (R - h), axis=1)
    r = _pearson(first @ rates, second @ rates)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(r == -1, -np.inf, 2 * r / (1 + r))
    return float(math.sqrt(max(0.0, float(np.mean(rho)))))


def fraction_explainable_variance(prediction, trials, bin_size, return_explainable=False):
    r"""Fraction of explainable variance explained by a prediction (Cadena et al. 2019).

    With single-trial responses :math:`y_{rk}` (rate in Hz of trial :math:`r` in
    bin :math:`k`; bins play the role of stimuli) and the prediction :math:`\hat y_k`:

    .. math::

        \mathrm{MSE} = \frac{1}{RK}\sum_{r,k} (y_{rk} - \hat y_k)^2, \qquad
        \sigma^2_{noise} = \frac1K \sum_k \mathrm{Var}_r[y_{rk}], \qquad
        \sigma^2_{tot} = \mathrm{Var}_{r,k}[y_{rk}],

        \mathrm{FEV} = 1 - \frac{\mathrm{MSE} - \sigma^2_{noise}}{\sigma^2_{tot} - \sigma^2_{noise}}.

    The MSE is against single trials (not the trial average) and both variances
    are unbiased (``ddof = 1``), as in Cadena et al. and their group's reference
    code; then a prediction equal to the true rate scores 1 in expectation and
    the trial average scores slightly above 1 (it fits the noise).

    Parameters
    ----------
    prediction : array_like (n_bins,) in Hz, or SpikeTrains / Neo spike trains
        Predicted rate per bin (a plain list or array is always a rate), or model
        trials (their PSTH, binned on the data window).
    trials : SpikeTrains or list of arrays / neo.SpikeTrain
        At least 2 repeated trials of the neuron.
    bin_size : float or quantity
        Bin width in seconds.
    return_explainable : bool
        Also return the data's fraction of explainable variance
        :math:`(\sigma^2_{tot} - \sigma^2_{noise}) / \sigma^2_{tot}`.

    Returns
    -------
    float, or (float, float) with ``return_explainable``
        NaN when the data have no explainable variance (:math:`\sigma^2_{tot} \le \sigma^2_{noise}`).

    References
    ----------
    Cadena, Denfield, Walker, Gatys, Tolias, Bethge & Ecker (2019), PLoS Comput.
    Biol. 15(4):e1006897, "Deep convolutional models improve predictions of
    macaque V1 responses to natural images", Methods (FEVE).

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> t = SpikeTrains.from_list([[0.05, 0.15], [0.05], [0.05, 0.15, 0.25], [0.05]], t_stop=0.3)
    >>> round(fraction_explainable_variance([10.0, 5.0, 2.5], t, 0.1), 4)  # the PSTH itself
    1.6875
    >>> round(fraction_explainable_variance([17.5 / 3] * 3, t, 0.1), 4)   # the mean rate
    0.3125
    """
    st = as_spike_trains(trials)
    if st.n_trains < 2:
        raise SpikeDataError(f"FEV needs at least 2 trials, got {st.n_trains}")
    y, bs = _rates(st, bin_size)
    if _is_trains(prediction):
        model = as_spike_trains(prediction)
        pred, _ = _rates(model, bs, st.t_start, st.t_stop)
        pred = pred.mean(axis=0)
    else:
        pred = np.asarray(to_hertz(prediction, "prediction"), dtype=np.float64).ravel()
    if pred.shape != (y.shape[1],):
        raise SpikeDataError(f"prediction has {pred.size} values for {y.shape[1]} bins")
    if not np.all(np.isfinite(pred)):
        raise SpikeDataError("prediction contains NaN or inf")
    mse = float(np.mean((y - pred) ** 2))
    noise = float(np.mean(np.var(y, axis=0, ddof=1)))
    total = float(np.var(y, ddof=1))
    explainable = total - noise
    fev = 1.0 - (mse - noise) / explainable if explainable > 0 else float("nan")
    if return_explainable:
        return fev, (explainable / total if total > 0 else float("nan"))
    return fev


def time_rescaling_ks(st, rate, dt, seed=0):
    r"""Time-rescaling goodness-of-fit test of a predicted rate, in discrete time.

    Under the model, the integrated intensity between spikes is Exp(1) (Brown et
    al. 2002). In discrete time with bins of width :math:`dt` and a rate
    :math:`\lambda_k` (Hz) per bin, the model's spike probability per bin is
    :math:`p_k = 1 - e^{-\lambda_k dt}`, i.e. :math:`q_k = -\log(1 - p_k) = \lambda_k dt`.
    Following Haslinger, Pipa & Brown (2010), for successive spikes in bins
    :math:`b_{i-1} < b_i`

    .. math::

        \xi_i = \sum_{k=b_{i-1}+1}^{b_i - 1} q_k + \delta_i, \qquad
        \delta_i = -\log\!\left(1 - u_i\,(1 - e^{-q_{b_i}})\right), \quad u_i \sim U(0,1),

    (the first interval counts from ``t_start``), and :math:`z_i = 1 - e^{-\xi_i}`
    is exactly U(0, 1) under the model; the random :math:`\delta_i` removes the bias
    of discretisation. The statistic is the Kolmogorov-Smirnov distance of the
    :math:`z_i` (all trains pooled) from U(0, 1).

    Parameters
    ----------
    st : SpikeTrains or list of arrays / neo.SpikeTrain
        Observed trains; at most one spike per bin of ``dt``.
    rate : array_like, shape (n_bins,) or (n_trains, n_bins), Hz
        Predicted rate per bin, bin ``k`` = ``[t_start + k dt, t_start + (k+1) dt)``,
        ``n_bins = ceil((t_stop - t_start) / dt)``; one row shared by all trains or
        one row per train (e.g. a history-dependent model's conditional intensity).
    dt : float or quantity
        Bin width in seconds.
    seed : int
        Seed of the :math:`u_i` (``numpy.random.default_rng``).

    Returns
    -------
    KSResult
        ``(statistic, bound, rescaled)`` with ``bound = 1.36 / sqrt(n)``; the model
        is rejected at the 5% level when ``statistic > bound``.

    References
    ----------
    Brown, Barbieri, Ventura, Kass & Frank (2002), Neural Comput. 14:325-346;
    Haslinger, Pipa & Brown (2010), Neural Comput. 22:2477-2506.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.0105, 0.0305, 0.0605]], t_stop=0.1)
    >>> res = time_rescaling_ks(st, np.full(100, 30.0), 0.001)
    >>> res.rescaled.size, round(res.bound, 4)
    (3, 0.7852)
    """
    st = as_spike_trains(st)
    dt = to_seconds(dt, "dt")
    if dt is None or not np.isscalar(dt) or not math.isfinite(dt) or not dt > 0:
        raise SpikeDataError(f"dt must be a finite time > 0, got {dt}")
    dt = float(dt)
    q = st.duration / dt - 1e-9
    if not math.isfinite(q) or q > 2.0 ** 62:
        raise SpikeDataError(f"dt {dt:.9g} s gives too many bins for the window "
                             f"[{st.t_start:.9g}, {st.t_stop:.9g}] s")
    n_bins = int(math.ceil(q))
    lam = np.asarray(to_hertz(rate, "rate"), dtype=np.float64)
    if lam.ndim not in (1, 2) or lam.shape[-1] != n_bins or (
            lam.ndim == 2 and lam.shape[0] != st.n_trains):
        want = f"({n_bins},) or ({st.n_trains}, {n_bins})"
        raise SpikeDataError(f"rate has shape {lam.shape}; the window needs {want} bins of dt = {dt:.9g} s")
    if not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise SpikeDataError("rate must be finite and >= 0")
    if st.n_spikes == 0:
        raise SpikeDataError("no spikes to rescale")
    q = lam * dt
    b = np.floor((st.times - st.t_start) / dt).astype(np.int64)
    np.clip(b, 0, n_bins - 1, out=b)
    ids = st.ids
    same = ids[1:] == ids[:-1]
    dup = same & (b[1:] == b[:-1])
    if dup.any():
        k = int(np.flatnonzero(dup)[0]) + 1
        raise SpikeDataError(
            f"train {ids[k]}: two spikes in one bin of dt = {dt:.9g} s (at {st.times[k]:.9g} s); "
            "the discrete-time rescaling needs at most one spike per bin, use a smaller dt")
    # Exclusive cumulative intensity C[k] = sum_{m < k} q_m, per train if rate is 2-D.
    zero = np.zeros(q.shape[:-1] + (1,))
    C = np.concatenate((zero, np.cumsum(q, axis=-1)), axis=-1)
    if q.ndim == 1:
        cum_to = C[b]                 # sum_{m < b_i} q_m
        q_at = q[b]
    else:
        cum_to = C[ids, b]
        q_at = q[ids, b]
    # Sum over bins strictly between the previous spike's bin and this one.
    prev_end = np.zeros_like(cum_to)
    first = np.ones(ids.size, dtype=bool)
    first[1:] = ~same
    prev_end[~first] = cum_to[:-1][same] + q_at[:-1][same]
    between = cum_to - prev_end
    u = np.random.default_rng(seed).random(ids.size)
    delta = -np.log1p(-u * -np.expm1(-q_at))
    xi = between + delta
    z = -np.expm1(-xi)
    n = z.size
    zs = np.sort(z)
    i = np.arange(1, n + 1)
    stat = float(max(np.max(i / n - zs), np.max(zs - (i - 1) / n)))
    return KSResult(stat, 1.36 / math.sqrt(n), z)
