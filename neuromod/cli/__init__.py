"""The ``neuromod`` command line: a thin layer that parses options and calls the library.

Each subcommand lives in its own module ``neuromod.cli.<name>_cmd`` with two
functions, ``add_parser(subparsers)`` and ``run(args) -> int``. Modules import only
argparse at top level so that ``neuromod --help`` and fast commands stay fast;
heavy libraries (torch, brian2, elephant) are imported inside ``run``.

User errors raise :class:`neuromod.errors.NeuromodError` (or ``OSError`` for files);
``main`` prints them as one line on stderr and exits with status 2.
``--verbose`` shows the traceback as well.
"""
import argparse
import importlib
import sys

from neuromod import __version__
from neuromod.errors import NeuromodError

#: (subcommand, module) in the order ``neuromod --help`` lists them.
SUBCOMMANDS = [
    ("stats", "neuromod.cli.stats_cmd"),
    ("demo", "neuromod.cli.demo_cmd"),
    ("encode", "neuromod.cli.encode_cmd"),
    ("decode", "neuromod.cli.decode_cmd"),
    ("validate", "neuromod.cli.validate_cmd"),
    ("simulate", "neuromod.cli.simulate_cmd"),
    ("train", "neuromod.cli.train_cmd"),
    ("pcnn", "neuromod.cli.pcnn_cmd"),
    ("fit", "neuromod.cli.fit_cmd"),
    ("sweep", "neuromod.cli.sweep_cmd"),
]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line on stderr, exit status 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def build_parser():
    parser = _Parser(prog="neuromod", description=(
        "neuromod: spiking neuron models, spike-train statistics, retinal and auditory "
        "models. Run 'neuromod COMMAND --help' for a command's options."))
    parser.add_argument("--version", action="version", version=f"neuromod {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, modname in SUBCOMMANDS:
        mod = importlib.import_module(modname)
        p = mod.add_parser(sub)
        p.add_argument("--verbose", action="store_true",
                       help="show the full traceback on errors")
        p.set_defaults(_run=mod.run)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP delivered to a command: unwinds like Ctrl-C (every temporary
    output is removed on the way out), then exits with 128 + the signal number."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


#: signal -> (exit status, the one line printed on stderr)
_SIGNAL_EXITS = {"SIGINT": (130, "interrupted"), "SIGTERM": (143, "terminated"),
                 "SIGHUP": (129, "terminated")}


class _SignalsAsExceptions:
    """While active, SIGINT, SIGTERM and SIGHUP raise :class:`Terminated` in the main
    thread (the previous handlers come back on exit); ``received`` lists the signals
    seen, so that a signal a library swallowed still decides the exit status."""

    def __init__(self):
        self.received = []
        self._previous = {}

    def _handler(self, signum, frame):
        self.received.append(signum)
        raise Terminated(signum)

    def __enter__(self):
        import signal
        import threading
        if threading.current_thread() is threading.main_thread():
            for name in _SIGNAL_EXITS:
                sig = getattr(signal, name, None)
                if sig is not None:
                    self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        import signal
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        return False


def _signal_exit(signum):
    import signal
    name = signal.Signals(signum).name if signum else "SIGINT"
    status, text = _SIGNAL_EXITS.get(name, (128 + int(signum or 2), "terminated"))
    sys.stderr.write(text + "\n")
    return status


def main(argv=None):
    """Entry point of the ``neuromod`` console script; returns the exit status.

    User errors print one line and return 2; SIGINT returns 130 (``interrupted``),
    SIGTERM 143 and SIGHUP 129 (``terminated``), with every temporary output removed.
    """
    with _SignalsAsExceptions() as signals:
        args = None
        try:
            from neuromod.outputs import pause_point
            pause_point("start")    # test hook: a signal here hits the subcommand imports
            parser = build_parser()
            args = parser.parse_args(argv)
            args._argv = list(sys.argv[1:] if argv is None else argv)   # --nproc copies
            if not getattr(args, "command", None):
                parser.print_help()
                return 2
            from neuromod.cli.common import freeze_at_exit
            freeze_at_exit()     # every command: skip the interpreter's final collections
            status = int(args._run(args) or 0)
        except (NeuromodError, OSError) as exc:
            if getattr(args, "verbose", False):
                import traceback
                traceback.print_exc()
            prog = f"neuromod {args.command}" if getattr(args, "command", None) else "neuromod"
            sys.stderr.write(f"{prog}: error: {_one_line(exc)}\n")
            return 2
        except KeyboardInterrupt as exc:
            return _signal_exit(getattr(exc, "signum", None) or
                                (signals.received[-1] if signals.received else None))
        if signals.received:        # a library caught the signal's exception: still stop
            return _signal_exit(signals.received[-1])
        return status


def _one_line(exc):
    """The message of a user error or OSError as one line naming the file."""
    msg = str(exc)
    if isinstance(exc, OSError) and not isinstance(exc, NeuromodError):
        if exc.filename and exc.strerror:
            msg = f"{exc.filename}: {exc.strerror}"
        elif exc.filename and str(exc.filename) not in msg:
            msg = f"{exc.filename}: {msg}"
    return " ".join(msg.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
