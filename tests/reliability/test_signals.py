"""Signals: INT, TERM and HUP at known phases leave no temporary file, keep the old target,
exit 130/143/129 with one line (``interrupted`` / ``terminated``) and no traceback.

The commands pause at a named phase through the test hook ``NEUROMOD_TEST_PAUSE``
(neuromod.outputs.pause_point): ``write`` (a temporary output is complete, nothing
renamed yet) or ``start`` (before the subcommands are imported).
"""
import os
import signal
import subprocess
import sys

import pytest

TRAINS = "{trains}"


def run_until_paused(argv, phase, sig, cwd):
    env = dict(os.environ, NEUROMOD_TEST_PAUSE=phase)
    proc = subprocess.Popen([sys.executable, "-m", "neuromod"] + argv, cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()        # blocks until the command reaches the phase
        assert first.strip() == f"neuromod: paused at {phase}", first + proc.stderr.read()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


EXITS = {signal.SIGINT: (130, "interrupted"), signal.SIGTERM: (143, "terminated"),
         signal.SIGHUP: (129, "terminated")}

#: (name, argv with {d} for the folder, the target file that exists beforehand, signal)
CASES = [
    ("stats --plot png, TERM", ["stats", TRAINS, "--plot", "{d}/fig.png"], "fig.png", signal.SIGTERM),
    ("stats --plot png, HUP", ["stats", TRAINS, "--plot", "{d}/fig.png"], "fig.png", signal.SIGHUP),
    ("simulate --out nix, TERM", ["simulate", "lif", "--n", "20", "--duration", "0.2",
                                  "--out", "{d}/s.nix"], "s.nix", signal.SIGTERM),
    ("encode --out npz, INT", ["encode", "{wav}", "--rate", "500", "--channels", "8",
                               "--out", "{d}/e.npz"], "e.npz", signal.SIGINT),
    ("demo, INT", ["demo", "--out", "{d}", "--parts", "stats"], "stats.json", signal.SIGINT),
]


@pytest.mark.parametrize("name,argv,target,sig", CASES, ids=[c[0] for c in CASES])
def test_signal_mid_write_leaves_old_target_and_no_temporary_file(name, argv, target, sig,
                                                                 tmp_path, tone_wav, trains_file):
    (tmp_path / target).write_bytes(b"old contents")
    argv = [a.format(d=tmp_path, wav=tone_wav, trains=trains_file) for a in argv]
    rc, err = run_until_paused(argv, "write", sig, tmp_path)
    status, line = EXITS[sig]
    assert rc == status, err
    assert err.strip().splitlines() == [line], err
    assert sorted(os.listdir(tmp_path)) == [target]            # no hidden temporary file
    assert (tmp_path / target).read_bytes() == b"old contents"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_before_the_subcommands_are_imported(sig, tmp_path, trains_file):
    """Ctrl-C in the first moments (while the subcommands load) is one line, no traceback."""
    rc, err = run_until_paused(["stats", trains_file], "start", sig, tmp_path)
    assert rc == EXITS[sig][0] and err.strip().splitlines() == [EXITS[sig][1]], err


def test_a_signal_swallowed_by_a_library_still_stops_the_command(monkeypatch, capsys):
    """Code that catches the KeyboardInterrupt (as some libraries do) cannot turn a
    Ctrl-C into exit status 0."""
    import neuromod.cli.validate_cmd as validate_cmd
    from neuromod.cli import main

    def swallowing_run(args):
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            pass
        return 0
    monkeypatch.setattr(validate_cmd, "run", swallowing_run)
    before = signal.getsignal(signal.SIGINT)
    assert main(["validate", "--list"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"
    assert signal.getsignal(signal.SIGINT) is before            # handlers restored


def test_ctrl_c_during_a_brian2_run_interrupts_the_command(tmp_path):
    """Brian2, imported by the command, installs a SIGINT handler that stops a run early,
    and the command would write a truncated simulation with exit status 0; neuromod
    turns it off during its runs. The SIGINT comes from a timer once Brian2 reports its
    network running (a fresh process, so that brian2 is imported inside the command)."""
    code = f"""
import os, signal, sys
def send_when_running(signum, frame):
    b2 = sys.modules.get("brian2")
    net = getattr(b2, "Network", None)
    if net is not None and net._globally_running:
        os.kill(os.getpid(), signal.SIGINT)
    else:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
signal.signal(signal.SIGALRM, send_when_running)
signal.setitimer(signal.ITIMER_REAL, 0.05)
from neuromod.cli import main
sys.exit(main(["simulate", "lif", "--backend", "brian2", "--n", "200", "--duration", "60",
               "--out", {str(tmp_path / "s.txt")!r}]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "interrupted"
    assert os.listdir(tmp_path) == []
