"""The spoken-digit classifier: its neuron on both backends, the Torch module against a
closed-form recursion, and the design record (chosen on training accents only)."""
import json
import os

import numpy as np
import pytest
import torch

from neuromod.auditory import digits
from neuromod.auditory.digits import (CANDIDATES, DESIGN, SpikingDigitNet, classifier_neuron,
                                      pool_features)
from neuromod.backends.network import simulate
from neuromod.spikes import SpikeTrains

torch.set_num_threads(1)
RECORD = os.path.join(os.path.dirname(__file__), "..", "..", "validation", "digits_design.json")


def reference(I, beta, theta=1.0):
    """v[t] = beta v[t-1] + (1 - beta) I[t]; spike when v > theta, then v -= theta."""
    steps, n = I.shape
    v = np.zeros(n)
    S = np.zeros((steps, n))
    for t in range(steps):
        v = beta * v + (1.0 - beta) * I[t]
        S[t] = v > theta
        v = v - theta * S[t]
    return S


@pytest.mark.parametrize("backend", ["torch", "brian2"])
def test_classifier_neuron_matches_the_recursion(backend):
    rng = np.random.default_rng(3)
    dt, beta, steps, n = 1e-3, 0.8, 400, 5
    I = 3.0 * rng.random((steps, n))          # mean drive 1.5 > theta: regular firing
    r = simulate(classifier_neuron(), n, steps * dt, dt, backend=backend,
                 params={"beta": beta}, inputs={"I": I})
    st = r.spikes["neurons"]
    S = reference(I, beta)
    assert st.n_spikes == S.sum() > 50
    # spike at the end of step t (0-based) is reported at time t * dt
    got = np.zeros_like(S)
    got[np.round(st.times / dt).astype(int), st.ids] = 1.0
    np.testing.assert_array_equal(got, S)


@pytest.mark.parametrize("readout", ["raster", "count"])
def test_net_forward_is_the_closed_form_network(readout):
    torch.manual_seed(0)
    net = SpikingDigitNet(4, 6, 3, n_steps=7, beta=0.7, readout=readout)
    x = torch.as_tensor(np.random.default_rng(1).poisson(2.0, (3, 4, 7)), dtype=torch.float32)
    with torch.no_grad():
        logits, counts = net(x)
    W, b = net.w_in.weight.detach().double().numpy(), net.w_in.bias.detach().double().numpy()
    Wo, bo = net.w_out.weight.detach().double().numpy(), net.w_out.bias.detach().double().numpy()
    for i in range(3):
        cur = (W @ x[i].double().numpy() + b[:, None]).T / (1 - 0.7)    # (T, H)
        S = reference(cur, 0.7)                                          # (T, H)
        assert counts[i].item() == S.sum()
        feat = S.T.reshape(-1) if readout == "raster" else S.sum(0)
        np.testing.assert_allclose(logits[i].numpy(), Wo @ feat + bo, rtol=1e-5, atol=1e-5)


def test_fused_and_step_paths_give_the_same_gradients():
    torch.manual_seed(2)
    net = SpikingDigitNet(4, 8, 3, n_steps=6)
    x = torch.as_tensor(np.random.default_rng(2).poisson(1.5, (5, 4, 6)), dtype=torch.float32)
    grads = []
    for fused in (True, False):
        net.hidden.fused = fused
        net.zero_grad()
        logits, _ = net(x)
        torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 0, 1])).backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert any(g.abs().sum() > 0 for g in grads[0][:2])     # surrogate reaches the input layer


def test_absolute_bins_drop_late_spikes():
    st = SpikeTrains([0.01, 0.03, 0.9], [0, 1, 1], t_start=0.0, t_stop=1.0, n_trains=2)
    X = pool_features([st], "lif", 1, channels=2, n_bins=4, group=1, bin_s=0.025)
    assert X[0].tolist() == [[1, 0, 0, 0], [0, 1, 0, 0]]


def test_design_is_the_recorded_cross_validation_choice():
    with open(RECORD) as fh:
        rec = json.load(fh)
    assert rec["chosen"] == DESIGN
    # the record covers every candidate, scored by the mean over encoders and folds
    assert [{k: r[k] for k in ("n_bins", "bin_s", "readout")} for r in rec["table"]] \
        == [dict(c) for c in CANDIDATES]
    means = [r["mean"] for r in rec["table"]]
    best = int(np.argmax(means))                     # first maximum = tie rule
    assert {k: DESIGN[k] for k in ("n_bins", "bin_s", "readout")} == CANDIDATES[best]
    for r in rec["table"]:
        assert r["mean"] == pytest.approx(np.mean([r[e] for e in rec["encoders"]]))
    # folds are the training accents; the held-out accents never enter the selection
    test_accents = {it[3] for it in digits.load_digits("test")}
    assert set(rec["folds"]).isdisjoint(test_accents) and len(rec["folds"]) == 6


def _tiny_set():
    rng = np.random.default_rng(4)
    y = np.arange(20) % 10
    X = rng.poisson(0.3, (20, 4, 5)).astype(np.float32)
    return X, y


def test_checkpoint_is_npz_json_and_resumes_exactly(tmp_path):
    from neuromod.backends.serialize import load_state
    X, y = _tiny_set()
    kw = dict(seed=2, n_hidden=8, batch=10)
    straight = digits.train_classifier(X, y, epochs=4, **kw)
    ck = tmp_path / "ck.npz"
    digits.train_classifier(X, y, epochs=2, checkpoint=str(ck), **kw)
    with np.load(ck, allow_pickle=False) as z:          # plain arrays and a JSON header
        assert all(z[k].dtype.kind in "fiubU" for k in z.files)
    state = load_state(ck)
    assert state["epoch"] == 2 and state["generator"].dtype == torch.uint8
    assert isinstance(state["optimizer"]["param_groups"][0]["betas"], tuple)
    resumed = digits.train_classifier(X, y, epochs=4, checkpoint=str(ck), **kw)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_a_pickled_or_foreign_checkpoint_is_refused_not_run(tmp_path):
    import pickle

    from neuromod.errors import FileFormatError
    X, y = _tiny_set()
    marker = tmp_path / "executed"

    class Plant:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    ck = tmp_path / "ck.pt"
    ck.write_bytes(pickle.dumps(Plant()))           # what torch.save-era files could hold
    with pytest.raises(FileFormatError, match="ck.pt"):
        digits.train_classifier(X, y, epochs=1, n_hidden=8, checkpoint=str(ck))
    assert not marker.exists()
    # a valid state file of another network: one line, naming the file
    other = tmp_path / "other.npz"
    digits.train_classifier(X, y, epochs=1, n_hidden=4, checkpoint=str(other))
    with pytest.raises(FileFormatError, match="not a checkpoint of this classifier"):
        digits.train_classifier(X, y, epochs=2, n_hidden=8, checkpoint=str(other))
