"""Noise families of stochastic firing (neuromod.backends.noise) against scipy.stats,
their own derivatives (autograd), extreme inputs, and the C expressions compiled."""
import ctypes
import shutil
import subprocess
import warnings

import numpy as np
import pytest
import scipy.stats
import torch

from neuromod.backends.noise import FAMILIES, family
from neuromod.errors import ParameterError

NAMES = sorted(FAMILIES)
#: a grid over the bulk and the tails, with the kinks of the bounded families
GRID = np.concatenate([np.linspace(-8, 8, 1601), [-np.sqrt(6), np.sqrt(6), -np.sqrt(3),
                                                  np.sqrt(3), 0.0, -40.0, 40.0]])


def oracle(name):
    fam = FAMILIES[name]
    return getattr(scipy.stats, fam.scipy_name)(*fam.scipy_args)


@pytest.mark.parametrize("name", NAMES)
def test_sigma_is_the_standard_deviation(name):
    dist = oracle(name)
    assert dist.mean() == pytest.approx(0.0, abs=1e-12)
    assert dist.std() == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_cdf_and_density_match_scipy(name):
    fam, dist = FAMILIES[name], oracle(name)
    np.testing.assert_allclose(fam.cdf(GRID), dist.cdf(GRID), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fam.pdf(GRID[np.abs(np.abs(GRID) - 1.7320508) > 1e-6]),
                               dist.pdf(GRID[np.abs(np.abs(GRID) - 1.7320508) > 1e-6]),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_torch_matches_numpy_in_both_precisions(name):
    fam = FAMILIES[name]
    z64 = torch.tensor(GRID, dtype=torch.float64)
    np.testing.assert_allclose(fam.cdf(z64).numpy(), fam.cdf(GRID), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(fam.pdf(z64).numpy(), fam.pdf(GRID), rtol=1e-13, atol=1e-15)
    z32 = z64.float()
    assert fam.cdf(z32).dtype == torch.float32
    np.testing.assert_allclose(fam.cdf(z32).double().numpy(), fam.cdf(GRID), atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_autograd_of_the_cdf_is_the_density(name):
    """d F/dz by autograd equals the analytic density to 1e-6 (float64), away from the
    kinks of the bounded families; so does d(firing probability)/du."""
    fam = FAMILIES[name]
    z = torch.tensor(GRID, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(fam.cdf(z).sum(), z)
    kinks = np.array([-np.sqrt(6), np.sqrt(6), -np.sqrt(3), np.sqrt(3), 0.0])
    ok = np.min(np.abs(GRID[:, None] - kinks[None, :]), axis=1) > 1e-9
    np.testing.assert_allclose(g.numpy()[ok], fam.pdf(GRID)[ok], atol=1e-6, rtol=1e-6)
    u = torch.tensor([0.3, 1.0, 1.7], dtype=torch.float64, requires_grad=True)
    (gu,) = torch.autograd.grad(fam.firing_probability(u, 1.0, 0.5).sum(), u)
    np.testing.assert_allclose(gu.numpy(), fam.firing_density(u, 1.0, 0.5).detach().numpy(),
                               atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_extreme_inputs_are_safe_in_both_libraries(name):
    fam = FAMILIES[name]
    z = np.array([-np.inf, -1e300, -1e30, -1e4, 1e4, 1e30, 1e300, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            p, f = fam.cdf(z), fam.pdf(z)
    assert np.array_equal(p, [0, 0, 0, 0, 1, 1, 1, 1]) and np.array_equal(f, np.zeros(8))
    for dtype in (torch.float32, torch.float64):
        zt = torch.tensor([-np.inf, -3e38, -1e4, 1e4, 3e38, np.inf], dtype=dtype,
                          requires_grad=True)
        pt = fam.cdf(zt)
        (g,) = torch.autograd.grad(pt.sum(), zt)
        assert torch.equal(pt.detach(), torch.tensor([0, 0, 0, 1, 1, 1], dtype=dtype))
        assert torch.isfinite(g).all() and torch.isfinite(fam.pdf(zt)).all()


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_c_expressions_compute_the_same_values(tmp_path):
    src = ["#include <math.h>"]
    for name in NAMES:
        fam = FAMILIES[name]
        src.append(f"double {name}_cdf(double z) {{ return {fam.c_cdf}; }}")
        src.append(f"double {name}_pdf(double z) {{ return {fam.c_pdf}; }}")
    (tmp_path / "noise.c").write_text("\n".join(src) + "\n")
    lib_path = tmp_path / "libnoise.so"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(lib_path),
                    str(tmp_path / "noise.c"), "-lm"], check=True)
    lib = ctypes.CDLL(str(lib_path))
    z = np.concatenate([GRID, [-np.inf, -1e300, 1e300, np.inf]])
    for name in NAMES:
        for kind in ("cdf", "pdf"):
            fn = getattr(lib, f"{name}_{kind}")
            fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_double]
            got = np.array([fn(float(v)) for v in z])
            want = getattr(FAMILIES[name], kind)(z)
            off_kinks = np.abs(np.abs(z) - np.sqrt(3)) > 1e-9 if kind == "pdf" else True
            np.testing.assert_allclose(got[off_kinks], want[off_kinks], rtol=1e-12,
                                       atol=1e-15, err_msg=f"{name} {kind}")


def test_scalar_expressions_compute_the_same_values_in_numba():
    import math

    from numba import njit
    z = np.concatenate([GRID, [-np.inf, -1e300, 1e300, np.inf]])
    for name in NAMES:
        fam = FAMILIES[name]
        for kind in ("cdf", "pdf"):
            ns = {"math": math}
            exec(f"def f(z):\n    return {getattr(fam, 'py_' + kind)}\n", ns)  # noqa: S102
            py, jit = ns["f"], njit(ns["f"])
            want = getattr(fam, kind)(z)
            off_kinks = np.abs(np.abs(z) - np.sqrt(3)) > 1e-9 if kind == "pdf" else True
            for fn in (py, jit):
                got = np.array([fn(float(v)) for v in z])
                np.testing.assert_allclose(got[off_kinks], want[off_kinks], rtol=1e-12,
                                           atol=1e-15, err_msg=f"{name} {kind}")


@pytest.mark.parametrize("name", NAMES)
def test_bernoulli_spike_samples_and_its_gradient_is_the_density(name):
    fam = FAMILIES[name]
    z = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    r = torch.rand((61,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = fam.spike(z, r)
    assert torch.equal(s.detach(), (r < fam.cdf(z.detach())).to(torch.float64))
    s.sum().backward()
    torch.testing.assert_close(z.grad, fam.pdf(z.detach()), rtol=1e-6, atol=1e-12)


def test_unknown_family_is_a_one_line_error():
    with pytest.raises(ParameterError, match="unknown noise family 'cauchy'; known: gaussian"):
        family("cauchy")


@pytest.mark.parametrize("target", ["numpy", "cython"])
def test_brian2_functions_on_each_target(target):
    """The CDFs and densities as Brian2 functions, evaluated in generated code of the
    numpy and cython targets, equal the NumPy implementation."""
    import brian2 as b2
    from neuromod.backends.noise import brian2_function
    z = np.array([-np.inf, -1e300, -2.0, -1.0, -0.3, 0.0, 0.7, 2.0, 1e300, np.inf])
    names = {f"neuromod_{n}_{k}": brian2_function(n, k) for n in NAMES for k in ("cdf", "pdf")}
    eqs = "z : 1\n" + "\n".join(f"{n} : 1" for n in (k[9:] for k in names))
    code = "\n".join(f"{k[9:]} = {k}(z)" for k in names)
    previous = b2.prefs.codegen.target
    b2.prefs.codegen.target = target
    try:
        group = b2.NeuronGroup(z.size, eqs, namespace=dict(names))
        group.z = z
        op = group.run_regularly(code, dt=0.1 * b2.ms)
        net = b2.Network(group, op)
        net.run(0.1 * b2.ms)
        assert type(op.codeobj).__name__.lower().startswith(target)
        for key in names:
            fam, kind = FAMILIES[key.split("_")[1]], key.split("_")[2]
            np.testing.assert_allclose(getattr(group, key[9:])[:], getattr(fam, kind)(z),
                                       rtol=1e-12, atol=1e-15, err_msg=key)
    finally:
        b2.prefs.codegen.target = previous


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_ppf_is_scipys_quantile_and_inverts_the_cdf(name):
    import scipy.stats as st
    import torch
    fam = FAMILIES[name]
    p = np.linspace(1e-9, 1 - 1e-9, 2001)
    ref = getattr(st, fam.scipy_name).ppf(p, *fam.scipy_args)
    np.testing.assert_allclose(fam.ppf(p), ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fam.ppf(torch.tensor(p)).numpy(), ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fam.cdf(fam.ppf(p)), p, atol=1e-12)
