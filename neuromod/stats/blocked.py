"""Blocked pairwise spike-train matrices: the ``n x n`` matrices of :mod:`neuromod.stats`
computed block by block, in-process or on Dask workers, in memory or into a ``.npy`` file.

For a Neuropixels-sized recording (1,000 units, 500,000 pairs) the whole matrix of a
pairwise measure is split into square blocks of ``block`` trains; each block pair
``(I, J)`` with ``I <= J`` is one task that returns the ``|I| x |J|`` sub-matrix, and
the lower blocks are the transposes of the upper ones. Every entry is **bit for bit**
the entry of the unblocked function of :mod:`neuromod.stats`:

=====================  ==========================================================
measure                unblocked function (its parameters and defaults)
=====================  ==========================================================
``van_rossum``         :func:`neuromod.stats.distances.van_rossum_distance` (``tau``)
``victor_purpura``     :func:`neuromod.stats.distances.victor_purpura_distance` (``q``)
``isi_distance``       :func:`neuromod.stats.synchrony.isi_distance`
                       (``t_start``, ``t_stop``, ``mrts``)
``spike_distance``     :func:`neuromod.stats.synchrony.spike_distance`
                       (``t_start``, ``t_stop``, ``mrts``, ``rate_independent``)
``spike_sync``         :func:`neuromod.stats.synchrony.spike_sync`
                       (``t_start``, ``t_stop``, ``max_tau``, ``mrts``)
``sttc``               :func:`neuromod.stats.correlation.sttc_matrix` (``dt``)
=====================  ==========================================================

How each measure stays exact
----------------------------
Everything that depends on the population as a whole is computed once, on the whole
recording, before any block is cut:

* ISI-distance, SPIKE-distance, SPIKE-synchronization: the window of the whole
  recording (``t_start``/``t_stop``), the conversion of the times to window units,
  the removal of repeated spike times and the auxiliary spikes ``[t_start, t_stop]``
  of empty trains are those of the unblocked functions (their own helpers, run once);
  a block task then calls the same compiled per-pair kernel of
  :mod:`neuromod.stats._kernels` on exactly the rows and columns of its block, with
  the lower-index train first as the matrix kernels do.
* Victor–Purpura: the same per-pair kernel, with the population's "all trains
  sorted" flag.
* van Rossum: the unblocked sums come from one sweep over *all* spikes of the
  population in time order, and the rounding of every running sum depends on every
  spike time of the recording (its decays are applied at each spike of any train).
  A block task therefore repeats that sweep over all spikes of the recording, but
  carries and accumulates only the trains of ``I`` and ``J``: each carried sum sees
  the same sequence of floating-point operations as in the unblocked sweep. The cost
  is a sweep over all ``S`` spikes per block pair, ``S x (|I| + |J|)`` steps, about
  ``n_blocks`` times the unblocked ``S x n`` in all: use large blocks for it.
* STTC: the "spike within dt" counts of a pair are exact integers that depend on
  that pair only, so a block task runs the existing sorted sweep of
  :func:`~neuromod.stats.correlation.sttc_matrix` (no binning) on the spikes of
  the trains of ``I`` and ``J``; the tiling fractions are computed once for all
  trains, on the recording's window.

For the four per-pair measures, restricting the kernels to the block's rows and
columns (rather than running the unblocked function on the sub-population ``I + J``)
computes each pair once instead of the ``(|I| + |J|)^2 / 2`` pairs of the
sub-population; for van Rossum it is the only exact way (above).

Memory
------
The caller holds the result (``n^2 x 8`` bytes, in memory or, with ``out``, on disk)
plus the blocks in flight, at most ``2 x`` the number of worker threads (1 without a
client), each ``block^2 x 8`` bytes. Each worker holds the recording's flat arrays
(about 16 bytes per spike, sent once), and a running task about ``block^2 x 8`` bytes
(``4 block^2 x 8`` for van Rossum and STTC, which work on the ``(|I| + |J|)^2``
square). No step allocates an ``n x n`` array except the result itself. Besides, the
caller prepares the recording's flat arrays once (window units, sorted copies): measured
16 to 25 bytes per spike (``benchmarks/bench_scale.py``), so memory grows with the
spikes and the block size, never with ``n^2``.

Parallelism
-----------
With ``client=None`` the blocks run one after another in the calling process, each
kernel parallel over its block's rows with numba's threads (on one thread below the
work threshold of the stats kernels), as the unblocked functions are. With a
:class:`distributed.Client` each task runs on one worker thread with one numba thread:
a :class:`distributed.LocalCluster` with one process per core and
``threads_per_worker=1`` uses every core of one machine (workers with several threads
need numba's ``tbb`` or ``omp`` threading layer, which may be entered by several
threads at once).

Examples
--------
>>> from neuromod.spikes import SpikeTrains
>>> from neuromod.stats.synchrony import isi_distance
>>> st = SpikeTrains.from_list([[0.1, 0.4], [0.2], [], [0.3, 0.5, 0.9], [0.6]], t_stop=1.0)
>>> m = blocked_matrix(st, "isi_distance", block=2)
>>> m.shape, bool(np.array_equal(m, isi_distance(st)))
((5, 5), True)
>>> sorted(pairwise_matrices(st, ["van_rossum", "sttc"], block=2, tau=0.05))
['sttc', 'van_rossum']
"""
import inspect
import math
import os
import sys
import uuid

import numpy as np

from neuromod.errors import ParameterError
from neuromod.limits import check_allocation, check_int
from neuromod.runtime import ensure_cache_dir
from neuromod.spikes import as_spike_trains
from neuromod.stats import correlation as _correlation
from neuromod.stats import distances as _distances
from neuromod.stats import synchrony as _synchrony
from neuromod.units import to_hertz, to_seconds

ensure_cache_dir(__file__)   # before numba: a cache directory it can write

from numba import njit, prange  # noqa: E402

from neuromod.stats import _kernels  # noqa: E402
from neuromod.stats._kernels import (_all_sorted, isi_pair, spike_pair,  # noqa: E402
                                     sync_pair, vp_pair)

__all__ = ["blocked_matrix", "pairwise_matrices", "MEASURES"]

#: The measures, and the function of :mod:`neuromod.stats` each one equals.
MEASURES = {
    "van_rossum": _distances.van_rossum_distance,
    "victor_purpura": _distances.victor_purpura_distance,
    "isi_distance": _synchrony.isi_distance,
    "spike_distance": _synchrony.spike_distance,
    "spike_sync": _synchrony.spike_sync,
    "sttc": _correlation.sttc_matrix,
}

# Cache only under the package's own module name (a copy imported under another
# name, e.g. by ``python -m doctest``, would poison the cache).
_OPTS = dict(cache=__name__ == "neuromod.stats.blocked", nogil=True, error_model="numpy")


# --------------------------------------------------------------------------- kernels
# Parallel over the block's rows (prange), as the matrix kernels are over their folds:
# the per-pair kernels run markedly faster inside a parfor body (compiled with numba's
# parallel pipeline) than in a serial loop. How many threads: see _threads_for.
@njit(parallel=True, **_OPTS)
def _vp_block(times, offsets, i0, i1, j0, j1, q, windows, out):
    """Victor-Purpura distances of the pairs ``i < j``, ``i in [i0, i1)``, ``j in [j0, j1)``."""
    width = 1
    for j in range(j0, j1):
        width = max(width, offsets[j + 1] - offsets[j] + 1)
    for i in prange(i0, i1):
        row = np.empty(width)
        x = times[offsets[i]:offsets[i + 1]]
        for j in range(max(j0, i + 1), j1):
            out[i - i0, j - j0] = vp_pair(x, times[offsets[j]:offsets[j + 1]], q, row, windows)


@njit(parallel=True, **_OPTS)
def _isi_block(times, offsets, i0, i1, j0, j1, mrts, out):
    """ISI-distances (times in window units) of the pairs ``i < j`` of the block."""
    for i in prange(i0, i1):
        x = times[offsets[i]:offsets[i + 1]]
        for j in range(max(j0, i + 1), j1):
            out[i - i0, j - j0] = isi_pair(x, times[offsets[j]:offsets[j + 1]], 0.0, 1.0, mrts)


@njit(parallel=True, **_OPTS)
def _spike_block(times, offsets, i0, i1, j0, j1, mrts, ri, out):
    """SPIKE-distances (times in window units) of the pairs ``i < j`` of the block."""
    for i in prange(i0, i1):
        x = times[offsets[i]:offsets[i + 1]]
        for j in range(max(j0, i + 1), j1):
            out[i - i0, j - j0] = spike_pair(x, times[offsets[j]:offsets[j + 1]], 0.0, 1.0,
                                             mrts, ri)


@njit(parallel=True, **_OPTS)
def _sync_block(times, offsets, i0, i1, j0, j1, t_start, t_stop, max_tau, mrts, out):
    """SPIKE-synchronization of the pairs ``i < j`` of the block."""
    for i in prange(i0, i1):
        x = times[offsets[i]:offsets[i + 1]]
        for j in range(max(j0, i + 1), j1):
            c, mp = sync_pair(x, times[offsets[j]:offsets[j + 1]], t_start, t_stop,
                              max_tau, mrts)
            out[i - i0, j - j0] = 1.0 if mp == 0.0 else c / mp


# --------------------------------------------------------------------------- one block
def _mirror_diagonal_block(b, diag_value):
    """A diagonal block whose upper triangle is filled: the diagonal and the lower
    triangle (the transpose, as the matrix kernels store ``out[j, i] = out[i, j]``)."""
    low = np.tril_indices(b.shape[0], -1)
    b[low] = b.T[low]
    np.fill_diagonal(b, diag_value)
    return b


def _union(i0, i1, j0, j1):
    """The trains of blocks I and J: I first, then J (J alone when they are the same)."""
    if i0 == j0:
        return np.arange(i0, i1)
    return np.concatenate((np.arange(i0, i1), np.arange(j0, j1)))


def _vr_block(i0, i1, j0, j1, t_sorted, id_sorted, counts):
    n = counts.size
    k = _union(i0, i1, j0, j1)
    local = np.full(n, -1, dtype=np.int64)
    local[k] = np.arange(k.size)
    c = _kernels.call(_kernels.vr_cross_sums_of, t_sorted.size * k.size, t_sorted,
                      id_sorted, local, k.size, blocks=True)
    diag = counts[k] + 2.0 * np.diag(c)
    bi = i1 - i0
    if i0 == j0:
        cij, cji, di, dj = c, c, diag, diag
    else:
        cij, cji, di, dj = c[:bi, bi:], c[bi:, :bi], diag[:bi], diag[bi:]
    d2 = di[:, None] + dj[None, :] - 2.0 * (cij + cji.T)   # as van_rossum_distance
    if i0 == j0:
        np.fill_diagonal(d2, 0.0)
    np.maximum(d2, 0.0, out=d2)
    return np.sqrt(d2)


def _sttc_block(i0, i1, j0, j1, dt, times, offsets, tiling):
    counts = np.diff(offsets)
    k = _union(i0, i1, j0, j1)
    lengths = counts[k]
    starts = offsets[k]
    total = int(lengths.sum())
    pos = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
    t = times[pos]
    ids = np.repeat(np.arange(k.size, dtype=np.int64), lengths)
    order = np.argsort(t, kind="stable")
    near = _correlation._get_near_kernel()(np.ascontiguousarray(t[order]),
                                           np.ascontiguousarray(ids[order]), k.size, dt)
    bi = i1 - i0
    if i0 == j0:
        near[np.diag_indices(bi)] = lengths
        nij = nji = near
    else:
        nij, nji = near[:bi, bi:], near[bi:, :bi]
    ci, cj = counts[i0:i1], counts[j0:j1]
    with np.errstate(invalid="ignore", divide="ignore"):
        pij = nij / ci[:, None]               # as sttc_matrix: P[a, b] = near[a, b] / n_a
        pji = nji / cj[:, None]
    term = _correlation._sttc_term
    m = 0.5 * (term(pji.T, tiling[i0:i1, None]) + term(pij, tiling[None, j0:j1]))
    m[ci == 0, :] = np.nan
    m[:, cj == 0] = np.nan
    return m


def _compute_block(kind, i0, i1, j0, j1, scalars, *arrays):
    """The ``(i1 - i0) x (j1 - j0)`` block of the matrix of a prepared measure (see
    :func:`_prepare`); ``i0 <= j0``, blocks either equal or disjoint. Runs in-process
    or on a Dask worker."""
    if kind == "counts":                       # tau = inf, q = 0: |n_i - n_j|
        c = arrays[0].astype(np.float64)
        return np.abs(c[i0:i1, None] - c[None, j0:j1])
    if kind == "van_rossum":
        return _vr_block(i0, i1, j0, j1, *arrays)
    if kind == "sttc":
        return _sttc_block(i0, i1, j0, j1, *scalars, *arrays)
    out = np.zeros((i1 - i0, j1 - j0))
    times, offsets = arrays
    kernel = _PAIR_KERNELS[kind]
    spikes_i = int(offsets[i1] - offsets[i0])
    spikes_j = int(offsets[j1] - offsets[j0])
    if kind == "victor_purpura":                # O(n_a n_b) per pair
        work = spikes_i * spikes_j
    else:                                       # a merge per pair
        work = (j1 - j0) * spikes_i + (i1 - i0) * spikes_j
    _kernels.call(kernel, work, times, offsets, i0, i1, j0, j1, *scalars, out)
    diag_value = 1.0 if kind == "spike_sync" else 0.0
    if i0 == j0:
        _mirror_diagonal_block(out, diag_value)
    return out


_PAIR_KERNELS = {"victor_purpura": _vp_block, "isi_distance": _isi_block,
                 "spike_distance": _spike_block, "spike_sync": _sync_block}


def _worker_block(*args):
    """:func:`_compute_block` as a Dask task: one numba thread (a task per worker thread
    is Dask's unit of parallelism; numba's count is per calling thread)."""
    from neuromod.runtime import threads
    with threads(numba=1):
        return _compute_block(*args)


# --------------------------------------------------------------------------- preparing
class _Job:
    """One measure prepared for blocks: ``kind`` of :func:`_compute_block`, the scalars
    and the flat arrays every block needs (sent to the workers once)."""

    def __init__(self, measure, n, kind, scalars, arrays):
        self.measure, self.n, self.kind = measure, n, kind
        self.scalars = tuple(scalars)
        self.arrays = tuple(arrays)


def _signature(measure):
    """Parameter name -> default of the measure's :mod:`neuromod.stats` function."""
    params = list(inspect.signature(MEASURES[measure]).parameters.values())[1:]
    return {p.name: p.default for p in params}


def _check_measure(measure):
    if not isinstance(measure, str) or measure not in MEASURES:
        raise ParameterError(f"unknown measure {measure!r}; known measures: "
                             f"{', '.join(MEASURES)}")
    return measure


def _resolve(measure, params):
    """The measure's parameters: the given ones over the stats function's defaults."""
    sig = _signature(measure)
    unknown = sorted(set(params) - set(sig))
    if unknown:
        raise ParameterError(f"{measure} takes no parameter {unknown[0]!r}; it takes "
                             f"{', '.join(sig) or 'none'}")
    return {**sig, **params}


def _prepare(measure, spiketrains, p):
    """Validate as the unblocked function does and compute, once for the whole
    recording, everything its kernels take from the population."""
    if measure == "van_rossum":
        tau = to_seconds(p["tau"], "tau")
        if not tau > 0:
            raise ParameterError(f"tau must be > 0 s, got {tau}")
        st = as_spike_trains(spiketrains)
        if math.isinf(tau):
            return _Job(measure, st.n_trains, "counts", (), (st.counts,))
        order = np.argsort(st.times, kind="stable")
        u = np.ascontiguousarray(st.times[order] / tau)      # as van_rossum_distance
        ids = np.ascontiguousarray(st.ids[order], dtype=np.int64)
        return _Job(measure, st.n_trains, measure, (), (u, ids, st.counts))
    if measure == "victor_purpura":
        q = to_hertz(p["q"], "q")
        if not q >= 0:
            raise ParameterError(f"q must be >= 0 1/s, got {q}")
        st = as_spike_trains(spiketrains)
        if q == 0:
            return _Job(measure, st.n_trains, "counts", (), (st.counts,))
        times, offsets = _distances._csr(st)
        return _Job(measure, st.n_trains, measure, (float(q), bool(_all_sorted(times, offsets))),
                    (times, offsets))
    if measure == "sttc":
        st = as_spike_trains(spiketrains)
        dt = _correlation._positive_dt(p["dt"])
        tiling = _correlation.tiling_fraction(st, dt)
        return _Job(measure, st.n_trains, measure, (dt,),
                    (np.ascontiguousarray(st.times, dtype=np.float64),
                     np.ascontiguousarray(st.offsets, dtype=np.int64), tiling))
    st = as_spike_trains(spiketrains, p["t_start"], p["t_stop"])
    mrts = _synchrony._mrts(p["mrts"])
    if measure == "spike_sync":
        max_tau = 0.0 if p["max_tau"] is None else to_seconds(p["max_tau"], "max_tau")
        if not (max_tau >= 0 and math.isfinite(max_tau)):
            raise ParameterError(f"max_tau must be a finite time >= 0 s, got {max_tau}")
        times, offsets = _synchrony._prepared(st, fill_empty=False)
        return _Job(measure, st.n_trains, measure,
                    (st.t_start, st.t_stop, float(max_tau), mrts), (times, offsets))
    times, offsets, mrts = _synchrony._in_window_units(st, True, mrts)
    scalars = (mrts,) if measure == "isi_distance" else (mrts, bool(p["rate_independent"]))
    return _Job(measure, st.n_trains, measure, scalars, (times, offsets))


def _blocks(n, block):
    """The block pairs ``(i0, i1, j0, j1)`` with ``I <= J``, row by row."""
    edges = [(s, min(s + block, n)) for s in range(0, n, block)]
    return [(a[0], a[1], b[0], b[1]) for k, a in enumerate(edges) for b in edges[k:]]


# --------------------------------------------------------------------------- running
def _store(result, blk, i0, i1, j0, j1):
    result[i0:i1, j0:j1] = blk
    if i0 != j0:
        result[j0:j1, i0:i1] = blk.T


def _check_client(client):
    if client is None:
        return None
    import distributed
    if not isinstance(client, distributed.Client):
        raise ParameterError(f"client must be a distributed.Client or None, got "
                             f"{type(client).__name__}")
    return client


def _run(jobs, results, block, client, progress):
    """Fill ``results[k]`` (n x n, writable) with the blocks of ``jobs[k]``."""
    tasks = [(k, *b) for k, job in enumerate(jobs) for b in _blocks(job.n, block)]
    from tqdm import tqdm
    with tqdm(total=len(tasks), desc="pairwise blocks", unit="block", file=sys.stderr,
              disable=not progress) as bar:
        if client is None:
            for k, i0, i1, j0, j1 in tasks:
                job = jobs[k]
                blk = _compute_block(job.kind, i0, i1, j0, j1, job.scalars, *job.arrays)
                _store(results[k], blk, i0, i1, j0, j1)
                bar.update(1)
        else:
            _run_distributed(jobs, results, tasks, client, bar)


def _run_distributed(jobs, results, tasks, client, bar):
    """Tasks on the client's workers: each job's arrays broadcast once (when its first
    block is submitted, released after its last), at most ``2 x`` the workers' threads
    tasks submitted and not yet collected; every block written as it arrives."""
    from distributed import as_completed
    width = max(2, 2 * sum(client.nthreads().values()))
    left = [0] * len(jobs)
    for t in tasks:
        left[t[0]] += 1
    data = {}                 # job -> its scattered arrays (futures)
    meta = {}                 # key -> (future, task)
    todo = iter(tasks)
    done = as_completed(loop=client.loop)
    token = uuid.uuid4().hex[:8]

    def submit_next():
        t = next(todo, None)
        if t is None:
            return
        k, i0, i1, j0, j1 = t
        job = jobs[k]
        if k not in data:
            data[k] = client.scatter(list(job.arrays), broadcast=True, hash=False)
        fut = client.submit(_worker_block, job.kind, i0, i1, j0, j1, job.scalars, *data[k],
                            key=f"pairwise-{job.measure}-{i0}-{j0}-{token}")
        meta[fut.key] = (fut, t)
        done.add(fut)

    try:
        for _ in range(width):
            submit_next()
        for fut in done:
            _, (k, i0, i1, j0, j1) = meta.pop(fut.key)
            blk = fut.result()        # raises the task's exception
            del fut
            _store(results[k], blk, i0, i1, j0, j1)
            del blk
            bar.update(1)
            left[k] -= 1
            if left[k] == 0:
                client.cancel(data.pop(k))
            submit_next()
    finally:
        pending = [f for f, _ in meta.values()]
        if pending:
            client.cancel(pending)
        for futs in data.values():
            client.cancel(futs)


# --------------------------------------------------------------------------- files
def _open_npy(tmp, n, holder):
    """The ``Outputs`` writer of one result: a float64 ``(n, n)`` ``.npy`` memmap at
    ``tmp`` whose disk space is reserved now (a full disk fails here, with a message
    naming the target, not as a bus error while blocks are written)."""
    from numpy.lib.format import open_memmap
    mm = open_memmap(tmp, mode="w+", dtype=np.float64, shape=(n, n))
    if hasattr(os, "posix_fallocate"):
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
        except OSError as exc:
            import errno
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
        finally:
            os.close(fd)
    holder.append(mm)


def _compute(spiketrains, measures, block, client, paths, progress, params):
    """Shared body of :func:`blocked_matrix` and :func:`pairwise_matrices`."""
    block = check_int("block", block, 1)
    if not measures:
        raise ParameterError("measures is empty; give one or more of " + ", ".join(MEASURES))
    for m in measures:
        _check_measure(m)
    if len(set(measures)) != len(measures):
        raise ParameterError(f"measures lists a measure twice: {', '.join(measures)}")
    if len(measures) == 1:
        resolved = {measures[0]: _resolve(measures[0], params)}
    else:
        unused = sorted(set(params) - {k for m in measures for k in _signature(m)})
        if unused:
            raise ParameterError(f"no measure of {', '.join(measures)} takes parameter "
                                 f"{unused[0]!r}")
        resolved = {m: _resolve(m, {k: v for k, v in params.items() if k in _signature(m)})
                    for m in measures}
    client = _check_client(client)
    jobs = [_prepare(m, spiketrains, resolved[m]) for m in measures]
    if paths is None:
        n = jobs[0].n
        check_allocation(len(jobs) * n * n * 8,
                         f"pairwise matrices of {n} trains ({len(jobs)} x {n} x {n} float64)")
        results = [np.zeros((job.n, job.n)) for job in jobs]
        _run(jobs, results, block, client, progress)
        return dict(zip(measures, results))
    from neuromod.outputs import Outputs
    with Outputs() as outs:
        targets = [outs.add(p, "out", extensions=(".npy",)) for p in paths]
        results = []
        for job, target in zip(jobs, targets):
            outs.write(target, lambda tmp, n=job.n: _open_npy(tmp, n, results))
        _run(jobs, results, block, client, progress)
        kept = {}
        for m, target, mm in zip(measures, targets, results):
            mm.flush()
            if target.kind != "file":          # a device: the bytes are copied at commit
                kept[m] = np.array(mm)
        results.clear()                        # close the maps of the temporary files
    # committed: every file renamed onto its target
    return {m: kept[m] if m in kept else np.load(t.real, mmap_mode="r+", allow_pickle=False)
            for m, t in zip(measures, targets)}


# --------------------------------------------------------------------------- public
def blocked_matrix(spiketrains, measure, block=256, client=None, out=None, progress=False,
                   **params):
    """The ``n x n`` matrix of a pairwise measure, computed block by block.

    Bit for bit the matrix of the measure's :mod:`neuromod.stats` function (see the
    module notes for how), with memory bounded by the block size.

    Parameters
    ----------
    spiketrains : SpikeTrains or anything :func:`neuromod.spikes.as_spike_trains` accepts
        ``n`` spike trains (seconds); their window ``[t_start, t_stop]`` is the
        recording's.
    measure : str
        One of ``"van_rossum"``, ``"victor_purpura"``, ``"isi_distance"``,
        ``"spike_distance"``, ``"spike_sync"``, ``"sttc"``.
    block : int
        Trains per block, ``>= 1``: one task per block pair ``(I, J)``, ``I <= J``,
        ``ceil(n / block) (ceil(n / block) + 1) / 2`` tasks in all.
    client : distributed.Client, optional
        Run the tasks on its workers: the recording's flat arrays are broadcast to
        every worker once (``client.scatter(..., broadcast=True)``), at most twice as
        many tasks as the workers have threads are in flight, and each finished block
        is written into the result as it arrives (``distributed.as_completed``).
        ``None`` (default): the blocks run in-process one after another (Dask is not
        imported).
    out : str or path-like, optional
        A ``.npy`` file to write the result into, block by block, through a
        memory map (:func:`numpy.lib.format.open_memmap`), so the matrix need not fit
        in memory. It is written to a hidden temporary file beside ``out``
        (:mod:`neuromod.outputs`), which is renamed onto ``out`` only when every block
        is written: a failed or interrupted run leaves ``out`` as it was and no
        temporary file. ``None`` (default): an in-memory array.
    progress : bool
        One tqdm bar on stderr, advanced by each completed block.
    **params
        The parameters of the measure's function, with the same names, units and
        defaults: ``tau`` (s, default 0.01) for van Rossum; ``q`` (1/s, default 100)
        for Victor-Purpura; ``t_start``, ``t_stop`` (s, default the trains' window)
        and ``mrts`` (s, default 0) for the three synchrony measures, plus
        ``rate_independent`` (default False) for ``spike_distance`` and ``max_tau``
        (s, default None: unbounded) for ``spike_sync``; ``dt`` (s, default 0.005)
        for STTC.

    Returns
    -------
    numpy.ndarray or numpy.memmap, shape (n, n), float64
        The matrix; with ``out``, a read-write memory map of the written file.

    Raises
    ------
    ParameterError
        An unknown measure (the message lists the known ones), ``block < 1``, a
        parameter the measure does not take, a parameter outside its domain (as the
        stats function), a ``client`` that is not a ``distributed.Client``.
    OutputError
        ``out`` does not end in ``.npy`` or cannot be written (checked before any
        computation).
    ResourceLimitError
        Without ``out``, when the ``n x n`` result exceeds ``NEUROMOD_MEMORY_LIMIT``.

    Notes
    -----
    Memory: the result (``n^2 x 8`` bytes, on disk with ``out``) plus at most
    ``2 x (worker threads)`` blocks in flight of ``block^2 x 8`` bytes each (one
    without a client); a running task needs about ``block^2 x 8`` bytes more
    (``4 block^2 x 8`` for van Rossum and STTC). With ``block = 256`` a block is
    0.5 MiB. van Rossum's blocks each sweep all spikes of the recording (exactness,
    see the module notes), so its total work grows with the number of blocks.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> from neuromod.stats.distances import victor_purpura_distance
    >>> st = SpikeTrains.from_list([[0.1, 0.5], [0.11], [], [0.4, 0.8]], t_stop=1.0)
    >>> d = blocked_matrix(st, "victor_purpura", block=3, q=10.0)
    >>> bool(np.array_equal(d, victor_purpura_distance(st, q=10.0)))
    True
    """
    _check_measure(measure)
    paths = None if out is None else [out]
    return _compute(spiketrains, [measure], block, client, paths, progress, params)[measure]


def pairwise_matrices(spiketrains, measures, block=256, client=None, out_dir=None,
                      progress=False, **params):
    """Several blocked pairwise matrices of one recording (:func:`blocked_matrix` each).

    Parameters
    ----------
    spiketrains : SpikeTrains or anything :func:`neuromod.spikes.as_spike_trains` accepts
        ``n`` spike trains (seconds).
    measures : str or sequence of str
        Measures of :func:`blocked_matrix`, each at most once.
    block, client, progress
        As :func:`blocked_matrix`; all measures' blocks share the workers, and one
        progress bar counts the blocks of all of them.
    out_dir : str or path-like, optional
        An existing directory: each matrix is written to ``<out_dir>/<measure>.npy``,
        as ``out`` of :func:`blocked_matrix`. The files are committed together:
        all are renamed onto their names only when every measure has finished, and
        a failure leaves none of them (and no temporary file).
    **params
        Parameters of the measures (:func:`blocked_matrix`); each measure takes
        those of its stats function and ignores the others (``t_start``/``t_stop``
        apply only to the synchrony measures, as in :mod:`neuromod.stats`: pass
        ``spiketrains.time_slice(t0, t1)`` to restrict every measure). A parameter
        that no listed measure takes is an error.

    Returns
    -------
    dict of str to numpy.ndarray or numpy.memmap
        Measure -> ``(n, n)`` float64 matrix (memory maps of the files with ``out_dir``).

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.1, 0.5], [0.12, 0.52], [0.9]], t_stop=1.0)
    >>> m = pairwise_matrices(st, ["spike_sync", "sttc"], block=2, dt=0.05)
    >>> float(m["spike_sync"][0, 1]), float(m["sttc"][0, 0])
    (1.0, 1.0)
    """
    if isinstance(measures, str):
        measures = [measures]
    try:
        measures = list(measures)
    except TypeError:
        raise ParameterError(f"measures must be a measure name or a list of them, got "
                             f"{measures!r}") from None
    for m in measures:
        _check_measure(m)
    paths = None
    if out_dir is not None:
        from neuromod.errors import OutputError
        d = os.fspath(out_dir)
        if not os.path.isdir(d):
            raise OutputError(f"out_dir {d}: is not a directory")
        paths = [os.path.join(d, f"{m}.npy") for m in measures]
    return _compute(spiketrains, measures, block, client, paths, progress, params)
