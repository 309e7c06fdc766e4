"""Degenerate inputs of the statistics: defined values, never NaN where the
definition gives a number."""
import numpy as np
import pytest

from neuromod.spikes import SpikeTrains
from neuromod.stats import synchrony


@pytest.mark.parametrize("trains, t_stop", [
    ([[0.1, 0.1, 0.1], [0.1]], None),     # duplicates removed: one spike each, at t_stop
    ([[0.5], [0.5]], 0.5),
    ([[0.2], [1.0]], 1.0),
])
def test_isi_distance_of_single_spikes_at_the_window_end_is_finite(trains, t_stop):
    d = synchrony.isi_distance(SpikeTrains.from_list(trains, t_stop=t_stop))
    assert np.all(np.isfinite(d)) and np.allclose(d, d.T) and np.all(np.diag(d) == 0)
