"""``neuromod fit``: one model on a recording file, the files it writes, resuming,
comparisons, and one-line errors."""
import json

import numpy as np
import pytest

import neuromod
from neuromod.cli import main


def _run(capsys, *argv):
    try:
        rc = main(["fit", *argv])
    except SystemExit as exc:
        rc = exc.code
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.fixture(scope="module")
def rec_file(tmp_path_factory):
    import importlib.util
    import pathlib
    spec = importlib.util.spec_from_file_location(
        "retina_conftest", pathlib.Path(__file__).parents[1] / "retina" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from neuromod.retina.recording import save_recording
    path = tmp_path_factory.mktemp("rec") / "toy.npz"
    save_recording(path, mod.make_recording(train_s=20.0, test_s=2.0, trials=6))
    return path


def test_fit_writes_the_run_and_reports_json(rec_file, tmp_path, capsys):
    out = tmp_path / "run"
    rc, text, _ = _run(capsys, "cnn", str(rec_file), "--epochs", "3", "--out", str(out),
                       "--json")
    assert rc == 0
    r = json.loads(text)
    assert r["model"] == "cnn" and r["n_units"] == 3 and r["bin_size"] == 0.001
    for key in ("psth_corr", "noise_ceiling", "fev", "bits_per_spike", "van_rossum",
                "van_rossum_data", "fano_model", "fano_data", "short_isi_frac_model",
                "short_isi_frac_data", "ks", "psth_corr_per_unit"):
        assert key in r["test"], key
    names = sorted(p.name for p in out.iterdir())
    assert {"model.npz", "report.json", "test_spikes.npz", "raster.png", "psth.png",
            "summary.png", "checkpoint.npz"} <= set(names)
    from neuromod import io
    st = io.read(out / "test_spikes.npz")
    assert st.n_trains == 3 * 6 and st.t_stop == pytest.approx(2.0)
    assert set(np.asarray(st.annotations["trial"]).tolist()) == set(range(6))
    model = neuromod.load(out / "model.npz")
    assert model.kind == "cnn"
    # resume continues the same run with more epochs
    first = json.loads((out / "report.json").read_text())["history"]
    rc, text, _ = _run(capsys, "cnn", str(rec_file), "--epochs", "4", "--out", str(out),
                       "--resume", "--json")
    again = json.loads((out / "report.json").read_text())["history"]
    assert rc == 0 and len(first) == 3 and len(again) == 4 and again[:3] == first


def test_compare_writes_the_table(rec_file, tmp_path, capsys):
    out = tmp_path / "cmp"
    rc, text, _ = _run(capsys, "--compare", "cnn,tecos", str(rec_file), "--epochs", "1",
                       "--out", str(out), "--json")
    assert rc == 0
    r = json.loads(text)
    assert [x["model"] for x in r["reports"]] == ["cnn", "tecos"]
    for name in ("comparison.json", "comparison.csv", "comparison.png"):
        assert (out / name).is_file()


def test_compare_on_a_local_cluster_equals_in_process(rec_file, tmp_path, capsys):
    """The fits of --compare as Dask tasks on 2 workers give the reports of the same
    fits in-process (to the rounding of another thread count)."""
    reps = {}
    for where in ("none", "local:2"):
        rc, text, _ = _run(capsys, "--compare", "ln,glm", str(rec_file), str(rec_file),
                           "--out", str(tmp_path / where.replace(":", "")), "--scheduler",
                           where, "--json")
        assert rc == 0
        reps[where] = json.loads(text)["reports"]
    assert [r["model"] for r in reps["local:2"]] == ["ln", "glm", "ln", "glm"]
    for a, b in zip(reps["none"], reps["local:2"]):
        for key in ("psth_corr", "bits_per_spike", "fano_model"):
            assert b["test"][key] == pytest.approx(a["test"][key], rel=1e-4), key
    for name in ("glm-toy.npz", "glm-toy.npz-2"):      # the same data twice: two runs
        assert neuromod.load(tmp_path / "local2" / name / "model.npz").kind == "glm"


@pytest.mark.parametrize("argv, message", [
    (["nosuch"], "unknown model"),
    (["--compare", "ln,nosuch"], "--compare"),
    (["glm", "/no/such/recording.npz"], "/no/such/recording.npz"),
    (["tecos", "--train-spikes", "a.nix"], "separate inputs need"),
    (["ln", "--resume"], "--resume"),
    (["cnn", "--bin-size", "-1ms"], "--bin-size"),
])
def test_bad_input_is_one_line(tmp_path, capsys, argv, message):
    rc, _, err = _run(capsys, *argv, "--out", str(tmp_path / "o"))
    assert rc == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_killed_tecos_fit_resumes_to_the_same_model(rec_file, tmp_path, kill_at):
    """SIGKILL right after epoch 2's checkpoint, then --resume: the model and the
    training history equal an uninterrupted run's (at most the current epoch is lost)."""
    import os
    import subprocess
    import sys

    import torch
    base = [sys.executable, "-m", "neuromod", "fit", "tecos", str(rec_file), "--epochs", "3",
            "--seed", "1"]
    whole = tmp_path / "whole"
    ref = subprocess.run(base + ["--out", str(whole), "--json"], capture_output=True,
                         text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr
    d = tmp_path / "run"
    kill_at(base + ["--out", str(d)], "train-epoch-2")
    assert sorted(os.listdir(d)) == ["checkpoint.npz"]        # nothing else half-written
    done = subprocess.run(base + ["--out", str(d), "--resume", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    got, want = json.loads(done.stdout), json.loads(ref.stdout)
    h_got = json.loads((d / "report.json").read_text())["history"]
    h_want = json.loads((whole / "report.json").read_text())["history"]
    strip = [{k: v for k, v in h.items() if "second" not in k and k != "time"} for h in h_got]
    assert strip == [{k: v for k, v in h.items() if "second" not in k and k != "time"}
                     for h in h_want]
    assert got["test"]["psth_corr"] == want["test"]["psth_corr"]
    a, b = neuromod.load(d / "model.npz"), neuromod.load(whole / "model.npz")
    sa, sb = a.net.state_dict(), b.net.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
