"""Helpers shared by the subcommands: JSON output with NaN as null, float options."""
import json
import math
import sys

import numpy as np

from neuromod.errors import NeuromodError


def jsonable(obj):
    """Convert numpy scalars/arrays and NaN/inf floats into JSON-ready values (NaN -> None).

    Examples
    --------
    >>> jsonable({"a": np.array([1.0, np.nan])})
    {'a': [1.0, None]}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "iub" or (obj.dtype.kind == "f" and np.isfinite(obj).all()):
            return obj.tolist()          # fast path: nothing to replace
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def print_json(obj, stream=None):
    """Write exactly one JSON object (strict: NaN written as null) and a newline."""
    stream = stream or sys.stdout
    stream.write(json.dumps(jsonable(obj), allow_nan=False))
    stream.write("\n")


def positive_float(text):
    """argparse type: a float > 0 (seconds or Hz, as the option says)."""
    import argparse
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return v


def positive_int(text):
    """argparse type: an integer >= 1."""
    import argparse
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return v


def finite_float(text):
    """argparse type: a finite float."""
    import argparse
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return v


def require(cond, message):
    """Raise a user error with ``message`` unless ``cond``."""
    if not cond:
        raise NeuromodError(message)
