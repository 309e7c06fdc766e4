"""Helpers shared by the spike-file formats: atomic writes, error messages naming
the file (and line or train), header directives, annotation encoding and the
common validation that turns parsed arrays into a :class:`SpikeTrains`."""
import errno
import json
import os
import re
import stat

import numpy as np

from neuromod.errors import FileFormatError, NeuromodError, ResourceLimitError, SpikeDataError
from neuromod.limits import check_allocation
from neuromod.spikes.trains import (
    ANNOTATION_KINDS, SpikeTrains, check_n_trains, check_str_annotation)
from neuromod.units import to_seconds

#: dtype kinds an annotation may have in every format (bool, int, uint, float, str).
SCALAR_KINDS = ANNOTATION_KINDS


def num(x):
    """Shortest text that reads back as the same float64 (``repr``)."""
    return repr(float(x))


def fail(path, message, where=None, cls=FileFormatError):
    """Raise ``cls`` with ``"<path>: <where>: <message>"`` (one line)."""
    prefix = f"{path}: " + (f"{where}: " if where else "")
    raise cls(prefix + " ".join(str(message).split()))


def check_exists(path):
    """Raise FileNotFoundError naming ``path`` unless it is an existing file."""
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))


def read_text_bytes(path):
    """The bytes of a text spike file, checked to be non-empty UTF-8 text.

    Raises FileFormatError for an empty file, NUL bytes or invalid UTF-8 (a binary
    file, e.g. a WAV file named ``.txt``) and for bare carriage returns (classic
    Mac line ends, which would silently merge lines).
    """
    check_exists(path)
    data = read_bounded(path, TEXT_BYTES_PER_BYTE)
    if not data:
        fail(path, "empty file")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        fail(path, "binary data (NUL bytes); not a text spike file")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        fail(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x}); binary file?", f"line {line}")
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        line = data.count(b"\n", 0, re.search(rb"\r(?!\n)", data).start()) + 1
        fail(path, "carriage return without line feed (old Mac line ends); "
                   "convert the file to \\n or \\r\\n line ends", f"line {line}")
    return data


#: Bytes a text or CSV file costs in memory per byte of the file while it is read:
#: the bytes, the scanned float64 bits and the container's arrays (~40 bytes per
#: spike) for a typical 10-20 bytes per spike.
TEXT_BYTES_PER_BYTE = 5


def read_bounded(path, per_byte=1, chunk=1 << 20):
    """The bytes of ``path``, refused (ResourceLimitError naming it) when ``per_byte``
    bytes of memory per byte of it would exceed ``NEUROMOD_MEMORY_LIMIT``: a regular
    file by its size before reading, anything else (a pipe, ``/dev/zero``) as it is
    read."""
    with open(path, "rb") as fh:
        info = os.fstat(fh.fileno())
        if stat.S_ISREG(info.st_mode):
            check_allocation(per_byte * info.st_size,
                             f"{path}: reading a file of {info.st_size} bytes")
            return fh.read()
        parts, total = [], 0
        while True:
            block = fh.read(chunk)
            if not block:
                return b"".join(parts)
            total += len(block)
            check_allocation((per_byte + 1) * total,
                             f"{path}: reading more than {total} bytes of input")
            parts.append(block)


def scan(data, kind, *args):
    """Scan the bytes of a text (``kind="text"``) or CSV (``"csv"``) spike file.

    Files below :data:`neuromod.io._pyparse.SMALL_FILE_BYTES` go through the
    pure-Python scanner, larger ones through the compiled one (numba is imported
    only then); ``args`` follow the bytes in the scanner's signature. Returns the
    scanner's arrays with the times it handed back already converted by
    :func:`convert_fallback`.
    """
    from neuromod.io import _pyparse
    name = "scan_" + kind
    if len(data) < _pyparse.SMALL_FILE_BYTES:
        scanned = getattr(_pyparse, name)(data, *args)
    else:
        from neuromod.io import _parse
        scanned = getattr(_parse, name)(np.frombuffer(data, dtype=np.uint8), *args,
                                        _parse.POW5_HI, _parse.POW5_LO)
    bits = scanned[0] if kind == "text" else scanned[1]
    convert_fallback(data, bits, scanned[4])
    return scanned


def convert_fallback(data, bits, fallback):
    """``float()`` for the few tokens the compiled scanner hands back (> 19 digits):
    ``fallback`` rows are (index into ``bits``, start, end) of the token in ``data``."""
    for k, s, e in fallback.tolist():
        bits[k] = np.float64(float(data[s:e])).view(np.uint64)


def invalid_token_message(token):
    t = token.decode("utf-8", "replace")
    shown = t if len(t) <= 40 else t[:37] + "..."
    if t.strip().lstrip("+-").lower() in ("nan", "inf", "infinity"):
        return f"spike time {shown} is not finite"
    return f"{shown!r} is not a number"


# --------------------------------------------------------------------- atomic write
def atomic_write(path, write, binary_suffix=""):
    """Write ``path`` all-or-nothing through ``write(tmp_path)``: see
    :func:`neuromod.outputs.atomic_write` (symlink targets replaced, character devices
    written directly, FIFOs refused, errors naming ``path``)."""
    from neuromod.outputs import atomic_write as _atomic_write
    _atomic_write(path, write, binary_suffix)


# --------------------------------------------------------------------- directives
_WINDOW_RE = re.compile(r"^\s*(t_start|t_stop|n_trains)\s*=")
_PAIR_RE = re.compile(r"\s*([A-Za-z_]\w*)\s*=\s*(\S+)")
_ANN_RE = re.compile(r"^\s*annotation\s*:")


def comment_body(text):
    """Text after the ``#`` of a comment line."""
    return text.lstrip()[1:]


def is_window_directive(body):
    return _WINDOW_RE.match(body) is not None


def is_annotation_directive(body):
    return _ANN_RE.match(body) is not None


def is_directive(body):
    """Whether a comment is a window or annotation directive (header comments only)."""
    return is_window_directive(body) or is_annotation_directive(body)


def parse_window_directive(path, body, where, keys, found):
    """Parse ``t_start=A t_stop=B n_trains=N`` (any subset of ``keys``) into ``found``."""
    pos = 0
    body = body.rstrip()
    while pos < len(body):
        m = _PAIR_RE.match(body, pos)
        if not m:
            fail(path, f"cannot parse {body[pos:].strip()!r} in the header comment; "
                       f"expected key=value pairs ({', '.join(keys)})", where)
        key, val = m.group(1), m.group(2)
        if key not in keys:
            fail(path, f"unknown key {key!r} in the header comment; expected {', '.join(keys)}", where)
        if key in found:
            fail(path, f"{key} given twice", where)
        if key == "n_trains":
            try:
                v = int(val)
            except ValueError:
                fail(path, f"n_trains={val!r} is not an integer", where)
            if v < 0:
                fail(path, f"n_trains={v} is negative", where)
            check_n_trains(v, what=f"{path}: {where}: n_trains={v}")
        else:
            try:
                v = float(val)
            except ValueError:
                fail(path, f"{key}={val!r} is not a number", where)
            if not np.isfinite(v):
                fail(path, f"{key}={val} is not finite", where)
        found[key] = v
        pos = m.end()
    return found


def annotation_items(name, values, target="this format", allow_none=False):
    """A per-train annotation as a list of Python scalars, checked to be writable to
    a format that holds bool, int, float and str values (``target`` names it in the
    message; ``allow_none`` also accepts None in object arrays): (items, dtype), the
    dtype as a numpy dtype string, ``"|O"`` for object arrays."""
    arr = np.asarray(values)
    if arr.dtype.kind == "O":
        items = arr.tolist()
        if not all((allow_none and v is None) or isinstance(v, (bool, int, float, str))
                   for v in items):
            raise FileFormatError(
                f"annotation {name!r}: only bool, int, float and str values can be written to {target}")
        return items, "|O"
    if arr.dtype.kind in SCALAR_KINDS:
        return arr.tolist(), arr.dtype.str
    raise FileFormatError(
        f"annotation {name!r} has dtype {arr.dtype}; only bool, int, float and str annotations "
        f"can be written to {target}")


def encode_annotation(name, values):
    """One-line JSON payload of ``# annotation: ...`` for a per-train annotation."""
    items, dtype = annotation_items(name, values, allow_none=True)
    return json.dumps({"name": str(name), "dtype": dtype, "values": items},
                      ensure_ascii=False, allow_nan=True)


def _short(v):
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def load_json(path, text, what, where=None):
    """``json.loads(text)``; invalid JSON (or nesting too deep to decode) is a
    FileFormatError naming ``path``, ``where`` and ``what``."""
    try:
        return json.loads(text)
    except RecursionError:
        fail(path, f"{what}: JSON nested too deeply to decode", where)
    except ValueError as exc:
        fail(path, f"{what} is not valid JSON ({getattr(exc, 'msg', exc)})", where)


def _json_kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "b"
    if isinstance(v, int):
        return "i"
    if isinstance(v, float):
        return "f"
    if isinstance(v, str):
        return "U"
    return "other"


def decode_annotation(path, payload, where):
    """Inverse of :func:`encode_annotation`: (name, array)."""
    obj = load_json(path, payload, "annotation comment", where)
    if not (isinstance(obj, dict) and isinstance(obj.get("name"), str)
            and isinstance(obj.get("values"), list)):
        fail(path, 'annotation comment must be {"name": ..., "dtype": ..., "values": [...]}', where)
    name, values = obj["name"], obj["values"]
    dtype = obj.get("dtype")
    try:
        dt = np.dtype(dtype) if isinstance(dtype, str) else None
    except (TypeError, ValueError, KeyError, SyntaxError):
        fail(path, f"annotation {name!r}: unknown dtype {_short(dtype)}", where)
    if dtype is not None and not isinstance(dtype, str):
        fail(path, f"annotation {name!r}: dtype must be a numpy dtype string such as '<i8', "
                   f"not {_short(dtype)}", where)
    if dt is None:
        kinds = {_json_kind(v) for v in values}
        if kinds <= {"b"}:
            dt = np.dtype(bool)
        elif kinds <= {"i"}:
            dt = np.dtype(np.int64)
        elif kinds <= {"i", "f"}:
            dt = np.dtype(np.float64)
        elif kinds <= {"U"}:
            dt = np.dtype(str)
        else:
            fail(path, f"annotation {name!r}: values of mixed types; give a dtype", where)
    if dt.kind not in SCALAR_KINDS or dt.fields is not None or dt.subdtype is not None:
        fail(path, f"annotation {name!r}: unsupported dtype {_short(dtype)}; annotations are "
                   "bool, int, unsigned int, float or str", where)
    allowed = {"b": {"b"}, "i": {"i"}, "u": {"i"}, "f": {"i", "f"}, "U": {"U"}}[dt.kind]
    bad = [v for v in values if _json_kind(v) not in allowed]
    if bad:
        fail(path, f"annotation {name!r}: value {_short(bad[0])} does not fit dtype {dt.str!r}",
             where)
    try:
        if dt.kind == "U":
            try:
                check_str_annotation(name, values)
            except ResourceLimitError as exc:
                fail(path, str(exc), where, ResourceLimitError)
            arr = np.asarray(values, dtype=str)
            if arr.dtype.itemsize < dt.itemsize:
                arr = arr.astype(dt)
        else:
            arr = np.asarray(values, dtype=dt)
    except (ValueError, TypeError, OverflowError) as exc:
        fail(path, f"annotation {name!r}: values do not fit dtype {dt.str!r} ({exc})", where)
    if arr.ndim != 1:
        fail(path, f"annotation {name!r}: values must be a flat list", where)
    return name, arr


class HeaderComments:
    """The window and annotation directives of a text or CSV file's header comments.

    ``keys`` are the window keys the format allows. :meth:`add` takes the comments
    in file order; :meth:`finish` builds the container with the file's window and
    annotations.
    """

    def __init__(self, path, keys):
        self.path = path
        self.keys = keys
        self.window = {}
        self.window_where = None
        self.annotations = {}          # name -> (array, where)

    def add(self, body, where):
        """Take one comment (``body``: the text after ``#``); plain comments are ignored."""
        if is_window_directive(body):
            if self.window:
                fail(self.path, "a second window comment", where)
            parse_window_directive(self.path, body, where, self.keys, self.window)
            self.window_where = where
        elif is_annotation_directive(body):
            name, arr = decode_annotation(self.path, body.split(":", 1)[1], where)
            if name in self.annotations:
                fail(self.path, f"annotation {name!r} given twice", where)
            self.annotations[name] = (arr, where)

    def finish(self, times, ids, n_trains, **kwargs):
        """Check that every annotation has ``n_trains`` values, then :func:`finish`
        with the file's window and annotations (``kwargs`` as there)."""
        for name, (arr, where) in self.annotations.items():
            if arr.size != n_trains:
                fail(self.path, f"annotation {name!r} has {arr.size} values for {n_trains} trains",
                     where)
        return finish(self.path, times, ids, n_trains,
                      file_t_start=self.window.get("t_start"),
                      file_t_stop=self.window.get("t_stop"), window_where=self.window_where,
                      annotations={k: v[0] for k, v in self.annotations.items()}, **kwargs)


def annotation_comments(st):
    """The ``# annotation: ...`` header lines of a text or CSV file for ``st``."""
    return ["# annotation: " + encode_annotation(name, values)
            for name, values in annotations_to_write(st).items()]


def write_text_file(path, text):
    """Write ``text`` to ``path`` as UTF-8 with ``\\n`` line ends, atomically."""
    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)

    atomic_write(path, write)


def annotations_to_write(st):
    """The annotations worth writing: ``unit``/``trial`` are left out when they are the
    container's integer defaults (``arange(n)`` and zeros), which reading recreates."""
    out = {}
    n = st.n_trains
    for key, val in st.annotations.items():
        val = np.asarray(val)
        if key == "unit" and val.dtype.kind in "iu" and np.array_equal(val, np.arange(n)):
            continue
        if key == "trial" and val.dtype.kind in "iu" and not np.any(val):
            continue
        out[key] = val
    return out


# --------------------------------------------------------------------- finishing
def _explicit(value, name):
    if value is None:
        return None
    v = to_seconds(value, name)
    if np.ndim(v) != 0 or not np.isfinite(v):
        raise SpikeDataError(f"{name} must be a finite number of seconds, got {value!r}")
    return float(v)


def finish(path, times, ids, n_trains, *, file_t_start=None, file_t_stop=None,
           window_where=None, annotations=None, t_start=None, t_stop=None, sort=False,
           locate=None, train_where=None):
    """Validate parsed spikes against the file's own rules and build the container.

    ``times``/``ids`` are in file order; ``locate(k)`` names spike ``k``'s place in
    the file ("line 12" or "train 3") and ``train_where(K)`` names train K.
    Errors: non-finite times, ``t_stop <= t_start`` in the file, spikes outside the
    file's declared window, unsorted times within a train (unless ``sort``).
    Explicit ``t_start``/``t_stop`` then override the window and cut spikes outside
    it (inclusive bounds, as :meth:`SpikeTrains.time_slice`).
    """
    locate = locate or (lambda k: f"train {ids[k]}")
    train_where = train_where or (lambda k: f"train {k}")
    check_n_trains(n_trains, np.size(times), f"{path}: {n_trains} trains")
    t_start = _explicit(t_start, "t_start")
    t_stop = _explicit(t_stop, "t_stop")
    times = np.asarray(times, dtype=np.float64)
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size:
        bad = (ids < 0) | (ids >= n_trains)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            fail(path, f"train id {ids[k]} outside 0..{n_trains - 1}", locate(k))
    nonfinite = ~np.isfinite(times)
    if nonfinite.any():
        k = int(np.flatnonzero(nonfinite)[0])
        fail(path, f"spike time {times[k]} is not finite", locate(k), SpikeDataError)
    if file_t_start is not None and file_t_stop is not None and not file_t_stop > file_t_start:
        fail(path, f"t_stop ({num(file_t_stop)} s) must be greater than t_start "
                   f"({num(file_t_start)} s)", window_where, SpikeDataError)
    if times.size and (file_t_start is not None or file_t_stop is not None):
        out = np.zeros(times.size, dtype=bool)
        if file_t_start is not None:
            out |= times < file_t_start
        if file_t_stop is not None:
            out |= times > file_t_stop
        if out.any():
            k = int(np.flatnonzero(out)[0])
            lo = "-inf" if file_t_start is None else num(file_t_start)
            hi = "inf" if file_t_stop is None else num(file_t_stop)
            fail(path, f"spike at {num(times[k])} s outside the file's window [{lo}, {hi}] s",
                 locate(k), SpikeDataError)
    if not sort and times.size > 1:
        grouped = not np.any(ids[1:] < ids[:-1])
        order = None if grouped else np.argsort(ids, kind="stable")
        t_o = times if grouped else times[order]
        i_o = ids if grouped else ids[order]
        dec = (i_o[1:] == i_o[:-1]) & (t_o[1:] < t_o[:-1])
        if dec.any():
            pos = np.flatnonzero(dec) + 1
            if grouped:
                j = int(pos[0])
                k, prev = j, j - 1
            else:
                j = int(pos[np.argmin(order[pos])])
                k, prev = int(order[j]), int(order[j - 1])
            fail(path, f"spike times not sorted within {train_where(int(ids[k]))} "
                       f"({num(times[k])} s after {num(times[prev])} s); sort them or "
                       "pass sort=True (--sort)", locate(k), SpikeDataError)
    t0 = t_start if t_start is not None else file_t_start
    t1 = t_stop if t_stop is not None else file_t_stop
    if (t_start is not None or t_stop is not None) and times.size:
        keep = np.ones(times.size, dtype=bool)
        if t_start is not None:
            keep &= times >= t_start
        if t_stop is not None:
            keep &= times <= t_stop
        if not keep.all():
            times, ids = times[keep], ids[keep]
    try:
        return SpikeTrains(times, ids, t_start=t0, t_stop=t1, n_trains=n_trains,
                           annotations=annotations, sort=sort)
    except NeuromodError as exc:
        if not isinstance(exc, SpikeDataError):
            fail(path, str(exc), None, type(exc))
        msg = re.sub(r"\btrain (\d+)", lambda m: train_where(int(m.group(1))), str(exc))
        if "cannot infer the window" in msg:
            msg = "no spikes and no t_stop in the file; give t_stop"
        fail(path, msg, None, SpikeDataError)


def one_line(exc):
    """The first line of an exception's message (for re-raising library errors)."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


__all__ = ["fail", "check_exists", "read_text_bytes", "atomic_write", "finish", "num",
           "annotation_items", "encode_annotation", "decode_annotation", "annotations_to_write",
           "parse_window_directive", "is_window_directive", "is_annotation_directive",
           "is_directive", "comment_body", "invalid_token_message", "one_line", "scan",
           "convert_fallback", "HeaderComments", "annotation_comments", "write_text_file",
           "load_json", "read_bounded"]
