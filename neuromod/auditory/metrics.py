"""Reconstruction scores, defined once and used everywhere (encoder, CLI, validation).

* Waveform SNR: ``10 log10(sum x**2 / sum (x - xhat)**2)`` dB, at the encoder's
  internal sample rate (:func:`snr_db`).
* Log-spectrogram correlation: the Pearson correlation of
  ``log(|STFT|**2 + 1e-10 max|STFT|**2)`` of the two signals (each with its own
  maximum), with a 25 ms periodic Hann window and a 10 ms hop, frames entirely
  inside the signal, one-sided spectrum, no padding (:func:`log_spectrogram_correlation`).
  Waveform SNR collapses under sub-millisecond spike jitter even for a perfect code;
  the spectrogram score ignores phase and is the one to judge timing robustness by.
"""
import numpy as np

__all__ = ["snr_db", "stft_power", "log_spectrogram", "log_spectrogram_correlation"]

WINDOW_S = 0.025
HOP_S = 0.010
FLOOR = 1e-10


def _pair(x, xhat):
    x = np.asarray(x, dtype=np.float64).ravel()
    xhat = np.asarray(xhat, dtype=np.float64).ravel()
    if x.shape != xhat.shape:
        raise ValueError(f"signals differ in length ({x.size} vs {xhat.size} samples)")
    return x, xhat


def snr_db(x, xhat):
    """Waveform signal-to-noise ratio ``10 log10(sum x**2 / sum (x - xhat)**2)`` in dB.

    ``inf`` for a perfect reconstruction; ``nan`` when ``x`` is all zero.

    Examples
    --------
    >>> x = np.array([1.0, -1.0, 1.0, -1.0])
    >>> round(snr_db(x, 0.9 * x), 6)
    20.0
    """
    x, xhat = _pair(x, xhat)
    num = float(np.sum(x * x))
    den = float(np.sum((x - xhat) ** 2))
    if num == 0.0:
        return float("nan")
    if den == 0.0:
        return float("inf")
    return float(10.0 * np.log10(num / den))


def stft_power(x, fs, window_s=WINDOW_S, hop_s=HOP_S):
    """``|STFT|**2``, shape (frames, frequencies): periodic Hann window of
    ``round(window_s fs)`` samples, hop ``round(hop_s fs)``, frames entirely inside the
    signal (a signal shorter than one window is zero-padded to one frame).

    Examples
    --------
    >>> stft_power(np.ones(800), 16000).shape
    (3, 201)
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    nw = max(2, int(round(window_s * fs)))
    hop = max(1, int(round(hop_s * fs)))
    if x.size < nw:
        x = np.concatenate((x, np.zeros(nw - x.size)))
    n_frames = 1 + (x.size - nw) // hop
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(nw) / nw)   # periodic Hann
    idx = np.arange(nw)[None, :] + hop * np.arange(n_frames)[:, None]
    spec = np.fft.rfft(x[idx] * win[None, :], axis=1)
    return spec.real ** 2 + spec.imag ** 2


def log_spectrogram(x, fs):
    """``log(|STFT|**2 + 1e-10 max|STFT|**2)`` (see :func:`stft_power`).

    Examples
    --------
    >>> log_spectrogram(np.zeros(400), 16000).shape
    (1, 201)"""
    p = stft_power(x, fs)
    return np.log(p + FLOOR * max(float(p.max()), np.finfo(float).tiny))


def log_spectrogram_correlation(x, xhat, fs):
    """Pearson correlation of the two log-spectrograms (25 ms Hann, 10 ms hop).

    Invariant to a gain applied to either signal. ``nan`` if either is constant.

    Parameters
    ----------
    x, xhat : array_like
        Original and reconstruction, same length, sampled at ``fs`` Hz.
    fs : float
        Sample rate in Hz.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(4000)
    >>> round(log_spectrogram_correlation(x, 3.0 * x, 16000), 9)
    1.0
    """
    x, xhat = _pair(x, xhat)
    a = log_spectrogram(x, fs).ravel()
    b = log_spectrogram(xhat, fs).ravel()
    if np.ptp(a) == 0.0 or np.ptp(b) == 0.0:
        return float("nan")     # a constant spectrogram (e.g. silence) has no correlation
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt(np.sum(a * a) * np.sum(b * b))
    if den == 0.0:
        return float("nan")
    return float(np.sum(a * b) / den)
