"""One evaluation for every retina model: how well its predicted PSTH, its likelihood
and its own spike trains match the recorded test repeats.

:func:`evaluate` takes a fitted model (the interface of :mod:`neuromod.retina.base`)
and a :class:`~neuromod.retina.recording.Recording` and returns a JSON-ready dict;
:func:`compare` turns several such reports into table rows, and
:func:`write_comparison` writes the rows (JSON, CSV) and a summary bar chart
together, all or nothing (:class:`neuromod.outputs.Outputs`).

What is measured (the ``settings`` block of each report states every bin and time
constant used):

``psth_corr``, ``psth_corr_per_unit``
    Pearson correlation of the model's predicted PSTH with the data's trial-averaged
    PSTH in bins of ``psth_bin`` (default 20 ms). The predicted PSTH is the model's
    expected count per bin: for models with a conditional intensity, the mean over
    the model's own sampled trials of ``intensity(stimulus, sampled counts)`` (exact
    for models without spike history, a low-variance estimate of the model's PSTH
    otherwise); for latent-variable models (those defining
    ``importance_log_likelihood``), the mean of ``intensity_samples`` sampled trials,
    or, for a model with ``sample_with_rates`` (TeCoS-LVM), the mean over those
    trials of each bin's firing probability given the trial's own past (the same
    expectation, less Monte Carlo noise).
``psth_corr_sampled``
    :func:`neuromod.stats.psth_correlation` of the model's sampled trials (as many as
    the data has) with the data: two PSTHs with noise, so a perfect model reaches
    about ``noise_ceiling ** 2`` here, not ``noise_ceiling``.
``noise_ceiling``, ``noise_ceiling_per_unit``
    :func:`neuromod.stats.split_half_noise_ceiling`: the square root of the
    Spearman-Brown corrected split-half reliability of the data's PSTH (100 random
    splits), an estimate of the correlation of the observed PSTH with the true rate,
    i.e. the best ``psth_corr`` a model can reach.
``fev``, ``fev_per_unit``, ``explainable_per_unit``
    Fraction of explainable variance explained (Cadena et al. 2019) by the predicted
    PSTH, :func:`neuromod.stats.fraction_explainable_variance` on single trials at
    ``psth_bin``; the data's explainable share of its variance beside it.
``bits_per_spike`` (and ``bits_per_spike_per_unit``)
    Test log-likelihood gain over a homogeneous Poisson model with each unit's
    *training* mean rate (``model.null_rate``), in bits per test spike, at the
    model's ``bin_size``. Models with spike history are evaluated given the observed
    past (``intensity(stimulus, observed counts)``). A model that defines
    ``importance_log_likelihood(stimulus, counts, n_samples, seed)`` is scored by
    that estimate instead (TeCoS-LVM: importance sampling with the encoder as
    proposal, 100 samples by default); its ELBO, when returned, is reported as
    ``elbo_bits_per_spike`` too.
``van_rossum``, ``van_rossum_data``, ``van_rossum_model``
    Mean van Rossum distance (:func:`neuromod.stats.van_rossum_distance`, Elephant's
    normalisation, ``tau`` 10 ms) between model and data trials, between distinct
    data trials (the reference a model that samples from the data's generator
    matches) and between distinct model trials; per unit, then averaged.
``fano_model``, ``fano_data``
    :func:`neuromod.stats.windowed_fano_factor` in ``fano_window`` (50 ms) windows
    across trials, averaged over units. The variance is ``ddof 0`` (the toolkit's
    convention), so Poisson trials give ``(R - 1) / R`` in expectation, 0.95 for 20
    repeats; model and data are compared at the same number of trials.
``isi_model``, ``isi_data``, ``short_isi_frac_model``, ``short_isi_frac_data``
    Pooled ISIs of all trials and units (:func:`neuromod.stats.isis`): the share in
    each of the fixed log-spaced bins ``settings.isi_edges``, quantiles, and the
    share shorter than ``short_isi`` (3 ms).
``ks``, ``ks_per_unit``, ``ks_bound``
    Time-rescaling Kolmogorov-Smirnov statistic per unit
    (:func:`neuromod.stats.time_rescaling_ks`, discrete time with the correction of
    Haslinger, Pipa & Brown 2010), averaged over units. The events are the model
    bins holding at least one observed spike, with ``P(spike) = 1 - exp(-lam)``.
    ``lam`` is the conditional intensity given the observed past, or, for
    latent-variable models that have none, ``-log(1 - p)`` with ``p`` the share of
    ``intensity_samples`` sampled trials spiking in the bin (one estimate for all
    trials; ``settings.ks_intensity`` says which).

A model counts as latent-variable (no conditional intensity) when it defines
``importance_log_likelihood``; a ``conditional_intensity`` attribute (True/False)
overrides that. ``intensity`` is read as the expected count per bin of a Poisson
model throughout, as :func:`~neuromod.retina.base.bits_per_spike` reads it.

Model samples are drawn with ``model.sample(recording.test_stimulus,
recording.n_test_trials, seed)`` and converted with
:func:`~neuromod.retina.base.counts_to_spikes`.

Examples
--------
>>> import numpy as np
>>> compare([{"model": "ln", "data": "toy", "psth_corr": 0.8, "noise_ceiling": 0.9}])[0]["model"]
'ln'
"""
import csv
import json
import math
import os

import numpy as np

from neuromod.errors import ParameterError, SpikeDataError
from neuromod.retina.base import bits_per_spike, counts_to_spikes, poisson_log_likelihood

__all__ = ["evaluate", "compare", "write_comparison", "ISI_EDGES", "ISI_QUANTILES",
           "HEADLINE"]

#: Fixed ISI histogram edges, seconds: 0.1 ms to 10 s, 5 bins per decade.
ISI_EDGES = np.logspace(-4, 1, 26)
#: Quantiles of the ISI distribution reported.
ISI_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Columns of :func:`compare` after ``model`` and ``data``.
HEADLINE = ("psth_corr", "noise_ceiling", "fev", "bits_per_spike", "elbo_bits_per_spike",
            "van_rossum", "van_rossum_data", "fano_model", "fano_data",
            "short_isi_frac_model", "short_isi_frac_data", "ks", "rate_model", "rate_data")


# ----------------------------------------------------------------------- helpers
def _json(x):
    """Plain Python values for JSON: NaN and inf become None."""
    if isinstance(x, dict):
        return {str(k): _json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json(v) for v in x]
    if isinstance(x, np.ndarray):
        return _json(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    return x


def _mean(values):
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def _unit_trials(st, n_units):
    """The trains of each unit, trial order kept (train ``trial * n_units + unit``,
    the layout of the recording's test trains; annotations are not needed)."""
    n_trials = st.n_trains // n_units
    return [st.subset(np.arange(n_trials) * n_units + u) for u in range(n_units)]


def _isi_summary(st, short):
    from neuromod.stats import isis
    d, _ = isis(st)
    n = int(d.size)
    if n == 0:
        return {"n": 0, "fraction": [None] * (ISI_EDGES.size - 1), "below": None,
                "above": None, "quantiles": [None] * len(ISI_QUANTILES), "mean": None}, \
            float("nan")
    hist = np.histogram(d, ISI_EDGES)[0]
    return {"n": n, "fraction": hist / n, "below": float(np.mean(d < ISI_EDGES[0])),
            "above": float(np.mean(d >= ISI_EDGES[-1])),
            "quantiles": np.quantile(d, ISI_QUANTILES), "mean": float(d.mean())}, \
        float(np.mean(d < short))


def _van_rossum(model_u, data_u, tau):
    """Mean model-data, data-data and model-model distances of one unit's trials."""
    from neuromod.spikes import SpikeTrains
    from neuromod.stats import van_rossum_distance
    Rm = model_u.n_trains
    both = SpikeTrains.concatenate([model_u, data_u])
    D = van_rossum_distance(both, tau)
    cross = D[:Rm, Rm:].mean()
    dd, mm = D[Rm:, Rm:], D[:Rm, :Rm]
    Rd = dd.shape[0]
    data = dd.sum() / (Rd * (Rd - 1)) if Rd > 1 else float("nan")
    model = mm.sum() / (Rm * (Rm - 1)) if Rm > 1 else float("nan")
    return float(cross), float(data), float(model)


def _likelihood(model, stimulus, y, frame_dt, n_samples, seed, null):
    """Bits per spike (and their parts) on the observed test counts ``y``; the
    intensity given the observed past when the model has one (else None)."""
    l_null = poisson_log_likelihood(y, null)
    n = float(y.sum())
    out = {"null_log_likelihood": l_null, "n_test_spikes": int(n), "elbo": None,
           "elbo_bits_per_spike": None}
    ill = getattr(model, "importance_log_likelihood", None)
    lam = None
    if ill is not None:
        kw = {"seed": seed}
        if n_samples is not None:
            kw["n_samples"] = int(n_samples)
        res = ill(stimulus, y, **kw)
        elbo = None
        if isinstance(res, tuple):
            res, elbo = res[0], (res[1] if len(res) > 1 else None)
        if elbo is None and callable(getattr(model, "elbo", None)):
            elbo = model.elbo(stimulus, y, seed=seed)
        ll = float(np.sum(res))
        out.update(likelihood="importance sampling" + (f" ({int(n_samples)} samples)"
                                                       if n_samples is not None else ""),
                   log_likelihood=ll,
                   bits_per_spike=(ll - l_null) / (n * math.log(2)) if n else float("nan"),
                   bits_per_spike_per_unit=None)
        if elbo is not None:
            e = float(np.sum(elbo))
            out.update(elbo=e, elbo_bits_per_spike=(e - l_null) / (n * math.log(2))
                       if n else float("nan"))
    else:
        lam = np.asarray(model.intensity(stimulus, y, frame_dt=frame_dt), dtype=np.float64)
        if lam.shape != y.shape:
            raise ParameterError(f"model.intensity returned shape {lam.shape} for counts "
                                 f"of shape {y.shape}")
        out.update(likelihood="conditional intensity given the observed past (Poisson)",
                   log_likelihood=poisson_log_likelihood(y, lam),
                   bits_per_spike=bits_per_spike(y, lam, null),
                   bits_per_spike_per_unit=[bits_per_spike(y[..., u], lam[..., u], null[u])
                                            for u in range(y.shape[-1])])
    return out, lam


def _ks(y, lam, bin_size, seed):
    """Per-unit time-rescaling KS statistic and bound; ``lam`` (trials, bins, units)
    or (bins, units) expected counts per bin."""
    from neuromod.spikes import SpikeTrains
    from neuromod.stats import time_rescaling_ks
    R, B, U = y.shape
    stat, bound = [], []
    for u in range(U):
        st = SpikeTrains.from_binned(np.minimum(y[:, :, u], 1), bin_size)
        rate = (lam[:, :, u] if lam.ndim == 3 else lam[:, u]) / bin_size
        try:
            res = time_rescaling_ks(st, rate, bin_size, seed=seed + u)
            stat.append(res.statistic)
            bound.append(res.bound)
        except SpikeDataError:             # a unit with no test spike
            stat.append(float("nan"))
            bound.append(float("nan"))
    return stat, bound


# ----------------------------------------------------------------------- evaluate
def evaluate(model, recording, seed=0, n_samples=None, psth_bin=0.02, van_rossum_tau=0.01,
             fano_window=0.05, short_isi=0.003, intensity_samples=100, n_splits=100,
             name=None):
    """Evaluate a fitted retina model on the test repeats of ``recording``.

    Parameters
    ----------
    model : RetinaModel
        Fitted (``bin_size``, ``null_rate``, ``intensity``, ``sample``).
    recording : Recording
    seed : int
        Seeds the model's samples, the spike placement within bins, the noise
        ceiling's splits, the importance samples and the KS test's jitter.
    n_samples : int, optional
        Importance samples for models with ``importance_log_likelihood`` (default:
        the model's own, 100 for TeCoS-LVM).
    psth_bin : float
        PSTH bin (s) of ``psth_corr``, the noise ceiling and FEV; a multiple of the
        model's ``bin_size``.
    van_rossum_tau, fano_window, short_isi : float
        Seconds.
    intensity_samples : int
        Sampled trials averaged for the PSTH and the KS intensity of latent-variable
        models (those without a conditional intensity).
    n_splits : int
        Random splits of the noise ceiling.
    name : str, optional
        The model's name in the report (default its ``kind`` or class name).

    Returns
    -------
    dict
        JSON-ready (NaN as None); see the module description for the keys, and
        ``settings`` for every bin, window and time constant used.
    """
    from neuromod.stats import (fraction_explainable_variance, psth_correlation,
                                split_half_noise_ceiling, windowed_fano_factor)
    bs = float(model.bin_size)
    fdt = float(recording.frame_dt)
    U, R = int(recording.n_units), int(recording.n_test_trials)
    K = psth_bin / bs
    if not (psth_bin > 0 and abs(K - round(K)) < 1e-6 * max(K, 1) and round(K) >= 1):
        raise ParameterError(f"psth_bin {psth_bin:g} s must be a multiple of the model's "
                             f"bin {bs:g} s")
    K = int(round(K))
    stim = recording.test_stimulus
    y = recording.test_counts(bs)
    _, B, _ = y.shape
    null = np.broadcast_to(np.asarray(model.null_rate, dtype=np.float64), (U,))
    conditional = bool(getattr(model, "conditional_intensity",
                               not hasattr(model, "importance_log_likelihood")))

    # the model's own trials
    n_draw = R if conditional else max(R, int(intensity_samples))
    rates = None
    if not conditional and hasattr(model, "sample_with_rates"):
        drawn, rates = model.sample_with_rates(stim, n_draw, seed=seed, frame_dt=fdt)
        drawn = np.asarray(drawn)
    else:
        drawn = np.asarray(model.sample(stim, n_draw, seed=seed, frame_dt=fdt))
    if drawn.shape != (n_draw, B, U):
        raise ParameterError(f"model.sample returned shape {drawn.shape}; expected "
                             f"{(n_draw, B, U)}")
    samples = drawn[:R]
    model_st = counts_to_spikes(samples, bs, seed=seed + 1)
    data_st = recording.test_spikes

    # predicted PSTH, expected counts per model bin (bins, units)
    if conditional:
        own = np.asarray(model.intensity(stim, samples, frame_dt=fdt), dtype=np.float64)
        expected = own.mean(axis=0)
        psth_source = "mean over the sampled trials of the intensity given their own past"
    elif rates is not None:
        expected = np.asarray(rates, dtype=np.float64).mean(axis=0)
        psth_source = (f"mean over {n_draw} sampled trials of each bin's firing probability "
                       "given the trial's own past")
    else:
        expected = drawn.mean(axis=0, dtype=np.float64)
        psth_source = f"mean of {n_draw} sampled trials"
    nb = recording.n_bins(psth_bin, "test")
    pred_hz = expected[:nb * K].reshape(nb, K, U).sum(axis=1) / psth_bin

    data_u = _unit_trials(data_st, U)
    model_u = _unit_trials(model_st, U)
    from neuromod.stats import psth
    corr, corr_s, ceil, fev, expl = [], [], [], [], []
    vr, vr_d, vr_m, fano_m, fano_d = [], [], [], [], []
    for u in range(U):
        d = data_u[u]
        dp, _ = psth(d, psth_bin, 0.0, nb * psth_bin)
        p = pred_hz[:, u]
        with np.errstate(invalid="ignore", divide="ignore"):
            corr.append(float(np.corrcoef(p, dp)[0, 1]) if np.ptp(p) > 0 and np.ptp(dp) > 0
                        else float("nan"))
        try:
            corr_s.append(psth_correlation(model_u[u], d, psth_bin))
        except SpikeDataError:
            corr_s.append(float("nan"))
        ceil.append(split_half_noise_ceiling(d, psth_bin, n_splits=n_splits, seed=seed + u))
        f, e = fraction_explainable_variance(p, d, psth_bin, return_explainable=True)
        fev.append(f)
        expl.append(e)
        a, b, c = _van_rossum(model_u[u], d, van_rossum_tau)
        vr.append(a)
        vr_d.append(b)
        vr_m.append(c)
        fano_m.append(windowed_fano_factor(model_u[u], fano_window))
        fano_d.append(windowed_fano_factor(d, fano_window))

    lik, lam = _likelihood(model, stim, y, fdt, n_samples, seed, null)
    if lam is None:
        p_spike = np.minimum(np.mean(drawn > 0, axis=0), 1.0 - 0.5 / n_draw)
        lam = -np.log1p(-p_spike)
        ks_source = (f"-log(1 - p), p the share of {n_draw} sampled trials with a spike in "
                     "the bin (the model has no conditional intensity)")
    else:
        ks_source = "conditional intensity given the observed past"
    ks, ks_bound = _ks(y, lam, bs, seed)

    isi_m, short_m = _isi_summary(model_st, short_isi)
    isi_d, short_d = _isi_summary(data_st, short_isi)
    T = recording.test_duration
    rate_m = samples.sum(axis=(0, 1)) / (R * B * bs)
    rate_d = y.sum(axis=(0, 1)) / (R * B * bs)

    report = {
        "model": name or getattr(model, "kind", None) or type(model).__name__,
        "data": recording.name, "n_units": U, "n_test_trials": R,
        "test_seconds": T, "unit_names": list(recording.unit_names),
        "psth_corr": _mean(corr), "psth_corr_per_unit": corr,
        "psth_corr_sampled": _mean(corr_s), "psth_corr_sampled_per_unit": corr_s,
        "noise_ceiling": _mean(ceil), "noise_ceiling_per_unit": ceil,
        "fev": _mean(fev), "fev_per_unit": fev, "explainable_per_unit": expl,
        **lik,
        "van_rossum": _mean(vr), "van_rossum_data": _mean(vr_d),
        "van_rossum_model": _mean(vr_m), "van_rossum_per_unit": vr,
        "van_rossum_data_per_unit": vr_d,
        "fano_model": _mean(fano_m), "fano_data": _mean(fano_d),
        "fano_model_per_unit": fano_m, "fano_data_per_unit": fano_d,
        "isi_model": isi_m, "isi_data": isi_d,
        "short_isi_frac_model": short_m, "short_isi_frac_data": short_d,
        "ks": _mean(ks), "ks_per_unit": ks, "ks_bound_per_unit": ks_bound,
        "rate_model": _mean(rate_m), "rate_data": _mean(rate_d),
        "rate_model_per_unit": rate_m, "rate_data_per_unit": rate_d,
        "settings": {
            "bin_size": bs, "frame_dt": fdt, "psth_bin": float(psth_bin),
            "van_rossum_tau": float(van_rossum_tau),
            "van_rossum_normalisation": "Elephant (sqrt(2) x van Rossum 2001)",
            "fano_window": float(fano_window),
            "fano": "windowed_fano_factor across trials, ddof 0 (Poisson: (R - 1) / R)",
            "short_isi": float(short_isi),
            "isi_edges": ISI_EDGES, "isi_quantiles": list(ISI_QUANTILES),
            "noise_ceiling": ("sqrt of the Spearman-Brown corrected split-half "
                              f"reliability, {int(n_splits)} random splits"),
            "fev": "Cadena et al. 2019, single trials, ddof 1",
            "predicted_psth": psth_source, "likelihood": lik["likelihood"],
            "null": "homogeneous Poisson, each unit's training mean rate",
            "ks_intensity": ks_source,
            "ks": "discrete time-rescaling (Haslinger, Pipa & Brown 2010); events are "
                  "bins with >= 1 spike",
            "n_model_trials": R, "seed": int(seed)},
    }
    return _json(report)


# ----------------------------------------------------------------------- compare
def _flat(report):
    """A pipeline report (with ``test``) or an evaluation, as one evaluation."""
    if "test" in report and isinstance(report["test"], dict):
        out = dict(report["test"])
        for k in ("model", "data"):
            if k in report:
                out[k] = report[k]
        return out
    return report


def compare(reports):
    """Rows of a comparison table: one per report (``model``, ``data`` and the
    :data:`HEADLINE` figures) and, per recording, a reference row
    ``model = "data"`` holding the data's own values (``psth_corr`` = the noise
    ceiling, ``van_rossum`` = data-data distance, Fano, short-ISI share and rate of
    the data; the model-only figures None).

    Accepts evaluations (:func:`evaluate`) or pipeline reports whose ``test`` is one.
    """
    rows, refs = [], {}
    for r in map(_flat, reports):
        rows.append({"model": r.get("model"), "data": r.get("data"),
                     **{k: r.get(k) for k in HEADLINE}})
        refs.setdefault(r.get("data"), r)
    for data, r in refs.items():
        row = {"model": "data", "data": data, **{k: None for k in HEADLINE}}
        row.update(psth_corr=r.get("noise_ceiling"), noise_ceiling=r.get("noise_ceiling"),
                   van_rossum=r.get("van_rossum_data"), van_rossum_data=r.get("van_rossum_data"),
                   fano_model=r.get("fano_data"), fano_data=r.get("fano_data"),
                   short_isi_frac_model=r.get("short_isi_frac_data"),
                   short_isi_frac_data=r.get("short_isi_frac_data"),
                   rate_model=r.get("rate_data"), rate_data=r.get("rate_data"))
        rows.append(row)
    return _json(rows)


def write_comparison(reports, json_path=None, csv_path=None, png_path=None, outputs=None):
    """Write :func:`compare`'s rows as JSON (with the full reports) and CSV, and the
    summary bar chart (:func:`neuromod.retina.plots.fig_summary`), all together:
    every path is checked before anything is written, and either all files are
    replaced or none (:class:`neuromod.outputs.Outputs`; ``outputs``: an open one of
    the caller's, committed with the caller's other files). ``None`` skips a file.

    Returns the rows.
    """
    import contextlib

    from neuromod.outputs import PLOT_EXTENSIONS, Outputs
    reports = [_json(r) for r in reports]
    rows = compare(reports)
    with (Outputs() if outputs is None else contextlib.nullcontext(outputs)) as out:
        j = out.add(json_path, "--json", (".json",))
        c = out.add(csv_path, "--csv", (".csv",))
        p = out.add(png_path, "--plot", PLOT_EXTENSIONS, default_suffix=".png")
        if j is not None:
            text = json.dumps({"rows": rows, "reports": reports}, indent=2, allow_nan=False)
            out.write(j, lambda tmp: _write_text(tmp, text + "\n"))
        if c is not None:
            out.write(c, lambda tmp: _write_csv(tmp, rows))
        if p is not None:
            from neuromod.retina.plots import summary_figure
            import matplotlib.pyplot as plt
            fig = summary_figure(rows)
            ext = os.path.splitext(p.suffix or ".png")[1] or ".png"
            try:
                out.write(p, lambda tmp: fig.savefig(tmp, dpi=110, format=ext.lstrip(".")))
            finally:
                plt.close(fig)
    return rows


def _write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def _write_csv(path, rows):
    cols = ["model", "data", *HEADLINE]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
