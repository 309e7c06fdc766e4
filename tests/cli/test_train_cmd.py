"""``neuromod train nsnn|lif``: outputs, kill and resume, and one-line errors."""
import json
import os
import signal
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


def test_killed_run_resumes_to_the_same_weights(reference, tmp_path):
    """SIGKILL right after epoch 2's checkpoint, then --resume: the weights and the
    report's figures equal the uninterrupted run's."""
    d = tmp_path / "run"
    argv = [sys.executable, "-m", "neuromod", "train", "nsnn", *SMALL, "--seed", "2",
            "--out", str(d)]
    env = dict(os.environ, NEUROMOD_TEST_PAUSE="train-epoch-2")
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        seen = []                          # tqdm's updates, then the pause line
        while not seen or not seen[-1].strip().endswith("neuromod: paused at train-epoch-2"):
            seen.append(proc.stderr.readline())
            assert seen[-1], "".join(seen)     # end of stream before the pause
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
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
