"""Bad inputs of the auditory package, one table per defect class: each is a one-line
NeuromodError naming the file (and field or spike), never a traceback, garbage or NaN.

Classes: WAV files (structure, truncation), spike files whose spike times lie
outside what their configuration represents (the decoder's compiled loop must never
see them), tampered configurations (type and range of every field), the decoder's
output rate, resource bounds before allocation, and the ``neuromod encode`` /
``neuromod decode`` command line on a few of them.
"""
import json
import os
import struct

import numpy as np
import pytest
from scipy.io import wavfile

from neuromod.auditory import _mp
from neuromod.auditory.audio import AudioError, check_signal, read_wav
from neuromod.auditory.spikefile import CONFIG_KEY, load_code, save_code
from neuromod.auditory.spiketrum import (check_config, check_resources, decode, dictionary_for,
                                         encode, make_config)
from neuromod.errors import FileFormatError, NeuromodError, ResourceLimitError
from neuromod.io.npzfile import JSON_EXTRAS_KEY, npz_arrays
from neuromod.spikes import SpikeTrains

TINY = {"channels": 2, "levels": 2, "fmin": 300.0, "fmax": 3000.0, "rate": 2000.0}


def one_line(exc, *fragments):
    msg = str(exc.value)
    assert "\n" not in msg and "Traceback" not in msg, msg
    for f in fragments:
        assert f in msg, msg
    return msg


# ----------------------------------------------------------------------- WAV files
def wav_bytes(samples=None, *, tag=1, channels=1, fs=8000, bits=16, block_align=None,
              byte_rate=None, data_size=None, fmt_size=16, magic=b"RIFF", form=b"WAVE",
              extra=b"", data=None):
    """A WAV file's bytes with every header field settable (little endian)."""
    if data is None:
        samples = np.arange(64, dtype=np.int16) * 300 if samples is None else samples
        data = np.asarray(samples).tobytes()
    block_align = channels * ((bits + 7) // 8) if block_align is None else block_align
    byte_rate = fs * block_align if byte_rate is None else byte_rate
    fmt = struct.pack("<HHIIHH", tag, channels, fs, byte_rate, block_align, bits)
    fmt = fmt[:fmt_size] + b"\0" * (fmt_size - len(fmt))
    body = (form + b"fmt " + struct.pack("<I", fmt_size) + fmt + extra + b"data"
            + struct.pack("<I", len(data) if data_size is None else data_size) + data)
    return magic + struct.pack("<I", len(body)) + body


GOOD = wav_bytes()

BAD_WAVS = [
    ("truncated to half its data", GOOD[:44 + 64], "data chunk claims 128 bytes but only 64"),
    ("empty file", b"", "header cut short"),
    ("header cut short (20 bytes)", GOOD[:20], "header cut short"),
    ("header cut short (40 bytes)", GOOD[:40], "header cut short"),
    ("no data chunk", GOOD[:36], "no data chunk"),
    ("0 channels", wav_bytes(channels=0, block_align=2), "0 channels"),
    ("data chunk claims more than the file", wav_bytes(data_size=10 ** 9), "claims 1000000000"),
    ("odd byte count for 16-bit samples", wav_bytes(data=b"\1\2\3"), "not a whole number"),
    ("odd byte count, stereo", wav_bytes(channels=2, data=b"\0" * 6), "4-byte sample frames"),
    ("sample rate 0", wav_bytes(fs=0), "sample rate 0"),
    ("fmt chunk of 12 bytes", wav_bytes(fmt_size=12), "fmt chunk of 12 bytes"),
    ("unknown format tag", wav_bytes(tag=0x55), "format tag 0x0055"),
    ("extensible without sub-format", wav_bytes(tag=0xFFFE), "WAVE_FORMAT_EXTENSIBLE"),
    ("not RIFF", b"OggS" + GOOD[4:], "not RIFF"),
    ("not WAVE", GOOD[:8] + b"AVI " + GOOD[12:], "not WAVE"),
    ("block align not a multiple of channels", wav_bytes(channels=2, block_align=3),
     "block align 3"),
    ("block align 0", wav_bytes(block_align=0), "block align 0"),
    ("0-bit samples", wav_bytes(bits=0, block_align=2), "0-bit"),
    ("65-bit samples", wav_bytes(bits=65, block_align=9), "65-bit"),
    ("16-bit float", wav_bytes(tag=3, bits=16), "16-bit floating-point"),
    ("byte rate inconsistent", wav_bytes(byte_rate=7), "byte rate 7"),
    ("8-bit in 2-byte containers", wav_bytes(bits=8, block_align=2), "8-bit samples in 2-byte"),
    ("chunk before data overruns the file", GOOD[:36] + b"LIST" + struct.pack("<I", 99) + b"ab",
     "'LIST' chunk claims 99"),
    ("data before fmt", b"RIFF" + struct.pack("<I", 20) + b"WAVEdata" + struct.pack("<I", 2)
     + b"\0\0", "data chunk before the fmt chunk"),
]


@pytest.mark.parametrize("case, blob, fragment", BAD_WAVS, ids=[c[0] for c in BAD_WAVS])
def test_bad_wav_is_one_line_error_naming_the_file(tmp_path, case, blob, fragment):
    p = tmp_path / "bad.wav"
    p.write_bytes(blob)
    with pytest.raises(FileFormatError) as info:
        read_wav(p)
    one_line(info, str(p), "not a readable WAV file", fragment)


def _wav_24(samples, fs, channels=1, big=False):
    e, order = (">", "big") if big else ("<", "little")
    data = b"".join(int(v).to_bytes(3, order, signed=True) for v in samples)
    fmt = struct.pack(e + "HHIIHH", 1, channels, fs, fs * 3 * channels, 3 * channels, 24)
    body = b"WAVEfmt " + struct.pack(e + "I", 16) + fmt + b"data" + struct.pack(e + "I", len(data))
    return (b"RIFX" if big else b"RIFF") + struct.pack(e + "I", len(body) + len(data)) + body + data


def _extensible(samples, fs):
    guid = struct.pack("<I", 1) + b"\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    ext = struct.pack("<HHI", 22, 16, 4) + guid
    data = np.asarray(samples, dtype="<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 0xFFFE, 1, fs, fs * 2, 2, 16) + ext
    body = (b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data"
            + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _rf64(samples, fs):
    data = np.asarray(samples, dtype="<i2").tobytes()
    ds64 = struct.pack("<QQQI", 0, len(data), len(data) // 2, 0)
    fmt = struct.pack("<HHIIHH", 1, 1, fs, fs * 2, 2, 16)
    body = (b"WAVEds64" + struct.pack("<I", len(ds64)) + ds64 + b"fmt " + struct.pack("<I", 16)
            + fmt + b"data" + struct.pack("<I", 0xFFFFFFFF) + data)
    return b"RF64" + struct.pack("<I", 0xFFFFFFFF) + body


VALUES = np.round(np.sin(np.arange(300) / 7.0) * 20000).astype(np.int64)


@pytest.mark.parametrize("kind", ["u8", "s16", "s32", "s64", "f32", "f64", "stereo16",
                                  "s24", "s24-stereo-big-endian", "extensible", "rf64",
                                  "odd chunk with pad byte", "LIST chunk"])
def test_valid_wavs_keep_reading(tmp_path, kind):
    """Every supported format reads as scipy reads it (full scale 1, channels averaged)."""
    p = tmp_path / f"{kind}.wav"
    v = VALUES
    scale = {"u8": 1, "s16": 2 ** 15, "s32": 2 ** 31, "s64": 2 ** 63}
    if kind == "u8":
        wavfile.write(p, 8000, (v // 200 + 128).astype(np.uint8))
        expect = ((v // 200 + 128) - 128) / 128.0
    elif kind in ("s16", "s32", "s64"):
        dt = {"s16": np.int16, "s32": np.int32, "s64": np.int64}[kind]
        wavfile.write(p, 8000, v.astype(dt))
        expect = v / scale[kind]
    elif kind in ("f32", "f64"):
        y = (v / 40000.0).astype(np.float32 if kind == "f32" else np.float64)
        wavfile.write(p, 8000, y)
        expect = y.astype(np.float64)
    elif kind == "stereo16":
        wavfile.write(p, 8000, np.stack([v, -v // 2], axis=1).astype(np.int16))
        expect = (v + (-v // 2)) / 2 / 2 ** 15
    elif kind == "s24":
        p.write_bytes(_wav_24(v * 100, 8000))
        expect = v * 100 / 2 ** 23
    elif kind == "s24-stereo-big-endian":
        p.write_bytes(_wav_24(v * 100, 8000, channels=2, big=True))
        expect = (v * 100).reshape(-1, 2).mean(axis=1) / 2 ** 23
    elif kind == "extensible":
        p.write_bytes(_extensible(v, 8000))
        expect = v / 2 ** 15
    elif kind == "rf64":
        p.write_bytes(_rf64(v, 8000))
        expect = v / 2 ** 15
    elif kind == "odd chunk with pad byte":
        p.write_bytes(wav_bytes(v.astype(np.int16), extra=b"odd " + struct.pack("<I", 3) + b"abc\0"))
        expect = v / 2 ** 15
    else:
        blob = wav_bytes(v.astype(np.int16))
        p.write_bytes(blob + b"LIST" + struct.pack("<I", 4) + b"INFO")
        expect = v / 2 ** 15
    x, fs, info = read_wav(p)
    assert fs == 8000 and x.dtype == np.float64
    np.testing.assert_array_equal(x, expect)
    if kind not in ("s24", "s24-stereo-big-endian", "rf64", "odd chunk with pad byte"):
        sfs, d = wavfile.read(p)     # the same samples scipy reads
        full = {"u": 1, "i": 2.0 ** (8 * d.dtype.itemsize - 1), "f": 1}[d.dtype.kind]
        ref = (d.astype(np.float64) - (128 if d.dtype.kind == "u" else 0)) / (128 if d.dtype.kind == "u" else full)
        np.testing.assert_array_equal(x, ref.mean(axis=1) if ref.ndim == 2 else ref)


def test_wav_samples_beyond_the_memory_limit_are_refused_before_reading(tmp_path, monkeypatch):
    p = tmp_path / "a.wav"
    wavfile.write(p, 8000, np.zeros(20000, dtype=np.int16))
    monkeypatch.setenv("NEUROMOD_MEMORY_LIMIT", "100K")
    with pytest.raises(ResourceLimitError) as info:
        read_wav(p)
    one_line(info, str(p), "would allocate")


# ------------------------------------------------------------------ spike files
@pytest.fixture(scope="module")
def code():
    x = np.random.default_rng(3).standard_normal(800)
    return encode(x, 16000, **TINY)


def write_spike_file(path, spikes, config):
    """A spike file with any configuration (JSON text or a value), bypassing save_code's
    checks, as a tampered file would be."""
    arrays = npz_arrays(spikes)
    text = config if isinstance(config, str) else json.dumps(config, allow_nan=True)
    arrays[CONFIG_KEY] = np.array(text)
    arrays[JSON_EXTRAS_KEY] = np.array([CONFIG_KEY])
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def one_spike(code, t, neuron=3):
    return SpikeTrains([t], [neuron], t_start=min(t, 0.0), t_stop=max(t, 0.05),
                       n_trains=code.spikes.n_trains)


BAD_TIMES = [-5.8e14, 1e300, -1e300, -1e-3, 0.05 + 1e-3, 2.0 ** 63 / 16000]


@pytest.mark.parametrize("t", BAD_TIMES)
def test_spike_times_outside_the_configuration_are_refused(tmp_path, code, t):
    p = write_spike_file(tmp_path / "t.npz", one_spike(code, t), code.config)
    with pytest.raises(AudioError) as info:
        load_code(p)
    one_line(info, str(p), "spike 0 (neuron 3)", "outside [0, 0.05] s")
    with pytest.raises(AudioError) as info:      # the library call on its own, too
        decode(one_spike(code, t), code.config)
    one_line(info, "outside [0, 0.05] s")


def test_spike_times_at_the_window_edges_decode(code):
    for t in (0.0, 0.05):
        y = decode(one_spike(code, t), code.config)
        assert y.shape == (800,) and np.all(np.isfinite(y)) and np.any(y)


def test_neuron_ids_outside_the_configuration_are_refused(tmp_path, code):
    n = code.spikes.n_trains
    st = SpikeTrains([0.01], [n], t_start=0.0, t_stop=0.05, n_trains=n + 1)
    p = write_spike_file(tmp_path / "i.npz", st, code.config)
    with pytest.raises(AudioError) as info:
        load_code(p)
    one_line(info, str(p), f"neuron id {n} outside 0..{n - 1}")


KERNELS = np.ones((2, 3))
LENGTHS = np.array([3, 2])


@pytest.mark.parametrize("starts, ks, amps, fragment", [
    ([-2 ** 63], [0], [1.0], "starts at sample -9223372036854775808"),
    ([2 ** 62], [0], [1.0], "outside [-3, 10]"),
    ([11], [0], [1.0], "outside [-3, 10]"),
    ([-4], [1], [1.0], "outside [-3, 10]"),
    ([0], [2], [1.0], "kernel 2, outside 0..1"),
    ([0], [-1], [1.0], "kernel -1"),
    ([0, 1], [0], [1.0, 1.0], "of 2 values"),
    ([0], [0], [1.0, 2.0], "2 amplitudes for 1 atoms"),
    ([[0]], [0], [1.0], "1-D integer array"),
    ([0.5], [0], [1.0], "1-D integer array"),
])
def test_add_atoms_checks_every_index_before_the_compiled_loop(starts, ks, amps, fragment):
    y = np.zeros(10)
    with pytest.raises(AudioError) as info:
        _mp.add_atoms(y, KERNELS, LENGTHS, np.array(starts), np.array(ks), np.array(amps))
    one_line(info, "add_atoms", fragment)
    assert not y.any()
    _mp.add_atoms(y, KERNELS, LENGTHS, np.array([-3, 10, 8]), np.array([0, 0, 1]),
                  np.array([1.0, 1.0, 2.0]))     # the extremes allowed: clipped, in place
    assert y.tolist() == [0.0] * 8 + [2.0, 2.0]


def test_store_rows_and_mp_run_check_their_ranges():
    c = np.zeros((2, 64))
    with pytest.raises(AudioError, match="source offsets"):
        _mp.store_rows(c, np.ones((1, 8)), np.array([0, 5]), 1, 0, 4)
    with pytest.raises(AudioError, match="rows 1..2"):
        _mp.store_rows(c, np.ones((2, 8)), np.array([0, 0]), 1, 0, 4)
    with pytest.raises(AudioError, match="columns 62..65"):
        _mp.store_rows(c, np.ones((1, 8)), np.array([0, 0]), 0, 62, 4)
    d = dictionary_for(make_config(**TINY))
    K = d.n_kernels
    shift = d.peaks.max() - d.peaks
    xc = d.xc

    def run(**kw):
        args = dict(c=np.zeros((K, 64)), n_valid=64, xc=xc, xc_off=d.xc_off, xc_lo=d.xc_lo,
                    xc_len=d.xc_len, levels=np.array([0.5, 1.0]), budget=4, energy0=1.0,
                    r=np.zeros(64 + int(shift.max()) + d.max_length), kernels=d.kernels,
                    lengths=d.lengths, shift=shift, out_p=np.zeros(4, np.int64),
                    out_k=np.zeros(4, np.int64), out_sign=np.zeros(4, np.int64),
                    out_level=np.zeros(4, np.int64), out_energy=np.zeros(4))
        args.update(kw)
        return _mp.mp_run(*args.values())
    assert run()[0] == 0          # nothing to pick in a zero signal: no spike
    for kw, fragment in [({"r": np.zeros(70)}, "outside the 70 samples of r"),
                         ({"xc": xc[:10]}, "outside the 10 values of xc"),
                         ({"n_valid": 65}, "valid columns"),
                         ({"c": np.zeros((K, 60))}, "multiple of 64"),
                         ({"budget": 5}, "at least 5 values"),
                         ({"shift": -shift - 1}, "shifts out of range"),
                         ({"c": np.ones((K, 64)), "n_valid": 32}, "beyond n_valid")]:
        with pytest.raises(AudioError) as info:
            run(**kw)
        one_line(info, "mp_run", fragment)


# ------------------------------------------------------------- tampered configurations
def _without(key):
    return lambda cfg: {k: v for k, v in cfg.items() if k != key}


def _with(**kw):
    return lambda cfg: {**cfg, **kw}


BAD_CONFIGS = [
    ("n_samples", _with(n_samples="abc"), "n_samples = 'abc' is not a number"),
    ("n_samples", _with(n_samples=-100), "n_samples = -100 must satisfy 1 <= n_samples"),
    ("n_samples", _with(n_samples=0), "n_samples = 0"),
    ("n_samples", _with(n_samples=800.5), "n_samples = 800.5 is not an integer"),
    ("n_samples", _with(n_samples=10 ** 30), "must satisfy"),
    ("gain", _with(gain=float("nan")), "gain = nan"),
    ("gain", _with(gain=-1.0), "gain = -1 must be in (0, 1e+100]"),
    ("gain", _with(gain=float("inf")), "gain = inf"),
    ("gain", _with(gain="0.5"), "gain = '0.5' is not a number"),
    ("gain", _with(gain=None), "gain = None is not a number"),
    ("gain", _with(gain=[1.0]), "gain = [1.0] is not a number"),
    ("channels", _with(channels="1e3"), "channels = '1e3' is not a number"),
    ("channels", _with(channels=10 ** 6), "channels = 1000000 must satisfy 1 <= channels <= 4096"),
    ("channels", _with(channels=0), "channels = 0"),
    ("channels", _with(channels=2.5), "channels = 2.5 is not an integer"),
    ("channels", _with(channels=True), "channels = True is not a number"),
    ("sample_rate", _with(sample_rate=0), "sample_rate = 0 must be in [1000, 384000]"),
    ("sample_rate", _with(sample_rate=1e300), "sample_rate = 1e+300"),
    ("sample_rate", _with(sample_rate="16000"), "sample_rate = '16000' is not a number"),
    ("levels", _with(levels=0), "levels = 0"),
    ("levels", _with(levels=10 ** 9), "levels = 1000000000"),
    ("order", _with(order=1), "order = 1"),
    ("bandwidth", _with(bandwidth=0.0), "bandwidth = 0"),
    ("threshold_db", _with(threshold_db=-1.0), "threshold_db = -1"),
    ("level_range_db", _with(level_range_db=float("nan")), "level_range_db = nan"),
    ("rate", _with(rate=0.0), "rate = 0"),
    ("rate", _with(rate=20000.0), "above what the code can carry"),
    ("chunk_s", _with(chunk_s=0.0), "chunk_s = 0"),
    ("fmin", _with(fmin=5000.0), "fmin <= fmax"),
    ("fmax", _with(fmax=8000.0), "fmax = 8000 Hz must be below half the internal rate"),
    ("input_sample_rate", _with(input_sample_rate=-5.0), "input_sample_rate = -5"),
    ("precision", _with(precision="float16"), "precision = 'float16' is not one of"),
    ("format_version", _with(format_version=2), "format_version = 2 is not one"),
    ("format_version", _with(format_version="1"), "format_version = '1' is not one"),
    ("format_version", _without("format_version"), "lacks format_version"),
    ("model", _with(model="other"), "not a spiketrum configuration (model = 'other')"),
    ("model", _without("model"), "not a spiketrum configuration (model = None)"),
    ("gain", _without("gain"), "lacks gain"),
    ("n_samples", _without("n_samples"), "lacks n_samples"),
    ("sample_rate", _without("sample_rate"), "lacks sample_rate"),
    ("whole config", lambda cfg: [1, 2], "must be a JSON object, not list"),
    ("whole config", lambda cfg: "not json {", "is not valid JSON"),
]


@pytest.mark.parametrize("field, mutate, fragment", BAD_CONFIGS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_CONFIGS)])
def test_tampered_configuration_names_the_file_and_the_field(tmp_path, code, field, mutate,
                                                             fragment):
    p = write_spike_file(tmp_path / "c.npz", code.spikes, mutate(dict(code.config)))
    with pytest.raises(NeuromodError) as info:
        load_code(p)
    msg = one_line(info, str(p), fragment)
    if field != "whole config" and "lacks" not in msg:
        assert field in msg


def test_configuration_checked_once_for_library_callers(code):
    with pytest.raises(AudioError) as info:
        decode(code.spikes, {**code.config, "gain": float("nan")})
    one_line(info, "spiketrum configuration: gain = nan")
    with pytest.raises(AudioError, match="is not valid|not JSON"):
        decode(code.spikes, "{bad json")
    assert check_config(json.dumps(code.config))["n_samples"] == 800
    # integral floats (as JSON may write them) are accepted as integers
    assert check_config({**code.config, "channels": 2.0})["channels"] == 2


def test_save_code_refuses_what_load_code_would_refuse(tmp_path, code):
    p = tmp_path / "s.npz"
    with pytest.raises(AudioError, match="gain = nan"):
        save_code(code.spikes, {**code.config, "gain": float("nan")}, p)
    assert not p.exists()


# ----------------------------------------------------------------- output rate
@pytest.mark.parametrize("rate", [1, 0, -16000, 999.0, 384001, 1e300, float("nan"),
                                  float("inf")])
def test_decode_output_rate_outside_the_supported_range(code, rate):
    with pytest.raises(AudioError) as info:
        decode(code.spikes, code.config, sample_rate=rate)
    one_line(info, "output sample rate", "must be in [1000, 384000] Hz")


def test_decode_output_rate_at_the_range_ends(code):
    assert decode(code.spikes, code.config, sample_rate=1000).size == 50
    assert decode(code.spikes, code.config, sample_rate=384000).size == 800 * 24


# ----------------------------------------------------------- resources and options
@pytest.mark.parametrize("kw, fragment", [
    ({"channels": 100000}, "channels = 100000 must satisfy 1 <= channels <= 4096"),
    ({"channels": 0}, "channels = 0"),
    ({"rate": 0.0}, "rate = 0 must be in (0, 384000]"),
    ({"rate": 16001.0}, "above what the code can carry"),
    ({"fmin": 0.0}, "fmin = 0"),
    ({"fmin": -5.0}, "fmin = -5"),
    ({"fmin": 4000.0, "fmax": 3000.0}, "fmin <= fmax"),
    ({"fmax": 1e9}, "fmax = 1e+09"),
    ({"fmax": float("nan")}, "fmax = nan"),
    ({"sample_rate": 500.0}, "sample_rate = 500"),
    ({"levels": 2000}, "levels = 2000"),
    ({"order": 13}, "order = 13"),
    ({"chunk_s": float("inf")}, "chunk_s = inf"),
    ({"rate": "4000"}, "rate = '4000' is not a number"),
])
def test_make_config_bounds_every_option(kw, fragment):
    with pytest.raises(AudioError) as info:
        make_config(**kw)
    one_line(info, fragment)


def test_encode_input_rate_outside_the_supported_range():
    with pytest.raises(AudioError) as info:
        encode(np.ones(100), 1e300)
    one_line(info, "sample rate = 1e+300 Hz must be in [1000, 384000] Hz")


@pytest.mark.parametrize("what", ["dictionary", "encode", "decode n_samples"])
def test_allocations_refused_before_they_happen(code, what):
    if what == "dictionary":     # 4000 kernels: cross-correlations of 16 million pairs
        with pytest.raises(ResourceLimitError) as info:
            encode(np.ones(1600), 16000, channels=4000)
        one_line(info, "encode: 1600 samples at 16000 Hz would allocate")
        with pytest.raises(ResourceLimitError) as info:    # every caller of the dictionary
            dictionary_for(make_config(channels=4000))
        one_line(info, "kernel dictionary of 4000 channels", "would allocate")
    elif what == "encode":       # an hour at 384 kHz (input), 32 kernels at 16 kHz
        with pytest.raises(ResourceLimitError) as info:
            check_resources(make_config(), 3600 * 16000 * 20, "encode")
        one_line(info, "encode would allocate")
    else:
        cfg = {**code.config, "n_samples": 10 ** 12}
        with pytest.raises(ResourceLimitError) as info:
            decode(SpikeTrains([], [], t_start=0.0, t_stop=1.0, n_trains=16), cfg)
        one_line(info, "decode: 1000000000000 samples", "would allocate")


def test_encode_respects_a_small_memory_limit(monkeypatch):
    monkeypatch.setenv("NEUROMOD_MEMORY_LIMIT", "1M")
    with pytest.raises(ResourceLimitError, match="encode: 16000 samples at 16000 Hz"):
        encode(np.random.default_rng(0).standard_normal(16000), 16000, **TINY)


def test_check_signal_still_names_the_signal():
    with pytest.raises(AudioError, match="a.wav: sample 1 is nan"):
        check_signal([0.1, float("nan")], "a.wav")


# ---------------------------------------------------------------- command line
def _cli(argv, capsys):
    from neuromod.cli import main
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("case", ["time -5.8e14", "time 1e300", "n_samples abc", "gain nan",
                                  "channels 1e3", "n_samples 1e12", "channels 1e6"])
def test_cli_decode_of_a_tampered_file(tmp_path, capsys, code, case):
    field, value = case.split()
    spikes, cfg = code.spikes, dict(code.config)
    if field == "time":
        spikes = one_spike(code, float(value))
    else:
        cfg[field] = {"abc": "abc", "nan": float("nan"), "1e3": "1e3", "1e12": 1e12,
                      "1e6": 10 ** 6}[value]
    p = write_spike_file(tmp_path / "t.npz", spikes, cfg)
    out = tmp_path / "o.wav"
    rc, err = _cli(["decode", str(p), "--out", str(out)], capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert str(p) in lines[0]
    assert not out.exists() and not [f for f in os.listdir(tmp_path) if f.endswith(".wav")]


@pytest.mark.parametrize("blob_case", ["truncated", "zero channels"])
def test_cli_encode_of_a_bad_wav(tmp_path, capsys, blob_case):
    p = tmp_path / "in.wav"
    p.write_bytes(GOOD[:44 + 64] if blob_case == "truncated" else wav_bytes(channels=0,
                                                                            block_align=2))
    rc, err = _cli(["encode", str(p), "--out", str(tmp_path / "o.npz")], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and str(p) in err, err
    assert not (tmp_path / "o.npz").exists()


def test_cli_encode_channels_100000(tmp_path, capsys):
    p = tmp_path / "in.wav"
    wavfile.write(p, 16000, (np.sin(np.arange(1600) / 5.0) * 9000).astype(np.int16))
    rc, err = _cli(["encode", str(p), "--channels", "100000", "--out", str(tmp_path / "o.npz")],
                   capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "channels = 100000" in err and not (tmp_path / "o.npz").exists()


# ------------------------------------------------------- baseline encoders' kernels
@pytest.mark.parametrize("kind, thr", [("send_on_delta", 0.0), ("send_on_delta", -1.0),
                                       ("send_on_delta", float("nan")), ("lif", 0.0),
                                       ("lif", float("inf"))])
def test_baseline_thresholds_that_would_never_stop_are_refused(kind, thr):
    from neuromod.auditory.baselines import lif_rate_code, send_on_delta
    y = np.array([[0.0, 0.5, 1.0, 0.2]])
    with pytest.raises(AudioError) as info:
        (send_on_delta if kind == "send_on_delta" else lif_rate_code)(y, thr, 16000)
    one_line(info, kind, "must be > 0")


def test_send_on_delta_spike_count_bounded_before_counting():
    from neuromod.auditory.baselines import send_on_delta
    with pytest.raises(ResourceLimitError) as info:
        send_on_delta(np.array([[0.0, 1.0, -1.0]]), 1e-300, 16000)
    one_line(info, "send_on_delta: about", "would allocate")
    with pytest.raises(AudioError, match="not all finite"):
        send_on_delta(np.array([[0.0, np.nan]]), 0.1, 16000)


def test_filterbank_output_bounded_before_allocating(monkeypatch):
    from neuromod.auditory.gammatone import GammatoneFilterbank
    monkeypatch.setenv("NEUROMOD_MEMORY_LIMIT", "1M")
    with pytest.raises(ResourceLimitError, match="gammatone filterbank: 32 channels x 16000"):
        GammatoneFilterbank(16000, 32, 100, 7000).filter(np.zeros(16000))
