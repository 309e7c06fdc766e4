"""Where work runs: one ``--scheduler`` option, a Dask client, tasks with one progress bar.

=====================  =================================================================
``--scheduler``        meaning
=====================  =================================================================
``local``              a ``dask.distributed.LocalCluster`` started (and closed) by the
                       command: one worker process per core, each single-threaded (numba,
                       torch and BLAS threads pinned to 1 by the workers' environment)
``local:N``            the same with ``N`` workers
``tcp://HOST:PORT``    an existing Dask scheduler (``dask scheduler``, dask-jobqueue on
                       an HPC system, ...); the command connects and leaves it running
``none``               in-process, one task after another; dask is not imported
=====================  =================================================================

Traffic between the client and the workers is Dask's own (pickled Python objects): a
cluster is a trusted environment, never expose a scheduler's port to untrusted networks.
Workers import neuromod themselves; compiled kernels are compiled on (or loaded from the
caches of) each worker, never from the client's cache folder.

Examples
--------
>>> parse_scheduler("local:2")
Scheduler(kind='local', workers=2, address=None)
>>> with connect("none") as client:
...     sorted(r for _, r in run_tasks(abs, [-2, 1, -3], client, progress=False))
[1, 2, 3]
"""
import contextlib
import os
import sys
from typing import NamedTuple

__all__ = ["Scheduler", "parse_scheduler", "connect", "run_tasks", "WORKER_ENV"]

#: Environment of the local cluster's worker processes: one thread per worker for the
#: numba, torch (OpenMP) and BLAS thread pools, so N workers use N cores.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1"}

#: Seconds to wait for an existing scheduler to answer before the one-line error.
CONNECT_TIMEOUT = 10.0


class Scheduler(NamedTuple):
    """A parsed ``--scheduler``: ``kind`` in {'none', 'local', 'tcp'}; ``workers`` for
    'local' (None: one per core); ``address`` for 'tcp'."""
    kind: str
    workers: "int | None" = None
    address: "str | None" = None


def parse_scheduler(text):
    """Parse ``none``, ``local``, ``local:N`` or ``tcp://HOST:PORT``.

    Raises
    ------
    ParameterError
        Anything else (the message lists the forms).
    """
    from neuromod.errors import ParameterError
    if isinstance(text, Scheduler):
        return text
    t = str(text).strip()
    forms = "none, local, local:N or tcp://HOST:PORT"
    if t == "none":
        return Scheduler("none")
    if t == "local":
        return Scheduler("local")
    if t.startswith("local:"):
        n = t[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise ParameterError(f"--scheduler {t}: N must be a positive integer ({forms})")
        return Scheduler("local", int(n))
    if t.startswith("tcp://"):
        host, _, port = t[len("tcp://"):].rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ParameterError(f"--scheduler {t}: expected tcp://HOST:PORT")
        return Scheduler("tcp", address=t)
    raise ParameterError(f"--scheduler {t}: expected {forms}")


def _dashboard_wanted():
    import importlib.util
    return importlib.util.find_spec("bokeh") is not None


@contextlib.contextmanager
def connect(scheduler="local", timeout=CONNECT_TIMEOUT, quiet=False):
    """A Dask client for ``scheduler`` (see :func:`parse_scheduler`), or ``None`` for
    ``'none'``; a local cluster is started here and closed on exit.

    Parameters
    ----------
    scheduler : str or Scheduler
    timeout : float
        Seconds to wait for a ``tcp://`` scheduler.
    quiet : bool
        Do not print the local cluster's dashboard address on stderr.

    Raises
    ------
    NeuromodError
        A scheduler that cannot be reached within ``timeout`` (one line naming it).
    """
    from neuromod.errors import NeuromodError
    spec = parse_scheduler(scheduler)
    if spec.kind == "none":
        yield None
        return
    import logging

    from distributed import Client, LocalCluster
    if spec.kind == "tcp":
        try:
            client = Client(spec.address, timeout=f"{timeout}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise NeuromodError(f"--scheduler {spec.address}: cannot reach the Dask "
                                f"scheduler ({reason[:160]})") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = spec.workers or os.cpu_count() or 1
    dashboard = _dashboard_wanted()
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address="127.0.0.1:0" if dashboard else None,
                           silence_logs=logging.CRITICAL, env=dict(WORKER_ENV))
    try:
        client = Client(cluster, set_as_default=False)
        try:
            if dashboard and not quiet:
                print(f"dask dashboard: {client.dashboard_link}", file=sys.stderr)
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def run_tasks(fn, items, client=None, progress=True, desc="tasks", unit="task"):
    """Run ``fn(item)`` for every item; yield ``(index, result)`` as tasks complete.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled to the workers).
    items : sequence
    client : distributed.Client or None
        None: in-process, in order.
    progress : bool
        One tqdm bar on stderr, advanced by each completion.

    Notes
    -----
    A worker that dies takes its running tasks with it; the scheduler runs them again
    on another worker (Dask's ``allowed-failures``, 3 by default), so every index is
    yielded exactly once. ``fn`` should return its errors rather than raise them (a
    raised exception propagates here and stops the iteration).
    """
    from tqdm import tqdm
    items = list(items)
    bar = tqdm(total=len(items), desc=desc, unit=unit, file=sys.stderr, disable=not progress,
               leave=False)
    try:
        if client is None:
            for i, item in enumerate(items):
                out = fn(item)
                bar.update(1)
                yield i, out
            return
        from distributed import as_completed
        futures = client.map(fn, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures, loop=client.loop):
                out = fut.result()
                bar.update(1)
                yield index[fut.key], out
        finally:
            client.cancel([f for f in futures if not f.done()])
    finally:
        bar.close()
