"""Bad inputs of the spike readers, the container and the statistics, one table per
class of defect: resource bounds checked before allocation, index arrays of ragged
data, annotation types, and numba's cache directory. Every bad input gives one
NeuromodError whose one-line message names the file (or option) and the problem."""
import io as _io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from neuromod import io
from neuromod.errors import (FileFormatError, NeuromodError, ResourceLimitError,
                             SpikeDataError)
from neuromod.spikes import SpikeTrains
from neuromod.spikes.trains import check_annotation, check_offsets
from neuromod.stats import correlation, distances, evaluation, rates, summary, synchrony

ROOT = Path(__file__).resolve().parents[2]


def one_line(exc_info, *words):
    msg = str(exc_info.value)
    assert "\n" not in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setenv("NEUROMOD_MEMORY_LIMIT", "64M")


def repeated_trials(n_units=2, n_trials=3, t_stop=1.0):
    rng = np.random.default_rng(3)
    trains = [np.sort(rng.uniform(0, t_stop, 5)) for _ in range(n_units * n_trials)]
    return SpikeTrains.from_list(
        trains, t_stop=t_stop,
        annotations={"unit": np.repeat(np.arange(n_units), n_trials),
                     "trial": np.tile(np.arange(n_trials), n_units)})


def npz_with_header(path, members):
    """An .npz whose members are (name, header dict, data bytes), written by hand so
    that a header may claim any shape."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, header, data in members:
            buf = _io.BytesIO()
            np.lib.format.write_array_header_1_0(buf, header)
            zf.writestr(name, buf.getvalue() + data)
    return path


def f8(shape):
    return {"descr": "<f8", "fortran_order": False, "shape": shape}


def i8(shape):
    return {"descr": "<i8", "fortran_order": False, "shape": shape}


# ------------------------------------------------------------------ resource bounds
LIMIT_FILES = [
    ("big_id.csv", "id,time\n0,0.1\n999999999999,0.2\n", ["line 3", "999999999999"]),
    ("n_trains.csv", "# t_stop=1 n_trains=100000000000\nid,time\n0,0.1\n",
     ["line 1", "n_trains=100000000000"]),
    ("n_trains_txt.txt", "# n_trains=100000000000\n0.1\n", ["n_trains"]),
]


@pytest.mark.parametrize("name, content, words", LIMIT_FILES, ids=[c[0] for c in LIMIT_FILES])
def test_text_files_asking_for_unbounded_memory_are_refused(tmp_path, name, content, words):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(NeuromodError) as e:
        io.read(p)
    one_line(e, name, *words)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_inputs_are_refused_at_the_limit(small_limit, device):
    with pytest.raises(ResourceLimitError) as e:
        io.read(device, format="txt")
    one_line(e, device, "reading more than")


def test_text_files_are_bounded_by_their_size(tmp_path, monkeypatch):
    p = tmp_path / "long.txt"
    p.write_text("0.1 0.2\n" * 100_000)                      # 800 kB
    monkeypatch.setenv("NEUROMOD_MEMORY_LIMIT", "1M")
    with pytest.raises(ResourceLimitError) as e:
        io.read(p)
    one_line(e, "long.txt", "800000 bytes")


NPZ_LIMITS = {
    "times header claims 1e10": [("times.npy", f8((10 ** 10,)), b"\0" * 8),
                                 ("ids.npy", i8((1,)), b"\0" * 8)],
    "ids header claims 1e10 x 1e10": [("times.npy", f8((1,)), b"\0" * 8),
                                      ("ids.npy", i8((10 ** 10, 10 ** 10)), b"")],
    "extra claims 2**40": [("times.npy", f8((0,)), b""), ("ids.npy", i8((0,)), b""),
                           ("junk.npy", f8((2 ** 40,)), b"")],
}


@pytest.mark.parametrize("members", NPZ_LIMITS.values(), ids=NPZ_LIMITS.keys())
def test_npz_headers_are_checked_before_loading(tmp_path, members):
    p = npz_with_header(tmp_path / "claims.npz", members)
    with pytest.raises(ResourceLimitError) as e:
        io.read(p)
    one_line(e, "claims.npz", "would allocate", "shape")


def test_npz_n_trains_scalar_is_bounded(tmp_path):
    p = tmp_path / "n.npz"
    np.savez(p, times=np.array([0.1]), ids=np.array([0]), n_trains=np.int64(10 ** 12))
    with pytest.raises(ResourceLimitError) as e:
        io.read(p)
    one_line(e, "n.npz", "1000000000000 trains")


def test_npz_header_claiming_more_than_the_data_is_truncated(tmp_path):
    p = npz_with_header(tmp_path / "short.npz", [("times.npy", f8((1000,)), b"\0" * 80),
                                                 ("ids.npy", i8((1000,)), b"\0" * 80)])
    with pytest.raises(FileFormatError) as e:
        io.read(p)
    one_line(e, "short.npz", "truncated")


@pytest.fixture(scope="module")
def neo_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("neo")
    st = SpikeTrains.from_list([[0.1, 0.5], [], [0.3]], t_stop=1.0,
                               annotations={"unit": [1, 1, 2], "trial": [0, 1, 0]})
    io.write(st, d / "base.nwb")
    io.write(st, d / "base.nix")
    return d


def edited(neo_files, tmp_path, ext, edit):
    import h5py
    p = tmp_path / f"edited.{ext}"
    shutil.copy(neo_files / f"base.{ext}", p)
    with h5py.File(p, "r+") as f:
        edit(f)
    return p


def replace(f, name, data):
    """Replace dataset ``name`` by ``data``, keeping its attributes."""
    attrs = dict(f[name].attrs)
    del f[name]
    ds = f.create_dataset(name, data=data, dtype=data.dtype)
    for k, v in attrs.items():
        ds.attrs[k] = v


@pytest.mark.parametrize("ext", ["nwb", "nix"])
def test_hdf5_datasets_claiming_huge_shapes_are_refused(neo_files, tmp_path, ext):
    p = edited(neo_files, tmp_path, ext,
               lambda f: f.create_dataset("huge", shape=(10 ** 11,), dtype="f8"))
    with pytest.raises(ResourceLimitError) as e:
        io.read(p)
    one_line(e, f"edited.{ext}", "'huge'", "would allocate")


def test_string_annotation_of_one_long_value_is_bounded(tmp_path, small_limit):
    # numpy would store 200,000 strings at the width of the longest (100,000 characters)
    p = tmp_path / "wide.txt"
    values = ["x" * 100_000] + [""] * 199_999
    p.write_text("# annotation: " + json.dumps({"name": "area", "values": values}) + "\n"
                 + "\n" * 200_000)
    with pytest.raises(ResourceLimitError) as e:
        io.read(p)
    one_line(e, "wide.txt", "'area'", "100000 characters")
    with pytest.raises(ResourceLimitError):
        check_annotation("area", values, len(values))


def test_concatenating_annotations_of_different_kinds_is_refused():
    a = SpikeTrains.from_list([[0.1]], t_stop=1.0, annotations={"area": ["V1"]})
    b = SpikeTrains.from_list([[0.2]], t_stop=1.0, annotations={"area": [3]})
    with pytest.raises(SpikeDataError) as e:
        SpikeTrains.concatenate([a, b])
    one_line(e, "'area'")


def test_time_rescaling_with_an_absurd_dt_is_refused():
    st = SpikeTrains.from_list([[0.1]], t_stop=1e300)
    with pytest.raises(SpikeDataError) as e:
        evaluation.time_rescaling_ks(st, np.ones(3), 1e-300)
    one_line(e, "too many bins")


def test_container_and_binning_bounds():
    with pytest.raises(ResourceLimitError) as e:
        SpikeTrains([0.1], [0], t_stop=1.0, n_trains=10 ** 12)
    one_line(e, "1000000000000 spike trains")
    with pytest.raises(ResourceLimitError) as e:
        SpikeTrains([0.1], [10 ** 11], t_stop=1.0)
    one_line(e, "spike trains")
    st = repeated_trials()
    with pytest.raises(ResourceLimitError) as e:
        st.bin(1e-12)
    one_line(e, "bin_size=1e-12")
    with pytest.raises(SpikeDataError):
        st.bin(1e-320)              # a quotient that is not even finite
    with pytest.raises(ResourceLimitError):
        SpikeTrains.from_binned([[10 ** 15]], 0.1)


STAT_CALLS = {
    "bin_counts": lambda st: rates.bin_counts(st, 1e-10),
    "psth": lambda st: rates.psth(st, 1e-10),
    "time_histogram": lambda st: rates.time_histogram(st, 1e-10),
    "windowed_fano": lambda st: rates.windowed_fano_factor(st, 1e-9),
    "noise_ceiling": lambda st: evaluation.split_half_noise_ceiling(st, 1e-7),
    "psth_correlation": lambda st: evaluation.psth_correlation(st, st, 1e-10),
    "cross_correlogram": lambda st: correlation.cross_correlogram(st, 0, 1, 1e-9),
    "instantaneous_rate": lambda st: rates.instantaneous_rate(st, 1e-10, kernel=0.01),
    "instantaneous_rate_kernel": lambda st: rates.instantaneous_rate(st, 1e-4, kernel=1e9),
    "units": lambda st: summary.repeated_trial_stats(st, 1e-9),
    "summarize_units": lambda st: summary.summarize(st, ("units",), bin_size=1e-9),
}


@pytest.mark.parametrize("call", STAT_CALLS.values(), ids=STAT_CALLS.keys())
def test_binned_statistics_refuse_tiny_bins_before_allocating(call):
    with pytest.raises(ResourceLimitError) as e:
        call(repeated_trials())
    one_line(e, "would allocate", "=")


PAIRWISE = {
    "van_rossum": lambda st: distances.van_rossum_distance(st),
    "victor_purpura": lambda st: distances.victor_purpura_distance(st),
    "isi_distance": lambda st: synchrony.isi_distance(st),
    "spike_distance": lambda st: synchrony.spike_distance(st),
    "spike_sync": lambda st: synchrony.spike_sync(st),
    "sttc_matrix": lambda st: correlation.sttc_matrix(st),
    "summarize": lambda st: summary.summarize(st, ("van_rossum",)),
}


@pytest.mark.parametrize("call", PAIRWISE.values(), ids=PAIRWISE.keys())
def test_pairwise_matrices_are_bounded(small_limit, call):
    st = SpikeTrains.from_list([[0.1]] * 3000, t_stop=1.0)     # 3000 x 3000 x 8 = 69 MiB
    with pytest.raises(ResourceLimitError) as e:
        call(st)
    one_line(e, "3000 trains", "limit 64 MiB")


def test_cli_stats_names_the_bin_size(tmp_path, capsys):
    from neuromod.cli import main
    p = tmp_path / "rep.txt"
    io.write(repeated_trials(), p)
    assert main(["stats", str(p), "--bin-size", "1e-9", "--measures", "units"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bin_size=1e-09" in err and "Traceback" not in err


# ------------------------------------------------------------------ index arrays
def _index(f, values, dtype="i8"):
    replace(f, "units/spike_times_index", np.asarray(values, dtype=dtype))


NWB_INDEX = {
    "past the data": (lambda f: _index(f, [2, 2, 9]), "unit 2 ends at 9, past the 3"),
    "decreasing": (lambda f: _index(f, [2, 0, 3]), "unit 1 ends at 0, before it starts (2)"),
    "negative": (lambda f: _index(f, [-1, 2, 3]), "unit 0 ends at -1 (negative)"),
    "float index": (lambda f: _index(f, [2.0, 2.0, 3.0], "f8"), "1-D integer array"),
    "obs_intervals past": (lambda f: replace(f, "units/obs_intervals_index",
                                             np.array([1, 2, 7], dtype="i8")),
                           "obs_intervals_index: unit 2 ends at 7"),
    "index shorter than the table": (lambda f: _index(f, [2, 3]), "has 2 rows for the 3 units"),
    "no target": (lambda f: f["units/spike_times_index"].attrs.__delitem__("target"),
                  "valid 'target'"),
}


@pytest.mark.parametrize("edit, words", NWB_INDEX.values(), ids=NWB_INDEX.keys())
def test_nwb_index_arrays_are_validated(neo_files, tmp_path, edit, words):
    p = edited(neo_files, tmp_path, "nwb", edit)
    with pytest.raises(FileFormatError) as e:
        io.read(p)
    one_line(e, "edited.nwb", words)


@pytest.mark.parametrize("offsets, n, words", [
    ([0, 2, 9], 5, "train 1 ends at 9, past the 5"),
    ([0, 3, 1], 5, "train 1 ends at 1, before it starts (3)"),
    ([-2, 0], 5, "train 0 starts at -2 (negative)"),
    ([[0, 1]], 5, "1-D integer"),
    (np.array([0, 2 ** 63], dtype=np.uint64), 5, "too large"),
])
def test_csr_offsets_are_validated(offsets, n, words):
    with pytest.raises(SpikeDataError) as e:
        check_offsets(offsets, n)
    one_line(e, words)


# ------------------------------------------------------------------ annotations
BAD_ANNOTATIONS = {
    "complex": np.array([1 + 2j, 3j]),
    "bytes": np.array([b"a", b"b"]),
    "datetime": np.array(["2020-01-01", "2021-01-01"], dtype="M8[D]"),
    "timedelta": np.array([1, 2], dtype="m8[s]"),
    "void": np.zeros(2, dtype="V4"),
    "structured": np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]),
    "object mixed": np.array([1, "a"], dtype=object),
    "object dicts": np.array([{}, {}], dtype=object),
    "list int str": [1, "a"],
    "list bool int": [True, 2],
    "list with None": [1, None],
    "nested": [[1], [2]],
    "2-D": np.zeros((2, 1)),
    "wrong length": [1, 2, 3],
}


@pytest.mark.parametrize("values", BAD_ANNOTATIONS.values(), ids=BAD_ANNOTATIONS.keys())
def test_container_refuses_unsupported_annotations(values):
    with pytest.raises(SpikeDataError) as e:
        SpikeTrains.from_list([[0.1], [0.2]], t_stop=1.0, annotations={"label": values})
    one_line(e, "'label'")


@pytest.mark.parametrize("values, dtype", [
    ([1, 2], np.int64), (np.array([1, 2], dtype=np.uint8), np.uint8), ([0.5, 1], np.float64),
    ([True, False], np.bool_), (["a", "bc"], np.dtype("<U2")),
    (np.array(["V1", "LGN"], dtype=object), np.dtype("<U3")), (7, np.int64),
])
def test_supported_annotations_are_kept(values, dtype):
    arr = check_annotation("x", values, 2)
    assert arr.dtype == dtype and arr.shape == (2,)


TEXT_ANNOTATIONS = {
    "complex dtype": '{"name": "a", "dtype": "<c16", "values": [1, 2]}',
    "object dtype": '{"name": "a", "dtype": "|O", "values": [1, 2]}',
    "void dtype": '{"name": "a", "dtype": "|V8", "values": [1, 2]}',
    "bytes dtype": '{"name": "a", "dtype": "|S3", "values": ["x", "y"]}',
    "datetime dtype": '{"name": "a", "dtype": "<M8[s]", "values": [1, 2]}',
    "structured dtype": '{"name": "a", "dtype": [["x", "<i4"]], "values": [1, 2]}',
    "mixed values": '{"name": "a", "values": [1, "x"]}',
    "null value": '{"name": "a", "values": [1, null]}',
    "nested value": '{"name": "a", "values": [[1], [2]]}',
    "deep nesting": '{"name": "a", "values": ' + "[" * 100000 + "]" * 100000 + "}",
}


@pytest.mark.parametrize("fmt", ["txt", "csv"])
@pytest.mark.parametrize("payload", TEXT_ANNOTATIONS.values(), ids=TEXT_ANNOTATIONS.keys())
def test_text_and_csv_annotations_are_checked_when_read(tmp_path, fmt, payload):
    p = tmp_path / f"ann.{fmt}"
    body = "0.1\n0.2\n" if fmt == "txt" else "id,time\n0,0.1\n1,0.2\n"
    p.write_text(f"# annotation: {payload}\n" + body)
    with pytest.raises(NeuromodError) as e:
        io.read(p)
    one_line(e, f"ann.{fmt}")


NPZ_ANNOTATIONS = {k: v for k, v in BAD_ANNOTATIONS.items()
                   if isinstance(v, np.ndarray) and v.dtype.kind != "O"}


@pytest.mark.parametrize("values", NPZ_ANNOTATIONS.values(), ids=NPZ_ANNOTATIONS.keys())
def test_npz_annotations_are_checked_when_read(tmp_path, values):
    p = tmp_path / "ann.npz"
    np.savez(p, times=np.array([0.1, 0.2]), ids=np.array([0, 1]), t_stop=np.float64(1),
             ann_label=values)
    with pytest.raises(NeuromodError) as e:
        io.read(p)
    one_line(e, "ann.npz", "'label'" if values.ndim == 1 else "ann_label")


def _nwb_names(names):
    def edit(f):
        import h5py
        replace(f, "units/_name", np.array(names, dtype=h5py.string_dtype()))
    return edit


NEO_ANNOTATIONS = {
    "nwb mixed": ("nwb", _nwb_names(['neuromod:{"x": 1}', 'neuromod:{"x": "a"}',
                                     'neuromod:{"x": 2}'])),
    "nwb bool and int": ("nwb", _nwb_names(['neuromod:{"x": true}', 'neuromod:{"x": 1}',
                                            'neuromod:{"x": 2}'])),
    "nwb deep JSON": ("nwb", _nwb_names(["neuromod:" + "[" * 100000] * 3)),
}


@pytest.mark.parametrize("ext, edit", NEO_ANNOTATIONS.values(), ids=NEO_ANNOTATIONS.keys())
def test_nwb_annotations_are_checked_when_read(neo_files, tmp_path, ext, edit):
    p = edited(neo_files, tmp_path, ext, edit)
    with pytest.raises(NeuromodError) as e:
        io.read(p)
    one_line(e, f"edited.{ext}")


def test_nix_annotation_of_mixed_types_is_refused(neo_files, tmp_path):
    import h5py

    def edit(f):
        names = []
        f.visit(lambda n: names.append(n) if n.endswith("properties/unit") else None)
        replace(f, names[0], np.array([b"V1"], dtype=h5py.string_dtype()))

    p = edited(neo_files, tmp_path, "nix", edit)
    with pytest.raises(NeuromodError) as e:
        io.read(p)
    one_line(e, "edited.nix", "'unit'")


def test_float_and_string_units_give_json_per_unit_stats():
    st = repeated_trials()
    for unit in (np.repeat([0.5, 1.5], 3), np.repeat(["a", "b"], 3)):
        st2 = SpikeTrains(st.times, st.ids, st.t_start, st.t_stop, st.n_trains,
                          annotations={"unit": unit})
        units = summary.repeated_trial_stats(st2)
        assert [u["unit"] for u in units] == sorted(set(unit.tolist()))
        json.dumps(units)


# ------------------------------------------------------------------ numba cache
def _unwritable_tree(tmp_path):
    """A copy of the package whose __pycache__ directories cannot be created (a file
    holds each name) and a HOME below a regular file: numba has no locator there."""
    root = tmp_path / "site"
    shutil.copytree(ROOT / "neuromod", root / "neuromod",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for d in [root, *[p for p in (root / "neuromod").rglob("*") if p.is_dir()],
              root / "neuromod"]:
        (d / "__pycache__").write_text("")
    (root / "probe.py").write_text(
        "from numba import njit\n\n@njit(cache=True)\ndef f(x):\n    return x + 1\n")
    (tmp_path / "homefile").write_text("")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONPATH")}
    env.update(HOME=str(tmp_path / "homefile" / "home"), TMPDIR=str(tmp),
               PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
    return root, tmp, env


def _run(args, env, cwd):
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_numba_has_no_locator_in_the_unwritable_setup(tmp_path):
    root, _, env = _unwritable_tree(tmp_path)
    r = _run(["-c", "import probe"], env, root)
    assert r.returncode != 0 and "no locator available" in r.stderr


def test_stats_falls_back_to_a_private_cache_with_one_warning(tmp_path):
    root, tmp, env = _unwritable_tree(tmp_path)
    spikes = tmp_path / "s.txt"
    spikes.write_text("0.1 0.2 0.35 0.5\n0.15 0.3 0.6\n")
    r = _run(["-m", "neuromod", "stats", str(spikes), "--measures", "cv,van_rossum"], env, root)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "warning" in lines[0] and "NUMBA_CACHE_DIR" in lines[0], lines
    cache = tmp / f"neuromod-numba-cache-{os.getuid()}"
    assert cache.is_dir() and (cache.stat().st_mode & 0o077) == 0
    assert any(cache.rglob("*.nbi"))                       # kernels were cached there
    # the compiled scanner too, and a second process reuses the directory silently
    r = _run(["-c", "import neuromod.io._parse, neuromod.stats._kernels"], env, root)
    assert r.returncode == 0 and r.stderr.count("\n") == 1, r.stderr


def test_numba_cache_helper_leaves_working_setups_alone(tmp_path, monkeypatch):
    from neuromod import runtime as _numba_cache
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    module = tmp_path / "pkg" / "mod.py"
    module.parent.mkdir()
    assert _numba_cache.ensure_cache_dir(str(module)) is None       # writable __pycache__
    assert "NUMBA_CACHE_DIR" not in os.environ
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert _numba_cache.ensure_cache_dir(str(module)) == str(tmp_path / "mine")


def test_numba_cache_refuses_a_shared_fallback_directory(tmp_path, monkeypatch, capsys):
    from neuromod import runtime as _numba_cache
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__pycache__").write_text("")
    (tmp_path / "homefile").write_text("")
    taken = tmp_path / "tmp" / f"neuromod-numba-cache-{os.getuid()}"
    taken.mkdir(parents=True)
    taken.chmod(0o777)                          # writable by others: never used
    monkeypatch.setenv("NUMBA_CACHE_DIR", "")   # empty is unset; restored afterwards
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "homefile" / "home"))
    monkeypatch.setattr(_numba_cache.tempfile, "tempdir", str(tmp_path / "tmp"))
    where = _numba_cache.ensure_cache_dir(str(tmp_path / "pkg" / "mod.py"))
    assert where and Path(where).is_dir() and Path(where) != taken
    assert os.environ["NUMBA_CACHE_DIR"] == where
    assert capsys.readouterr().err.count("\n") == 1
