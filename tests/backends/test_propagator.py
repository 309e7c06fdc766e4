"""The exact propagator against a 50-digit matrix exponential (mpmath), including
the badly scaled SI case, coupled systems, equal time constants (where Brian2's
symbolic solution divides by zero) and the refractory (frozen-row) variant."""
import math

import mpmath
import numpy as np
import pytest
import torch

from neuromod.backends.propagator import propagator
from neuromod.backends.torch_backend import compile_model
from neuromod.neurons import alif, lif

DT = 1e-4


def _reference(A, m, dt, frozen=()):
    """E, F from expm([[A, I],[0, 0]] dt) in 50-digit arithmetic."""
    mpmath.mp.dps = 50
    M = mpmath.zeros(2 * m, 2 * m)
    for (i, j), a in A.items():
        M[i, j] = mpmath.mpf(float(a)) * mpmath.mpf(dt)
    for i in range(m):
        if i not in frozen:
            M[i, m + i] = mpmath.mpf(dt)
    X = mpmath.expm(M)
    E = np.array([[float(X[i, j]) for j in range(m)] for i in range(m)])
    F = np.array([[float(X[i, m + j]) for j in range(m)] for i in range(m)])
    return E, F


def _A_of(model, overrides=None):
    tm = compile_model(model)
    P = tm.params(1, overrides, dtype=torch.float64)
    A = {ij: tm.parameter_value(a, P, torch.float64) for ij, a in tm.compiled.A.items()}
    return A, len(tm.states)


@pytest.mark.parametrize("case", ["lif", "lif_equal_taus", "alif", "alif_frozen_v"])
def test_propagator_matches_high_precision_expm(case):
    model = {"lif": lif(), "lif_equal_taus": lif(tau_e="20*ms"), "alif": alif(),
             "alif_frozen_v": alif()}[case]
    A, m = _A_of(model)
    frozen = {0} if case == "alif_frozen_v" else set()
    if frozen:
        A = {k: v for k, v in A.items() if k[0] not in frozen}
    E, F = propagator(A, m, DT, (), "cpu", frozen=frozen)
    Er, Fr = _reference(A, m, DT, frozen)
    # entries span ~12 orders of magnitude (SI units): compare each to its own size;
    # 1e-13 relative is ~500 ulp, far tighter than the 1e-8 the unbalanced expm gave
    for got, ref in ((E.numpy(), Er), (F.numpy(), Fr)):
        nz = ref != 0
        assert np.all(got[~nz] == 0)
        np.testing.assert_allclose(got[nz], ref[nz], rtol=1e-13)


def test_leaky_diagonal_is_exactly_exp_minus_dt_over_tau():
    A, m = _A_of(lif())
    E, F = propagator(A, m, DT, (), "cpu")
    assert E[0, 0].item() == math.exp(-DT / 0.02)
    assert E[1, 1].item() == math.exp(-DT / 0.005)
    assert F[0, 0].item() == -0.02 * math.expm1(-DT / 0.02)


def test_per_neuron_parameters_batch():
    tau = np.array([0.01, 0.02, 0.05])
    tm = compile_model(lif())
    P = tm.params(3, {"tau_m": tau}, dtype=torch.float64)
    C = tm.coefficients(P, DT)
    E00 = C.prop[tm.compiled.layout.position("E", 0, 0)]
    # torch's vectorised exp and numpy's may differ in the last bit (CPU-dependent)
    np.testing.assert_allclose(E00.numpy(), np.exp(-DT / tau), rtol=4e-16, atol=0)


def test_coefficients_differentiable_in_tau():
    tm = compile_model(lif())
    tau = torch.tensor(0.02, dtype=torch.float64, requires_grad=True)
    P = tm.params(1, {"tau_m": tau}, dtype=torch.float64)
    C = tm.coefficients(P, DT)
    e01_at = tm.compiled.layout.position("E", 0, 1)
    (g,) = torch.autograd.grad(C.prop[e01_at], tau)
    # E_01 = R/tau_m * tau_e tau_m/(tau_e - tau_m) (e^{-dt/tau_e} - e^{-dt/tau_m})... check by
    # central finite differences of the same function (independent of autograd)
    def e01(t):
        return tm.coefficients(tm.params(1, {"tau_m": t}, dtype=torch.float64), DT).prop[e01_at].item()
    h = 1e-7
    fd = (e01(0.02 + h) - e01(0.02 - h)) / (2 * h)
    assert g.item() == pytest.approx(fd, rel=1e-6)
