"""The compiled matching-pursuit kernel and the blocked FFT correlation of the spiketrum
encoder: overlap-save against direct inner products, the float32 error bound the
encoder tests rely on, and the exact re-evaluation of the selected atom."""
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from neuromod.auditory import _mp
import neuromod.auditory.spiketrum as S

SMALL = dict(channels=6, fmin=300.0, fmax=5000.0, threshold_db=40.0)


def direct_correlations(seg, n, d):
    """c[k, i] = <seg[i + dmax - d_k : ...], g_k>, by sliding inner products."""
    dmax = int(d.peaks.max())
    c = np.empty((d.n_kernels, n))
    for k in range(d.n_kernels):
        win = sliding_window_view(seg, d.lengths[k])
        c[k] = win[np.arange(n) + dmax - d.peaks[k]] @ d.kernels[k, :d.lengths[k]]
    return c


def run(c, r_seg, d, levels, budget, dtype):
    """mp_run on copies; returns (count, energy, outputs, c, r)."""
    c = c.astype(dtype)
    r = r_seg.copy()
    out = [np.zeros(budget, np.int64) for _ in range(4)] + [np.zeros(budget)]
    dmax = int(d.peaks.max())
    cnt, energy = _mp.mp_run(c, r.size - dmax - d.max_length, S._cross_correlations(d, dtype),
                             d.xc_off, d.xc_lo, d.xc_len, levels, budget, float(np.sum(r * r)),
                             r, d.kernels, d.lengths, dmax - d.peaks, *out)
    return cnt, energy, out, c, r


@pytest.mark.parametrize("n", [37, 3000, 20000])
def test_overlap_save_correlation_equals_direct_inner_products(monkeypatch, n):
    monkeypatch.setattr(S, "FFT_BLOCK", 2048)   # many blocks, and a short single one
    d = S.dictionary_for(S.make_config(**SMALL))
    seg = np.random.default_rng(n).standard_normal(n + int(d.peaks.max()) + d.max_length)
    ref = direct_correlations(seg, n, d)
    c64, peak = S._correlate_seg(seg, n, d)
    c32, peak32 = S._correlate_seg(seg, n, d, np.float32)
    assert c64.shape == (d.n_kernels, -(-n // _mp.BLOCK) * _mp.BLOCK) and c32.dtype == np.float32
    assert not np.any(c64[:, n:]) and not np.any(c32[:, n:])   # block padding is zero
    np.testing.assert_allclose(c64[:, :n], ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    assert np.array_equal(c32, c64.astype(np.float32))         # one rounding of the same values
    assert peak == peak32 == np.abs(c64).max()                  # taken before rounding


def test_float32_correlations_stay_within_1e6_of_the_gain():
    """After thousands of local float32 updates the stored correlations still equal the
    exact correlations of the residual to better than 1e-6 of the gain (the bound the
    reference tests use is 1e-5)."""
    from neuromod.auditory.audio import read_wav
    from neuromod.data import path
    x, fs, _ = read_wav(path("speech/demo.wav"))
    d = S.dictionary_for(S.make_config())
    dmax, L = int(d.peaks.max()), d.max_length
    r = np.zeros(dmax + x.size + L)
    r[dmax:dmax + x.size] = x
    c, gain = S._correlate_seg(r, x.size, d, np.float32)
    levels = S.magnitude_levels(gain, 16, 60.0)
    cnt, energy, out, c, r = run(c, r, d, levels, 8000, np.float32)
    assert cnt == 8000
    exact = S._correlate_seg(r, x.size, d)[0]
    err = np.abs(c.astype(np.float64) - exact).max() / gain
    assert err < 1e-6
    assert energy == pytest.approx(float(np.sum(r * r)), rel=1e-9)   # r: the kernel's residual


def test_overstated_correlation_is_corrected_and_the_true_best_atom_taken():
    """If the stored correlation of the selected atom is larger than its exact value
    (rounding), the kernel stores the exact value and selects again instead of stopping
    or quantising the wrong magnitude; it stops only when the exact best atom cannot
    lower the energy."""
    d = S.dictionary_for(S.make_config(**SMALL))
    levels = S.magnitude_levels(1.0, 16, 60.0)
    dmax, L = int(d.peaks.max()), d.max_length
    n = 4 * L
    r = np.zeros(n + dmax + L)
    k_small, p_small = 1, L            # an atom at 0.4 of the smallest level: cannot be coded
    k_real, p_real = 4, 3 * L          # one at 0.7 of the smallest level: one spike lowers energy
    for k, p, a in ((k_small, p_small, 0.4), (k_real, p_real, 0.7)):
        s = p + dmax - d.peaks[k]
        r[s:s + d.lengths[k]] += a * levels[0] * d.kernels[k, :d.lengths[k]]
    c = S._correlate_seg(r, n, d)[0]
    for dtype in (np.float32, np.float64):
        bad = c.copy()
        bad[k_small, p_small] = 0.9 * levels[0]   # overstated: looks better than the real one
        cnt, energy, out, c_after, _ = run(bad, r, d, levels, 5, dtype)
        assert cnt == 1                            # the real atom, then move on
        assert (out[0][0], out[1][0], out[2][0], out[3][0]) == (p_real, k_real, 1, 0)
        assert c_after[k_small, p_small] == pytest.approx(0.4 * levels[0], rel=1e-6)
        e0 = float(np.sum(r * r))
        assert out[4][0] == pytest.approx(e0 - levels[0] * (1.4 * levels[0] - levels[0]), rel=1e-9)
