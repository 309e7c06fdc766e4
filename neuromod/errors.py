"""Exception types shared by every part of neuromod.

User errors (bad files, bad options, bad data) raise :class:`NeuromodError`
subclasses with a one-line message that names the file, line or train and what
is wrong. The command line turns them into one line on stderr and exit status 2.
"""
import contextlib


class NeuromodError(Exception):
    """Base class of every error neuromod raises for bad user input."""


class SpikeDataError(NeuromodError, ValueError):
    """Spike data that break the container's invariants (NaN, unsorted, out of window...)."""


class FileFormatError(NeuromodError, ValueError):
    """A file that cannot be read as the format it claims to be."""


class UnitError(NeuromodError, ValueError):
    """A quantity with the wrong physical dimension (e.g. volts where seconds are expected)."""


class ParameterError(NeuromodError, ValueError):
    """A parameter outside its domain (e.g. a negative time constant)."""


class ResourceLimitError(NeuromodError, MemoryError):
    """An operation that would allocate more than ``NEUROMOD_MEMORY_LIMIT`` (checked
    before allocating; see :mod:`neuromod.limits`)."""


class OutputError(NeuromodError, OSError):
    """An output path that cannot be written (missing directory, FIFO, unknown format),
    found before any computation (see :mod:`neuromod.outputs`)."""


@contextlib.contextmanager
def naming(path):
    """Inside the block, a :class:`NeuromodError` whose message does not name ``path``
    yet is raised again (same class) as ``"<path>: <message>"``, on one line.

    Examples
    --------
    >>> try:
    ...     with naming("cell3.npz"):
    ...         raise ParameterError("gain = nan is not finite")
    ... except ParameterError as exc:
    ...     print(exc)
    cell3.npz: gain = nan is not finite
    """
    try:
        yield
    except NeuromodError as exc:
        if str(path) in str(exc):
            raise
        raise type(exc)(f"{path}: {' '.join(str(exc).split())}") from None
