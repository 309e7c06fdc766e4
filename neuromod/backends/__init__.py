"""One model definition, two backends: Brian2 for simulation, PyTorch for training.

A :class:`NeuronModel` is written once in Brian2's equation syntax. The Brian2
backend (:mod:`neuromod.backends.brian2_backend`) builds ``NeuronGroup``,
``Synapses`` and monitors from it; the Torch backend
(:mod:`neuromod.backends.torch_backend`) derives a batched, differentiable
update from the same text. Both use the same discretisation (exact integration
of linear equations, Brian2's schedule and refractoriness); see
``docs/backends.md``.

This package imports neither torch nor brian2 at import time; the backend
submodules import them when used.

Examples
--------
>>> from neuromod.backends import NeuronModel
>>> from neuromod.neurons import lif
>>> isinstance(lif(), NeuronModel)
True

A discrete-time neuron with Bernoulli (escape-noise) firing, written once:

>>> noisy = NeuronModel("noisy", "v : 1\\nI : 1", {"beta": 0.5, "theta": 1.0, "sigma": 0.3},
...                     threshold="v > theta", reset="v = 0", inputs=("I",),
...                     updates="v = beta*v + I", domains={"sigma": "positive"},
...                     firing=Bernoulli("gaussian", "sigma"))
>>> r = simulate(noisy, 200, 0.05, dt=1e-3, inputs={"I": 0.45}, seed=1)
>>> 0.1 < r.spikes["neurons"].n_spikes / (200 * 50) < 0.4
True
"""
from neuromod.backends.equations import ModelDefinitionError
from neuromod.backends.model import NeuronModel, Parameter, Port
from neuromod.backends.network import Network, SimulationResult, simulate
from neuromod.backends.noise import Bernoulli
from neuromod.backends.serialize import load, save

__all__ = ["NeuronModel", "Parameter", "Port", "ModelDefinitionError", "Network",
           "SimulationResult", "simulate", "save", "load", "Bernoulli"]
