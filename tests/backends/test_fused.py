"""The fused CPU time loop gives the same spikes and the same gradients as the
step-by-step autograd path (float64), for input and port drives, refractoriness,
a coupled two-variable model, every built-in surrogate and trainable parameters."""
import pytest
import torch

from neuromod.backends import NeuronModel
from neuromod.backends.torch_backend import NeuronLayer
from neuromod.neurons import alif, coba_lif, lif

CASES = {
    "lif-input": (lambda: lif(), "I_ext", 3e-9, ("tau_m", "v_th", "v_reset", "R")),
    "lif-biexp-port": (lambda: lif(kernel="biexp"), "e", 3e-10, ("tau_e", "tau_r_e", "v_th")),
    "lif-delta-port": (lambda: lif(kernel="delta", t_ref="1*ms"), "e", 3e-3, ("tau_m", "v_reset")),
    "alif-input": (lambda: alif(), "I_ext", 3e-9, ("tau_m", "a", "b", "tau_w", "v_th")),
    "dimensionless": (lambda: NeuronModel("box", "dv/dt = (I - v)/tau : 1\nI : 1",
                                          {"tau": (0.01, "second"), "v_th": 1.0, "v_reset": 0.0},
                                          threshold="v > v_th", reset="v = v_reset",
                                          inputs=("I",)), "I", 2.5, ("tau", "v_th")),
    # a discrete-time map with a leaky second variable, refractoriness and a port
    "discrete-map": (lambda: NeuronModel(
        "map", "v : 1 (unless refractory)\na : 1\nI : 1",
        {"beta": 0.8, "gamma": 0.6, "k": 0.3, "v_th": 1.0, "t_ref": (2e-4, "second")},
        threshold="v > v_th", reset="v = 0; a += k", inputs=("I",), refractory="t_ref",
        updates="a = gamma*a\nv = beta*v + (1 - beta)*I - a", ports={"e": "v += w"}),
        "I", 4.0, ("beta", "gamma", "k", "v_th")),
}


def _run(factory, drive, scale, train, fused, surrogate="fast_sigmoid", T=600):
    torch.manual_seed(0)
    layer = NeuronLayer(factory(), 5, 1e-4, drive=drive, dtype=torch.float64, train=train,
                        fused=fused, surrogate=surrogate)
    x = (scale * torch.rand(3, 5, T, dtype=torch.float64)).requires_grad_(True)
    s = layer(x)
    weights = torch.linspace(-1, 1, T, dtype=torch.float64)     # a loss that is not just a count
    (s * weights).sum().backward()
    return s.detach(), x.grad, {k: p.grad for k, p in layer.named_parameters()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_matches_autograd_path(case):
    factory, drive, scale, train = CASES[case]
    s0, gx0, gp0 = _run(factory, drive, scale, train, fused=False)
    s1, gx1, gp1 = _run(factory, drive, scale, train, fused=True)
    assert s0.sum() > 10
    assert torch.equal(s0, s1)
    # the same sums in another order: agreement to float64 rounding
    torch.testing.assert_close(gx1, gx0, rtol=1e-9, atol=1e-12 * gx0.abs().max().item())
    for k in gp0:
        torch.testing.assert_close(gp1[k], gp0[k], rtol=1e-9, atol=1e-12 * gp0[k].abs().max().item())


@pytest.mark.parametrize("surrogate", ["sigmoid", "atan", "gaussian", "triangle"])
def test_fused_surrogates(surrogate):
    factory, drive, scale, train = CASES["lif-input"]
    _, gx0, _ = _run(factory, drive, scale, (), fused=False, surrogate=surrogate, T=300)
    _, gx1, _ = _run(factory, drive, scale, (), fused=True, surrogate=surrogate, T=300)
    torch.testing.assert_close(gx1, gx0, rtol=1e-9, atol=1e-12 * gx0.abs().max().item())


def test_fused_carried_state_and_fallbacks():
    layer = NeuronLayer(lif(), 4, 1e-4, drive="I_ext", dtype=torch.float64)
    x = torch.full((2, 4, 400), 2e-9, dtype=torch.float64)
    with torch.no_grad():
        whole = layer(x)
        a, _, st = layer(x[..., :170], return_state=True)
        b = layer(x[..., 170:], state=st)
    assert torch.equal(torch.cat([a, b], -1), whole)
    eager = NeuronLayer(lif(), 4, 1e-4, drive="I_ext", dtype=torch.float64, fused=False)
    assert torch.equal(eager(x), whole)
    # exponential Euler and recorded traces use the step-by-step path
    assert not NeuronLayer(coba_lif(), 4, 1e-4, drive="I_ext")._use_fused(x, None or
                                                                         _state(coba_lif()), (), False)
    assert not layer._use_fused(x, _state(lif()), ("v",), False)


def _state(model):
    from neuromod.backends.torch_backend import compile_model
    tm = compile_model(model)
    return tm.initial_state(2, 4, tm.params(4, dtype=torch.float64))


def test_parallel_build_matches(monkeypatch):
    """The default parallel kernels (prange over column blocks) against the plain loops."""
    factory, drive, scale, train = CASES["dimensionless"]
    monkeypatch.setenv("NEUROMOD_FUSED_PARALLEL", "0")
    s0, gx0, gp0 = _run(factory, drive, scale, train, fused=True)
    monkeypatch.setenv("NEUROMOD_FUSED_PARALLEL", "1")
    s1, gx1, gp1 = _run(factory, drive, scale, train, fused=True)
    assert torch.equal(s0, s1) and torch.equal(gx0, gx1)
    for k in gp0:
        assert torch.equal(gp0[k], gp1[k])


def test_fused_float32_spikes_equal_tensor_path():
    """Same float32 operations in the same order: the same spikes (used by the benchmark)."""
    torch.manual_seed(0)
    x = 3e-9 * torch.rand(4, 50, 1500)
    with torch.no_grad():
        a = NeuronLayer(lif(), 50, 1e-4, drive="I_ext", fused=False)(x)
        b = NeuronLayer(lif(), 50, 1e-4, drive="I_ext", fused=True)(x)
    assert a.dtype == b.dtype == torch.float32 and a.sum() > 100
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["lif", "alif"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_kernels_record_the_same_traces_as_the_step_by_step_path(name, dtype):
    """Traces of state variables (after each step, post reset) come from the fused
    kernels when autograd is off, equal to the step-by-step path's; with autograd on
    (traces in the graph) the step-by-step path records them."""
    from neuromod.backends.torch_backend import NeuronLayer
    from neuromod.neurons import MODELS
    model = MODELS[name]()
    states = list(model.analysis.states)
    g = torch.Generator().manual_seed(3)
    x = 2.5e-9 * torch.rand((3, 7, 400), generator=g, dtype=torch.float64)
    fused = NeuronLayer(model, 7, 1e-4, dtype=dtype)
    eager = NeuronLayer(model, 7, 1e-4, dtype=dtype, fused=False)
    with torch.no_grad():
        assert fused._use_fused(x, fused.tm.initial_state(3, 7, fused.params()), states, False)
        s1, tr1, S1 = fused(x, record=states)
        s2, tr2, S2 = eager(x, record=states)
    assert s1.sum() > 10
    assert torch.equal(s1, s2)
    for v in states:
        assert tr1[v].shape == (3, 7, 400) and tr1[v].dtype == dtype
        assert torch.equal(tr1[v], tr2[v]), v
        assert torch.equal(tr1[v][..., -1], getattr(S1, v))
    assert not fused._use_fused(x, S1, states, False)          # autograd on: eager records
    s3, tr3, _ = fused(x, record=["v"])
    assert torch.equal(tr3["v"].detach(), tr1["v"])
