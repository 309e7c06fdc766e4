"""Parameter sweeps of the input-ramp simulation: one Dask task per grid point x repeat.

Each task runs :func:`neuromod.neurons.ramp.run_ramp` (``neuromod simulate``'s
experiment: ``n`` unconnected neurons, inputs from ``I_min`` to ``I_max``) with the
point's settings and returns one row: the grid values (SI numbers, or the text of a
string option), ``repeat``, ``seed``, the chosen :data:`MEASURES`, ``wall_s`` (the
task's seconds) and ``error`` (empty, or the task's one-line error: a bad combination of
values does not stop the sweep).

``seed`` is :func:`point_seed`: a stable hash of the point, the repeat and the sweep's
seed, so a row is the same whichever worker computes it and whenever (a resumed sweep
recomputes nothing it has).

Rows go to a journal ``RESULTS.partial.jsonl`` beside the target as they arrive (one
JSON line each, flushed; its first line records the sweep's settings); the target
(``.csv``, or ``.parquet`` with pyarrow) is written all-or-nothing at the end, rows in
grid order, and the journal is removed. ``resume=True`` reads the journal, checks that
its settings are this sweep's, and computes only the missing rows: a row is never
duplicated, and a sweep killed at any moment (or whose workers die) loses at most the
rows in flight.

Examples
--------
>>> grid = parse_grid(["tau_m=10*ms,20*ms"])
>>> grid
[('tau_m', ['10*ms', '20*ms'])]
>>> rows = sweep("lif", grid, n=2, duration=0.05, progress=False)
>>> [(r["tau_m"], r["repeat"], r["error"]) for r in rows]
[(0.01, 0, ''), (0.02, 0, '')]
"""
import hashlib
import itertools
import json
import os
import time

__all__ = ["MEASURES", "DEFAULT_MEASURES", "parse_grid", "grid_values", "point_seed",
           "sweep_tasks", "run_point", "sweep", "journal_path", "write_rows"]

#: Statistics a row can carry (of the ``n`` trains of one simulation).
MEASURES = {
    "n_spikes": "spikes of all neurons",
    "n_firing": "neurons that fired at least once",
    "rate_hz": "mean firing rate over the neurons, Hz",
    "cv": "mean ISI coefficient of variation over the neurons where it is defined",
    "cv2": "mean CV2 (Holt et al. 1996) over the neurons where it is defined",
    "lv": "mean local variation (Shinomoto et al. 2003) over the neurons where defined",
    "fano": "Fano factor of the spike counts across the neurons (a trial-to-trial "
            "Fano factor when they share one input: I_min = I_max)",
}
DEFAULT_MEASURES = ("n_spikes", "rate_hz", "cv", "fano")
#: Settings of a sweep recorded in its journal (a resumed sweep must match them).
SETTINGS = ("model", "grid", "repeat", "seed", "n", "duration", "dt", "backend", "target",
            "sets", "measures")


def parse_grid(items):
    """``[(NAME, [VALUE, ...]), ...]`` from ``--grid NAME=V1,V2,...`` words.

    Raises
    ------
    ParameterError
        A word without ``=``, an empty value, or a name given twice.

    Examples
    --------
    >>> parse_grid(["I_max=1*nA,2*nA", "kernel=exp,biexp"])
    [('I_max', ['1*nA', '2*nA']), ('kernel', ['exp', 'biexp'])]
    """
    from neuromod.errors import ParameterError
    out, seen = [], set()
    for item in items:
        name, eq, values = str(item).partition("=")
        name = name.strip()
        shown = item if len(item) <= 40 else item[:37] + "..."
        if not eq or not name.isidentifier():
            raise ParameterError(f"--grid {shown!r}: expected NAME=V1,V2,... (e.g. "
                                 "tau_m=10*ms,20*ms)")
        vals = [v.strip() for v in values.split(",")]
        if not vals or any(not v for v in vals):
            raise ParameterError(f"--grid {shown!r}: an empty value")
        if name in seen:
            raise ParameterError(f"--grid {name}: given twice")
        seen.add(name)
        out.append((name, vals))
    return out


def grid_values(model, grid, sets=()):
    """The value each grid text stands for: ``{name: {text: value}}``, a number in SI
    units for a parameter or ``I_min``/``I_max``, the text for a string option.

    Only the names and the dimensions are checked here (one-line
    :class:`~neuromod.errors.NeuromodError`); whether a value lies in its parameter's
    domain, alone or with the others, is each task's to find out and report in its row.
    """
    from neuromod.errors import NeuromodError
    from neuromod.neurons import MODELS, OPTIONS
    from neuromod.units import as_si
    if model not in MODELS:
        raise NeuromodError(f"unknown model {model!r}; neuromod sweep runs: {', '.join(MODELS)}")
    choices = OPTIONS.get(model, {})
    opts = dict((k, v) for k, v in sets if k in choices)
    opts.update((k, vs[0]) for k, vs in grid if k in choices and vs[0] in choices[k])
    m = MODELS[model](**opts)
    out = {}
    for name, texts in grid:
        out[name] = {}
        for text in texts:
            try:
                if name in choices:
                    if text not in choices[name]:
                        raise NeuromodError(f"must be one of {', '.join(choices[name])}")
                    out[name][text] = text
                elif name in ("I_min", "I_max"):
                    out[name][text] = float(as_si(text, m.dim_of(m.inputs[0]), name))
                elif name in m.parameters:
                    out[name][text] = float(as_si(text, m.parameters[name].dim, name))
                else:
                    raise NeuromodError(
                        f"model {model!r} has no parameter {name!r}; it has "
                        f"{', '.join([*choices, *m.parameters])}, I_min, I_max")
            except NeuromodError as exc:
                shown = text if len(text) <= 40 else text[:37] + "..."
                raise type(exc)(f"--grid {name}={shown}: {exc}") from None
    return out


def point_seed(point, repeat, seed=0):
    """A stable seed in ``[0, 2**31)`` of a grid point (``[(name, text), ...]``), the
    repeat and the sweep's seed (BLAKE2b of their JSON; the same on every machine).

    Examples
    --------
    >>> point_seed([("tau_m", "10*ms")], 0) == point_seed([("tau_m", "10*ms")], 0)
    True
    >>> point_seed([("tau_m", "10*ms")], 0) != point_seed([("tau_m", "10*ms")], 1)
    True
    """
    text = json.dumps([[list(p) for p in point], int(repeat), int(seed or 0)])
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % (2 ** 31)


def _key(point, repeat):
    return json.dumps([[list(p) for p in point], int(repeat)])


def sweep_tasks(model, grid, repeat=1, seed=0, n=100, duration=1.0, dt=1e-4,
                backend="torch", target="numpy", sets=(), measures=DEFAULT_MEASURES):
    """The task of every grid point x repeat, in grid order (the last name varies
    fastest, then the repeat): dicts that :func:`run_point` takes."""
    from neuromod.errors import ParameterError
    from neuromod.limits import check_int
    repeat = check_int("repeat", repeat, 1)
    unknown = [m for m in measures if m not in MEASURES]
    if unknown:
        raise ParameterError(f"--measures: unknown {', '.join(unknown)}; known: "
                             f"{', '.join(MEASURES)}")
    values = grid_values(model, grid, sets)
    names = [name for name, _ in grid]
    base = [(k, v) for k, v in sets if k not in names]
    tasks = []
    for texts in itertools.product(*[vs for _, vs in grid]):
        point = list(zip(names, texts))
        for r in range(repeat):
            tasks.append({
                "key": _key(point, r), "model": model, "sets": base + point,
                "columns": {name: values[name][text] for name, text in point},
                "repeat": r, "seed": point_seed(point, r, seed), "n": int(n),
                "duration": float(duration), "dt": float(dt), "backend": backend,
                "target": target, "measures": list(measures)})
    return tasks


def _measures(st, seconds, measures):
    import numpy as np

    from neuromod.stats import isi, rates
    counts = np.asarray(st.counts)
    out = {}
    every = isi.per_train(st) if {"cv", "cv2", "lv"} & set(measures) else None

    def mean_defined(v):
        v = np.asarray(v, dtype=float)
        v = v[np.isfinite(v)]
        return float(v.mean()) if v.size else float("nan")
    for m in measures:
        if m == "n_spikes":
            out[m] = int(counts.sum())
        elif m == "n_firing":
            out[m] = int(np.count_nonzero(counts))
        elif m == "rate_hz":
            out[m] = float(counts.mean() / seconds) if counts.size else float("nan")
        elif m in ("cv", "cv2", "lv"):
            out[m] = mean_defined(every[m])
        elif m == "fano":
            out[m] = float(rates.fano_factor(st)) if counts.sum() else float("nan")
    return out


def run_point(task):
    """Run one task of :func:`sweep_tasks`: its row (never raises for the task's own
    errors: they go to ``row['error']`` as one line)."""
    from neuromod.neurons.ramp import ramp_setup, run_ramp
    t0 = time.perf_counter()
    row = {**task["columns"], "repeat": task["repeat"], "seed": task["seed"]}
    row.update({m: None for m in task["measures"]})
    error = ""
    try:
        ramp = ramp_setup(task["model"], task["sets"])
        st, res, _ = run_ramp(ramp, task["n"], task["duration"], task["dt"],
                              backend=task["backend"], seed=task["seed"],
                              target=task["target"])
        seconds = len(res.t) * task["dt"] if ramp.model.discrete else task["duration"]
        row.update(_measures(st, seconds, task["measures"]))
    except Exception as exc:                    # noqa: BLE001 - reported in the row
        text = " ".join(str(exc).split()) or type(exc).__name__
        from neuromod.errors import NeuromodError
        error = (text if isinstance(exc, NeuromodError) else
                 f"{type(exc).__name__}: {text}")[:300]
    row["wall_s"] = time.perf_counter() - t0
    row["error"] = error
    return row


def journal_path(out):
    """The journal beside ``out``: ``RESULTS.partial.jsonl`` for ``RESULTS.csv``."""
    root, _ = os.path.splitext(os.fspath(out))
    return root + ".partial.jsonl"


def _read_journal(path, settings):
    """``{key: row}`` of a journal (a last line cut by a kill is ignored); a journal of
    other settings is refused."""
    from neuromod.errors import NeuromodError
    rows = {}
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    try:
        head = json.loads(lines[0])["sweep"]
    except (ValueError, KeyError, TypeError, IndexError):
        raise NeuromodError(f"{path}: not a neuromod sweep journal (its first line must "
                            "hold the sweep's settings)") from None
    for name in SETTINGS:
        if head.get(name) != settings[name]:
            raise NeuromodError(f"{path}: --resume with another sweep ({name} was "
                                f"{json.dumps(head.get(name))[:60]}, now "
                                f"{json.dumps(settings[name])[:60]}); remove the journal "
                                "or rerun with the same settings")
    for i, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            rows.setdefault(entry["key"], entry["row"])
        except (ValueError, KeyError, TypeError):
            if i < len(lines) - 1 and any(s.strip() for s in lines[i:]):
                raise NeuromodError(f"{path}, line {i}: not a JSON row") from None
    return rows


def _jsonable(v):
    if isinstance(v, float) and v != v:
        return None
    return v


def write_rows(path, rows):
    """Write rows (dicts with the same keys) to ``path``: CSV (NaN and None as empty
    fields) or, for ``.parquet``, with pyarrow."""
    if os.fspath(path).endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.Table.from_pylist(rows), path)
        return
    import csv
    cols = list(rows[0]) if rows else []
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r[c] is None or (isinstance(r[c], float) and r[c] != r[c])
                        else r[c] for c in cols])


def check_results_path(out):
    """Refuse an output that is neither ``.csv`` nor ``.parquet``, or ``.parquet``
    without pyarrow (before any work)."""
    import importlib.util

    from neuromod.errors import NeuromodError
    ext = os.path.splitext(os.fspath(out))[1].lower()
    if ext not in (".csv", ".parquet"):
        raise NeuromodError(f"--out {out}: give a .csv or .parquet file")
    if ext == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise NeuromodError(f"--out {out}: writing parquet needs pyarrow (pip install "
                            "'neuromod[scale]'), or give a .csv file")


def sweep(model, grid, repeat=1, seed=0, n=100, duration=1.0, dt=1e-4, backend="torch",
          target="numpy", sets=(), measures=DEFAULT_MEASURES, out=None, client=None,
          resume=False, progress=True):
    """Run a parameter sweep of the input-ramp simulation of ``model``.

    Parameters
    ----------
    model : str
        A key of :data:`neuromod.neurons.MODELS`.
    grid : list of (str, list of str)
        :func:`parse_grid`'s form: each name with its values in ``neuromod simulate
        --set`` syntax (``10*ms`` or SI numbers; string options by name).
    repeat : int
        Runs per grid point, each with its own :func:`point_seed`.
    seed : int
        The sweep's seed.
    n, duration, dt, backend, target, sets
        As ``neuromod simulate`` (neurons; seconds; the backend; Brian2's target; the
        fixed ``(NAME, VALUE)`` settings).
    measures : sequence of str
        Keys of :data:`MEASURES`.
    out : path, optional
        ``.csv`` or ``.parquet``: written at the end (all-or-nothing), with the journal
        beside it while the sweep runs.
    client : distributed.Client, optional
        Run the tasks on its cluster; None: in-process.
    resume : bool
        Continue the journal of an earlier run of the same sweep.
    progress : bool
        A tqdm bar on stderr over the tasks.

    Returns
    -------
    list of dict
        One row per grid point x repeat, in grid order.
    """
    from neuromod.errors import NeuromodError
    from neuromod.outputs import Outputs, pause_point
    from neuromod.scale.cluster import run_tasks
    measures = list(measures)
    tasks = sweep_tasks(model, grid, repeat, seed, n, duration, dt, backend, target, sets,
                        measures)
    settings = {"model": model, "grid": [[k, list(v)] for k, v in grid],
                "repeat": int(repeat), "seed": int(seed or 0), "n": int(n),
                "duration": float(duration), "dt": float(dt), "backend": backend,
                "target": target, "sets": [list(s) for s in sets], "measures": measures}
    done = {}
    journal = None
    with Outputs() as outputs:
        target_out = None
        if out is not None:
            check_results_path(out)
            target_out = outputs.add(out, "--out", (".csv", ".parquet"))
            journal = journal_path(out)
            if os.path.exists(journal):
                if not resume:
                    raise NeuromodError(f"{journal} exists from an earlier run of this "
                                        "sweep: give --resume to continue it, or remove it")
                done = _read_journal(journal, settings)
        todo = [t for t in tasks if t["key"] not in done]
        fh = None
        if journal is not None:
            fresh = not os.path.exists(journal)
            fh = open(journal, "a", encoding="utf-8")
            if fresh:
                fh.write(json.dumps({"sweep": settings}) + "\n")
                fh.flush()
        try:
            for i, row in run_tasks(run_point, todo, client, progress, desc="sweep",
                                    unit="run"):
                key = todo[i]["key"]
                if key in done:
                    continue
                done[key] = row
                if fh is not None:
                    fh.write(json.dumps({"key": key, "row": {k: _jsonable(v) for k, v
                                                             in row.items()}}) + "\n")
                    fh.flush()
                    pause_point("sweep-row")
        finally:
            if fh is not None:
                fh.close()
        rows = [_restore(done[t["key"]], measures) for t in tasks]
        if target_out is not None:
            outputs.write(target_out, lambda tmp: write_rows(tmp, rows))
    if journal is not None:
        os.remove(journal)
    return rows


def _restore(row, measures):
    """A journal row's nulls back to NaN for the float measures."""
    out = dict(row)
    for m in measures:
        if out.get(m) is None and m not in ("n_spikes", "n_firing") and not out["error"]:
            out[m] = float("nan")
    return out
