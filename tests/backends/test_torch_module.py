"""Torch backend as a training tool: gradcheck of the sub-threshold dynamics in float64
(inputs, synaptic drive and time constants), no hidden state between calls, carried
state, float32 against float64, and a small network whose loss falls under training."""
import numpy as np
import pytest
import torch

from neuromod.backends.torch_backend import NeuronLayer, compile_model
from neuromod.neurons import alif, coba_lif, lif

DT = 1e-4


@pytest.mark.parametrize("factory,port,scale", [
    (lambda: lif(v_th="1000*volt"), "e", 1e-9),
    (lambda: lif(kernel="biexp", v_th="1000*volt"), "e", 1e-9),
    (lambda: alif(v_th="1000*volt"), "e", 1e-9),
    (lambda: coba_lif(v_th="1000*volt"), "e", 1e-9),
])
def test_gradcheck_subthreshold_dynamics(factory, port, scale):
    model = factory()
    tm = compile_model(model)
    tau_name = "tau_m" if "tau_m" in model.parameters else "C_m"
    T = 10
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(1, 2, T, generator=gen, dtype=torch.float64).requires_grad_(True)
    w = (torch.rand(1, 2, T, generator=gen, dtype=torch.float64) * 0.5).requires_grad_(True)
    tau0 = float(model.parameters[tau_name].value)
    rel = torch.tensor([1.0, 1.3], dtype=torch.float64, requires_grad=True)

    def f(x, w, rel):
        P = tm.params(2, {tau_name: tau0 * rel}, dtype=torch.float64)
        C = tm.coefficients(P, DT)
        S = tm.initial_state(1, 2, P)
        out = []
        for k in range(T):
            S, s = tm.step(S, P, C, inputs={"I_ext": scale * x[..., k]},
                           ports={port: scale * w[..., k] * (10.0 if port == "e" and
                                                             model.name == "coba-lif" else 1.0)},
                           dt=DT)
            assert not s.any()
            out.append(S.v)
        return torch.stack(out) * 1e3   # mV, so that gradcheck's tolerances are meaningful

    assert torch.autograd.gradcheck(f, (x, w, rel), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_no_hidden_state_between_calls_and_carried_state():
    layer = NeuronLayer(lif(), 5, DT, drive="I_ext", dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    x = 1e-9 + 2e-9 * torch.rand(3, 5, 400, generator=gen, dtype=torch.float64)
    a = layer(x)
    b = layer(x)
    assert torch.equal(a, b) and a.sum() > 0           # nothing leaks from the first call
    s1, _, st = layer(x[..., :150], return_state=True)
    s2 = layer(x[..., 150:], state=st)
    assert torch.equal(torch.cat([s1, s2], dim=-1), a)  # carried state == one long call


def test_float32_matches_float64():
    x = torch.linspace(0.5e-9, 3e-9, 8, dtype=torch.float64)[None, :, None].expand(2, 8, 2000)
    r64 = NeuronLayer(lif(), 8, DT, drive="I_ext", dtype=torch.float64)(x, record=["v"])
    r32 = NeuronLayer(lif(), 8, DT, drive="I_ext", dtype=torch.float32)(x.float(), record=["v"])
    # float32 coefficients are rounded once (relative 6e-8): ~1e-6 V over 2000 steps,
    # which can move a threshold crossing by at most one step
    c64, c32 = r64[0].sum(-1), r32[0].sum(-1)
    assert torch.all((c64 - c32).abs() <= 1)
    t64 = torch.nonzero(r64[0][0, 3]).squeeze(1)
    t32 = torch.nonzero(r32[0][0, 3]).squeeze(1)
    n = min(t64.numel(), t32.numel())
    assert n > 3 and torch.all((t64[:n] - t32[:n]).abs() <= 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu():
    x = torch.linspace(0.5e-9, 3e-9, 8, dtype=torch.float64)[None, :, None].expand(2, 8, 500)
    cpu = NeuronLayer(lif(), 8, DT, drive="I_ext", dtype=torch.float64)(x)
    gpu = NeuronLayer(lif(), 8, DT, drive="I_ext", dtype=torch.float64, device="cuda")(x.cuda())
    assert torch.equal(cpu, gpu.cpu())


def test_small_network_loss_decreases():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    B, n_in, n_out, T = 8, 20, 4, 60
    dt = 1e-3
    x = (torch.rand(B, n_in, T, generator=gen) < 0.1).float()   # fixed input spike patterns
    target = torch.randint(1, 6, (B, n_out), generator=gen).float()   # spike counts to hit
    lin = torch.nn.Linear(n_in, n_out, bias=False)
    torch.nn.init.uniform_(lin.weight, 0.0, 0.5)
    layer = NeuronLayer(lif(), n_out, dt, drive="e", surrogate="fast_sigmoid", train=("tau_m",))
    opt = torch.optim.Adam(lin.parameters(), lr=0.05)   # tau_m (seconds) gets a gradient only

    def loss_fn():
        drive = 1e-9 * lin(x.transpose(1, 2)).transpose(1, 2)   # nA -> A into port e
        counts = layer(drive).sum(-1)
        return ((counts - target) ** 2).mean()

    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 1.0
    assert min(losses[-5:]) < 0.3 * losses[0], losses
    assert layer.p_tau_m.grad is not None and torch.isfinite(layer.p_tau_m.grad).all()
