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

from neuromod.io._common import (
    HeaderComments, annotation_comments, comment_body, fail, invalid_token_message,
    is_directive, num, read_text_bytes, scan, write_text_file)

__all__ = ["read_text", "write_text"]


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
    bits, counts, train_line, comments, _, error = scan(data, "text")
    if error[0]:
        fail(path, invalid_token_message(data[error[2]:error[3]]), f"line {error[1]}")
    n_trains = counts.size
    first_train_line = int(train_line[0]) if n_trains else None
    header = HeaderComments(path, ("t_start", "t_stop"))
    for line, s, e in comments.tolist():
        body = comment_body(data[s:e].decode("utf-8"))
        where = f"line {line}"
        if is_directive(body) and first_train_line is not None and line > first_train_line:
            fail(path, "header comment after the first train; put window and annotation "
                       "comments before the first line of spike times", where)
        header.add(body, where)
    times = bits.view(np.float64)
    ids = np.repeat(np.arange(n_trains, dtype=np.int64), counts)
    offsets = np.concatenate(([0], np.cumsum(counts)))

    def locate(k):
        return f"line {train_line[np.searchsorted(offsets, k, side='right') - 1]}"

    def train_where(i):
        return f"line {train_line[i]}" if 0 <= i < n_trains else f"train {i}"

    return header.finish(times, ids, n_trains, t_start=t_start, t_stop=t_stop, sort=sort,
                         locate=locate, train_where=train_where)


def format_text(st):
    """The text-file contents of ``st`` (str)."""
    head = ["# neuromod spike trains: one train per line, spike times in seconds",
            f"# t_start={num(st.t_start)} t_stop={num(st.t_stop)}"]
    head += annotation_comments(st)
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
    write_text_file(path, format_text(st))
