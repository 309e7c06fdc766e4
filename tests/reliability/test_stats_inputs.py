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
@pytest.mark.parametrize("measure", [synchrony.isi_distance, synchrony.spike_distance,
                                     synchrony.spike_sync])
def test_synchrony_of_single_spikes_at_the_window_end_is_finite(trains, t_stop, measure):
    d = measure(SpikeTrains.from_list(trains, t_stop=t_stop))
    assert np.all(np.isfinite(d)) and np.allclose(d, d.T)


@pytest.mark.parametrize("scale", [1e-300, 1e-9, 1e9, 1e300])
@pytest.mark.parametrize("measure", [synchrony.isi_distance, synchrony.spike_distance])
def test_distances_do_not_depend_on_the_time_unit(scale, measure):
    # dimensionless measures: products of intervals must neither underflow nor overflow
    trains = [[0.1, 0.45, 0.5, 0.9], [0.2, 0.6], [1.0], []]
    ref = measure(SpikeTrains.from_list(trains, t_stop=1.0))
    scaled = measure(SpikeTrains.from_list([np.multiply(t, scale) for t in trains],
                                           t_stop=scale))
    assert np.all(np.isfinite(scaled))
    np.testing.assert_allclose(scaled, ref, rtol=1e-9, atol=1e-12)
