"""``neuromod train tempotron|mst|eml|emlc|tdp``: the runs, the files they write,
resuming, and one-line errors."""
import json

import numpy as np
import pytest

from neuromod.cli import main
from neuromod.neurons.tempotron.fit import load_model


def _run(capsys, *argv):
    try:
        rc = main(["train", *argv])
    except SystemExit as exc:             # argparse's errors
        rc = exc.code
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_binary_tempotron_learns_the_capacity_task(tmp_path, capsys):
    out = tmp_path / "run"
    rc, text, _ = _run(capsys, "tempotron", "--load", "0.5", "--epochs", "100", "--out",
                       str(out), "--json")
    assert rc == 0
    r = json.loads(text)
    assert r["rule"] == "binary" and r["train_accuracy"] == 1.0 and r["epochs"] <= 100
    assert r["test_accuracy"] is None
    W, neuron, info = load_model(out / "model.npz")
    assert W.shape == (1, 100) and neuron.tau_m == 0.015 and info["model"] == "tempotron"
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.npz", "learning_curve.png", "model.npz", "report.json"]


def test_resume_continues_with_more_epochs_and_refuses_other_options(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert _run(capsys, "tdp", "--epochs", "3", "--out", out, "--json")[0] == 0
    rc, text, _ = _run(capsys, "tdp", "--epochs", "6", "--out", out, "--resume", "--json")
    r = json.loads(text)
    assert rc == 0 and r["resumed_from"] == 3 and r["epochs"] in range(4, 7)
    # the same run in one go gives the same weights
    whole = str(tmp_path / "whole")
    _run(capsys, "tdp", "--epochs", "6", "--out", whole, "--json")
    np.testing.assert_array_equal(load_model(f"{out}/model.npz")[0],
                                  load_model(f"{whole}/model.npz")[0])
    rc, _, err = _run(capsys, "tdp", "--epochs", "6", "--lr", "0.5", "--out", out, "--resume")
    assert rc == 2 and "other options (lr)" in err and "Traceback" not in err
    rc, _, err = _run(capsys, "tdp", "--out", out)
    assert rc == 2 and "exists: give --resume" in err


def test_mst_on_aggregate_labels_reports_probes(tmp_path, capsys):
    rc, text, _ = _run(capsys, "mst", "--data", "aggregate-label", "--epochs", "30", "--out",
                       str(tmp_path / "a"), "--json")
    r = json.loads(text)
    assert rc == 0 and r["rule"] == "gradient" and r["epochs"] == 30
    assert r["test_accuracy"] >= 0.9
    assert abs(r["probes"]["clue_spikes"] - 1) <= 0.15 and r["probes"]["background_hz"] < 1


def test_own_pattern_file_by_class(tmp_path, capsys):
    from neuromod.neurons.tempotron.data import save_patterns
    from neuromod.neurons.tempotron.tasks import count_patterns
    P, y = count_patterns(n_classes=2, per_class=10, n_afferents=60, seed=3)
    path = tmp_path / "pats.npz"
    save_patterns(path, P, y)
    rc, text, _ = _run(capsys, "eml", "--data", f"spikes:{path}", "--target", "class",
                       "--epochs", "50", "--out", str(tmp_path / "c"), "--json")
    r = json.loads(text)
    assert rc == 0 and r["n_neurons"] == 2 and r["train_accuracy"] == 1.0
    assert 0.0 <= r["test_accuracy"] <= 1.0


def test_tdp_on_spoken_digits_scores_the_held_out_accents(tmp_path, capsys):
    out = tmp_path / "d"
    rc, text, _ = _run(capsys, "tdp", "--data", "spoken-digits", "--epochs", "3", "--out",
                       str(out), "--json")
    r = json.loads(text)
    assert rc == 0 and r["data"] == "spoken-digits" and r["n_neurons"] == 10
    # 240 training and 60 held-out utterances: accuracies are multiples of 1/240, 1/60;
    # three epochs already beat chance (0.1) by far
    assert abs(r["train_accuracy"] * 240 - round(r["train_accuracy"] * 240)) < 1e-9
    assert abs(r["test_accuracy"] * 60 - round(r["test_accuracy"] * 60)) < 1e-9
    assert r["train_accuracy"] > 0.5 and r["test_accuracy"] > 0.3
    W, neuron, _ = load_model(out / "model.npz")
    assert W.shape == (10, 3 * 512) and neuron.tau == 0.05     # the task's neuron


def test_spoken_digits_targets_twenty_spikes_on_the_right_neuron():
    from neuromod.neurons.tempotron.fit import load_task
    task = load_task("spoken-digits", "emlc")
    (P, D), (Pt, Dt) = task.train, task.test
    assert (P.n_patterns, Pt.n_patterns, P.n_afferents) == (240, 60, 1536)
    assert task.by_class and (D.sum(1) == 20).all() and (Dt.argmax(1) == task.labels_test).all()
    assert load_task("spoken-digits", "mst", class_spikes=4).train[1].max() == 4


@pytest.mark.parametrize("argv, message", [
    (["tempotron", "--data", "aggregate-label"], "binary tempotron fires once"),
    (["tempotron", "--data", "spoken-digits"], "ten classes"),
    (["mst", "--data", "nowhere"], "--data must be one of"),
    (["mst", "--data", "spikes:/no/such/file.npz"], "/no/such/file.npz"),
    (["eml", "--margin", "1.5"], "--margin"),
    (["eml", "--jitter", "-2ms"], "--jitter"),
])
def test_bad_input_is_one_line(tmp_path, capsys, argv, message):
    rc, _, err = _run(capsys, *argv, "--out", str(tmp_path / "o"))
    assert rc == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_pattern_file_without_labels(tmp_path, capsys):
    from neuromod.io import write
    from neuromod.spikes import SpikeTrains
    st = SpikeTrains([0.1, 0.2], [0, 1], t_start=0.0, t_stop=0.5, n_trains=2)
    path = tmp_path / "plain.npz"
    write(st, path)
    rc, _, err = _run(capsys, "mst", "--data", f"spikes:{path}", "--out", str(tmp_path / "o"))
    assert rc == 2 and "plain.npz" in err and "label" in err and "Traceback" not in err
