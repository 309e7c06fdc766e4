"""Pure-Python twins of the compiled scanners in :mod:`neuromod.io._parse`, for small files.

Loading numba and the cached kernels costs ~0.3-1 s in a fresh process, far more
than parsing a small file in Python (~1 us per spike). Files below
:data:`SMALL_FILE_BYTES` are scanned here; results are identical to the kernels'
(same arrays, same error codes and spans), which ``tests/io/test_scanners.py``
checks on random and malformed files. Conversion is Python's ``float()`` on
tokens first checked against the same strict decimal grammar.
"""
import re

import numpy as np

__all__ = ["SMALL_FILE_BYTES", "scan_text", "scan_csv"]

#: Files smaller than this (bytes) are parsed in Python, larger ones by the kernels.
SMALL_FILE_BYTES = 1 << 21   # 2 MiB, ~100k spikes: ~0.2 s in Python, below the kernels' start-up

_WS = b" \t\r\x0b\x0c"
_NUMBER = rb"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_TOKEN_RE = re.compile(_NUMBER)
_LINE_RE = re.compile(rb"[ \t\r\x0b\x0c]*(?:" + _NUMBER + rb"(?:[ \t\r\x0b\x0c]+|$))*")
_INT_RE = re.compile(rb"[+-]?[0-9]{1,18}")
_NONBLANK_RE = re.compile(rb"[^ \t\r\x0b\x0c]+")


def _lines(data, start=0):
    """(line start, line end) byte offsets from ``start``; the final line feed starts no line."""
    out = []
    pos, n = start, len(data)
    while pos < n:
        end = data.find(b"\n", pos)
        if end < 0:
            end = n
        out.append((pos, end))
        pos = end + 1
    return out


def _bits(values):
    return np.array(values, dtype=np.float64).view(np.uint64)


def _no_fallback():
    return np.empty((0, 3), dtype=np.int64)


def scan_text(data):
    """Same outputs as :func:`neuromod.io._parse.scan_text` for ``data`` (bytes)."""
    values, counts, train_line, comments = [], [], [], []
    error = np.zeros(4, dtype=np.int64)
    for line_no, (s, e) in enumerate(_lines(data), start=1):
        line = data[s:e]
        body = line.lstrip(_WS)
        if body[:1] == b"#":
            comments.append((line_no, s, e))
            continue
        train_line.append(line_no)
        if not _LINE_RE.fullmatch(line):
            for m in _NONBLANK_RE.finditer(line):
                if not _TOKEN_RE.fullmatch(m.group()):
                    error[:] = (1, line_no, s + m.start(), s + m.end())
                    break
            counts.append(0)
            break
        toks = line.split()
        counts.append(len(toks))
        values.extend(map(float, toks))
    return (_bits(values), np.array(counts, dtype=np.int64),
            np.array(train_line, dtype=np.int64),
            np.array(comments, dtype=np.int64).reshape(-1, 3), _no_fallback(), error)


def scan_csv(data, start, line0, id_first):
    """Same outputs as :func:`neuromod.io._parse.scan_csv` for ``data`` (bytes)."""
    ids, values, row_line, comments = [], [], [], []
    error = np.zeros(4, dtype=np.int64)
    for k, (s, e) in enumerate(_lines(data, start)):
        line_no = line0 + 1 + k
        line = data[s:e]
        body = line.lstrip(_WS)
        if not body:
            continue
        if body[:1] == b"#":
            comments.append((line_no, s, e))
            continue
        if line.count(b",") != 1:
            error[:] = (3, line_no, s, e)
            break
        j = s + len(line) - len(body)
        comma = data.index(b",", j, e)
        a0, a1 = j, j + len(data[j:comma].rstrip(_WS))
        field_b = data[comma + 1:e]
        b0 = comma + 1 + len(field_b) - len(field_b.lstrip(_WS))
        b1 = b0 + len(field_b.strip(_WS))
        if a1 == a0 or b1 == b0:
            error[:] = (4, line_no, s, e)
            break
        (i0, i1), (t0, t1) = ((a0, a1), (b0, b1)) if id_first else ((b0, b1), (a0, a1))
        if not _INT_RE.fullmatch(data, i0, i1):
            error[:] = (2, line_no, i0, i1)
            break
        if not _TOKEN_RE.fullmatch(data, t0, t1):
            error[:] = (1, line_no, t0, t1)
            break
        ids.append(int(data[i0:i1]))
        values.append(float(data[t0:t1]))
        row_line.append(line_no)
    return (np.array(ids, dtype=np.int64), _bits(values), np.array(row_line, dtype=np.int64),
            np.array(comments, dtype=np.int64).reshape(-1, 3), _no_fallback(), error)
