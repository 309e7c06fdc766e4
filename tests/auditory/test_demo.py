"""The auditory demo: encodes and decodes the embedded sentence, files and figures."""
import numpy as np
import pytest
from scipy.io import wavfile


def test_demo_run_writes_outputs_and_figures(tmp_path):
    from neuromod.auditory.demo import run
    from neuromod.auditory.spikefile import load_code
    from neuromod.auditory.spiketrum import decode
    from neuromod.auditory.metrics import snr_db
    from neuromod.auditory.audio import read_wav
    from neuromod.data import path
    figs = run(tmp_path, rate=2000.0, plot=False)
    assert figs["n_spikes"] == round(2000.0 * figs["duration_s"])
    spikes, cfg = load_code(figs["files"][0])
    fs, y = wavfile.read(figs["files"][1])
    assert fs == 16000 and y.size == cfg["n_samples"]
    x = read_wav(path("speech/demo.wav"))[0]
    # the figures are reproducible from the files alone (16-bit rounding aside)
    assert snr_db(x, decode(spikes, cfg)) == pytest.approx(figs["snr_db"], abs=1e-9)
    assert snr_db(x, y / 32768.0) == pytest.approx(figs["snr_db"], abs=0.05)
    assert figs["snr_db"] > 15 and 0.5 < figs["spectrogram_corr"] <= 1
