"""Scores against closed forms and scipy's STFT; WAV reading for every PCM/float format."""
import struct

import numpy as np
import pytest
from scipy.io import wavfile
from scipy.signal import stft

from neuromod.auditory.audio import check_signal, read_wav, resample, write_wav, AudioError
from neuromod.auditory.metrics import log_spectrogram_correlation, snr_db, stft_power
from neuromod.errors import FileFormatError


def test_snr_closed_form():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1000)
    noise = rng.standard_normal(1000)
    noise *= np.sqrt(np.sum(x * x) / np.sum(noise * noise)) * 10 ** (-17.0 / 20)
    assert snr_db(x, x + noise) == pytest.approx(17.0, abs=1e-9)
    assert snr_db(x, x) == np.inf
    assert np.isnan(snr_db(np.zeros(3), np.ones(3)))


def test_stft_matches_scipy():
    fs = 16000
    x = np.random.default_rng(1).standard_normal(5000)
    ours = stft_power(x, fs)
    _, _, z = stft(x, fs, window="hann", nperseg=400, noverlap=240, boundary=None,
                   padded=False, detrend=False, return_onesided=True)
    # scipy scales by 1 / sum(window); compare after undoing it
    theirs = (np.abs(z) * np.hanning(401)[:400].sum()) ** 2
    np.testing.assert_allclose(ours, theirs.T, rtol=1e-9, atol=1e-9)
    assert ours.shape == (1 + (5000 - 400) // 160, 201)


def test_log_spectrogram_correlation_properties():
    fs = 16000
    rng = np.random.default_rng(2)
    t = np.arange(8000) / fs
    x = np.sin(2 * np.pi * 440 * t) * np.hanning(8000) + 0.01 * rng.standard_normal(8000)
    assert log_spectrogram_correlation(x, x, fs) == pytest.approx(1.0, abs=1e-12)
    assert log_spectrogram_correlation(x, 7.0 * x, fs) == pytest.approx(1.0, abs=1e-12)
    # independent computation of the definition
    def logspec(v):
        p = stft_power(v, fs)
        return np.log(p + 1e-10 * p.max()).ravel()
    y = x + 0.3 * rng.standard_normal(8000)
    assert log_spectrogram_correlation(x, y, fs) == pytest.approx(
        np.corrcoef(logspec(x), logspec(y))[0, 1], rel=1e-12)
    assert log_spectrogram_correlation(x, y, fs) < 0.99
    # a different sound correlates less than a noisy copy of the same sound
    z = np.sin(2 * np.pi * 3000 * t) * np.hanning(8000) + 0.01 * rng.standard_normal(8000)
    assert log_spectrogram_correlation(x, z, fs) < log_spectrogram_correlation(x, y, fs)
    # silence has a constant log-spectrogram: no correlation is defined
    assert np.isnan(log_spectrogram_correlation(x, np.zeros_like(x), fs))


def _wav_24bit(path, samples, fs):
    """Hand-written 24-bit PCM WAV (scipy cannot write 24-bit)."""
    data = b"".join(int(v).to_bytes(3, "little", signed=True) for v in samples)
    hdr = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, fs, fs * 3, 3, 24)
    with open(path, "wb") as fh:
        fh.write(hdr + fmt + b"data" + struct.pack("<I", len(data)) + data)


def test_read_wav_all_formats(tmp_path):
    v = np.array([0.0, 0.5, -0.5, 0.25])
    cases = {
        "u8.wav": (np.round(v * 128 + 128).astype(np.uint8), "pcm8"),
        "s16.wav": (np.round(v * 32768).astype(np.int16), "pcm16"),
        "s32.wav": (np.round(v * 2 ** 31).astype(np.int32), "pcm32"),
        "f32.wav": (v.astype(np.float32), "float32"),
        "f64.wav": (v.astype(np.float64), "float64"),
    }
    for name, (data, fmt) in cases.items():
        wavfile.write(tmp_path / name, 22050, data)
        x, fs, info = read_wav(tmp_path / name)
        assert fs == 22050 and info["format"] == fmt and info["channels"] == 1
        np.testing.assert_allclose(x, v, atol=1e-12)
    _wav_24bit(tmp_path / "s24.wav", np.round(v * 2 ** 23), 16000)
    x, fs, info = read_wav(tmp_path / "s24.wav")
    np.testing.assert_allclose(x, v, atol=1e-12)
    # stereo -> mono mean
    st = np.stack([np.round(v * 32768), np.zeros(4)], axis=1).astype(np.int16)
    wavfile.write(tmp_path / "st.wav", 8000, st)
    x, fs, info = read_wav(tmp_path / "st.wav")
    assert info["channels"] == 2
    np.testing.assert_allclose(x, v / 2, atol=1e-12)


def test_read_wav_errors(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("this is not audio\n")
    with pytest.raises(FileFormatError, match="bad.wav: not a readable WAV") as info:
        read_wav(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError):
        read_wav(tmp_path / "missing.wav")


def test_write_wav_roundtrip_and_clip(tmp_path):
    x = np.array([0.0, 0.5, -0.25, 2.0, -3.0])
    write_wav(tmp_path / "o.wav", x, 16000)
    fs, y = wavfile.read(tmp_path / "o.wav")
    assert fs == 16000 and y.dtype == np.int16
    np.testing.assert_array_equal(y, [0, 16384, -8192, 32767, -32768])
    assert list(tmp_path.iterdir()) == [tmp_path / "o.wav"]   # no temporary left behind
    import os
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "o.wav").stat().st_mode & 0o777 == 0o666 & ~umask   # not mkstemp's 0600


def test_resample_preserves_a_tone():
    fs_in, fs_out = 44100, 16000
    t = np.arange(fs_in) / fs_in
    y = resample(np.sin(2 * np.pi * 1000 * t), fs_in, fs_out)
    assert y.size == fs_out
    ref = np.sin(2 * np.pi * 1000 * np.arange(fs_out) / fs_out)
    # away from the end transients only the Kaiser FIR's passband ripple (~0.1%) remains
    np.testing.assert_allclose(y[1000:-1000], ref[1000:-1000], atol=2e-3)


def test_check_signal():
    with pytest.raises(AudioError, match="not finite"):
        check_signal([0.0, np.inf])
    with pytest.raises(AudioError, match="1-D"):
        check_signal(np.ones((2, 2)))
