"""The CNN baseline: history windows, fitting, Poisson sampling, saving."""
import numpy as np
import torch

import neuromod
from neuromod.retina.cnn import CNN


def test_history_windows_are_causal_and_zero_padded():
    m = CNN(history=3)
    S = torch.arange(5, dtype=torch.float32).reshape(5, 1, 1, 1).expand(5, 1, 1, 1)[:, 0]
    w = m._windows(m._padded(S), torch.tensor([0, 2, 4]))
    assert w[:, :, 0, 0].tolist() == [[0, 0, 0], [0, 1, 2], [2, 3, 4]]


def test_fit_sample_and_save(toy_recording, tmp_path):
    rec = toy_recording
    m = CNN(epochs=15, channels=4).fit(rec, seed=0)
    assert m.score(rec) > 0
    lam = m.intensity(rec.test_stimulus)[0]
    rng_counts = m.sample(rec.test_stimulus, 200, seed=1)
    # Poisson sampling: the mean count over many trials matches the intensity
    assert np.abs(rng_counts.mean(0).sum(0) - lam.sum(0)).max() < 0.05 * lam.sum(0).max()
    m.save(tmp_path / "cnn.npz")
    back = neuromod.load(tmp_path / "cnn.npz")
    np.testing.assert_array_equal(back.frame_rates(rec.test_stimulus),
                                  m.frame_rates(rec.test_stimulus))
