"""Data-parallel training with ``torch.distributed``, launched by the command itself.

``neuromod train MODEL --nproc N`` starts N copies of the same command (``python -m
neuromod ...``), one per process of a ``torch.distributed`` group (gloo on the CPU, nccl
on CUDA, rendezvous on 127.0.0.1 at a free port), each with ``torch`` threads = cores / N
and, on CUDA, its own device ``cuda:RANK``. :func:`neuromod.training.fit` sees the group
and splits every global batch of ``--batch-size`` across the processes, summing their
gradients, so the run takes the steps one process takes at the same global batch (to
float rounding). Rank 0 prints, shows the progress bar, writes the checkpoint and the
outputs; the others are silent unless they fail. A process that fails stops the others;
the command's exit status is the first failure's.

The environment of a copy: ``NEUROMOD_DDP_RANK``, ``NEUROMOD_DDP_WORLD``,
``MASTER_ADDR``, ``MASTER_PORT`` (read by :func:`child_rank` and
:func:`init_process_group`).

Examples
--------
>>> child_rank({}) is None
True
>>> child_rank({"NEUROMOD_DDP_RANK": "1", "NEUROMOD_DDP_WORLD": "2"})
(1, 2)
"""
import os
import socket
import subprocess
import sys
import time

__all__ = ["child_rank", "init_process_group", "launch", "RANK_ENV", "WORLD_ENV"]

RANK_ENV = "NEUROMOD_DDP_RANK"
WORLD_ENV = "NEUROMOD_DDP_WORLD"
#: Seconds a collective waits for a lost peer before failing.
TIMEOUT_S = 120


def child_rank(environ=None):
    """``(rank, world)`` when this process is a copy started by :func:`launch`, else None."""
    env = os.environ if environ is None else environ
    if RANK_ENV not in env:
        return None
    return int(env[RANK_ENV]), int(env[WORLD_ENV])


def _device_of(device, rank):
    return f"cuda:{rank}" if str(device).startswith("cuda") else device


def init_process_group(device="cpu"):
    """Join the group of :func:`launch` (gloo, or nccl for CUDA); returns ``(rank,
    world, device)``, the device this process trains on."""
    import datetime

    import torch
    rank, world = child_rank()
    cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores // world))
    dev = _device_of(device, rank)
    backend = "nccl" if dev.startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(dev)
    torch.distributed.init_process_group(
        backend, rank=rank, world_size=world,
        init_method=f"tcp://{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}",
        timeout=datetime.timedelta(seconds=TIMEOUT_S))
    return rank, world, dev


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(argv, nproc):
    """Run ``python -m neuromod *argv`` as ``nproc`` processes of one group; returns the
    exit status (0, or the first failing process's).

    Rank 0's stdout and stderr are this process's; the others' stderr is shown only when
    they fail. SIGINT/SIGTERM here stop every copy.
    """
    from neuromod.errors import ParameterError
    if nproc < 1:
        raise ParameterError(f"--nproc {nproc}: must be >= 1")
    port = _free_port()
    procs, errs = [], []
    try:
        for rank in range(nproc):
            env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                       **{RANK_ENV: str(rank), WORLD_ENV: str(nproc)})
            err = None if rank == 0 else open(_errfile(rank), "w+")
            errs.append(err)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "neuromod", *argv], env=env,
                stdout=None if rank == 0 else subprocess.DEVNULL,
                stderr=None if rank == 0 else err))
        status = 0
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.poll() not in (None, 0)]
            if failed:
                status = failed[0].returncode
                try:                        # rank 0 usually fails the same way: let it say so
                    procs[0].wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                break
            time.sleep(0.05)
        else:
            status = next((p.returncode for p in procs if p.returncode), 0)
        if status and procs[0].returncode in (None, 0):    # rank 0 said nothing
            for rank, (p, err) in enumerate(zip(procs, errs)):
                if rank and p.poll() not in (None, 0) and err is not None:
                    err.seek(0)
                    lines = [line for line in err.read().splitlines() if line.strip()]
                    if lines:
                        sys.stderr.write(f"(process {rank}) {lines[-1]}\n")
        return status
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for err in errs:
            if err is not None:
                err.close()
                os.unlink(err.name)


def _errfile(rank):
    import tempfile
    fd, path = tempfile.mkstemp(prefix=f"neuromod-ddp-{rank}-", suffix=".err")
    os.close(fd)
    return path
