"""Conversions to and from Neo and Brian2 objects."""
import numpy as np
import pytest
import quantities as pq

from neuromod.spikes import SpikeTrains


def test_neo_round_trip_keeps_times_window_and_annotations():
    import neo
    st = SpikeTrains.from_list([[0.1, 0.4], [], [0.25]], t_start=0.0, t_stop=0.5,
                               annotations={"unit": [3, 3, 4], "trial": [0, 1, 0]})
    trains = st.to_neo()
    assert all(isinstance(t, neo.SpikeTrain) for t in trains)
    assert trains[0].units == pq.s and float(trains[0].t_stop) == 0.5
    assert trains[2].annotations["unit"] == 4
    back = SpikeTrains.from_neo(trains)
    assert back.equals(st)


def test_neo_units_in_ms_are_converted():
    import neo
    t = neo.SpikeTrain([10.0, 20.0] * pq.ms, t_start=0 * pq.ms, t_stop=50 * pq.ms)
    st = SpikeTrains.from_neo([t])
    np.testing.assert_allclose(st[0], [0.01, 0.02], rtol=1e-15)
    assert st.t_stop == pytest.approx(0.05, rel=1e-15)


def test_neo_block_groups_trials_into_segments():
    st = SpikeTrains.from_list([[0.1], [0.2], [0.3]], t_stop=1.0,
                               annotations={"unit": [0, 0, 1], "trial": [0, 1, 0]})
    block = st.to_neo_block()
    assert [len(s.spiketrains) for s in block.segments] == [2, 1]
    back = SpikeTrains.from_neo(block)
    assert sorted(back.times.tolist()) == [0.1, 0.2, 0.3]
    assert sorted(zip(back.annotations["unit"].tolist(), back.annotations["trial"].tolist())) == \
        [(0, 0), (0, 1), (1, 0)]


def test_brian2_spike_monitor_conversion_matches_spike_trains():
    import brian2 as b2
    b2.prefs.codegen.target = "numpy"
    times = np.array([1.0, 2.0, 2.0, 7.5, 9.0]) * b2.ms
    idx = np.array([2, 0, 3, 2, 0])
    gen = b2.SpikeGeneratorGroup(5, idx, times)
    mon = b2.SpikeMonitor(gen)
    net = b2.Network(gen, mon)
    net.run(10 * b2.ms)
    st = SpikeTrains.from_brian2(mon)
    assert st.n_trains == 5
    assert st.t_stop == pytest.approx(0.010)
    expected = mon.spike_trains()
    for i in range(5):
        np.testing.assert_allclose(st[i], np.asarray(expected[i] / b2.second), rtol=1e-12)
    assert st[1].size == 0 and st[4].size == 0
