"""The simulated retina: seeded and prefix-consistent, a naturalistic (correlated)
movie, centre-surround ON/OFF cells, contrast gain control (not an LN model), and a
spike generator with refractoriness and bursts."""
import numpy as np
import pytest

from neuromod.errors import ParameterError
from neuromod.retina.synthetic import (
    SimulatedRetina, naturalistic_movie, simulated_retina, uint8_to_contrast)


@pytest.fixture(scope="module")
def rec():
    return simulated_retina(n_units=4, train_seconds=20.0, test_seconds=4.0,
                            n_test_trials=20, seed=3)


@pytest.fixture(scope="module")
def retina():
    return SimulatedRetina(n_units=4, seed=3)


def test_seeded(rec):
    again = simulated_retina(n_units=4, train_seconds=20.0, test_seconds=4.0,
                             n_test_trials=20, seed=3)
    assert again.train_spikes.equals(rec.train_spikes)
    assert again.test_spikes.equals(rec.test_spikes)
    np.testing.assert_array_equal(again.train_stimulus, rec.train_stimulus)
    other = simulated_retina(n_units=4, train_seconds=20.0, test_seconds=4.0,
                             n_test_trials=20, seed=4)
    assert not np.array_equal(other.train_stimulus, rec.train_stimulus)


def test_a_shorter_run_is_a_prefix(rec):
    short = simulated_retina(n_units=4, train_seconds=7.3, test_seconds=4.0,
                             n_test_trials=2, seed=3)
    keep = rec.train_spikes.times < short.train_duration
    np.testing.assert_array_equal(short.train_spikes.times, rec.train_spikes.times[keep])
    np.testing.assert_array_equal(short.train_spikes.ids, rec.train_spikes.ids[keep])
    keep = rec.test_spikes.ids < 2 * 4
    np.testing.assert_array_equal(short.test_spikes.times, rec.test_spikes.times[keep])


def test_shapes_and_names(rec):
    assert rec.train_stimulus.shape == (2000, 8, 8) and rec.test_stimulus.shape == (400, 8, 8)
    assert rec.train_stimulus.dtype == np.float32
    assert rec.unit_names == ("ON0", "OFF1", "ON2", "OFF3")
    assert rec.test_spikes.annotations["trial"].tolist() == np.repeat(np.arange(20), 4).tolist()
    # frames are 8-bit luminance as contrast
    v = rec.train_stimulus * 128 + 128
    np.testing.assert_array_equal(v, np.rint(v))
    np.testing.assert_array_equal(uint8_to_contrast(v.astype(np.uint8)), rec.train_stimulus)


def test_movie_is_correlated_in_space_and_time():
    """Not white noise: neighbouring pixels and successive frames are correlated; the
    spatial spectrum falls with frequency."""
    m = uint8_to_contrast(naturalistic_movie(3000, 8, 0.01,
                                             np.random.SeedSequence(1))).astype(np.float64)
    m -= m.mean()
    space = np.corrcoef(m[:, :, :-1].ravel(), m[:, :, 1:].ravel())[0, 1]
    time = np.corrcoef(m[:-1].ravel(), m[1:].ravel())[0, 1]
    assert space > 0.5 and time > 0.8
    power = np.abs(np.fft.fft2(m)) ** 2
    assert power[:, 0, 1].mean() > 3 * power[:, 0, 4].mean()
    # contrast changes between scenes (what the gain control adapts to)
    rms = m.reshape(30, 100, -1).std(axis=(1, 2))
    assert rms.max() > 1.5 * rms.min()


def test_receptive_fields_are_centre_surround_on_and_off(retina):
    S = retina.size
    for u in range(retina.n_units):
        k = retina.spatial[u].reshape(S, S)
        r, c = np.round(retina.position[u]).astype(int)
        centre = k[r, c]
        assert np.sign(centre) == retina.polarity[u]
        assert np.sign(k.min() if centre > 0 else k.max()) == -np.sign(centre)   # surround
    f = retina.temporal
    assert np.all(f.max(axis=1) > 0) and np.all(f.min(axis=1) < 0)             # biphasic
    assert np.all(np.abs(f.sum(axis=1)) < 0.6 * np.abs(f).sum(axis=1))      # mostly transient


def test_contrast_gain_control(retina):
    """Doubling the contrast doubles the linear drive but not the gain-controlled one;
    the gain recovers with its own time constant (150 ms)."""
    m = uint8_to_contrast(retina.movie(10.0, "calibration")).astype(np.float64)
    x1, c1 = retina.drive(m)
    x2, c2 = retina.drive(2 * m)
    np.testing.assert_allclose(x2, 2 * x1, rtol=1e-9, atol=1e-12)
    y1, y2 = retina._gain(x1, c1), retina._gain(x2, c2)
    ratio = y2.std(axis=0) / y1.std(axis=0)
    assert np.all(ratio < 1.7) and np.all(ratio > 1.0)
    # a contrast step: energy rises and decays with time constant ~0.15 s
    step = np.zeros((200, 8, 8))
    step[50:100] = 0.5 * np.sign(np.random.default_rng(0).normal(size=(50, 8, 8)))
    _, c = retina.drive(step)
    after = c[100 + 5:, 0]                            # after the filters' tail
    tau = -0.01 / np.log(after[20] / after[19])
    assert tau == pytest.approx(0.15, rel=0.05)


def test_refractory_and_bursting_spikes(rec):
    from neuromod.stats import isis
    d = np.concatenate([isis(rec.train_spikes)[0], isis(rec.test_spikes)[0]])
    assert d.min() >= 0.004 - 1e-12              # 3 ms absolute refractory period
    assert 0.1 < np.mean(d < 0.008) < 0.6        # bursts: after-depolarisation
    r = rec.mean_rates("train")
    assert np.all((r > 3) & (r < 40))


def test_repeats_differ_by_spike_noise_only(rec):
    """Sub-Poisson, reliable but not identical repeats."""
    from neuromod.stats import split_half_noise_ceiling, windowed_fano_factor
    y = rec.test_counts(0.001)
    assert not np.array_equal(y[0], y[1])
    for u in range(rec.n_units):
        s = rec.test_spikes.select(unit=u)
        assert windowed_fano_factor(s, 0.05) < 1.0
        assert split_half_noise_ceiling(s, 0.02) > 0.8


def test_spike_generator_rule(retina):
    """A constant drive: no spike within 3 ms of another; a Poisson-like rate at low
    drive (the refractory and history terms matter little)."""
    rate = np.full((20000, 4), 5.0)
    spk = retina.spikes(rate, 2, "test_noise")
    assert spk.shape == (2, 20000, 4)
    rate_hz = spk.mean() / 0.001
    assert rate_hz == pytest.approx(5.0, rel=0.2)
    high = retina.spikes(np.full((5000, 4), 2000.0), 1, "test_noise")[0]
    t, u = np.nonzero(high)
    for k in range(4):
        assert np.diff(t[u == k]).min() >= 4


@pytest.mark.parametrize("kw", [dict(frame_dt=0.0105), dict(frame_dt=0.0), dict(n_units=0),
                                dict(size=2)])
def test_bad_parameters(kw):
    with pytest.raises(ParameterError):
        simulated_retina(train_seconds=1.0, test_seconds=1.0, n_test_trials=2, **kw)
    with pytest.raises(ParameterError):
        simulated_retina(train_seconds=0.001, test_seconds=1.0)
