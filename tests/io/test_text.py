"""Text spike files: the parsing rules, and one test per bad input checking that the
message names the file and the line."""
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


# ----------------------------------------------------------------- bad inputs
BAD = [
    ("0.1 0.2\n0.3 abc\n", r"line 2: 'abc' is not a number", FileFormatError),
    ("0.1\n# c\n0.2 1,5\n", r"line 3: '1,5' is not a number", FileFormatError),
    ("0.1\n0.2 nan\n", r"line 2: spike time nan is not finite", FileFormatError),
    ("0.1\n\n-inf\n", r"line 3: spike time -inf is not finite", FileFormatError),
    ("0.1 1e400\n", r"line 1: spike time inf is not finite", SpikeDataError),
    ("# t_start=0 t_stop=1\n0.5\n0.2 1.5\n", r"line 3: spike at 1.5 s outside the file's window \[0.0, 1.0\] s", SpikeDataError),
    ("# t_start=0.5\n0.7\n0.2\n", r"line 3: spike at 0.2 s outside", SpikeDataError),
    ("# t_start=2 t_stop=1\n0.5\n", r"line 1: t_stop \(1.0 s\) must be greater than t_start \(2.0 s\)", SpikeDataError),
    ("0.1\n0.3 0.2\n", r"line 2: spike times not sorted within line 2 \(0.2 s after 0.3 s\)", SpikeDataError),
    ("0.1\n# t_start=0 t_stop=1\n", r"line 2: header comment after the first train", FileFormatError),
    ("# t_start=0\n# t_stop=1\n0.5\n", r"line 2: a second window comment", FileFormatError),
    ("# t_start=abc\n0.5\n", r"line 1: t_start='abc' is not a number", FileFormatError),
    ("# t_start=0 speed=1\n0.5\n", r"line 1: unknown key 'speed'", FileFormatError),
    ("# t_stop=nan\n0.5\n", r"line 1: t_stop=nan is not finite", FileFormatError),
    ('# annotation: {"name": "unit", "values": [1, 2, 3]}\n0.1\n0.2\n',
     r"line 1: annotation 'unit' has 3 values for 2 trains", FileFormatError),
    ('# annotation: {"name": "unit", values: [1]}\n0.1\n', r"line 1: annotation comment is not valid JSON", FileFormatError),
    ('# annotation: {"name": "unit", "dtype": "<i8", "values": [1.5]}\n0.1\n',
     r"line 1: annotation 'unit': value 1.5 does not fit dtype '<i8'", FileFormatError),
    ("# only a comment\n", r"no spikes and no t_stop in the file; give t_stop", SpikeDataError),
    ("0.1\r0.2\r", r"line 1: carriage return without line feed", FileFormatError),
    ("", r"empty file", FileFormatError),
]


@pytest.mark.parametrize("content, pattern, cls", BAD)
def test_bad_input_names_file_and_line(tmp_path, content, pattern, cls):
    path = tmp_path / "bad.txt"
    path.write_bytes(content.encode())
    with pytest.raises(cls) as info:
        read(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: "), msg
    assert re.search(pattern, msg), msg
    assert "\n" not in msg


def test_binary_files_named_txt(tmp_path):
    rng = np.random.default_rng(0)
    wav = (b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"
           + rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    for name, data in (("tone.txt", wav),
                       ("noise.txt", rng.integers(128, 256, 4000, dtype=np.uint8).tobytes())):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(FileFormatError, match=r"binary|not UTF-8") as info:
            read(path)
        assert str(info.value).startswith(str(path))


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
