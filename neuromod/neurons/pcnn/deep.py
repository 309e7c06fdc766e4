"""Deep pulse-coupled networks (after Yi et al. 2023): PCNN neurons in convolutional
spiking networks trained through time with surrogate gradients.

The paper's operators are not public; what follows is neuromod's design from its
description, with each ingredient switchable so that its effect can be measured.

The neuron (:func:`dpcnn_neuron`), one step ``t`` (dimensionless)::

    F_t  = a_F F_{t-1} + x_t                   feeding: the synaptic drive
    L_t  = a_L L_{t-1} + c_t                   linking: the coupled pulses
    E_t- = a_E E_{t-1} + (1 - a_E) theta       threshold relaxes to theta
    Y_t  = H(F_t (1 + beta L_t) - E_t-)        pulse (surrogate gradient)
    E_t  = E_t- + V_E Y_t                      and jumps after a pulse

``E`` starts at ``theta``. The decays and ``beta`` are learnt, as logits and a
softplus pre-activation in the model's own equations (``a = 1/(1 + e^{-r})``,
``beta = log(1 + e^{b})``), so they stay in range whatever the optimiser does.
Defaults: ``a_F = a_L = a_E = 1/2``, ``beta = 0.1``, ``V_E = 1``, ``theta = 1``.

Coupling (the second input ``c``; :class:`~neuromod.backends.layers.SpikingConv2d`)
    ``none``; ``intra``: each feature map couples to itself through a learnable
    3 x 3 depthwise kernel; ``inter``: a learnable 3 x 3 convolution across all
    channels' pulses (the paper's inter-channel coupling). The tap of a neuron onto
    itself is held at 0.
Normalisation of the drive ``x``
    ``none``; ``bn``: batch statistics of each time step; ``rftd`` (after the paper's
    RFTD-BN): statistics pooled over the batch, all time steps and all positions of
    a channel (its receptive fields), scaled by a learnable gain starting at
    ``theta``.

Architecture (:func:`network`)
    Two 3 x 3 spiking convolutions of ``W`` and ``2 W`` channels, each followed by
    2 x 2 average pooling of the spikes (1 x 2 on one-row maps, e.g. mnist1d as a
    1 x 40 map), then a linear read-out of the last spikes averaged over ``T``
    steps. ``neuron='lif'`` is the same network of discrete LIF neurons (the
    ``conv-lif`` comparison).

Counts (:func:`counts`)
    Neurons: spiking units per time step. Synapses: weights counted per
    connection, kernel entries times output positions for convolutions (the
    coupling kernels included), inputs times outputs for the read-out.

Examples
--------
>>> net = network((1, 8, 8), 10, width=4)
>>> counts(net)
{'neurons': 384, 'synapses': 25280}
"""
import math

from neuromod.backends.model import NeuronModel
from neuromod.errors import ParameterError

__all__ = ["dpcnn_neuron", "network", "counts", "train", "NEURONS", "RECIPE"]

#: Neurons of :func:`network`.
NEURONS = ("pcnn", "lif")
#: Training recipe of ``neuromod train dpcnn|conv-lif``: Adam, learning rate 2e-3,
#: batches of 32, 30 epochs, 4 time steps.
RECIPE = {"epochs": 30, "batch_size": 32, "lr": 2e-3, "optimizer": "adam"}
#: Neuron parameters the deep PCNN learns.
LEARNED = ("r_F", "r_L", "r_E", "b")


def dpcnn_neuron(**parameters):
    """The pulse-coupled neuron of the deep PCNN (see the module docstring).

    Parameters
    ----------
    **parameters
        Overrides of ``r_F, r_L, r_E`` (logits of the decays), ``b`` (``beta =
        log(1 + e^b)``), ``V_E`` (>= 0) and ``theta``.

    Returns
    -------
    NeuronModel
        States ``F, L, E``; inputs ``x`` (drive) and ``c`` (coupled pulses).

    Examples
    --------
    >>> m = dpcnn_neuron()
    >>> m.inputs, round(m.derived_value("beta"), 6)
    (('x', 'c'), 0.1)
    """
    b0 = math.log(math.expm1(0.1))
    model = NeuronModel(
        "dpcnn", "F : 1\nL : 1\nE : 1\nx : 1\nc : 1",
        {"r_F": 0.0, "r_L": 0.0, "r_E": 0.0, "b": b0, "V_E": 1.0, "theta": 1.0},
        threshold="F*(1 + log(1 + exp(b))*L) > E", reset="E += V_E", inputs=("x", "c"),
        init={"E": "theta"},
        updates="E = E/(1 + exp(-r_E)) + theta*(1 - 1/(1 + exp(-r_E)))\n"
                "F = F/(1 + exp(-r_F)) + x\nL = L/(1 + exp(-r_L)) + c",
        domains={"r_F": "finite", "r_L": "finite", "r_E": "finite", "b": "finite",
                 "V_E": "non_negative", "theta": "positive"},
        derived={"a_F": "1/(1 + exp(-r_F))", "a_L": "1/(1 + exp(-r_L))",
                 "a_E": "1/(1 + exp(-r_E))", "beta": "log(1 + exp(b))"},
        description="pulse-coupled neuron of the deep PCNN (learnable decays and beta)")
    return model.with_parameters(**parameters) if parameters else model


def network(in_shape, n_classes, width=16, coupling="inter", norm="rftd", neuron="pcnn",
            time_steps=4, surrogate="fast_sigmoid", alpha=None):
    """The deep PCNN (or its conv-LIF twin) of the module docstring.

    Parameters
    ----------
    in_shape : (C, H, W)
    n_classes : int
    width : int
        Channels of the first convolution (the second has ``2 width``).
    coupling : {'none', 'intra', 'inter'}
        PCNN only (``lif`` takes ``'none'``).
    norm : {'none', 'bn', 'rftd'}
    neuron : {'pcnn', 'lif'}
    time_steps : int
    surrogate, alpha :
        Surrogate gradient of the threshold (both neurons).

    Returns
    -------
    SpikingNet

    Examples
    --------
    >>> import torch
    >>> net = network((1, 1, 40), 10, width=4, coupling="intra")
    >>> net(torch.rand(2, 1, 1, 40)).shape
    torch.Size([2, 10])
    """
    from neuromod.backends.layers import LinearReadout, SpikingConv2d, SpikingNet
    from neuromod.neurons.nsnn import discrete_lif
    if neuron not in NEURONS:
        raise ParameterError(f"neuron must be one of {', '.join(NEURONS)}, got {neuron!r}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ParameterError(f"width must be an integer >= 1, got {width!r}")
    if neuron == "lif" and coupling != "none":
        raise ParameterError("coupling needs PCNN neurons (neuron='pcnn'); a LIF network "
                             "takes coupling='none'")
    if neuron == "pcnn":
        model, learn = dpcnn_neuron(), LEARNED
    else:
        model, learn = discrete_lif(), ()
    shape = tuple(int(v) for v in in_shape)
    layers = []
    for ch in (width, 2 * width):
        pool = 2 if min(shape[1:]) >= 2 else (1, 2) if shape[2] >= 2 else 1
        layers.append(SpikingConv2d(shape, ch, 3, pool=pool, model=model, surrogate=surrogate,
                                    alpha=alpha, learn=learn, coupling=coupling, norm=norm))
        shape = layers[-1].out_shape
    layers.append(LinearReadout(math.prod(shape), n_classes))
    return SpikingNet(layers, readout="membrane", time_steps=time_steps, eval_noise=False,
                      in_shape=tuple(int(v) for v in in_shape))


def counts(net):
    """Neurons (spiking units per step) and synapses (connections: kernel entries times
    output positions, coupling kernels included; inputs times outputs of the
    read-out) of a :func:`network`.

    Examples
    --------
    Hand count for ``width=1`` on 1 x 4 x 4: conv 1 -> 1 channel (16 neurons, 9 x 16
    synapses), pool to 2 x 2, conv 1 -> 2 channels (8 neurons, 9 x 2 x 4), pool to
    1 x 1, read-out 2 -> 3:

    >>> counts(network((1, 4, 4), 3, width=1, coupling="none"))
    {'neurons': 24, 'synapses': 222}
    """
    neurons = synapses = 0
    for layer in net.layers:
        kind = getattr(layer, "kind", "")
        if kind == "conv2d":
            C, H, W = layer.conv_shape
            neurons += C * H * W
            k = layer.synapse.kernel_size
            synapses += layer.synapse.in_channels * k[0] * k[1] * C * H * W
            if layer.coupling != "none":
                synapses += int(layer.coupling_mask.sum().item()) * H * W
        elif kind == "dense":
            neurons += layer.n_out
            synapses += layer.n_in * layer.n_out
        elif kind == "readout":
            synapses += layer.n_in * layer.n_out
    return {"neurons": int(neurons), "synapses": int(synapses)}


def train(data="digits", neuron="pcnn", width=16, coupling="inter", norm="rftd",
          time_steps=4, options=None, split_seed=0, checkpoint=None, resume=False,
          progress=False):
    """Train a :func:`network` on a data set and score it on the held-out split (the
    recipe of ``neuromod train dpcnn`` and ``conv-lif``; mnist1d is a 1 x 40 map).

    Returns
    -------
    net : SpikingNet
    report : dict
        The report of :func:`neuromod.training.train_classifier` with a block
        ``dpcnn: {neuron, width, coupling, norm, time_steps, neurons, synapses}``.

    Examples
    --------
    >>> from neuromod.training import TrainOptions
    >>> net, rep = train("digits", width=2, options=TrainOptions(epochs=1, lr=5e-3,
    ...                                                          optimizer="adam"))
    >>> rep["dpcnn"]["coupling"], rep["test_accuracy"] > 0.2      # chance 0.1
    ('inter', True)
    """
    from neuromod.datasets import Dataset, load_dataset
    from neuromod.training import TrainOptions, train_classifier
    options = TrainOptions(**RECIPE) if options is None else options
    if neuron == "lif" and coupling == "inter":
        coupling = "none"
    network((1, 4, 4), 2, width=width, coupling=coupling, norm=norm, neuron=neuron,
            time_steps=time_steps)                 # every option checked first
    ds = data if isinstance(data, Dataset) else load_dataset(data)

    def build(shape, n_classes):
        return network(shape, n_classes, width=width, coupling=coupling, norm=norm,
                       neuron=neuron, time_steps=time_steps)

    net, report = train_classifier(build, ds, options, split_seed=split_seed,
                                   checkpoint=checkpoint, resume=resume,
                                   identity={"family": "dpcnn", "neuron": neuron},
                                   progress=progress)
    report["dpcnn"] = {"neuron": neuron, "width": width, "coupling": coupling, "norm": norm,
                       "time_steps": time_steps, **counts(net)}
    return net, report
