"""Tempotron claims (Gütig & Sompolinsky 2006; MODELS.md, section Tempotron), on the
event-driven neuron of :mod:`neuromod.neurons.tempotron`. Patterns, labels, initial
weights and the order of the patterns in each epoch are seeded."""
import numpy as np

from neuromod.validation.registry import claim

#: Loads p/N with their epoch limits and the accuracy to reach.
CAPACITY = ((1, 100, 1.0), (2, 1500, 0.97))


@claim("tempotron-capacity",
       "A binary tempotron (N = 100 afferents, T = 500 ms, one spike per afferent at a "
       "latency U(0, T), random labels; online updates in a seeded random order, lr 1e-3, "
       "momentum 0.99, initial w ~ N(0, 1e-3^2)) learns load p/N = 1 (every pattern "
       "right) within 100 epochs, and p/N = 2 to >= 0.97 within 1,500 epochs (full size). "
       "Measured: the most epochs to criterion at p/N = 1 over the seeds.",
       "<= 100", "epochs")
def capacity(quick):
    from neuromod.neurons.tempotron.learning import (classify_binary, latency_patterns,
                                                     train_binary)
    seeds = (0,) if quick else (0, 1, 2)
    loads = CAPACITY[:1] if quick else CAPACITY
    N = 100
    details, ok, worst = {}, True, 0
    for load, limit, target in loads:
        rows = []
        for seed in seeds:
            P, y = latency_patterns(load * N, N, seed=seed)
            w, hist = train_binary(P, y, epochs=limit, seed=seed)
            acc = float((classify_binary(P, w) == y).mean())
            # epochs to criterion: the first epoch after which the accuracy is reached
            done = hist[-1]["epoch"] if acc >= target else None
            rows.append({"seed": seed, "epochs": done, "accuracy": acc})
            ok &= done is not None
            if load == 1:
                worst = max(worst, done if done is not None else limit + 1)
        details[f"p/N={load}"] = {"limit": limit, "target": target, "runs": rows}
    return {"measured": worst, "passed": bool(ok and worst <= 100), "details": details}


def _gradient_cases(n_cases, seed):
    """Random single-pattern cases: 30 afferents at 5 Hz over 500 ms, weights
    N(0.05, 0.1^2), k in 1..5."""
    from neuromod.neurons.tempotron import Patterns
    rng = np.random.default_rng(seed)
    for _ in range(n_cases):
        P = Patterns.from_lists([[np.sort(rng.uniform(0, 0.5, rng.poisson(2.5)))
                                  for _ in range(30)]], 0.5)
        yield P, rng.normal(0.05, 0.1, 30), int(rng.integers(1, 6))


@claim("tempotron-mst-gradient",
       "The gradient of the multi-spike tempotron's critical threshold theta*_k with respect "
       "to the weights (Gütig 2016's recursion over the output spikes, the tangent point on "
       "the new spike's own local maximum) agrees with central finite differences (step "
       "1e-6, theta* by bisection to 1e-13) on 20 random cases (k = 1..5). Measured: the "
       "largest error relative to the gradient's largest entry.",
       "<= 1e-4", "relative error")
def mst_gradient(quick):
    from neuromod.neurons.tempotron.learning import critical_threshold, theta_gradient
    n_cases = 20
    h = 1e-6
    worst, rows = 0.0, []
    for P, w, k in _gradient_cases(n_cases if not quick else 8, seed=2016):
        t, a, T = P.times, P.afferents, P.duration
        theta, g = theta_gradient(t, a, w, k, T)
        fd = np.empty_like(w)
        for i in range(len(w)):
            wp, wm = w.copy(), w.copy()
            wp[i] += h
            wm[i] -= h
            fd[i] = (critical_threshold(t, a, wp, k, T)[0]
                     - critical_threshold(t, a, wm, k, T)[0]) / (2 * h)
        err = float(np.abs(g - fd).max() / np.abs(fd).max())
        worst = max(worst, err)
        rows.append({"k": k, "theta_star": theta, "relative_error": err})
    return {"measured": worst, "passed": worst <= 1e-4,
            "details": {"cases": rows, "step": h}}


@claim("tempotron-event-vs-clock",
       "The clock-driven tempotron (dt = 0.1 ms, on Torch and Brian2) gives the output "
       "spike count of the exact event-driven one on >= 99 % of random trials (N = 100 "
       "afferents at 5 Hz, 500 ms, about one output spike per trial), with every spike "
       "time within dt on those trials; Brian2 gives Torch's clock-driven spikes. "
       "Measured: the fraction of trials with the same count and every time within dt "
       "(the worse backend).",
       ">= 0.99", "fraction of trials")
def event_vs_clock(quick):
    from neuromod.neurons.tempotron import Patterns, simulate
    n_trials = 150 if quick else 600
    rng = np.random.default_rng(2006)
    P = Patterns.from_lists([[np.sort(rng.uniform(0, 0.5, rng.poisson(2.5)))
                              for _ in range(100)] for _ in range(n_trials)], 0.5)
    w = rng.normal(0.035, 0.07, 100)
    dt = 1e-4
    exact = simulate(P, w)
    details, worst, ok = {"trials": n_trials, "dt": dt,
                          "exact_spikes": int(sum(len(e[0]) for e in exact))}, 1.0, True
    clocks = {}
    for backend in ("torch", "brian2"):
        ck = simulate(P, w, mode="clock", dt=dt, backend=backend)
        clocks[backend] = ck
        same = [len(a[0]) == len(b[0]) for a, b in zip(exact, ck)]
        within = [bool(np.all(np.abs(a[0] - b[0]) <= dt + 1e-12))
                  for a, b, s in zip(exact, ck, same) if s]
        both = float(np.mean(same) * np.mean(within))       # same count and times
        details[backend] = {"same_count": float(np.mean(same)),
                            "times_within_dt": float(np.mean(within)), "both": both}
        worst = min(worst, both)
        ok &= both >= 0.99
    identical = all(len(a[0]) == len(b[0]) and np.allclose(a[0], b[0], atol=1e-12)
                    for a, b in zip(clocks["torch"], clocks["brian2"]))
    details["brian2_equals_torch"] = identical
    return {"measured": worst, "passed": bool(ok and identical), "details": details}
