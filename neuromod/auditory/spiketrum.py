"""Spiketrum: sound -> sparse spikes -> sound (Tang, Gu, Wijekoon et al., 2023).

Encoder (matching pursuit over a gammatone kernel dictionary, Mallat & Zhang 1993;
spikegrams: Smith & Lewicki 2006)
    The signal ``x`` (resampled to the internal rate ``fs``, 16 kHz by default) is
    approximated as ``sum_i s_i q_{j_i} g_{k_i}(t - t_i + d_{k_i})``: unit-norm
    gammatone kernels ``g_k`` (:class:`~neuromod.auditory.gammatone.KernelDictionary`)
    placed with their envelope peak (``d_k`` samples after their start) at spike time
    ``t_i``. Each iteration picks the (kernel, time) of largest ``|<r, atom>|`` with
    the residual ``r``, quantises the magnitude to one of ``J`` levels, subtracts
    that atom and emits one spike, so the spike count is the iteration count and
    the rate is exact: ``round(rate * duration)`` spikes.

Population code (purely spiking; no analog value per spike)
    Neuron ``(2 k + polarity) J + j`` fires for kernel ``k``, sign ``+`` (polarity 0)
    or ``-`` (polarity 1) and magnitude level ``j``. Levels are log-spaced,
    ``q_j = gain * 10**(-level_range_db (J - 1 - j) / (20 (J - 1)))``, ``j = 0..J-1``,
    with ONE gain per file (the largest initial correlation, like a cochlea's gain
    setting) stored in the encoder configuration. The level chosen is the one that
    removes the most energy, ``q (2|c| - q)`` (the nearest level). When even the best
    atom cannot lower the residual energy (``|c| <= q_0 / 2``) the encoder stops
    instead of picking it again and again: the residual energy strictly decreases
    with every spike.

Speed
    Initial correlations by FFT (overlap-save); after each spike only the
    correlations the atom overlaps are updated, from precomputed kernel
    cross-correlations (:mod:`neuromod.auditory._mp`, numba). The correlations are
    stored as float32 by default (``precision="float64"`` keeps float64); they only
    select the atom, whose correlation is then recomputed exactly from the float64
    residual, so quantisation, energies and the stopping rule are exact either way.
    Float32 can differ from an exact pursuit only where two candidates agree to
    about 1e-6 of the gain, and is about twice as fast. Files longer than ``chunk_s`` are coded
    chunk by chunk on one global residual: chunk ``i`` places atoms whose peak lies
    in its core ``[s_i, e_i)`` (their tails run into the next chunk's samples and are
    subtracted from the residual it starts from), and spends the spikes still due
    at its end, ``round(rate e_i / fs) - emitted``; the result has no seams.

Decoder
    ``xhat = sum_i s_i q_{j_i} g_{k_i}`` at the spike times, from the spikes and the
    configuration alone (:func:`decode`).
"""
from dataclasses import dataclass, field
from functools import lru_cache
import json

import numpy as np

from neuromod.auditory.audio import (AudioError, SAMPLE_RATE_RANGE, check_sample_rate,
                                     check_signal, resample)
from neuromod.auditory.gammatone import KernelDictionary, kernel_lengths
from neuromod.auditory.erb import erb, erb_space
from neuromod.errors import ParameterError
from neuromod.limits import Domain, check_allocation, check_int, check_value

__all__ = ["DEFAULTS", "SETTINGS", "FILE_FIELDS", "SpiketrumCode", "make_config", "check_config",
           "check_spikes", "check_resources", "encode", "encode_batch", "decode",
           "magnitude_levels", "neuron_index", "neuron_fields", "dictionary_for"]

#: Default encoder settings (``neuromod encode`` uses the same).
DEFAULTS = {
    "sample_rate": 16000.0,    # internal rate (Hz)
    "channels": 32,            # gammatone kernels
    "fmin": 100.0,             # Hz
    "fmax": 7000.0,            # Hz
    "order": 4,
    "bandwidth": 1.019,        # b / ERB(f)
    "threshold_db": 50.0,      # kernels end where the envelope is this far below its peak
    "levels": 16,              # magnitude levels per channel and polarity
    "level_range_db": 60.0,    # q_{J-1} / q_0 in dB
    "rate": 4000.0,            # spikes per second of audio, all neurons together
    "chunk_s": 4.0,            # chunk length for long files (s)
}

MODEL = "spiketrum"
#: Correlations of the signal kept between the gain pass and the encoding pass (bytes).
CACHE_BYTES = 256 * 2 ** 20
#: Storage type of the correlations the encoder selects atoms from (``precision=``).
PRECISIONS = {"float32": np.float32, "float64": np.float64}
FORMAT_VERSION = 1


#: The valid range of every setting: ``name -> (kind, domain)``, kind ``int`` or
#: ``float``, the domain a :class:`~neuromod.limits.Domain`. Further constraints between
#: settings (``fmin <= fmax < sample_rate / 2``, ``rate <= sample_rate``) are checked
#: by :func:`make_config`; what the settings would allocate by :func:`check_resources`.
SETTINGS = {
    "sample_rate": (float, Domain("Hz", *SAMPLE_RATE_RANGE)),
    "channels": (int, Domain("kernels", 1, 4096)),
    "fmin": (float, Domain("Hz", 0.0, SAMPLE_RATE_RANGE[1] / 2, low_inclusive=False)),
    "fmax": (float, Domain("Hz", 0.0, SAMPLE_RATE_RANGE[1] / 2, low_inclusive=False)),
    "order": (int, Domain("order", 2, 12)),
    "bandwidth": (float, Domain("x ERB", 0.1, 10.0)),
    "threshold_db": (float, Domain("dB", 0.0, 240.0, low_inclusive=False)),
    "levels": (int, Domain("levels", 1, 1024)),
    "level_range_db": (float, Domain("dB", 0.0, 300.0)),
    "rate": (float, Domain("spikes/s", 0.0, SAMPLE_RATE_RANGE[1], low_inclusive=False)),
    "chunk_s": (float, Domain("s", 0.0, 3600.0, low_inclusive=False)),
}
#: Fields a spike file's configuration holds besides :data:`SETTINGS` (same form).
#: ``n_samples`` is bounded further by the memory limit (:func:`check_resources`).
FILE_FIELDS = {
    "gain": (float, Domain("correlation units", 0.0, 1e100, low_inclusive=False)),
    "n_samples": (int, Domain("samples", 1, 2 ** 53)),
    "input_sample_rate": (float, Domain("Hz", 0.0, low_inclusive=False)),
}


def _field(key, value, kind, dom, where):
    """``value`` checked against ``(kind, dom)``: a number of the right kind (JSON
    numbers, Python or numpy numbers; not a bool, not a string) inside the domain.
    Errors are one-line :class:`AudioError` messages ``'<where>key = value ...'``."""
    try:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise ParameterError(f"{key} = {value!r} is not a number")
        if kind is int:
            if isinstance(value, np.floating):
                value = float(value)
            return check_int(key, value, int(dom.low), int(dom.high))
        return check_value(key, value, dom)
    except ParameterError as exc:
        raise AudioError(f"{where}{exc}") from None


def make_config(**overrides):
    """The encoder configuration: :data:`DEFAULTS` updated with ``overrides``, checked.

    Every setting must be a number of its kind inside its range (:data:`SETTINGS`),
    with ``fmin <= fmax < sample_rate / 2`` and ``rate <= sample_rate`` (one spike per
    sample at most).

    Raises
    ------
    AudioError
        For an impossible setting (one-line message naming it).

    Examples
    --------
    >>> make_config(rate=1000)["rate"]
    1000.0
    >>> make_config(channels=100000)
    Traceback (most recent call last):
    ...
    neuromod.auditory.audio.AudioError: channels = 100000 must satisfy 1 <= channels <= 4096
    """
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown spiketrum setting(s): {', '.join(sorted(unknown))}")
    cfg = dict(DEFAULTS)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return _check_settings(cfg, "")


def _check_settings(values, where):
    """The :data:`SETTINGS` of ``values`` checked (types, ranges, relations); errors are
    prefixed with ``where``."""
    cfg = {key: _field(key, values[key], kind, dom, where)
           for key, (kind, dom) in SETTINGS.items()}
    fs = cfg["sample_rate"]
    if not cfg["fmin"] <= cfg["fmax"]:
        raise AudioError(f"{where}need 0 < fmin <= fmax, got fmin={cfg['fmin']:g} Hz, "
                         f"fmax={cfg['fmax']:g} Hz")
    if cfg["channels"] > 1 and cfg["fmin"] == cfg["fmax"]:
        raise AudioError(f"{where}fmin = fmax needs --channels 1")
    if not cfg["fmax"] < fs / 2:
        raise AudioError(f"{where}fmax = {cfg['fmax']:g} Hz must be below half the internal "
                         f"rate ({fs / 2:g} Hz)")
    if cfg["rate"] > fs:
        raise AudioError(f"{where}rate {cfg['rate']:g} spikes/s is above what the code can "
                         f"carry (at most one spike per sample: {fs:g} spikes/s at {fs:g} Hz)")
    return cfg


def check_config(config, source=None):
    """Check a stored spiketrum configuration (from a spike file) as a whole.

    The one place a configuration read from a file is validated: it must be a JSON
    object (or its text) with ``model = "spiketrum"``, ``format_version = 1``, every
    :data:`SETTINGS` field and the :data:`FILE_FIELDS` ``gain`` and ``n_samples``,
    each a number of its kind inside its range (``input_sample_rate``, if present,
    too; ``precision``, if present, one of ``float32``/``float64``). Unknown fields
    are kept and ignored.

    Parameters
    ----------
    config : dict or str
        The configuration or its JSON text.
    source : str, optional
        The file it came from, named first in every message.

    Returns
    -------
    dict
        A copy of ``config`` with the checked fields as Python ``float``/``int``.

    Raises
    ------
    AudioError
        One line naming ``source`` and the field.

    Examples
    --------
    >>> cfg = dict(make_config(), model="spiketrum", format_version=1, gain=0.5, n_samples=800)
    >>> check_config(cfg)["n_samples"]
    800
    >>> check_config({**cfg, "n_samples": "abc"}, "a.spikes.npz")
    Traceback (most recent call last):
    ...
    neuromod.auditory.audio.AudioError: a.spikes.npz: spiketrum configuration: n_samples = 'abc' is not a number
    """
    where = f"{source}: spiketrum configuration: " if source is not None else \
        "spiketrum configuration: "
    if isinstance(config, (str, bytes)):
        try:
            config = json.loads(config)
        except (ValueError, RecursionError) as exc:
            raise AudioError(f"{where}not JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(config, dict):
        raise AudioError(f"{where}must be a JSON object, not {type(config).__name__}")
    if config.get("model") != MODEL:
        raise AudioError(f"{where}not a spiketrum configuration (model = "
                         f"{_short(config.get('model'))})")
    if "format_version" not in config:
        raise AudioError(f"{where}lacks format_version")
    version = config["format_version"]
    if isinstance(version, bool) or not isinstance(version, (int, float)) or \
            version != FORMAT_VERSION:
        raise AudioError(f"{where}format_version = {_short(version)} is not one this version "
                         f"of neuromod reads ({FORMAT_VERSION})")
    missing = [k for k in list(SETTINGS) + ["gain", "n_samples"] if k not in config]
    if missing:
        raise AudioError(f"{where}lacks {', '.join(missing)}")
    out = dict(config)
    out.update(_check_settings(config, where))
    for key, (kind, dom) in FILE_FIELDS.items():
        if key in config:
            out[key] = _field(key, config[key], kind, dom, where)
    if "precision" in config and (not isinstance(config["precision"], str)
                                  or config["precision"] not in PRECISIONS):
        raise AudioError(f"{where}precision = {_short(config['precision'])} is not one of "
                         f"{', '.join(PRECISIONS)}")
    out["model"], out["format_version"] = MODEL, FORMAT_VERSION
    return out


def _short(value, n=40):
    """``repr(value)``, cut to ``n`` characters (one line)."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= n else text[:n - 3] + "..."


def check_spikes(spikes, config, source=None):
    """Check that spikes lie where a (checked) configuration can place atoms.

    Every neuron id must be one of the ``2 channels levels`` neurons, every time in
    ``[0, n_samples / sample_rate]`` s (the encoder emits a spike at an atom's peak
    sample, inside the signal). Vectorised; nothing else is allocated.

    Raises
    ------
    AudioError
        One line naming ``source`` and the first offending spike.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> cfg = dict(make_config(channels=4), model="spiketrum", format_version=1, gain=0.5,
    ...            n_samples=800)
    >>> check_spikes(SpikeTrains([-5.8e14], [3], t_start=-6e14, t_stop=0.05), cfg, "a.npz")
    Traceback (most recent call last):
    ...
    neuromod.auditory.audio.AudioError: a.npz: spike 0 (neuron 3) at t = -5.8e+14 s is outside [0, 0.05] s, the 800 samples at 16000 Hz of its configuration
    """
    where = f"{source}: " if source is not None else ""
    n_neurons = 2 * int(config["channels"]) * int(config["levels"])
    ids = np.asarray(spikes.ids)
    if ids.size:
        bad = (ids < 0) | (ids >= n_neurons)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise AudioError(f"{where}neuron id {int(ids[i])} outside 0..{n_neurons - 1} of this "
                             "configuration")
    t = np.asarray(spikes.times, dtype=np.float64)
    fs, N = float(config["sample_rate"]), int(config["n_samples"])
    t_max = N / fs
    if t.size:
        bad = ~((t >= 0.0) & (t <= t_max))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise AudioError(f"{where}spike {i} (neuron {int(ids[i])}) at t = {t[i]:g} s is "
                             f"outside [0, {t_max:g}] s, the {N} samples at {fs:g} Hz of its "
                             "configuration")


def _dictionary_shape(cfg):
    """``(lengths, peaks)`` of the kernels of ``cfg`` in samples (tuples of ints), computed
    as :class:`KernelDictionary` does but without building it (vectorised, O(K))."""
    return _kernel_shape(cfg["sample_rate"], cfg["fmin"], cfg["fmax"], cfg["channels"],
                         cfg["order"], cfg["bandwidth"], cfg["threshold_db"])


@lru_cache(maxsize=32)
def _kernel_shape(fs, fmin, fmax, channels, order, bandwidth, threshold_db):
    cf = erb_space(fmin, fmax, channels)
    b = bandwidth * erb(cf)
    lengths = kernel_lengths(b, fs, order, threshold_db)
    peaks = np.round((order - 1) * fs / (2.0 * np.pi * b))
    return tuple(int(v) for v in lengths), tuple(int(v) for v in peaks)


def _dictionary_bytes(cfg):
    """What building the kernel dictionary of ``cfg`` allocates (bytes, a Python int):
    the kernels and their impulse-response temporaries, the spectra and the
    cross-correlations of every pair (twice while they are joined, plus the float32
    copy the encoder uses)."""
    lengths, _ = _dictionary_shape(cfg)
    K, Lmax, total = len(lengths), max(lengths), sum(lengths)
    nfft = 2 * Lmax + 64
    xc = 2 * K * total - K * K
    return 8 * 6 * K * Lmax + 16 * K * (nfft // 2 + 1) + 8 * K * nfft + (8 + 8 + 4) * xc


def check_resources(cfg, n_samples, what, *, n_spikes=0, output_rate=None, encoding=False,
                    precision="float32"):
    """Raise :class:`~neuromod.errors.ResourceLimitError` before allocating if coding
    ``n_samples`` samples (at the internal rate) with ``cfg`` would exceed
    ``NEUROMOD_MEMORY_LIMIT``.

    The estimate (Python ints, never overflowing) counts the kernel dictionary
    (:func:`dictionary_for`), the padded signal and output, ``n_spikes`` spikes and,
    for ``encoding``, the residual and its copy, one chunk's correlations, the
    correlation cache and the output spikes; ``output_rate`` adds the resampled output.

    Examples
    --------
    >>> check_resources(make_config(), 16000, "encode")
    >>> check_resources(make_config(), 10 ** 12, "a.spikes.npz: decode")
    Traceback (most recent call last):
    ...
    neuromod.errors.ResourceLimitError: a.spikes.npz: decode would allocate 14.6 TiB (limit 8 GiB; set NEUROMOD_MEMORY_LIMIT)
    """
    lengths, peaks = _dictionary_shape(cfg)
    K, Lmax, dmax = len(lengths), max(lengths), max(peaks)
    N = int(n_samples)
    fs = float(cfg["sample_rate"])
    padded = dmax + N + Lmax
    nbytes = _dictionary_bytes(cfg) + 8 * padded + 8 * N + 6 * 8 * int(n_spikes)
    if output_rate is not None:
        n_out = int(np.ceil(N * float(output_rate) / fs)) + 1
        nbytes += 3 * 8 * (N + n_out)
    if encoding:
        item = np.dtype(PRECISIONS.get(precision, np.float64)).itemsize
        chunk = min(N, max(1, int(round(cfg["chunk_s"] * fs))))
        corr = K * (-(-chunk // 64) * 64) * item
        total = int(round(cfg["rate"] * N / fs))
        n_neurons = 2 * K * int(cfg["levels"])
        nbytes += (8 * 2 * padded + 2 * corr + min(CACHE_BYTES, corr * -(-N // chunk))
                   + 8 * 2 * 8 * FFT_BLOCK + 10 * 8 * total + 3 * 8 * n_neurons)
    check_allocation(nbytes, what)


def dictionary_for(cfg):
    """The (cached) :class:`KernelDictionary` of a configuration, refused before it is
    built if it would allocate more than ``NEUROMOD_MEMORY_LIMIT``.

    Examples
    --------
    >>> dictionary_for(make_config(channels=8)).n_kernels
    8"""
    check_allocation(_dictionary_bytes(cfg), f"kernel dictionary of {cfg['channels']} channels "
                                             f"at {cfg['sample_rate']:g} Hz")
    cf = erb_space(cfg["fmin"], cfg["fmax"], cfg["channels"])
    return KernelDictionary.build(cfg["sample_rate"], tuple(cf), cfg["order"], cfg["bandwidth"],
                                  cfg["threshold_db"])


def magnitude_levels(gain, n_levels, range_db):
    """Ascending log-spaced magnitudes ``q_j = gain 10**(-range_db (J-1-j) / (20 (J-1)))``.

    Examples
    --------
    >>> magnitude_levels(1.0, 3, 40.0).tolist()
    [0.01, 0.1, 1.0]
    """
    J = int(n_levels)
    if J == 1:
        return np.array([float(gain)])
    return float(gain) * 10.0 ** (-float(range_db) * (J - 1 - np.arange(J)) / (20.0 * (J - 1)))


def neuron_index(channel, polarity, level, n_levels):
    """Neuron id ``(2 channel + polarity) n_levels + level`` (polarity 0: +, 1: -).

    Examples
    --------
    >>> int(neuron_index(3, 1, 5, 16))
    117
    """
    return (2 * np.asarray(channel) + np.asarray(polarity)) * int(n_levels) + np.asarray(level)


def neuron_fields(ids, n_levels):
    """Inverse of :func:`neuron_index`: ``(channel, polarity, level)`` arrays.

    Examples
    --------
    >>> [int(v) for v in neuron_fields(117, 16)]
    [3, 1, 5]
    """
    ids = np.asarray(ids, dtype=np.int64)
    J = int(n_levels)
    return ids // (2 * J), (ids // J) % 2, ids % J


@dataclass
class SpiketrumCode:
    """The result of :func:`encode`: spikes, the configuration, and diagnostics.

    Attributes
    ----------
    spikes : SpikeTrains
        One train per neuron (``2 K J`` trains), times in seconds from the start of
        the signal, window ``[0, duration]``.
    config : dict
        Everything the decoder needs (JSON-ready): :data:`DEFAULTS` keys, ``gain``
        (the file's one gain), ``n_samples`` (at the internal rate),
        ``input_sample_rate``, ``model``, ``format_version``, ``neuron_layout``, and
        ``precision`` (how the encoder stored its correlations; not needed to decode).
    order : dict of numpy.ndarray
        The spikes in the order matching pursuit emitted them: ``sample`` (peak
        sample), ``channel``, ``sign``, ``level``, ``energy`` (residual energy
        after each spike, strictly decreasing).
    signal_energy : float
        ``sum x**2`` at the internal rate (the residual energy before any spike).
    requested : int
        ``round(rate * duration)``.
    exhausted : bool
        True if the encoder stopped early because no atom could lower the energy.
    signal : numpy.ndarray
        The encoded signal at the internal rate.

    Examples
    --------
    >>> code = encode(np.random.default_rng(0).standard_normal(1600), 16000, rate=1000,
    ...               channels=8)
    >>> code.n_spikes, code.exhausted, bool(np.all(np.diff(code.order["energy"]) < 0))
    (100, False, True)
    """
    spikes: object
    config: dict
    order: dict = field(repr=False)
    signal_energy: float
    requested: int
    exhausted: bool
    signal: np.ndarray = field(repr=False)

    @property
    def n_spikes(self):
        return self.spikes.n_spikes

    @property
    def rate(self):
        """Produced spike rate (spikes per second of audio)."""
        return self.n_spikes / self.spikes.duration

    @property
    def residual_energy(self):
        return float(self.order["energy"][-1]) if self.order["energy"].size else self.signal_energy

    def decode(self, sample_rate=None):
        """:func:`decode` of these spikes with this configuration."""
        return decode(self.spikes, self.config, sample_rate=sample_rate)

    def scores(self):
        """``{"snr_db", "spectrogram_corr"}`` of the reconstruction at the internal rate."""
        from neuromod.auditory.metrics import snr_db, log_spectrogram_correlation
        xhat = self.decode()
        fs = self.config["sample_rate"]
        return {"snr_db": snr_db(self.signal, xhat),
                "spectrogram_corr": log_spectrogram_correlation(self.signal, xhat, fs)}


#: FFT length of the blocked (overlap-save) initial correlation.
FFT_BLOCK = 8192


def _kernel_spectra(dic, nfft):
    """``conj(rfft(kernels, nfft))``, cached on the dictionary (a few sizes at most)."""
    from scipy import fft as sfft
    cache = dic.__dict__.setdefault("_spectra", {})
    if nfft not in cache:
        if len(cache) >= 6:
            cache.pop(next(iter(cache)))
        cache[nfft] = np.conj(sfft.rfft(dic.kernels, nfft, axis=1))
    return cache[nfft]


def _correlate(r, s, e, dic, dtype=np.float64):
    """``c[k, i] = <r, g_k starting at s + i - d_k>`` (peak at ``s + i``) for ``i < e - s``.

    ``r`` is the padded residual (``dmax`` zeros before sample 0); computed by FFT
    (:func:`_correlate_seg`).
    """
    dmax = int(dic.peaks.max())
    return _correlate_seg(r[s:e + dmax + dic.max_length], e - s, dic, dtype)[0]


def _correlate_seg(seg, n, dic, dtype=np.float64, n_group=8):
    """:func:`_correlate` of the segment ``seg`` (its sample 0 = padded index ``s``;
    at least ``n + dmax + L_max`` samples): ``(c, max |c|)``, ``c`` of type ``dtype``
    with rows padded with zeros to whole blocks, the maximum taken before rounding.

    Overlap-save: FFTs of :data:`FFT_BLOCK` samples (a power of two; smaller for short
    segments), each giving ``FFT_BLOCK - dmax - L_max + 1`` outputs per kernel, so the
    transforms stay in the cache and the kernel spectra are computed once per size.
    """
    from scipy import fft as sfft
    from neuromod.auditory._mp import BLOCK, store_rows
    dmax = int(dic.peaks.max())
    span = dmax + dic.max_length - 1     # extra input samples behind an output block
    nfft = min(FFT_BLOCK, 1 << int(np.ceil(np.log2(n + span))))
    M = nfft - span                      # outputs per transform
    K = dic.n_kernels
    G = _kernel_spectra(dic, nfft)
    offs = dmax - dic.peaks              # c[k, i] = full_k[offs[k] + i]
    c = np.zeros((K, -(-n // BLOCK) * BLOCK), dtype=dtype)
    peak = 0.0
    for i in range(0, n, M):
        m = min(M, n - i)
        X = sfft.rfft(seg[i:i + nfft], nfft)
        for k0 in range(0, K, n_group):
            k1 = min(K, k0 + n_group)
            full = sfft.irfft(X[None, :] * G[k0:k1], nfft, axis=1, overwrite_x=True)
            peak = max(peak, store_rows(c, full, offs, k0, i, m))
    return c, peak


def _cross_correlations(dic, dtype):
    """The dictionary's flattened cross-correlations as ``dtype`` (cached on it)."""
    if dtype == np.float64:
        return dic.xc
    cache = dic.__dict__.setdefault("_xc_typed", {})
    key = np.dtype(dtype).str
    if key not in cache:
        cache[key] = np.ascontiguousarray(dic.xc, dtype=dtype)
    return cache[key]


def _encode_signal(x, cfg, input_rate, precision="float32"):
    from neuromod.auditory import _mp
    from neuromod.spikes import SpikeTrains
    dtype = np.dtype(PRECISIONS[precision])
    dic = dictionary_for(cfg)
    xc = _cross_correlations(dic, dtype)
    fs = cfg["sample_rate"]
    N = x.size
    dmax = int(dic.peaks.max())
    Lmax = dic.max_length
    shift = dmax - dic.peaks   # atom (k, p) starts at p + shift[k] of its chunk's residual
    r = np.zeros(dmax + N + Lmax)
    r[dmax:dmax + N] = x
    chunk_n = max(1, int(round(cfg["chunk_s"] * fs)))
    bounds = [(s, min(N, s + chunk_n)) for s in range(0, N, chunk_n)]
    total = int(round(cfg["rate"] * N / fs))
    # One gain per file: the largest initial correlation. The correlations of the signal
    # are kept (up to CACHE_BYTES); a later chunk then only subtracts the correlation of
    # the earlier atoms' tails that reach into it, instead of re-correlating its residual.
    x_pad = r.copy()
    cache = {}
    gain = 0.0
    for i, (s, e) in enumerate(bounds):
        c, peak = _correlate_seg(r[s:e + dmax + Lmax], e - s, dic, dtype)
        gain = max(gain, peak)
        if i == 0 or (i + 1) * c.nbytes <= CACHE_BYTES:
            cache[i] = c
    if not gain > 0:
        raise AudioError("signal has no energy in the filterbank's band; nothing to encode")
    levels = magnitude_levels(gain, cfg["levels"], cfg["level_range_db"])
    out_p = np.empty(total, dtype=np.int64)
    out_k = np.empty(total, dtype=np.int64)
    out_s = np.empty(total, dtype=np.int64)
    out_j = np.empty(total, dtype=np.int64)
    out_e = np.empty(total)
    energy = float(np.sum(x * x))
    signal_energy = energy
    emitted = 0
    exhausted = False
    for i, (s, e) in enumerate(bounds):
        if i in cache:
            c = cache.pop(i)
            if i > 0:   # earlier atoms overlap the padded indices [s, s + dmax + Lmax) only
                n_fix = min(e - s, dmax + Lmax)
                seg = x_pad[s:s + n_fix + dmax + Lmax] - r[s:s + n_fix + dmax + Lmax]
                c[:, :n_fix] -= _correlate_seg(seg, n_fix, dic)[0][:, :n_fix]
        else:
            c = _correlate(r, s, e, dic, dtype)
        due = (total if i == len(bounds) - 1 else int(round(cfg["rate"] * e / fs))) - emitted
        if due <= 0:
            continue
        r_seg = r[s:e + dmax + Lmax]   # a view: the kernel subtracts the atoms from it
        seg_energy = float(np.sum(r_seg ** 2))
        sl = slice(emitted, emitted + due)
        cnt, seg_end = _mp.mp_run(c, e - s, xc, dic.xc_off, dic.xc_lo, dic.xc_len, levels, due,
                                  seg_energy, r_seg, dic.kernels, dic.lengths, shift,
                                  out_p[sl], out_k[sl], out_s[sl], out_j[sl], out_e[sl])
        got = slice(emitted, emitted + cnt)
        out_p[got] += s
        out_e[got] += energy - seg_energy  # segment energy -> whole-signal residual energy
        energy -= seg_energy - seg_end
        if cnt < due:
            exhausted = True
        emitted += cnt
    keep = slice(0, emitted)
    order = {"sample": out_p[keep].copy(), "channel": out_k[keep].copy(),
             "sign": out_s[keep].copy(), "level": out_j[keep].copy(), "energy": out_e[keep].copy()}
    J = cfg["levels"]
    ids = neuron_index(order["channel"], (order["sign"] < 0).astype(np.int64), order["level"], J)
    n_neurons = 2 * cfg["channels"] * J
    ch, pol, lev = neuron_fields(np.arange(n_neurons), J)
    spikes = SpikeTrains(order["sample"] / fs, ids, t_start=0.0, t_stop=N / fs,
                         n_trains=n_neurons, sort=True,
                         annotations={"channel": ch, "polarity": pol, "level": lev})
    config = dict(cfg)
    config.update({"model": MODEL, "format_version": FORMAT_VERSION, "gain": gain,
                   "precision": precision,
                   "n_samples": int(N), "input_sample_rate": float(input_rate),
                   "neuron_layout": "(2*channel + polarity)*levels + level; polarity 0 = +, 1 = -; "
                                    "level 0 = smallest magnitude"})
    return SpiketrumCode(spikes, config, order, signal_energy, total, exhausted, x)


def encode(x, fs, precision="float32", **settings):
    """Encode a sound as spikes (spiketrum).

    Parameters
    ----------
    x : array_like, shape (N,)
        The sound, any scale (a WAV's samples in [-1, 1] as read by
        :func:`~neuromod.auditory.audio.read_wav`).
    fs : float or quantity
        Its sample rate in Hz, within :data:`~neuromod.auditory.audio.SAMPLE_RATE_RANGE`
        (1 kHz to 384 kHz); resampled to ``sample_rate`` (16 kHz by default) with
        :func:`scipy.signal.resample_poly` if different.
    **settings
        Any of :data:`DEFAULTS`: ``rate`` (spikes per second of audio, all neurons
        together; the code has exactly ``round(rate * duration)`` spikes unless the
        signal is exhausted first), ``channels`` (kernels), ``fmin``/``fmax`` (Hz),
        ``levels``, ``level_range_db``, ``sample_rate`` (internal), ``chunk_s``...
    precision : {"float32", "float64"}
        Storage type of the correlations the atoms are selected from (see Speed in
        the module notes). Quantisation and residual energies are exact (float64)
        either way; float32 is about twice as fast and may pick a different atom only
        where two candidates' correlations agree to about 1e-6 of the gain. Recorded
        in the configuration; the decoder does not need it.

    Returns
    -------
    SpiketrumCode

    Raises
    ------
    AudioError
        Empty, non-finite or all-zero signal; impossible settings (:func:`make_config`);
        a sample rate outside the supported range.
    ResourceLimitError
        If encoding would allocate more than ``NEUROMOD_MEMORY_LIMIT``
        (:func:`check_resources`, before allocating).

    Examples
    --------
    >>> t = np.arange(1600) / 16000
    >>> code = encode(np.sin(2 * np.pi * 440 * t) * np.hanning(1600), 16000, rate=2000, channels=8)
    >>> code.n_spikes
    200
    """
    from neuromod.units import to_hertz
    if precision not in PRECISIONS:
        raise AudioError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    cfg = make_config(**settings)
    fs_in = check_sample_rate(to_hertz(fs, "sample rate"))
    x = check_signal(x)
    n = int(np.ceil(x.size * cfg["sample_rate"] / fs_in)) + 1
    check_resources(cfg, n, f"encode: {x.size} samples at {fs_in:g} Hz", encoding=True,
                    precision=precision, output_rate=fs_in if fs_in != cfg["sample_rate"] else None)
    x = resample(x, fs_in, cfg["sample_rate"])
    if not np.any(x):
        raise AudioError("signal: all samples are zero after resampling; nothing to encode")
    return _encode_signal(x, cfg, fs_in, precision)


def encode_batch(signals, fs, n_jobs=1, **settings):
    """Encode several sounds with one configuration; the kernel dictionary and its
    cross-correlations are built once and shared.

    Parameters
    ----------
    signals : sequence of array_like
    fs : float or sequence of float
        Sample rate(s) in Hz.
    n_jobs : int
        Threads (the compiled kernels release the GIL).
    **settings
        As :func:`encode`.

    Returns
    -------
    list of SpiketrumCode

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> codes = encode_batch([rng.standard_normal(800) for _ in range(3)], 16000,
    ...                      rate=1000, channels=4)
    >>> [c.n_spikes for c in codes]
    [50, 50, 50]
    """
    signals = list(signals)
    rates = list(fs) if np.ndim(fs) else [fs] * len(signals)
    if len(rates) != len(signals):
        raise ValueError("give one sample rate or one per signal")
    precision = settings.get("precision", "float32")
    if precision not in PRECISIONS:
        raise AudioError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    # build the shared dictionary (and its cross-correlations at this precision) once
    dic = dictionary_for(make_config(**{k: v for k, v in settings.items() if k != "precision"}))
    _cross_correlations(dic, PRECISIONS[precision])
    if int(n_jobs) <= 1 or len(signals) < 2:
        return [encode(x, f, **settings) for x, f in zip(signals, rates)]
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(int(n_jobs)) as pool:
        return list(pool.map(lambda a: encode(a[0], a[1], **settings), zip(signals, rates)))


def decode(spikes, config, sample_rate=None):
    """Reconstruct the sound from spikes and the encoder configuration alone.

    ``xhat[n] = sum_i s_i q_{j_i} g_{k_i}[n - round(t_i fs) + d_{k_i}]`` where neuron
    ``id_i`` gives kernel ``k_i``, sign ``s_i`` and level ``j_i``
    (:func:`neuron_fields`), ``q_j`` from :func:`magnitude_levels` with the file's
    gain, and ``d_k`` is kernel ``k``'s envelope-peak delay.

    Parameters
    ----------
    spikes : SpikeTrains
        Times in seconds from the start of the sound; train index = neuron id.
    config : dict or str
        The encoder configuration (:attr:`SpiketrumCode.config`) or its JSON text.
    sample_rate : float, optional
        Output rate in Hz, within :data:`~neuromod.auditory.audio.SAMPLE_RATE_RANGE`
        (1 kHz to 384 kHz; default: the internal rate).

    Returns
    -------
    numpy.ndarray
        ``config["n_samples"]`` samples at the internal rate (resampled if asked).

    Raises
    ------
    AudioError
        A configuration that :func:`check_config` rejects, spikes that
        :func:`check_spikes` rejects (a neuron id outside the configuration's, a time
        outside ``[0, n_samples / sample_rate]``), an output rate outside the range,
        or a reconstruction that is not finite; one line each.
    ResourceLimitError
        If decoding would allocate more than ``NEUROMOD_MEMORY_LIMIT``
        (:func:`check_resources`, before allocating).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> code = encode(rng.standard_normal(800), 16000, rate=1000, channels=4)
    >>> decode(code.spikes, code.config).shape
    (800,)
    """
    from neuromod.auditory import _mp
    cfg = check_config(config)
    fs = cfg["sample_rate"]
    fs_out = None
    if sample_rate is not None:
        from neuromod.units import to_hertz
        fs_out = check_sample_rate(to_hertz(sample_rate, "sample rate"), "output sample rate")
        if fs_out == fs:
            fs_out = None
    check_spikes(spikes, cfg)
    J = cfg["levels"]
    N = cfg["n_samples"]
    ids = np.asarray(spikes.ids, dtype=np.int64)
    check_resources(cfg, N, f"decode: {N} samples at {fs:g} Hz", n_spikes=ids.size,
                    output_rate=fs_out)
    dic = dictionary_for(cfg)
    k, pol, lev = neuron_fields(ids, J)
    levels = magnitude_levels(cfg["gain"], J, cfg["level_range_db"])
    amps = np.where(pol == 0, 1.0, -1.0) * levels[lev]
    dmax = int(dic.peaks.max())
    y = np.zeros(dmax + N + dic.max_length)
    # times lie in [0, N / fs] (check_spikes): the sample indices fit in int64
    starts = np.round(np.asarray(spikes.times) * fs).astype(np.int64) - dic.peaks[k] + dmax
    _mp.add_atoms(y, dic.kernels, dic.lengths, starts, k, amps)
    xhat = y[dmax:dmax + N].copy()
    if fs_out is not None:
        xhat = resample(xhat, fs, fs_out)
    if not np.all(np.isfinite(xhat)):
        i = int(np.flatnonzero(~np.isfinite(xhat))[0])
        raise AudioError(f"decoded sample {i} is not finite (gain {cfg['gain']:g} is too large "
                         "for this many overlapping spikes)")
    return xhat
