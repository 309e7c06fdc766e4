"""Fuzzing the statistics of ``neuromod stats`` (Hypothesis, deterministic): any valid
population -- empty trains, repeated spike times, spikes on the window's edges,
tiny, huge and negative windows, repeated trials of odd units -- gives the report
or one NeuromodError, never another exception; the per-train and per-unit values
write as JSON, and every pairwise matrix is finite."""
import json
import math
import warnings

import numpy as np
from hypothesis import given, settings, strategies as st

from neuromod.errors import NeuromodError
from neuromod.spikes import SpikeTrains
from neuromod.stats import summary

SCALES = [1e-300, 1e-9, 1e-3, 1.0, 1e3, 1e9, 1e300]


@st.composite
def populations(draw):
    scale = draw(st.sampled_from(SCALES))
    offset = draw(st.sampled_from([0.0, -1.0, 5.0])) * scale
    n = draw(st.integers(0, 6))
    grid = draw(st.sampled_from([None, 4, 1]))      # snapped times: repeats and edge spikes
    trains = []
    for _ in range(n):
        k = draw(st.integers(0, 6))
        u = np.array(draw(st.lists(st.floats(0, 1), min_size=k, max_size=k)))
        if grid:
            u = np.round(u * grid) / grid
        trains.append(np.sort(offset + u * scale))
    t_stop = offset + scale * draw(st.sampled_from([1.0, 1.5]))
    units = draw(st.sampled_from(["same", "pairs", "float", "str", "none"]))
    ann = {}
    if units == "same":
        ann = {"unit": [0] * n, "trial": list(range(n))}
    elif units == "pairs":
        ann = {"unit": [i // 2 for i in range(n)]}
    elif units == "float":
        ann = {"unit": [float("nan") if i % 3 == 0 else 0.5 for i in range(n)]}
    elif units == "str":
        ann = {"unit": ["a" if i % 2 else "b" for i in range(n)]}
    trains = SpikeTrains.from_list(trains, t_start=offset, t_stop=t_stop, annotations=ann)
    # bins and time constants relative to the window (at most ~100 bins, so that the
    # noise ceiling's 100 splits stay cheap), or absolute (often refused: too many bins)
    rel = draw(st.booleans())
    bin_size = draw(st.sampled_from([0.01, 0.1, 1.0, 1e6] if rel else [1e-12, 1.0]))
    tau = draw(st.sampled_from([1e-3, 0.01, 1e6]))
    return trains, bin_size * (scale if rel else 1.0), tau * scale


@settings(max_examples=300)
@given(case=populations(), q=st.sampled_from([0.0, 100.0, 1e9]))
def test_summary_gives_the_report_or_one_error(case, q):
    st_, bin_size, tau = case
    try:
        with warnings.catch_warnings():      # numpy's overflow/invalid warnings are failures
            warnings.simplefilter("error", RuntimeWarning)
            report = summary.summarize(st_, summary.MEASURES, tau=tau, q=q, bin_size=bin_size,
                                       progress=False)
    except NeuromodError as exc:
        assert "\n" not in str(exc)
        return
    json.dumps({k: report[k] for k in ("per_train", "population", "units")})
    for row in report["per_train"]:
        assert math.isfinite(row["rate_hz"]) and row["rate_hz"] >= 0
    for name, m in report["pairwise"].items():     # defined for every pair of trains
        assert m.shape == (st_.n_trains, st_.n_trains), name
        assert np.all(np.isfinite(m)), (name, st_.t_start, st_.t_stop, st_.to_list())
