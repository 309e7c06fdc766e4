"""Helpers shared by the subcommands: JSON output with NaN as null, float options."""
import json
import math
import re
import sys
from json.encoder import encode_basestring_ascii as _json_str

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


def dumps(obj):
    """The JSON text of ``obj``: exactly ``json.dumps(jsonable(obj), allow_nan=False)``.

    Each distinct value of a float array is formatted once (``float.__repr__``, as
    :mod:`json` does), which about halves the time of symmetric matrices such as the
    pairwise distances of ``neuromod stats``.

    Examples
    --------
    >>> dumps({"m": np.array([[0.0, 0.5], [0.5, np.nan]]), "n": np.int64(3)})
    '{"m": [[0.0, 0.5], [0.5, null]], "n": 3}'
    """
    out = []
    _encode(obj, out)
    return "".join(out)


def _encode(obj, out):
    """Append the JSON text of ``obj`` to the list ``out`` (the rules of :func:`jsonable`)."""
    if isinstance(obj, dict):
        items = {str(k): v for k, v in obj.items()}
        if not items:
            out.append("{}")
            return
        out.append("{")
        first = True
        for k, v in items.items():
            if not first:
                out.append(", ")
            first = False
            out.append(_json_str(k))
            out.append(": ")
            _encode(v, out)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        if not obj:
            out.append("[]")
            return
        out.append("[")
        first = True
        for v in obj:
            if not first:
                out.append(", ")
            first = False
            _encode(v, out)
        out.append("]")
    elif (isinstance(obj, np.ndarray) and obj.ndim and obj.dtype.kind == "f"
          and obj.dtype.itemsize <= 8):
        _encode_floats(_float_texts(obj), obj.ndim, out)
    else:
        leaf = jsonable(obj)
        if leaf is None:
            out.append("null")
        elif leaf is True:
            out.append("true")
        elif leaf is False:
            out.append("false")
        elif type(leaf) is str:
            out.append(_json_str(leaf))
        elif type(leaf) is int:
            out.append(int.__repr__(leaf))
        elif type(leaf) is float:         # finite: jsonable turned the others into None
            out.append(float.__repr__(leaf))
        else:
            out.append(json.dumps(leaf, allow_nan=False))


def _float_texts(a):
    """Nested lists (the shape of ``a``) of the JSON texts of a float array's values.

    Each distinct value (by bit pattern: 0.0 and -0.0 differ) is formatted once with
    ``float.__repr__``, the formatting of :mod:`json`; NaN and infinities are ``null``.
    """
    bits = np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)
    distinct, inverse = np.unique(bits.ravel(), return_inverse=True)
    values = distinct.view(np.float64)
    texts = np.array(list(map(float.__repr__, values.tolist())) + ["null"], dtype=object)
    index = np.where(np.isfinite(values), np.arange(values.size), values.size)
    return texts[index[inverse]].reshape(a.shape).tolist()


def _encode_floats(texts, ndim, out):
    """Append nested lists of JSON number texts (``ndim`` dimensions)."""
    if ndim == 1:
        out.append("[" + ", ".join(texts) + "]")
        return
    if not texts:
        out.append("[]")
        return
    out.append("[")
    for k, v in enumerate(texts):
        if k:
            out.append(", ")
        _encode_floats(v, ndim - 1, out)
    out.append("]")


def print_json(obj, stream=None):
    """Write exactly one JSON object (strict: NaN written as null) and a newline."""
    stream = stream or sys.stdout
    stream.write(dumps(obj))
    stream.write("\n")


_FREEZE_AT_EXIT = []


def freeze_at_exit():
    """Spare the process the interpreter's final garbage collections.

    The libraries a command loads (numba, torch, sympy, brian2) hold millions of
    objects, and the collections CPython runs while shutting down traverse them all:
    0.3 s after numba, 1.2 s after torch. An :mod:`atexit` handler moves every object
    to the permanent generation (:func:`gc.freeze`) first, so that only the memory is
    released. Nothing changes while the process runs (a program that calls
    :func:`neuromod.cli.main` several times keeps its collector); at exit, objects
    still alive have no guarantee of finalisation in CPython anyway, and the commands
    close their files themselves.
    """
    if not _FREEZE_AT_EXIT:
        import atexit
        import gc
        atexit.register(gc.freeze)
        _FREEZE_AT_EXIT.append(True)


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


def split_sets(items):
    """``[(name, value_text), ...]`` of the ``--set NAME=VALUE`` words (several may
    share one argument, separated by blanks); a one-line ParameterError otherwise.

    Examples
    --------
    >>> split_sets(["beta=0.5 theta=1", "noise=logistic"])
    [('beta', '0.5'), ('theta', '1'), ('noise', 'logistic')]
    """
    from neuromod.errors import ParameterError
    out = []
    for item in items:
        for part in item.split():
            name, eq, value = part.partition("=")
            name = name.strip()
            if not eq or not name.isidentifier():
                shown = part if len(part) <= 40 else part[:37] + "..."
                raise ParameterError(f"--set {shown!r}: expected NAME=VALUE (e.g. tau_m=20*ms)")
            out.append((name, value.strip()))
    return out


_NUMBER_UNIT = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z_]\w*)\s*")


def quantity(dim, what, strict=True):
    """argparse type: a finite quantity of dimension ``dim`` in SI units, > 0 (``strict``)
    or >= 0: a plain number (``0.5``, taken in SI units), Brian2 syntax (``500*ms``) or
    a number followed by a unit (``500ms``, ``5Hz``).

    Examples
    --------
    >>> quantity((0, 0, 1, 0, 0, 0, 0), "time")("2ms")
    0.002
    """
    def parse(text):
        import argparse
        from neuromod.errors import NeuromodError
        from neuromod.units import as_si
        quantity = text
        try:
            float(text)
        except ValueError:
            m = _NUMBER_UNIT.fullmatch(text)
            if m:
                quantity = f"{m.group(1)}*{m.group(2)}"
        try:
            v = float(as_si(quantity, dim, what))
        except (NeuromodError, TypeError, ValueError) as exc:
            message = " ".join(str(exc).split())
            if quantity != text:                   # name the text as the user wrote it
                message = message.replace(repr(quantity), repr(text))
            raise argparse.ArgumentTypeError(message) from None
        if not math.isfinite(v) or (v <= 0 if strict else v < 0):
            raise argparse.ArgumentTypeError(
                f"must be a finite {what} {'>' if strict else '>='} 0, got {text}")
        return v
    parse.__name__ = what
    return parse


def training_dir(out_dir, resume):
    """Check a training command's output directory and make it: the path of its
    ``checkpoint.npz``. One-line errors for a file in the way, a missing parent,
    ``--resume`` without a checkpoint and a checkpoint without ``--resume``."""
    import os
    from neuromod.errors import ParameterError
    ckpt = os.path.join(out_dir, "checkpoint.npz")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NeuromodError(f"--out {out_dir}: exists and is not a directory")
    if resume and not os.path.isfile(ckpt):
        raise ParameterError(f"--resume: no checkpoint at {ckpt} (train without --resume "
                             "first)")
    if not resume and os.path.exists(ckpt):
        raise ParameterError(f"{ckpt} exists: give --resume to continue that run, or another "
                             "--out")
    parent = os.path.dirname(os.path.abspath(out_dir))
    if not os.path.isdir(parent):
        raise NeuromodError(f"--out {out_dir}: the directory {parent} does not exist")
    os.makedirs(out_dir, exist_ok=True)
    return ckpt


def write_spikes(out, target, st, path):
    """Write spike trains to ``target`` of an :class:`~neuromod.outputs.Outputs`, in the
    format ``path``'s extension names (text when it names none)."""
    from neuromod import io
    fmt = None
    try:
        io.format_from_path(path)
    except NeuromodError:
        fmt = "txt"
    out.write(target, lambda tmp: io.write(st, tmp, format=fmt))


def add_scheduler_option(p, default, default_text=None, extra=""):
    """``--scheduler WHERE`` (``default``: its value when not given, None to let the
    command choose; ``default_text``: what the help says the default is)."""
    p.add_argument("--scheduler", default=default, metavar="WHERE",
                   help="where tasks run: local[:N] (a local Dask cluster of N single-threaded "
                        "workers, default one per core), tcp://HOST:PORT (an existing Dask "
                        f"scheduler{extra}) or none (in-process); default "
                        f"{default_text or default}")


def training_run(out_dir, resume, nproc, argv):
    """The start of a training command that may run data-parallel (``--nproc``):
    ``(status, checkpoint, rank)``.

    In the command itself: checks and makes ``out_dir`` (:func:`training_dir`); with
    ``nproc > 1`` it then runs ``nproc`` copies of the command (``argv``,
    :func:`neuromod.scale.ddp.launch`) and ``status`` is their exit status, to return.
    In a copy: ``status`` is None, ``rank`` its rank (the directory is the command's).
    """
    import os

    from neuromod.scale.ddp import child_rank
    copy = child_rank()
    if copy is not None:
        return None, os.path.join(out_dir, "checkpoint.npz"), copy[0]
    ckpt = training_dir(out_dir, resume)
    if nproc > 1:
        from neuromod.scale.ddp import launch
        return launch(argv, nproc), ckpt, 0
    return None, ckpt, 0
