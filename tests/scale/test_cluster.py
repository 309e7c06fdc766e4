"""``--scheduler`` parsing, the client context manager and the task runner: in-process,
on a local cluster, on an existing scheduler started by the test, and an unreachable
scheduler address."""
import os
import subprocess
import sys
import time

import pytest

from neuromod.errors import NeuromodError, ParameterError
from neuromod.scale.cluster import Scheduler, connect, parse_scheduler, run_tasks


@pytest.mark.parametrize("text, expected", [
    ("none", Scheduler("none")), ("local", Scheduler("local")),
    ("local:3", Scheduler("local", 3)),
    ("tcp://127.0.0.1:8786", Scheduler("tcp", address="tcp://127.0.0.1:8786")),
    (" tcp://node-1.cluster:9000 ", Scheduler("tcp", address="tcp://node-1.cluster:9000"))])
def test_scheduler_forms(text, expected):
    assert parse_scheduler(text) == expected


@pytest.mark.parametrize("text", ["", "locall", "local:0", "local:x", "tcp://host",
                                  "tcp://:80", "tcp://h:99999", "127.0.0.1:8786"])
def test_bad_scheduler_is_one_line(text):
    with pytest.raises(ParameterError, match="--scheduler") as info:
        parse_scheduler(text)
    assert "\n" not in str(info.value)


def test_none_runs_in_process_in_order_without_dask():
    code = ("import sys\nfrom neuromod.scale.cluster import connect, run_tasks\n"
            "with connect('none') as c:\n"
            "    out = list(run_tasks(abs, [-1, 2, -3], c, progress=False))\n"
            "assert out == [(0, 1), (1, 2), (2, 3)], out\n"
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _pid_and_threads(x):
    import os

    import torch
    return os.getpid(), os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads(), x


def test_local_workers_are_processes_with_one_thread(client):
    assert len(client.scheduler_info()["workers"]) == 2
    out = dict(run_tasks(_pid_and_threads, range(6), client, progress=False))
    assert sorted(out) == list(range(6)) and [v[3] for _, v in sorted(out.items())] == list(range(6))
    assert all(v[0] != os.getpid() for v in out.values())          # not in the client
    assert all(v[1] == "1" and v[2] == 1 for v in out.values())


def test_unreachable_address_is_one_line_error(free_port):
    t0 = time.monotonic()
    with pytest.raises(NeuromodError, match=f"tcp://127.0.0.1:{free_port}: cannot reach") as e:
        with connect(f"tcp://127.0.0.1:{free_port}", timeout=2):
            pass
    assert "\n" not in str(e.value) and time.monotonic() - t0 < 30


@pytest.fixture(scope="module")
def tcp_scheduler():
    """A ``dask scheduler`` on 127.0.0.1 and one ``dask worker`` for it, as a user starts
    them; stopped at the end."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bindir = os.path.dirname(sys.executable)
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    sched = subprocess.Popen([os.path.join(bindir, "dask"), "scheduler", "--host",
                              "127.0.0.1", "--port", str(port), "--no-dashboard"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    worker = subprocess.Popen([os.path.join(bindir, "dask"), "worker", address,
                               "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        from distributed import Client
        with Client(address, timeout="60s", set_as_default=False) as c:
            c.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for p in (worker, sched):
            p.terminate()
        for p in (worker, sched):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_existing_scheduler_runs_tasks_and_stays_up(tcp_scheduler):
    with connect(tcp_scheduler) as c:
        out = dict(run_tasks(abs, [-4, 5, -6], c, progress=False))
    assert out == {0: 4, 1: 5, 2: 6}
    with connect(tcp_scheduler) as c:                 # the command left it running
        assert dict(run_tasks(abs, [-1], c, progress=False)) == {0: 1}


def test_sweep_command_on_an_existing_scheduler(tcp_scheduler, tmp_path):
    out = tmp_path / "r.csv"
    p = subprocess.run([os.path.join(os.path.dirname(sys.executable), "neuromod"), "sweep",
                        "lif", "--grid", "tau_m=10*ms,20*ms", "--n", "3", "--duration", "0.05",
                        "--out", str(out), "--scheduler", tcp_scheduler, "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    import json
    rep = json.loads(p.stdout)
    assert rep["n_rows"] == 2 and rep["n_failed"] == 0 and out.exists()


def test_stats_and_fit_on_an_existing_scheduler(tcp_scheduler, tmp_path):
    """The other kinds of work on the same address: many files, blocked matrices, and
    the fits of --compare."""
    import json

    import numpy as np

    from neuromod import io
    from neuromod.retina.recording import save_recording
    from neuromod.retina.synthetic import simulated_retina
    from neuromod.spikes import SpikeTrains
    from neuromod.stats.synchrony import spike_sync
    neuromod = os.path.join(os.path.dirname(sys.executable), "neuromod")
    rng = np.random.default_rng(0)
    d = tmp_path / "rec"
    d.mkdir()
    for k in range(3):
        io.write(SpikeTrains.from_list([np.sort(rng.uniform(0, 2, 15)) for _ in range(5)],
                                       t_start=0.0, t_stop=2.0), str(d / f"s{k}.npz"))

    def run(*argv):
        p = subprocess.run([neuromod, *argv, "--scheduler", tcp_scheduler], timeout=300,
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return p.stdout
    rep = json.loads(run("stats", str(d), "--json", "--measures", "rates"))
    assert rep["n_failed"] == 0 and len(rep["files"]) == 3
    mats = tmp_path / "mats"
    mats.mkdir()
    run("stats", str(d / "s0.npz"), "--matrix-out", str(mats), "--block", "2", "--measures",
        "spike_sync")
    np.testing.assert_array_equal(np.load(mats / "spike_sync.npy"),
                                  spike_sync(io.read(str(d / "s0.npz"))))
    rec = tmp_path / "r.npz"
    save_recording(rec, simulated_retina(n_units=2, size=4, train_seconds=6.0,
                                         test_seconds=0.5, n_test_trials=2, seed=0))
    out = json.loads(run("fit", "--compare", "ln", str(rec), "--out", str(tmp_path / "cmp"),
                         "--json"))
    assert [r["model"] for r in out["reports"]] == ["ln"]
