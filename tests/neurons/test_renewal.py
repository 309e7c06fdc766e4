"""The exact renewal theory of the discrete noisy LIF (neuromod.neurons.renewal) against
brute-force Monte Carlo of the recursion ``u <- beta u + I``, fire with probability
``F((u - theta)/sigma)``, reset to 0 (NumPy, seeded)."""
import numpy as np
import pytest

from neuromod.backends.noise import FAMILIES
from neuromod.errors import ParameterError
from neuromod.neurons.renewal import TAIL, isi_pmf, renewal_rate

NAMES = sorted(FAMILIES)


def first_passage(I, beta, theta, sigma, noise, n, kmax, rng):
    """ISIs of ``n`` independent neurons started from the reset state: the step of the
    first spike (``kmax + 1`` for none by ``kmax``)."""
    u = np.zeros(n)
    isi = np.full(n, kmax + 1)
    alive = np.ones(n, dtype=bool)
    for k in range(1, kmax + 1):
        u = beta * u + I
        p = FAMILIES[noise].cdf((u - theta) / sigma)
        fire = alive & (rng.random(n) < p)
        isi[fire] = k
        alive &= ~fire
        if not alive.any():
            break
    return isi


def stationary_counts(I, beta, theta, sigma, noise, n, steps, burn, rng):
    """Spike counts per neuron after ``burn`` steps of the recursion with reset to 0."""
    u = np.zeros(n)
    counts = np.zeros(n)
    for t in range(steps):
        u = beta * u + I
        s = rng.random(n) < FAMILIES[noise].cdf((u - theta) / sigma)
        u[s] = 0.0
        if t >= burn:
            counts += s
    return counts


@pytest.mark.parametrize("noise", NAMES)
@pytest.mark.parametrize("I", [0.3, 0.6, 1.0])
def test_pmf_sums_to_one_and_its_mean_is_the_inverse_rate(noise, I):
    p = isi_pmf(I, sigma=0.4, noise=noise)
    assert p.ndim == 1 and np.all(p >= 0)
    assert abs(p.sum() - 1.0) < 2 * TAIL
    k = np.arange(1, len(p) + 1)
    assert 1.0 / np.sum(k * p) == pytest.approx(renewal_rate(I, sigma=0.4, noise=noise),
                                                rel=1e-9)
    # a given kmax truncates the same table
    q = isi_pmf(I, sigma=0.4, noise=noise, kmax=len(p) + 3)
    np.testing.assert_allclose(q[:len(p)], p, rtol=1e-14)
    assert np.all(q[len(p):] < TAIL)


def test_the_figures_of_the_nsnn_notes():
    # beta = 0.5, theta = 1, sigma = 0.4, Gaussian noise (MODELS.md, NSNN)
    np.testing.assert_allclose(renewal_rate([0.3, 0.6, 1.0], beta=0.5, theta=1, sigma=0.4),
                               [0.1264, 0.3703, 0.6433], atol=1e-4)
    np.testing.assert_allclose(isi_pmf(0.6, sigma=0.4)[:5],
                               [0.159, 0.338, 0.277, 0.141, 0.056], atol=6e-4)


@pytest.mark.parametrize("noise", NAMES)
def test_pmf_agrees_with_monte_carlo_of_the_recursion(noise):
    rng = np.random.default_rng(2023 + NAMES.index(noise))
    n = 40000
    p = isi_pmf(0.6, sigma=0.4, noise=noise)
    isi = first_passage(0.6, 0.5, 1.0, 0.4, noise, n, len(p), rng)
    assert np.all(isi <= len(p))
    freq = np.bincount(isi, minlength=len(p) + 1)[1:] / n
    se = np.sqrt(p * (1 - p) / n)
    big = p > 0.01
    assert np.all(np.abs(freq - p)[big] < 3 * se[big]), (noise, freq[:6], p[:6])
    k = np.arange(1, len(p) + 1)
    mean, sd = np.sum(k * p), np.sqrt(np.sum(k * k * p) - np.sum(k * p) ** 2)
    assert abs(isi.mean() - mean) < 3 * sd / np.sqrt(n)


@pytest.mark.parametrize("noise,I,beta,sigma", [("gaussian", 0.3, 0.5, 0.4),
                                                ("logistic", 0.45, 0.5, 0.3),
                                                ("uniform", 0.8, 0.8, 0.3),
                                                ("triangular", 0.2, 0.9, 0.2)])
def test_rate_agrees_with_monte_carlo_of_the_recursion(noise, I, beta, sigma):
    rng = np.random.default_rng(7)
    n, steps, burn = 2000, 400, 100
    counts = stationary_counts(I, beta, 1.0, sigma, noise, n, steps, burn, rng) / (steps - burn)
    se = counts.std(ddof=1) / np.sqrt(n)
    want = renewal_rate(I, beta=beta, sigma=sigma, noise=noise)
    assert abs(counts.mean() - want) < 3 * se, (noise, counts.mean(), want, se)


def test_limits_of_the_recursion():
    fam = FAMILIES["logistic"]
    # beta = 0: u_k = I in every step, a geometric ISI with the hazard F((I - theta)/sigma)
    h = float(fam.cdf(np.float64((0.8 - 1.0) / 0.3)))
    assert renewal_rate(0.8, beta=0.0, noise="logistic") == pytest.approx(h, rel=1e-12)
    np.testing.assert_allclose(isi_pmf(0.8, beta=0.0, noise="logistic", kmax=4),
                               h * (1 - h) ** np.arange(4), rtol=1e-12)
    # a nearly deterministic neuron fires at the first k with u_k > theta: u = 0.6, 0.9, 1.05
    assert renewal_rate(0.6, sigma=1e-3) == pytest.approx(1 / 3, rel=1e-12)
    np.testing.assert_allclose(isi_pmf(0.6, sigma=1e-3), [0, 0, 1], atol=1e-15)
    # beta = 1 (a perfect integrator): u_k = k I
    assert renewal_rate(0.4, beta=1.0, sigma=1e-3) == pytest.approx(1 / 3, rel=1e-12)
    # far below threshold the geometric tail is summed exactly (no table of 1e22 steps)
    h_inf = float(FAMILIES["gaussian"].cdf(np.float64((0.02 - 1.0) / 0.1)))
    assert renewal_rate(0.01, sigma=0.1) == pytest.approx(h_inf, rel=1e-6)
    # a bounded noise that can never reach the threshold: the neuron is silent
    assert renewal_rate(0.1, sigma=0.2, noise="uniform") == 0.0


def test_rate_is_vectorised():
    I = np.array([[0.3, 0.6], [1.0, 2.0]])
    r = renewal_rate(I, sigma=0.4)
    assert r.shape == (2, 2) and isinstance(renewal_rate(0.3), float)
    np.testing.assert_allclose(r.ravel(), [renewal_rate(v, sigma=0.4) for v in I.ravel()])
    assert np.all(np.diff(renewal_rate(np.linspace(0, 2, 21), sigma=0.3)) > 0)


@pytest.mark.parametrize("kwargs,message", [
    ({"sigma": 0.0}, "sigma must be > 0"),
    ({"sigma": -1.0}, "sigma must be > 0"),
    ({"beta": 1.5}, r"beta must be in \[0, 1\]"),
    ({"beta": -0.1}, r"beta must be in \[0, 1\]"),
    ({"noise": "cauchy"}, "unknown noise family 'cauchy'"),
    ({"I": float("nan")}, "I must be a finite number"),
])
def test_bad_parameters_are_one_line_errors(kwargs, message):
    args = {"I": 0.5, **kwargs}
    for fn in (isi_pmf, renewal_rate):
        with pytest.raises(ParameterError, match=message) as exc:
            fn(**args)
        assert "\n" not in str(exc.value)
    with pytest.raises(ParameterError, match="kmax must be a positive integer"):
        isi_pmf(0.5, kmax=0)


def test_a_survival_that_never_decays_is_an_error():
    # u_k -> 0.6 < theta - sqrt(3) sigma: uniform noise never reaches the threshold
    with pytest.raises(ParameterError, match="survival never decays.*bounded support") as exc:
        isi_pmf(0.3, sigma=0.2, noise="uniform")
    assert "\n" not in str(exc.value)
    with pytest.raises(ParameterError, match="survival never decays"):
        isi_pmf(-0.5, beta=1.0)
    with pytest.raises(ParameterError, match="decays too slowly"):
        isi_pmf(0.01, sigma=0.1)
    # a given kmax tabulates the (defective) distribution anyway
    assert isi_pmf(0.3, sigma=0.2, noise="uniform", kmax=10).sum() == 0.0
