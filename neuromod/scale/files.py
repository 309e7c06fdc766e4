"""Statistics of many spike files: one task per file, a bad file reported in its entry.

:func:`expand_paths` turns files, directories (their spike files, sorted) and globs into
one list; :func:`stats_files` reads and summarises each file as one task
(:func:`neuromod.io.read`, :func:`neuromod.stats.summary.summarize`) on a Dask client or
in-process, and returns one entry per file in the order given: ``{path, error, stats}``,
``error`` the file's one-line error (then ``stats`` is None) or None. The other files
complete whatever one of them holds. :func:`summary_row` reduces an entry to one flat row
(``neuromod stats --summary``).

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> with open(os.path.join(d, "a.txt"), "w") as f:
...     _ = f.write("0.1 0.2 0.4\\n0.15 0.3\\n")
>>> with open(os.path.join(d, "b.txt"), "w") as f:
...     _ = f.write("0.1 x\\n")
>>> entries = stats_files([d], measures="rates,cv", progress=False)
>>> [(os.path.basename(e["path"]), e["stats"]["n_trains"] if e["stats"] else None)
...  for e in entries]
[('a.txt', 2), ('b.txt', None)]
>>> "b.txt" in entries[1]["error"]
True
"""
import glob
import os

__all__ = ["expand_paths", "is_many", "stats_file", "stats_files", "summary_row",
           "SUMMARY_COLUMNS"]

#: Columns of :func:`summary_row` (pairwise: the mean over pairs i != j).
SUMMARY_COLUMNS = ("path", "error", "n_trains", "t_start", "t_stop", "n_spikes",
                   "mean_rate_hz", "fano_factor", "cv", "cv2", "lv", "van_rossum",
                   "victor_purpura", "isi_distance", "spike_distance", "spike_sync")

_GLOB = set("*?[")


def _extensions():
    from neuromod.io import FORMATS
    return tuple(ext for exts in FORMATS.values() for ext in exts)


def is_many(paths):
    """True when ``paths`` call for the many-file form: several paths, a directory or
    a glob pattern."""
    return len(paths) > 1 or any(os.path.isdir(p) or (_GLOB & set(os.fspath(p)))
                                 for p in paths)


def expand_paths(paths):
    """Files of ``paths``: a directory gives its spike files (known extensions, sorted,
    not recursive), a glob its matches (sorted); a file is kept as given, even if it does
    not exist (its entry then says so). Duplicates are dropped, the first kept.

    Raises
    ------
    NeuromodError
        A directory or glob that matches no spike file (naming it).
    """
    from neuromod.errors import NeuromodError
    exts = _extensions()
    out = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            found = sorted(os.path.join(p, f) for f in os.listdir(p)
                           if f.lower().endswith(exts) and os.path.isfile(os.path.join(p, f)))
            if not found:
                raise NeuromodError(f"{p}: a directory with no spike file "
                                    f"({', '.join(exts)})")
        elif _GLOB & set(p):
            found = sorted(f for f in glob.glob(p) if os.path.isfile(f))
            if not found:
                raise NeuromodError(f"{p}: the pattern matches no file")
        else:
            found = [p]
        out += [f for f in found if f not in out]
    return out


def _one_line(exc):
    from neuromod.errors import NeuromodError
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, (NeuromodError, OSError)):
        text = f"{type(exc).__name__}: {text}"
    return text[:300]


def stats_file(task):
    """One file's entry ``{path, error, stats}`` (never raises for the file's errors).

    ``task``: ``{path, format, sort, t_start, t_stop, measures, tau, q, bin_size}``, as
    :func:`stats_files` builds it."""
    from neuromod import io
    from neuromod.errors import naming
    from neuromod.stats.summary import parse_measures, summarize
    path = task["path"]
    try:
        with naming(path):
            st = io.read(path, format=task["format"], sort=task["sort"],
                         t_start=task["t_start"], t_stop=task["t_stop"])
            try:
                measures = parse_measures(task["measures"], st.n_trains)
            except ValueError as exc:
                from neuromod.errors import ParameterError
                raise ParameterError(f"--measures: {exc}") from None
            stats = summarize(st, measures, tau=task["tau"], q=task["q"],
                              bin_size=task["bin_size"], progress=False)
        return {"path": path, "error": None, "stats": stats}
    except Exception as exc:                     # noqa: BLE001 - reported in the entry
        text = _one_line(exc)
        if path not in text:
            text = f"{path}: {text}"
        return {"path": path, "error": text, "stats": None}


def stats_files(paths, format=None, sort=False, t_start=None, t_stop=None, measures=None,
                tau=0.01, q=100.0, bin_size=0.1, client=None, progress=True):
    """Summarise every spike file of ``paths`` (files, directories, globs).

    Parameters
    ----------
    paths : sequence of path-like
    format, sort, t_start, t_stop
        As :func:`neuromod.io.read` (the window in seconds).
    measures : str, optional
        ``neuromod stats --measures`` text (default: all, pairwise up to 500 trains).
    tau, q, bin_size
        As :func:`~neuromod.stats.summary.summarize` (s, 1/s, s).
    client : distributed.Client, optional
        One task per file on its cluster; None: in-process.
    progress : bool
        A tqdm bar on stderr over the files.

    Returns
    -------
    list of dict
        ``{path, error, stats}`` per file, in the order of ``paths``.
    """
    from neuromod.scale.cluster import run_tasks
    files = expand_paths(paths)
    tasks = [{"path": f, "format": format, "sort": sort, "t_start": t_start,
              "t_stop": t_stop, "measures": measures, "tau": tau, "q": q,
              "bin_size": bin_size} for f in files]
    entries = [None] * len(tasks)
    for i, entry in run_tasks(stats_file, tasks, client, progress, desc="stats", unit="file"):
        entries[i] = entry
    return entries


def summary_row(entry):
    """One flat row of an entry (:data:`SUMMARY_COLUMNS`): per-train measures averaged
    over the trains where defined, pairwise ones over the pairs i != j; NaN where not
    computed."""
    import numpy as np
    nan = float("nan")
    row = dict.fromkeys(SUMMARY_COLUMNS, nan)
    row.update(path=entry["path"], error=entry["error"] or "")
    s = entry["stats"]
    if s is None:
        row.update(n_trains=None, n_spikes=None)
        return row

    def mean(values):
        v = np.array([nan if x is None else x for x in values], dtype=float)
        v = v[np.isfinite(v)]
        return float(v.mean()) if v.size else nan
    per = s["per_train"]
    row.update(n_trains=s["n_trains"], t_start=s["t_start"], t_stop=s["t_stop"],
               n_spikes=int(sum(r["n_spikes"] for r in per)))
    pop = s["population"]
    row["mean_rate_hz"] = nan if pop["mean_rate_hz"] is None else pop["mean_rate_hz"]
    row["fano_factor"] = nan if pop["fano_factor"] is None else pop["fano_factor"]
    for k in ("cv", "cv2", "lv"):
        row[k] = mean(r[k] for r in per)
    for k, m in s["pairwise"].items():
        if m is not None and k in row:
            m = np.asarray(m, dtype=float)
            off = m[~np.eye(m.shape[0], dtype=bool)]
            off = off[np.isfinite(off)]
            row[k] = float(off.mean()) if off.size else nan
    return row
