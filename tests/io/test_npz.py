""".npz spike files: extras (arrays and JSON dicts), files written by others, pickles
and other archives. The bad inputs, each with the one-line message naming the file
and the train or key, are in ``test_contract.py``."""
import os
import re

import numpy as np
import pytest

from neuromod.errors import FileFormatError
from neuromod.io import read, read_npz, write
from neuromod.io.npzfile import JSON_EXTRAS_KEY
from neuromod.spikes import SpikeTrains


@pytest.fixture
def st():
    return SpikeTrains.from_list([[0.1, 0.4], [], [0.2]], t_stop=1.0,
                                 annotations={"unit": [1, 1, 2], "trial": [0, 1, 0]})


def test_extras_round_trip(tmp_path, st):
    config = {"fs": 16000, "cf_hz": np.array([100.0, 200.0]), "name": "gammatone",
              "n": np.int64(32), "nested": {"a": [1, 2], "ok": True, "gain": np.float32(0.5)}}
    weights = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "enc.npz"
    write(st, path, extras={"config": config, "weights": weights, "label": "run 3"})
    got, extras = read_npz(path)
    assert got.equals(st)
    assert extras["config"] == {"fs": 16000, "cf_hz": [100.0, 200.0], "name": "gammatone",
                                "n": 32, "nested": {"a": [1, 2], "ok": True, "gain": 0.5}}
    assert extras["weights"].dtype == np.float32 and np.array_equal(extras["weights"], weights)
    assert extras["label"].item() == "run 3"
    assert set(extras) == {"config", "weights", "label"}
    assert read(path).equals(st)          # read() ignores the extras


def test_files_from_elsewhere_keep_unknown_keys_as_extras(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, times=np.array([0.5, 0.1, 0.3]), ids=np.array([1, 0, 0], dtype=np.int32),
             sampling_rate=np.float64(30000.0), ann_unit=np.array([10, 11]))
    st, extras = read_npz(path)
    assert [t.tolist() for t in st.to_list()] == [[0.1, 0.3], [0.5]]
    assert st.annotations["unit"].tolist() == [10, 11]
    assert (st.t_start, st.t_stop) == (0.0, 0.5)
    assert extras["sampling_rate"] == 30000.0


def test_annotations_keep_their_dtype(tmp_path):
    st = SpikeTrains.from_list([[0.1], [0.2]], t_stop=1.0,
                               annotations={"unit": np.array([3, 4], dtype=np.uint16),
                                            "area": np.array(["V1", "LGN"], dtype=object)})
    path = tmp_path / "a.npz"
    write(st, path)
    got = read(path)
    assert got.annotations["unit"].dtype == np.uint16
    assert got.annotations["area"].tolist() == ["V1", "LGN"]


@pytest.mark.parametrize("extras, pattern", [
    ({"times": np.zeros(2)}, "reserved"),
    ({"ann_x": np.zeros(2)}, "reserved"),
    ({JSON_EXTRAS_KEY: np.zeros(2)}, "reserved"),
    ({"objs": np.array([{"a": 1}, None], dtype=object)}, "object array"),
    ({"cfg": {"f": lambda x: x}}, "cannot be stored as JSON"),
])
def test_bad_extras_are_refused_before_anything_is_written(tmp_path, st, extras, pattern):
    with pytest.raises(FileFormatError, match=pattern):
        write(st, tmp_path / "x.npz", extras=extras)
    assert os.listdir(tmp_path) == []


def test_extras_only_for_npz(tmp_path, st):
    with pytest.raises(FileFormatError, match="extras can only be stored in .npz"):
        write(st, tmp_path / "x.txt", extras={"a": 1})
    assert os.listdir(tmp_path) == []


def test_pickled_objects_are_never_loaded(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, times=np.array([0.1]), ids=np.array([0]),
             evil=np.array([{"a": 1}], dtype=object))
    with pytest.raises(FileFormatError, match=r"cannot read array 'evil'.*allow_pickle=False"):
        read(path)


def test_npy_and_non_zip_files(tmp_path):
    npy = tmp_path / "arr.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.arange(3))
    with pytest.raises(FileFormatError, match="single .npy array"):
        read(npy)
    txt = tmp_path / "t.npz"
    txt.write_text("0.1 0.2\n")
    with pytest.raises(FileFormatError, match=re.escape(f"{txt}: not an .npz archive")):
        read(txt)
