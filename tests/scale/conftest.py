"""Fixtures of the scale-out tests: one 2-worker local Dask cluster for the module, and a
helper that kills a worker process while tasks run."""
import os
import signal
import socket
import threading
import time

import pytest


@pytest.fixture(scope="module")
def client():
    """A client of a 2-worker ``LocalCluster`` (processes, one thread each), the one
    :func:`neuromod.scale.cluster.connect` starts for ``local:2``."""
    from neuromod.scale.cluster import connect
    with connect("local:2", quiet=True) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def _kill_when_busy(client, killed, deadline_s=60.0):
    """SIGKILL the process of a worker as soon as it is processing a task."""
    stop = time.monotonic() + deadline_s
    pids = client.run(os.getpid)
    while time.monotonic() < stop:
        busy = [w for w, keys in client.processing().items() if keys and w in pids]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])
            return
        time.sleep(0.01)


@pytest.fixture
def kill_a_busy_worker():
    """``start(client)``: a thread that kills one worker process while it runs a task;
    returns the list that receives the killed worker's address."""
    threads = []

    def start(client):
        killed = []
        t = threading.Thread(target=_kill_when_busy, args=(client, killed), daemon=True)
        t.start()
        threads.append(t)
        return killed
    yield start
    for t in threads:
        t.join(timeout=70)


@pytest.fixture
def free_port():
    """A TCP port on 127.0.0.1 with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
