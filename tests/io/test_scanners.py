"""The pure-Python scanner (small files) and the compiled one (large files) return
identical arrays and identical errors on the same bytes."""
import numpy as np
import pytest

from neuromod.io import _parse, _pyparse
from neuromod.io._common import convert_fallback

NAMES_TEXT = ("bits", "counts", "train_line", "comments", "fallback", "error")
NAMES_CSV = ("ids", "bits", "row_line", "comments", "fallback", "error")


def _compiled(kind, data, *args):
    """The compiled scanner's arrays once the reader has converted its hand-backs
    with float() (the pure-Python scanner hands nothing back)."""
    out = list(getattr(_parse, "scan_" + kind)(np.frombuffer(data, np.uint8), *args,
                                               _parse.POW5_HI, _parse.POW5_LO))
    convert_fallback(data, out[0] if kind == "text" else out[1], out[4])
    out[4] = out[4][:0]
    return out


def _same(a, b, names):
    if a[-1][0] or b[-1][0]:             # on error only the error tuple matters
        assert a[-1].tolist() == b[-1].tolist()
        return
    for name, x, y in zip(names, a, b):
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), name


def _random_token(rng):
    r = rng.random()
    v = float(rng.uniform(-50, 50))
    if r < 0.5:
        return repr(v)
    if r < 0.7:
        return "%.*e" % (int(rng.integers(0, 25)), v)
    if r < 0.8:
        return rng.choice(["5.", ".5", "+1", "-0", "00012", "1E-3", "1e+02", "0" * 30 + "1.5"])
    if r < 0.9:
        return "%.30f" % v                # > 19 digits
    return rng.choice(["abc", "1.2.3", "nan", "1e", "--1", "1,5", "\u00e9", "1_0", "."])


@pytest.mark.parametrize("seed", range(6))
def test_text_scanners_agree(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        lines = []
        for _ in range(int(rng.integers(0, 12))):
            r = rng.random()
            if r < 0.15:
                lines.append(rng.choice(["# c", "  #x 1", "\t# t_start=0"]))
            elif r < 0.25:
                lines.append(rng.choice(["", " ", "\t\r", "\x0b"]))
            else:
                n = int(rng.integers(0, 6))
                seps = [rng.choice([" ", "\t", "  ", "\x0c"]) for _ in range(n)]
                lines.append("".join(s + _random_token(rng) for s in seps) + rng.choice(["", " ", "\r"]))
        data = ("\n".join(lines) + rng.choice(["", "\n"])).encode()
        _same(_pyparse.scan_text(data), _compiled("text", data), NAMES_TEXT)


@pytest.mark.parametrize("seed", range(6))
def test_csv_scanners_agree(seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(60):
        head = "# t_stop=10\nid,time\n"
        rows = []
        for _ in range(int(rng.integers(0, 12))):
            r = rng.random()
            if r < 0.1:
                rows.append(rng.choice(["# note", "", "  ", " \r"]))
            elif r < 0.8:
                idt = str(int(rng.integers(-2, 9))) if rng.random() < 0.9 else rng.choice(
                    ["1.5", "x", "", "1234567890123456789", "+3"])
                rows.append(rng.choice([" ", ""]) + idt + rng.choice([",", " , ", "\t,"])
                            + _random_token(rng) + rng.choice(["", " ", "\r"]))
            else:
                rows.append(rng.choice(["1,2,3", "5", ",0.1", "0,", "  ,  "]))
        data = (head + "\n".join(rows) + rng.choice(["", "\n"])).encode()
        start = data.index(b"id,time\n") + len(b"id,time\n")
        for id_first in (True, False):
            _same(_pyparse.scan_csv(data, start, 2, id_first),
                  _compiled("csv", data, start, 2, id_first), NAMES_CSV)
