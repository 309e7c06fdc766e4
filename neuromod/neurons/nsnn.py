"""Noisy spiking neurons (NSNN; Ma, Yan & Tang, Patterns 2023), written once for both
backends.

A noisy neuron fires in each step with probability ``F((u - theta)/sigma)``, ``F``
the CDF of zero-mean noise of standard deviation ``sigma`` on a noise-free membrane
potential ``u`` (the paper's form); its spike gradient is the noise density
``f((u - theta)/sigma)/sigma`` (noise-driven learning, NDL). The firing rule is
:class:`~neuromod.backends.noise.Bernoulli`; the families are those of
:mod:`neuromod.backends.noise` (``gaussian``, ``logistic``, ``triangular``,
``uniform``, ``sigma`` the standard deviation for each).

``noisy-lif`` (:func:`noisy_lif`)
    Discrete time, dimensionless: ``u <- beta u + x`` once per step (``beta`` the
    per-step decay, default 0.5; the official code's ``tau = 2`` is ``beta =
    1/tau``), spike with probability ``F((u - theta)/sigma)`` (``theta = 1``,
    ``sigma = 0.3``), then a hard reset to 0 with the same sample (or reset by
    subtraction).
``escape-lif`` (:func:`escape_lif`)
    The continuous-time LIF of :func:`neuromod.neurons.lif` (volts, seconds) with
    the same Bernoulli rule applied once per step of length ``dt``, ``sigma`` in volts.

Examples
--------
>>> m = noisy_lif()
>>> m.updates, m.firing.noise, m.parameters["sigma"].value
('u = beta*u + x', 'gaussian', 0.3)
"""
from neuromod.backends.model import NeuronModel
from neuromod.backends.noise import Bernoulli, family
from neuromod.errors import ParameterError

__all__ = ["noisy_lif", "escape_lif", "RESETS"]

#: Reset rules of :func:`noisy_lif`: to zero, or by subtracting the threshold.
RESETS = {"zero": "u = 0", "subtract": "u -= theta"}


def noisy_lif(noise="gaussian", reset="zero", **parameters):
    """The discrete-time noisy LIF neuron of NSNN.

    Parameters
    ----------
    noise : {'gaussian', 'logistic', 'triangular', 'uniform'}
        The noise family (``sigma`` is its standard deviation).
    reset : {'zero', 'subtract'}
        Hard reset to 0 (the paper's) or reset by subtraction of ``theta``.
    **parameters
        Overrides of ``beta`` (per-step decay, in [0, 1], default 0.5), ``theta``
        (threshold, default 1) and ``sigma`` (> 0, default 0.3), all dimensionless
        and per step.

    Returns
    -------
    NeuronModel
        States ``u``; input ``x`` (the step's drive); port ``e`` (``u += w``); a
        derived ``rheobase`` ``theta (1 - beta)``, the constant drive whose
        noise-free potential reaches the threshold.

    Examples
    --------
    >>> noisy_lif(noise="logistic", reset="subtract", beta=0.8).reset
    'u -= theta'
    """
    family(noise)
    if reset not in RESETS:
        raise ParameterError(f"reset must be one of {', '.join(RESETS)}, got {reset!r}")
    model = NeuronModel(
        "noisy-lif", "u : 1\nx : 1", {"beta": 0.5, "theta": 1.0, "sigma": 0.3},
        threshold="u > theta", reset=RESETS[reset], inputs=("x",), ports={"e": "u += w"},
        updates="u = beta*u + x", firing=Bernoulli(noise, "sigma"),
        domains={"beta": "unit_interval", "theta": "finite", "sigma": "positive"},
        derived={"rheobase": "theta*(1 - beta)"},
        description=f"discrete noisy LIF, Bernoulli({noise}) firing (NSNN)")
    return model.with_parameters(**parameters) if parameters else model


def escape_lif(noise="gaussian", **parameters):
    """The LIF of :func:`neuromod.neurons.lif` with Bernoulli (escape-noise) firing:
    in each step of length ``dt`` a neuron that is not refractory fires with
    probability ``F((v - v_th)/sigma)`` (``sigma`` in volts, default 2 mV).

    Examples
    --------
    >>> m = escape_lif()
    >>> m.parameters["sigma"].text(), m.firing.sigma
    ('2*mV', 'sigma')
    """
    from neuromod.neurons.lif import lif
    family(noise)
    d = lif().to_dict()
    d["name"] = "escape-lif"
    d["parameters"]["sigma"] = {"value": 0.002, "unit": "volt", "doc": "noise standard deviation",
                                "domain": "positive"}
    d["firing"] = Bernoulli(noise, "sigma").to_dict()
    d["description"] = f"LIF with Bernoulli({noise}) escape noise once per step"
    model = NeuronModel.from_dict(d)
    return model.with_parameters(**parameters) if parameters else model
