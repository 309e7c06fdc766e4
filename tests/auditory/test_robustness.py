"""Spike deletion, jitter and insertion, with the closed-form cost of deletion."""
import numpy as np
import pytest

from neuromod.auditory.robustness import add_spikes, delete_spikes, jitter_spikes
from neuromod.auditory.spiketrum import dictionary_for, encode, make_config
from neuromod.auditory.metrics import snr_db
from neuromod.spikes import SpikeTrains


def test_delete_count_and_subset():
    rng = np.random.default_rng(0)
    st = SpikeTrains(np.sort(rng.random(1000)), rng.integers(0, 10, 1000), t_stop=1.0, sort=True)
    d = delete_spikes(st, 0.1, seed=1)
    assert d.n_spikes == 900 and d.n_trains == 10
    before = set(zip(st.ids.tolist(), st.times.tolist()))
    assert set(zip(d.ids.tolist(), d.times.tolist())) <= before
    assert delete_spikes(st, 0.0).equals(st)


def test_jitter_statistics_and_window():
    t = np.full(20000, 0.5)
    st = SpikeTrains(t, np.zeros(20000, dtype=int), t_start=0.0, t_stop=1.0)
    j = jitter_spikes(st, 0.01, seed=2)
    dt = j.times - 0.5
    # mean 0 and std 0.01 s to within 3 standard errors (n = 20000)
    assert abs(dt.mean()) < 3 * 0.01 / np.sqrt(20000)
    assert dt.std() == pytest.approx(0.01, rel=3 * np.sqrt(0.5 / 20000))
    near_edge = SpikeTrains(np.zeros(1000), np.zeros(1000, dtype=int), t_start=0.0, t_stop=1.0)
    jj = jitter_spikes(near_edge, 0.2, seed=3)
    assert jj.times.min() >= 0.0 and jj.times.max() < 1.0


def test_add_spikes_uniform_on_grid():
    st = SpikeTrains.from_list([[0.1, 0.2]] * 4, t_stop=2.0)
    a = add_spikes(st, 2.0, seed=4, grid=1 / 16000)
    assert a.n_spikes == 24 and a.n_trains == 4
    extra = np.setdiff1d(a.times, st.times)
    assert np.allclose(extra * 16000, np.round(extra * 16000))
    assert extra.min() >= 0 and extra.max() < 2.0


def test_deleting_a_fraction_of_orthogonal_atoms_costs_exactly_its_energy():
    """Equal-magnitude atoms with disjoint supports: deleting a fraction p of the spikes
    leaves an error of exactly p of the energy, SNR = -10 log10(p)."""
    cfg = make_config(channels=6, fmin=300.0, fmax=5000.0, threshold_db=40.0, levels=1)
    dic = dictionary_for(cfg)
    gap = dic.max_length + 1
    n = 40
    rng = np.random.default_rng(5)
    x = np.zeros(gap * (n + 1))
    for i in range(n):
        k = int(rng.integers(0, dic.n_kernels))
        s = gap * (i + 1) - dic.peaks[k]
        x[s:s + dic.lengths[k]] += rng.choice([-1.0, 1.0]) * dic.kernels[k, :dic.lengths[k]]
    code = encode(x, 16000, rate=n * 16000 / x.size, channels=6, fmin=300.0, fmax=5000.0,
                  threshold_db=40.0, levels=1)
    assert snr_db(x, code.decode()) > 100
    from neuromod.auditory.spiketrum import decode
    xh = decode(delete_spikes(code.spikes, 0.25, seed=6), code.config)
    assert snr_db(x, xh) == pytest.approx(-10 * np.log10(0.25), abs=1e-9)


def test_jitter_breaks_the_waveform_but_not_the_spectrogram():
    """MODELS.md: 0.1 ms of jitter already collapses waveform SNR, while the
    log-spectrogram correlation barely moves up to milliseconds."""
    from neuromod.auditory.audio import read_wav
    from neuromod.auditory.robustness import measure
    from neuromod.data import path
    x, fs, _ = read_wav(path("speech/digits/test/en-029_m1_7.wav"))
    code = encode(x, fs, rate=4000.0)
    m = measure(code, "jitter", [0.0, 1e-4, 1e-3], seeds=(0, 1))
    snr, corr = m["snr_db"], m["spectrogram_corr"]
    assert snr[0] - snr[1] > 10.0          # 20-25 dB -> a few dB
    assert corr[0] - corr[2] < 0.1         # the spectrogram survives 1 ms
    d = measure(code, "delete", [0.1], seeds=(0, 1, 2))
    # near the orthogonal-atom cap -10 log10(0.1) = 10 dB; overlapping atoms of one
    # sound are not orthogonal, hence 3 dB
    assert d["snr_db"][0] == pytest.approx(10.0, abs=3.0)
