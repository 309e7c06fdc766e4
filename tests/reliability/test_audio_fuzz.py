"""Fuzzing the auditory package's file readers: any input -> success with finite output,
or a one-line NeuromodError; never another exception.

(a) :func:`read_wav` (then :func:`check_signal`, as ``neuromod encode`` does) on WAV
    bytes built from a valid header with mutated fields, wrong chunk sizes, extra
    chunks, truncations and flipped bytes.
(b) :func:`load_code` + :func:`decode` on tiny spike files whose configuration has
    fields replaced (numbers of every scale, NaN/inf, strings, null, lists...) or
    removed, and whose spike times are mutated.
Sizes are tiny so that each runs 2,000 cases in seconds.
"""
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neuromod.auditory.audio import check_signal, read_wav
from neuromod.auditory.spikefile import CONFIG_KEY, load_code
from neuromod.auditory.spiketrum import FILE_FIELDS, SETTINGS, decode, encode
from neuromod.errors import NeuromodError
from neuromod.io.npzfile import JSON_EXTRAS_KEY, npz_arrays
from neuromod.spikes import SpikeTrains

N_CASES = 2000


def one_line_error(exc):
    assert isinstance(exc, NeuromodError), f"{type(exc).__name__}: {exc}"
    msg = str(exc)
    assert msg and "\n" not in msg, msg


# ------------------------------------------------------------------ (a) WAV bytes
class Choices:
    """Choices made from a drawn byte string (two draws per case instead of dozens: the
    Hypothesis bookkeeping of many small draws would dominate the run time)."""

    U16 = (0, 1, 2, 3, 8, 16, 24, 32, 64, 65, 255, 0xFFFE, 0xFFFF)
    U32 = (0, 1, 7, 8000, 16000, 44100, 2 ** 31, 0xFFFFFFFF)

    def __init__(self, raw):
        self.raw, self.i = raw, 0

    def byte(self):
        self.i += 1
        return self.raw[(self.i - 1) % len(self.raw)]

    def rare(self):
        """True one time in eight (a zero byte: False, so zeros give a valid file)."""
        return self.byte() % 8 == 7

    def pick(self, options):
        return options[self.byte() % len(options)]

    def u16(self):
        return self.pick(self.U16) if self.byte() & 1 else self.byte() | self.byte() << 8

    def u32(self):
        if self.byte() & 1:
            return self.pick(self.U32)
        return int.from_bytes(bytes(self.byte() for _ in range(4)), "little")


FORMATS = [(1, 8), (1, 16), (1, 24), (1, 32), (1, 64), (1, 12), (3, 32), (3, 64), (3, 16),
           (0xFFFE, 16), (6, 8)]
GUID_TAIL = b"\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
CHUNK_IDS = [b"LIST", b"fact", b"JUNK", b"odd ", b"data", b"ds64"]


def wav_blob(raw, data):
    """A WAV file from a consistent header, then (as the bytes ``raw`` choose): header
    fields replaced, chunk sizes replaced, extra chunks inserted, bytes flipped, the
    file cut. ``data`` is the sample payload."""
    c = Choices(raw)
    tag, bits = c.pick(FORMATS)
    channels = 1 + c.byte() % 3
    fs = c.pick((8000, 16000, 44100))
    width = (bits + 7) // 8
    if not c.rare():                          # usually a whole number of frames
        data = data[:len(data) - len(data) % (channels * width)]
    fields = [tag, channels, fs, fs * channels * width, channels * width, bits]
    for _ in range(c.rare() + c.rare()):
        i = c.byte() % 6
        fields[i] = c.u32() if i in (2, 3) else c.u16()
    fmt = struct.pack("<HHIIHH", *fields)
    if tag == 0xFFFE and not c.rare():
        guid = struct.pack("<I", c.pick((1, 3, 2))) + GUID_TAIL
        fmt += struct.pack("<HHI", c.pick((22, 22, 0, 21)), bits, 4) + guid
    fmt_size = c.u32() if c.rare() else len(fmt)
    chunks = [b"fmt " + struct.pack("<I", fmt_size) + fmt]
    for _ in range(c.rare() + c.rare()):
        body = data[:c.byte() % 10]
        size = c.u32() if c.rare() else len(body)
        chunks.insert(c.byte() % (len(chunks) + 1),
                      c.pick(CHUNK_IDS) + struct.pack("<I", size) + body + b"\0" * (len(body) & 1))
    data_size = c.u32() if c.rare() else len(data)
    chunks.append(b"data" + struct.pack("<I", data_size) + data)
    body = b"WAVE" + b"".join(chunks)
    riff_size = c.u32() if c.rare() else len(body)
    blob = bytearray((c.pick((b"RIFX", b"RF64", b"RIFZ")) if c.rare() else b"RIFF")
                     + struct.pack("<I", riff_size) + body)
    for _ in range(c.rare() + c.rare()):          # up to two flipped bytes anywhere
        blob[c.u32() % len(blob)] = c.byte()
    if c.rare():
        del blob[c.u32() % (len(blob) + 1):]
    return bytes(blob)


@pytest.fixture(scope="module")
def wav_path(tmp_path_factory):
    return tmp_path_factory.mktemp("wavfuzz") / "f.wav"


@settings(max_examples=N_CASES)
@given(raw=st.binary(min_size=64, max_size=64), data=st.binary(max_size=40))
def test_read_wav_on_mutated_bytes(wav_path, raw, data):
    wav_path.write_bytes(wav_blob(raw, data))
    try:
        x, fs, info = read_wav(wav_path)
        x = check_signal(x, str(wav_path))
    except Exception as exc:     # noqa: BLE001 - the property under test
        one_line_error(exc)
        assert str(wav_path) in str(exc)
        return
    assert x.dtype == np.float64 and x.ndim == 1 and np.all(np.isfinite(x))
    assert fs > 0 and info["channels"] >= 1


# ------------------------------------------------------- (b) decoder configuration
TINY = {"channels": 2, "levels": 2, "fmin": 300.0, "fmax": 3000.0, "rate": 2000.0,
        "threshold_db": 30.0}


@pytest.fixture(scope="module")
def tiny_code():
    return encode(np.random.default_rng(5).standard_normal(160), 16000, **TINY)


@pytest.fixture(scope="module")
def npz_path(tmp_path_factory):
    return tmp_path_factory.mktemp("cfgfuzz") / "f.npz"


EDGE_VALUES = [0, 1, 2, -1, 3, 4, 16, 300, 1000, 3000, 8000, 16000, 384000, 10 ** 6, 10 ** 12,
               2 ** 63, 2 ** 70, 10 ** 400, 0.5, 1.5, -0.0, 1e-300, 1e300, float("nan"),
               float("inf"), -float("inf"), True, False, None, "", "abc", "1e3", "16000", "NaN",
               "spiketrum", "float32", [], [1, 2], {"a": 1}]
EDGE_TIMES = [-5.8e14, 1e300, -1e300, 0.0, 0.01, 0.01 + 1e-12, -1e-9, 5e-3, 2.0 ** 63 / 16000]
FIELDS = sorted(set(SETTINGS) | set(FILE_FIELDS) | {"model", "format_version", "precision",
                                                     "neuron_layout", "extra"})
BAD_TEXTS = ["[]", "1", "{", '{"model": 1}', "null", '"spiketrum"', "{" * 5000 + "}" * 5000]


def tampered(raw, cfg, n_trains):
    """``(config, times or None, JSON text or None)`` chosen by the bytes ``raw``: up to
    three fields of ``cfg`` replaced (an edge value, a random integer or any float64
    bit pattern, NaN and infinities included) or removed, the spike times replaced, or
    the whole configuration replaced by other JSON text."""
    c = Choices(raw)
    cfg = dict(cfg)
    for _ in range(c.byte() % 4):
        key, kind = c.pick(FIELDS), c.byte() % 4
        if kind == 0:
            cfg.pop(key, None)
        elif kind == 1:
            cfg[key] = c.pick(EDGE_VALUES)
        elif kind == 2:
            cfg[key] = int.from_bytes(bytes(c.byte() for _ in range(4)), "little", signed=True)
        else:
            cfg[key] = struct.unpack("<d", bytes(c.byte() for _ in range(8)))[0]
    times = None
    if c.rare() or c.rare():
        times = [c.pick(EDGE_TIMES) if c.byte() & 1 else
                 struct.unpack("<d", bytes(c.byte() for _ in range(8)))[0]
                 for _ in range(1 + c.byte() % 3)]
        times = [t for t in times if np.isfinite(t)] or [0.0]
    text = c.pick(BAD_TEXTS) if c.rare() and c.rare() else None
    return cfg, times, text


@pytest.fixture(scope="module")
def base_arrays(tiny_code):
    """The arrays of the tiny spike file, without the per-neuron annotations (fewer
    members to write and read)."""
    s = tiny_code.spikes
    return npz_arrays(SpikeTrains(s.times, s.ids, t_start=s.t_start, t_stop=s.t_stop,
                                  n_trains=s.n_trains))


@settings(max_examples=N_CASES)
@given(raw=st.binary(min_size=48, max_size=48))
def test_decode_on_tampered_configurations(monkeypatch, npz_path, tiny_code, base_arrays, raw):
    monkeypatch.setenv("NEUROMOD_MEMORY_LIMIT", "64M")   # keeps valid-but-huge ones quick
    cfg, times, text = tampered(raw, tiny_code.config, base_arrays["n_trains"])
    arrays = dict(base_arrays)
    if times is not None:
        t = np.sort(np.asarray(times, dtype=np.float64))
        arrays.update(times=t, ids=np.arange(t.size) % int(arrays["n_trains"]),
                      t_start=np.float64(min(0.0, t[0])), t_stop=np.float64(max(0.01, t[-1])))
    arrays[CONFIG_KEY] = np.array(text if text is not None else json.dumps(cfg, allow_nan=True))
    arrays[JSON_EXTRAS_KEY] = np.array([CONFIG_KEY])
    with open(npz_path, "wb") as f:
        np.savez(f, **arrays)
    try:
        spikes, config = load_code(npz_path)
        y = decode(spikes, config)
    except Exception as exc:     # noqa: BLE001 - the property under test
        one_line_error(exc)
        assert str(npz_path) in str(exc) or "decode" in str(exc), str(exc)
        return
    assert y.ndim == 1 and y.size == config["n_samples"] and np.all(np.isfinite(y))
