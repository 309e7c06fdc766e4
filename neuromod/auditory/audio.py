"""Audio at the boundary: WAV reading/writing and resampling to the internal rate.

Samples are float64 in [-1, 1] inside (full scale of the file's format). WAV files
are read by :func:`read_wav`, which checks the RIFF structure against the file's
size before reading a sample (a truncated or inconsistent file is a one-line
:class:`~neuromod.errors.FileFormatError`): 8-bit unsigned PCM (offset 128),
16-, 24- and 32-bit signed PCM and 32/64-bit float are all accepted; stereo and
multichannel files are mixed to mono by averaging the channels. Rates the encoder
reads and the decoder writes lie in :data:`SAMPLE_RATE_RANGE`. Resampling uses
the polyphase filter of :func:`scipy.signal.resample_poly` (Kaiser window, the
ratio reduced to lowest terms).
"""
import os
from fractions import Fraction

import numpy as np

from neuromod.errors import NeuromodError, FileFormatError

__all__ = ["AudioError", "SAMPLE_RATE_RANGE", "read_wav", "write_wav", "resample", "check_signal",
           "check_sample_rate"]


class AudioError(NeuromodError, ValueError):
    """A signal that cannot be encoded (empty, all zero, NaN...) or a bad audio option."""


#: Sample rates (Hz) the encoder accepts as input and the decoder writes: the
#: polyphase resampler keeps ratios with denominators up to 1000, and from 1 kHz to
#: 384 kHz every ratio to and from the internal rate is represented (with 16 kHz
#: inside, the ratio is 1/24 at 384 kHz and 16 at 1 kHz).
SAMPLE_RATE_RANGE = (1000.0, 384000.0)

_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
#: The last 12 bytes of a WAVE_FORMAT_EXTENSIBLE sub-format GUID (RFC 2361), little endian.
_GUID_TAIL = b"\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
#: Chunks that can come before the data, walked at most this many times (a header made
#: of millions of empty chunks is not a WAV file).
_MAX_CHUNKS = 10000


def _wav_layout(path, f, size):
    """Walk the RIFF chunks of an open WAV file up to its data chunk.

    Returns ``(fs, channels, tag, bits, bytes_per_sample, big_endian, data_offset,
    data_size)`` after checking every field the samples are read with; raises
    FileFormatError naming ``path`` otherwise. Nothing is allocated from the header's
    values (sizes are compared with the file's size first).
    """
    import struct

    def bad(reason):
        raise FileFormatError(f"{path}: not a readable WAV file ({reason})")

    head = f.read(12)
    if len(head) < 12:
        bad(f"header cut short: {size} bytes, a WAV header has at least 44")
    magic, form = head[:4], head[8:12]
    if magic not in (b"RIFF", b"RIFX", b"RF64"):
        bad(f"starts with {magic!r}, not RIFF, RIFX or RF64")
    if form != b"WAVE":
        bad(f"RIFF form type {form!r}, not WAVE")
    e = ">" if magic == b"RIFX" else "<"
    pos = 12
    fmt = None
    rf64_data = None
    for _ in range(_MAX_CHUNKS):
        f.seek(pos)
        hdr = f.read(8)
        if len(hdr) < 8:
            bad(f"header cut short at byte {pos} of {size}: "
                f"{'no data chunk' if fmt else 'no fmt chunk'}")
        cid = hdr[:4]
        (csize,) = struct.unpack(e + "I", hdr[4:])
        body = pos + 8
        remain = size - body
        if cid == b"data":
            if fmt is None:
                bad("data chunk before the fmt chunk")
            if magic == b"RF64" and csize == 0xFFFFFFFF:
                if rf64_data is None:
                    bad("RF64 file without a ds64 chunk")
                csize = rf64_data
            if csize > remain:
                bad(f"data chunk claims {csize} bytes but only {remain} follow "
                    "(file truncated?)")
            return fmt + (e == ">", body, csize)
        if csize > remain:
            bad(f"{cid!r} chunk claims {csize} bytes but only {remain} follow "
                "(header cut short)")
        if cid == b"ds64" and magic == b"RF64":
            if csize < 24:
                bad(f"ds64 chunk of {csize} bytes (at least 24)")
            (rf64_data,) = struct.unpack("<Q", f.read(24)[8:16])
        elif cid == b"fmt ":     # 40 bytes at most are used; a huge chunk is not read whole
            fmt = _parse_fmt(f.read(min(csize, 64)), e, bad)
        pos = body + csize + (csize & 1)
    bad(f"more than {_MAX_CHUNKS} chunks before the data")


def _parse_fmt(b, e, bad):
    """The checked ``(fs, channels, tag, bits, bytes_per_sample)`` of a fmt chunk body."""
    import struct
    if len(b) < 16:
        bad(f"fmt chunk of {len(b)} bytes (at least 16)")
    tag, channels, fs, byte_rate, block_align, bits = struct.unpack(e + "HHIIHH", b[:16])
    if tag == _EXTENSIBLE:
        if len(b) < 40 or struct.unpack(e + "H", b[16:18])[0] < 22:
            bad("WAVE_FORMAT_EXTENSIBLE fmt chunk without its sub-format")
        guid = b[24:40]
        tail = (b"\x00\x00\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71" if e == ">"
                else _GUID_TAIL)
        if guid.endswith(tail):
            tag = struct.unpack(e + "I", guid[:4])[0]
    if tag not in (_PCM, _FLOAT):
        bad(f"format tag 0x{tag:04x}; only PCM (1) and IEEE float (3) are supported")
    if channels == 0:
        bad("0 channels in the fmt chunk")
    if fs == 0:
        bad("sample rate 0 Hz in the fmt chunk")
    if block_align == 0 or block_align % channels:
        bad(f"block align {block_align} bytes is not a positive multiple of the "
            f"{channels} channel{'s' if channels > 1 else ''}")
    width = block_align // channels
    if tag == _PCM:
        if not 1 <= bits <= 64:
            bad(f"{bits}-bit integer samples (1 to 64 supported)")
        if (width != 1) if bits <= 8 else not (bits + 7) // 8 <= width <= 8:
            bad(f"{bits}-bit samples in {width}-byte containers")
        if byte_rate != fs * block_align:
            bad(f"byte rate {byte_rate} is not sample rate {fs} x block align {block_align}")
    elif bits not in (32, 64) or width != bits // 8:
        bad(f"{bits}-bit floating-point samples in {width}-byte containers "
            "(32- and 64-bit supported)")
    return fs, channels, tag, bits, width


def read_wav(path):
    """Read a WAV file as mono float64 in [-1, 1].

    The RIFF structure is checked before any sample is read: a header cut short, a
    fmt chunk with 0 channels, 0 Hz, an unsupported format or inconsistent sizes, a
    data chunk claiming more bytes than the file has (a truncated file) or not a
    whole number of sample frames are each a one-line :class:`FileFormatError`.
    RIFF (little endian), RIFX (big endian) and RF64 files are read; chunks other
    than ``fmt ``, ``ds64`` and ``data`` are skipped.

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
        ``'pcm24'``/``'pcm32'`` (both read as left-justified int32), ``'pcm40'`` to
        ``'pcm64'`` (left-justified int64), ``'float32'``, ``'float64'``.

    Raises
    ------
    FileFormatError
        If the file is not a readable WAV file (one-line message naming it).
    ResourceLimitError
        If its samples would need more than ``NEUROMOD_MEMORY_LIMIT``.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> write_wav(p, np.zeros(10) + 0.5, 16000)
    >>> x, fs, info = read_wav(p)
    >>> fs, info["format"], round(float(x[0]), 4)
    (16000, 'pcm16', 0.5)
    >>> with open(p, "r+b") as f:
    ...     _ = f.truncate(40)
    >>> read_wav(p)
    Traceback (most recent call last):
    ...
    neuromod.errors.FileFormatError: ...a.wav: not a readable WAV file (header cut short at byte 36 of 40: no data chunk)
    """
    from neuromod.limits import check_allocation
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        fs, channels, tag, bits, width, big, offset, nbytes = _wav_layout(path, f, size)
        frame = width * channels
        if nbytes % frame:
            raise FileFormatError(
                f"{path}: not a readable WAV file (data chunk of {nbytes} bytes is not a "
                f"whole number of {frame}-byte sample frames)")
        n = nbytes // width
        # raw bytes, widened integers, float64 samples and the mono mix
        check_allocation(nbytes + 8 * n + 8 * n + 8 * (n // channels), f"{path}: {n} WAV samples")
        f.seek(offset)
        raw = np.fromfile(f, dtype=np.uint8, count=nbytes)
    if raw.size != nbytes:   # the file shrank while it was read
        raise FileFormatError(f"{path}: not a readable WAV file (data cut short)")
    e = ">" if big else "<"
    if tag == _FLOAT:
        data, fmt = raw.view(f"{e}f{width}"), f"float{8 * width}"
    elif bits <= 8:
        data, fmt = raw, "pcm8"
    elif width in (2, 4, 8):
        data, fmt = raw.view(f"{e}i{width}"), f"pcm{8 * width}"
    else:   # 3, 5, 6 or 7 bytes: left-justified in int32 / int64
        wide = 4 if width == 3 else 8
        a = np.zeros((n, wide), dtype=np.uint8)
        b = raw.reshape(n, width)
        if big:
            a[:, :width] = b
        else:
            a[:, wide - width:] = b
        data, fmt = a.view(f"{e}i{wide}").reshape(n), f"pcm{8 * width}"
    kind = data.dtype
    if kind == np.uint8:
        x = (data.astype(np.float64) - 128.0) / 128.0
    elif kind.kind == "i":
        x = data.astype(np.float64) / float(2 ** (8 * kind.itemsize - 1))
    else:
        with np.errstate(invalid="ignore"):   # NaN payloads: check_signal names them
            x = data.astype(np.float64)
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
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


def check_sample_rate(fs, name="sample rate"):
    """Return ``fs`` as a float in Hz if it lies in :data:`SAMPLE_RATE_RANGE`; else raise
    :class:`AudioError` (one line naming ``name``).

    Examples
    --------
    >>> check_sample_rate(44100)
    44100.0
    >>> check_sample_rate(1)
    Traceback (most recent call last):
    ...
    neuromod.auditory.audio.AudioError: sample rate = 1 Hz must be in [1000, 384000] Hz
    """
    from neuromod.errors import ParameterError
    from neuromod.limits import check_value
    lo, hi = SAMPLE_RATE_RANGE
    try:
        return check_value(name, fs, (lo, hi))
    except ParameterError:
        try:
            text = f"{float(fs):g} Hz"
        except (TypeError, ValueError, OverflowError):
            text = repr(fs)
        raise AudioError(f"{name} = {text} must be in [{lo:g}, {hi:g}] Hz") from None
