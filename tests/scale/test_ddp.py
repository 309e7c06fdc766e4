"""``neuromod train --nproc N``: data-parallel training with torch.distributed (gloo) gives
the run of one process at the same global batch (the deterministic LIF network and the
noisy NSNN: loss curves, accuracies and weights to float tolerance), and networks it
cannot split are refused with one line."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

NEUROMOD = os.path.join(os.path.dirname(sys.executable), "neuromod")
SMALL = ["--epochs", "2", "--hidden", "32", "--time-steps", "4", "--json"]


def _train(*argv):
    return subprocess.run([NEUROMOD, "train", *argv], capture_output=True, text=True,
                          timeout=600)


def _reports(tmp_path, model, *extra):
    one = _train(model, *extra, "--out", str(tmp_path / "one"))
    two = _train(model, *extra, "--out", str(tmp_path / "two"), "--nproc", "2")
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    json.loads(two.stdout)                      # rank 0 alone printed its JSON
    return [json.loads((tmp_path / d / "report.json").read_text()) for d in ("one", "two")]


def _same_run(r1, r2, tmp_path):
    assert len(r1["history"]) == len(r2["history"]) >= 1
    for a, b in zip(r1["history"], r2["history"]):
        # float32 sums in another order: the losses agree to ~1e-8 relative
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-6)
        assert b["train_accuracy"] == a["train_accuracy"]
        assert b["val_accuracy"] == a["val_accuracy"]
    assert r2["test_accuracy"] == r1["test_accuracy"]
    from neuromod.backends.serialize import load_state
    w1 = load_state(str(tmp_path / "one" / "checkpoint.npz"))["model"]
    w2 = load_state(str(tmp_path / "two" / "checkpoint.npz"))["model"]
    assert set(w1) == set(w2)
    for k in w1:
        np.testing.assert_allclose(np.asarray(w2[k]), np.asarray(w1[k]), rtol=0, atol=1e-5)


def test_two_processes_take_the_steps_of_one(tmp_path):
    """The deterministic LIF network: loss curves, accuracies and weights."""
    _same_run(*_reports(tmp_path, "lif", *SMALL), tmp_path)


def test_noisy_neurons_draw_what_one_process_draws(tmp_path):
    """The NSNN's stochastic firing: each sample gets the variates one process gives it
    (the whole batch drawn, the process's rows kept), so the runs agree as well."""
    _same_run(*_reports(tmp_path, "nsnn", *SMALL), tmp_path)


def test_a_last_batch_smaller_than_the_group(tmp_path):
    """1,132 training samples in batches of 1,131: the last batch has one sample, so one
    process has none (it draws along and adds nothing)."""
    r1, r2 = _reports(tmp_path, "nsnn", "--epochs", "2", "--hidden", "8", "--time-steps", "2",
                      "--batch-size", "1131", "--lr", "0.5", "--json")
    assert r1["n_train"] == 1132
    _same_run(r1, r2, tmp_path)


def test_other_random_draws_are_refused():
    import torch

    from neuromod.backends.noise import BatchShard
    from neuromod.errors import ParameterError
    from neuromod.training import _shard_objective

    def objective(net, xb, yb, generator):
        return torch.rand(3, generator=generator).sum(), 0
    with pytest.raises(ParameterError, match="outside the firing variates"):
        _shard_objective(objective, None, None, None, BatchShard(torch.Generator(), [0], 2))


def test_batchnorm_on_the_cpu_is_refused(tmp_path):
    p = _train("dpcnn", "--epochs", "1", "--out", str(tmp_path / "d"), "--nproc", "2")
    assert p.returncode == 2
    errors = [line for line in p.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "SyncBatchNorm" in errors[0]


@pytest.mark.parametrize("kind", ["cnn", "tecos"])
def test_fit_with_two_processes_takes_the_steps_of_one(kind, tmp_path):
    """The retina models that train: the CNN's Gaussian noise and TeCoS-LVM's noisy
    neurons are drawn per sample of the global batch too."""
    from neuromod.retina.recording import save_recording
    from neuromod.retina.synthetic import simulated_retina
    rec = tmp_path / "rec.npz"
    save_recording(rec, simulated_retina(n_units=2, size=4, train_seconds=20.0,
                                         test_seconds=1.0, n_test_trials=3, seed=1))
    runs = {}
    for n in (1, 2):
        p = subprocess.run([NEUROMOD, "fit", kind, str(rec), "--epochs", "2", "--out",
                            str(tmp_path / f"p{n}"), "--nproc", str(n), "--json"],
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        runs[n] = json.loads((tmp_path / f"p{n}" / "report.json").read_text())
    for a, b in zip(runs[1]["history"], runs[2]["history"]):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-6)
        assert b["val_accuracy"] == pytest.approx(a["val_accuracy"], rel=1e-6)
    assert runs[2]["test"]["psth_corr"] == pytest.approx(runs[1]["test"]["psth_corr"],
                                                          rel=1e-5)


def test_fit_nproc_needs_one_trained_model(tmp_path):
    p = subprocess.run([NEUROMOD, "fit", "glm", "--nproc", "2", "--out", str(tmp_path / "g")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "--nproc: data-parallel training of one cnn or tecos" in p.stderr
