"""Small embedded datasets shipped with neuromod, with the scripts that made them.

Installed as the package ``neuromod.data``; use :func:`neuromod.data.path` to locate a file.
"""
from pathlib import Path

HERE = Path(__file__).resolve().parent


def path(name):
    """Absolute path of an embedded data file, e.g. ``path("spikes/demo_trains.txt")``."""
    p = HERE / name
    if not p.exists():
        raise FileNotFoundError(2, "no such embedded data file", str(p))
    return p
