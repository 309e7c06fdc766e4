"""The SpikeTrains container: invariants, validation errors, slicing and binning."""
import numpy as np
import pytest
import quantities as pq

from neuromod.errors import SpikeDataError, UnitError
from neuromod.spikes import SpikeTrains, as_spike_trains


def random_trains(rng, n=20, rate=30.0, t_stop=2.0):
    return [np.sort(rng.uniform(0, t_stop, rng.poisson(rate * t_stop))) for _ in range(n)]


def test_flat_layout_is_grouped_by_train_and_sorted_within():
    st = SpikeTrains([0.2, 0.1, 0.3, 0.5], [1, 0, 1, 0], t_stop=1.0)
    assert st.ids.tolist() == [0, 0, 1, 1]
    assert st.times.tolist() == [0.1, 0.5, 0.2, 0.3]
    assert st.offsets.tolist() == [0, 2, 4]


def test_unsorted_within_train_is_an_error_naming_the_train_and_sort_fixes_it():
    with pytest.raises(SpikeDataError, match=r"train 1: spike times not sorted"):
        SpikeTrains([0.1, 0.3, 0.2], [0, 1, 1], t_stop=1.0)
    st = SpikeTrains([0.1, 0.3, 0.2], [0, 1, 1], t_stop=1.0, sort=True)
    assert st[1].tolist() == [0.2, 0.3]


@pytest.mark.parametrize("times, ids, kw, msg", [
    ([0.1, np.nan], [0, 1], {}, r"train 1: spike time nan is not finite"),
    ([0.1, np.inf], [0, 0], {}, r"train 0: .* not finite"),
    ([0.1, 1.5], [0, 1], {"t_stop": 1.0}, r"train 1: spike at 1.5 s outside the window \[0, 1\] s"),
    ([0.1], [0], {"t_start": 1.0, "t_stop": 1.0}, r"t_stop .* must be greater than t_start"),
    ([0.1], [3], {"n_trains": 2}, r"train id 3 outside 0..1"),
    ([0.1], [-1], {}, r"train id -1"),
    ([0.1], [0.5], {}, r"ids must be integers"),
    ([], [], {}, r"cannot infer the window"),
])
def test_invalid_input_raises_one_line_error(times, ids, kw, msg):
    with pytest.raises(SpikeDataError, match=msg) as info:
        SpikeTrains(times, ids, **kw)
    assert "\n" not in str(info.value)


def test_default_window_and_empty_trains():
    st = SpikeTrains.from_list([[0.2, 0.7], [], [0.4]])
    assert (st.t_start, st.t_stop) == (0.0, 0.7)
    assert st.counts.tolist() == [2, 0, 1]
    assert st[1].size == 0
    assert st.annotations["unit"].tolist() == [0, 1, 2]
    assert st.annotations["trial"].tolist() == [0, 0, 0]


def test_units_at_the_boundary():
    a = SpikeTrains.from_list([np.array([100.0, 250.0]) * pq.ms], t_stop=1 * pq.s)
    b = SpikeTrains.from_list([[0.1, 0.25]], t_stop=1.0)
    assert a.equals(b, atol=1e-15)
    with pytest.raises(UnitError):
        SpikeTrains.from_list([[0.1]], t_stop=1 * pq.mV)


def test_brian2_quantities_at_the_boundary():
    import brian2
    st = SpikeTrains.from_list([np.array([5.0, 10.0]) * brian2.ms], t_stop=20 * brian2.ms)
    np.testing.assert_allclose(st[0], [0.005, 0.010], rtol=1e-15)
    assert st.t_stop == pytest.approx(0.02, rel=1e-15)


def test_subset_select_and_indexing_match_the_list_view():
    rng = np.random.default_rng(0)
    trains = random_trains(rng)
    ann = {"unit": np.arange(20) % 5, "trial": np.arange(20) // 5}
    st = SpikeTrains.from_list(trains, t_stop=2.0, annotations=ann)
    idx = [7, 3, 3, 19]
    sub = st.subset(idx)
    for k, i in enumerate(idx):
        np.testing.assert_array_equal(sub[k], trains[i])
    assert sub.annotations["unit"].tolist() == [ann["unit"][i] for i in idx]
    sel = st.select(unit=2)
    assert sel.n_trains == 4
    for k, i in enumerate(np.flatnonzero(ann["unit"] == 2)):
        np.testing.assert_array_equal(sel[k], trains[i])
    assert st[-1].tolist() == trains[-1].tolist()
    assert st[2:5].n_trains == 3
    mask = np.zeros(20, bool)
    mask[[1, 4]] = True
    assert st[mask].counts.tolist() == [len(trains[1]), len(trains[4])]
    with pytest.raises(KeyError, match="no annotation 'colour'"):
        st.select(colour=1)


def test_time_slice_keeps_trains_and_sets_window():
    st = SpikeTrains.from_list([[0.1, 0.5, 0.9], [0.95]], t_stop=1.0)
    sl = st.time_slice(0.2, 0.9)
    assert sl.n_trains == 2 and (sl.t_start, sl.t_stop) == (0.2, 0.9)
    assert sl[0].tolist() == [0.5, 0.9] and sl[1].size == 0


def test_binning_matches_numpy_histogram_and_round_trips():
    rng = np.random.default_rng(1)
    trains = random_trains(rng, n=7, t_stop=1.0)
    trains[2] = np.array([0.0, 1.0])          # spikes exactly at both window edges
    st = SpikeTrains.from_list(trains, t_stop=1.0)
    counts = st.bin(0.05)
    assert counts.shape == (7, 20)
    edges = np.linspace(0, 1, 21)
    for i, t in enumerate(trains):
        np.testing.assert_array_equal(counts[i], np.histogram(t, edges)[0])
    assert counts.sum() == st.n_spikes        # nothing dropped
    back = SpikeTrains.from_binned(counts, 0.05)
    np.testing.assert_array_equal(back.bin(0.05), counts)
    t = st.to_torch(0.05)
    assert tuple(t.shape) == (7, 20) and float(t.sum()) == st.n_spikes


def test_binning_with_a_partial_last_bin_drops_nothing():
    st = SpikeTrains.from_list([[0.01, 0.26, 0.3]], t_stop=0.3)
    assert st.bin(0.1).tolist() == [[1, 0, 2]]
    st = SpikeTrains.from_list([[0.01, 0.29]], t_stop=0.29)
    assert st.bin(0.1).tolist() == [[1, 0, 1]]


def test_concatenate_and_as_spike_trains():
    a = SpikeTrains.from_list([[0.1], []], t_stop=1.0)
    b = SpikeTrains.from_list([[0.2, 0.3]], t_stop=1.0)
    c = SpikeTrains.concatenate([a, b])
    assert c.counts.tolist() == [1, 0, 2] and c[2].tolist() == [0.2, 0.3]
    assert as_spike_trains(c) is c
    assert as_spike_trains([[0.1, 0.2]], t_stop=1.0).n_spikes == 2


def test_views_are_read_only():
    st = SpikeTrains.from_list([[0.1, 0.2]], t_stop=1.0)
    with pytest.raises(ValueError):
        st[0][0] = 5.0
