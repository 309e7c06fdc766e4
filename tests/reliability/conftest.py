"""Shared settings of the reliability suite.

Hypothesis runs deterministically (``derandomize=True``), keeps no example
database and has no deadline (the machine is shared); each fuzz test sets its own
``max_examples``.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "neuromod-reliability", derandomize=True, database=None, deadline=None,
    print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
settings.load_profile("neuromod-reliability")


#: The embedded recording (6 units x 10 trials), a valid spike file for every command.
TRAINS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "data", "spikes",
                                      "demo_trains.txt"))


@pytest.fixture(scope="session")
def trains_file():
    return TRAINS


@pytest.fixture(scope="session")
def tone_wav(tmp_path_factory):
    """A 0.2 s, 16 kHz float WAV file (a 440 Hz tone)."""
    from scipy.io import wavfile
    path = tmp_path_factory.mktemp("tone") / "tone.wav"
    t = np.arange(int(16000 * 0.2)) / 16000
    wavfile.write(path, 16000, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    return str(path)


@pytest.fixture
def cli(capsys):
    """``cli(argv) -> (exit status, stdout, stderr)`` of ``neuromod.cli.main`` in-process
    (argparse's own usage errors included)."""
    from neuromod.cli import main

    def run(argv):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:
            rc = exc.code
        out, err = capsys.readouterr()
        return rc, out, err
    return run
