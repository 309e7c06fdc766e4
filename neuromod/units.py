"""Units at the boundary: neuromod works in SI seconds inside.

Functions here accept plain numbers (taken as seconds or the stated SI unit),
``quantities`` quantities and Brian2 quantities, and return plain floats / numpy
arrays in SI units. Neither ``quantities`` nor ``brian2`` is imported unless the
value passed in already is one of theirs.
"""
import numpy as np

from neuromod.errors import UnitError

__all__ = ["to_seconds", "to_hertz", "to_si"]


def _is_quantities(x):
    mod = type(x).__module__ or ""
    return mod.startswith("quantities")


def _is_brian2(x):
    mod = type(x).__module__ or ""
    return mod.startswith("brian2")


def to_si(x, dimension, name="value"):
    """Convert ``x`` to a float or float64 array in the SI unit of ``dimension``.

    Parameters
    ----------
    x : float, array_like, str, quantities.Quantity or brian2.Quantity
        Plain numbers are taken to be in SI units already; text is read as Brian2
        syntax (``'20*ms'``, ``'5*Hz'``; see :func:`neuromod.backends.dims.as_si`).
    dimension : {'s', 'Hz'}
        The expected dimension.
    name : str
        Used in the error message.

    Returns
    -------
    float or numpy.ndarray

    Raises
    ------
    UnitError
        If ``x`` carries units of another dimension, or is not a number.

    Examples
    --------
    >>> import quantities as pq
    >>> to_si(20 * pq.ms, "s")
    0.02
    """
    if x is None:
        return None
    if isinstance(x, str):          # Brian2 syntax ('20*ms', '5*Hz') or a plain number
        from neuromod.backends.dims import as_si
        s, hz = (0, 0, 1, 0, 0, 0, 0), (0, 0, -1, 0, 0, 0, 0)
        return as_si(x, s if dimension == "s" else hz, name)
    if _is_quantities(x):
        import quantities as pq
        target = pq.s if dimension == "s" else pq.Hz
        try:
            v = x.rescale(target).magnitude
        except ValueError as exc:
            raise UnitError(f"{name}: expected {dimension}, got {x.dimensionality.string}") from exc
        return float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=np.float64)
    if _is_brian2(x):
        from brian2 import second, Hz
        from brian2.units.fundamentalunits import DimensionMismatchError, get_dimensions
        target = second if dimension == "s" else Hz
        if get_dimensions(x) != get_dimensions(target):
            raise UnitError(f"{name}: expected {dimension}, got {get_dimensions(x)}")
        v = np.asarray(x / target, dtype=np.float64)
        return float(v) if v.ndim == 0 else v
    try:
        if np.ndim(x) == 0:
            return float(x)
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        text = repr(x)
        text = text if len(text) <= 60 else text[:57] + "..."
        raise UnitError(f"{name}: {text} is not a number (in {dimension})") from None


def to_seconds(x, name="time"):
    """Convert a time (number in seconds, ``quantities`` or Brian2 quantity) to seconds.

    Examples
    --------
    >>> to_seconds(0.5)
    0.5
    """
    return to_si(x, "s", name)


def to_hertz(x, name="rate"):
    """Convert a rate (number in Hz, ``quantities`` or Brian2 quantity) to Hz.

    Examples
    --------
    >>> to_hertz(10.0)
    10.0
    """
    return to_si(x, "Hz", name)
