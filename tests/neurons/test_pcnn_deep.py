"""Deep PCNN: the coupled convolution against an explicit loop of the neuron's
equations, the normalisations' statistics, learnable parameters in range, counts
by hand, save/load, and the same neuron on Brian2."""
import math

import numpy as np
import pytest
import torch

from neuromod.backends.layers import SpikingConv2d
from neuromod.errors import ParameterError
from neuromod.neurons.pcnn.deep import counts, dpcnn_neuron, network


def _explicit(layer, x):
    """The layer's forward written out from the module docstring's equations."""
    B, T = x.shape[0], x.shape[-1]
    P = {k: float(getattr(layer.neurons, "p_" + k)) for k in ("r_F", "r_L", "r_E", "b",
                                                              "V_E", "theta")}
    sig = lambda r: 1.0 / (1.0 + math.exp(-r))     # noqa: E731
    aF, aL, aE, beta = sig(P["r_F"]), sig(P["r_L"]), sig(P["r_E"]), math.log1p(math.exp(P["b"]))
    C, H, W = layer.conv_shape
    F = torch.zeros(B, C, H, W, dtype=x.dtype)
    L = torch.zeros_like(F)
    E = torch.full_like(F, P["theta"])
    Y = torch.zeros_like(F)
    w = layer.coupler.weight * layer.coupling_mask
    out = []
    for t in range(T):
        drive = layer.synapse(x[..., t])
        c = torch.nn.functional.conv2d(Y, w, padding=1, groups=layer.coupler.groups)
        E = E * aE + P["theta"] * (1 - aE)
        F = aF * F + drive
        L = aL * L + c
        Y = (F * (1 + beta * L) > E).to(x.dtype)
        E = E + P["V_E"] * Y
        out.append(Y)
    return torch.stack(out, -1)


@pytest.mark.parametrize("coupling", ["intra", "inter"])
def test_coupled_layer_matches_the_equations(coupling):
    torch.manual_seed(0)
    layer = SpikingConv2d((2, 6, 5), 3, 3, model=dpcnn_neuron(), coupling=coupling,
                          dtype=torch.float64)
    with torch.no_grad():
        layer.coupler.weight.uniform_(-0.5, 1.5)
        layer.synapse.weight.mul_(3.0)
    x = torch.rand(4, 2, 6, 5, 7, dtype=torch.float64)
    with torch.no_grad():
        got = layer(x)
    ref = _explicit(layer, x)
    assert got.sum() > 10 and torch.equal(got, ref)
    # the centre tap of a neuron onto itself stays 0 whatever the weights
    w = layer.coupler.weight * layer.coupling_mask
    if coupling == "intra":
        assert (w[:, 0, 1, 1] == 0).all()
    else:
        assert all(w[c, c, 1, 1] == 0 for c in range(3)) and w[0, 1, 1, 1] != 0


def test_gradients_reach_coupling_and_neuron_parameters():
    torch.manual_seed(1)
    net = network((1, 8, 8), 10, width=3, coupling="inter", norm="rftd")
    x = torch.rand(5, 1, 8, 8)
    loss = torch.nn.functional.cross_entropy(net(x), torch.arange(5))
    loss.backward()
    conv = net.layers[0]
    for p in (conv.coupler.weight, conv.synapse.weight, conv.neurons.p_r_F,
              conv.neurons.p_b, conv.drive_norm.weight):
        assert p.grad is not None and torch.isfinite(p.grad).all()
    assert conv.coupler.weight.grad.abs().sum() > 0 and conv.neurons.p_b.grad != 0
    # decays stay in (0, 1) and beta > 0 for any value of their parameters
    m = dpcnn_neuron(r_F=40.0, r_E=-40.0, b=-30.0)
    assert 0 < m.derived_value("a_E") < 1e-15 and 0 < m.derived_value("beta") < 1e-12


def test_norms_statistics():
    torch.manual_seed(2)
    T = 3
    rftd = SpikingConv2d((1, 6, 6), 2, 3, model=dpcnn_neuron(theta=2.0), norm="rftd")
    bn = SpikingConv2d((1, 6, 6), 2, 3, model=dpcnn_neuron(), norm="bn")
    assert torch.equal(rftd.drive_norm.weight, torch.full((2,), 2.0))   # starts at theta
    x = torch.rand(8, 1, 6, 6, T) * torch.arange(1, T + 1)              # scale grows with t
    captured = {}
    from neuromod.backends.layers import Perturbation

    class P(Perturbation):
        def drive(self, d, generator):
            captured["d"] = d.detach()
            return d
    rftd.train()
    rftd(x, perturbation=P())
    d = captured["d"].reshape(8, 2, 36, T)          # (batch, channel, position, time)
    pooled = d.permute(1, 0, 2, 3).reshape(2, -1)
    torch.testing.assert_close(pooled.mean(1), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(pooled.std(1, unbiased=False), torch.full((2,), 2.0),
                               atol=1e-3, rtol=0)
    assert d[..., 0].std() < d[..., -1].std()       # pooled over time: steps keep their scale
    bn.train()
    bn(x, perturbation=P())
    d = captured["d"].reshape(8, 2, 36, T)
    per_step = d.permute(3, 1, 0, 2).reshape(T, 2, -1)
    torch.testing.assert_close(per_step.std(2, unbiased=False), torch.ones(T, 2), atol=1e-3,
                               rtol=0)


def test_counts_by_hand_and_errors():
    net = network((1, 8, 8), 10, width=4, coupling="intra")
    # conv1 1->4 on 8x8: 9*4*64 + intra 4*8 taps*64; conv2 4->8 on 4x4: 4*9*8*16
    # + intra 8*8*16; read-out 8*2*2 -> 10
    assert counts(net) == {"neurons": 4 * 64 + 8 * 16,
                           "synapses": 9 * 4 * 64 + 4 * 8 * 64 + 4 * 9 * 8 * 16
                           + 8 * 8 * 16 + 32 * 10}
    one_row = network((1, 1, 40), 10, width=2, coupling="none", neuron="lif")
    assert [layer.out_shape for layer in one_row.layers[:2]] == [(2, 1, 20), (4, 1, 10)]
    with pytest.raises(ParameterError, match="coupling needs PCNN"):
        network((1, 8, 8), 10, neuron="lif", coupling="inter")
    with pytest.raises(ParameterError, match="coupling must be one of"):
        network((1, 8, 8), 10, coupling="all")
    with pytest.raises(ParameterError, match="norm must be one of"):
        network((1, 8, 8), 10, norm="ln")
    with pytest.raises(ParameterError, match="second input"):
        from neuromod.neurons.nsnn import discrete_lif
        SpikingConv2d((1, 4, 4), 2, 3, model=discrete_lif(), coupling="intra")


def test_save_load_round_trip(tmp_path):
    from neuromod.backends.serialize import load, save
    torch.manual_seed(3)
    net = network((1, 8, 8), 10, width=3, coupling="inter", norm="bn")
    net.train()
    net(torch.rand(16, 1, 8, 8))                    # running statistics move
    net.eval()
    save(net, tmp_path / "d.npz")
    back = load(tmp_path / "d.npz")
    x = torch.rand(4, 1, 8, 8)
    assert back.config() == net.config() and torch.equal(back(x), net(x))


def test_dpcnn_neuron_same_spikes_on_brian2_and_torch():
    from neuromod.backends.network import simulate
    rng = np.random.default_rng(4)
    n = 60
    inputs = {"x": rng.uniform(0.0, 1.5, n), "c": rng.uniform(0.0, 2.0, n)}
    model = dpcnn_neuron(r_F=0.5, r_E=1.0, b=0.2, V_E=2.0)
    a, b = (simulate(model, n, 0.05, dt=1e-3, backend=be, inputs=inputs, **o).spikes["neurons"]
            for be, o in (("torch", {}), ("brian2", {"target": "numpy"})))
    assert len(a.ids) > 50 and np.array_equal(a.ids, b.ids) and np.array_equal(a.times, b.times)
