"""The robustness suite: each perturbation against its definition (closed forms and
binomial statistics, seeded), the attacks against their constraints and their purpose
(they raise the loss), expectation over transformation, frozen inputs, and the
comparison's bookkeeping."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from neuromod.backends.layers import SpikingDense, SpikingNet
from neuromod.datasets import load_dataset
from neuromod.errors import ParameterError
from neuromod.neurons.nsnn import discrete_lif, noisy_lif, train
from neuromod.neurons.nsnn import robustness as R
from neuromod.training import TrainOptions


def gen(seed):
    return torch.Generator().manual_seed(seed)


def within_se(count, n, p, k=3.0):
    return abs(count / n - p) <= k * math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def nets(digits):
    """Small NSNN and LIF nets trained briefly (enough to be far above chance)."""
    opts = TrainOptions(epochs=3, momentum=0.9, seed=0)
    return {n: train(digits, n, opts, hidden=32)[0] for n in ("nsnn", "lif")}


@pytest.mark.parametrize("kind,s", [("gaussian", 0.1), ("multiplicative", 0.2)])
def test_gaussian_corruptions_have_the_stated_spread(kind, s):
    x = torch.full((200_000,), 0.5)
    y = R.corrupt(x, kind, s, gen(1))
    sd = s if kind == "gaussian" else 0.5 * s          # x (1 + s xi): sd 0.5 s at x = 0.5
    # far from the clip at 0 and 1 (5 sd), the noise is Gaussian of that sd
    assert abs(float(y.mean()) - 0.5) < 3 * sd / math.sqrt(x.numel())
    assert float(y.std()) == pytest.approx(sd, rel=0.01)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    z = R.corrupt(torch.tensor([0.0, 1.0]).repeat(1000), kind, 2.0, gen(2))
    assert float(z.min()) == 0.0 and float(z.max()) == 1.0      # clipped to [0, 1]


def test_salt_and_pepper_replaces_the_stated_fraction_with_even_odds():
    n, p = 100_000, 0.03
    y = R.corrupt(torch.full((n,), 0.5), "salt-pepper", p, gen(3))
    hit = y != 0.5
    assert within_se(int(hit.sum()), n, p)
    assert within_se(int((y[hit] == 1.0).sum()), int(hit.sum()), 0.5)


def test_corruptions_are_reproducible_and_zero_strength_is_identity():
    x = torch.rand(50, 64, generator=gen(0))
    for kind in ("gaussian", "multiplicative", "salt-pepper"):
        assert torch.equal(R.corrupt(x, kind, 0.2, gen(5)), R.corrupt(x, kind, 0.2, gen(5)))
        assert torch.equal(R.corrupt(x, kind, 0.0, gen(5)), x)


def test_spike_faults_delete_and_add_at_the_stated_rate():
    n, p = 50_000, 0.1
    s = torch.cat([torch.ones(1, n, 1), torch.zeros(1, n, 1)], 1)
    out = R.SpikeFaults(p).spikes(s, gen(4))
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    assert within_se(int((out[0, :n] == 0).sum()), n, p)        # deleted
    assert within_se(int((out[0, n:] == 1).sum()), n, p)        # added


def test_spike_faults_act_on_what_is_sent_not_on_the_neurons():
    # p = 1 flips every position; the first layer's own dynamics (firing and reset on
    # its emitted spikes) are untouched, so its output is exactly 1 - the clean spikes
    layer = SpikingDense(6, 40, noisy_lif(beta=0.8))
    x = torch.rand(3, 6, 20, generator=gen(0)) * 2
    clean = layer(x, generator=gen(7)).detach()
    flipped = layer(x, generator=gen(7), perturbation=R.SpikeFaults(1.0)).detach()
    assert 0 < float(clean.mean()) < 1
    assert torch.equal(flipped, 1 - clean)


def test_membrane_noise_gives_the_escape_probability_of_a_deterministic_neuron():
    # beta = 0: the state is the step's drive d + sigma xi, so a deterministic LIF
    # fires with probability P(d + sigma xi > theta) = Phi((d - theta) / sigma)
    sigma, d = 0.2, 0.9
    layer = SpikingDense(1, 2000, discrete_lif(beta=0.0), surrogate="fast_sigmoid")
    with torch.no_grad():
        layer.synapse.weight.fill_(d)
        layer.synapse.bias.zero_()
    s = layer(torch.ones(1, 1, 50), perturbation=R.MembraneNoise(sigma), generator=gen(8)).detach()
    n = s.numel()
    assert within_se(int(s.sum()), n, float(norm.cdf((d - 1.0) / sigma)))
    assert float(layer(torch.ones(1, 1, 50)).detach().sum()) == 0.0     # noise-free: never fires


def test_l2_attack_stays_on_the_sphere_and_raises_the_loss(nets, digits):
    net = nets["lif"]                                          # deterministic: exact losses
    x = torch.as_tensor(digits.X[:200], dtype=torch.float32)
    y = torch.as_tensor(digits.y[:200])
    r = 0.5 * float(x.flatten(1).norm(dim=1).mean())
    start = R.l2_attack(net, x, y, 0.5, steps=0)               # the random start
    adv = R.l2_attack(net, x, y, 0.5)
    for a in (start, adv):
        assert torch.allclose((a - x).flatten(1).norm(dim=1), torch.full((200,), r), rtol=1e-4)

    def loss(z):
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(net(z), y))
    assert loss(adv) > loss(start) > loss(x)


def test_fgsm_is_a_bounded_step_that_raises_the_loss(nets, digits):
    net = nets["lif"]
    x = torch.as_tensor(digits.X[:200], dtype=torch.float32)
    y = torch.as_tensor(digits.y[:200])
    adv = R.fgsm(net, x, y, 0.1)
    assert float((adv - x).abs().max()) <= 0.1 + 1e-6
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    with torch.no_grad():
        ce = [float(torch.nn.functional.cross_entropy(net(z), y)) for z in (x, adv)]
    assert ce[1] > ce[0]


def test_expectation_over_noise_steadies_the_attack_gradient(nets, digits):
    # two attacks with fresh noise disagree far less often when each averages 8 samples
    net = nets["nsnn"]
    x = torch.as_tensor(digits.X[:200], dtype=torch.float32)
    y = torch.as_tensor(digits.y[:200])
    agree = {}
    for k in (1, 8):
        a, b = (R.fgsm(net, x, y, 0.1, samples=k, seed=s) - x for s in (1, 2))
        moved = (a != 0) | (b != 0)
        agree[k] = float((torch.sign(a) == torch.sign(b))[moved].double().mean())
    # sign disagreements fall by more than 40 % (measured: 8.6 % -> 3.6 %)
    assert 1 - agree[8] < 0.6 * (1 - agree[1]), agree


def test_inputs_are_corrupted_once_before_the_passes_are_averaged(nets, digits):
    # a deterministic net scores a frozen corruption the same with 1 or 8 passes
    sub = digits.subset(range(300))
    one = R.evaluate(nets["lif"], sub, {"gaussian": (0.4,)}, ensemble=1)
    eight = R.evaluate(nets["lif"], sub, {"gaussian": (0.4,)}, ensemble=8)
    assert one["rows"] == eight["rows"]
    again = R.evaluate(nets["nsnn"], sub, {"spikes": (0.1,)}, ensemble=2, seed=3)
    assert again == R.evaluate(nets["nsnn"], sub, {"spikes": (0.1,)}, ensemble=2, seed=3)


def test_compare_averages_seeds_and_leaves_single_sample_attacks_out(digits):
    suite = {"salt-pepper": (0.1,), "fgsm": (0.1,), "fgsm-single": (0.1,)}
    res = R.compare(digits, seeds=(0, 1), options=TrainOptions(epochs=2, momentum=0.9),
                    suite=suite, ensemble=2, samples=2, hidden=16)
    assert [(r["kind"], r["strength"]) for r in res["table"]] == [
        ("salt-pepper", 0.1), ("fgsm", 0.1), ("fgsm-single", 0.1)]
    acc = {k: np.array([[row["accuracy"] for row in run["rows"]] for run in v])
           for k, v in res["runs"].items()}
    diff = acc["nsnn"] - acc["lif"]
    assert [r["difference"] for r in res["table"]] == pytest.approx(diff.mean(0).tolist())
    per_seed = diff[:, :2].mean(1)
    assert res["mean_difference"] == pytest.approx(per_seed.mean())
    assert res["mean_difference_spread"] == pytest.approx(per_seed.std())
    clean = np.mean([a["clean"] - b["clean"] for a, b in zip(res["runs"]["nsnn"],
                                                             res["runs"]["lif"])])
    assert res["clean_difference"] == pytest.approx(clean)
    assert all(0.2 < r["test_accuracy"] <= 1 for v in res["runs"].values() for r in v)


@pytest.mark.parametrize("call", [
    lambda: R.corrupt(torch.zeros(3), "blur", 0.1),
    lambda: R.corrupt(torch.zeros(3), "gaussian", -0.1),
    lambda: R.corrupt(torch.zeros(3), "salt-pepper", 1.5),
    lambda: R.SpikeFaults(2.0),
    lambda: R.MembraneNoise(float("nan")),
    lambda: R.evaluate(SpikingNet([SpikingDense(2, 2, noisy_lif())]),
                       (torch.zeros(2, 2), torch.zeros(2)), {"warp": (1.0,)}),
])
def test_bad_perturbations_are_parameter_errors(call):
    with pytest.raises(ParameterError):
        call()


def test_figure_draws_the_curves(tmp_path, digits):
    res = R.compare(digits, seeds=(0,), options=TrainOptions(epochs=1, momentum=0.9),
                    suite={"spikes": (0.1, 0.2), "membrane": (0.2,)}, ensemble=1, hidden=8)
    path = tmp_path / "robustness.png"
    R.figure(res, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
