"""Baseline spike encoders on the same gammatone filterbank, for comparisons at matched rate.

* Send-on-delta (threshold crossing, a.k.a. delta modulation) per channel: channel
  ``k``'s output ``y_k`` (the filterbank of :class:`~neuromod.auditory.gammatone.
  GammatoneFilterbank`, 0 dB at each centre frequency) is tracked by a reference
  ``r_k`` starting at 0; whenever ``y_k[n] - r_k >= delta`` neuron ``2k`` (up) fires
  and ``r_k += delta``; whenever ``r_k - y_k[n] >= delta`` neuron ``2k + 1`` (down)
  fires and ``r_k -= delta`` (several spikes in one sample if the step is large).
* Gammatone + LIF (rate code): neuron ``k`` integrates the half-wave rectified
  channel output, ``v[n] = a v[n-1] + (1 - a) max(y_k[n], 0)`` with
  ``a = exp(-dt / tau)`` (exact for a piecewise-constant input), fires when
  ``v >= theta`` and resets to 0.

Gain control: a fixed threshold would give each file whatever rate its loudness
implies, so each encoder's threshold (``delta`` or ``theta``, one per file, shared
by all channels) is adapted per file by bisection on its logarithm until the file
emits the requested number of spikes (spiketrum's count), as close as the
integer-valued count allows (:func:`match_count`). A fair comparison gives every
encoder the same gain control.
"""
import numpy as np

from neuromod.runtime import ensure_cache_dir

ensure_cache_dir(__file__)   # before numba: a cache directory it can write (see there)

from numba import njit  # noqa: E402

from neuromod.auditory.audio import check_signal, resample

__all__ = ["send_on_delta", "lif_rate_code", "match_count", "encode_baseline", "BASELINES"]

BASELINES = ("send_on_delta", "lif")


@njit(cache=True, nogil=True)
def _sod(y, delta, count_only, out_t, out_id, cap=-1):
    """Send-on-delta; with ``count_only`` and ``cap >= 0`` stops counting past ``cap``."""
    K, N = y.shape
    n = 0
    for k in range(K):
        ref = 0.0
        if count_only and cap >= 0 and n > cap:
            return n
        for t in range(N):
            v = y[k, t]
            while v - ref >= delta:
                ref += delta
                if not count_only:
                    out_t[n] = t
                    out_id[n] = 2 * k
                n += 1
            while ref - v >= delta:
                ref -= delta
                if not count_only:
                    out_t[n] = t
                    out_id[n] = 2 * k + 1
                n += 1
    return n


@njit(cache=True, nogil=True)
def _lif(y, theta, decay, count_only, out_t, out_id):
    K, N = y.shape
    n = 0
    for k in range(K):
        v = 0.0
        for t in range(N):
            d = y[k, t]
            if d < 0.0:
                d = 0.0
            v = decay * v + (1.0 - decay) * d
            if v >= theta:
                if not count_only:
                    out_t[n] = t
                    out_id[n] = k
                n += 1
                v = 0.0
    return n


_EMPTY_I = np.zeros(0, dtype=np.int64)


def _spikes(kind, y, thr, decay, fs):
    from neuromod.spikes import SpikeTrains
    from neuromod.limits import check_allocation, check_value
    from neuromod.auditory.audio import AudioError
    from neuromod.errors import ParameterError
    if y.ndim != 2:
        raise AudioError(f"{kind}: filterbank outputs must be 2-D (channels, samples), got "
                         f"shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{kind}: filterbank outputs are not all finite")
    try:   # a threshold <= 0 would never stop emitting spikes in the compiled loop
        thr = check_value("delta" if kind == "send_on_delta" else "theta", thr, "positive")
        fs = check_value("fs", fs, "positive")
    except ParameterError as exc:
        raise AudioError(f"{kind}: {exc}") from None
    K, N = y.shape
    if kind == "send_on_delta":
        # at most (|y[k, 0]| + total variation of channel k) / delta + 1 spikes per sample
        tv = float(np.abs(y[:, :1]).sum() + np.abs(np.diff(y, axis=1)).sum()) if N else 0.0
        bound = min(tv / thr + 2.0 * K * N, 2.0 ** 60)     # capped: a readable message
        check_allocation(16 * bound, f"{kind}: about {bound:.3g} spikes at delta = {thr:g}")
        n = _sod(y, thr, True, _EMPTY_I, _EMPTY_I)
        t, ids = np.empty(n, np.int64), np.empty(n, np.int64)
        _sod(y, thr, False, t, ids)
        n_neurons = 2 * K
    else:
        n = _lif(y, thr, decay, True, _EMPTY_I, _EMPTY_I)
        t, ids = np.empty(n, np.int64), np.empty(n, np.int64)
        _lif(y, thr, decay, False, t, ids)
        n_neurons = K
    return SpikeTrains(t / fs, ids, t_start=0.0, t_stop=N / fs, n_trains=n_neurons, sort=True)


def send_on_delta(y, delta, fs):
    """Send-on-delta spikes of filterbank outputs ``y`` (K, N) at threshold ``delta``.

    Returns
    -------
    SpikeTrains
        ``2K`` neurons: ``2k`` up, ``2k + 1`` down; times ``n / fs`` s.

    Examples
    --------
    >>> y = np.array([[0.0, 0.5, 1.0, 0.2]])
    >>> st = send_on_delta(y, 0.4, 16000)
    >>> st.counts.tolist()
    [2, 1]
    """
    y = np.ascontiguousarray(y, dtype=np.float64)
    return _spikes("send_on_delta", y, float(delta), 0.0, fs)


def lif_rate_code(y, theta, fs, tau=0.005):
    """LIF rate-code spikes of half-wave rectified filterbank outputs ``y`` (K, N).

    ``v <- a v + (1 - a) max(y, 0)``, ``a = exp(-1 / (fs tau))``; spike and reset to 0
    at ``v >= theta``.

    Examples
    --------
    >>> st = lif_rate_code(np.ones((1, 100)), 0.5, 16000, tau=0.001)
    >>> st.n_spikes > 0
    True
    """
    y = np.ascontiguousarray(y, dtype=np.float64)
    return _spikes("lif", y, float(theta), float(np.exp(-1.0 / (fs * tau))), fs)


def match_count(count, target, lo, hi, iters=60, guess=None):
    """Threshold in ``[lo, hi]`` whose ``count(threshold)`` is closest to ``target``.

    ``count`` must not increase with the threshold (true for both encoders up to rare
    one-spike steps). Search on ``log(threshold)``, starting from the geometric
    middle of ``[lo, hi]`` and never evaluating the ends (a tiny threshold can mean
    an enormous count): once the target is bracketed, the next trial interpolates
    ``log(count)`` linearly between the bracket ends (counts scale about as a power
    of the threshold, so this converges in a few steps), with bisection whenever
    interpolation stalls. ``guess`` (inside ``[lo, hi]``), if given, is the first trial.
    Returns ``(threshold, count)`` of the best threshold seen.

    Examples
    --------
    >>> match_count(lambda th: int(1000 / th), 250, 0.01, 100.0)[1]
    250
    """
    target = int(target)
    a, b = np.log(lo), np.log(hi)
    ca, cb = None, None           # counts at the bracket ends, once evaluated
    best = None
    bisect_next = True
    first = None if guess is None else float(np.clip(np.log(guess), a, b))
    last = None
    for _ in range(iters):
        if first is not None:
            m, first = first, None
        elif (ca is None) != (cb is None) and last is not None:
            # one side known: step by a factor 2 from the last trial towards the target
            m = last + np.log(2.0) if ca is not None else last - np.log(2.0)
            m = min(max(m, a + 1e-9), b - 1e-9)
        elif ca is not None and cb is not None and not bisect_next and ca > 0 and cb > 0:
            la, lb, lt = np.log(ca), np.log(cb), np.log(max(target, 1))
            m = a + (b - a) * (la - lt) / (la - lb)
            m = min(max(m, a + 0.01 * (b - a)), b - 0.01 * (b - a))
        else:
            m = 0.5 * (a + b)
        c = int(count(np.exp(m)))
        last = m
        if best is None or abs(c - target) < abs(best[1] - target):
            best = (float(np.exp(m)), c)
        if c == target or b - a < 1e-12:
            break
        width = b - a
        if c > target:
            a, ca = m, c
        else:
            b, cb = m, c
        bisect_next = (b - a) > 0.5 * width    # slow progress: bisect next time
    return best


def encode_baseline(kind, x, fs, n_spikes, channels=32, fmin=100.0, fmax=7000.0,
                    sample_rate=16000.0, tau=0.005):
    """Encode ``x`` with a baseline encoder whose threshold is adapted to emit ``n_spikes``.

    Parameters
    ----------
    kind : {'send_on_delta', 'lif'}
    x : array_like
        Sound at ``fs`` Hz (resampled to ``sample_rate``).
    n_spikes : int
        Spike count to match (e.g. spiketrum's for the same file).
    channels, fmin, fmax : filterbank as spiketrum's defaults.
    tau : float
        LIF membrane time constant in seconds.

    Returns
    -------
    spikes : SpikeTrains
    info : dict
        ``{"threshold", "n_spikes", "target"}``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> st, info = encode_baseline("send_on_delta", rng.standard_normal(1600), 16000, 200, channels=8)
    >>> abs(info["n_spikes"] - 200) <= 2
    True
    """
    from neuromod.auditory.gammatone import GammatoneFilterbank
    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; choose from {', '.join(BASELINES)}")
    x = resample(check_signal(x), fs, sample_rate)
    fb = GammatoneFilterbank(sample_rate, channels, fmin, fmax)
    y = np.ascontiguousarray(fb.filter(x, normalize="peak"))
    peak = float(np.abs(y).max())
    if kind == "send_on_delta":
        cap = 4 * int(n_spikes) + 100   # counts far above the target need not be exact

        def count(d):
            return _sod(y, d, True, _EMPTY_I, _EMPTY_I, cap)
        # first guess: total variation / count (each spike marks a change of delta)
        guess = float(np.abs(np.diff(y, axis=1)).sum()) / max(int(n_spikes), 1)
        thr, got = match_count(count, int(n_spikes), peak * 1e-6, 2.0 * peak, guess=guess)
        st = send_on_delta(y, thr, sample_rate)
    else:
        decay = float(np.exp(-1.0 / (sample_rate * tau)))

        def count(th):
            return _lif(y, th, decay, True, _EMPTY_I, _EMPTY_I)
        # first guess: integrated input / count (each spike empties theta, leak ignored)
        guess = (1.0 - decay) * float(np.maximum(y, 0).sum()) / max(int(n_spikes), 1)
        thr, got = match_count(count, int(n_spikes), peak * 1e-7, 2.0 * peak, guess=guess)
        st = lif_rate_code(y, thr, sample_rate, tau)
    return st, {"threshold": thr, "n_spikes": st.n_spikes, "target": int(n_spikes)}
