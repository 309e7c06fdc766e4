"""Text spike files: the parsing rules. The bad inputs, each with the one-line
message naming the file and the line, are in ``test_contract.py``."""
import re

import numpy as np
import pytest

from neuromod.errors import FileFormatError, NeuromodError, SpikeDataError
from neuromod.io import read, write
from neuromod.spikes import SpikeTrains

#: every test runs through both scanners (pure Python for small files, compiled for large)
pytestmark = pytest.mark.usefixtures("scanner")


def _read_text(tmp_path, content, name="s.txt", **kw):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return read(path, **kw), str(path)


def _reference(text):
    """The rules of the format, spelled out in plain Python (independent of the
    compiled scanner): lines split at \\n, the final \\n starts no line, comment lines
    (first non-blank '#') use no id, tokens are floats."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return [[float(t) for t in line.split()] for line in lines
            if not line.strip().startswith("#")]


def test_random_files_match_the_reference_reading(tmp_path):
    rng = np.random.default_rng(42)
    for trial in range(20):
        lines = []
        for _ in range(int(rng.integers(0, 40))):
            kind = rng.random()
            if kind < 0.15:
                lines.append(rng.choice([" ", "\t", ""]) + "# a comment 1.5 x")
            elif kind < 0.3:
                lines.append(rng.choice(["", "  ", "\t"]))
            else:
                t = np.sort(rng.uniform(0, 10, int(rng.integers(1, 30))))
                fmt = rng.choice(["%r", "%.17g", "%.6e", "%.3f"])
                toks = [repr(v) if fmt == "%r" else fmt % v for v in t.tolist()]
                seps = rng.choice([" ", "  ", "\t", " \t "], size=len(toks))
                lines.append("".join(s + x for s, x in zip(seps, toks)).lstrip()
                             + rng.choice(["", " ", "\t"]))
        eol = rng.choice(["\n", "\r\n"])
        text = "# t_start=0 t_stop=10" + eol + eol.join(lines) + rng.choice(["", eol])
        st, _ = _read_text(tmp_path, text, sort=True)
        ref = _reference(text)
        assert st.n_trains == len(ref), trial
        for got, want in zip(st.to_list(), ref):
            assert got.tolist() == sorted(want)


@pytest.mark.parametrize("content, counts", [
    ("0.1 0.2", [2]),              # no final newline
    ("0.1 0.2\n", [2]),            # the final newline starts no train
    ("0.1 0.2\n\n", [2, 0]),       # ... but an empty line after it is an empty train
    ("0.1\n\n\n", [1, 0, 0]),
    ("\n0.1\n", [0, 1]),
    ("0.1\r\n\r\n0.2\r\n", [1, 0, 1]),   # CRLF line ends
    ("\ufeff0.1\n", [1]),                 # UTF-8 byte-order mark
])
def test_lines_are_trains_and_the_final_newline_rule(tmp_path, content, counts):
    st, _ = _read_text(tmp_path, content)
    assert st.counts.tolist() == counts


def test_comments_use_no_id_and_blank_runs_separate_tokens(tmp_path):
    text = ("# recorded 2024\n# t_start=0 t_stop=2\n  # indented comment\n"
            "0.1\t0.2   0.3\n# between trains\n\n1.5\n# t_start is when the tone began\n")
    st, _ = _read_text(tmp_path, text)
    assert st.to_list()[0].tolist() == [0.1, 0.2, 0.3]
    assert st.counts.tolist() == [3, 0, 1]
    assert (st.t_start, st.t_stop) == (0.0, 2.0)


def test_window_comment_with_one_key(tmp_path):
    st, _ = _read_text(tmp_path, "# t_stop = 5\n0.5 1\n")
    assert (st.t_start, st.t_stop) == (0.0, 5.0)
    st, _ = _read_text(tmp_path, "#t_start=-1\n0.5 1\n")
    assert (st.t_start, st.t_stop) == (-1.0, 1.0)


def test_annotation_comments(tmp_path):
    text = ('# annotation: {"name": "unit", "dtype": "<i8", "values": [5, 5]}\n'
            '# annotation: {"name": "area", "values": ["V1", "MT"]}\n'
            '# annotation: {"name": "snr", "values": [1, 2.5]}\n'
            "0.1\n0.2\n")
    st, _ = _read_text(tmp_path, text)
    assert st.annotations["unit"].tolist() == [5, 5]
    assert st.annotations["area"].tolist() == ["V1", "MT"]
    assert st.annotations["snr"].dtype == np.float64
    assert st.annotations["trial"].tolist() == [0, 0]


def test_written_file_is_readable_text(tmp_path):
    st = SpikeTrains.from_list([[0.1, 0.25], [], [1.0]], t_stop=2.0,
                               annotations={"trial": [0, 1, 1]})
    path = tmp_path / "w.txt"
    write(st, path)
    lines = path.read_text().splitlines()
    assert lines[1] == "# t_start=0.0 t_stop=2.0"
    assert lines[2].startswith('# annotation: {"name": "trial"')
    assert lines[3:] == ["0.1 0.25", "", "1.0"]


# ----------------------------------------------------------------- messages
def test_long_tokens_are_shortened_in_messages(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("0.1 " + "x" * 500 + "\n")
    with pytest.raises(FileFormatError) as info:
        read(path)
    assert len(str(info.value)) < 200


def test_explicit_window_errors_name_the_file(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("0.1 0.5\n")
    with pytest.raises(SpikeDataError, match=re.escape(f"{path}: t_stop")):
        read(path, t_start=0.4, t_stop=0.2)
    with pytest.raises(NeuromodError, match="finite"):
        read(path, t_stop=float("nan"))


def test_digits_beyond_nineteen_are_converted_exactly(tmp_path):
    # the compiled parser hands these to float(); the result must still be exact
    tok = "0.1000000000000000055511151231257827021181583404541015625"
    st, _ = _read_text(tmp_path, f"{tok} 0.2\n")
    assert st.times[0] == float(tok)
