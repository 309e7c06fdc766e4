"""Plain-text spike files (``.txt``): one train per line.

Format (see ``docs/io.md``)
---------------------------
* Every line that is not a comment is one train, numbered from 0 in file order;
  its spike times (seconds) are separated by blanks (space, tab). An empty line
  is an empty train. The line feed that ends the last line does not start
  another train (``"0.1\\n"`` is one train, ``"0.1\\n\\n"`` two).
* A line whose first non-blank character is ``#`` is a comment and uses no id.
* Header directives are comments before the first train:
  ``# t_start=A t_stop=B`` sets the window (either key may be left out);
  ``# annotation: {"name": "unit", "dtype": "<i8", "values": [...]}`` gives one
  per-train annotation (one value per train, JSON, numpy dtype string).
* Times are written with ``repr(float)``, the shortest text that reads back to
  the same double, so write -> read is bit-exact.
"""
import numpy as np

from neuromod.io import _pyparse
from neuromod.io._common import (
    atomic_write, comment_body, decode_annotation, encode_annotation, fail, finish,
    annotations_to_write, invalid_token_message, is_annotation_directive,
    is_window_directive, num, parse_window_directive, read_text_bytes)

__all__ = ["read_text", "write_text"]


def _convert_fallback(data, bits, fallback):
    """float() for the few tokens the compiled parser hands back (> 19 digits)."""
    for k, s, e in fallback.tolist():
        bits[k] = np.float64(float(data[s:e])).view(np.uint64)


def read_text(path, *, sort=False, t_start=None, t_stop=None):
    """Read a text spike file: one train per line, spike times in seconds.

    Parameters
    ----------
    path : str or path-like
    sort : bool
        Accept and sort unsorted times within a line (default: error).
    t_start, t_stop : float or quantity, optional
        Window overriding the file's; spikes outside it are cut (inclusive bounds,
        as :meth:`SpikeTrains.time_slice`).

    Returns
    -------
    SpikeTrains

    Raises
    ------
    FileFormatError, SpikeDataError
        Messages name the file and line, e.g.
        ``spikes.txt: line 4: 'abc' is not a number``.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "s.txt")
    >>> _ = open(p, "w").write("# t_start=0 t_stop=1\\n0.1 0.5\\n\\n0.25\\n")
    >>> st = read_text(p)
    >>> st.n_trains, st.counts.tolist(), st.t_stop
    (3, [2, 0, 1], 1.0)
    """
    data = read_text_bytes(path)
    if len(data) < _pyparse.SMALL_FILE_BYTES:
        scanned = _pyparse.scan_text(data)
    else:
        from neuromod.io import _parse
        scanned = _parse.scan_text(np.frombuffer(data, dtype=np.uint8),
                                   _parse.POW5_HI, _parse.POW5_LO)
    bits, counts, train_line, comments, fallback, error = scanned
    if error[0]:
        fail(path, invalid_token_message(data[error[2]:error[3]]), f"line {error[1]}")
    if fallback.size:
        _convert_fallback(data, bits, fallback)
    n_trains = counts.size
    first_train_line = int(train_line[0]) if n_trains else None
    window, window_line, annotations = {}, None, {}
    for line, s, e in comments.tolist():
        body = comment_body(data[s:e].decode("utf-8"))
        where = f"line {line}"
        directive = is_window_directive(body) or is_annotation_directive(body)
        if directive and first_train_line is not None and line > first_train_line:
            fail(path, "header comment after the first train; put window and annotation "
                       "comments before the first line of spike times", where)
        if is_window_directive(body):
            if window:
                fail(path, "a second window comment", where)
            parse_window_directive(path, body, where, ("t_start", "t_stop"), window)
            window_line = where
        elif is_annotation_directive(body):
            name, arr = decode_annotation(path, body.split(":", 1)[1], where)
            if name in annotations:
                fail(path, f"annotation {name!r} given twice", where)
            annotations[name] = (arr, where)
    for name, (arr, where) in annotations.items():
        if arr.size != n_trains:
            fail(path, f"annotation {name!r} has {arr.size} values for {n_trains} trains", where)
    times = bits.view(np.float64)
    ids = np.repeat(np.arange(n_trains, dtype=np.int64), counts)
    offsets = np.concatenate(([0], np.cumsum(counts)))

    def locate(k):
        return f"line {train_line[np.searchsorted(offsets, k, side='right') - 1]}"

    def train_where(i):
        return f"line {train_line[i]}" if 0 <= i < n_trains else f"train {i}"

    return finish(path, times, ids, n_trains,
                  file_t_start=window.get("t_start"), file_t_stop=window.get("t_stop"),
                  window_where=window_line,
                  annotations={k: v[0] for k, v in annotations.items()},
                  t_start=t_start, t_stop=t_stop, sort=sort, locate=locate,
                  train_where=train_where)


def format_text(st):
    """The text-file contents of ``st`` (str)."""
    head = ["# neuromod spike trains: one train per line, spike times in seconds",
            f"# t_start={num(st.t_start)} t_stop={num(st.t_stop)}"]
    for name, values in annotations_to_write(st).items():
        head.append("# annotation: " + encode_annotation(name, values))
    tokens = list(map(repr, st.times.tolist()))
    bounds = st.offsets.tolist()
    lines = [" ".join(tokens[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return "\n".join(head + lines) + "\n"


def write_text(st, path):
    """Write ``st`` as a text spike file (atomically). See :func:`read_text`.

    Examples
    --------
    >>> import tempfile, os
    >>> from neuromod.spikes import SpikeTrains
    >>> p = os.path.join(tempfile.mkdtemp(), "s.txt")
    >>> write_text(SpikeTrains.from_list([[0.1, 0.5], []], t_stop=1.0), p)
    >>> print(open(p).read().splitlines()[-2:])
    ['0.1 0.5', '']
    """
    text = format_text(st)

    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)

    atomic_write(path, write)
