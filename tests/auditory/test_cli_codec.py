"""``neuromod encode`` / ``neuromod decode`` end to end, and every bad input as one line, exit 2."""
import json
import struct

import numpy as np
import pytest
from scipy.io import wavfile

from neuromod.cli import main


def tone(fs, seconds=0.3, f=440.0):
    t = np.arange(int(fs * seconds)) / fs
    return 0.5 * np.sin(2 * np.pi * f * t) * np.hanning(t.size) + 0.2 * np.sin(2 * np.pi * 1500 * t)


def run(argv, capsys):
    try:
        rc = main(argv)
    except SystemExit as exc:     # argparse usage errors exit 2 from the parser
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def test_encode_decode_roundtrip_json(tmp_path, capsys):
    wav = tmp_path / "a.wav"
    x = tone(44100)
    wavfile.write(wav, 44100, np.stack([x, x], axis=1).astype(np.float32))   # stereo float
    rc, out, err = run(["encode", str(wav), "--rate", "3000", "--channels", "16", "--json",
                        "--plot", str(tmp_path / "g.png")], capsys)
    assert rc == 0, err
    res = json.loads(out)
    assert set(res) == {"duration_s", "sample_rate", "internal_rate", "channels", "n_spikes",
                        "rate_hz", "snr_db", "spectrogram_corr", "wall_s"}
    assert res["sample_rate"] == 44100 and res["internal_rate"] == 16000 and res["channels"] == 16
    assert res["n_spikes"] == round(3000 * res["duration_s"])
    assert abs(res["rate_hz"] / 3000 - 1) <= 0.01
    assert res["snr_db"] > 10 and (tmp_path / "g.png").stat().st_size > 1000
    spikes = tmp_path / "a.spikes.npz"
    assert spikes.exists()
    # the spike file is an ordinary spike file for the rest of neuromod
    from neuromod import io
    st = io.read(spikes)
    assert st.n_spikes == res["n_spikes"] and st.n_trains == 16 * 2 * 16
    rc, out, err = run(["decode", str(spikes), "--out", str(tmp_path / "b.wav"), "--json"], capsys)
    assert rc == 0, err
    fs, y = wavfile.read(tmp_path / "b.wav")
    assert fs == 16000 and y.dtype == np.int16
    # the decoded file reproduces the reported SNR (up to 16-bit rounding)
    from neuromod.auditory.audio import read_wav, resample
    from neuromod.auditory.metrics import snr_db
    xin = resample(read_wav(wav)[0], 44100, 16000)
    assert snr_db(xin, y / 32768.0) == pytest.approx(res["snr_db"], abs=0.1)
    rc, out, err = run(["decode", str(spikes), "--out", str(tmp_path / "c.wav"),
                        "--sample-rate", "8000"], capsys)
    assert rc == 0 and wavfile.read(tmp_path / "c.wav")[0] == 8000
    assert "c.wav" in out


def _wav_24bit(path, samples, fs):
    data = b"".join(int(v).to_bytes(3, "little", signed=True) for v in samples)
    hdr = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, fs, fs * 3, 3, 24)
    path.write_bytes(hdr + fmt + b"data" + struct.pack("<I", len(data)) + data)


@pytest.mark.parametrize("kind", ["u8", "s16", "s24", "s32", "f64", "clipped"])
def test_every_pcm_format_encodes(tmp_path, capsys, kind):
    fs = 8000
    x = tone(fs, 0.2)
    wav = tmp_path / f"{kind}.wav"
    if kind == "u8":
        wavfile.write(wav, fs, np.round(x * 127 + 128).astype(np.uint8))
    elif kind == "s16":
        wavfile.write(wav, fs, np.round(x * 32767).astype(np.int16))
    elif kind == "s24":
        _wav_24bit(wav, np.round(x * (2 ** 23 - 1)), fs)
    elif kind == "s32":
        wavfile.write(wav, fs, np.round(x * (2 ** 31 - 1)).astype(np.int32))
    elif kind == "f64":
        wavfile.write(wav, fs, x)
    else:
        wavfile.write(wav, fs, np.round(np.clip(4 * x, -1, 1) * 32767).astype(np.int16))
    rc, out, err = run(["encode", str(wav), "--rate", "1000", "--channels", "8", "--json",
                        "--out", str(tmp_path / "o.npz")], capsys)
    assert rc == 0, err
    res = json.loads(out)
    assert res["sample_rate"] == fs and res["n_spikes"] == 200


def _expect_error(argv, capsys, *fragments):
    rc, out, err = run(argv, capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for f in fragments:
        assert f in lines[0], lines[0]
    assert "Traceback" not in err


def test_bad_inputs(tmp_path, capsys):
    notwav = tmp_path / "n.wav"
    notwav.write_text("hello\n")
    _expect_error(["encode", str(notwav)], capsys, "n.wav", "not a readable WAV")
    _expect_error(["encode", str(tmp_path / "missing.wav")], capsys, "missing.wav")
    empty = tmp_path / "e.wav"
    wavfile.write(empty, 16000, np.zeros(0, dtype=np.int16))
    _expect_error(["encode", str(empty)], capsys, "e.wav", "no samples")
    zero = tmp_path / "z.wav"
    wavfile.write(zero, 16000, np.zeros(800, dtype=np.int16))
    _expect_error(["encode", str(zero)], capsys, "z.wav", "all samples are zero")
    nan = tmp_path / "nan.wav"
    y = tone(16000, 0.1).astype(np.float32)
    y[7] = np.nan
    wavfile.write(nan, 16000, y)
    _expect_error(["encode", str(nan)], capsys, "nan.wav", "sample 7")
    ok = tmp_path / "ok.wav"
    wavfile.write(ok, 16000, np.round(tone(16000, 0.1) * 32767).astype(np.int16))
    _expect_error(["encode", str(ok), "--rate", "0"], capsys, "--rate")
    _expect_error(["encode", str(ok), "--rate", "20000"], capsys, "above what the code can carry")
    _expect_error(["encode", str(ok), "--fmax", "9000"], capsys, "fmax")
    # a pure single-atom sound is exhausted long before 16,000 spikes/s
    from neuromod.auditory.spiketrum import dictionary_for, make_config
    d = dictionary_for(make_config())
    atom = np.zeros(1600)
    atom[100:100 + d.lengths[20]] = 0.5 * d.kernels[20, :d.lengths[20]] / np.abs(d.kernels[20]).max()
    one = tmp_path / "one.wav"
    wavfile.write(one, 16000, atom)
    _expect_error(["encode", str(one), "--rate", "16000"], capsys, "one.wav", "lower --rate")
    # decode: not a spiketrum file
    from neuromod import io
    from neuromod.spikes import SpikeTrains
    plain = tmp_path / "plain.npz"
    io.write(SpikeTrains.from_list([[0.1]], t_stop=1.0), plain)
    _expect_error(["decode", str(plain), "--out", str(tmp_path / "x.wav")], capsys,
                  "plain.npz", "no spiketrum encoder configuration")
    _expect_error(["decode", str(notwav), "--out", str(tmp_path / "x.wav")], capsys, "n.wav")
