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
:func:`discrete_lif`
    The deterministic twin of ``noisy-lif`` (Heaviside threshold, surrogate
    gradient), for comparisons trained the same way.

Networks (:func:`classifier`) are :class:`~neuromod.backends.layers.SpikingNet`
stacks of dense or convolutional layers of these neurons. NSNN's options:

* the reset path is detached by default (``detach_reset=True``: the gradient does
  not flow through ``u <- u (1 - s)``), as in the digit recipe of MODELS.md; the
  official code does not detach it;
* noise at evaluation is on by default (``eval_noise=True``, the paper's
  protocol), and ``predict(x, ensemble=K)`` averages ``K`` stochastic passes;
  ``eval_noise=False`` thresholds the noise-free potential at evaluation;
* ``noise_in_state=True`` adds the sampled noise to the membrane (the official
  implementation; effective noise ``sigma sqrt 2`` on a fresh state, and it
  persists through the leak); by default the state stays noise-free (the paper's
  form ``P(spike) = F((u - theta)/sigma)``).

Examples
--------
>>> m = noisy_lif()
>>> m.updates, m.firing.noise, m.parameters["sigma"].value
('u = beta*u + x', 'gaussian', 0.3)
"""
from neuromod.backends.model import NeuronModel
from neuromod.backends.noise import Bernoulli, family
from neuromod.errors import ParameterError

__all__ = ["noisy_lif", "escape_lif", "discrete_lif", "classifier", "train", "RECIPE",
           "RESETS", "NEURONS", "ARCHS"]

#: Neurons of :func:`classifier`: NSNN's noisy LIF, or its deterministic twin.
NEURONS = ("nsnn", "lif")
#: Architectures of :func:`classifier`.
ARCHS = ("dense", "conv")

#: The training recipe of :func:`train` (``neuromod train nsnn|lif``): 40 epochs of SGD
#: with momentum 0.9, learning rate 0.05, batches of 32 (chosen, with the membrane
#: read-out, on the validation split of the digit training set; docs/nsnn.md).
RECIPE = {"epochs": 40, "batch_size": 32, "lr": 0.05, "optimizer": "sgd", "momentum": 0.9}

#: Reset rules of :func:`noisy_lif`: to zero, or by subtracting the threshold.
RESETS = {"zero": "u = 0", "subtract": "u -= theta"}


def noisy_lif(noise="gaussian", reset="zero", pre_reset=False, **parameters):
    """The discrete-time noisy LIF neuron of NSNN.

    Parameters
    ----------
    noise : {'gaussian', 'logistic', 'triangular', 'uniform'}
        The noise family (``sigma`` is its standard deviation).
    reset : {'zero', 'subtract'}
        Hard reset to 0 (the paper's) or reset by subtraction of ``theta``.
    pre_reset : bool
        Add a state ``q``, the potential of the step before its reset (the one the
        firing probability ``F((q - theta)/sigma)`` was computed from), for models
        that score recorded spikes under the neuron.
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
        "noisy-lif", "u : 1\nq : 1\nx : 1" if pre_reset else "u : 1\nx : 1",
        {"beta": 0.5, "theta": 1.0, "sigma": 0.3},
        threshold="u > theta", reset=RESETS[reset], inputs=("x",), ports={"e": "u += w"},
        updates="u = beta*u + x\nq = u" if pre_reset else "u = beta*u + x",
        firing=Bernoulli(noise, "sigma"),
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


def discrete_lif(reset="zero", **parameters):
    """The deterministic discrete LIF: ``u <- beta u + x``, spike when ``u > theta``
    (Heaviside, trained through a surrogate gradient), reset as :func:`noisy_lif`.

    Examples
    --------
    >>> m = discrete_lif()
    >>> m.firing is None, m.updates
    (True, 'u = beta*u + x')
    """
    if reset not in RESETS:
        raise ParameterError(f"reset must be one of {', '.join(RESETS)}, got {reset!r}")
    model = NeuronModel(
        "discrete-lif", "u : 1\nx : 1", {"beta": 0.5, "theta": 1.0},
        threshold="u > theta", reset=RESETS[reset], inputs=("x",), ports={"e": "u += w"},
        updates="u = beta*u + x", domains={"beta": "unit_interval", "theta": "finite"},
        derived={"rheobase": "theta*(1 - beta)"},
        description="discrete deterministic LIF (surrogate gradient)")
    return model.with_parameters(**parameters) if parameters else model


def classifier(in_shape, n_classes, arch="dense", hidden=128, time_steps=4, neuron="nsnn",
               noise="gaussian", sigma=0.3, beta=0.5, theta=1.0, reset="zero",
               readout="membrane", eval_noise=True, ensemble=1, noise_in_state=False,
               detach_reset=True, channels=(16, 32), surrogate="gaussian", alpha=None):
    """A spiking classifier of NSNN neurons (or deterministic LIF ones).

    ``arch='dense'``: ``prod(in_shape) -> hidden -> n_classes`` (the 64-128-10 net
    of the digit recipe for 8 x 8 images). ``arch='conv'``: for each entry of
    ``channels`` a 3 x 3 convolution (same padding) of spiking neurons followed by
    2 x 2 average pooling of the spikes where the map is still at least 2 x 2,
    then dense ``hidden -> n_classes``. Every layer is spiking; the read-out is
    by default (``readout='membrane'``) a linear read-out of the last hidden
    layer's spikes averaged over ``time_steps`` steps, or the spike count (or
    rate) of a layer of spiking output neurons. The default was chosen on the
    validation split of the digit training set (docs/nsnn.md): spiking output
    neurons can fall silent for good, taking their class with them.

    Parameters
    ----------
    in_shape : tuple
        ``(C, H, W)`` of one input (a dense net flattens it).
    n_classes : int
    neuron : {'nsnn', 'lif'}
        :func:`noisy_lif` (Bernoulli firing, NDL gradient), or :func:`discrete_lif`
        trained through a surrogate gradient (by default the Gaussian of width
        ``sigma``, the density NDL uses for Gaussian noise, so that the two differ
        only by the noise in the forward pass).
    noise, sigma, beta, theta, reset :
        Neuron parameters (per step, dimensionless).
    readout, eval_noise, ensemble :
        See :class:`~neuromod.backends.layers.SpikingNet`.
    noise_in_state, detach_reset :
        See the module docstring.
    surrogate, alpha :
        The surrogate gradient of ``neuron='lif'`` (default: the Gaussian of
        standard deviation ``sigma``, ``alpha = 1/sigma``).

    Returns
    -------
    SpikingNet

    Examples
    --------
    >>> import torch
    >>> net = classifier((1, 8, 8), 10)
    >>> [tuple(layer.synapse.weight.shape) for layer in net.layers]
    [(128, 64), (10, 128)]
    >>> net.predict(torch.rand(5, 1, 8, 8), ensemble=4).shape
    torch.Size([5, 10])
    """
    from neuromod.backends.layers import LinearReadout, SpikingConv2d, SpikingDense, SpikingNet
    if neuron not in NEURONS:
        raise ParameterError(f"neuron must be one of {', '.join(NEURONS)}, got {neuron!r}")
    if arch not in ARCHS:
        raise ParameterError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    if not (isinstance(sigma, (int, float)) and sigma > 0):
        raise ParameterError(f"sigma must be > 0, got {sigma!r}")
    if neuron == "nsnn":
        model = noisy_lif(noise, reset, beta=beta, theta=theta, sigma=sigma)
        opts = {"noise_in_state": noise_in_state}
    else:
        if noise_in_state:
            raise ParameterError("noise_in_state applies to neuron='nsnn' only")
        model = discrete_lif(reset, beta=beta, theta=theta)
        if surrogate == "gaussian" and alpha is None:
            alpha = 1.0 / float(sigma)
        opts = {"surrogate": surrogate, "alpha": alpha}
    opts["detach_reset"] = detach_reset
    shape = tuple(int(v) for v in in_shape)
    layers = []
    if arch == "conv":
        for c in channels:
            pool = 2 if min(shape[1:]) >= 4 else 1
            layers.append(SpikingConv2d(shape, int(c), 3, pool=pool, model=model, **opts))
            shape = layers[-1].out_shape
    n = 1
    for v in shape:
        n *= v
    layers.append(SpikingDense(n, int(hidden), model, **opts))
    if readout == "membrane":
        layers.append(LinearReadout(int(hidden), int(n_classes)))
    else:
        layers.append(SpikingDense(int(hidden), int(n_classes), model, **opts))
    return SpikingNet(layers, readout=readout, time_steps=time_steps, eval_noise=eval_noise,
                      ensemble=ensemble, in_shape=tuple(int(v) for v in in_shape))


def train(data="digits", neuron="nsnn", options=None, split_seed=0, checkpoint=None,
          resume=False, progress=False, **net_options):
    """Train a :func:`classifier` on a data set and score it on the held-out split.

    The recipe of ``neuromod train nsnn`` (and ``lif``): the splits of
    :func:`neuromod.datasets.split` (test 30 %, validation 10 % of the rest), the
    epoch with the best validation accuracy kept, the test split scored once at
    the end with ``options.ensemble`` stochastic passes (noise on at evaluation
    unless ``eval_noise=False``).

    Parameters
    ----------
    data : str or Dataset
        A :func:`neuromod.datasets.load_dataset` spec (default ``'digits'``).
    neuron : {'nsnn', 'lif'}
    options : TrainOptions, optional
        Default: :data:`RECIPE`.
    split_seed : int
    checkpoint, resume, progress :
        See :func:`neuromod.training.fit`.
    **net_options :
        Keyword arguments of :func:`classifier` (``arch``, ``hidden``,
        ``time_steps``, ``noise``, ``sigma``, ``beta``, ``theta``, ``reset``,
        ``readout``, ``eval_noise``, ``noise_in_state``...).

    Returns
    -------
    net : SpikingNet
    report : dict
        The report of :func:`neuromod.training.train_classifier` with a block
        ``nsnn``: ``neuron, noise, sigma, beta, theta, reset, arch, hidden,
        time_steps, readout, eval_noise, ensemble`` (``noise`` is None for
        ``neuron='lif'``).

    Examples
    --------
    >>> from neuromod.training import TrainOptions
    >>> net, report = train("digits", options=TrainOptions(epochs=3, momentum=0.9),
    ...                     hidden=32)
    >>> report["nsnn"]["noise"], report["epochs"], report["test_accuracy"] > 0.2  # chance: 0.1
    ('gaussian', 3, True)
    """
    from neuromod.training import TrainOptions, train_classifier
    options = TrainOptions(**RECIPE) if options is None else options
    if neuron not in NEURONS:
        raise ParameterError(f"neuron must be one of {', '.join(NEURONS)}, got {neuron!r}")
    kw = dict(net_options)
    kw.setdefault("ensemble", options.ensemble)

    def build(in_shape, n_classes):
        return classifier(in_shape, n_classes, neuron=neuron, **kw)

    # every option is checked before any data are loaded
    probe = classifier((1, 2, 2), 2, neuron=neuron, **{**kw, "hidden": 1})
    net, report = train_classifier(build, data, options, split_seed=split_seed,
                                   checkpoint=checkpoint, resume=resume,
                                   identity={"family": "nsnn", "neuron": neuron},
                                   progress=progress)
    import inspect
    defaults = inspect.signature(classifier).parameters
    block = {k: kw.get(k, defaults[k].default) for k in (
        "arch", "hidden", "time_steps", "noise", "sigma", "beta", "theta", "reset", "readout",
        "eval_noise")}
    block.update(neuron=neuron, ensemble=probe.ensemble)
    if neuron == "lif":
        block["noise"] = None
    report["nsnn"] = block
    return net, report
