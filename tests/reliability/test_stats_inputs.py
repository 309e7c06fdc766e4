"""Degenerate inputs of the statistics: defined values, never NaN where the
definition gives a number."""
import warnings

import numpy as np
import pytest

from neuromod.spikes import SpikeTrains
from neuromod.stats import evaluation, synchrony


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


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_psth_correlations_do_not_overflow(scale):
    # rates of 1e301 Hz in bins of 1e-301 s: Pearson's sums of products must not overflow
    trains = [[0.1, 0.5], [0.12, 0.52], [0.3], [0.1, 0.55]]
    ref = SpikeTrains.from_list(trains, t_stop=1.0)
    st = SpikeTrains.from_list([np.multiply(t, scale) for t in trains], t_stop=scale)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        got = evaluation.split_half_noise_ceiling(st, 0.1 * scale)
        r = evaluation.psth_correlation(st, st.subset([1, 0, 3, 2]), 0.1 * scale)
    assert got == pytest.approx(evaluation.split_half_noise_ceiling(ref, 0.1), rel=1e-9)
    assert r == pytest.approx(evaluation.psth_correlation(ref, ref.subset([1, 0, 3, 2]), 0.1),
                              rel=1e-9)
