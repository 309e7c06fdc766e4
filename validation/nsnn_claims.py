"""NSNN claims (Ma, Yan & Tang, Patterns 2023; calibration in MODELS.md): the Bernoulli
firing rule, the noise-driven-learning gradient and the renewal rate of the discrete
noisy LIF, on every simulation path.

Every sample is seeded. The paths share the variate protocol of
:func:`neuromod.backends.noise.variates`: given generators seeded alike, they draw the
same variates and must give the same spikes (``nsnn-rate-cdf`` checks that too).
"""
import math

import numpy as np

from neuromod.validation.registry import claim

THETA = 1.0
#: Standardised distances ``z = (u - theta)/sigma`` of ``nsnn-rate-cdf`` (beyond the
#: bounded supports at +-3: probabilities exactly 0 and 1 there for uniform noise).
Z_GRID = (-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0)
#: The simulation paths: (name, backend, options) of :func:`neuromod.backends.network.simulate`,
#: or ``layer`` / ``layer-fused`` for :class:`~neuromod.backends.torch_backend.NeuronLayer`.
RATE_PATHS = (("torch-eager", "torch", {"fused": False}),
              ("torch-fastsim", "torch", {"fused": True}),
              ("torch-layer", "layer", {"fused": False}),
              ("torch-layer-fused", "layer", {"fused": True}),
              ("brian2-numpy", "brian2", {"target": "numpy"}))


def _deviation_se(count, n, p):
    """|count/n - p| in binomial standard errors (0 or inf where p is 0 or 1)."""
    se = math.sqrt(p * (1.0 - p) / n)
    diff = abs(count / n - p)
    if se == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / se


def _path_counts(name, backend, options, model, u, n, steps, seed):
    """Spike counts per value of ``u`` of ``n`` neurons held at ``u`` for ``steps`` steps
    (``beta = 0``: the state is the step's input, whatever the reset). Every path uses
    the variates ``(steps, 1, len(u) n)`` of :meth:`Network.firing_variates` for ``seed``
    (the layers are handed them)."""
    if backend == "layer":
        import torch
        from neuromod.backends.network import Network
        from neuromod.backends.torch_backend import NeuronLayer
        x = torch.tensor(np.repeat(u, n), dtype=torch.float64).reshape(1, -1, 1)
        x = x.expand(1, len(u) * n, steps).contiguous()
        layer = NeuronLayer(model, len(u) * n, dt=1e-3, drive="x", dtype=torch.float64, **options)
        with torch.no_grad():
            net = Network()
            net.add_population("neurons", model, len(u) * n)
            s = layer(x, variates=net.firing_variates(steps, seed)["neurons"])
        return s.reshape(len(u), n, steps).sum(dim=(1, 2)).numpy().astype(np.int64)
    from neuromod.backends.network import simulate
    r = simulate(model, len(u) * n, steps * 1e-3, dt=1e-3, backend=backend,
                 inputs={"x": np.repeat(u, n)}, seed=seed, **options)
    ids = r.spikes["neurons"].ids
    return np.bincount(ids // n, minlength=len(u)).astype(np.int64)


@claim("nsnn-rate-cdf",
       "The Bernoulli firing rule fires a neuron at the noise-free state u with probability "
       "F((u - theta)/sigma), for every noise family (gaussian, logistic, triangular, uniform; "
       "sigma the standard deviation) on every path (eager Torch, the fused network simulator, "
       "the eager and fused Torch layers, Brian2's numpy target): Monte-Carlo rates within "
       "3 standard errors, and the same spike counts on every path for the same variates.",
       "<= 3", "standard errors")
def rate_cdf(quick):
    from neuromod.backends.noise import FAMILIES
    from neuromod.neurons.nsnn import noisy_lif
    sigma = 0.3
    n, steps = (2500, 8) if quick else (25000, 8)
    u = THETA + sigma * np.asarray(Z_GRID)
    worst, by_path, by_family, rates, identical = 0.0, {}, {}, {}, True
    for f_index, fam_name in enumerate(sorted(FAMILIES)):
        fam = FAMILIES[fam_name]
        model = noisy_lif(fam_name, beta=0.0, theta=THETA, sigma=sigma)
        p = np.clip(np.asarray(fam.cdf((u - THETA) / sigma), dtype=float), 0.0, 1.0)
        per_path = {}
        for path, backend, options in RATE_PATHS:
            counts = _path_counts(path, backend, options, model, u, n, steps, seed=100 + f_index)
            devs = [_deviation_se(int(c), n * steps, float(pi)) for c, pi in zip(counts, p)]
            worst = max(worst, max(devs))
            by_path[path] = max(by_path.get(path, 0.0), max(devs))
            by_family[fam_name] = max(by_family.get(fam_name, 0.0), max(devs))
            per_path[path] = [round(float(c) / (n * steps), 6) for c in counts]
        same = all(v == per_path[RATE_PATHS[0][0]] for v in per_path.values())
        identical = identical and same
        rates[fam_name] = {"expected": [round(float(v), 6) for v in p],
                           **({"measured": per_path[RATE_PATHS[0][0]]} if same else per_path)}
    return {"measured": worst, "passed": bool(worst <= 3.0 and identical),
            "details": {"worst_se_by_path": by_path, "worst_se_by_family": by_family,
                        "z_grid": list(Z_GRID), "sigma": sigma, "samples_per_u": n * steps,
                        "same_counts_on_every_path": identical, "rates": rates}}


@claim("nsnn-ndl-gradient",
       "Noise-driven learning: the backward of a noisy-lif spike (autograd in float64 through "
       "the Bernoulli spike, eager and fused Torch layers, and NoiseFamily.spike itself) is "
       "the noise density f((u - theta)/sigma)/sigma for every noise family, to 1e-6.",
       "<= 1e-6", "absolute error", tolerance=1e-6)
def ndl_gradient(quick):
    import torch
    from neuromod.backends.noise import FAMILIES
    from neuromod.backends.torch_backend import NeuronLayer
    from neuromod.neurons.nsnn import noisy_lif
    sigmas = (0.3,) if quick else (0.2, 0.3, 0.4)
    n_grid = 401 if quick else 4001
    worst, errors, points = 0.0, {}, 0
    for fam_name in sorted(FAMILIES):
        fam = FAMILIES[fam_name]
        for sigma in sigmas:
            # z in [-4, 4]: both tails, the peak and the kinks of the bounded families
            u = THETA + sigma * torch.linspace(-4.0, 4.0, n_grid, dtype=torch.float64)
            want = fam.pdf((u - THETA) / sigma) / sigma
            got = {}
            for fused in (False, True):
                # one step from u = 0 with input x: the state is x, the spike's gradient
                # with respect to x is d F((x - theta)/sigma)/dx
                layer = NeuronLayer(noisy_lif(fam_name, theta=THETA, sigma=sigma), n_grid,
                                    dt=1e-3, drive="x", dtype=torch.float64, fused=fused)
                x = u.reshape(1, n_grid, 1).clone().requires_grad_(True)
                layer(x, generator=torch.Generator().manual_seed(0)).sum().backward()
                got["layer-fused" if fused else "layer"] = x.grad.reshape(-1)
            z = ((u - THETA) / sigma).clone().requires_grad_(True)
            s = fam.spike(z, torch.rand(n_grid, generator=torch.Generator().manual_seed(1),
                                        dtype=torch.float64))
            s.sum().backward()
            got["NoiseFamily.spike"] = z.grad / sigma       # ds/du = (ds/dz) / sigma
            for path, g in got.items():
                err = float((g - want).abs().max())
                worst = max(worst, err)
                key = f"{fam_name}/{path}"
                errors[key] = max(errors.get(key, 0.0), err)
                points += n_grid
    return {"measured": worst, "passed": bool(worst <= 1e-6),
            "details": {"max_abs_error": errors, "sigmas": list(sigmas), "points": points,
                        "z_range": [-4.0, 4.0]}}


RENEWAL_INPUTS = (0.3, 0.6, 1.0)
#: beta, theta, sigma of ``nsnn-renewal-rate`` (MODELS.md: 0.1264 / 0.3703 / 0.6433 per step).
RENEWAL_PARAMETERS = {"beta": 0.5, "theta": 1.0, "sigma": 0.4}


def _pool(observed, expected, minimum=5.0):
    """Merge neighbouring bins (left to right, the remainder into the last group) so that
    every expected count is at least ``minimum``."""
    obs, exp, co, ce = [], [], 0.0, 0.0
    for o, e in zip(observed, expected):
        co, ce = co + o, ce + e
        if ce >= minimum:
            obs.append(co)
            exp.append(ce)
            co = ce = 0.0
    if obs and (co or ce):
        obs[-1] += co
        exp[-1] += ce
    return np.asarray(obs), np.asarray(exp)


def _isi_counts(ids, idx, n_neurons, steps, L):
    """Histogram of the ISIs that start (at a spike, or at the reset state before step 0)
    no later than step ``steps - 1 - L``: bins ``1..L`` and ``> L``.

    An interval's length is independent of its start (the renewal property), and
    whether it starts in the window is decided before it begins, so the histogram is an
    unbiased sample of the ISI distribution; ``> L`` is observed exactly (censored
    intervals that start in the window last longer than ``L``)."""
    order = np.lexsort((idx, ids))
    ids, idx = ids[order], idx[order]
    first = np.r_[True, ids[1:] != ids[:-1]] if len(ids) else np.zeros(0, bool)
    start = np.where(first, -1, np.r_[-1, idx[:-1]])      # the previous spike, or -1
    length = idx - start
    # the interval after each neuron's last spike (or after -1 for a silent neuron) is open
    last = np.full(n_neurons, -1)
    is_last = np.r_[ids[1:] != ids[:-1], True] if len(ids) else np.zeros(0, bool)
    last[ids[is_last]] = idx[is_last]
    starts = np.r_[start, last]
    lengths = np.r_[length, np.full(n_neurons, L + 1)]
    keep = starts <= steps - 1 - L
    return np.bincount(np.minimum(lengths[keep], L + 1), minlength=L + 2)[1:]


@claim("nsnn-renewal-rate",
       "The noisy LIF (beta = 0.5, theta = 1, Gaussian sigma = 0.4, reset to 0) under constant "
       "input 0.3 / 0.6 / 1.0 fires at its renewal rate 1/E[ISI] = 0.1264 / 0.3703 / 0.6433 "
       "spikes per step within 3 standard errors on the Torch and Brian2 backends, and its "
       "ISI histogram passes a chi-square test (p > 0.01) against the exact ISI distribution.",
       "<= 3", "standard errors")
def renewal_rate_claim(quick):
    from scipy.stats import chisquare
    from neuromod.backends.network import simulate
    from neuromod.neurons.nsnn import noisy_lif
    from neuromod.neurons.renewal import isi_pmf, renewal_rate
    par = RENEWAL_PARAMETERS
    n, steps, burn, L = (4000, 250, 50, 50) if quick else (40000, 250, 50, 50)
    want = [renewal_rate(I, **par) for I in RENEWAL_INPUTS]
    pmfs = [isi_pmf(I, **par) for I in RENEWAL_INPUTS]
    model = noisy_lif("gaussian", **par)
    worst, min_p, details = 0.0, 1.0, {"theory": dict(zip(map(str, RENEWAL_INPUTS), want))}
    for b_index, backend in enumerate(("torch", "brian2")):
        r = simulate(model, len(RENEWAL_INPUTS) * n, steps * 1e-3, dt=1e-3, backend=backend,
                     inputs={"x": np.repeat(RENEWAL_INPUTS, n)}, seed=2023 + b_index)
        st = r.spikes["neurons"]
        idx = np.rint(np.asarray(st.times) / 1e-3).astype(np.int64)   # step k <-> index k - 1
        ids = np.asarray(st.ids, dtype=np.int64)
        late = idx >= burn
        counts = np.bincount(ids[late], minlength=len(RENEWAL_INPUTS) * n)
        counts = counts.reshape(len(RENEWAL_INPUTS), n) / (steps - burn)
        out = {"rate": {}, "se": {}, "deviation_se": {}, "spikes": {}, "chi2_p": {},
               "chi2_dof": {}, "isis": {}}
        for g, I in enumerate(RENEWAL_INPUTS):
            key = str(I)
            rate, se = float(counts[g].mean()), float(counts[g].std(ddof=1) / math.sqrt(n))
            dev = abs(rate - want[g]) / se
            worst = max(worst, dev)
            mine = (ids >= g * n) & (ids < (g + 1) * n)
            hist = _isi_counts(ids[mine] - g * n, idx[mine], n, steps, L)
            p = pmfs[g]
            prob = np.r_[p[:L], max(0.0, 1.0 - float(p[:L].sum()))]
            obs, exp = _pool(hist.astype(float), hist.sum() * prob)
            chi = chisquare(obs, exp)
            min_p = min(min_p, float(chi.pvalue))
            out["rate"][key], out["se"][key], out["deviation_se"][key] = rate, se, dev
            out["spikes"][key] = int(late[mine].sum())
            out["chi2_p"][key], out["chi2_dof"][key] = float(chi.pvalue), len(obs) - 1
            out["isis"][key] = int(hist.sum())
        details[backend] = out
    details.update({"neurons_per_input": n, "steps": steps, "burn_in": burn,
                    "min_chi2_p": min_p})
    return {"measured": worst, "passed": bool(worst <= 3.0 and min_p > 0.01),
            "details": details}


def _digits_runs(seeds):
    """Test accuracy of the NSNN and the LIF network of the digit recipe per seed."""
    from neuromod.datasets import load_dataset
    from neuromod.neurons.nsnn import RECIPE, train
    from neuromod.training import TrainOptions
    data = load_dataset("digits")
    runs = {"nsnn": [], "lif": []}
    for seed in seeds:
        for neuron in runs:
            _, report = train(data, neuron, TrainOptions(**RECIPE, seed=seed))
            runs[neuron].append({"seed": seed, "test_accuracy": report["test_accuracy"],
                                 "val_accuracy": report["val_accuracy"],
                                 "best_epoch": report["best_epoch"],
                                 "train_seconds": report["train_seconds"]})
    return runs


@claim("nsnn-digits",
       "A 64-128-10 NSNN (Gaussian noise sigma = 0.3, beta = 0.5, theta = 1, T = 4 steps, a "
       "linear read-out of the hidden spikes, trained by noise-driven learning with the recipe "
       "of neuromod train) classifies held-out 8 x 8 digits with accuracy >= 0.95, within 0.02 "
       "of the same network of deterministic LIF neurons trained the same way through a "
       "surrogate gradient "
       "(mean of 3 seeds; 1 at quick size)",
       ">= 0.95", "held-out accuracy")
def digits(quick):
    seeds = [0] if quick else [0, 1, 2]
    runs = _digits_runs(seeds)
    acc = {k: np.array([r["test_accuracy"] for r in v]) for k, v in runs.items()}
    nsnn, lif = float(acc["nsnn"].mean()), float(acc["lif"].mean())
    gap = nsnn - lif
    return {"measured": nsnn, "passed": bool(nsnn >= 0.95 and abs(gap) <= 0.02),
            "details": {"lif_accuracy": lif, "nsnn_minus_lif": gap,
                        "nsnn_spread": float(acc["nsnn"].max() - acc["nsnn"].min()),
                        "lif_spread": float(acc["lif"].max() - acc["lif"].min()),
                        "seeds": seeds, "runs": runs,
                        "recipe": "neuromod train nsnn|lif --data digits (defaults)"}}


@claim("nsnn-robustness",
       "An NSNN is more accurate than the same network of deterministic LIF "
       "neurons trained the same way (64-128-10 on 8 x 8 digits, the recipe of neuromod "
       "train) under additive, multiplicative and salt-and-pepper input noise, spike "
       "deletion and insertion, membrane noise, an L2-sphere attack and FGSM (gradients "
       "averaged over 8 noise samples), each condition scored on 8 averaged passes: the "
       "mean over conditions of the held-out accuracy difference NSNN - LIF is positive "
       "(3 seeds; 1 at quick size; the unperturbed difference is reported beside it)",
       "> 0", "accuracy difference")
def robustness(quick):
    from neuromod.neurons.nsnn.robustness import REPORTED_ONLY, SUITE, compare
    seeds = [0] if quick else [0, 1, 2]
    res = compare("digits", seeds=seeds)
    details = {"seeds": seeds, "table": res["table"], "clean": res["clean"],
               "spread": res["mean_difference_spread"], "ensemble": res["ensemble"],
               "clean_difference": res["clean_difference"],
               "loss_difference": res["mean_difference"] - res["clean_difference"],
               "samples": res["samples"], "suite": {k: list(v) for k, v in SUITE.items()},
               "reported_only": list(REPORTED_ONLY),
               "test_accuracy": {k: [r["test_accuracy"] for r in v]
                                 for k, v in res["runs"].items()},
               "per_kind": _per_kind(res["table"])}
    return {"measured": res["mean_difference"], "passed": bool(res["mean_difference"] > 0),
            "details": details}


def _per_kind(table):
    """Mean NSNN - LIF difference per perturbation kind."""
    kinds = {}
    for row in table:
        kinds.setdefault(row["kind"], []).append(row["difference"])
    return {k: float(np.mean(v)) for k, v in kinds.items()}
