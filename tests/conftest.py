"""Fixtures shared by the test directories."""
import os
import signal
import subprocess

import pytest


def _kill_at(argv, phase, timeout=60):
    """Run ``argv`` with ``NEUROMOD_TEST_PAUSE=phase``, read its stderr until it says it
    paused there, and SIGKILL it (a run killed right after that point)."""
    env = dict(os.environ, NEUROMOD_TEST_PAUSE=phase)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        seen = []                          # progress updates, then the pause line
        while not seen or not seen[-1].strip().endswith(f"neuromod: paused at {phase}"):
            seen.append(proc.stderr.readline())
            assert seen[-1], "".join(seen)     # end of stream before the pause
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture
def kill_at():
    """``kill_at(argv, phase)``: run a command until its test pause ``phase``
    (``neuromod.outputs.pause_point``), then SIGKILL it."""
    return _kill_at
