"""A small synthetic recording for the model tests: an LN retina with an absolute
refractory period of 2 ms, driven by a temporally correlated Gaussian movie."""
import numpy as np
import pytest

from neuromod.retina.recording import Recording
from neuromod.spikes import SpikeTrains


def _movie(rng, frames, D):
    m = rng.normal(0.0, 1.0, (frames, D))
    for t in range(1, frames):
        m[t] = 0.8 * m[t - 1] + 0.6 * m[t]
    return m


def _spikes(rng, S, W, n_trials, K=10, dt=0.001):
    g = S @ W.T
    drive = np.zeros_like(g)
    drive[2:] = 0.6 * g[1:-1] + 0.4 * g[:-2]
    p = np.repeat(30.0 * np.log1p(np.exp(2 * drive - 1)), K, axis=0) * dt
    T, U = p.shape
    u = rng.uniform(size=(n_trials, T, U))
    spikes = np.zeros((n_trials, T, U), dtype=bool)
    last = np.full((n_trials, U), -100)
    for b in range(T):                       # refractory Bernoulli spikes, 1 ms bins
        f = (u[:, b] < p[b]) & (b - last > 2)
        spikes[:, b] = f
        last[f] = b
    trial, b, unit = np.nonzero(spikes)
    return (b + 0.5) * dt, trial * U + unit


def make_recording(seed=0, train_s=30.0, test_s=3.0, trials=10, U=3, D=12, frame_dt=0.01):
    rng = np.random.default_rng(seed)
    Ftr, Fte = int(round(train_s / frame_dt)), int(round(test_s / frame_dt))
    Str, Ste = _movie(rng, Ftr, D), _movie(rng, Fte, D)
    W = rng.normal(0.0, 1.0, (U, D)) / np.sqrt(D)
    t, i = _spikes(rng, Str, W, 1)
    tt, it = _spikes(rng, Ste, W, trials)
    return Recording(frame_dt, Str.astype(np.float32), Ste.astype(np.float32),
                     SpikeTrains(t, i, 0.0, Ftr * frame_dt, n_trains=U, sort=True),
                     SpikeTrains(tt, it, 0.0, Fte * frame_dt, n_trains=U * trials, sort=True),
                     U, trials, name="toy")


@pytest.fixture(scope="session")
def toy_recording():
    return make_recording()
