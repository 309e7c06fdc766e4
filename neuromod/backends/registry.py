"""The simulation backends a :class:`~neuromod.backends.network.Network` can run on.

A fixed table, like a package's entry points: each backend is named by the module
and function that run a network, and the options that function accepts. The
network description looks its backend up here and imports the module only when a
run asks for it, so the description never imports a backend (the backends import
the description), and a run pays only for its own backend's libraries. The table
is read-only: nothing registers itself at run time.

Examples
--------
>>> sorted(BACKENDS)
['brian2', 'torch']
>>> backend("torch").options
('dtype', 'device', 'fused')
>>> backend("nest")
Traceback (most recent call last):
...
neuromod.errors.NeuromodError: backend must be 'torch' or 'brian2', got 'nest'
"""
import importlib
from dataclasses import dataclass
from types import MappingProxyType

from neuromod.errors import NeuromodError

__all__ = ["Backend", "BACKENDS", "backend"]


@dataclass(frozen=True)
class Backend:
    """A simulation backend: ``run(net, duration, dt, record, seed, **options)`` is
    ``module.function``; ``options`` are the keyword options it accepts."""
    name: str
    module: str
    function: str
    options: tuple

    def runner(self):
        """The run function (its module is imported on first use)."""
        return getattr(importlib.import_module(self.module), self.function)

    def check_options(self, options: dict) -> None:
        """One-line error for an option this backend does not take."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise NeuromodError(f"backend {self.name!r} has no option {unknown[0]!r}; it has "
                                f"{', '.join(self.options)}")


#: backend name -> :class:`Backend` (read-only).
BACKENDS = MappingProxyType({
    "torch": Backend("torch", "neuromod.backends.torch_network", "run_torch",
                     ("dtype", "device", "fused")),
    "brian2": Backend("brian2", "neuromod.backends.brian2_backend", "run_brian2",
                      ("target", "integrator", "directory")),
})


def backend(name: str) -> Backend:
    """The :class:`Backend` called ``name``."""
    try:
        return BACKENDS[name]
    except (KeyError, TypeError):
        raise NeuromodError(f"backend must be {' or '.join(repr(b) for b in BACKENDS)}, "
                            f"got {name!r}") from None
