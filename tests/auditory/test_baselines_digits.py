"""Baseline encoders against closed forms; the digit pipeline's features and checkpoints."""
import numpy as np
import pytest

from neuromod.auditory.baselines import encode_baseline, lif_rate_code, match_count, send_on_delta
from neuromod.auditory.digits import add_noise, pool_features, train_classifier, accuracy


def test_send_on_delta_on_a_ramp():
    # an integer ramp 0..10..0 (exact arithmetic): floor(10 / 3) up spikes, as many down
    y = np.concatenate((np.arange(0.0, 11.0), np.arange(9.0, -1.0, -1.0)))[None, :]
    st = send_on_delta(y, 3.0, 1000.0)
    assert st.counts.tolist() == [3, 3]
    # up where the ramp reaches 3, 6, 9 (samples 3, 6, 9); down at 6, 3, 0 (samples 14, 17, 20)
    np.testing.assert_allclose(st.train(0) * 1000.0, [3, 6, 9])
    np.testing.assert_allclose(st.train(1) * 1000.0, [14, 17, 20])


def test_lif_constant_drive_closed_form():
    fs, tau, drive, theta = 16000.0, 0.005, 1.0, 0.6
    a = np.exp(-1.0 / (fs * tau))
    # v after n steps from reset: drive (1 - a**n); first n with v >= theta
    n_star = int(np.ceil(np.log(1 - theta / drive) / np.log(a)))
    st = lif_rate_code(np.full((1, 2000), drive), theta, fs, tau)
    expect = np.arange(n_star - 1, 2000, n_star)
    np.testing.assert_array_equal(np.round(st.train(0) * fs).astype(int), expect)
    # negative drive is rectified away
    assert lif_rate_code(-np.ones((1, 100)), 0.1, fs).n_spikes == 0


def test_match_count_hits_the_target():
    def count(th):   # a monotone step function
        return int(1000 / th)
    th, c = match_count(count, 250, 0.1, 100.0)
    assert c == 250 and 1000 / 251 < th <= 4.0


@pytest.mark.parametrize("kind", ["send_on_delta", "lif"])
def test_baselines_match_the_spike_count(kind):
    rng = np.random.default_rng(0)
    t = np.arange(4000) / 16000
    x = np.sin(2 * np.pi * 500 * t) * np.hanning(4000) + 0.05 * rng.standard_normal(4000)
    for n in (40, 300):
        st, info = encode_baseline(kind, x, 16000, n, channels=8)
        assert abs(st.n_spikes - n) <= max(1, 0.01 * n)
        assert st.n_trains == (16 if kind == "send_on_delta" else 8)


def test_add_noise_snr():
    x = np.random.default_rng(1).standard_normal(50000)
    y = add_noise(x, 0.0, seed=2)
    # noise power equals signal power to within sampling error (~1%)
    assert np.mean((y - x) ** 2) == pytest.approx(np.mean(x ** 2), rel=0.03)
    assert np.array_equal(y, add_noise(x, 0.0, seed=2))


def test_pool_features_counts_every_spike():
    from neuromod.spikes import SpikeTrains
    rng = np.random.default_rng(3)
    st = SpikeTrains(rng.random(500) * 0.5, rng.integers(0, 64, 500), t_start=0.0, t_stop=0.5,
                     n_trains=64, sort=True)
    X = pool_features([st], "send_on_delta", 16, channels=32, n_bins=20, group=2)
    assert X.shape == (1, 16, 20) and X.sum() == 500
    # channel 2k and 2k+1 of send-on-delta are channel k; groups of 2 channels
    np.testing.assert_array_equal(X[0].sum(1), np.bincount(st.ids // 4, minlength=16))


def test_training_checkpoints_and_resumes(tmp_path):
    rng = np.random.default_rng(4)
    y = np.arange(40) % 10
    X = rng.poisson(0.3, (40, 4, 6)).astype(np.float32)
    X[np.arange(40), y % 4, y % 6] += 4.0     # learnable pattern
    straight = train_classifier(X, y, epochs=6, seed=5, n_hidden=16, batch=16)
    ck = tmp_path / "ck.pt"
    train_classifier(X, y, epochs=3, seed=5, n_hidden=16, batch=16, checkpoint=str(ck))
    resumed = train_classifier(X, y, epochs=6, seed=5, n_hidden=16, batch=16, checkpoint=str(ck))
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy())
    assert accuracy(resumed, X, y) > 0.5
