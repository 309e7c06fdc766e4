"""The shared training loop: determinism, early stopping, checkpoint and resume."""
import os

import numpy as np
import pytest
import torch

from neuromod.errors import FileFormatError, ParameterError
from neuromod.neurons.nsnn import classifier
from neuromod.training import TrainOptions, check_device, evaluate, fit, seeded


def _data(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > X[:, 2] + X[:, 3]).astype(np.int64) + 2 * (X[:, 4] > 0.5)
    return X, y


def _net(seed=0, neuron="nsnn"):
    return seeded(seed, lambda: classifier((6,), 4, hidden=16, time_steps=3, neuron=neuron,
                                           readout="count"))


def _weights(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


class _Stop(Exception):
    pass


def test_same_seed_same_weights_and_learning():
    X, y = _data()
    opts = TrainOptions(epochs=4, batch_size=16, lr=0.1, momentum=0.9, seed=3)
    a, b = _net(), _net()
    ra = fit(a, (X, y), (X[:40], y[:40]), opts)
    fit(b, (X, y), (X[:40], y[:40]), opts)
    for k, v in _weights(a).items():
        assert torch.equal(v, _weights(b)[k]), k
    c = _net()
    fit(c, (X, y), (X[:40], y[:40]), TrainOptions(epochs=4, batch_size=16, lr=0.1,
                                                  momentum=0.9, seed=4))
    assert any(not torch.equal(v, _weights(c)[k]) for k, v in _weights(a).items())
    assert len(ra.history) == 4 and ra.history[-1]["loss"] < ra.history[0]["loss"]


@pytest.mark.parametrize("stop_after", [1, 3])
def test_killed_and_resumed_run_ends_with_the_same_weights(tmp_path, stop_after):
    """Training stopped right after epoch k's checkpoint and resumed gives the weights,
    history and best epoch of an uninterrupted run (stochastic neurons: the noise
    generator is restored too)."""
    X, y = _data()
    val = (X[:30], y[:30])
    opts = TrainOptions(epochs=5, batch_size=16, lr=0.1, momentum=0.9, seed=1, patience=10)
    ref = _net()
    r_ref = fit(ref, (X, y), val, opts)
    ckpt = os.path.join(tmp_path, "ckpt.npz")
    net = _net()

    def stop(rec):
        if rec["epoch"] == stop_after:
            raise _Stop

    with pytest.raises(_Stop):
        fit(net, (X, y), val, opts, checkpoint=ckpt, identity={"data": "toy"}, on_epoch=stop)
    fresh = _net(seed=99)                 # a new process: different initial weights
    r = fit(fresh, (X, y), val, opts, checkpoint=ckpt, resume=True, identity={"data": "toy"})
    assert r.resumed_from == stop_after
    for k, v in _weights(ref).items():
        assert torch.equal(v, _weights(fresh)[k]), k
    assert [h["val_accuracy"] for h in r.history] == [h["val_accuracy"] for h in r_ref.history]
    assert r.best_epoch == r_ref.best_epoch


def test_resume_errors(tmp_path):
    X, y = _data(40)
    ckpt = os.path.join(tmp_path, "ckpt.npz")
    opts = TrainOptions(epochs=1, batch_size=16, seed=0)
    with pytest.raises(ParameterError, match="no checkpoint"):
        fit(_net(), (X, y), None, opts, checkpoint=ckpt, resume=True)
    fit(_net(), (X, y), None, opts, checkpoint=ckpt, identity={"model": "nsnn"})
    with pytest.raises(ParameterError, match=r"different options \(options.lr\)"):
        fit(_net(), (X, y), None, TrainOptions(epochs=1, batch_size=16, lr=0.2), checkpoint=ckpt,
            resume=True, identity={"model": "nsnn"})
    with pytest.raises(ParameterError, match=r"\(run.model\)"):
        fit(_net(), (X, y), None, opts, checkpoint=ckpt, resume=True, identity={"model": "lif"})
    other = seeded(0, lambda: classifier((6,), 4, hidden=8, time_steps=3))
    with pytest.raises(FileFormatError, match="do not fit"):
        fit(other, (X, y), None, opts, checkpoint=ckpt, resume=True, identity={"model": "nsnn"})
    with open(ckpt, "r+b") as fh:                 # damage it
        fh.seek(40)
        fh.write(b"\0" * 200)
    with pytest.raises(FileFormatError, match="ckpt.npz"):
        fit(_net(), (X, y), None, opts, checkpoint=ckpt, resume=True, identity={"model": "nsnn"})


def test_early_stopping_keeps_the_best_epoch():
    X, y = _data()
    net = _net(neuron="lif")
    r = fit(net, (X, y), (X[:30], y[:30]),
            TrainOptions(epochs=60, batch_size=16, lr=2.0, momentum=0.9, seed=0, patience=3))
    vals = [h["val_accuracy"] for h in r.history]
    assert r.stopped_early and len(vals) < 60
    assert r.best_val_accuracy == max(vals) and vals.index(max(vals)) + 1 == r.best_epoch
    assert len(vals) - r.best_epoch == 3
    # deterministic net: its accuracy now is the best epoch's
    assert evaluate(net, (X[:30], y[:30])) == r.best_val_accuracy


def test_options_and_device_errors():
    with pytest.raises(ParameterError, match="epochs"):
        TrainOptions(epochs=0)
    with pytest.raises(ParameterError, match="optimizer"):
        TrainOptions(optimizer="lbfgs")
    with pytest.raises(ParameterError, match="patience"):
        TrainOptions(patience=0)
    with pytest.raises(ParameterError, match="unknown device"):
        check_device("tpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA GPU"):
            check_device("cuda")


def test_seeded_leaves_the_global_generator_alone():
    torch.manual_seed(5)
    before = torch.get_rng_state()
    seeded(1, lambda: torch.nn.Linear(3, 3))
    assert torch.equal(before, torch.get_rng_state())
