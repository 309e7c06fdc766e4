"""NumPy ``.npz`` spike files, with room for extra arrays and JSON configuration.

Keys (see ``docs/io.md``)
-------------------------
``times``      float64 (n_spikes,) spike times in seconds           (required)
``ids``        int64 (n_spikes,) train index of each spike          (required)
``t_start``    0-d float64, ``t_stop`` 0-d float64                  (optional window)
``n_trains``   0-d int64 (default max id + 1)                       (optional)
``ann_<name>`` (n_trains,) per-train annotation ``<name>`` (bool, int, uint, float or str)
``_json_extras`` 1-d str: names of the extras stored as JSON text
anything else  an "extra", returned by :func:`read_npz` and ignored by ``read``.

Extras are arrays (stored as they are) or JSON-able dicts (stored as a 0-d str
array of JSON text and listed in ``_json_extras``). Object arrays are refused on
write and never loaded (no pickle). Each member's ``.npy`` header (shape and dtype)
is read first, and the archive is refused when its arrays would exceed
``NEUROMOD_MEMORY_LIMIT``, before any array is allocated.
"""
import json
import math
import zipfile

import numpy as np
from numpy.lib import format as npy_format

from neuromod.errors import FileFormatError, NeuromodError
from neuromod.io._common import atomic_write, check_exists, fail, finish, load_json, one_line
from neuromod.limits import check_allocation

__all__ = ["read_npz", "write_npz", "RESERVED_KEYS", "ANNOTATION_PREFIX", "JSON_EXTRAS_KEY"]

ANNOTATION_PREFIX = "ann_"
JSON_EXTRAS_KEY = "_json_extras"
RESERVED_KEYS = ("times", "ids", "t_start", "t_stop", "n_trains", JSON_EXTRAS_KEY)


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _scalar(path, arr, key, kind):
    if arr.size != 1 or arr.dtype.kind not in kind:
        fail(path, f"{key!r} must be a single {'integer' if kind == 'iu' else 'number'}, "
                   f"got shape {arr.shape} dtype {arr.dtype}")
    return arr.reshape(()).item()


def _array_header(path, key, fh):
    """(shape, fortran_order, dtype) of the ``.npy`` member open in ``fh``, read from
    its header alone (nothing of the data is read)."""
    npy = npy_format
    try:
        version = npy.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(fh)
        elif version == (3, 0) and hasattr(npy, "_read_array_header"):
            shape, fortran, dtype = npy._read_array_header(fh, version)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except Exception as exc:   # numpy raises ValueError, SyntaxError, TypeError... for bad headers
        if isinstance(exc, NeuromodError):
            raise
        fail(path, f"array {key!r}: bad .npy header ({one_line(exc)})")
    if any(d < 0 for d in shape):
        fail(path, f"array {key!r}: negative dimension in shape {shape}")
    return shape, fortran, dtype


def _read_member(path, zf, info, total):
    """The array stored in zip member ``info``: its header's shape and dtype are
    checked (no object arrays, the size within ``NEUROMOD_MEMORY_LIMIT`` together with
    the ``total`` bytes of the arrays read before it) before anything is allocated.
    Returns (key, array, bytes)."""
    name = info.filename
    key = name[:-4] if name.endswith(".npy") else name
    with zf.open(info) as fh:
        if fh.read(6) != b"\x93NUMPY":
            fail(path, f"member {name!r} is not a .npy array")
        fh.seek(0)
        shape, fortran, dtype = _array_header(path, key, fh)
        if dtype.hasobject:
            fail(path, f"cannot read array {key!r}: object arrays are not loaded "
                       "(allow_pickle=False)")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        check_allocation(total + max(nbytes, count),
                         f"{path}: array {key!r} of shape {shape} dtype {dtype}")
    # the size is known and bounded: numpy reads the member (its header again, then
    # the data into one array of that size)
    with zf.open(info) as fh:
        try:
            arr = npy_format.read_array(fh, allow_pickle=False)
        except ValueError as exc:        # data shorter than the header says
            fail(path, f"array {key!r} is truncated or damaged ({one_line(exc)})")
    return key, arr, nbytes


def load_arrays(path):
    """Every array of an ``.npz`` archive, read without pickles and within
    ``NEUROMOD_MEMORY_LIMIT``; one-line errors naming ``path``."""
    check_exists(path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"\x93NUM":
        fail(path, "a single .npy array, not an .npz archive with 'times' and 'ids'")
    if magic[:2] != b"PK":      # every .npz is a zip archive
        fail(path, "not an .npz archive (a zip file of .npy arrays); is it another format?")
    out = {}
    total = 0
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                key, arr, nbytes = _read_member(path, zf, info, total)
                total += nbytes
                out[key] = arr
    except (NeuromodError, MemoryError, KeyboardInterrupt):
        raise
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as exc:   # zipfile/zlib raise many types for damaged archives
        fail(path, f"not a readable .npz archive ({type(exc).__name__}: {one_line(exc)})")
    return out


def read_npz(path, *, sort=False, t_start=None, t_stop=None):
    """Read an ``.npz`` spike file and its extras.

    Parameters
    ----------
    path : str or path-like
    sort : bool
        Accept and sort unsorted times within a train (default: error).
    t_start, t_stop : float or quantity, optional
        Window overriding the file's; spikes outside it are cut (inclusive bounds).

    Returns
    -------
    spike_trains : SpikeTrains
    extras : dict
        Every non-reserved key: arrays as stored, JSON extras decoded to dicts.

    Examples
    --------
    >>> import tempfile, os
    >>> from neuromod.spikes import SpikeTrains
    >>> p = os.path.join(tempfile.mkdtemp(), "s.npz")
    >>> st = SpikeTrains.from_list([[0.1, 0.5], []], t_stop=1.0)
    >>> write_npz(st, p, extras={"config": {"fs": 16000}, "cf": [100.0, 200.0]})
    >>> st2, extras = read_npz(p)
    >>> st2.equals(st), extras["config"], extras["cf"].tolist()
    (True, {'fs': 16000}, [100.0, 200.0])
    """
    arrays = load_arrays(path)
    for key in ("times", "ids"):
        if key not in arrays:
            fail(path, f"no {key!r} array (an .npz spike file holds 'times' and 'ids')")
    times, ids = arrays["times"], arrays["ids"]
    if times.ndim != 1 or times.dtype.kind not in "iuf":
        fail(path, f"'times' must be a 1-D float array, got shape {times.shape} dtype {times.dtype}")
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        fail(path, f"'ids' must be a 1-D integer array, got shape {ids.shape} dtype {ids.dtype}")
    if times.size != ids.size:
        fail(path, f"'times' and 'ids' differ in length ({times.size} vs {ids.size})")
    if ids.dtype.kind == "u" and ids.size and ids.max() > np.iinfo(np.int64).max:
        fail(path, "'ids' too large")
    ids = ids.astype(np.int64)
    if ids.size and ids.min() < 0:
        k = int(np.flatnonzero(ids < 0)[0])
        fail(path, f"ids[{k}] = {ids[k]} is negative")
    file_t0 = _scalar(path, arrays["t_start"], "t_start", "iuf") if "t_start" in arrays else None
    file_t1 = _scalar(path, arrays["t_stop"], "t_stop", "iuf") if "t_stop" in arrays else None
    for key, v in (("t_start", file_t0), ("t_stop", file_t1)):
        if v is not None and not np.isfinite(v):
            fail(path, f"{key} = {v} is not finite")
    if "n_trains" in arrays:
        n_trains = int(_scalar(path, arrays["n_trains"], "n_trains", "iu"))
        if n_trains < 0:
            fail(path, f"n_trains = {n_trains} is negative")
        if ids.size and ids.max() >= n_trains:
            k = int(np.flatnonzero(ids >= n_trains)[0])
            fail(path, f"ids[{k}] = {ids[k]} outside 0..{n_trains - 1} (n_trains = {n_trains})")
    else:
        n_trains = int(ids.max()) + 1 if ids.size else 0
    annotations = {}
    for key, arr in arrays.items():
        if key.startswith(ANNOTATION_PREFIX):
            name = key[len(ANNOTATION_PREFIX):]
            if arr.shape != (n_trains,):
                fail(path, f"annotation {key!r} has shape {arr.shape}; expected ({n_trains},)")
            annotations[name] = arr
    json_keys = set()
    if JSON_EXTRAS_KEY in arrays:
        jk = arrays[JSON_EXTRAS_KEY]
        if jk.dtype.kind != "U" or jk.ndim != 1:
            fail(path, f"{JSON_EXTRAS_KEY!r} must be a 1-D str array")
        json_keys = set(jk.tolist())
    extras = {}
    for key, arr in arrays.items():
        if key in RESERVED_KEYS or key.startswith(ANNOTATION_PREFIX):
            continue
        if key in json_keys:
            if arr.dtype.kind != "U" or arr.size != 1:
                fail(path, f"JSON extra {key!r} must be a single string")
            extras[key] = load_json(path, arr.reshape(()).item(), f"JSON extra {key!r}")
        else:
            extras[key] = arr
    st = finish(path, times.astype(np.float64, copy=False), ids, n_trains,
                file_t_start=None if file_t0 is None else float(file_t0),
                file_t_stop=None if file_t1 is None else float(file_t1),
                annotations=annotations, t_start=t_start, t_stop=t_stop, sort=sort)
    return st, extras


def _extras_arrays(extras):
    out, json_keys = {}, []
    for key, value in (extras or {}).items():
        if not isinstance(key, str) or not key:
            raise FileFormatError(f"extras key {key!r} must be a non-empty string")
        if key in RESERVED_KEYS or key.startswith(ANNOTATION_PREFIX):
            raise FileFormatError(
                f"extras key {key!r} is reserved (reserved: {', '.join(RESERVED_KEYS)}, "
                f"{ANNOTATION_PREFIX}*)")
        if isinstance(value, dict):
            try:
                text = json.dumps(value, default=_json_default, allow_nan=True)
            except (TypeError, ValueError) as exc:
                raise FileFormatError(f"extras[{key!r}] cannot be stored as JSON: {exc}") from None
            out[key] = np.array(text)
            json_keys.append(key)
        else:
            arr = np.asarray(value)
            if arr.dtype.kind == "O":
                raise FileFormatError(
                    f"extras[{key!r}] is an object array; store arrays of numbers/strings, "
                    "or a dict (saved as JSON) -- pickled objects are not written")
            out[key] = arr
    if json_keys:
        out[JSON_EXTRAS_KEY] = np.array(json_keys)
    return out


def npz_arrays(st, extras=None):
    """The arrays written for ``st`` (and ``extras``), by key."""
    arrays = {"times": np.asarray(st.times, dtype=np.float64),
              "ids": np.asarray(st.ids, dtype=np.int64),
              "t_start": np.float64(st.t_start), "t_stop": np.float64(st.t_stop),
              "n_trains": np.int64(st.n_trains)}
    for name, values in st.annotations.items():
        arr = np.asarray(values)
        if arr.dtype.kind == "O":
            items = arr.tolist()
            if all(isinstance(v, str) for v in items):
                arr = np.asarray(items, dtype=str)
            else:
                raise FileFormatError(
                    f"annotation {name!r} is an object array; only arrays of numbers, bools "
                    "or strings can be written to .npz (no pickle)")
        arrays[ANNOTATION_PREFIX + name] = arr
    arrays.update(_extras_arrays(extras))
    return arrays


def write_npz(st, path, extras=None):
    """Write ``st`` (and ``extras``) as an uncompressed ``.npz`` file, atomically.

    Parameters
    ----------
    st : SpikeTrains
    path : str or path-like
    extras : dict, optional
        Name -> array (stored as is) or dict (stored as JSON text). Keys may not be
        ``times``, ``ids``, ``t_start``, ``t_stop``, ``n_trains``, ``_json_extras``
        or start with ``ann_``.

    Examples
    --------
    >>> import tempfile, os
    >>> from neuromod.spikes import SpikeTrains
    >>> p = os.path.join(tempfile.mkdtemp(), "s.npz")
    >>> write_npz(SpikeTrains.from_list([[0.1]], t_stop=1.0), p)
    >>> sorted(np.load(p).files)
    ['ann_trial', 'ann_unit', 'ids', 'n_trains', 't_start', 't_stop', 'times']
    """
    arrays = npz_arrays(st, extras)

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(path, write)
