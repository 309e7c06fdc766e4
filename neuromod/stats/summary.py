"""One call that computes the standard report of a spike-train population.

:func:`summarize` is what ``neuromod stats`` prints; it returns the documented
JSON shape (see ``docs/cli.md``) so that scripts and the command line agree.
"""
import numpy as np

from neuromod.limits import check_allocation
from neuromod.spikes import as_spike_trains
from neuromod.stats._bounds import check_pairwise

__all__ = ["MEASURES", "PER_TRAIN_MEASURES", "PAIRWISE_MEASURES", "DEFAULT_PAIRWISE_LIMIT",
           "parse_measures", "summarize", "repeated_trial_stats"]

#: Per-train measures (``rates`` gives ``rate_hz``).
PER_TRAIN_MEASURES = ("rates", "cv", "cv2", "lv")
#: Population measures (``units``: per-unit statistics across repeated trials).
POPULATION_MEASURES = ("fano", "units")
#: Pairwise matrices (n x n numbers each).
PAIRWISE_MEASURES = ("van_rossum", "victor_purpura", "isi_distance", "spike_distance", "spike_sync")
MEASURES = PER_TRAIN_MEASURES + POPULATION_MEASURES + PAIRWISE_MEASURES
#: Above this many trains the pairwise matrices are computed only when asked for by name.
DEFAULT_PAIRWISE_LIMIT = 500
#: Bytes of one ``per_train`` entry of the report (a dict of six Python numbers).
PER_TRAIN_BYTES = 640


def parse_measures(text, n_trains):
    """The measures to compute from a comma-separated list (``None``: the default set).

    The default is every measure, except that the pairwise matrices are left out
    above :data:`DEFAULT_PAIRWISE_LIMIT` trains.

    Raises
    ------
    ValueError
        For an unknown measure name (the message lists the valid ones).

    Examples
    --------
    >>> parse_measures("cv,van_rossum", 10)
    ('cv', 'van_rossum')
    >>> len(parse_measures(None, 1000)) == len(PER_TRAIN_MEASURES + POPULATION_MEASURES)
    True
    """
    if text is None:
        if n_trains > DEFAULT_PAIRWISE_LIMIT:
            return PER_TRAIN_MEASURES + POPULATION_MEASURES
        return MEASURES
    names = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in names if m not in MEASURES]
    if unknown:
        raise ValueError(f"unknown measure {unknown[0]!r}; choose from {', '.join(MEASURES)}")
    if not names:
        raise ValueError(f"no measure given; choose from {', '.join(MEASURES)}")
    return names


def summarize(spike_trains, measures=None, tau=0.01, q=100.0, bin_size=0.1, progress=None):
    """Per-train, population and pairwise statistics in the ``neuromod stats --json`` shape.

    Parameters
    ----------
    spike_trains : SpikeTrains or list of arrays
        The population (seconds).
    measures : sequence of str, optional
        Subset of :data:`MEASURES`; default as :func:`parse_measures` (``None``).
    tau : float
        van Rossum time constant in seconds (> 0).
    q : float
        Victor–Purpura cost factor in 1/s (>= 0).
    bin_size : float
        Bin width in seconds of the repeated-trial statistics (windowed Fano factor,
        split-half noise ceiling of the PSTH).
    progress : bool or None
        Show a tqdm bar on stderr over the pairwise matrices; ``None`` shows it only
        on a terminal and when there are more than 200 trains.

    Returns
    -------
    dict
        ``t_start``, ``t_stop`` (s), ``n_trains``, ``measures`` (computed),
        ``per_train`` (list of ``{id, n_spikes, rate_hz, cv, cv2, lv}``),
        ``population`` (``{fano_factor, mean_rate_hz}``) and ``pairwise``
        (``{van_rossum, victor_purpura, isi_distance, spike_distance, spike_sync}``,
        each an n x n array), and ``units``: one entry
        ``{unit, n_trials, fano_factor_windowed, noise_ceiling}`` per unit recorded in
        at least 2 trials (the ``unit``/``trial`` annotations), in increasing unit order. A value that was not asked for is ``None``; a value the
        definition leaves undefined (e.g. CV of a train with < 3 spikes) is NaN.

    Examples
    --------
    >>> r = summarize([[0.1, 0.2, 0.4], [0.15, 0.3]], measures=("rates", "cv"), progress=False)
    >>> r["per_train"][0]["rate_hz"], r["pairwise"]["van_rossum"] is None
    (7.5, True)
    """
    from neuromod.stats import isi, rates

    st = as_spike_trains(spike_trains)
    if measures is None:
        measures = parse_measures(None, st.n_trains)
    measures = tuple(measures)
    n = st.n_trains
    check_allocation(n * PER_TRAIN_BYTES, f"summary of {n} trains (per-train entries)")
    todo = [m for m in PAIRWISE_MEASURES if m in measures]
    if todo:
        # the report keeps every matrix; the largest kernel needs ~4 more while it runs
        check_pairwise(n, len(todo) + 4, f"{len(todo)} pairwise measure(s)")
    counts = st.counts
    per = {"rate_hz": None, "cv": None, "cv2": None, "lv": None}
    if "rates" in measures:
        per["rate_hz"] = rates.mean_rates(st)
    if any(name in measures for name in ("cv", "cv2", "lv")):
        every = isi.per_train(st)          # one compiled pass gives all three
        for name in ("cv", "cv2", "lv"):
            if name in measures:
                per[name] = every[name]
    per_train = [
        {"id": i, "n_spikes": int(counts[i]),
         **{k: (None if v is None else float(v[i])) for k, v in per.items()}}
        for i in range(n)]
    population = {"fano_factor": None, "mean_rate_hz": None}
    if "fano" in measures:
        population["fano_factor"] = float(rates.fano_factor(st))
    if "rates" in measures:
        population["mean_rate_hz"] = float(np.mean(per["rate_hz"])) if n else float("nan")

    units = None
    if "units" in measures:
        units = repeated_trial_stats(st, bin_size)

    pairwise = {name: None for name in PAIRWISE_MEASURES}
    if todo:
        from neuromod.stats import distances, synchrony
        funcs = {
            "van_rossum": lambda: distances.van_rossum_distance(st, tau=tau),
            "victor_purpura": lambda: distances.victor_purpura_distance(st, q=q),
            "isi_distance": lambda: synchrony.isi_distance(st),
            "spike_distance": lambda: synchrony.spike_distance(st),
            "spike_sync": lambda: synchrony.spike_sync(st),
        }
        if progress is None:
            import sys
            progress = n > 200 and sys.stderr.isatty()
        it = todo
        if progress:
            from tqdm import tqdm
            it = tqdm(todo, desc="pairwise", unit="matrix", file=None)
        for name in it:
            pairwise[name] = funcs[name]()
    return {
        "t_start": st.t_start, "t_stop": st.t_stop, "n_trains": n,
        "measures": list(measures),
        "per_train": per_train, "population": population, "pairwise": pairwise,
        "units": units,
    }


def repeated_trial_stats(spike_trains, bin_size=0.1, seed=0):
    """Per-unit statistics across repeated trials, for every unit with >= 2 trials.

    For unit ``u`` (trains whose ``unit`` annotation is ``u``, one per trial):
    the windowed Fano factor of counts in bins of ``bin_size`` across trials
    (:func:`neuromod.stats.rates.windowed_fano_factor`) and the split-half noise
    ceiling of its PSTH (:func:`neuromod.stats.evaluation.split_half_noise_ceiling`,
    100 random splits drawn with ``seed``).

    Returns
    -------
    list of dict
        ``{unit, n_trials, fano_factor_windowed, noise_ceiling}`` in increasing unit
        order; empty when no unit was recorded twice.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.05, 0.25]] * 4, t_stop=0.4,
    ...                            annotations={"unit": [0, 0, 0, 0], "trial": [0, 1, 2, 3]})
    >>> repeated_trial_stats(st)[0]["noise_ceiling"]
    1.0
    """
    from neuromod.stats.evaluation import split_half_noise_ceiling
    from neuromod.stats.rates import windowed_fano_factor

    st = as_spike_trains(spike_trains)
    # trains of each unit, grouped by one stable sort (not one scan of all trains per unit)
    unit = st.annotations["unit"]
    order = np.argsort(unit, kind="stable")
    unit_ids, first, n_trials = np.unique(unit[order], return_index=True, return_counts=True)
    out = []
    for u, a, k in zip(unit_ids, first, n_trials):
        if k < 2:
            continue
        trials = st.subset(order[a:a + k])
        out.append({
            "unit": u.item(), "n_trials": int(k),
            "fano_factor_windowed": float(windowed_fano_factor(trials, bin_size=bin_size)),
            "noise_ceiling": float(split_half_noise_ceiling(trials, bin_size, seed=seed)),
        })
    return out
