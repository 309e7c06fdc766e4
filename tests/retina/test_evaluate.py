"""neuromod.retina.evaluate against facts known independently of the code.

The data are synthetic: 8 units, 10 s of test stimulus repeated 20 times, 1 ms bins,
generated either by an inhomogeneous Poisson process with a known rate or by a
discrete-time refractory process (hazard 1 - exp(-lam) per bin, no spike within
4 bins of the last, so every ISI exceeds 3 ms wherever the spikes fall within their
bins). The test models are those generators themselves (plus a constant model at
the training rate and a latent-variable variant scored through
``importance_log_likelihood``), so the right answers are known:

* a model whose intensity is the true rate has PSTH correlation equal to the noise
  ceiling (which estimates exactly that correlation) and FEV 1 in expectation;
* the null model (the training mean rate) gains exactly 0 bits per spike;
* a model sampling from the data's generator is as far from the data (van Rossum)
  as data trials are from each other, and has the data's Fano factor;
* Poisson counts across R trials have a windowed Fano factor (R - 1) / R = 0.95 in
  expectation (the variance is ddof 0);
* the refractory generator has no ISI below 3 ms;
* the true conditional intensity passes the time-rescaling KS test.

Tolerances are 5 standard deviations of the differences measured over 12 seeds
(spread: psth_corr - ceiling 0.003, FEV 0.006, van Rossum ratio 0.003, Fano 0.007).
"""
import json
import math
import time

import numpy as np
import pytest

from neuromod.errors import ParameterError
from neuromod.retina.base import counts_to_spikes
from neuromod.retina.evaluate import compare, evaluate
from neuromod.retina.recording import Recording

BS, FDT = 0.001, 0.01
U, D, TEST_S, TRAIN_S, R = 8, 6, 10.0, 5.0, 20


def frame_rates(stim, W):
    """Per-frame rate (frames, units) in Hz: 5 + 40 softplus(2 W s - 1)."""
    S = np.asarray(stim, dtype=np.float64).reshape(len(stim), -1)
    return 5.0 + 40.0 * np.log1p(np.exp(2.0 * S @ W.T - 1.0))


class TrueRate:
    """Inhomogeneous Poisson model whose intensity is the generating rate."""
    kind = "true-rate"

    def __init__(self, W, null_rate):
        self.W, self.null_rate, self.bin_size = W, null_rate, BS

    def _lam(self, stimulus):
        return np.repeat(frame_rates(stimulus, self.W), int(round(FDT / BS)), axis=0) * BS

    def intensity(self, stimulus, counts=None, frame_dt=None):
        lam = self._lam(stimulus)
        n = 1 if counts is None else np.shape(counts)[0]
        return np.broadcast_to(lam, (n,) + lam.shape).copy()

    def sample(self, stimulus, n_trials, seed=0, frame_dt=None):
        lam = self._lam(stimulus)
        return np.random.default_rng(seed).poisson(lam, (n_trials,) + lam.shape)


class Null(TrueRate):
    """Homogeneous Poisson at the training mean rate: the bits-per-spike reference."""
    kind = "null"

    def _lam(self, stimulus):
        return np.broadcast_to(self.null_rate, (len(stimulus) * int(round(FDT / BS)), U))


class Refractory(TrueRate):
    """Discrete-time refractory process: spike probability 1 - exp(-lam) in a bin,
    0 within REF bins of the last spike; ``intensity`` is lam given the past."""
    kind = "refractory"
    REF = 4

    def intensity(self, stimulus, counts=None, frame_dt=None):
        lam = self._lam(stimulus)
        c = np.asarray(counts)
        n, B, _ = c.shape
        b = np.arange(B)[None, :, None]
        last = np.maximum.accumulate(np.where(c > 0, b, -10 ** 6), axis=1)
        prev = np.concatenate([np.full((n, 1, U), -10 ** 6), last[:, :-1]], axis=1)
        return lam[None] * (b - prev >= self.REF)

    def sample(self, stimulus, n_trials, seed=0, frame_dt=None):
        p = -np.expm1(-self._lam(stimulus))
        B = p.shape[0]
        u = np.random.default_rng(seed).random((n_trials, B, U))
        out = np.zeros((n_trials, B, U), dtype=np.int64)
        last = np.full((n_trials, U), -10 ** 6)
        for b in range(B):
            f = (u[:, b] < p[b]) & (b - last >= self.REF)
            out[:, b] = f
            last[f] = b
        return out


class Latent(TrueRate):
    """The true rate scored through ``importance_log_likelihood`` (exact here) with
    an ELBO one nat per trial below it, as a latent-variable model would be."""
    kind = "latent"

    def __init__(self, W, null_rate):
        super().__init__(W, null_rate)
        self.calls = []

    def importance_log_likelihood(self, stimulus, counts, n_samples=100, seed=0):
        from scipy.special import gammaln
        self.calls.append(n_samples)
        lam = self._lam(stimulus)[None]
        y = np.asarray(counts, dtype=np.float64)
        ll = (y * np.log(lam) - lam - gammaln(y + 1)).sum(axis=(1, 2))
        return ll, ll - 1.0


def make(gen_cls, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 1.0, (U, D)) / np.sqrt(D)

    def movie(frames):
        m = rng.normal(0.0, 1.0, (frames, D))
        for t in range(1, frames):
            m[t] = 0.8 * m[t - 1] + 0.6 * m[t]
        return m.astype(np.float32)

    Str, Ste = movie(int(TRAIN_S / FDT)), movie(int(TEST_S / FDT))
    gen = gen_cls(W, None)
    ctr = gen.sample(Str, 1, seed=seed + 1)
    cte = gen.sample(Ste, R, seed=seed + 2)
    rec = Recording(FDT, Str, Ste, counts_to_spikes(ctr, BS, seed=seed + 3),
                    counts_to_spikes(cte, BS, seed=seed + 4), U, R, name="synthetic")
    return rec, W, ctr[0].mean(axis=0)


@pytest.fixture(scope="module")
def poisson_data():
    return make(TrueRate, seed=3)


@pytest.fixture(scope="module")
def refractory_data():
    return make(Refractory, seed=5)


@pytest.fixture(scope="module")
def poisson_reports(poisson_data):
    rec, W, null = poisson_data
    t0 = time.perf_counter()
    true = evaluate(TrueRate(W, null), rec, seed=1)
    seconds = time.perf_counter() - t0
    return {"true": true, "null": evaluate(Null(W, null), rec, seed=1), "seconds": seconds}


def test_true_rate_reaches_the_noise_ceiling(poisson_reports):
    r = poisson_reports["true"]
    assert r["psth_corr"] <= r["noise_ceiling"] + 0.015
    assert abs(r["psth_corr"] - r["noise_ceiling"]) < 0.015
    # two noisy PSTHs of R trials each correlate like two halves' Spearman-Brown value
    assert r["psth_corr_sampled"] < r["psth_corr"]
    assert abs(r["psth_corr_sampled"] - r["noise_ceiling"] ** 2) < 0.03
    assert abs(r["fev"] - 1.0) < 0.03
    assert all(abs(f - 1.0) < 0.08 for f in r["fev_per_unit"])
    assert len(r["psth_corr_per_unit"]) == len(r["noise_ceiling_per_unit"]) == U


def test_bits_per_spike_true_positive_null_exactly_zero(poisson_reports):
    true, null = poisson_reports["true"], poisson_reports["null"]
    assert true["bits_per_spike"] > 0.3
    assert all(b > 0 for b in true["bits_per_spike_per_unit"])
    assert null["bits_per_spike"] == 0.0
    assert null["bits_per_spike_per_unit"] == [0.0] * U
    assert null["psth_corr"] is None            # a constant PSTH has no correlation
    assert abs(null["fev"]) < 0.05              # the mean rate explains ~nothing
    # independent recomputation of the bits from the parts in the report
    n = true["n_test_spikes"]
    assert true["bits_per_spike"] == pytest.approx(
        (true["log_likelihood"] - true["null_log_likelihood"]) / (n * math.log(2)), rel=1e-12)


def test_poisson_spike_statistics(poisson_reports):
    r = poisson_reports["true"]
    assert abs(r["van_rossum"] / r["van_rossum_data"] - 1.0) < 0.015
    assert abs(r["fano_model"] - (R - 1) / R) < 0.035
    assert abs(r["fano_data"] - (R - 1) / R) < 0.035
    assert r["short_isi_frac_model"] > 0.05 and r["short_isi_frac_data"] > 0.05
    # the true intensity passes the time-rescaling test
    assert r["ks"] < np.mean(r["ks_bound_per_unit"])
    assert poisson_reports["null"]["ks"] > 3 * np.mean(r["ks_bound_per_unit"])
    h = r["isi_data"]
    assert sum(h["fraction"]) + h["below"] + h["above"] == pytest.approx(1.0)
    assert len(h["fraction"]) == len(r["settings"]["isi_edges"]) - 1
    assert h["quantiles"] == sorted(h["quantiles"])


def test_settings_and_json(poisson_reports):
    r = poisson_reports["true"]
    s = r["settings"]
    assert (s["bin_size"], s["psth_bin"], s["van_rossum_tau"], s["fano_window"],
            s["short_isi"]) == (0.001, 0.02, 0.01, 0.05, 0.003)
    assert "Spearman-Brown" in s["noise_ceiling"]
    assert s["ks_intensity"] == "conditional intensity given the observed past"
    json.dumps(r, allow_nan=False)
    assert r["model"] == "true-rate" and r["data"] == "synthetic"
    assert r["n_units"] == U and r["n_test_trials"] == R


def test_runs_in_a_few_seconds(poisson_reports):
    # 8 units x 10 s x 20 trials at 1 ms bins (first call includes loading numba kernels)
    assert poisson_reports["seconds"] < 10.0


def test_refractory_copy_model(refractory_data):
    rec, W, null = refractory_data
    copy = evaluate(Refractory(W, null), rec, seed=2)
    poisson = evaluate(TrueRate(W, null), rec, seed=2)
    assert copy["short_isi_frac_data"] == 0.0
    assert copy["short_isi_frac_model"] == 0.0
    assert poisson["short_isi_frac_model"] > 0.05
    assert abs(copy["van_rossum"] / copy["van_rossum_data"] - 1.0) < 0.015
    assert abs(copy["fano_model"] - copy["fano_data"]) < 0.035
    assert copy["fano_data"] < 0.85                       # refractoriness regularises
    assert abs(copy["fev"] - 1.0) < 0.03
    bound = np.mean(copy["ks_bound_per_unit"])
    assert copy["ks"] < bound < poisson["ks"] / 3
    assert copy["bits_per_spike"] > poisson["bits_per_spike"] > 0


def test_latent_model_uses_the_importance_estimate(poisson_data, poisson_reports):
    rec, W, null = poisson_data
    m = Latent(W, null)
    r = evaluate(m, rec, seed=1, n_samples=7, intensity_samples=60)
    assert m.calls == [7]
    true = poisson_reports["true"]
    # the estimate here is the exact likelihood: the same bits as the intensity route
    assert r["bits_per_spike"] == pytest.approx(true["bits_per_spike"], rel=1e-9)
    n = r["n_test_spikes"]
    assert r["elbo_bits_per_spike"] == pytest.approx(
        r["bits_per_spike"] - R / (n * math.log(2)), rel=1e-9)
    assert r["bits_per_spike_per_unit"] is None
    assert "60 sampled trials" in r["settings"]["ks_intensity"]
    assert "60 sampled trials" in r["settings"]["predicted_psth"]
    assert r["ks"] < 1.5 * np.mean(r["ks_bound_per_unit"])
    assert r["fev"] > 0.9 and r["psth_corr"] > r["noise_ceiling"] - 0.05
    json.dumps(r, allow_nan=False)


def test_psth_bin_must_be_a_multiple_of_the_model_bin(poisson_data):
    rec, W, null = poisson_data
    with pytest.raises(ParameterError, match="multiple"):
        evaluate(TrueRate(W, null), rec, psth_bin=0.0025)


def test_compare_rows(poisson_reports):
    rows = compare([poisson_reports["true"], {"model": "null", "data": "x",
                                              "test": poisson_reports["null"]}])
    assert [r["model"] for r in rows] == ["true-rate", "null", "data", "data"]
    ref = rows[2]
    true = poisson_reports["true"]
    assert ref["psth_corr"] == true["noise_ceiling"]
    assert ref["van_rossum"] == true["van_rossum_data"]
    assert ref["fev"] is None and ref["bits_per_spike"] is None
    assert rows[1]["data"] == "x" and rows[1]["bits_per_spike"] == 0.0


PNG = b"\x89PNG\r\n\x1a\n"


def test_write_comparison(tmp_path, poisson_reports):
    from neuromod.retina.evaluate import HEADLINE, write_comparison
    reports = [poisson_reports["true"], poisson_reports["null"]]
    j, c, p = tmp_path / "cmp.json", tmp_path / "cmp.csv", tmp_path / "cmp.png"
    rows = write_comparison(reports, str(j), str(c), str(p))
    saved = json.loads(j.read_text())
    assert saved["rows"] == rows and len(saved["reports"]) == 2
    lines = c.read_text().splitlines()
    assert lines[0].split(",") == ["model", "data", *HEADLINE]
    assert [ln.split(",")[0] for ln in lines[1:]] == ["true-rate", "null", "data"]
    assert p.read_bytes()[:8] == PNG


def test_write_comparison_all_or_nothing(tmp_path, poisson_reports):
    from neuromod.errors import OutputError
    from neuromod.retina.evaluate import write_comparison
    j = tmp_path / "cmp.json"
    with pytest.raises(OutputError):      # checked before anything is written
        write_comparison([poisson_reports["true"]], str(j), None,
                         str(tmp_path / "missing" / "cmp.png"))
    assert not j.exists()
    with pytest.raises(OutputError):
        write_comparison([poisson_reports["true"]], str(tmp_path / "cmp.txt"))


def test_trains_found_by_layout_without_annotations(toy_recording):
    # the toy recording's test trains carry no unit/trial annotations: train
    # trial * n_units + unit is what identifies them
    rec = toy_recording
    null = rec.train_counts(BS).mean(axis=0)

    class Const(Null):
        def _lam(self, stimulus):
            return np.broadcast_to(null, (len(stimulus) * 10, rec.n_units))

    r = evaluate(Const(None, null), rec, seed=0)
    assert r["bits_per_spike"] == 0.0
    assert all(c is not None and c > 0.5 for c in r["noise_ceiling_per_unit"])
    assert all(v is not None for v in r["van_rossum_data_per_unit"])
