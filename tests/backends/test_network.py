"""Networks on both backends: a CUBA-style E/I network gives the same population rate;
Torch-trained weights run in Brian2; connectivity of a hand-written Brian2 network
brought into neuromod reproduces its spikes on the Torch backend."""
import numpy as np
import pytest
import scipy.sparse as sps
import torch

from neuromod.backends.brian2_backend import connectivity_from_brian2
from neuromod.backends.network import Network
from neuromod.backends.torch_network import TorchNetwork
from neuromod.neurons import lif
from neuromod.neurons.networks import cuba
from neuromod.spikes import SpikeTrains

DT = 1e-4


def test_cuba_population_rate_agrees_within_5_percent():
    net = cuba(n=1000, p=0.08, seed=3)
    rates = {}
    for b in ("torch", "brian2"):
        r = net.run(0.25, DT, backend=b)
        rates[b] = sum(s.n_spikes for s in r.spikes.values()) / 1000 / 0.25
    assert rates["brian2"] > 2.0                  # the network is active
    assert abs(rates["torch"] - rates["brian2"]) <= 0.05 * rates["brian2"], rates


def _training_net():
    rng = np.random.default_rng(5)
    net = Network()
    trains = [np.sort(rng.choice(np.arange(1, 300), 6, replace=False)) * 1e-4 for _ in range(10)]
    net.add_spike_source("inp", SpikeTrains.from_list(trains, t_stop=0.03))
    net.add_population("hid", lif(), 6, inputs={"I_ext": 0.8e-9})
    net.add_population("out", lif(), 2, inputs={"I_ext": 0.8e-9})
    net.connect("inp", "hid", "e", rng.random((10, 6)) * 0.6e-9, delays=rng.integers(0, 20, (10, 6)) * 1e-4)
    W2 = sps.random(6, 2, density=0.7, random_state=1, data_rvs=lambda k: np.full(k, 0.5e-9), format="csr")
    net.connect("hid", "out", "e", W2, delays=1e-3)
    return net


def test_torch_trained_weights_run_in_brian2():
    net = _training_net()
    tnet = TorchNetwork(net, DT, dtype=torch.float64)
    originals = [np.array(c.weights.todense() if hasattr(c.weights, "todense") else c.weights)
                 for c in net.connections]
    opt = torch.optim.SGD(tnet.parameters(), lr=2e-21)   # weights ~1e-9 A, gradients ~1e11 / A
    for _ in range(3):    # push the output population to fire more
        opt.zero_grad()
        out = tnet(300)
        loss = -(out["out"].sum() + 0.1 * out["hid"].sum())
        loss.backward()
        opt.step()
    trained = tnet.to_network()
    changed = [np.abs(np.asarray(c.weights.todense() if hasattr(c.weights, "todense") else c.weights)
                      - np.asarray(o.weights.todense() if hasattr(o.weights, "todense") else o.weights)).max()
               for c, o in zip(trained.connections, net.connections)]
    assert min(changed) > 0                            # training moved every weight matrix
    for c, o in zip(net.connections, originals):       # ... and left the description alone
        np.testing.assert_array_equal(c.weights.todense() if hasattr(c.weights, "todense") else c.weights, o)
    a = trained.run(0.03, DT, backend="torch")
    b = trained.run(0.03, DT, backend="brian2")
    base = net.run(0.03, DT, backend="torch")
    assert a.spikes["out"].n_spikes + a.spikes["hid"].n_spikes > \
        base.spikes["out"].n_spikes + base.spikes["hid"].n_spikes
    for pop in ("hid", "out"):
        np.testing.assert_array_equal(a.spikes[pop].ids, b.spikes[pop].ids)
        np.testing.assert_array_equal(a.spikes[pop].times, b.spikes[pop].times)


def test_hand_written_brian2_network_connectivity_into_torch():
    import brian2 as b2
    b2.prefs.codegen.target = "numpy"
    b2.seed(4)
    dt = DT * b2.second
    G = b2.NeuronGroup(60, """dv/dt = (E_L - v + R*(I_e + I_ext))/tau_m : volt (unless refractory)
                              dI_e/dt = -I_e/tau_e : amp
                              I_ext : amp (constant)""",
                       threshold="v > v_th", reset="v = v_reset", refractory=5 * b2.ms,
                       method="exact", dt=dt,
                       namespace=dict(E_L=-60 * b2.mV, R=10 * b2.Mohm, tau_m=20 * b2.ms,
                                      tau_e=5 * b2.ms, v_th=-50 * b2.mV, v_reset=-60 * b2.mV))
    rng = np.random.default_rng(2)
    I_ext = rng.uniform(0.8e-9, 1.3e-9, 60)
    v0 = rng.uniform(-0.06, -0.05, 60)
    G.I_ext = I_ext * b2.amp
    G.v = v0 * b2.volt
    S = b2.Synapses(G, G, "w : amp", on_pre="I_e_post += w", dt=dt)
    S.connect(p=0.15, condition="i != j")
    S.w = "0.2*nA + 0.2*nA*rand()"
    S.delay = "rand()*3*ms"
    mon = b2.SpikeMonitor(G)
    b2.Network(G, S, mon).run(0.1 * b2.second, namespace={})
    ref = SpikeTrains.from_brian2(mon, t_stop=0.1)

    W, D = connectivity_from_brian2(S)
    pre, post = W.nonzero()
    net = Network()
    net.add_population("g", lif(receptors=("e",)), 60, inputs={"I_ext": I_ext}, init={"v": v0})
    net.connect("g", "g", "e", W, delays=np.asarray(D[pre, post]).ravel())
    r = net.run(0.1, DT, backend="torch")
    assert ref.n_spikes > 50
    np.testing.assert_array_equal(r.spikes["g"].ids, ref.ids)
    np.testing.assert_allclose(r.spikes["g"].times, ref.times, rtol=0, atol=1e-12)


def test_fused_network_simulation_matches_step_by_step_torch():
    """Network.run on the CPU uses fused kernels; the eager TorchNetwork loop is the reference
    (same Poisson stream from the same seed, so the same spikes)."""
    net = _training_net()
    net.add_poisson("bg", 20, rates=np.linspace(10, 60, 20))
    net.connect("bg", "hid", "i", np.full((20, 6), -0.2e-9), delays=5e-4)
    a = net.run(0.03, DT, backend="torch", seed=9, record={"hid": ["v", "I_i"], "out": ["v"]})
    b = net.run(0.03, DT, backend="torch", seed=9, record={"hid": ["v", "I_i"], "out": ["v"]},
                fused=False)
    assert a.spikes["hid"].n_spikes > 5
    for pop in ("hid", "out"):
        assert a.spikes[pop].equals(b.spikes[pop])
    for pop, var in (("hid", "v"), ("hid", "I_i"), ("out", "v")):
        np.testing.assert_allclose(a.traces[pop][var], b.traces[pop][var], rtol=1e-12, atol=1e-20)
