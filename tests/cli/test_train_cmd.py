"""``neuromod train nsnn|lif|dendritic``: outputs, kill and resume, and one-line errors."""
import json
import os
import subprocess
import sys

import pytest
import torch

import neuromod
from neuromod.cli import main

SMALL = ["--epochs", "4", "--hidden", "16", "--time-steps", "2", "--batch-size", "64"]


def _state(path):
    return {k: v.detach().clone() for k, v in neuromod.load(path).state_dict().items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run (in process)."""
    d = tmp_path_factory.mktemp("ref") / "run"
    assert main(["train", "nsnn", *SMALL, "--seed", "2", "--out", str(d), "--json"]) == 0
    return d


def test_outputs_and_report(reference, capsys):
    names = sorted(os.listdir(reference))
    assert names == ["checkpoint.npz", "learning_curve.png", "model.npz", "report.json"]
    report = json.loads((reference / "report.json").read_text())
    assert report["model"] == "nsnn" and report["data"] == "digits" and report["epochs"] == 4
    assert report["nsnn"]["noise"] == "gaussian" and report["nsnn"]["sigma"] == 0.3
    assert report["nsnn"]["eval_noise"] is True and report["nsnn"]["ensemble"] == 1
    assert len(report["history"]) == 4
    best = max(range(4), key=lambda i: (report["history"][i]["val_accuracy"], -i)) + 1
    assert report["best_epoch"] == best
    assert report["val_accuracy"] == report["history"][best - 1]["val_accuracy"]
    # the saved model is the best epoch's network: it scores the reported test accuracy
    from neuromod.datasets import load_dataset, split
    from neuromod.training import evaluate
    d = load_dataset("digits")
    te = split(d.y, seed=0)[2]
    net = neuromod.load(reference / "model.npz")
    assert evaluate(net, d.subset(te), seed=2) == report["test_accuracy"]
    assert report["n_test"] == len(te) == 539


def test_killed_run_resumes_to_the_same_weights(reference, tmp_path, kill_at):
    """SIGKILL right after epoch 2's checkpoint, then --resume: the weights and the
    report's figures equal the uninterrupted run's."""
    d = tmp_path / "run"
    argv = [sys.executable, "-m", "neuromod", "train", "nsnn", *SMALL, "--seed", "2",
            "--out", str(d)]
    kill_at(argv, "train-epoch-2")
    assert sorted(os.listdir(d)) == ["checkpoint.npz"]        # nothing else half-written
    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 2 and "give --resume" in rerun.stderr
    done = subprocess.run(argv + ["--resume", "--json"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    want = json.loads((reference / "report.json").read_text())
    assert got["resumed_from"] == 2
    for key in ("best_epoch", "val_accuracy", "test_accuracy", "epochs"):
        assert got[key] == want[key], key
    a, b = _state(d / "model.npz"), _state(reference / "model.npz")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_lif_trains_and_reports_no_noise(tmp_path, capsys):
    assert main(["train", "lif", "--epochs", "2", "--hidden", "8", "--time-steps", "2",
                 "--out", str(tmp_path / "lif"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "lif" and out["nsnn"]["noise"] is None and out["epochs"] == 2
    net = neuromod.load(tmp_path / "lif" / "model.npz")
    assert net.config()["layers"][0]["model"]["name"] == "discrete-lif"


BAD = [
    (["--set", "noise=cauchy"], "noise"),
    (["--set", "sigma=0"], "sigma"),
    (["--set", "sigma=-0.1"], "sigma"),
    (["--set", "beta=1.5"], "beta"),
    (["--set", "tau=3"], "no parameter 'tau'"),
    (["--set", "sigma=abc"], "not a number"),
    (["--data", "folder:/nonexistent/images"], "/nonexistent/images: no such file"),
    (["--data", "cifar10:/nonexistent/c10"], "/nonexistent/c10: no such file"),
    (["--data", "mnist"], "unknown data set 'mnist'"),
    (["--device", "cuda"], "cuda"),
    (["--device", "tpu"], "device"),
    (["--momentum", "1.0"], "momentum"),
    (["--resume"], "no checkpoint"),
]


@pytest.mark.parametrize("extra,text", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(extra, text, tmp_path, capsys):
    if extra == ["--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "out"
    rc = main(["train", "nsnn", "--epochs", "1", "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("neuromod train: error:"), err
    assert text in err, err
    assert not out.exists()


def test_corrupt_or_mismatched_checkpoint_is_one_line_error(reference, tmp_path, capsys):
    d = tmp_path / "run"
    d.mkdir()
    (d / "checkpoint.npz").write_bytes(b"not a checkpoint")
    assert main(["train", "nsnn", *SMALL, "--seed", "2", "--out", str(d), "--resume"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "checkpoint.npz" in err, err
    (d / "checkpoint.npz").write_bytes((reference / "checkpoint.npz").read_bytes())
    assert main(["train", "nsnn", *SMALL, "--seed", "2", "--out", str(d), "--resume",
                 "--set", "sigma=0.4"]) == 2
    err = capsys.readouterr().err
    assert "different options" in err and "sigma" in err and len(err.strip().splitlines()) == 1
    assert sorted(os.listdir(d)) == ["checkpoint.npz"]


def test_help_lists_the_models_and_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "nsnn", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for opt in ("--data", "--epochs", "--batch-size", "--lr", "--seed", "--device", "--set",
                "--patience", "--out", "--resume", "--json", "--arch", "--hidden",
                "--time-steps", "--eval-noise", "--ensemble"):
        assert opt in text, opt
    assert main(["train"]) == 2
    assert "give a MODEL" in capsys.readouterr().err


# ============================================================================ dendritic
DENDRITIC = ["train", "dendritic", "--epochs", "2", "--branches", "4", "--point-widths",
             "64,32,10", "--seed", "1"]
JSON_KEYS = ["model", "data", "epochs", "best_epoch", "train_seconds", "test_accuracy",
             "val_accuracy", "stopped_early", "resumed_from", "n_train", "n_val", "n_test"]


@pytest.fixture(scope="module")
def dendritic_run(tmp_path_factory):
    """A quick dendritic run (in process): its directory and its --json object."""
    import contextlib
    import io
    d = tmp_path_factory.mktemp("dendritic") / "run"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main([*DENDRITIC, "--out", str(d), "--json"]) == 0
    return d, json.loads(buf.getvalue())


def test_dendritic_json_budget_and_saved_model(dendritic_run):
    from neuromod.datasets import load_dataset, split
    from neuromod.neurons.dendritic import RECIPE, budget, match_budget, train
    from neuromod.training import TrainOptions
    d, out = dendritic_run
    assert sorted(os.listdir(d)) == ["checkpoint.npz", "learning_curve.png", "model.npz",
                                     "report.json"]
    assert list(out) == JSON_KEYS + ["budget", "out"]
    assert out["model"] == "dendritic" and out["epochs"] == 2 and "nsnn" not in out
    arch = match_budget((64, 32, 10), 4, "macs")
    want = budget(arch.network())
    b = out["budget"]
    assert b["widths"] == list(arch.widths) == [64, 8, 10]
    for key in ("K", "params", "macs", "activations_per_sample", "bytes_written"):
        assert b[key] == want[key], key
    assert b["match"] == "macs" and b["point_widths"] == [64, 32, 10]
    assert b["soma"] == "relu" and b["time_steps"] == 1 and "spikes_sent" not in b
    report = json.loads((d / "report.json").read_text())
    assert report["budget"] == b and report["options"]["optimizer"] == "adam"
    # the saved model is the library recipe's network: the same predictions
    net, rep = train("digits", 4, point_widths=(64, 32, 10),
                     options=TrainOptions(**{**RECIPE, "epochs": 2, "seed": 1}))
    assert rep["test_accuracy"] == out["test_accuracy"]
    data = load_dataset("digits")
    X = torch.as_tensor(data.subset(split(data.y, seed=0)[2])[0], dtype=torch.float32)
    loaded = neuromod.load(d / "model.npz")
    assert type(loaded).__name__ == "RateNet"
    with torch.no_grad():
        torch.testing.assert_close(loaded(X), net(X), rtol=0, atol=0)


def test_dendritic_killed_run_resumes_to_the_same_weights(dendritic_run, tmp_path, kill_at):
    ref, want = dendritic_run
    d = tmp_path / "run"
    argv = [sys.executable, "-m", "neuromod", *DENDRITIC, "--out", str(d)]
    kill_at(argv, "train-epoch-1")
    assert sorted(os.listdir(d)) == ["checkpoint.npz"]
    done = subprocess.run(argv + ["--resume", "--json"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["resumed_from"] == 1 and got["budget"] == want["budget"]
    for key in ("best_epoch", "val_accuracy", "test_accuracy", "epochs"):
        assert got[key] == want[key], key
    a, b = _state(d / "model.npz"), _state(ref / "model.npz")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_dendritic_defaults_are_the_recipe_and_nsnn_keeps_its_own():
    from neuromod.backends.dendrites import NONLINEARITIES
    from neuromod.cli import build_parser
    from neuromod.cli.train_cmd import BRANCHES, RATE_SOMATA, SPIKING_SOMATA
    from neuromod.neurons import dendritic
    from neuromod.training import TrainOptions
    parser = build_parser()
    a = parser.parse_args(["train", "dendritic"])
    got = {k: getattr(a, k) for k in ("epochs", "batch_size", "lr", "optimizer", "momentum")}
    want = TrainOptions(**dendritic.RECIPE)
    assert got == {k: getattr(want, k) for k in got}
    assert (a.branches, a.match, a.soma, a.branch, a.point_widths, a.time_steps) == (
        1, "macs", "relu", None, None, None)
    for model in ("nsnn", "lif"):
        n = parser.parse_args(["train", model])
        assert (n.epochs, n.batch_size, n.lr, n.optimizer, n.momentum) == (
            40, 32, 0.05, "sgd", 0.9)
    assert set(RATE_SOMATA + SPIKING_SOMATA) == set(dendritic.SOMATA)
    assert SPIKING_SOMATA == dendritic.SPIKING_SOMATA and set(BRANCHES) == set(NONLINEARITIES)


BAD_DENDRITIC = [
    (["--branches", "0"], "--branches"),
    (["--branches", "300"], "nearest integer width, 1, is off by"),
    (["--branches", "300", "--match", "params"], "nearest integer width"),
    (["--match", "flops"], "--match"),
    (["--point-widths", "64,a,10"], "--point-widths"),
    (["--point-widths", "64,10"], "--point-widths"),
    (["--point-widths", "64,32,5"], "64 inputs and 10 classes"),
    (["--point-widths", "60,32,10"], "64 inputs and 10 classes"),
    (["--soma", "tanh"], "--soma"),
    (["--branch", "tanh"], "--branch"),
    (["--time-steps", "2"], "spiking soma"),
    (["--lr", "0"], "--lr"),
    (["--data", "mnist"], "unknown data set 'mnist'"),
    (["--resume"], "no checkpoint"),
]


@pytest.mark.parametrize("extra,text", BAD_DENDRITIC, ids=[" ".join(b[0]) for b in BAD_DENDRITIC])
def test_dendritic_bad_input_is_one_line_exit_2_and_writes_nothing(extra, text, tmp_path,
                                                                   capsys):
    out = tmp_path / "out"
    try:
        rc = main(["train", "dendritic", "--epochs", "1", "--out", str(out), *extra])
    except SystemExit as exc:           # a usage error, reported by argparse
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("neuromod train"), err
    assert "error:" in err and "Traceback" not in err and text in err, err
    assert not out.exists()


def test_dendritic_help_lists_its_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "dendritic", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for opt in ("--data", "--epochs", "--batch-size", "--lr", "--optimizer", "--momentum",
                "--seed", "--split-seed", "--device", "--patience", "--out", "--resume",
                "--json", "--branches", "--match", "--soma", "--branch", "--point-widths",
                "--time-steps"):
        assert opt in text, opt
    assert "learning rate (default 0.001)" in text and "optimiser (default adam)" in text


# ----------------------------------------------------------------- dpcnn, conv-lif
def test_dpcnn_json_counts_and_saved_model(tmp_path, capsys):
    from neuromod.datasets import load_dataset, split
    from neuromod.neurons.pcnn.deep import counts
    out = tmp_path / "d"
    assert main(["train", "dpcnn", "--width", "2", "--epochs", "2", "--coupling", "intra",
                 "--norm", "bn", "--out", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    b = rep["dpcnn"]
    assert (b["neuron"], b["width"], b["coupling"], b["norm"], b["time_steps"]) == (
        "pcnn", 2, "intra", "bn", 4)
    net = neuromod.load(out / "model.npz")
    assert counts(net) == {"neurons": b["neurons"], "synapses": b["synapses"]}
    ds = load_dataset("digits")
    _, _, te = split(ds.y, seed=0)
    X, y = ds.subset(te)
    with torch.no_grad():
        acc = float((net(torch.as_tensor(X)).argmax(1) == torch.as_tensor(y)).double().mean())
    assert acc == pytest.approx(rep["test_accuracy"], abs=1e-12)
    assert main(["train", "conv-lif", "--width", "2", "--epochs", "1", "--out",
                 str(tmp_path / "c"), "--json"]) == 0
    c = json.loads(capsys.readouterr().out)["dpcnn"]
    assert c["neuron"] == "lif" and c["coupling"] == "none"


@pytest.mark.parametrize("argv,message", [
    (["conv-lif", "--coupling", "inter"], "unrecognized arguments"),
    (["dpcnn", "--width", "0"], "--width"),
    (["dpcnn", "--norm", "layer"], "--norm"),
])
def test_dpcnn_bad_arguments(argv, message, tmp_path, capsys):
    out = tmp_path / "x"
    try:
        rc = main(["train", *argv, "--out", str(out)])
    except SystemExit as exc:           # a usage error, reported by argparse
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and not out.exists()
