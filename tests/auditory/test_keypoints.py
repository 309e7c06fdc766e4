"""The sparse key-point encoder: key points where the energy peaks in time and frequency,
the neighbourhood's local maxima, and the threshold matched to a mean count."""
import numpy as np
import pytest

from neuromod.auditory.keypoints import (band_frequencies, keypoint_levels, keypoints,
                                         local_maxima, match_threshold, time_frequency)

FS = 16000
#: Two tone bursts: (centre time s, frequency Hz); 1,000 and 3,000 Hz fall on FFT bins
#: 25 and 75 of the 25 ms window (40 Hz apart), the times on frame centres of the 5 ms
#: hop (a burst centred between two frames would give both, an exact plateau).
BURSTS = ((0.1025, 1000.0), (0.3025, 3000.0))


def _bursts(bursts=BURSTS, duration=0.4, width=0.015):
    t = np.arange(int(duration * FS)) / FS
    return sum(np.exp(-0.5 * ((t - t0) / width) ** 2) * np.sin(2 * np.pi * f * t)
               for t0, f in bursts)


@pytest.mark.parametrize("representation", ["spectrogram", "cochleagram"])
def test_two_tone_bursts_give_a_key_point_at_each(representation):
    st = keypoints(_bursts(), FS, threshold_db=-6.0, neighbourhood=(2, 2),
                   representation=representation, hop_s=0.005)
    cf = band_frequencies(FS, representation)
    assert st.n_spikes == 2 and st.n_trains == len(cf)
    order = np.argsort(st.times)
    for (t0, f0), t, band in zip(BURSTS, st.times[order], st.ids[order]):
        # within a hop or two of the burst's centre (the cochlear filters delay a few ms)
        assert abs(t - t0) <= 0.011
        # the nearest band to the tone's frequency
        assert band == int(np.argmin(np.abs(cf - f0)))
    if representation == "spectrogram":
        assert sorted(st.ids.tolist()) == [25, 75]


def test_a_lower_threshold_adds_the_weaker_peaks_only():
    x = _bursts(BURSTS[:1]) + 0.01 * _bursts(BURSTS[1:])   # the second 40 dB weaker
    strong = keypoints(x, FS, threshold_db=-20.0, neighbourhood=(2, 2),
                       representation="spectrogram")
    both = keypoints(x, FS, threshold_db=-45.0, neighbourhood=(2, 2),
                     representation="spectrogram")
    assert strong.ids.tolist() == [25]
    assert sorted(both.ids.tolist()) == [25, 75]


def test_local_maxima_equal_a_direct_search():
    S = np.random.default_rng(0).standard_normal((30, 20))
    for dt, df in ((0, 1), (1, 1), (2, 3)):
        got = set(zip(*(ix.tolist() for ix in local_maxima(S, (dt, df)))))
        want = {(i, k) for i in range(30) for k in range(20)
                if S[i, k] >= S[max(0, i - dt):i + dt + 1, max(0, k - df):k + df + 1].max()}
        assert got == want


def test_time_frequency_is_relative_to_its_maximum_and_gain_invariant():
    x = _bursts()
    S, t = time_frequency(x, FS)
    S2, _ = time_frequency(7.0 * x, FS)
    assert S.max() == 0.0 and S.shape == (len(t), 32)
    np.testing.assert_allclose(S, S2, atol=1e-3)   # (floor: last bits)


def test_match_threshold_gives_the_mean_count_asked_for():
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(int(FS * d)) for d in (0.2, 0.3, 0.5)]
    for target in (5.0, 40.0):
        th, mean = match_threshold(xs, FS, target, representation="spectrogram")
        counts = [keypoints(x, FS, th, representation="spectrogram").n_spikes for x in xs]
        assert mean == target == np.mean(counts)
    every = sum(len(keypoint_levels(x, FS)[0]) for x in xs) / len(xs)
    with pytest.raises(ValueError, match="smaller neighbourhood"):
        match_threshold(xs, FS, every + 1.0)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="representation"):
        keypoints(_bursts(), FS, representation="wavelet")
    with pytest.raises(ValueError, match="neighbourhood"):
        keypoints(_bursts(), FS, neighbourhood=(-1, 1))
