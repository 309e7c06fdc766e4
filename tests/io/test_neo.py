"""NIX and NWB through Neo: files written by Neo itself (other layouts, other units)
read correctly, files we write are what Neo and the NWB schema validator expect."""
import re
import warnings

import numpy as np
import pytest
import quantities as pq

from neuromod.errors import FileFormatError
from neuromod.io import read, write
from neuromod.spikes import SpikeTrains

neo = pytest.importorskip("neo")


def test_nix_written_by_neo_with_segments_and_milliseconds(tmp_path):
    from neo.io import NixIO
    block = neo.Block()
    want = []
    for k, stop in enumerate((1000.0, 2000.0)):
        seg = neo.Segment(index=None)
        block.segments.append(seg)
        for unit, times in ((5, [1.5, 250.25]), (6, [999.0 + k * 1000.0])):
            tr = neo.SpikeTrain(times, units=pq.ms, t_start=0 * pq.ms, t_stop=stop * pq.ms,
                                unit=unit, channels=[1, 2])
            seg.spiketrains.append(tr)
            want.append(tr)
    path = tmp_path / "neo.nix"
    with NixIO(str(path), mode="ow") as io:
        io.write_block(block)
    st = read(path)
    assert st.n_trains == 4
    for got, tr in zip(st.to_list(), want):       # oracle: quantities' own rescaling
        assert np.array_equal(got, tr.rescale(pq.s).magnitude)
    assert st.annotations["unit"].tolist() == [5, 6, 5, 6]
    assert st.annotations["trial"].tolist() == [0, 0, 1, 1]    # from the segments
    assert "channels" not in st.annotations                     # not a scalar per train
    assert (st.t_start, st.t_stop) == (0.0, 2.0)               # union of the windows


def test_our_nix_file_as_neo_sees_it(tmp_path):
    from neo.io import NixIO
    st = SpikeTrains.from_list([[0.1, 0.2], [0.3]], t_start=0.0, t_stop=0.5,
                               annotations={"unit": [8, 9], "label": ["a", "b"]})
    path = tmp_path / "ours.nix"
    write(st, path)
    with NixIO(str(path), mode="ro") as io:
        trains = io.read_block().segments[0].spiketrains
    assert [t.annotations["unit"] for t in trains] == [8, 9]
    assert [t.annotations["label"] for t in trains] == ["a", "b"]
    assert all(float(t.t_stop.rescale("s")) == 0.5 for t in trains)
    assert np.array_equal(trains[0].rescale("s").magnitude, [0.1, 0.2])


def test_our_nwb_file_validates_and_neo_reads_the_same_spikes(tmp_path):
    import pynwb
    from neo.io import NWBIO
    st = SpikeTrains.from_list([[0.125, 0.5], [], [0.75]], t_start=0.0, t_stop=1.0,
                               annotations={"unit": [1, 2, 3], "trial": [0, 0, 1]})
    path = tmp_path / "ours.nwb"
    write(st, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(path), "r") as io:          # the NWB schema validator
            assert list(pynwb.validate(io=io, namespace="core")) == []
        with pynwb.NWBHDF5IO(str(path), "r") as io:
            units = io.read().units
            assert units.get_unit_obs_intervals(2).tolist() == [[0.0, 1.0]]
            assert units.get_unit_spike_times(0).tolist() == [0.125, 0.5]
        io = NWBIO(str(path), mode="r")
        trains = io.read_block().segments[0].spiketrains
        io.close()
    assert [t.magnitude.tolist() for t in trains] == [[0.125, 0.5], [], [0.75]]
    assert [t.name for t in trains][0] == 'neuromod:{"unit": 1, "trial": 0}'


def test_hdf5_that_is_not_nix_or_nwb(tmp_path):
    import h5py
    for name in ("plain.nix", "plain.nwb"):
        path = tmp_path / name
        with h5py.File(path, "w") as fh:
            fh["x"] = np.arange(3)
        with pytest.raises(FileFormatError) as info:
            read(path)
        msg = str(info.value)
        assert re.match(re.escape(f"{path}: cannot read as a N"), msg) and "\n" not in msg
