"""ERB formulas and the gammatone filterbank against closed forms and the `gammatone` package."""
import numpy as np
import pytest
from scipy import integrate, optimize

from neuromod.auditory import (GammatoneFilterbank, bandwidth_factor, erb, erb_rate_to_hz,
                               erb_space, gammatone_impulse_response, hz_to_erb_rate)

FS = 16000.0


def test_erb_closed_form_and_slaney_form():
    f = np.array([0.0, 100.0, 1000.0, 4000.0])
    # Glasberg & Moore 1990 by hand
    assert erb(1000.0) == pytest.approx(24.7 * 5.37, rel=1e-12)
    # Slaney's toolbox form f / 9.26449 + 24.7 is the same line to 1e-4 (rounded constants)
    np.testing.assert_allclose(erb(f), f / 9.26449 + 24.7, rtol=1e-4)


def test_erb_rate_inverse_and_integral():
    f = np.geomspace(20.0, 20000.0, 50)
    np.testing.assert_allclose(erb_rate_to_hz(hz_to_erb_rate(f)), f, rtol=1e-12)
    # ERB-rate is the integral of 1/ERB(f); the published 21.4 rounds
    # 1 / (24.7 * 4.37e-3 * ln 10) = 21.33, hence 0.5%
    for top in (500.0, 1000.0, 8000.0):
        val, _ = integrate.quad(lambda v: 1.0 / erb(v), 0.0, top)
        assert hz_to_erb_rate(top) == pytest.approx(val, rel=5e-3)


def test_erb_space_matches_gammatone_package():
    from gammatone import filters as gf
    for lo, hi, n in ((100.0, 7000.0, 32), (50.0, 4000.0, 5)):
        ours = erb_space(lo, hi, n)
        assert ours[0] == lo and ours[-1] == hi and np.all(np.diff(ours) > 0)
        # gammatone's erb_point(lo, hi, fraction) runs from hi (0) to lo (1); its Slaney
        # constants differ from 4.37e-3 in the 5th digit, hence 1e-5
        theirs = gf.erb_point(lo, hi, 1.0 - np.arange(n) / (n - 1))
        np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_bandwidth_factor_closed_form_and_quadrature():
    assert bandwidth_factor(4) == pytest.approx(48.0 / (15.0 * np.pi), rel=1e-15)
    assert bandwidth_factor(4) == pytest.approx(1.019, abs=5e-4)
    for n in (2, 3, 4, 5, 6):
        area, _ = integrate.quad(lambda x: (1.0 + x * x) ** (-n), -np.inf, np.inf)
        assert bandwidth_factor(n) == pytest.approx(1.0 / area, rel=1e-9)


@pytest.mark.parametrize("order", [2, 4, 5])
def test_iir_impulse_response_is_the_sampled_gammatone(order):
    fb = GammatoneFilterbank(FS, n_channels=6, fmin=80.0, fmax=7500.0, order=order)
    imp = np.zeros(3000)
    imp[0] = 1.0
    y = fb.filter(imp, normalize=None)
    h = gammatone_impulse_response(fb.cf, FS, 3000, order, fb.b)
    # exact up to rounding of the one-pole cascade
    np.testing.assert_allclose(y, h, rtol=0, atol=1e-9 * np.abs(h).max())


def test_frequency_response_closed_form_matches_fft_and_peaks_at_cf():
    fb = GammatoneFilterbank(FS, n_channels=10, fmin=100.0, fmax=4000.0)
    n = 1 << 16
    imp = np.zeros(n)
    imp[0] = 1.0
    spec = np.fft.rfft(fb.filter(imp, normalize="peak"), axis=1)
    f = np.fft.rfftfreq(n, 1.0 / FS)
    closed = fb.frequency_response(f)
    np.testing.assert_allclose(np.abs(spec), np.abs(closed), rtol=0, atol=1e-7)
    np.testing.assert_allclose(np.abs(fb.frequency_response(fb.cf).diagonal()), 1.0, rtol=1e-12)
    # the maximum of |H| is at the centre frequency to within 0.5% of the bandwidth
    for k, fc in enumerate(fb.cf):
        fpk = optimize.minimize_scalar(lambda v: -abs(fb.frequency_response([v])[k, 0]),
                                       bounds=(fc - fb.b[k], fc + fb.b[k]), method="bounded",
                                       options={"xatol": 1e-6}).x
        assert abs(fpk - fc) < 5e-3 * fb.b[k]


def test_bandwidths_equal_erb_and_3db_formula():
    fb = GammatoneFilterbank(FS, n_channels=8, fmin=100.0, fmax=4000.0)
    f = np.linspace(1.0, FS / 2 - 1.0, 400001)
    p = np.abs(fb.frequency_response(f)) ** 2
    erb_measured = np.trapezoid(p, f, axis=1) / p.max(axis=1)
    # the equivalent rectangular bandwidth equals ERB(cf); 1% covers the negative-frequency
    # image and aliasing of the sampled filter
    np.testing.assert_allclose(erb_measured, erb(fb.cf), rtol=0.01)
    expected_3db = 2.0 * fb.b * np.sqrt(2.0 ** 0.25 - 1.0)      # = 0.887 ERB
    for k, fc in enumerate(fb.cf):
        def g(v):
            return abs(fb.frequency_response([v])[k, 0]) ** 2 - 0.5
        lo = optimize.brentq(g, max(1.0, fc - 3 * fb.b[k]), fc)
        hi = optimize.brentq(g, fc, fc + 3 * fb.b[k])
        assert hi - lo == pytest.approx(expected_3db[k], rel=0.01)
        assert (hi - lo) / erb(fc) == pytest.approx(0.887, abs=0.01)


def test_magnitude_response_matches_gammatone_package():
    """Slaney's 4-biquad implementation (gammatone package) is an independent design of
    the same filter: magnitude responses agree within 0.1 dB down to -20 dB."""
    from gammatone import filters as gf
    cf = erb_space(100.0, 3000.0, 6)
    fb = GammatoneFilterbank(FS, cf=cf)
    n = 1 << 15
    imp = np.zeros(n)
    imp[0] = 1.0
    ours = np.abs(np.fft.rfft(fb.filter(imp), axis=1))
    theirs = np.abs(np.fft.rfft(gf.erb_filterbank(imp, gf.make_erb_filters(FS, cf)), axis=1))
    f = np.fft.rfftfreq(n, 1.0 / FS)
    for k, fc in enumerate(cf):
        i = np.argmin(np.abs(f - fc))
        d1 = 20 * np.log10(ours[k] / ours[k, i])
        d2 = 20 * np.log10(theirs[k] / theirs[k, i])
        band = d1 > -20.0
        assert np.max(np.abs(d1 - d2)[band]) < 0.1


def test_kernel_dictionary_normalisation_truncation_and_peaks():
    fb = GammatoneFilterbank(FS, n_channels=6, fmin=150.0, fmax=6000.0)
    d = fb.kernels(threshold_db=50.0)
    np.testing.assert_allclose(np.sum(d.kernels ** 2, axis=1), 1.0, rtol=1e-12)
    m = d.order - 1
    for k in range(d.n_kernels):
        L = d.lengths[k]
        assert np.all(d.kernels[k, L:] == 0.0)
        # the kernel is the normalised prefix of the sampled impulse response
        h = gammatone_impulse_response(d.cf[k], FS, L, d.order, d.b[k])
        np.testing.assert_allclose(d.kernels[k, :L], h / np.linalg.norm(h), rtol=1e-12, atol=1e-15)
        t = np.arange(4 * L, dtype=float)
        env = t ** m * np.exp(-2 * np.pi * d.b[k] * t / FS)
        assert abs(int(np.argmax(env)) - d.peaks[k]) <= 1
        # truncated where the envelope is threshold_db below its peak (within one sample)
        below = np.flatnonzero((env < env.max() * 10 ** (-50 / 20)) & (t > d.peaks[k]))[0]
        assert abs(L - below) <= 2


def test_cross_correlations_are_inner_products_of_shifted_atoms():
    fb = GammatoneFilterbank(FS, n_channels=5, fmin=300.0, fmax=5000.0)
    d = fb.kernels(threshold_db=40.0)
    L = d.max_length
    rng = np.random.default_rng(0)

    def atom(k, peak, n):
        a = np.zeros(n)
        s = peak - d.peaks[k]
        a[s:s + d.lengths[k]] = d.kernels[k, :d.lengths[k]]
        return a
    n = 6 * L
    p0 = 3 * L
    for _ in range(20):
        k0, k = rng.integers(0, d.n_kernels, 2)
        D, vals = d.cross(k0, k)
        a0 = atom(k0, p0, n)
        shifts = np.concatenate((D[:: max(1, D.size // 7)], [D[0] - 1, D[-1] + 1]))
        for s in shifts:
            direct = float(a0 @ atom(k, p0 + s, n))
            stored = float(vals[s - D[0]]) if D[0] <= s <= D[-1] else 0.0
            assert stored == pytest.approx(direct, abs=1e-12)


def test_filterbank_rejects_bad_frequencies():
    with pytest.raises(ValueError):
        GammatoneFilterbank(FS, cf=[9000.0])
    with pytest.raises(ValueError):
        erb_space(1000.0, 100.0, 4)
