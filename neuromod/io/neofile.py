"""NIX (``.nix``) and NWB (``.nwb``) spike files through Neo's IO classes.

Neo, nixio and pynwb are imported only inside these functions.

Layout written by neuromod
--------------------------
One ``neo.Block`` with one ``Segment`` holding every train in container order,
each a ``neo.SpikeTrain`` in seconds on the common window.

* NIX (``neo.io.NixIO``): per-train annotations are Neo annotations (bool, int,
  float and str values round-trip; NIX stores ints as int64 and floats as
  float64). The block carries ``neuromod_t_start``, ``neuromod_t_stop`` and
  ``neuromod_n_trains`` so that zero trains keep their window.
* NWB (``neo.io.NWBIO``): Neo 0.14 writes only spike times, the observation
  interval (the window) and the train's *name* to the NWB units table; its
  annotations are dropped (``neo/io/nwbio.py``: "todo: handle annotations").
  Workaround: neuromod stores each train's annotations as JSON in its name,
  ``neuromod:{"unit": 3, "trial": 0}``, and decodes them on reading. JSON keeps
  bool/int/float/str (ints come back int64, floats float64). Neo also requires a
  ``session_start_time``: the time of writing (UTC) is used. Writing is not
  validated by default (pynwb's validator costs ~1.3 s); ``tests/io`` validates a
  written file once. An NWB file cannot hold zero trains this way (Neo writes no
  units table, so the window is lost): writing zero trains is an error.

Reading other files: every train of every segment of every block, in order.
The window is the trains' common window, or the union of their windows when they
differ (Neo keeps each train's spikes inside its own window). Scalar annotations
present on every train are kept (Neo's bookkeeping keys ``nix_name`` and
``nwb_group`` are not); when trains carry no ``trial`` and there is more than one
segment, the segment's running index becomes ``trial``. An annotation whose values
are not of one kind (bool, int, float or str; ints and floats become float) is an
error naming it.

Before Neo reads a file, h5py checks it: the declared sizes of its datasets
within ``NEUROMOD_MEMORY_LIMIT`` and, in NWB files, every ragged-array index
(``units/spike_times_index``...) non-negative, non-decreasing and within its data.

Speed (2-core machine, Neo 0.14.6): NIX writes ~40 ms and reads ~25 ms per train
(Neo makes a metadata section per train); NWB writes ~13 ms and reads ~2 ms per
train.
"""
import contextlib
import datetime
import io as _io
import json
import math
import os
import uuid
import warnings

import numpy as np

from neuromod.errors import FileFormatError, NeuromodError, SpikeDataError
from neuromod.io._common import (
    annotation_items, atomic_write, check_exists, fail, finish, load_json, one_line)
from neuromod.limits import check_allocation
from neuromod.spikes.trains import check_offsets

__all__ = ["read_nix", "write_nix", "read_nwb", "write_nwb", "NWB_NAME_PREFIX"]

#: Prefix of the train names that carry a train's annotations as JSON in NWB files.
NWB_NAME_PREFIX = "neuromod:"
_NEO_BOOKKEEPING = ("nix_name", "nwb_group")


def _neo_block(st, fmt):
    """One Neo block holding ``st`` as written to ``fmt`` ("NIX" or "NWB")."""
    import neo
    import quantities as pq
    ann = {str(key): annotation_items(key, values, fmt)[0]
           for key, values in st.annotations.items()}
    block = neo.Block(name="neuromod")
    seg = neo.Segment(name="neuromod")
    block.segments.append(seg)
    seg.block = block
    t0, t1 = st.t_start * pq.s, st.t_stop * pq.s
    for i, times in enumerate(st.to_list()):
        values = {k: v[i] for k, v in ann.items()}
        name = None
        if fmt == "NWB":
            name = NWB_NAME_PREFIX + json.dumps(values, allow_nan=True, ensure_ascii=False)
        train = neo.SpikeTrain(times, units=pq.s, t_start=t0, t_stop=t1, name=name)
        if fmt == "NIX":
            train.annotate(**values)
        train.segment = seg
        seg.spiketrains.append(train)
    if fmt == "NIX":
        block.annotate(neuromod_t_start=float(st.t_start), neuromod_t_stop=float(st.t_stop),
                       neuromod_n_trains=int(st.n_trains))
    return block


# Neo's IO class for each format, and how a block is saved to and loaded from it:
# NixIO is a context manager; NWBIO is closed by hand and warns freely (pynwb, hdmf).
def _neo_io(fmt):
    import neo.io
    return neo.io.NixIO if fmt == "NIX" else neo.io.NWBIO


def _save_nix(io_class, tmp, block):
    def write():
        io = io_class(tmp, mode="ow")
        try:
            io.write_block(block)
        finally:
            try:
                io.close()          # flushes: a full disk shows here
            except BaseException:
                io.nix_file = None  # NixIO.__del__ would retry the failed close
                raise
    _fail_quietly(write)


def _save_nwb(io_class, tmp, block):
    def write():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            io = io_class(tmp, mode="w",
                          session_start_time=datetime.datetime.now(datetime.timezone.utc),
                          identifier=str(uuid.uuid4()),
                          session_description="spike trains written by neuromod")
            io.write_all_blocks([block], validate=False)
    _fail_quietly(write)


def _fail_quietly(write):
    """Run ``write()`` with ``sys.stderr`` captured; on success pass on what it printed,
    on failure drop it and free what the write left, then raise its error.

    HDF5 objects freed while a write fails (a full disk) retry the write and print a
    traceback each ("Exception ignored in ... __dealloc__", straight to
    ``sys.stderr``); the temporary file they belong to is discarded by the caller
    anyway, and the error raised here is reported once, as one line.
    """
    import gc
    import io as _io
    import sys
    real, sys.stderr = sys.stderr, _io.StringIO()
    error = None
    try:
        write()
    except Exception as exc:
        error = exc
    finally:
        captured, sys.stderr = sys.stderr, real
    if error is None:
        real.write(captured.getvalue())
        return
    hook, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
    sys.stderr = _io.StringIO()
    try:
        link = error
        while link is not None:       # frees the frames (and the HDF5 objects) of write()
            link.__traceback__ = None
            link = link.__cause__ or link.__context__
        gc.collect()
    finally:
        sys.stderr, sys.unraisablehook = real, hook
    raise error


def _load_nix(io_class, path):
    with io_class(path, mode="ro") as io:
        return io.read_all_blocks()


def _load_nwb(io_class, path):
    io = io_class(path, mode="r")
    try:
        return io.read_all_blocks()
    finally:
        io.close()


def _write_neo(st, path, fmt):
    """Write ``st`` as one Neo block through Neo's IO for ``fmt`` (atomically).

    The HDF5 file is built in a private folder of the system's temporary directory and
    then copied next to the target with plain file IO: libhdf5 does not recover from a
    write that fails (a full disk) -- the half-written file stays open inside the
    library, which crashes the interpreter when it shuts down -- whereas a failing copy
    is an ordinary ``OSError`` (one line naming the target).
    """
    import shutil
    import tempfile
    io_class = _neo_io(fmt)
    block = _neo_block(st, fmt)
    save = _save_nix if fmt == "NIX" else _save_nwb

    def write(tmp):
        staging = tempfile.mkdtemp(prefix="neuromod-hdf5-")
        try:
            staged = os.path.join(staging, "spikes." + fmt.lower())
            save(io_class, staged, block)
            shutil.copyfile(staged, tmp)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    atomic_write(path, write, "." + fmt.lower())


def write_nix(st, path):
    """Write ``st`` as a NIX file through ``neo.io.NixIO`` (atomically).

    Examples
    --------
    >>> import tempfile, os
    >>> from neuromod.spikes import SpikeTrains
    >>> p = os.path.join(tempfile.mkdtemp(), "s.nix")
    >>> st = SpikeTrains.from_list([[0.1, 0.5], []], t_stop=1.0)
    >>> write_nix(st, p)
    >>> read_nix(p).equals(st)
    True
    """
    _write_neo(st, path, "NIX")


def write_nwb(st, path):
    """Write ``st`` as an NWB file through ``neo.io.NWBIO`` (atomically).

    Annotations travel as JSON in each train's name (Neo drops NWB annotations);
    ``session_start_time`` is the time of writing. Zero trains cannot be written.

    Examples
    --------
    >>> import tempfile, os
    >>> from neuromod.spikes import SpikeTrains
    >>> p = os.path.join(tempfile.mkdtemp(), "s.nwb")
    >>> st = SpikeTrains.from_list([[0.1, 0.5], []], t_stop=1.0, annotations={"unit": [4, 7]})
    >>> write_nwb(st, p)
    >>> read_nwb(p).annotations["unit"].tolist()
    [4, 7]
    """
    if st.n_trains == 0:
        raise FileFormatError(
            f"{path}: NWB files written through Neo cannot hold zero trains (the window "
            "would be lost); use .npz, .txt, .csv or .nix")
    _write_neo(st, path, "NWB")


#: Neo holds a file's arrays about this many times over while it builds its objects
#: (h5py's read, the quantities array, the container's copy).
_NEO_COPIES = 3


def _attr_text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def check_hdf5(path, fmt):
    """Check the HDF5 structure of a NIX/NWB file before Neo reads it: its datasets'
    declared sizes within ``NEUROMOD_MEMORY_LIMIT`` (an HDF5 dataset may claim any
    shape in a tiny file), and in NWB files every ragged-array index (``VectorIndex``
    such as ``units/spike_times_index``) non-negative, non-decreasing and within its
    target, and every column of a table as long as its ``id``."""
    import h5py
    try:
        fh = h5py.File(path, "r")
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as exc:   # h5py raises OSError (and others) for non-HDF5 files
        fail(path, f"not an HDF5 file, so not a {fmt} file ({one_line(exc)})")
    with fh:
        try:
            datasets, groups = [], []

            def visit(name, info):      # low-level: no Python object per HDF5 object
                if info.type == h5py.h5o.TYPE_DATASET:
                    datasets.append(name)
                elif info.type == h5py.h5o.TYPE_GROUP:
                    groups.append(name)

            h5py.h5o.visit(fh.id, visit, info=True)
            total, largest = 0, (0, None, None)
            for name in datasets:
                ds = h5py.h5d.open(fh.id, name)
                shape = ds.get_space().shape
                if shape is None:          # null dataspace
                    continue
                nbytes = math.prod(shape) * max(ds.get_type().get_size(), 1)
                total += nbytes
                if nbytes >= largest[0]:
                    largest = (nbytes, name.decode("utf-8", "replace"), shape)
            if largest[1] is not None:
                check_allocation(_NEO_COPIES * total,
                                 f"{path}: HDF5 datasets (largest {largest[1]!r} of shape "
                                 f"{largest[2]})")
            if fmt == "NWB":
                for name in groups:
                    name = name.decode("utf-8", "replace")
                    _check_table(path, fh, name, fh[name], h5py)
        except NeuromodError:
            raise
        except Exception as exc:   # damaged files: h5py/libhdf5 raise many types
            fail(path, f"cannot read as a {fmt} file ({type(exc).__name__}: {one_line(exc)})")


def _check_table(path, fh, name, group, h5py):
    """Index arrays and column lengths of one NWB ``DynamicTable`` group."""
    row = "unit" if name.split("/")[-1] == "units" else "row"
    for key, ds in group.items():
        if not isinstance(ds, h5py.Dataset):
            continue
        if _attr_text(ds.attrs.get("neurodata_type")) != "VectorIndex":
            continue
        where = f"{path}: {name}/{key}"
        ref = ds.attrs.get("target")
        try:
            target = fh[ref]
        except Exception:
            fail(path, f"{name}/{key}: index without a valid 'target' dataset")
        if not isinstance(target, h5py.Dataset) or not target.shape:
            fail(path, f"{name}/{key}: index target is not an array")
        try:
            check_offsets(ds[()], target.shape[0], where, row, ends=True)
        except SpikeDataError as exc:
            raise FileFormatError(str(exc)) from None
    ids = group.get("id")
    colnames = group.attrs.get("colnames")
    if not isinstance(ids, h5py.Dataset) or colnames is None or not ids.shape:
        return
    n = ids.shape[0]
    for col in np.atleast_1d(colnames).tolist():
        col = _attr_text(col)
        if not isinstance(col, str):
            continue
        ds = group.get(col + "_index", group.get(col))
        if isinstance(ds, h5py.Dataset) and ds.shape and ds.shape[0] != n:
            fail(path, f"{name}/{ds.name.split('/')[-1]} has {ds.shape[0]} rows for the {n} "
                       f"{row}s of {name}/id")


def _read_blocks(path, fmt):
    check_exists(path)
    check_hdf5(path, fmt)
    try:
        # Neo's NWBIO prints some complaints on stdout ("Unable to read this version of
        # NWB file"), which would corrupt the output of ``neuromod stats --json``.
        with warnings.catch_warnings(), contextlib.redirect_stdout(_io.StringIO()):
            warnings.simplefilter("ignore")
            load = _load_nix if fmt == "NIX" else _load_nwb
            blocks = load(_neo_io(fmt), str(path))
    except NeuromodError:
        raise
    except Exception as exc:   # h5py/nixio/pynwb raise many types for foreign files
        fail(path, f"cannot read as a {fmt} file ({type(exc).__name__}: {one_line(exc)})")
    return blocks


def _scalar(v):
    """A per-train annotation value as a Python scalar; None for array, list, dict or
    null values (not per-train scalars, left out). Scalars of other types (bytes,
    complex, datetime...) are returned as they are, for the container to refuse."""
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v.item()
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or isinstance(v, (np.ndarray, list, tuple, dict, set)):
        return None
    return v


def _seconds(path, q, what, where):
    """A Neo quantity in seconds as float64 (one line naming the train otherwise)."""
    try:
        return np.asarray(q.rescale("s").magnitude, dtype=np.float64)
    except Exception as exc:   # quantities raises ValueError/TypeError... for non-time units
        fail(path, f"{what} not in units of time ({one_line(exc)})", where)


def _block_number(path, ann, key, kind, default=None):
    """A number the block's annotations declare (``neuromod_t_start``...)."""
    v = _scalar(ann.get(key, default))
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    if ok and kind is int:
        ok = isinstance(v, int) or float(v).is_integer()
    if not ok or not math.isfinite(v):
        fail(path, f"block annotation {key} = {_short(ann.get(key))} is not "
                   f"{'an integer' if kind is int else 'a finite number'}")
    return kind(v)


def _short(v):
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _read_neo(path, fmt, sort, t_start, t_stop):
    blocks = _read_blocks(path, fmt)
    trains, seg_of, n_segments = [], [], 0
    for block in blocks:
        for seg in block.segments:
            for s in seg.spiketrains:
                trains.append(s)
                seg_of.append(n_segments)
            n_segments += 1
    n = len(trains)
    times = [_seconds(path, s.times, "spike times", f"train {k}").ravel()
             for k, s in enumerate(trains)]
    counts = np.array([t.size for t in times], dtype=np.int64)
    flat = np.concatenate(times) if n else np.empty(0)
    ids = np.repeat(np.arange(n, dtype=np.int64), counts)
    # the file's window
    file_t0 = file_t1 = None
    marks = [b.annotations for b in blocks if "neuromod_t_start" in b.annotations]
    if len(blocks) == 1 and marks:
        file_t0 = _block_number(path, marks[0], "neuromod_t_start", float)
        file_t1 = _block_number(path, marks[0], "neuromod_t_stop", float)
        declared_n = _block_number(path, marks[0], "neuromod_n_trains", int, n)
        if declared_n != n:
            fail(path, f"the block declares {declared_n} trains but holds {n}")
    elif n:
        starts = [float(_seconds(path, s.t_start, "t_start", f"train {k}"))
                  for k, s in enumerate(trains)]
        stops = [float(_seconds(path, s.t_stop, "t_stop", f"train {k}"))
                 for k, s in enumerate(trains)]
        file_t0, file_t1 = min(starts), max(stops)
    # annotations
    per_train = []
    for k, s in enumerate(trains):
        ann = {key: _scalar(v) for key, v in s.annotations.items() if key not in _NEO_BOOKKEEPING}
        name = s.name if isinstance(s.name, str) else ""
        if name.startswith(NWB_NAME_PREFIX):
            decoded = load_json(path, name[len(NWB_NAME_PREFIX):],
                                "annotations in the train name", f"train {k}")
            if not isinstance(decoded, dict):
                fail(path, "annotations in the train name must be a JSON object", f"train {k}")
            ann.update({key: _scalar(v) for key, v in decoded.items()})
        per_train.append(ann)
    annotations = {}
    if n:
        keys = set(per_train[0])
        for ann in per_train[1:]:
            keys &= set(ann)
        for key in sorted(keys):
            vals = [ann[key] for ann in per_train]
            if any(v is None for v in vals):
                continue          # non-scalar annotation: not a per-train value
            annotations[key] = vals   # checked by the container: one supported kind
        if "trial" not in annotations and n_segments > 1:
            annotations["trial"] = np.asarray(seg_of, dtype=np.int64)
    return finish(path, flat, ids, n, file_t_start=file_t0, file_t_stop=file_t1,
                  annotations=annotations, t_start=t_start, t_stop=t_stop, sort=sort)


def read_nix(path, *, sort=False, t_start=None, t_stop=None):
    """Read spike trains from a NIX file through ``neo.io.NixIO``.

    Parameters
    ----------
    path : str or path-like
    sort : bool
        Accept and sort unsorted times within a train (default: error).
    t_start, t_stop : float or quantity, optional
        Window overriding the file's; spikes outside it are cut.

    Returns
    -------
    SpikeTrains

    Examples
    --------
    >>> import tempfile, os
    >>> from neuromod.spikes import SpikeTrains
    >>> p = os.path.join(tempfile.mkdtemp(), "s.nix")
    >>> write_nix(SpikeTrains.from_list([[0.1, 0.5], [0.2]], t_stop=1.0), p)
    >>> read_nix(p, t_stop=0.3).counts.tolist()
    [1, 1]
    """
    return _read_neo(path, "NIX", sort, t_start, t_stop)


def read_nwb(path, *, sort=False, t_start=None, t_stop=None):
    """Read spike trains from an NWB file through ``neo.io.NWBIO``.

    Train annotations written by neuromod (JSON in the train name) are decoded.

    Parameters
    ----------
    path : str or path-like
    sort : bool
        Accept and sort unsorted times within a train (default: error).
    t_start, t_stop : float or quantity, optional
        Window overriding the file's; spikes outside it are cut.

    Returns
    -------
    SpikeTrains

    Examples
    --------
    >>> import tempfile, os
    >>> from neuromod.spikes import SpikeTrains
    >>> p = os.path.join(tempfile.mkdtemp(), "s.nwb")
    >>> write_nwb(SpikeTrains.from_list([[0.1, 0.5], [0.2]], t_stop=1.0), p)
    >>> read_nwb(p).counts.tolist()
    [2, 1]
    """
    return _read_neo(path, "NWB", sort, t_start, t_stop)
