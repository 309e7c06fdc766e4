"""All-pairs cross-correlograms by sorted merges (``cross_correlograms``): every pair's
histogram equals ``cross_correlogram`` of that pair (itself checked against Elephant in
test_correlation.py) for symmetric, asymmetric and full windows, binary counting and the
border correction; given pairs, autocorrelograms, empty trains and spikes on bin edges."""
import numpy as np
import pytest

from neuromod.errors import SpikeDataError
from neuromod.spikes import SpikeTrains
from neuromod.stats.correlation import cross_correlogram, cross_correlograms


def population(seed=0, n=9, T=2.0):
    rng = np.random.default_rng(seed)
    trains = [np.sort(rng.uniform(0, T, rng.poisson(rng.uniform(5, 40) * T)))
              for _ in range(n)]
    trains[2] = np.array([])
    trains[4] = np.sort(np.concatenate((trains[4], [0.5, 0.5, 0.51, T])))   # repeats, edge
    trains[6] = np.round(trains[6], 2)                  # spikes on bin edges
    return SpikeTrains.from_list(trains, t_start=0.0, t_stop=T)


ST = population()


@pytest.mark.parametrize("bin_size, window", [(0.01, 0.1), (0.005, (-0.02, 0.07)),
                                              (0.1, None), (0.01, (0.0, 0.05))])
@pytest.mark.parametrize("binary", [False, True])
def test_every_pair_equals_the_pair_function(bin_size, window, binary):
    counts, lags, pairs = cross_correlograms(ST, bin_size, window, binary=binary)
    n = ST.n_trains
    assert pairs.tolist() == [[i, j] for i in range(n) for j in range(i + 1, n)]
    for p, (i, j) in enumerate(pairs):
        ref, ref_lags = cross_correlogram(ST, int(i), int(j), bin_size, window, binary=binary)
        np.testing.assert_array_equal(counts[p], ref)
        np.testing.assert_array_equal(lags, ref_lags)


def test_given_pairs_autocorrelograms_and_border_correction():
    pairs = [(3, 1), (5, 5), (2, 7), (-1, 0)]
    counts, lags, got = cross_correlograms(ST, 0.02, 0.2, pairs=pairs, border_correction=True)
    assert got.tolist() == [[3, 1], [5, 5], [2, 7], [8, 0]]
    for p, (i, j) in enumerate(got):
        ref, _ = cross_correlogram(ST, int(i), int(j), 0.02, 0.2, border_correction=True)
        np.testing.assert_allclose(counts[p], ref, rtol=1e-15)
    assert counts[2].sum() == 0                      # train 2 is empty
    with pytest.raises(SpikeDataError, match="pairs: i outside"):
        cross_correlograms(ST, 0.02, 0.2, pairs=[(9, 0)])
    with pytest.raises(SpikeDataError, match="exceeds"):
        cross_correlograms(ST, 0.5, 5.0)


def test_a_long_recording_at_a_fine_bin():
    """20 units x 10 min at 5 Hz, 1 ms bins (600,000 bins): each pair's histogram is
    the histogram of the bin differences of all its spike pairs within the window."""
    rng = np.random.default_rng(1)
    T = 600.0
    trains = [np.sort(rng.uniform(0, T, rng.poisson(5 * T))) for _ in range(20)]
    st = SpikeTrains.from_list(trains, t_start=0.0, t_stop=T)
    counts, lags, pairs = cross_correlograms(st, 0.001, 0.05)
    assert counts.shape == (20 * 19 // 2, 101)
    for p in (0, 17, 189):
        i, j = pairs[p]
        ka = np.floor(trains[i] / 0.001).astype(np.int64)
        kb = np.floor(trains[j] / 0.001).astype(np.int64)
        d = (kb[None, :] - ka[:, None]).ravel()          # every spike pair (3,000^2)
        expected = np.bincount(d[(d >= -50) & (d <= 50)] + 50, minlength=101)
        np.testing.assert_array_equal(counts[p], expected)
