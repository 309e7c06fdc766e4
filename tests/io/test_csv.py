"""CSV spike files: parsing rules (checked against Python's csv module as the
oracle). The bad inputs, each with the one-line message naming the file and the
line, are in ``test_contract.py``."""
import csv
import io

import numpy as np
import pytest

from neuromod.io import read, write
from neuromod.spikes import SpikeTrains

#: every test runs through both scanners (pure Python for small files, compiled for large)
pytestmark = pytest.mark.usefixtures("scanner")


def _read_csv(tmp_path, content, **kw):
    path = tmp_path / "s.csv"
    path.write_bytes(content.encode())
    return read(path, **kw)


def test_random_ungrouped_rows_match_the_csv_module(tmp_path):
    rng = np.random.default_rng(9)
    n = 25
    ids = rng.integers(0, n, 3000)
    times = rng.uniform(0, 50, ids.size)
    # rows of different trains interleaved; each train's own rows in time order
    per_train = {i: iter(np.sort(times[ids == i]).tolist()) for i in range(n)}
    rows = [(int(i), next(per_train[int(i)])) for i in ids]
    text = "# t_start=0 t_stop=50 n_trains=27\nid,time\n" + "".join(
        f"{i}, {t!r}\n" if k % 3 else f"{i},{t!r}\r\n" for k, (i, t) in enumerate(rows))
    st = _read_csv(tmp_path, text)
    ref = [[] for _ in range(27)]
    for row in list(csv.reader(io.StringIO(text)))[2:]:
        ref[int(row[0])].append(float(row[1]))
    assert st.n_trains == 27
    assert [t.tolist() for t in st.to_list()] == ref


def test_without_n_trains_the_count_is_max_id_plus_one(tmp_path):
    st = _read_csv(tmp_path, "id,time\n3,0.5\n0,0.1\n3,0.7\n")
    assert st.counts.tolist() == [1, 0, 0, 2]
    assert (st.t_start, st.t_stop) == (0.0, 0.7)


def test_n_trains_keeps_trailing_empty_trains(tmp_path):
    st = _read_csv(tmp_path, "# t_start=0 t_stop=1 n_trains=5\nid,time\n1,0.5\n")
    assert st.counts.tolist() == [0, 1, 0, 0, 0]


def test_header_only_with_window_is_zero_trains(tmp_path):
    st = _read_csv(tmp_path, "# t_start=0 t_stop=1\nid,time\n")
    assert st.n_trains == 0 and st.t_stop == 1.0


def test_time_first_header_blank_lines_and_comments(tmp_path):
    text = ("# exported by rig 3\n\n# annotation: {\"name\": \"unit\", \"values\": [7, 8]}\n"
            " time , id \n0.25,1\n\n# a note between rows\n0.5 , 0\n")
    st = _read_csv(tmp_path, text)
    assert [t.tolist() for t in st.to_list()] == [[0.5], [0.25]]
    assert st.annotations["unit"].tolist() == [7, 8]


def test_written_file_layout(tmp_path):
    st = SpikeTrains.from_list([[0.1, 0.25], [], [1.0], []], t_stop=2.0)
    path = tmp_path / "w.csv"
    write(st, path)
    assert path.read_text().splitlines() == [
        "# t_start=0.0 t_stop=2.0 n_trains=4", "id,time", "0,0.1", "0,0.25", "2,1.0"]
