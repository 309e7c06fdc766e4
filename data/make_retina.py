"""Make data/retina/retina.npz: the embedded recording of ``neuromod.retina``
(:func:`neuromod.retina.recording.embedded`, ``neuromod fit`` without DATA).

SIMULATED data, not a recording of a real retina:
:func:`neuromod.retina.synthetic.simulated_retina` with seed 7 -- 8 ganglion
cells (4 ON, 4 OFF) with difference-of-Gaussians receptive fields and biphasic
temporal filters, divisive contrast gain control (150 ms), rectification and a
refractory, bursting spike generator at 1 ms, watching a naturalistic movie (1/f
scenes, fixational drift and saccades) of 8 x 8 pixels at 10 ms frames: 300 s of
training movie and a 10 s clip repeated 20 times (the repeats differ by the spike
generator's noise alone). That retina is none of the models neuromod fits.

The movie is stored as 8-bit frames (``uint8``, contrast ``(v - 128) / 128``:
``stimulus_offset`` 128, ``stimulus_scale`` 1/128), which is exactly what drove the
simulated cells. Seeded; re-running gives the same file (``tests/retina`` checks
that the generator reproduces its first 20 s of training spikes and its first 3
repeats exactly). Prints the statistics quoted in ``docs/retina.md``.

Run: .venv/bin/python data/make_retina.py
"""
import time
from pathlib import Path

import numpy as np

SEED = 7
SETTINGS = dict(n_units=8, size=8, frame_dt=0.01, train_seconds=300.0, test_seconds=10.0,
                n_test_trials=20, seed=SEED)
OUT = Path(__file__).resolve().parent / "retina" / "retina.npz"


def statistics(rec):
    """The numbers quoted in the docs: per-unit rates, split-half noise ceiling of the
    test PSTH (20 ms bins, 100 splits), share of ISIs < 3 ms and < 8 ms (training and
    test), Fano factor in 50 ms windows across the test repeats, and the same for a
    Poisson process with the same PSTH."""
    from neuromod.stats import isis, split_half_noise_ceiling, windowed_fano_factor
    U = rec.n_units
    units = [rec.test_spikes.select(unit=u) for u in range(U)]
    d = np.concatenate([isis(rec.train_spikes)[0], isis(rec.test_spikes)[0]])
    return {
        "rate_train_hz": rec.mean_rates("train"),
        "rate_test_hz": rec.mean_rates("test"),
        "noise_ceiling": np.array([split_half_noise_ceiling(s, 0.02, seed=u)
                                   for u, s in enumerate(units)]),
        "fano_50ms": np.array([windowed_fano_factor(s, 0.05) for s in units]),
        "isi_below_3ms": float(np.mean(d < 0.003)),
        "isi_below_8ms": float(np.mean(d < 0.008)),
        "n_isi": int(d.size),
        **poisson_comparison(rec),
    }


def poisson_comparison(rec, seed=0):
    """The same two spike statistics for an inhomogeneous Poisson process with the
    data's test PSTH (1 ms bins, as many repeats): what a model without reset gives."""
    from neuromod.retina.base import counts_to_spikes
    from neuromod.stats import isis, windowed_fano_factor
    y = rec.test_counts(0.001)
    c = np.random.default_rng(seed).poisson(np.broadcast_to(y.mean(axis=0), y.shape))
    st = counts_to_spikes(c, 0.001, seed=seed)
    return {"poisson_isi_below_3ms": float(np.mean(isis(st)[0] < 0.003)),
            "poisson_fano_50ms": np.array([windowed_fano_factor(st.select(unit=u), 0.05)
                                           for u in range(rec.n_units)])}


def main():
    from neuromod.retina.recording import save_recording
    from neuromod.retina.synthetic import OFFSET, SCALE, simulated_retina
    t0 = time.perf_counter()
    rec = simulated_retina(**SETTINGS)
    took = time.perf_counter() - t0
    OUT.parent.mkdir(exist_ok=True)
    save_recording(OUT, rec, uint8=(OFFSET, SCALE))
    s = statistics(rec)
    np.set_printoptions(precision=3, suppress=True)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB) in {took:.1f} s: "
          f"{rec.train_spikes.n_spikes} training and {rec.test_spikes.n_spikes} test spikes")
    for key, v in s.items():
        extra = f" (mean {np.mean(v):.3f})" if np.ndim(v) else ""
        print(f"  {key}: {v}{extra}")


if __name__ == "__main__":
    main()
