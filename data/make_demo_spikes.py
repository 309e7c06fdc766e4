"""Make data/spikes/demo_trains.txt: the embedded spike data of ``neuromod demo``.

A small synthetic "recording": 6 units x 10 repeated trials of a 2 s stimulus.
Each unit fires as an inhomogeneous gamma process (shape k = 3, so more regular
than Poisson: CV ~ 1/sqrt(3) at constant rate) whose rate follows a
stimulus-locked profile of its own (baseline + a Gaussian bump at a unit-specific
latency), built by time-rescaling a homogeneous gamma renewal process.
Trials differ only by the random draws, so PSTHs, noise ceilings and Fano factors
are meaningful. Seeded; re-running gives the same file.

Run: .venv/bin/python data/make_demo_spikes.py
"""
from pathlib import Path

import numpy as np

from neuromod import io
from neuromod.spikes import SpikeTrains

SEED = 20231
N_UNITS, N_TRIALS, T_STOP, DT = 6, 10, 2.0, 1e-4
SHAPE = 3.0


def rate_profile(unit, t):
    base = 5.0 + 3.0 * unit
    peak = 40.0 + 10.0 * unit
    latency = 0.3 + 0.25 * unit
    return base + peak * np.exp(-0.5 * ((t - latency) / 0.08) ** 2)


def gamma_trial(rng, rate, t):
    """Inhomogeneous gamma process by time rescaling: Lambda(t) = int rate dt."""
    lam = np.concatenate(([0.0], np.cumsum(rate[:-1] * DT)))
    n_max = int(lam[-1] * 2 + 50)
    # unit-mean gamma intervals in rescaled time
    s = np.cumsum(rng.gamma(SHAPE, 1.0 / SHAPE, n_max))
    s = s[s < lam[-1]]
    return np.interp(s, lam, t)


def main():
    rng = np.random.default_rng(SEED)
    t = np.arange(0.0, T_STOP, DT)
    trains, units, trials = [], [], []
    for u in range(N_UNITS):
        r = rate_profile(u, t)
        for k in range(N_TRIALS):
            trains.append(np.round(gamma_trial(rng, r, t), 6))
            units.append(u)
            trials.append(k)
    st = SpikeTrains.from_list(trains, t_start=0.0, t_stop=T_STOP,
                               annotations={"unit": units, "trial": trials})
    out = Path(__file__).resolve().parent / "spikes" / "demo_trains.txt"
    out.parent.mkdir(exist_ok=True)
    io.write(st, out)
    print(f"wrote {out}: {st.n_trains} trains, {st.n_spikes} spikes")


if __name__ == "__main__":
    main()
