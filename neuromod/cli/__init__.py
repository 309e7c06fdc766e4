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


def main(argv=None):
    """Entry point of the ``neuromod`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from neuromod.cli.common import freeze_at_exit
    freeze_at_exit()     # every command: skip the interpreter's final collections
    try:
        return int(args._run(args) or 0)
    except (NeuromodError, OSError) as exc:
        if getattr(args, "verbose", False):
            import traceback
            traceback.print_exc()
        msg = str(exc)
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in msg:
            msg = f"{exc.filename}: {exc.strerror or msg}"
        elif isinstance(exc, OSError) and exc.strerror and exc.filename:
            msg = f"{exc.filename}: {exc.strerror}"
        sys.stderr.write(f"neuromod {args.command}: error: {msg}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
