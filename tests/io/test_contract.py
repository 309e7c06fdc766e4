"""The contract every spike-file format keeps, run once per format.

write -> read returns the same trains bit for bit (times compared as uint64 bit
patterns, so -0.0 vs 0.0 or a last-digit rounding would fail), with empty trains
(also trailing ones), the window and the per-train annotations; explicit windows
cut like SpikeTrains.time_slice (the container is the oracle); writes are atomic.
Bad input is a one-line error that starts with the file's path and names the place
(line, train or key); the text and CSV cases run through both scanners.
"""
import os
import re

import numpy as np
import pytest
import quantities as pq

from neuromod.errors import FileFormatError, NeuromodError, SpikeDataError
from neuromod.io import FORMATS, read, write
from neuromod.io.npzfile import JSON_EXTRAS_KEY
from neuromod.spikes import SpikeTrains

ALL = list(FORMATS)
#: formats that keep the exact numpy dtype of annotations (NIX and NWB keep the kind:
#: ints come back int64, floats float64)
EXACT_DTYPE = {"txt", "csv", "npz"}


def _population(seed=1):
    """Trains with awkward values: full-precision random doubles, -0.0/0.0, a
    subnormal, values that print with exponents, duplicates, empty trains (one in
    the middle, two trailing) on a window with negative t_start."""
    rng = np.random.default_rng(seed)
    trains = [np.sort(rng.uniform(-1.5, 7.25, 13)),
              np.array([-0.0, 0.0, 5e-324, 1e-300, 1e-5, 1e-5, 0.1, 1 / 3]),
              np.array([]),
              np.sort(rng.uniform(0, 1, 4)) * 1e-7,
              np.array([7.25]),
              np.array([]),
              np.array([])]
    n = len(trains)
    ann = {"unit": np.array([3, 3, 4, 9, 12, 12, 40], dtype=np.int64),
           "trial": np.array([0, 1, 0, 2, 1, 0, 5], dtype=np.int32),
           "depth_um": np.array([120.5, 1 / 3, -0.0, 1e300, 2.5, 7.0, 0.1]),
           "area": np.array(["V1", "V1", "LGN", "MT", "", "V1", "pulvinar"]),
           "good": np.array([True, False, True, True, False, False, True])}
    assert all(v.shape == (n,) for v in ann.values())
    return SpikeTrains.from_list(trains, t_start=-1.5, t_stop=7.25, annotations=ann)


def _same_bits(a, b):
    return np.array_equal(np.asarray(a, np.float64).view(np.uint64),
                          np.asarray(b, np.float64).view(np.uint64))


def assert_same(got, want, fmt):
    assert got.n_trains == want.n_trains
    assert _same_bits([got.t_start, got.t_stop], [want.t_start, want.t_stop])
    assert np.array_equal(got.offsets, want.offsets)
    assert np.array_equal(got.ids, want.ids)
    assert _same_bits(got.times, want.times)
    assert set(got.annotations) == set(want.annotations)
    for key, val in want.annotations.items():
        g = got.annotations[key]
        assert g.shape == val.shape, key
        if val.dtype.kind == "f":
            assert _same_bits(g, val), key
        else:
            assert np.array_equal(g, val), key
        if fmt in EXACT_DTYPE:
            assert g.dtype == val.dtype, (key, g.dtype, val.dtype)
        else:
            assert g.dtype.kind == val.dtype.kind, (key, g.dtype, val.dtype)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One file per format holding the population (neo formats are slow to write)."""
    d = tmp_path_factory.mktemp("contract")
    st = _population()
    paths = {}
    for fmt in ALL:
        paths[fmt] = str(d / f"pop{FORMATS[fmt][0]}")
        write(st, paths[fmt])
    return st, paths


@pytest.mark.parametrize("fmt", ALL)
def test_round_trip_is_bit_exact_with_empty_trains_window_and_annotations(written, fmt):
    st, paths = written
    assert_same(read(paths[fmt]), st, fmt)
    assert sorted(os.listdir(os.path.dirname(paths[fmt]))) == sorted(
        os.path.basename(p) for p in paths.values())   # no temporary files left


@pytest.mark.parametrize("fmt", ALL)
def test_explicit_window_cuts_like_time_slice(written, fmt):
    st, paths = written
    got = read(paths[fmt], t_start=0.0, t_stop=150 * pq.ms)   # units accepted at the boundary
    assert_same(got, st.time_slice(0.0, 0.15), fmt)
    # one bound given: the other comes from the file
    got = read(paths[fmt], t_start=1e-5)
    assert_same(got, st.time_slice(1e-5, st.t_stop), fmt)


@pytest.mark.parametrize("fmt", ALL)
def test_default_annotations_and_default_window(tmp_path, fmt):
    # trains built without annotations or window: unit = arange, trial = 0,
    # window [0, last spike]
    st = SpikeTrains.from_list([[0.5, 1.25], [], [0.75]])
    path = tmp_path / f"plain{FORMATS[fmt][0]}"
    write(st, path)
    got = read(path)
    assert (got.t_start, got.t_stop) == (0.0, 1.25)
    assert_same(got, st, fmt)


@pytest.mark.parametrize("fmt", [f for f in ALL if f != "nwb"])
def test_zero_trains_keep_their_window(tmp_path, fmt):
    st = SpikeTrains([], [], t_start=0.5, t_stop=2.0, n_trains=0)
    path = tmp_path / f"none{FORMATS[fmt][0]}"
    write(st, path)
    assert_same(read(path), st, fmt)


def test_nwb_refuses_zero_trains_and_leaves_nothing(tmp_path):
    st = SpikeTrains([], [], t_start=0.5, t_stop=2.0, n_trains=0)
    with pytest.raises(FileFormatError, match="zero trains"):
        write(st, tmp_path / "none.nwb")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fmt", ALL)
def test_missing_file_names_the_file(tmp_path, fmt):
    path = tmp_path / f"absent{FORMATS[fmt][0]}"
    with pytest.raises(FileNotFoundError) as info:
        read(path)
    assert info.value.filename == str(path)


# ----------------------------------------------------------------- atomic writes
def _fail_midway(fmt, monkeypatch):
    """Make the format's writer die after part of the file is on disk."""
    if fmt in ("txt", "csv"):
        import builtins
        import neuromod.io._common as module     # both formats write through write_text_file
        real_open = builtins.open

        class HalfFile:
            def __init__(self, *a, **k):
                self.fh = real_open(*a, **k)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.fh.close()

            def write(self, text):
                self.fh.write(text[: len(text) // 2])
                self.fh.flush()
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(module, "open", HalfFile, raising=False)
    elif fmt == "npz":
        def half_savez(fh, **arrays):
            fh.write(b"PK\x03\x04 partial")
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(np, "savez", half_savez)
    else:
        from neo.io import NixIO, NWBIO
        cls, meth = (NixIO, "write_block") if fmt == "nix" else (NWBIO, "write_all_blocks")

        def half_write(self, *a, **k):
            with open(self.filename, "wb") as fh:
                fh.write(b"\x89HDF\r\n partial")
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(cls, meth, half_write)


@pytest.mark.parametrize("fmt", ALL)
def test_a_write_failing_midway_leaves_no_file(tmp_path, monkeypatch, fmt):
    st = SpikeTrains.from_list([[0.1, 0.2], [0.3]], t_stop=1.0)
    _fail_midway(fmt, monkeypatch)
    with pytest.raises(OSError, match="No space"):
        write(st, tmp_path / f"new{FORMATS[fmt][0]}")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fmt", ["txt", "npz"])
def test_a_failed_overwrite_keeps_the_old_file(tmp_path, monkeypatch, fmt):
    path = tmp_path / f"old{FORMATS[fmt][0]}"
    old = SpikeTrains.from_list([[0.5]], t_stop=1.0)
    write(old, path)
    before = path.read_bytes()
    _fail_midway(fmt, monkeypatch)
    with pytest.raises(OSError):
        write(SpikeTrains.from_list([[0.1, 0.2]], t_stop=1.0), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]


def test_written_files_get_ordinary_permissions(tmp_path):
    path = tmp_path / "p.txt"
    write(SpikeTrains.from_list([[0.5]], t_stop=1.0), path)
    mask = os.umask(0)
    os.umask(mask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~mask)


# ----------------------------------------------------------------- shared rules
def _write_raw(path, content):
    """Write a file as given: str (UTF-8) or bytes as they are, a dict of arrays as .npz."""
    if isinstance(content, dict):
        with open(path, "wb") as fh:
            np.savez(fh, **content)
    else:
        path.write_bytes(content.encode() if isinstance(content, str) else content)


@pytest.mark.parametrize("fmt", ["txt", "csv", "npz"])
def test_sort_flag_accepts_and_sorts_unsorted_trains(tmp_path, fmt):
    path = tmp_path / f"u{FORMATS[fmt][0]}"
    _write_raw(path, {"txt": "0.3 0.1 0.2\n0.5\n",
                      "csv": "id,time\n0,0.3\n1,0.5\n0,0.1\n0,0.2\n",
                      "npz": {"times": np.array([0.3, 0.1, 0.2, 0.5]),
                              "ids": np.array([0, 0, 0, 1])}}[fmt])
    with pytest.raises(SpikeDataError, match="not sorted"):
        read(path)
    got = read(path, sort=True)
    assert got.to_list()[0].tolist() == [0.1, 0.2, 0.3]
    assert got.to_list()[1].tolist() == [0.5]


@pytest.mark.parametrize("fmt", ALL)
def test_errors_are_neuromod_errors_naming_the_file(tmp_path, fmt):
    path = tmp_path / f"junk{FORMATS[fmt][0]}"
    rng = np.random.default_rng(5)
    path.write_bytes(rng.integers(0, 256, 512, dtype=np.uint8).tobytes())
    with pytest.raises(NeuromodError) as info:
        read(path)
    msg = str(info.value)
    assert msg.startswith(str(path)) and "\n" not in msg


# ----------------------------------------------------------------- bad input
#: Bad files of each format, a pattern of the error message and its class. Every
#: message is one line that starts with the file's path and names the place: the
#: line in text and CSV files, the train or key in .npz files.
BAD_INPUT = {
    "txt": [
        ("0.1 0.2\n0.3 abc\n", r"line 2: 'abc' is not a number", FileFormatError),
        ("0.1\n# c\n0.2 1,5\n", r"line 3: '1,5' is not a number", FileFormatError),
        ("0.1\n0.2 nan\n", r"line 2: spike time nan is not finite", FileFormatError),
        ("0.1\n\n-inf\n", r"line 3: spike time -inf is not finite", FileFormatError),
        ("0.1 1e400\n", r"line 1: spike time inf is not finite", SpikeDataError),
        ("# t_start=0 t_stop=1\n0.5\n0.2 1.5\n", r"line 3: spike at 1.5 s outside the file's window \[0.0, 1.0\] s", SpikeDataError),
        ("# t_start=0.5\n0.7\n0.2\n", r"line 3: spike at 0.2 s outside", SpikeDataError),
        ("# t_start=2 t_stop=1\n0.5\n", r"line 1: t_stop \(1.0 s\) must be greater than t_start \(2.0 s\)", SpikeDataError),
        ("0.1\n0.3 0.2\n", r"line 2: spike times not sorted within line 2 \(0.2 s after 0.3 s\)", SpikeDataError),
        ("0.1\n# t_start=0 t_stop=1\n", r"line 2: header comment after the first train", FileFormatError),
        ("# t_start=0\n# t_stop=1\n0.5\n", r"line 2: a second window comment", FileFormatError),
        ("# t_start=abc\n0.5\n", r"line 1: t_start='abc' is not a number", FileFormatError),
        ("# t_start=0 speed=1\n0.5\n", r"line 1: unknown key 'speed'", FileFormatError),
        ("# t_stop=nan\n0.5\n", r"line 1: t_stop=nan is not finite", FileFormatError),
        ('# annotation: {"name": "unit", "values": [1, 2, 3]}\n0.1\n0.2\n',
         r"line 1: annotation 'unit' has 3 values for 2 trains", FileFormatError),
        ('# annotation: {"name": "unit", values: [1]}\n0.1\n', r"line 1: annotation comment is not valid JSON", FileFormatError),
        ('# annotation: {"name": "unit", "dtype": "<i8", "values": [1.5]}\n0.1\n',
         r"line 1: annotation 'unit': value 1.5 does not fit dtype '<i8'", FileFormatError),
        ("# only a comment\n", r"no spikes and no t_stop in the file; give t_stop", SpikeDataError),
        ("0.1\r0.2\r", r"line 1: carriage return without line feed", FileFormatError),
        ("", r"empty file", FileFormatError),
    ],
    "csv": [
        ("0,0.1\n", r"line 1: expected the column header 'id,time', found '0,0.1'", FileFormatError),
        ("neuron,t\n0,0.1\n", r"line 1: expected the column header 'id,time'", FileFormatError),
        ("# t_stop=1\n", r"no column header 'id,time'", FileFormatError),
        ("id,time\n0,0.1\n1,0.2,3\n", r"line 3: expected 2 fields \(id,time\), found 3", FileFormatError),
        ("id,time\n0,0.1\n0.2\n", r"line 3: expected 2 fields \(id,time\), found 1", FileFormatError),
        ("id,time\n0,\n", r"line 2: empty field", FileFormatError),
        ("id,time\n0,0.1\n1.5,0.2\n", r"line 3: id '1.5' is not an integer", FileFormatError),
        ("id,time\n0,0.1\nx,0.2\n", r"line 3: id 'x' is not an integer", FileFormatError),
        ("id,time\n0,0.1\n1,abc\n", r"line 3: time: 'abc' is not a number", FileFormatError),
        ("id,time\n0,0.1\n1,NaN\n", r"line 3: time: spike time NaN is not finite", FileFormatError),
        ("id,time\n0,0.1\n-1,0.2\n", r"line 3: id -1 is negative", FileFormatError),
        ("# n_trains=2\nid,time\n0,0.1\n2,0.2\n", r"line 4: id 2 outside 0..1 \(n_trains=2 in line 1\)", FileFormatError),
        ("# t_start=0 t_stop=1\nid,time\n0,0.1\n1,1.2\n", r"line 4: spike at 1.2 s outside the file's window", SpikeDataError),
        ("# t_start=1 t_stop=1\nid,time\n", r"line 1: t_stop \(1.0 s\) must be greater than t_start", SpikeDataError),
        # rows of train 0 interleaved with train 1: the offending row is named
        ("id,time\n0,0.5\n1,0.1\n1,0.2\n0,0.3\n", r"line 5: spike times not sorted within train 0 \(0.3 s after 0.5 s\)", SpikeDataError),
        ("id,time\n0,0.1\n# t_stop=2\n", r"line 3: header comment after the column header", FileFormatError),
        ("# n_trains=two\nid,time\n", r"line 1: n_trains='two' is not an integer", FileFormatError),
        ("# t_start=0 t_start=1\nid,time\n", r"line 1: t_start given twice", FileFormatError),
        ("# n_trains=3\n# annotation: {\"name\": \"unit\", \"values\": [1]}\nid,time\n",
         r"line 2: annotation 'unit' has 1 values for 3 trains", FileFormatError),
        ("id,time\n", r"no spikes and no t_stop in the file; give t_stop", SpikeDataError),
        ("", r"empty file", FileFormatError),
    ],
    "npz": [
        (dict(ids=np.array([0])), r"no 'times' array", FileFormatError),
        (dict(times=np.array([0.1])), r"no 'ids' array", FileFormatError),
        (dict(times=np.array([0.1, 0.2]), ids=np.array([0])), r"'times' and 'ids' differ in length \(2 vs 1\)", FileFormatError),
        (dict(times=np.array([0.1]), ids=np.array([0.0])), r"'ids' must be a 1-D integer array", FileFormatError),
        (dict(times=np.array(["a"]), ids=np.array([0])), r"'times' must be a 1-D float array", FileFormatError),
        (dict(times=np.array([0.1, np.nan]), ids=np.array([0, 1])), r"train 1: spike time nan is not finite", SpikeDataError),
        (dict(times=np.array([0.1, 2.0]), ids=np.array([0, 1]), t_start=0.0, t_stop=1.0),
         r"train 1: spike at 2.0 s outside the file's window \[0.0, 1.0\] s", SpikeDataError),
        (dict(times=np.array([0.3, 0.2]), ids=np.array([2, 2])), r"train 2: spike times not sorted within train 2", SpikeDataError),
        (dict(times=np.array([0.1]), ids=np.array([3]), n_trains=2), r"ids\[0\] = 3 outside 0..1", FileFormatError),
        (dict(times=np.array([0.1]), ids=np.array([-1])), r"ids\[0\] = -1 is negative", FileFormatError),
        (dict(times=np.array([0.1]), ids=np.array([0]), t_start=1.0, t_stop=0.5), r"t_stop \(0.5 s\) must be greater than t_start \(1.0 s\)", SpikeDataError),
        (dict(times=np.array([0.1]), ids=np.array([0]), t_stop=np.array([1.0, 2.0])), r"'t_stop' must be a single number", FileFormatError),
        (dict(times=np.array([0.1]), ids=np.array([0]), ann_unit=np.array([1, 2])), r"annotation 'ann_unit' has shape \(2,\); expected \(1,\)", FileFormatError),
        (dict(times=np.array([0.1]), ids=np.array([0]), cfg=np.array("{bad"), **{JSON_EXTRAS_KEY: np.array(["cfg"])}),
         r"JSON extra 'cfg' is not valid JSON", FileFormatError),
    ],
}


def _bad_input_cases():
    """(fmt, scanner, content, pattern, cls); text and CSV files go through both scanners."""
    for fmt, cases in BAD_INPUT.items():
        for scanner in (("python", "compiled") if fmt in ("txt", "csv") else (None,)):
            for k, case in enumerate(cases):
                yield pytest.param(fmt, scanner, *case,
                                   id=f"{fmt}-{k}" + (f"-{scanner}" if scanner else ""))


@pytest.mark.parametrize("fmt, scanner, content, pattern, cls", list(_bad_input_cases()),
                         indirect=["scanner"])
def test_bad_input_is_a_one_line_error_naming_file_and_place(tmp_path, fmt, scanner, content,
                                                             pattern, cls):
    path = tmp_path / f"bad{FORMATS[fmt][0]}"
    _write_raw(path, content)
    with pytest.raises(cls) as info:
        read(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: "), msg
    assert re.search(pattern, msg), msg
    assert "\n" not in msg


@pytest.mark.parametrize("fmt", ["txt", "csv"])
def test_binary_files_named_as_text_are_refused_naming_the_file(tmp_path, fmt, scanner):
    rng = np.random.default_rng(0)
    wav = (b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"
           + rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    noise = rng.integers(128, 256, 4000, dtype=np.uint8).tobytes()
    for name, data, start in (("tone", wav, "binary data"),
                              ("noise", noise, "line 1: not UTF-8 text"),
                              ("nul", b"\x00\x01\x02id,time\n", "binary data")):
        path = tmp_path / f"{name}{FORMATS[fmt][0]}"
        path.write_bytes(data)
        with pytest.raises(FileFormatError) as info:
            read(path)
        assert str(info.value).startswith(f"{path}: {start}"), str(info.value)
