"""Convolutional coupling inside a Network (Network.connect_conv): the same spikes as the
equivalent dense connection, on both backends and every Torch path, identical spikes
across backends, a trainable kernel, and save/load."""
import numpy as np
import pytest
import torch

from neuromod.backends import load, save
from neuromod.backends.coupling import dense_matrix
from neuromod.backends.network import ConvConnection, Network
from neuromod.backends.torch_network import TorchNetwork
from neuromod.errors import NeuromodError, ParameterError
from neuromod.neurons import lif
from neuromod.spikes import SpikeTrains

DT = 1e-4
SHAPE = (5, 6)


def build(coupling, boundary="circular", seed=4):
    """Spikes on two 5 x 6 input maps drive one 5 x 6 LIF map through a 3 x 3 kernel
    (excitatory centre, inhibitory surround), with a 0.5 ms delay; the LIF map also
    couples to itself (lateral kernel)."""
    rng = np.random.default_rng(seed)
    n_in = 2 * SHAPE[0] * SHAPE[1]
    trains = [np.sort(rng.choice(np.arange(1, 400), 5, replace=False)) * DT for _ in range(n_in)]
    K = rng.normal(0.0, 0.4e-9, size=(1, 2, 3, 3))
    K[0, :, 1, 1] = 1.2e-9
    L = np.full((1, 1, 3, 3), 0.15e-9)
    L[0, 0, 1, 1] = 0.0
    net = Network()
    net.add_spike_source("inp", SpikeTrains.from_list(trains, t_stop=0.05))
    net.add_population("map", lif(), SHAPE[0] * SHAPE[1], inputs={"I_ext": 0.9e-9})
    if coupling == "conv":
        net.connect_conv("inp", "map", "e", K, SHAPE, boundary, delays=5e-4)
        net.connect_conv("map", "map", "e", L, SHAPE, boundary, delays=1e-3)
    else:
        net.connect("inp", "map", "e", dense_matrix(K, SHAPE, boundary), delays=5e-4)
        net.connect("map", "map", "e", dense_matrix(L, SHAPE, boundary), delays=1e-3)
    return net


@pytest.mark.parametrize("boundary", ["zero", "circular"])
@pytest.mark.parametrize("backend,options", [("torch", {"fused": True}), ("torch", {"fused": False}),
                                             ("brian2", {"target": "numpy"})])
def test_conv_connection_gives_the_spikes_of_the_dense_matrix(boundary, backend, options):
    a = build("conv", boundary).run(0.05, DT, backend=backend, **options)
    b = build("dense", boundary).run(0.05, DT, backend=backend, **options)
    assert a.spikes["map"].n_spikes > 20                 # the map is active
    np.testing.assert_array_equal(a.spikes["map"].ids, b.spikes["map"].ids)
    np.testing.assert_array_equal(a.spikes["map"].times, b.spikes["map"].times)


def test_conv_network_identical_on_both_backends():
    net = build("conv")
    t = net.run(0.05, DT, backend="torch")
    b = net.run(0.05, DT, backend="brian2", target="numpy")
    np.testing.assert_array_equal(t.spikes["map"].ids, b.spikes["map"].ids)
    np.testing.assert_array_equal(t.spikes["map"].times, b.spikes["map"].times)


def test_the_kernel_is_trainable_and_the_trained_kernel_runs_in_brian2():
    net = build("conv")
    tnet = TorchNetwork(net, DT, dtype=torch.float64)
    kernels = [k for k, c in zip(tnet.weights, net.connections) if isinstance(c, ConvConnection)]
    assert [tuple(tnet.weights[k].shape) for k in kernels] == [(1, 2, 3, 3), (1, 1, 3, 3)]
    out = tnet(500)
    out["map"].sum().backward()
    assert all(torch.isfinite(tnet.weights[k].grad).all() and tnet.weights[k].grad.abs().sum() > 0
               for k in kernels)
    with torch.no_grad():
        tnet.weights[kernels[0]].mul_(1.3)
    trained = tnet.to_network()
    assert np.allclose(trained.connections[0].kernel, 1.3 * net.connections[0].kernel)
    a = trained.run(0.05, DT, backend="torch")
    b = trained.run(0.05, DT, backend="brian2", target="numpy")
    np.testing.assert_array_equal(a.spikes["map"].times, b.spikes["map"].times)
    np.testing.assert_array_equal(a.spikes["map"].ids, b.spikes["map"].ids)


def test_save_and_load_keep_the_kernel(tmp_path):
    net = build("conv")
    save(net, tmp_path / "net.npz")
    back = load(tmp_path / "net.npz")
    c0, c1 = net.connections[0], back.connections[0]
    assert isinstance(c1, ConvConnection) and c1.shape == c0.shape and c1.boundary == c0.boundary
    np.testing.assert_array_equal(c1.kernel, c0.kernel)
    assert c1.delays == c0.delays
    a, b = net.run(0.05, DT), back.run(0.05, DT)
    np.testing.assert_array_equal(a.spikes["map"].times, b.spikes["map"].times)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"shape": (5, 5)}, NeuromodError, "needs 50 source and 25 target neurons"),
    ({"kernel": np.ones((1, 2, 2, 2))}, ParameterError, "odd"),
    ({"boundary": "mirror"}, ParameterError, "boundary"),
    ({"delays": -1e-3}, NeuromodError, "delays"),
    ({"delays": np.zeros(3)}, NeuromodError, "one delay"),
    ({"port": "x"}, NeuromodError, "no port 'x'"),
])
def test_bad_conv_connections_are_one_line_errors(kwargs, error, match):
    net = Network()
    net.add_population("inp", lif(), 60)
    net.add_population("map", lif(), 30)
    args = dict(source="inp", target="map", port="e", kernel=np.ones((1, 2, 3, 3)) * 1e-10,
                shape=SHAPE, boundary="zero", delays=0.0)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        net.connect_conv(**args)
