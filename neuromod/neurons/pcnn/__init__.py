"""Pulse-coupled neural networks (Eckhorn/Johnson PCNN) and two simplified variants,
written once for both backends.

Classic PCNN (Johnson & Padgett 1999; the defaults of pyclustering), one step ``n``::

    F[n] = a_F F[n-1] + S + V_F (M * Y[n-1])        feeding
    L[n] = a_L L[n-1] + V_L (W * Y[n-1])            linking
    U[n] = F[n] (1 + beta L[n])                     internal activity
    Y[n] = U[n] > E[n-1]                            pulse (strict)
    E[n] = a_E E[n-1] + V_E Y[n]                    dynamic threshold

``a_F, a_L, a_E`` are per-step decay multipliers (``e^{-alpha}``), defaults 0.1,
0.1, 0.5; ``V_F = V_L = 1``, ``V_E = 10``, ``beta = 0.1``; ``F, L, Y, E`` start at 0,
so every pixel with ``S > 0`` pulses at step 0. ``M * Y`` and ``W * Y`` are the
neighbour sums of the previous step's pulses through a shared kernel (unit weights
to the 4 or 8 nearest pixels, no self-coupling, zero outside the image).

Variants
    ``icm``, the intersecting cortical model (Kinser 1996; Ekblad, Kinser et al.
    2004, defaults ``f = 0.9, g = 0.8, h = 20``)::

        F[n] = f F[n-1] + S + W * Y[n-1];  Y[n] = F[n] > T[n-1];  T[n] = g T[n-1] + h Y[n]

    ``scm``, the spiking cortical model (Zhan, Zhang & Ma 2009, defaults ``f = 0.8,
    g = 0.704, h = 18.3`` and their 3 x 3 kernel of weights 0.1091 / 0.1409)::

        U[n] = f U[n-1] + S (W * Y[n-1]) + S;  E[n] = g E[n-1] + h Y[n-1];  Y[n] = U[n] > E[n]

How the models are written
    Each is a discrete-time :class:`~neuromod.backends.model.NeuronModel`; the
    neighbour sums arrive through ports (``feed``, ``link``) of a convolutional
    connection (:meth:`~neuromod.backends.network.Network.connect_conv`: ``conv2d``
    on Torch, synapses built from the kernel on Brian2) into buffer states that the
    next step reads and clears. The threshold state ``E`` is kept one step behind
    (the update computes ``E[n-1]`` from the pulse ``Y[n-1]`` held in the state
    ``Y`` before the comparison), so ``Y[n] = U[n] > E[n-1]`` is an ordinary
    threshold condition; the same statements give SCM's ``E[n]`` of ``Y[n-1]``.

Examples
--------
>>> import numpy as np
>>> r = run(np.array([[0.5, 1.0, 2.0]]), steps=13, neighbours=4, V_F=0.0, V_L=0.0)
>>> [np.flatnonzero(r.pulses[:, 0, j]).tolist() for j in range(3)]
[[0, 6, 12], [0, 5, 10], [0, 4, 8, 12]]
"""
import warnings
from dataclasses import dataclass

import numpy as np

from neuromod.backends.model import NeuronModel
from neuromod.errors import ParameterError

__all__ = ["pcnn", "icm", "scm", "VARIANTS", "NEIGHBOURS", "neighbour_kernel", "run",
           "PCNNResult", "fast_linking_run"]

#: Neighbourhoods of the coupling kernel.
NEIGHBOURS = (4, 8)
#: SCM's kernel weights (Zhan et al. 2009): diagonal and edge neighbours.
SCM_WEIGHTS = (0.1091, 0.1409)


def pcnn(**parameters):
    """The classic PCNN neuron (see the module docstring).

    Returns
    -------
    NeuronModel
        States ``F, L, E, Y`` and the neighbour buffers ``f_in, l_in``; input ``S``
        (the pixel's stimulus); ports ``feed`` (``f_in += w``) and ``link``
        (``l_in += w``).

    Examples
    --------
    >>> m = pcnn(beta=0.2)
    >>> m.threshold, m.parameters["beta"].value
    ('F*(1 + beta*L) > E', 0.2)
    """
    model = NeuronModel(
        "pcnn", "F : 1\nL : 1\nE : 1\nY : 1\nf_in : 1\nl_in : 1\nS : 1",
        {"a_F": 0.1, "a_L": 0.1, "a_E": 0.5, "V_F": 1.0, "V_L": 1.0, "V_E": 10.0,
         "beta": 0.1},
        threshold="F*(1 + beta*L) > E", reset="Y = 1", inputs=("S",),
        ports={"feed": "f_in += w", "link": "l_in += w"},
        updates="E = a_E*E + V_E*Y\nF = a_F*F + S + V_F*f_in\nL = a_L*L + V_L*l_in\n"
                "f_in = 0\nl_in = 0\nY = 0",
        domains={"a_F": "unit_interval", "a_L": "unit_interval", "a_E": "unit_interval",
                 "V_F": "non_negative", "V_L": "non_negative", "V_E": "non_negative",
                 "beta": "non_negative"},
        description="classic pulse-coupled neuron (Eckhorn/Johnson), pyclustering defaults")
    return model.with_parameters(**parameters) if parameters else model


def icm(**parameters):
    """The intersecting cortical model (Kinser; see the module docstring).

    Examples
    --------
    >>> icm().parameters["h"].value
    20.0
    """
    model = NeuronModel(
        "icm", "F : 1\nT : 1\nY : 1\nf_in : 1\nS : 1", {"f": 0.9, "g": 0.8, "h": 20.0},
        threshold="F > T", reset="Y = 1", inputs=("S",), ports={"feed": "f_in += w"},
        updates="T = g*T + h*Y\nF = f*F + S + f_in\nf_in = 0\nY = 0",
        domains={"f": "unit_interval", "g": "unit_interval", "h": "non_negative"},
        description="intersecting cortical model (Kinser 1996; Ekblad et al. 2004)")
    return model.with_parameters(**parameters) if parameters else model


def scm(**parameters):
    """The spiking cortical model (Zhan, Zhang & Ma 2009; see the module docstring).

    Examples
    --------
    >>> scm().parameters["g"].value
    0.704
    """
    model = NeuronModel(
        "scm", "U : 1\nE : 1\nY : 1\nl_in : 1\nS : 1", {"f": 0.8, "g": 0.704, "h": 18.3},
        threshold="U > E", reset="Y = 1", inputs=("S",), ports={"link": "l_in += w"},
        updates="E = g*E + h*Y\nU = f*U + S*l_in + S\nl_in = 0\nY = 0",
        domains={"f": "unit_interval", "g": "unit_interval", "h": "non_negative"},
        description="spiking cortical model (Zhan, Zhang & Ma 2009)")
    return model.with_parameters(**parameters) if parameters else model


#: Variant name -> (model factory, ports fed by the neighbour sum).
VARIANTS = {"classic": (pcnn, ("feed", "link")), "icm": (icm, ("feed",)),
            "scm": (scm, ("link",))}


def neighbour_kernel(neighbours=8, variant="classic"):
    """The 3 x 3 coupling kernel: unit weights to the 4 or 8 nearest pixels (SCM:
    Zhan et al.'s 0.1409 on edges, 0.1091 on diagonals), 0 at the centre.

    Examples
    --------
    >>> neighbour_kernel(4).astype(int).tolist()
    [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
    """
    if neighbours not in NEIGHBOURS:
        raise ParameterError(f"neighbours must be 4 or 8, got {neighbours!r}")
    diag, edge = SCM_WEIGHTS if variant == "scm" else (1.0, 1.0)
    k = np.array([[diag, edge, diag], [edge, 0.0, edge], [diag, edge, diag]])
    if neighbours == 4:
        k[0, 0] = k[0, 2] = k[2, 0] = k[2, 2] = 0.0
    return k


@dataclass
class PCNNResult:
    """What :func:`run` returns.

    Attributes
    ----------
    pulses : ndarray (steps, H, W) uint8
        ``pulses[n]`` is ``Y[n]``, the pulses of update ``n`` (``n = 0`` the first).
    variant, backend : str
    params : dict
    """
    pulses: np.ndarray
    variant: str
    backend: str
    params: dict

    @property
    def signature(self) -> np.ndarray:
        """Pulses per step (the time signal, the image's PCNN signature)."""
        return self.pulses.reshape(self.pulses.shape[0], -1).sum(1).astype(np.int64)


def _check_image(image):
    S = np.asarray(image, dtype=np.float64)
    if S.ndim != 2 or min(S.shape) < 1:
        raise ParameterError(f"image must be a 2-D array, got shape {S.shape}")
    if not np.isfinite(S).all():
        raise ParameterError("image has NaN or infinite pixels")
    return S


def run(image, steps=50, variant="classic", neighbours=8, backend="torch", kernel=None,
        fast_linking=False, max_link_passes=100, **parameters):
    """Run a pulse-coupled network over a grayscale image, one neuron per pixel.

    Parameters
    ----------
    image : array_like (H, W)
        The stimulus ``S`` (used as given; :func:`neuromod.neurons.pcnn.image.load_image`
        scales 8- and 16-bit images to [0, 1]).
    steps : int
        Updates ``n = 0 .. steps - 1`` (one per time step of the simulation,
        ``dt = 1`` ms nominal: the model is dimensionless).
    variant : {'classic', 'icm', 'scm'}
    neighbours : {4, 8}
    backend : {'torch', 'brian2'}
    kernel : array (3, 3) or (k, k), optional
        Coupling kernel instead of :func:`neighbour_kernel` (odd size, centre 0
        for no self-coupling).
    fast_linking : bool
        Classic PCNN only, Torch only: within each step iterate linking and pulses
        to a fixed point (:func:`fast_linking_run`).
    max_link_passes : int
    **parameters
        Model parameters (``beta``, ``V_E``, ...).

    Returns
    -------
    PCNNResult

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((8, 8)); img[2:6, 2:6] = 1.0
    >>> run(img, steps=6).signature.tolist()
    [16, 24, 40, 24, 12, 4]
    """
    from neuromod.backends.network import Network
    S = _check_image(image)
    if variant not in VARIANTS:
        raise ParameterError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ParameterError(f"steps must be an integer >= 1, got {steps!r}")
    factory, ports = VARIANTS[variant]
    model = factory(**parameters)
    K = neighbour_kernel(neighbours, variant) if kernel is None else np.asarray(kernel, float)
    if fast_linking:
        if variant != "classic":
            raise ParameterError("fast linking applies to the classic PCNN only")
        if backend != "torch":
            raise ParameterError("fast linking iterates within a step, which the Brian2 "
                                 "backend cannot express; use backend='torch'")
        return fast_linking_run(S, steps, K, model, max_link_passes)
    H, W = S.shape
    net = Network()
    net.add_population("pixels", model, H * W, inputs={"S": S.ravel()})
    for port in ports:
        net.connect_conv("pixels", "pixels", port, K[None, None], (H, W))
    res = net.run(steps * 1e-3, dt=1e-3, backend=backend,
                  **({"target": "numpy"} if backend == "brian2" else {}))
    st = res.spikes["pixels"]
    pulses = np.zeros((steps, H * W), dtype=np.uint8)
    k = np.rint(np.asarray(st.times) / 1e-3).astype(np.int64)
    pulses[k, np.asarray(st.ids)] = 1
    return PCNNResult(pulses.reshape(steps, H, W), variant, backend,
                      {k: p.value for k, p in model.parameters.items()})


def fast_linking_run(S, steps, kernel, model, max_link_passes=100):
    """The classic PCNN with fast linking (Torch only): in every step, after the
    feeding and the first pulses (linking from the previous step's pulses), linking
    ``L = a_L L_prev + V_L (W * Y)`` and the pulses ``Y = F (1 + beta L) > E`` are
    recomputed from the current pulses until ``Y`` stops changing, at most
    ``max_link_passes`` passes. The iteration can cycle (a pixel whose neighbours
    fired in the previous step loses their linking once they fall silent, and so
    on); a step that has not converged keeps its last pulses and a
    ``RuntimeWarning`` says how many steps did not converge.
    The parameters are those of ``model`` (:func:`pcnn`).
    """
    import torch
    p = {k: v.value for k, v in model.parameters.items()}
    S = torch.as_tensor(np.asarray(S, dtype=np.float64))[None, None]
    K = torch.as_tensor(np.asarray(kernel, dtype=np.float64))[None, None]
    pad = K.shape[-1] // 2

    def nb(Y):
        return torch.nn.functional.conv2d(Y, K, padding=pad)

    F = torch.zeros_like(S)
    L = torch.zeros_like(S)
    E = torch.zeros_like(S)
    Y = torch.zeros_like(S)
    out = np.zeros((steps,) + tuple(S.shape[-2:]), dtype=np.uint8)
    cycled = 0
    for n in range(steps):
        F = p["a_F"] * F + S + p["V_F"] * nb(Y)
        L_prev = L
        L = p["a_L"] * L_prev + p["V_L"] * nb(Y)
        Ynew = (F * (1 + p["beta"] * L) > E).to(S.dtype)
        for _ in range(int(max_link_passes)):
            L = p["a_L"] * L_prev + p["V_L"] * nb(Ynew)
            Ynext = (F * (1 + p["beta"] * L) > E).to(S.dtype)
            if torch.equal(Ynext, Ynew):
                break
            Ynew = Ynext
        else:
            cycled += 1
        Y = Ynew
        E = p["a_E"] * E + p["V_E"] * Y
        out[n] = Y[0, 0].numpy().astype(np.uint8)
    if cycled:
        warnings.warn(f"fast linking did not converge within {max_link_passes} passes in "
                      f"{cycled} of {steps} steps", RuntimeWarning, stacklevel=2)
    return PCNNResult(out, "classic", "torch", p)
