"""CSV spike files (``.csv``): one spike per row, ``id,time``.

Format (see ``docs/io.md``)
---------------------------
* Optional header comments (lines starting with ``#``) before the column header:
  ``# t_start=A t_stop=B n_trains=N`` (any subset, on one line) and
  ``# annotation: {"name": ..., "dtype": ..., "values": [...]}`` lines.
* The column header ``id,time`` (or ``time,id``), then one spike per row: the
  train id (integer, 0..N-1) and the spike time in seconds. Rows need not be
  grouped by id; within one id, times must not decrease in row order (unless
  ``sort=True``). Blank lines and ``#`` comment lines between rows are skipped.
* Without ``n_trains``, N = max id + 1, so trailing empty trains need the comment.
* Times are written with ``repr(float)``: write -> read is bit-exact.
"""
import numpy as np

from neuromod.spikes.trains import check_n_trains

from neuromod.io._common import (
    HeaderComments, annotation_comments, comment_body, fail, invalid_token_message,
    is_directive, num, read_text_bytes, scan, write_text_file)

__all__ = ["read_csv", "write_csv"]

_KEYS = ("t_start", "t_stop", "n_trains")


def _header(path, data):
    """Walk the lines before the column header: (body offset, header line, id_first,
    :class:`HeaderComments`)."""
    pos, line = 0, 0
    header = HeaderComments(path, _KEYS)
    n = len(data)
    while pos < n:
        end = data.find(b"\n", pos)
        end = n if end < 0 else end
        line += 1
        text = data[pos:end].decode("utf-8").strip()
        pos = end + 1
        where = f"line {line}"
        if not text:
            continue
        if text.startswith("#"):
            header.add(comment_body(text), where)
            continue
        fields = [f.strip().strip('"').lower() for f in text.split(",")]
        if sorted(fields) != ["id", "time"]:
            shown = text if len(text) <= 40 else text[:37] + "..."
            fail(path, f"expected the column header 'id,time', found {shown!r}", where)
        return pos, line, fields[0] == "id", header
    fail(path, "no column header 'id,time' (and no spikes)")


def read_csv(path, *, sort=False, t_start=None, t_stop=None):
    """Read a CSV spike file (``id,time`` rows; times in seconds).

    Parameters
    ----------
    path : str or path-like
    sort : bool
        Accept and sort times that decrease within a train (default: error).
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
        ``spikes.csv: line 7: id '1.5' is not an integer``.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "s.csv")
    >>> _ = open(p, "w").write("# t_stop=1 n_trains=3\\nid,time\\n1,0.2\\n0,0.1\\n1,0.3\\n")
    >>> st = read_csv(p)
    >>> st.n_trains, st.counts.tolist()
    (3, [1, 2, 0])
    """
    data = read_text_bytes(path)
    start, head_line, id_first, header = _header(path, data)
    ids, bits, row_line, comments, _, error = scan(data, "csv", start, head_line, id_first)
    code, eline, s, e = error.tolist()
    if code:
        where = f"line {eline}"
        token = data[s:e]
        if code == 1:
            fail(path, "time: " + invalid_token_message(token), where)
        if code == 2:
            fail(path, f"id {token.decode('utf-8', 'replace')[:40]!r} is not an integer", where)
        n_fields = token.count(b",") + 1
        if code == 3:
            fail(path, f"expected 2 fields (id,time), found {n_fields}", where)
        fail(path, "empty field; expected id,time", where)
    for line, s, e in comments.tolist():
        if is_directive(comment_body(data[s:e].decode("utf-8"))):
            fail(path, "header comment after the column header; put it before 'id,time'",
                 f"line {line}")
    if ids.size and ids.min() < 0:
        k = int(np.flatnonzero(ids < 0)[0])
        fail(path, f"id {ids[k]} is negative; ids are 0..N-1", f"line {row_line[k]}")
    if "n_trains" in header.window:
        n_trains = header.window["n_trains"]
        if ids.size and ids.max() >= n_trains:
            k = int(np.flatnonzero(ids >= n_trains)[0])
            fail(path, f"id {ids[k]} outside 0..{n_trains - 1} (n_trains={n_trains} in "
                       f"{header.window_where})", f"line {row_line[k]}")
    else:
        n_trains = int(ids.max()) + 1 if ids.size else 0
        if n_trains:
            k = int(np.argmax(ids))
            check_n_trains(n_trains, ids.size, f"{path}: line {row_line[k]}: id {ids[k]} "
                                               f"({n_trains} trains, max id + 1)")
    return header.finish(bits.view(np.float64), ids, n_trains, t_start=t_start, t_stop=t_stop,
                         sort=sort, locate=lambda k: f"line {row_line[k]}")


def format_csv(st):
    """The CSV contents of ``st`` (str): window comment, annotations, header, rows."""
    head = [f"# t_start={num(st.t_start)} t_stop={num(st.t_stop)} n_trains={st.n_trains}"]
    head += annotation_comments(st)
    head.append("id,time")
    rows = map("{},{!r}".format, st.ids.tolist(), st.times.tolist())
    return "\n".join(head) + "\n" + "".join(r + "\n" for r in rows)


def write_csv(st, path):
    """Write ``st`` as a CSV spike file (atomically), grouped by train in time order.

    Examples
    --------
    >>> import tempfile, os
    >>> from neuromod.spikes import SpikeTrains
    >>> p = os.path.join(tempfile.mkdtemp(), "s.csv")
    >>> write_csv(SpikeTrains.from_list([[0.1], [], [0.2]], t_stop=1.0), p)
    >>> print(open(p).read())
    # t_start=0.0 t_stop=1.0 n_trains=3
    id,time
    0,0.1
    2,0.2
    <BLANKLINE>
    """
    write_text_file(path, format_csv(st))
