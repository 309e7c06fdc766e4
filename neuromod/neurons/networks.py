"""Benchmark networks built from the reference models.

:func:`cuba` is the current-based random E/I network of Vogels & Abbott (2005) as
used in the simulator benchmarks of Brette et al. (2007) and Brian2's ``CUBA``
example: LIF neurons (``tau_m = 20 ms``, ``E_L = -49 mV`` so that they fire
without input, threshold -50 mV, reset -60 mV, 5 ms refractory), exponential
synaptic currents (5 ms excitatory, 10 ms inhibitory), connection probability
``p``, excitatory jumps of 1.62 mV and inhibitory ones of -9 mV (times
``0.02 / p`` so that each neuron keeps the same mean input when the network is
scaled down), initial ``v`` uniform in [reset, threshold).

Examples
--------
>>> net = cuba(n=200, seed=1)
>>> sorted(net.populations), len(net.connections)
(['exc', 'inh'], 4)
"""
import numpy as np
import scipy.sparse as sps

from neuromod.backends.network import Network
from neuromod.errors import ParameterError
from neuromod.limits import check_int, check_seed, check_value
from neuromod.neurons.lif import lif

__all__ = ["cuba"]


def cuba(n=4000, p=0.02, seed=0, frac_exc=0.8, scale_weights=True):
    """The CUBA benchmark network as a backend-neutral :class:`Network`.

    Parameters
    ----------
    n : int
        Number of neurons (80% excitatory), at least 2.
    p : float
        Connection probability, ``0 < p <= 1`` (each pair independently, no self-connections are
        excluded, as in Brian2's example).
    seed : int
        Seeds connectivity and initial potentials.
    scale_weights : bool
        Multiply the weights by ``(4000 * 0.02) / (n * p)`` so that the expected
        number of inputs times weight stays that of the original 4,000-neuron net.

    Returns
    -------
    Network
        Populations ``'exc'`` and ``'inh'``; weights in amp (``R = 10 Mohm``:
        1.62 mV -> 0.162 nA).
    """
    n = check_int("cuba: n", n, 2)
    check_value("cuba: p", p, "unit_interval")
    check_value("cuba: p", p, "positive")
    check_value("cuba: frac_exc", frac_exc, (0.0, 1.0))
    rng = np.random.default_rng(check_seed(seed))
    n_e = int(round(frac_exc * n))
    if not 0 < n_e < n:
        raise ParameterError(f"cuba: frac_exc = {frac_exc:g} of n = {n} leaves a population "
                             "empty")
    n_i = n - n_e
    model = lif(E_L="-49*mV", v_reset="-60*mV", v_th="-50*mV", tau_m="20*ms", t_ref="5*ms",
                tau_e="5*ms", tau_i="10*ms")
    R = model.parameters["R"].value
    s = (4000 * 0.02) / (n * p) if scale_weights else 1.0
    we = 1.62e-3 / R * s
    wi = -9e-3 / R * s
    net = Network()
    for name, m in (("exc", n_e), ("inh", n_i)):
        v0 = -0.060 + rng.random(m) * 0.010
        net.add_population(name, model, m, init={"v": v0})
    sizes = {"exc": n_e, "inh": n_i}
    for src, port, w in (("exc", "e", we), ("inh", "i", wi)):
        for tgt in ("exc", "inh"):
            mask = sps.random(sizes[src], sizes[tgt], density=p, random_state=rng,
                              data_rvs=lambda k: np.ones(k), format="csr")
            net.connect(src, tgt, port, mask * w)
    return net
