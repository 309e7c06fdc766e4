"""Dendritic branch layers: the nonlinearities against torch's, the layers against
explicit per-branch formulas, K = 1 against point layers, several input drives of
NeuronLayer, and the dendritic neuron on both backends."""
import numpy as np
import pytest
import torch

from neuromod.backends.dendrites import (NONLINEARITIES, DendriticConv2d, DendriticDense,
                                         RateNet, nonlinearity)
from neuromod.backends.layers import SpikingConv2d, SpikingDense
from neuromod.backends.torch_backend import NeuronLayer
from neuromod.errors import ParameterError
from neuromod.neurons.dendritic import dendritic_neuron
from neuromod.neurons.nsnn import discrete_lif, noisy_lif

REFERENCE = {"identity": lambda x: x, "relu": torch.relu,
             # torch's softplus returns x beyond x > 20; logaddexp is exact there too
             "softplus": lambda x: torch.logaddexp(x, torch.zeros_like(x)),
             "sigmoid": torch.sigmoid}


@pytest.mark.parametrize("name", sorted(NONLINEARITIES))
def test_nonlinearity_matches_torch_values_and_gradients(name):
    x = torch.linspace(-120.0, 120.0, 2001, dtype=torch.float64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    y, ref = nonlinearity(name)(x), REFERENCE[name](x2)
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-15)
    y.sum().backward()
    ref.sum().backward()
    keep = x.detach() != 0          # the rectifier's kink: any subgradient
    torch.testing.assert_close(x.grad[keep], x2.grad[keep], rtol=1e-12, atol=1e-15)
    # float32 far out: finite values and gradients (the overflow-free forms)
    x32 = torch.tensor([-200.0, -90.0, 0.5, 90.0, 200.0], requires_grad=True)
    out = nonlinearity(name)(x32)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x32.grad).all()


def test_k1_identity_is_the_point_layer_bit_for_bit():
    torch.manual_seed(0)
    lin = torch.nn.Linear(7, 5)
    layer = DendriticDense(7, 5, 1, "identity", "relu")
    layer.load_state_dict({"synapse." + k: v for k, v in lin.state_dict().items()})
    x = torch.randn(9, 7, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    y, ref = layer(x), torch.relu(lin(x2))
    assert torch.equal(y, ref)
    (y ** 2).sum().backward()
    (ref ** 2).sum().backward()
    assert torch.equal(x.grad, x2.grad)
    assert torch.equal(layer.synapse.weight.grad, lin.weight.grad)


@pytest.mark.parametrize("branch,soma", [("relu", "relu"), ("sigmoid", "softplus"),
                                         ("softplus", "identity")])
def test_dense_layer_is_the_sum_of_its_branches(branch, soma):
    torch.manual_seed(1)
    n_in, n, K = 6, 4, 3
    layer = DendriticDense(n_in, n, K, branch, soma).double()
    x = torch.randn(5, n_in, dtype=torch.float64)
    W, b = layer.synapse.weight, layer.synapse.bias
    g, s = REFERENCE[branch], REFERENCE[soma]
    ref = torch.stack([s(sum(g(x @ W[k * n + j] + b[k * n + j]) for k in range(K)))
                       for j in range(n)], 1)
    torch.testing.assert_close(layer(x), ref, rtol=1e-12, atol=1e-12)


def test_conv_layer_is_the_sum_of_its_branch_maps():
    torch.manual_seed(2)
    C, K = 3, 2
    layer = DendriticConv2d((2, 6, 6), C, 3, branches=K, branch="relu", soma="sigmoid",
                            pool=2).double()
    x = torch.randn(4, 2, 6, 6, dtype=torch.float64)
    W, b = layer.synapse.weight, layer.synapse.bias
    maps = []
    for c in range(C):
        z = sum(torch.relu(torch.nn.functional.conv2d(x, W[k * C + c:k * C + c + 1],
                                                      b[k * C + c:k * C + c + 1], padding=1))
                for k in range(K))
        maps.append(torch.sigmoid(z))
    ref = torch.nn.functional.avg_pool2d(torch.cat(maps, 1), 2)
    torch.testing.assert_close(layer(x), ref, rtol=1e-12, atol=1e-12)


def test_rate_net_checks_and_round_trips(tmp_path):
    from neuromod.backends.serialize import load, save
    with pytest.raises(ParameterError, match="do not chain"):
        RateNet([DendriticDense(4, 3), DendriticDense(5, 2)])
    with pytest.raises(ParameterError, match="branches must be"):
        DendriticDense(4, 3, branches=0)
    with pytest.raises(ParameterError, match="branch must be one of"):
        DendriticDense(4, 3, branch="tanh")
    torch.manual_seed(3)
    net = RateNet([DendriticConv2d((1, 8, 8), 4, 3, branches=2, pool=2),
                   DendriticDense(64, 10, soma="identity")])
    x = torch.randn(3, 1, 8, 8)
    save(net, tmp_path / "net.npz")
    back = load(tmp_path / "net.npz")
    assert type(back) is RateNet and back.config() == net.config()
    assert torch.equal(back(x), net(x))


def test_neuron_layer_with_several_drives():
    """Identity branches of a deterministic soma: the same spikes and gradients as
    the point soma driven by the branch sum (the same floating-point sum)."""
    torch.manual_seed(4)
    K, n, T = 3, 5, 12
    x = torch.randn(2, K, n, T, dtype=torch.float64) * 0.8
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    multi = NeuronLayer(dendritic_neuron(K, "identity", "lif"), n, 1e-3,
                        drive=("x_1", "x_2", "x_3"), dtype=torch.float64)
    point = NeuronLayer(discrete_lif(), n, 1e-3, drive="x", dtype=torch.float64)
    sa = multi(xa)
    sb = point(xb[:, 0] + xb[:, 1] + xb[:, 2])
    assert sa.sum() > 0 and torch.equal(sa, sb)
    (sa * torch.arange(T, dtype=torch.float64)).sum().backward()
    (sb * torch.arange(T, dtype=torch.float64)).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match=r"\(batch, 3, 5, time\)"):
        multi(x[:, :2])
    with pytest.raises(ValueError, match="distinct input variables"):
        NeuronLayer(dendritic_neuron(2), 3, 1e-3, drive=("x_1", "x_1"))


def test_spiking_dense_routes_rows_to_branches():
    """Row k n + j of the synapse drives branch k of neuron j."""
    torch.manual_seed(5)
    K, n_in, n, T = 2, 4, 3, 6
    model = dendritic_neuron(K, "relu", "noisy-lif")
    layer = SpikingDense(n_in, n, model, branches=K).double()
    x = torch.rand(2, n_in, T, dtype=torch.float64)
    z = torch.einsum("oi,bit->bot", layer.synapse.weight, x) + layer.synapse.bias[:, None]
    drive = z.reshape(2, K, n, T)
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    s = layer(x, generator=g1)
    ref = NeuronLayer(model, n, 1e-3, drive=("x_1", "x_2"), dtype=torch.float64)(
        drive, generator=g2)
    assert torch.equal(s, ref)
    with pytest.raises(ParameterError, match="as many inputs"):
        SpikingDense(4, 3, noisy_lif(), branches=2)
    conv = SpikingConv2d((1, 6, 6), 2, 3, model=model, branches=K)
    assert tuple(conv.synapse.weight.shape) == (4, 1, 3, 3)
    assert tuple(conv(torch.rand(2, 1, 6, 6, T)).shape) == (2, 2, 6, 6, T)


@pytest.mark.parametrize("soma,decay", [("noisy-lif", None), ("lif", None),
                                        ("noisy-lif", 0.6)])
def test_dendritic_neuron_same_spikes_on_brian2_and_torch(soma, decay):
    from neuromod.backends.network import simulate
    K, n = 3, 120
    model = dendritic_neuron(K, "relu", soma, beta=0.8, branch_decay=decay)
    rng = np.random.default_rng(11)
    inputs = {f"x_{k}": rng.normal(0.1, 0.4, n) for k in range(1, K + 1)}
    runs = [simulate(model, n, 0.04, dt=1e-3, backend=b, inputs=inputs, seed=7, **o)
            for b, o in (("torch", {}), ("brian2", {"target": "numpy"}))]
    a, b = (r.spikes["neurons"] for r in runs)
    assert len(a.ids) > 100
    assert np.array_equal(a.ids, b.ids) and np.array_equal(a.times, b.times)


def test_leaky_branch_compartments():
    """d_k <- alpha_d d_k + x_k before the nonlinearity: a constant drive x reaches
    the soma as g(x (1 - alpha_d^t) / (1 - alpha_d)) after t steps."""
    m = dendritic_neuron(2, "identity", "lif", branch_decay=0.5, theta=1e9, beta=0.0)
    assert list(m.states) == ["u", "d_1", "d_2"]
    layer = NeuronLayer(m, 1, 1e-3, drive=("x_1", "x_2"), dtype=torch.float64)
    x = torch.ones(1, 2, 1, 5, dtype=torch.float64)
    _, traces, _ = layer(x, record=("u",))
    t = torch.arange(1, 6, dtype=torch.float64)
    torch.testing.assert_close(traces["u"][0, 0], 2 * (1 - 0.5 ** t) / 0.5)
    with pytest.raises(ParameterError, match="needs a spiking soma"):
        from neuromod.neurons.dendritic import network
        network((4, 3, 2), 2, soma="relu", branch_decay=0.5)
