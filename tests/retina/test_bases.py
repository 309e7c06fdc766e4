"""Raised-cosine bases (closed forms, partition of unity) and the causal convolutions
(against direct sums; causality)."""
import doctest
import importlib

import numpy as np
import pytest

from neuromod.errors import ParameterError
from neuromod.retina import bases
from neuromod.retina.bases import (causal_filter, history_design, linear_raised_cosine,
                                   log_raised_cosine, log_warp, raised_cosine,
                                   stimulus_projection)


def _direct(x, k, exclude_current):
    """``out[t, ..., k] = sum_j k[j] x[t - j - s]`` by a loop over bins."""
    s = 1 if exclude_current else 0
    T = x.shape[0]
    out = np.zeros(x.shape + (k.shape[1],))
    for t in range(T):
        for j in range(k.shape[0]):
            if 0 <= t - j - s:
                out[t] += x[t - j - s][..., None] * k[j]
    return out


@pytest.mark.parametrize("name, least", [("neuromod.retina.bases", 3),
                                         ("neuromod.retina.glm", 3), ("neuromod.retina.ln", 3),
                                         ("neuromod.retina.tecos", 1),
                                         ("neuromod.retina.recording", 1)])
def test_docstring_examples(name, least):
    mod = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder(exclude_empty=True).find(mod, name, globs=dict(vars(mod))):
        runner.run(test)
    res = runner.summarize(verbose=False)
    assert res.failed == 0 and res.attempted >= least


def test_log_warp_closed_form():
    x = np.linspace(0, 1, 11)
    np.testing.assert_allclose(log_warp(x, 50.0), np.log(50 * x + 1) / np.log(51), rtol=1e-15)
    assert log_warp(0.0) == 0.0 and log_warp(1.0) == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(ParameterError):
        log_warp(0.5, c=0.0)


def test_bump_closed_form():
    n, L, width, c = 5, 40, 2.0, 50.0
    B = log_raised_cosine(n, L, width, c)
    spacing = 1.0 / (n - 1 + width / 2)
    u = np.log1p(c * np.arange(L) / L) / np.log1p(c)
    for k in range(n):
        d = (u - k * spacing) / (width * spacing / 2)
        ref = np.where(np.abs(d) < 1, 0.5 * (1 + np.cos(np.pi * d)), 0.0)
        np.testing.assert_allclose(B[:, k], ref, atol=1e-15)
    assert B.shape == (L, n) and B.min() >= 0 and B.max() <= 1
    assert B[0, 0] == 1.0                               # the first bump peaks at the first lag
    # log time: the bumps widen with the lag
    support = (B > 0).sum(0)
    assert np.all(np.diff(support) >= 0) and support[-1] > 3 * support[1]


@pytest.mark.parametrize("width", [2, 3, 4])
@pytest.mark.parametrize("log_scale", [None, 50.0])
def test_partition_of_unity_for_integer_widths(width, log_scale):
    n, L = 7, 400
    B = raised_cosine(n, L, width, log_scale)
    spacing = 1.0 / (n - 1 + width / 2)
    x = np.arange(L) / L
    u = x if log_scale is None else log_warp(x, log_scale)
    inside = (u >= (width / 2 - 1) * spacing - 1e-12) & (u <= (n - width / 2) * spacing + 1e-12)
    assert inside.sum() > 50
    np.testing.assert_allclose(B[inside].sum(1), width / 2, atol=1e-12)
    # past the last centre the sum falls towards 0 at the window's end
    assert B[-1].sum() < B[inside].sum(1).min()


def test_non_integer_width_is_not_a_partition():
    B = linear_raised_cosine(6, 300, width=2.5)
    assert np.ptp(B[60:200].sum(1)) > 1e-3


def test_linear_peaks_evenly_spaced():
    B = linear_raised_cosine(4, 80)                     # spacing 1/4 of the window: 20 lags
    np.testing.assert_array_equal(np.argmax(B, axis=0), [0, 20, 40, 60])


def test_bad_sizes():
    for args in [(0, 10), (3, 0)]:
        with pytest.raises(ParameterError):
            raised_cosine(*args)
    with pytest.raises(ParameterError):
        raised_cosine(3, 10, width=0.5)


@pytest.mark.parametrize("T,L", [(30, 4), (300, 25)])          # direct and FFT paths
@pytest.mark.parametrize("exclude", [False, True])
def test_causal_filter_equals_direct_sums(T, L, exclude):
    rng = np.random.default_rng(T + L)
    x = rng.poisson(0.3, (T, 2, 3)).astype(float)
    k = rng.normal(size=(L, 4))
    np.testing.assert_allclose(causal_filter(x, k, exclude_current=exclude),
                               _direct(x, k, exclude), atol=1e-11)
    one = causal_filter(x[:, 0, 0], k[:, 0], exclude_current=exclude)
    np.testing.assert_allclose(one, _direct(x[:, 0, 0], k[:, :1], exclude)[:, 0], atol=1e-11)


def test_history_excludes_the_current_bin():
    rng = np.random.default_rng(1)
    y = rng.poisson(0.1, (500, 2)).astype(float)
    B = log_raised_cosine(6, 60)
    h0 = history_design(y, B)
    for t0 in (0, 137, 499):
        y2 = y.copy()
        y2[t0] += 3
        h2 = history_design(y2, B)
        assert np.abs(h2[:t0 + 1] - h0[:t0 + 1]).max() < 1e-12     # bins <= t0 unchanged
        if t0 + 1 < 500:
            assert np.abs(h2[t0 + 1] - h0[t0 + 1]).max() > 0.5      # lag 1 sees it
        if t0 + 61 < 500:
            assert np.abs(h2[t0 + 61:] - h0[t0 + 61:]).max() < 1e-12   # past the window


def test_history_design_layout_and_trials():
    rng = np.random.default_rng(2)
    y = rng.poisson(0.2, (3, 120, 2)).astype(float)
    B = log_raised_cosine(3, 20)
    H = history_design(y, B)
    assert H.shape == (3, 120, 6)
    for r in range(3):
        np.testing.assert_allclose(H[r], history_design(y[r], B), atol=1e-12)
        for u in range(2):                              # column u * n + k
            np.testing.assert_allclose(H[r, :, u * 3:(u + 1) * 3],
                                       _direct(y[r, :, u], B, True), atol=1e-11)
    with pytest.raises(ParameterError):
        history_design(np.zeros(5), B)


def test_stimulus_projection_includes_the_current_frame():
    rng = np.random.default_rng(3)
    S = rng.normal(size=(90, 4, 2))                      # frames of 4 x 2 pixels
    B = linear_raised_cosine(3, 12)
    Z = stimulus_projection(S, B)
    assert Z.shape == (90, 3, 8)
    ref = _direct(S.reshape(90, 8), B, False)            # (F, D, n)
    np.testing.assert_allclose(Z, np.swapaxes(ref, 1, 2), atol=1e-11)
    S2 = S.copy()
    S2[40] += 1.0
    d = np.abs(stimulus_projection(S2, B) - Z).max(axis=(1, 2))
    assert d[:40].max() < 1e-12 and d[40] > 0.5           # frame 40 is seen at lag 0


def test_one_blas_thread_is_a_context():
    with bases.one_blas_thread():
        assert float(np.ones(4) @ np.ones(4)) == 4.0
