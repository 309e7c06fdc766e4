"""`neuromod stats`: output shape, agreement with the library, and user errors."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuromod import io
from neuromod.cli import main
from neuromod.spikes import SpikeTrains
from neuromod.stats import distances, isi, synchrony


@pytest.fixture
def spike_file(tmp_path):
    rng = np.random.default_rng(7)
    trains = [np.sort(rng.uniform(0, 2, rng.poisson(30))) for _ in range(6)]
    trains[4] = np.array([0.5, 1.0])   # fewer than 3 spikes: cv, cv2, lv undefined
    trains[5] = np.array([])           # empty train
    st = SpikeTrains.from_list(trains, t_start=0.0, t_stop=2.0)
    path = tmp_path / "trains.txt"
    io.write(st, path)
    return path, st


def run_json(capsys, *argv):
    assert main(["stats", *map(str, argv), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1            # exactly one JSON object
    return json.loads(out)


def test_json_shape_and_values_match_the_library(spike_file, capsys):
    path, st = spike_file
    r = run_json(capsys, path)
    assert set(r) == {"t_start", "t_stop", "n_trains", "measures", "per_train",
                      "population", "pairwise", "units"}
    assert r["units"] == []                 # every train is its own unit: no repeated trials
    assert (r["t_start"], r["t_stop"], r["n_trains"]) == (0.0, 2.0, 6)
    assert [set(p) for p in r["per_train"]] == [{"id", "n_spikes", "rate_hz", "cv", "cv2", "lv"}] * 6
    assert [p["n_spikes"] for p in r["per_train"]] == st.counts.tolist()
    np.testing.assert_allclose([p["rate_hz"] for p in r["per_train"]], st.counts / 2.0)
    cv = isi.cv(st)
    for p, c in zip(r["per_train"], cv):
        assert (p["cv"] is None) == bool(np.isnan(c))
        if p["cv"] is not None:
            assert p["cv"] == pytest.approx(c, rel=1e-12)
    assert r["per_train"][4]["cv"] is None and r["per_train"][4]["lv"] is None
    assert set(r["pairwise"]) == {"van_rossum", "victor_purpura", "isi_distance",
                                  "spike_distance", "spike_sync"}
    np.testing.assert_allclose(np.array(r["pairwise"]["van_rossum"], dtype=float),
                               distances.van_rossum_distance(st, tau=0.01), rtol=1e-12)
    np.testing.assert_allclose(np.array(r["pairwise"]["spike_distance"], dtype=float),
                               synchrony.spike_distance(st), rtol=1e-12, equal_nan=True)


def test_options_reach_the_computation(spike_file, capsys):
    path, st = spike_file
    r = run_json(capsys, path, "--tau", "0.005", "--q", "20", "--measures", "van_rossum,victor_purpura,cv")
    assert r["measures"] == ["van_rossum", "victor_purpura", "cv"]
    np.testing.assert_allclose(np.array(r["pairwise"]["van_rossum"], dtype=float),
                               distances.van_rossum_distance(st, tau=0.005), rtol=1e-12)
    np.testing.assert_allclose(np.array(r["pairwise"]["victor_purpura"], dtype=float),
                               distances.victor_purpura_distance(st, q=20.0), rtol=1e-12)
    assert r["pairwise"]["isi_distance"] is None
    assert r["per_train"][0]["rate_hz"] is None and r["per_train"][0]["cv"] is not None


def test_repeated_trials_get_per_unit_statistics(tmp_path, capsys):
    rng = np.random.default_rng(3)
    trains = [np.sort(rng.uniform(0, 1, 20)) for _ in range(7)]
    st = SpikeTrains.from_list(trains, t_stop=1.0, annotations={
        "unit": [4, 4, 4, 9, 9, 9, 9], "trial": [0, 1, 2, 0, 1, 2, 3]})
    path = tmp_path / "trials.npz"
    io.write(st, path)
    r = run_json(capsys, path, "--bin-size", "0.2", "--measures", "units")
    assert [(u["unit"], u["n_trials"]) for u in r["units"]] == [(4, 3), (9, 4)]
    from neuromod.stats import evaluation, rates
    nine = st.select(unit=9)
    assert r["units"][1]["fano_factor_windowed"] == pytest.approx(
        rates.windowed_fano_factor(nine, bin_size=0.2), rel=1e-12)
    assert r["units"][1]["noise_ceiling"] == pytest.approx(
        evaluation.split_half_noise_ceiling(nine, 0.2, seed=0), rel=1e-12)


def test_window_options_override_the_file(spike_file, capsys):
    path, st = spike_file
    r = run_json(capsys, path, "--t-start", "0.5", "--t-stop", "1.5", "--measures", "rates")
    assert (r["t_start"], r["t_stop"]) == (0.5, 1.5)
    expected = st.time_slice(0.5, 1.5).counts
    assert [p["n_spikes"] for p in r["per_train"]] == expected.tolist()


def test_table_output_and_plot(spike_file, capsys, tmp_path):
    path, _ = spike_file
    png = tmp_path / "fig.png"
    assert main(["stats", str(path), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "6 trains" in out and "van_rossum" in out and "Fano" in out
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("content, expect", [
    ("0.1 0.2\n0.5 abc\n", "line 2"),
    ("0.1 nan\n", "line 1"),
    ("0.3 0.2\n", "not sorted"),
    ("", "empty"),
])
def test_bad_files_give_one_line_and_exit_2(tmp_path, capsys, content, expect):
    p = tmp_path / "bad.txt"
    p.write_text(content)
    assert main(["stats", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.txt" in err and expect in err
    assert "Traceback" not in err


def test_sort_option_accepts_unsorted_times(tmp_path, capsys):
    p = tmp_path / "unsorted.txt"
    p.write_text("0.3 0.2 0.9\n0.1 0.4\n")
    r = run_json(capsys, p, "--sort", "--measures", "rates")
    assert [q["n_spikes"] for q in r["per_train"]] == [3, 2]


def test_missing_file_and_bad_options_exit_2(tmp_path, capsys):
    assert main(["stats", str(tmp_path / "nope.txt")]) == 2
    err = capsys.readouterr().err
    assert "nope.txt" in err and err.count("\n") == 1
    p = tmp_path / "ok.txt"
    p.write_text("0.1 0.2\n")
    assert main(["stats", str(p), "--measures", "cv,wobble"]) == 2
    err = capsys.readouterr().err
    assert "wobble" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as info:
        main(["stats", str(p), "--tau", "0"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--tau" in err and err.count("\n") == 1


def test_binary_file_is_refused(tmp_path, capsys):
    p = tmp_path / "noise.txt"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    assert main(["stats", str(p)]) == 2
    err = capsys.readouterr().err
    assert "noise.txt" in err and err.count("\n") == 1


def test_command_does_not_import_torch_brian2_or_elephant(spike_file):
    path, _ = spike_file
    code = ("import sys; from neuromod.cli import main; import io, contextlib\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main(['stats', {str(path)!r}, '--json'])\n"
            "print(','.join(m for m in ('torch', 'brian2', 'elephant') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_console_script_end_to_end(spike_file):
    path, _ = spike_file
    exe = Path(sys.executable).with_name("neuromod")
    out = subprocess.run([str(exe), "stats", str(path), "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["n_trains"] == 6
    assert "NaN" not in out.stdout


def test_json_text_is_that_of_the_json_module():
    from neuromod.cli.common import dumps, jsonable
    m = np.random.default_rng(2).random((6, 6))
    m = m + m.T
    m[1, 2], m[2, 3], m[3, 4] = np.nan, -0.0, np.inf
    cases = [
        {"m": m, "m32": m.astype(np.float32), "empty": np.zeros((2, 0)), "cube": np.ones((2, 2, 2)),
         "ints": np.arange(3), "bools": np.array([True, False]), "zero_d": np.array(np.nan)},
        {1: "a", "1": "b", None: [np.int64(3), np.float32(0.5), np.bool_(True), (1, 2)]},
        {"s": "h\u00e9llo \u2603 \"q\"\n", "f": [float("nan"), -0.0, 1e-300, 5e-324, 1e300]},
        [], {}, 3, "x", None, np.array([[1.5, 2.5], [2.5, -0.0]]),
    ]
    for obj in cases:
        assert dumps(obj) == json.dumps(jsonable(obj), allow_nan=False)
    with pytest.raises(TypeError):
        dumps({"x": object()})
