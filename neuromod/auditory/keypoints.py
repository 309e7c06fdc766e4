"""Sparse key-point encoding of sound (in the manner of Yu et al. 2019).

Yu, Li, Tan et al. (2019, "Robust environmental sound recognition with sparse
key-point encoding and efficient multi-spike learning") encode a sound by one spike
at each *key point* of its time-frequency representation: a local maximum of the log
power that is also above a threshold. The spike's time is the point's frame, its
afferent the point's frequency band. This module implements that scheme on
neuromod's own time-frequency representations:

``'cochleagram'`` (default)
    The gammatone filterbank of spiketrum (:class:`~neuromod.auditory.gammatone.
    GammatoneFilterbank`, 0 dB at each centre frequency; 32 ERB-spaced channels from
    100 Hz to 7 kHz by default): the power of each channel averaged over frames of
    ``window_s`` seconds every ``hop_s`` seconds. Its bands are spiketrum's channels.
``'spectrogram'``
    ``|STFT|**2`` of :func:`neuromod.auditory.metrics.stft_power` (periodic Hann
    window of ``window_s``, hop ``hop_s``), one band per FFT bin (``fmin``/``fmax``
    and ``channels`` are ignored).

The log power ``S = 10 log10(P + 1e-10 max P)`` dB is taken relative to its
maximum over the utterance (``S - max S <= 0``: a per-utterance gain
normalisation, as the paper normalises its spectrograms), and ``(frame, band)`` is a
key point when ``S`` equals the maximum of its ``(2 dt + 1) x (2 df + 1)``
neighbourhood (``neighbourhood = (dt, df)``, in frames and bands; every point of an
exactly flat plateau counts) and ``S - max S >= threshold_db``. The spike is emitted
at the frame's centre, ``(i hop + window / 2) / fs`` seconds.

:func:`match_threshold` sets ``threshold_db`` so that a set of sounds gives a chosen
mean number of key points per sound, exactly (up to ties): the count at a threshold
is the number of local maxima above it, so the threshold is read off the sorted
maxima of the whole set.

Examples
--------
>>> fs = 16000
>>> t = np.arange(int(0.3 * fs)) / fs
>>> burst = np.exp(-0.5 * ((t - 0.15) / 0.02) ** 2) * np.sin(2 * np.pi * 1000 * t)
>>> st = keypoints(burst, fs, threshold_db=-3.0)
>>> st.n_spikes, [round(float(c)) for c in band_frequencies(fs)[st.ids]]
(1, [973])
>>> round(float(st.times[0]), 4)
0.1525
"""
import numpy as np

__all__ = ["REPRESENTATIONS", "time_frequency", "band_frequencies", "local_maxima",
           "keypoints", "keypoint_levels", "match_threshold"]

#: Time-frequency representations of :func:`time_frequency`.
REPRESENTATIONS = ("cochleagram", "spectrogram")

_FLOOR = 1e-10


def _check(representation, window_s, hop_s, neighbourhood):
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {', '.join(REPRESENTATIONS)}, got "
                         f"{representation!r}")
    if not (window_s > 0 and hop_s > 0):
        raise ValueError(f"window_s and hop_s must be > 0, got {window_s!r}, {hop_s!r}")
    dt, df = (int(v) for v in neighbourhood)
    if dt < 0 or df < 0:
        raise ValueError(f"neighbourhood half-widths must be >= 0, got {neighbourhood!r}")
    return dt, df


def band_frequencies(rate, representation="cochleagram", channels=32, fmin=100.0,
                     fmax=7000.0, window_s=0.025):
    """Centre frequency (Hz) of every band of :func:`time_frequency`.

    Examples
    --------
    >>> band_frequencies(16000, "spectrogram").shape
    (201,)
    >>> [round(float(f)) for f in band_frequencies(16000, channels=3)]
    [100, 1313, 7000]
    """
    if representation == "spectrogram":
        nw = max(2, int(round(window_s * rate)))
        return np.fft.rfftfreq(nw, 1.0 / float(rate))
    from neuromod.auditory.erb import erb_space
    return erb_space(float(fmin), float(fmax), int(channels))


def time_frequency(signal, rate, representation="cochleagram", channels=32, fmin=100.0,
                   fmax=7000.0, window_s=0.025, hop_s=0.010):
    """The log power ``S`` (dB, relative to its maximum: ``max S = 0``), shape
    ``(frames, bands)``, and the frames' centre times (seconds).

    A signal shorter than one window is zero-padded to one frame.

    Examples
    --------
    >>> S, t = time_frequency(np.random.default_rng(0).standard_normal(1600), 16000)
    >>> S.shape, float(S.max()), round(float(t[0]), 4)
    ((8, 32), 0.0, 0.0125)
    """
    _check(representation, window_s, hop_s, (0, 0))
    x = np.asarray(signal, dtype=np.float64).ravel()
    rate = float(rate)
    nw = max(2, int(round(window_s * rate)))
    hop = max(1, int(round(hop_s * rate)))
    if x.size < nw:
        x = np.concatenate((x, np.zeros(nw - x.size)))
    n_frames = 1 + (x.size - nw) // hop
    if representation == "spectrogram":
        from neuromod.auditory.metrics import stft_power
        P = stft_power(x, rate, window_s=window_s, hop_s=hop_s)
    else:
        from neuromod.auditory.gammatone import GammatoneFilterbank
        y = GammatoneFilterbank(rate, int(channels), fmin, fmax).filter(x, normalize="peak")
        # mean power per frame from one cumulative sum: O(samples) for any window
        c = np.concatenate((np.zeros((y.shape[0], 1)), np.cumsum(y * y, axis=1)), axis=1)
        start = hop * np.arange(n_frames)
        P = ((c[:, start + nw] - c[:, start]) / nw).T
    P = np.maximum(P, 0.0)
    S = 10.0 * np.log10(P + _FLOOR * max(float(P.max()), np.finfo(float).tiny))
    times = (hop * np.arange(n_frames) + 0.5 * nw) / rate
    return S - S.max(), times


def local_maxima(S, neighbourhood=(1, 1)):
    """``(frame, band)`` indices of the points of ``S`` that equal the maximum of their
    ``(2 dt + 1) x (2 df + 1)`` neighbourhood (cut at the edges), in frame order.

    Examples
    --------
    >>> S = -np.add.outer(np.arange(5.0), np.arange(4.0)); S[1, 2] = 3.0; S[3, 0] = 2.0
    >>> [tuple(int(v) for v in ix) for ix in zip(*local_maxima(S, (1, 1)))]
    [(0, 0), (1, 2), (3, 0)]
    """
    from scipy.ndimage import maximum_filter
    dt, df = (int(v) for v in neighbourhood)
    S = np.asarray(S, dtype=np.float64)
    m = maximum_filter(S, size=(2 * dt + 1, 2 * df + 1), mode="constant", cval=-np.inf)
    return np.nonzero(S >= m)


def keypoint_levels(signal, rate, neighbourhood=(1, 1), **tf):
    """Every local maximum of :func:`time_frequency`: ``(times, bands, levels)``, the
    level in dB relative to the utterance's maximum (``<= 0``). :func:`keypoints` keeps
    those with ``levels >= threshold_db``.

    Examples
    --------
    >>> t, b, lv = keypoint_levels(np.random.default_rng(0).standard_normal(1600), 16000)
    >>> len(t) == len(b) == len(lv) and float(lv.max())
    0.0
    """
    _check(tf.get("representation", "cochleagram"), tf.get("window_s", 0.025),
           tf.get("hop_s", 0.010), neighbourhood)
    S, times = time_frequency(signal, rate, **tf)
    i, k = local_maxima(S, neighbourhood)
    return times[i], k, S[i, k]


def keypoints(signal, rate, threshold_db=-30.0, neighbourhood=(1, 1),
              representation="cochleagram", channels=32, fmin=100.0, fmax=7000.0,
              window_s=0.025, hop_s=0.010):
    """Encode a sound by one spike at each key point of its time-frequency representation.

    Parameters
    ----------
    signal : array_like, shape (N,)
        The sound.
    rate : float
        Its sample rate in Hz.
    threshold_db : float
        Keep local maxima at most ``-threshold_db`` dB below the utterance's maximum
        (``<= 0``; ``-inf`` keeps every local maximum).
    neighbourhood : (int, int)
        Half-widths ``(dt, df)`` of the local-maximum region, in frames and bands.
    representation : {'cochleagram', 'spectrogram'}
        See the module's description.
    channels, fmin, fmax : cochleagram's filterbank (spiketrum's defaults).
    window_s, hop_s : float
        Frame length and hop, seconds.

    Returns
    -------
    SpikeTrains
        Spike ``i`` on train ``band_i`` at its frame's centre time; ``n_trains`` is
        the number of bands, the window ``[0, N / rate]`` (extended to the last frame's
        centre for a signal shorter than one window).

    Examples
    --------
    >>> fs = 16000
    >>> t = np.arange(int(0.4 * fs)) / fs
    >>> x = sum(np.exp(-0.5 * ((t - t0) / 0.02) ** 2) * np.sin(2 * np.pi * f * t)
    ...         for t0, f in ((0.1, 500.0), (0.3, 3000.0)))
    >>> st = keypoints(x, fs, threshold_db=-6.0, neighbourhood=(2, 2))
    >>> [(round(float(tt), 2), round(float(f))) for tt, f in
    ...  zip(st.times, band_frequencies(fs)[st.ids])]
    [(0.11, 501), (0.3, 3027)]
    """
    from neuromod.spikes import SpikeTrains
    tf = dict(representation=representation, channels=channels, fmin=fmin, fmax=fmax,
              window_s=window_s, hop_s=hop_s)
    t, k, lv = keypoint_levels(signal, rate, neighbourhood, **tf)
    keep = lv >= float(threshold_db)
    n_bands = len(band_frequencies(rate, representation, channels, fmin, fmax, window_s))
    t_stop = max(np.asarray(signal).size / float(rate), float(t.max(initial=0.0)))
    return SpikeTrains(t[keep], k[keep], t_start=0.0, t_stop=t_stop, n_trains=n_bands,
                       sort=True)


def match_threshold(signals, rate, mean_spikes, neighbourhood=(1, 1), **tf):
    """The ``threshold_db`` at which :func:`keypoints` emits ``mean_spikes`` key points
    per sound on average over ``signals`` (one threshold for all; the closest the
    integer counts allow, ties in level aside).

    Parameters
    ----------
    signals : list of array_like
    rate : float or list of float
    mean_spikes : float
        Target mean count per sound.
    neighbourhood, **tf
        As :func:`keypoints`.

    Returns
    -------
    threshold_db : float
    mean : float
        The mean count per sound at that threshold.

    Raises
    ------
    ValueError
        When even every local maximum (``threshold_db = -inf``) gives fewer than
        ``mean_spikes`` per sound: choose a smaller neighbourhood or a finer hop.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> xs = [rng.standard_normal(4000) for _ in range(3)]
    >>> th, mean = match_threshold(xs, 16000, 20.0)
    >>> mean, sum(keypoints(x, 16000, th).n_spikes for x in xs) / 3
    (20.0, 20.0)
    """
    rates = np.broadcast_to(np.asarray(rate, dtype=np.float64), (len(signals),))
    levels = np.sort(np.concatenate(
        [keypoint_levels(x, r, neighbourhood, **tf)[2] for x, r in zip(signals, rates)]))[::-1]
    want = int(round(float(mean_spikes) * len(signals)))
    if want < 1:
        raise ValueError(f"mean_spikes must give at least one key point, got {mean_spikes!r}")
    if want > levels.size:
        raise ValueError(f"{levels.size / len(signals):.1f} local maxima per sound with "
                         f"neighbourhood {tuple(neighbourhood)}: fewer than the {mean_spikes:g} "
                         "asked for; choose a smaller neighbourhood or a finer hop")
    th = float(levels[want - 1])
    return th, float(np.count_nonzero(levels >= th)) / len(signals)
