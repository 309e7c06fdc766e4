"""Spiketrum claims (Tang, Gu, Wijekoon et al., 2023; calibration in MODELS.md).

All speech comes from the shipped espeak-ng set (``neuromod.data``, ``speech/``);
nothing is synthesised at run time. Seeds are fixed.
"""
import numpy as np

from neuromod.validation.registry import claim


def _speech(quick):
    """The demo sentence (quick) or the sentence followed by the 60 held-out digits (full),
    as one 16 kHz signal."""
    from neuromod.auditory.audio import read_wav
    from neuromod.data import path
    x, fs, _ = read_wav(path("speech/demo.wav"))
    if quick:
        return x, fs
    import csv
    parts = [x]
    with open(path("speech/manifest.csv")) as fh:
        for row in csv.DictReader(fh):
            if row["split"] == "test":
                parts.append(read_wav(path("speech/" + row["file"]))[0])
    return np.concatenate(parts), fs


@claim("spiketrum-exact",
       "A signal built from well-separated dictionary kernels with amplitudes on the code's own "
       "magnitude levels is recovered exactly (every kernel, time, sign and level) with that "
       "many spikes, SNR > 100 dB.",
       "> 100", "dB")
def exact(quick):
    from neuromod.auditory.metrics import snr_db
    from neuromod.auditory.spiketrum import (DEFAULTS, dictionary_for, encode,
                                             magnitude_levels, make_config)
    cfg = make_config()
    d = dictionary_for(cfg)
    levels = magnitude_levels(1.0, cfg["levels"], cfg["level_range_db"])
    rng = np.random.default_rng(2023)
    n_atoms = 20 if quick else 200
    gap = d.max_length + 1      # supports never overlap
    N = gap * (n_atoms + 1)
    x = np.zeros(N)
    truth = set()
    for i in range(n_atoms):
        k = int(rng.integers(0, d.n_kernels))
        j = cfg["levels"] - 1 if i == 0 else int(rng.integers(0, cfg["levels"]))
        sign = int(rng.choice([-1, 1]))
        peak = gap * (i + 1) - gap // 2 + int(rng.integers(-gap // 4, gap // 4))
        s = peak - d.peaks[k]
        x[s:s + d.lengths[k]] += sign * levels[j] * d.kernels[k, :d.lengths[k]]
        truth.add((peak, k, sign, j))
    # one chunk for the whole signal: chunk budgets follow duration (docs/auditory.md), so
    # exact recovery needs the atoms and the budget in the same chunk
    code = encode(x, cfg["sample_rate"], rate=n_atoms * cfg["sample_rate"] / N,
                  chunk_s=N / cfg["sample_rate"] + 1.0)
    found = {(int(p), int(k), int(s), int(j)) for p, k, s, j in
             zip(code.order["sample"], code.order["channel"], code.order["sign"],
                 code.order["level"])}
    snr = snr_db(x, code.decode())
    bit_exact = bool(np.isinf(snr))
    snr = min(snr, 400.0)   # report a finite figure for a bit-exact reconstruction
    return {"measured": snr, "passed": found == truth and snr > 100.0,
            "details": {"atoms": n_atoms, "spikes": code.n_spikes, "bit_exact": bit_exact,
                        "recovered": len(found & truth), "channels": DEFAULTS["channels"]}}


RATES_CONTROL = (500.0, 1000.0, 2000.0, 4000.0, 8000.0)


@claim("spiketrum-rate-control",
       "For requested rates of 500-8,000 spikes/s the produced rate is within ±1% of the "
       "request (shipped speech, default configuration).",
       "<= 0.01", "relative error", tolerance=0.01)
def rate_control(quick):
    from neuromod.auditory.spiketrum import encode
    x, fs = _speech(quick)
    produced = {}
    worst = 0.0
    for r in RATES_CONTROL:
        code = encode(x, fs, rate=r)
        produced[str(int(r))] = code.rate
        worst = max(worst, abs(code.rate / r - 1.0))
    return {"measured": worst, "passed": worst <= 0.01, "details": {"produced_hz": produced}}


RATES_SNR = (1000.0, 2000.0, 4000.0, 8000.0)


@claim("spiketrum-rate-snr",
       "On the shipped speech with the default configuration, reconstruction SNR rises "
       "monotonically with rate (1k, 2k, 4k, 8k spikes/s) and is >= 15 dB at 4,000 spikes/s.",
       ">= 15", "dB")
def rate_snr(quick):
    from neuromod.auditory.spiketrum import encode
    x, fs = _speech(quick)
    snr = {}
    corr = {}
    for r in RATES_SNR:
        s = encode(x, fs, rate=r).scores()
        snr[str(int(r))] = s["snr_db"]
        corr[str(int(r))] = s["spectrogram_corr"]
    vals = [snr[str(int(r))] for r in RATES_SNR]
    monotonic = all(b > a for a, b in zip(vals, vals[1:]))
    at4k = snr["4000"]
    return {"measured": at4k, "passed": monotonic and at4k >= 15.0,
            "details": {"snr_db": snr, "spectrogram_corr": corr, "monotonic": monotonic}}


@claim("spiketrum-spike-loss",
       "Deleting 10% of the spikes (uniformly at random) lowers the log-spectrogram "
       "correlation of the reconstruction by less than 0.05 (4,000 spikes/s, shipped speech).",
       "< 0.05", "correlation")
def spike_loss(quick):
    from neuromod.auditory.metrics import log_spectrogram_correlation, snr_db
    from neuromod.auditory.robustness import delete_spikes
    from neuromod.auditory.spiketrum import decode, encode
    x, fs = _speech(quick)
    code = encode(x, fs, rate=4000.0)
    fs_int = code.config["sample_rate"]
    clean = log_spectrogram_correlation(code.signal, code.decode(), fs_int)
    drops, snrs = [], []
    for seed in range(1 if quick else 5):
        xh = decode(delete_spikes(code.spikes, 0.10, seed=seed), code.config)
        drops.append(clean - log_spectrogram_correlation(code.signal, xh, fs_int))
        snrs.append(snr_db(code.signal, xh))
    drop = float(np.mean(drops))
    return {"measured": drop, "passed": drop < 0.05,
            "details": {"clean_corr": clean, "drops": drops, "snr_db_after_loss": snrs,
                        "snr_cap_db": -10 * np.log10(0.10)}}


@claim("spiketrum-digits",
       "Spoken digits encoded by spiketrum at 1,000 spikes/s and classified by a small spiking "
       "network on the Torch backend (its design chosen by cross-validation on the training "
       "accents alone) reach >= 0.95 accuracy on two held-out accents; the accuracies of spiketrum, "
       "send-on-delta and gammatone+LIF (each matched to spiketrum's spike count per file) "
       "clean, in white noise at 10 dB and 0 dB SNR, and with 1 ms / 5 ms spike jitter are "
       "reported side by side.",
       ">= 0.95", "accuracy")
def digits(quick):
    from neuromod.auditory.digits import run_digits
    res = run_digits(rate=1000.0, seeds=(0,) if quick else (0, 1, 2), n_jobs=2)
    table = {enc: {c: res[enc][c] for c in ("clean", "10dB", "0dB", "jitter1ms", "jitter5ms")}
             for enc in ("spiketrum", "send_on_delta", "lif")}
    acc = res["spiketrum"]["clean"]
    return {"measured": acc, "passed": acc >= 0.95,
            "details": {**{f"{enc}": v for enc, v in table.items()},
                        "spikes_per_file": res["spikes_per_file"], "n_train": res["n_train"],
                        "n_test": res["n_test"], "seeds": res["seeds"],
                        "design": res["design"]}}
