"""Fuzzing the spike readers (Hypothesis, deterministic): any file gives either spike
trains -- which the statistics of ``neuromod stats`` then summarise, and which
write and read back unchanged -- or one NeuromodError with a one-line message that
names the file; never another exception.

Text and CSV: generated lines (numbers, garbage tokens, window and annotation
directives) and raw or mutated bytes, through both scanners. NPZ: archives built
member by member with mutated arrays, dtypes, ``.npy`` header shapes, JSON extras,
compression, truncation and flipped bytes. NIX and NWB: structured h5py edits of
files written by neuromod (datasets deleted, reshaped, retyped, refilled, claimed
huge; attributes deleted or changed; index arrays past the data) -- not raw byte
flips, which can crash libhdf5 itself.
"""
import io as _io
import json
import os
import random
import re
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neuromod import io
from neuromod.errors import NeuromodError
from neuromod.io import _pyparse
from neuromod.spikes import SpikeTrains
from neuromod.stats import summary

STATS = ("rates", "cv", "cv2", "lv", "fano", "units")


def _consume(path, fmt, options):
    """Read ``path``; on success summarise it and round-trip it through ``fmt``."""
    try:
        trains = io.read(path, format=fmt, **options)
    except NeuromodError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg, msg
        # names the file, or the option (t_start=nan) that is wrong
        assert os.path.basename(path) in msg or msg.startswith(tuple(options)), msg
        return None
    except OSError as exc:
        assert os.path.basename(path) in str(exc), exc
        return None
    try:
        with warnings.catch_warnings():      # numpy's overflow/invalid warnings are failures
            warnings.simplefilter("error", RuntimeWarning)
            report = summary.summarize(trains, STATS, bin_size=0.1, progress=False)
        json.dumps({"per_train": report["per_train"], "units": report["units"],
                    "population": report["population"]})
    except NeuromodError as exc:
        assert "\n" not in str(exc), exc
    return trains


def _round_trip(trains, path, fmt):
    if fmt == "nwb" and trains.n_trains == 0:
        return
    out = path.parent / ("again." + fmt)
    io.write(trains, out)
    assert io.read(out).equals(trains)


@pytest.fixture
def fast_dir(tmp_path):
    """A directory in memory (``/dev/shm``) when there is one: creating a file costs
    ~0.03 ms there against ~1 ms on the disk under pytest's ``tmp_path``."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        with tempfile.TemporaryDirectory(dir="/dev/shm", prefix="neuromod-fuzz-") as d:
            yield Path(d)
    else:
        yield tmp_path


class _Scanner:
    """Run the text/CSV readers through the compiled scanner (``compiled=True``)."""

    def __init__(self, compiled):
        self.size = 0 if compiled else 1 << 62

    def __enter__(self):
        self.saved = _pyparse.SMALL_FILE_BYTES
        _pyparse.SMALL_FILE_BYTES = self.size

    def __exit__(self, *exc):
        _pyparse.SMALL_FILE_BYTES = self.saved


# ------------------------------------------------------------------ text and CSV
# Files are built by a seeded ``random.Random`` from a small grammar (Hypothesis draws
# the seed): drawing every token through Hypothesis costs ~15 ms per file, the
# grammar ~0.1 ms, which lets 2,000 files per format fit in a few seconds.
GARBAGE = ["nan", "inf", "-inf", "abc", "1e400", "-1e400", "0x1p3", "1_0", "\u0663", ".", "+",
           "1e", "e5", "--1", "1.2.3", "9" * 30, "0." + "1" * 25, "1e-400", "\x0b", "\x00",
           "\xe9", "\r", "1,2", ",", "#", '"', "5e-324", "1.7976931348623157e308", "-0", "1e11",
           "-3"]
ANN_DTYPES = ["<i8", "<u2", "<f8", "|b1", "<U3", "|O", "<c16", "|V8", "|S2", "<M8[s]", "i",
              "float", "bogus", 3, None, [["a", "<i4"]]]
ANN_VALUES = [0, 1, -3, 2, 0.5, float("nan"), float("inf"), True, False, "a", "bb", "", None,
              [1], {"k": 1}, 2 ** 63, 2 ** 70]


def _number(r):
    k = r.randrange(5)
    if k == 0:
        return repr(r.uniform(-1e3, 1e3))
    if k == 1:
        return f"{r.uniform(0, 10):.3f}"
    if k == 2:
        return str(r.randrange(-10, 10 ** 6))
    if k == 3:
        return repr(r.choice([0.0, 1e-300, 1e300, 5e-324, -0.0, 0.1, 2.5e-3]))
    return repr(r.random())


def _token(r):
    return r.choice(GARBAGE) if r.randrange(6) == 0 else _number(r)


def _annotation_line(r):
    obj = {"name": r.choice(["unit", "trial", "area", "x", ""])}
    dtype = r.choice(ANN_DTYPES)
    if dtype is not None:
        obj["dtype"] = dtype
    kind = r.randrange(3)
    pool = ANN_VALUES if kind == 0 else ([0, 1, 2, 3] if kind == 1 else ["a", "bb", "c"])
    obj["values"] = [r.choice(pool) for _ in range(r.randrange(6))]
    if r.randrange(10) == 0:
        obj = r.choice([[], "x", {"name": 1, "values": []}, {"name": "a"}])
    text = json.dumps(obj)
    if r.randrange(10) == 0:
        text = text[:r.randrange(len(text) + 1)]
    return "# annotation: " + text


def _window_line(r, keys):
    pairs = [(r.choice(keys + ("bogus",)), _token(r)) for _ in range(r.randrange(1, 4))]
    return "# " + " ".join(f"{k}={v}" for k, v in pairs)


def _line(r, csv):
    keys = ("t_start", "t_stop", "n_trains") if csv else ("t_start", "t_stop")
    k = r.randrange(10)
    if k == 0:
        return _annotation_line(r)
    if k == 1:
        return _window_line(r, keys)
    if k == 2:
        return r.choice(["", "   ", "# a comment", "id,time", "time,id", "ID , TIME", "id", "#"])
    if csv:
        if r.randrange(8) == 0:
            return ",".join(_token(r) for _ in range(r.randrange(4)))
        ident = (str(r.randrange(-2, 8)) if r.randrange(6) else
                 r.choice(["999999999999", "1.5", "x", "", " 3 ", "-0", "9" * 20]))
        return f"{ident},{_token(r)}" if r.randrange(2) else f"{_token(r)},{ident}"
    return " ".join(_token(r) for _ in range(r.randrange(7)))


def _clean_file(r, csv):
    """A mostly valid file: sorted times, a window, annotations with one value per
    train of a random kind (so that files get through to the statistics)."""
    n = r.randrange(7)
    trains = [sorted(round(r.uniform(0, 2), r.choice([3, 17])) for _ in range(r.randrange(6)))
              for _ in range(n)]
    head = []
    if r.randrange(3):
        head.append(r.choice(["# t_start=0 t_stop=2", "# t_stop=2.5", "# t_start=-1 t_stop=3",
                              "# t_start=0.5 t_stop=1.5"]) + (f" n_trains={n}" if csv else ""))
    for name in r.sample(["unit", "trial", "area", "x"], r.randrange(3)):
        pool = r.choice([[0, 1, 2], [0.5, 1.5], ["a", "b"], [True, False], [0, "a"], [1, None],
                         [2 ** 64], [[1]]])
        values = [r.choice(pool) for _ in range(n + (r.randrange(8) == 0))]
        obj = {"name": name, "values": values}
        if r.randrange(3) == 0:
            obj["dtype"] = r.choice(["<i8", "<f8", "|b1", "<U2", "<u1", "<c16", "|O"])
        head.append("# annotation: " + json.dumps(obj))
    if csv:
        rows = [f"{i},{t!r}" for i, times in enumerate(trains) for t in times]
        r.shuffle(rows) if r.randrange(4) == 0 else None
        lines = head + ["id,time"] + rows
    else:
        lines = head + [" ".join(map(repr, times)) for times in trains]
    if lines and r.randrange(4) == 0:          # one damaged line
        k = r.randrange(len(lines))
        lines[k] = lines[k] + " " + _token(r)
    return ("\n".join(lines) + "\n").encode()


def text_file(seed, csv):
    r = random.Random(seed)
    kind = r.randrange(10)
    if kind < 5:
        return _clean_file(r, csv)
    if kind == 5:
        return bytes(r.randrange(256) for _ in range(r.randrange(120)))
    lines = [_line(r, csv) for _ in range(r.randrange(13))]
    if csv and r.randrange(4):
        lines.insert(r.randrange(len(lines) + 1), "id,time")
    if r.randrange(3) == 0:          # window and annotations first: files that get far
        lines.insert(0, _annotation_line(r) if r.randrange(2) else _window_line(
            r, ("t_start", "t_stop", "n_trains") if csv else ("t_start", "t_stop")))
    sep = r.choice(["\n"] * 8 + ["\r\n", "\r"])
    data = sep.join(lines).encode("utf-8", "surrogatepass")
    if r.randrange(2):
        data += sep.encode()
    if kind == 6 and data:           # byte-level mutation of a generated file
        pos = r.randrange(len(data))
        cut = r.randrange(4)
        data = data[:pos] + bytes(r.randrange(256) for _ in range(r.randrange(4))) + data[pos + cut:]
    if kind == 7:
        data = b"\xef\xbb\xbf" + data
    return data


OPTIONS = st.fixed_dictionaries({}, optional={
    "sort": st.booleans(),
    "t_start": st.one_of(st.none(), st.floats(-1, 1), st.just(float("nan"))),
    "t_stop": st.one_of(st.none(), st.floats(0, 2), st.just(float("inf")))})
SEEDS = st.integers(0, 2 ** 32 - 1)


@pytest.mark.parametrize("fmt", ["txt", "csv"])
@settings(max_examples=2000)
@given(seed=SEEDS, compiled=st.integers(0, 4).map(lambda k: k == 0), options=OPTIONS)
def test_text_and_csv_readers_never_crash(fast_dir, fmt, seed, compiled, options):
    path = fast_dir / f"fuzz.{fmt}"
    path.write_bytes(text_file(seed, fmt == "csv"))
    with _Scanner(compiled):
        trains = _consume(path, fmt, options)
    if trains is not None:
        _round_trip(trains, path, fmt)


# ------------------------------------------------------------------ npz
DTYPES = ["<f8", ">f8", "<f4", "<f2", "<i8", ">i4", "<u8", "|u1", "|b1", "<U3", "|S2", "<c16",
          "<M8[s]", "|V4", "<m8[ms]"]
SHAPES = [(), (0,), (1,), (3,), (4,), (2, 2), (5,)]


def _array(r, role, n=None):
    """A member array: often well-formed for its role (``n`` spikes or trains), else of
    a random dtype and shape."""
    if r.randrange(8 if role in ("times", "ids") else 4):
        n = r.randrange(6) if n is None or r.randrange(10) == 0 else n
        if role == "times":
            return np.sort(np.array([r.random() for _ in range(n)]))
        if role == "ids":
            return np.array([r.randrange(4) for _ in range(n)], dtype=np.int64)
        if role == "n_trains":
            return np.int64(r.choice([0, 1, 4, 4, 4, 6, 10 ** 12, -1]))
        if role in ("t_start", "t_stop"):
            return np.float64(r.choice([0.0, 1.0, 2.0, -1.0]))
        if role == "ann":
            pool = r.choice([[1, 2, 3], ["a", "bc"], [0.5, np.nan], [True, False]])
            return np.array([r.choice(pool) for _ in range(min(n, 10 ** 4))])
    dtype = np.dtype(r.choice(DTYPES))
    shape = r.choice(SHAPES)
    n = int(np.prod(shape))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        base = [r.choice([info.min, info.max, 0, 1, 2, 3, -1 if info.min < 0 else 5])
                for _ in range(n)]
    elif dtype.kind == "f":
        base = [r.choice([r.random(), np.nan, np.inf, 1e30, -0.5]) for _ in range(n)]
    elif dtype.kind == "b":
        base = [r.randrange(2) == 1 for _ in range(n)]
    elif dtype.kind == "U":
        base = [r.choice(["a", "bc", "", '{"a": 1}', "[" * 50]) for _ in range(n)]
    else:
        return np.zeros(shape, dtype=dtype)
    arr = np.asarray(base).astype(dtype) if n else np.zeros(shape, dtype)
    return arr.reshape(shape)


HEADER_EDITS = (
    [(r"'shape': \([^)]*\)", "'shape': " + s) for s in
     ["(10000000000,)", "(-1,)", "(3, -2)", "()", "(2**40,)", "(1e3,)",
      "(99999999999999999999,)", "(0, 1000000000000)", "'x'", "(7,)"]]
    + [(r"'descr': '[^']*'", "'descr': " + s) for s in
       ["'|O'", "'<f16'", "'bogus'", "[('a', '<f8')]", "'<U0'", "'|V0'", "'>i8'"]]
    + [(r"'fortran_order': False", "'fortran_order': True"), (r"\{", "[")])


def _npy_bytes(arr, header_edit=None):
    buf = _io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    data = buf.getvalue()
    if header_edit is not None:
        end = data.index(b"\n", 8) + 1
        text = re.sub(header_edit[0], header_edit[1], data[10:end].decode("latin1")).rstrip()
        text = text.ljust(end - 11) + "\n"          # keep the header length when it fits
        data = data[:8] + len(text).to_bytes(2, "little") + text.encode("latin1") + data[end:]
    return data


def npz_archive(seed):
    r = random.Random(seed)
    members = {}
    n_spikes, n_trains = r.randrange(6), 4
    for role in ("times", "ids", "t_start", "t_stop", "n_trains"):
        if r.randrange(8) or role in ("times", "ids") and r.randrange(8):
            if role in ("times", "ids") or r.randrange(2):
                members[role] = _array(r, role, n_spikes)
    if "n_trains" in members and members["n_trains"].ndim == 0 and members["n_trains"].dtype.kind == "i":
        n_trains = int(members["n_trains"])
    for name in r.sample(["unit", "trial", "area", "x"], r.randrange(3)):
        members["ann_" + name] = _array(r, "ann", n_trains)
    if r.randrange(4) == 0:
        keys = r.sample(["cfg", "other", "times", "ann_x"], r.randrange(3))
        members["_json_extras"] = np.array(keys, dtype="U") if keys else np.zeros(0, "U1")
        for k in keys:
            members.setdefault(k, np.array(r.choice(
                ['{"a": 1}', "[1, 2]", "{bad", "[" * 3000 + "]" * 3000, "NaN", ""])))
    if r.randrange(4) == 0:
        members["extra"] = _array(r, "extra")
    edits = {}
    if r.randrange(4) == 0 and members:
        edits[r.choice(sorted(members))] = r.choice(HEADER_EDITS)
    compression = zipfile.ZIP_DEFLATED if r.randrange(3) == 0 else zipfile.ZIP_STORED
    buf = _io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for key, arr in members.items():
            zf.writestr(key + ".npy", _npy_bytes(arr, edits.get(key)))
        if r.randrange(10) == 0:
            zf.writestr(r.choice(["notes.txt", "x.npy", "dir/"]), b"hello")
    data = buf.getvalue()
    mutation = r.randrange(16)
    if mutation == 0:
        data = data[:r.randrange(len(data) + 1)]
    elif mutation == 1:
        for _ in range(r.randrange(1, 5)):
            pos = r.randrange(len(data))
            data = data[:pos] + bytes([r.randrange(256)]) + data[pos + 1:]
    elif mutation == 2:
        data = r.choice([b"", b"PK", b"\x93NUMPY", b"PK\x03\x04" + b"\0" * 30])
    return data


@settings(max_examples=2000)
@given(seed=SEEDS, options=OPTIONS)
def test_npz_reader_never_crashes(fast_dir, seed, options):
    path = fast_dir / "fuzz.npz"
    path.write_bytes(npz_archive(seed))
    trains = _consume(path, "npz", options)
    if trains is not None:
        _round_trip(trains, path, "npz")


# ------------------------------------------------------------------ NIX and NWB
@pytest.fixture(scope="module")
def hdf5_bases(tmp_path_factory):
    d = tmp_path_factory.mktemp("bases")
    st_ = SpikeTrains.from_list([[0.1, 0.5], [], [0.3]], t_stop=1.0,
                                annotations={"unit": [1, 1, 2], "trial": [0, 1, 0],
                                             "area": ["V1", "V1", "LGN"]})
    out = {}
    import h5py
    for fmt in ("nwb", "nix"):
        p = d / f"base.{fmt}"
        io.write(st_, p)
        with h5py.File(p, "r") as f:
            names = []
            f.visititems(lambda n, o: names.append((n, isinstance(o, h5py.Dataset))))
        out[fmt] = (p, sorted(names))
    return out


def _new_data(draw, ds):
    """Data of another shape, dtype or content for dataset ``ds``."""
    import h5py
    how = draw(st.sampled_from(["shape", "dtype", "values", "index"]))
    old = np.asarray(ds[()]) if (ds.size or 0) <= 10 ** 6 else np.zeros(3)   # not a claimed-huge one
    if how == "shape":
        shape = draw(st.sampled_from([(), (0,), (1,), (7,), (2, 2), (3, 0)]))
        if old.dtype.kind in "iufb":
            return np.zeros(shape, dtype=old.dtype)
        return np.full(shape, "x", dtype=h5py.string_dtype())
    if how == "dtype":
        dtype = draw(st.sampled_from(["i1", "u8", "f4", "f8", "?", "S5", "c16", "str"]))
        n = max(int(np.size(old)), 1)
        shape = np.shape(old) or (n,)
        if dtype == "str":
            return np.full(shape, "neuromod:{", dtype=h5py.string_dtype())
        return np.ones(shape, dtype=dtype)
    arr = np.array(old)
    if arr.dtype.kind not in "iuf" or arr.size == 0:
        return np.array(draw(st.sampled_from([[5, 1, 9], [-1], [1.5]])))
    values = draw(st.sampled_from([-1, 0, 2 ** 31, 10 ** 12, 3, float("nan"), -0.5, 1e300]))
    if how == "index":
        arr = np.asarray(arr, dtype=np.int64) if arr.dtype.kind in "iu" else arr
        arr.flat[draw(st.integers(0, arr.size - 1))] = arr.max() + draw(st.integers(1, 5))
        return arr
    if arr.dtype.kind in "iu" and (not float(values).is_integer() or values < 0):
        arr = arr.astype(np.float64) if arr.dtype.kind == "u" else arr
    try:
        arr.flat[draw(st.integers(0, arr.size - 1))] = values
    except (ValueError, OverflowError):
        pass
    return arr


#: Members worth editing most often: the units table (NWB), the spike-train data
#: arrays and annotation properties (NIX); the rest (NWB schema text...) less often.
_INTERESTING = ("units", "data_arrays", "properties/unit", "properties/trial",
                "properties/area", "neuromod_", "properties/t_st", "metadata/sections")


def _mutate(f, draw, names):
    hot = [n for n in names if any(k in n[0] for k in _INTERESTING)]
    name, is_ds = draw(st.sampled_from(hot if hot and draw(st.integers(0, 3)) else names))
    if name not in f:
        return
    obj = f[name]
    op = draw(st.sampled_from(["delete", "replace", "replace", "huge", "attr_del",
                               "attr_set"] if is_ds else ["delete", "attr_del", "attr_set"]))
    if op == "delete":
        del f[name]
    elif op == "replace":
        new = _new_data(draw, obj)
        attrs = dict(obj.attrs)
        del f[name]
        ds = f.create_dataset(name, data=new, dtype=new.dtype)
        for k, v in attrs.items():
            ds.attrs[k] = v
    elif op == "huge":
        attrs = dict(obj.attrs)
        del f[name]
        ds = f.create_dataset(name, shape=(10 ** draw(st.integers(9, 12)),), dtype="f8")
        for k, v in attrs.items():
            ds.attrs[k] = v
    elif op == "attr_del":
        if obj.attrs:
            del obj.attrs[draw(st.sampled_from(sorted(obj.attrs)))]
    else:
        key = draw(st.sampled_from(sorted(obj.attrs) + ["extra"]))
        value = draw(st.sampled_from(["", "VectorIndex", "mV", 3, -1.5, "neuromod:{}",
                                      np.array([1, 2]), b"\xff"]))
        obj.attrs[key] = value if not isinstance(value, bytes) else np.void(value)


@pytest.mark.parametrize("fmt, n", [("nwb", 130), ("nix", 70)])
def test_nix_and_nwb_readers_survive_structured_edits(hdf5_bases, tmp_path, fmt, n):
    import h5py
    base, names = hdf5_bases[fmt]

    @settings(max_examples=n)
    @given(data=st.data())
    def run(data):
        path = tmp_path / f"fuzz.{fmt}"
        shutil.copy(base, path)
        with h5py.File(path, "r+") as f:
            for _ in range(data.draw(st.integers(1, 3), label="edits")):
                try:
                    _mutate(f, data.draw, names)
                except (TypeError, ValueError, KeyError, OSError, RuntimeError):
                    pass          # an edit h5py refuses: the file keeps its previous state
        trains = _consume(path, fmt, data.draw(OPTIONS, label="options"))
        if trains is not None and data.draw(st.integers(0, 4), label="round trip") == 0:
            _round_trip(trains, path, fmt)

    run()
