"""``neuromod train --nproc N``: data-parallel training with torch.distributed (gloo) gives
the run of one process at the same global batch (the deterministic LIF network: loss
curves, accuracies and weights to float tolerance), and networks it cannot split are
refused with one line."""
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


def test_two_processes_take_the_steps_of_one(tmp_path):
    one = _train("lif", *SMALL, "--out", str(tmp_path / "one"))
    two = _train("lif", *SMALL, "--out", str(tmp_path / "two"), "--nproc", "2")
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    r1 = json.loads((tmp_path / "one" / "report.json").read_text())
    r2 = json.loads((tmp_path / "two" / "report.json").read_text())
    assert len(r1["history"]) == len(r2["history"]) == 2
    for a, b in zip(r1["history"], r2["history"]):
        # float32 sums in another order: the losses agree to ~1e-8 relative
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-6)
        assert b["train_accuracy"] == a["train_accuracy"]
        assert b["val_accuracy"] == a["val_accuracy"]
    assert r2["test_accuracy"] == r1["test_accuracy"]
    json.loads(two.stdout)                      # rank 0 alone printed its JSON
    from neuromod.backends.serialize import load_state
    w1 = load_state(str(tmp_path / "one" / "checkpoint.npz"))["model"]
    w2 = load_state(str(tmp_path / "two" / "checkpoint.npz"))["model"]
    assert set(w1) == set(w2)
    for k in w1:
        np.testing.assert_allclose(np.asarray(w2[k]), np.asarray(w1[k]), rtol=0, atol=1e-5)


def test_a_noisy_network_is_refused(tmp_path):
    p = _train("nsnn", *SMALL, "--out", str(tmp_path / "n"), "--nproc", "2")
    assert p.returncode == 2
    errors = [line for line in p.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "draws noise" in errors[0] and "Traceback" not in p.stderr
    assert not (tmp_path / "n" / "model.npz").exists()


def test_batchnorm_on_the_cpu_is_refused(tmp_path):
    p = _train("dpcnn", "--epochs", "1", "--out", str(tmp_path / "d"), "--nproc", "2")
    assert p.returncode == 2
    errors = [line for line in p.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "SyncBatchNorm" in errors[0]
