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
