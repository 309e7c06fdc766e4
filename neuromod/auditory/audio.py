"""Audio at the boundary: WAV reading/writing and resampling to the internal rate.

Samples are float64 in [-1, 1] inside (full scale of the file's format). WAV files
are read with :func:`scipy.io.wavfile.read`: 8-bit unsigned PCM (offset 128),
16-, 24- and 32-bit signed PCM and 32/64-bit float are all accepted; stereo and
multichannel files are mixed to mono by averaging the channels. Resampling uses
the polyphase filter of :func:`scipy.signal.resample_poly` (Kaiser window, the
ratio reduced to lowest terms).
"""
import os
from fractions import Fraction

import numpy as np

from neuromod.errors import NeuromodError, FileFormatError

__all__ = ["AudioError", "read_wav", "write_wav", "resample", "check_signal"]


class AudioError(NeuromodError, ValueError):
    """A signal that cannot be encoded (empty, all zero, NaN...) or a bad audio option."""


def read_wav(path):
    """Read a WAV file as mono float64 in [-1, 1].

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    x : numpy.ndarray, shape (N,)
        Samples scaled by the format's full scale (``2**(bits-1)`` for signed PCM,
        128 around 128 for 8-bit unsigned, 1 for float), channels averaged.
    fs : int
        The file's sample rate in Hz.
    info : dict
        ``{"channels", "format"}``, format one of ``'pcm8'``, ``'pcm16'``,
        ``'pcm24'``/``'pcm32'`` (both read as left-justified int32), ``'float32'``,
        ``'float64'``.

    Raises
    ------
    FileFormatError
        If the file is not a readable WAV file (one-line message naming it).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> write_wav(p, np.zeros(10) + 0.5, 16000)
    >>> x, fs, info = read_wav(p)
    >>> fs, info["format"], round(float(x[0]), 4)
    (16000, 'pcm16', 0.5)
    """
    import warnings
    from scipy.io import wavfile
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such file or directory", path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            fs, data = wavfile.read(path, mmap=False)
    except (ValueError, EOFError, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, EOFError) and exc.errno:
            raise
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FileFormatError(f"{path}: not a readable WAV file ({msg})") from None
    data = np.asarray(data)
    channels = 1 if data.ndim == 1 else data.shape[1]
    kind = data.dtype
    if kind == np.uint8:
        x, fmt = (data.astype(np.float64) - 128.0) / 128.0, "pcm8"
    elif kind == np.int16:
        x, fmt = data.astype(np.float64) / 32768.0, "pcm16"
    elif kind == np.int32:
        x, fmt = data.astype(np.float64) / 2147483648.0, "pcm32"
    elif kind == np.int64:
        x, fmt = data.astype(np.float64) / 9223372036854775808.0, "pcm64"
    elif kind in (np.float32, np.float64):
        x, fmt = data.astype(np.float64), f"float{kind.itemsize * 8}"
    else:
        raise FileFormatError(f"{path}: unsupported WAV sample type {kind}")
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] else np.zeros(x.shape[0])
    if not fs > 0:
        raise FileFormatError(f"{path}: sample rate {fs} Hz in the header")
    return x, int(fs), {"channels": int(channels), "format": fmt}


def write_wav(path, x, fs):
    """Write ``x`` (float, full scale 1) as 16-bit PCM mono, atomically.

    Samples beyond [-1, 1] are clipped; the file appears under its name only when
    complete (written to a temporary file in the same directory, then renamed).

    Examples
    --------
    >>> import tempfile, os
    >>> write_wav(os.path.join(tempfile.mkdtemp(), "b.wav"), np.zeros(4), 8000)
    """
    from scipy.io import wavfile
    x = np.asarray(x, dtype=np.float64).ravel()
    pcm = np.round(np.clip(x, -1.0, 32767.0 / 32768.0) * 32768.0).astype(np.int16)
    from neuromod.io import atomic_write
    atomic_write(path, lambda tmp: wavfile.write(tmp, int(round(fs)), pcm), binary_suffix=".wav")


def resample(x, fs_in, fs_out):
    """Resample ``x`` from ``fs_in`` to ``fs_out`` Hz with :func:`scipy.signal.resample_poly`
    (ratio ``up/down`` in lowest terms, at most 1000 in the denominator).

    Returns ``x`` as float64 (a copy) unchanged when the rates are equal.

    Examples
    --------
    >>> resample(np.zeros(441), 44100, 16000).shape
    (160,)
    """
    x = np.asarray(x, dtype=np.float64)
    if float(fs_in) == float(fs_out):
        return x.copy()
    from scipy.signal import resample_poly
    ratio = Fraction(float(fs_out) / float(fs_in)).limit_denominator(1000)
    return resample_poly(x, ratio.numerator, ratio.denominator)


def check_signal(x, name="signal"):
    """Raise :class:`AudioError` for an empty, non-finite or all-zero signal; return float64.

    Examples
    --------
    >>> check_signal([0.0, 0.1]).dtype
    dtype('float64')
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise AudioError(f"{name}: expected a 1-D signal, got shape {x.shape}")
    if x.size == 0:
        raise AudioError(f"{name}: no samples")
    bad = ~np.isfinite(x)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AudioError(f"{name}: sample {i} is {x[i]} (not finite)")
    if not np.any(x):
        raise AudioError(f"{name}: all samples are zero; nothing to encode")
    return x
