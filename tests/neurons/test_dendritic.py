"""Dendritic networks: budget accounting against hand counts, budget matching, the
spiking variant's spike count, and the argument checks."""
import math

import numpy as np
import pytest
import torch

from neuromod.backends.dendrites import DendriticConv2d, DendriticDense, RateNet
from neuromod.errors import ParameterError
from neuromod.neurons.dendritic import (REFERENCE, budget, dendritic_neuron, match_budget,
                                        network, spikes_sent)


def test_dendritic_neuron_definition():
    m = dendritic_neuron(3, "sigmoid", "lif", beta=0.7)
    assert m.inputs == ("x_1", "x_2", "x_3") and m.firing is None
    assert m.parameters["beta"].value == 0.7
    assert m.updates.count("tanh") == 3
    with pytest.raises(ParameterError, match="branches must be"):
        dendritic_neuron(0)
    with pytest.raises(ParameterError, match="soma must be one of"):
        dendritic_neuron(2, soma="relu")
    with pytest.raises(ParameterError, match="branch must be one of"):
        dendritic_neuron(2, branch="step")


def test_budget_hand_count_dense_rate():
    # 10 inputs -> 3 somata x 4 branches -> 2 somata x 2 branches -> 5 classes
    net = RateNet([DendriticDense(10, 3, 4), DendriticDense(3, 2, 2),
                   DendriticDense(2, 5, 1, "identity", "identity")])
    b = budget(net)
    assert b["params"] == (10 * 12 + 12) + (3 * 4 + 4) + (2 * 5 + 5)
    assert b["macs"] == 10 * 12 + 3 * 4 + 2 * 5
    assert b["activations_per_sample"] == 3 + 2
    assert b["bytes_written"] == 4 * ((12 + 3) + (4 + 2) + (5 + 5))
    assert b["K"] == [4, 2] and b["widths"] == [10, 3, 2, 5] and b["time_steps"] == 1
    assert b["params"] == sum(p.numel() for p in net.parameters())


def test_budget_hand_count_conv():
    # 2x6x6 input, 3x3 conv (same padding), 4 channels x 2 branches, pool 2, then dense
    conv = DendriticConv2d((2, 6, 6), 4, 3, branches=2, pool=2)
    net = RateNet([conv, DendriticDense(4 * 3 * 3, 10, soma="identity")])
    b = budget(net)
    assert b["macs"] == 2 * 9 * 8 * 36 + 36 * 10
    assert b["params"] == (2 * 9 * 8 + 8) + (36 * 10 + 10)
    assert b["activations_per_sample"] == 4 * 3 * 3          # the pooled map is sent
    assert b["bytes_written"] == 4 * ((4 * 36 * 2 + 4 * 36 + 36) + 20)


def test_budget_of_spiking_nets_counts_every_step():
    rate, spiking = network((8, 6, 3), 2), network((8, 6, 3), 2, soma="noisy-lif",
                                                    time_steps=5)
    br, bs = budget(rate), budget(spiking)
    assert bs["time_steps"] == 5 and bs["params"] == br["params"]
    for key in ("macs", "activations_per_sample", "bytes_written"):
        assert bs[key] == 5 * br[key]


def test_match_budget_macs_reference():
    W = REFERENCE["digits"]
    assert match_budget(W, 1).widths == W
    for K in (2, 3, 4, 5, 8, 16):
        arch = match_budget(W, K)
        assert arch.widths[0] == 64 and arch.widths[-1] == 10
        assert all(abs(r["relative_error"]) <= 0.05 for r in arch.layers)
        # the budget of the built network agrees with the matching, layer by layer
        rows = budget(arch.network())["layers"]
        for r, row in zip(arch.layers, rows):
            assert row["macs"] == r["dendritic"]
            assert r["point"] == W[r["layer"] - 1] * W[r["layer"]]
    assert match_budget(W, 4).widths == (64, 64, 256, 64, 10)
    assert match_budget(W, 16).widths == (64, 16, 256, 16, 10)
    assert match_budget(W, 3).widths == (64, 85, 257, 85, 10)


def test_match_budget_params_and_the_exponent_of_activations():
    arch = match_budget((64, 32, 1), 4, match="params")
    net = arch.network()
    first = budget(net)["layers"][0]["params"]
    assert arch.widths == (64, 8, 1) and first == 65 * 32
    acts = [budget(match_budget(REFERENCE["digits"], K).network())["activations_per_sample"]
            for K in (1, 2, 4, 8, 16)]
    assert acts == [768, 512, 384, 320, 288]
    slope = np.polyfit(np.log([1, 2, 4, 8, 16]), np.log(acts), 1)[0]
    assert -0.5 < slope < -0.3


def test_match_budget_errors():
    with pytest.raises(ParameterError, match="branches must be an integer >= 1"):
        match_budget((64, 256, 10), 0)
    with pytest.raises(ParameterError, match="match must be one of"):
        match_budget((64, 256, 10), 2, match="flops")
    with pytest.raises(ParameterError, match=r"nearest integer width, 1, is off by 17%"):
        match_budget((64, 256, 10), 300)
    with pytest.raises(ParameterError, match="point widths"):
        match_budget((64, 10), 2)


def test_network_checks():
    with pytest.raises(ParameterError, match="widths must be"):
        network((64, 10))
    with pytest.raises(ParameterError, match="soma must be one of"):
        network((4, 3, 2), soma="tanh")
    with pytest.raises(ParameterError, match="one per hidden layer"):
        network((4, 3, 3, 2), branches=[2])
    net = network((4, 3, 3, 2), branches=[1, 4])
    assert [layer.branches for layer in net.layers] == [1, 4, 1]
    assert [layer.branch for layer in net.layers] == ["identity", "relu", "identity"]


def test_spikes_sent_counts_the_emitted_spikes():
    torch.manual_seed(0)
    net = network((6, 5, 4, 3), 2, soma="noisy-lif", time_steps=4)
    X = torch.rand(10, 6) * 3
    s = spikes_sent(net, X, torch.Generator().manual_seed(1))
    # the same pass by hand, layer by layer, with the same generator
    g = torch.Generator().manual_seed(1)
    net.eval()
    with torch.no_grad():
        h = X.unsqueeze(-1).expand(10, 6, 4)
        counts = []
        for layer in net.layers[:-1]:
            h = layer(h, generator=g)
            counts.append(float(h.sum()) / 10)
    assert s["per_layer"] == pytest.approx(counts, abs=0) and s["total"] == sum(counts)
    assert s["total"] > 0


def test_rate_training_learns_digits_quickly():
    from neuromod.neurons.dendritic import train
    from neuromod.training import TrainOptions
    net, report = train("digits", branches=4, point_widths=(64, 64, 10),
                        options=TrainOptions(epochs=4, lr=3e-3, optimizer="adam"))
    b = report["budget"]
    assert b["widths"] == [64, 16, 10] and b["K"] == 4 and b["match"] == "macs"
    assert report["test_accuracy"] > 0.85        # chance 0.1
    with pytest.raises(ParameterError, match="do not fit digits"):
        train("digits", point_widths=(40, 32, 10))
