"""Spiking layers and networks for training, on the Torch backend.

A layer is a synapse -- dense (:class:`SpikingDense`) or a 2-D convolution
(:class:`SpikingConv2d`) -- in front of a population of one
:class:`~neuromod.backends.model.NeuronModel` run by
:class:`~neuromod.backends.torch_backend.NeuronLayer`, so the neuron's equations
are those written once in its definition. :class:`SpikingNet` stacks layers,
runs them over ``time_steps`` steps and reads the last one out.

Time runs along the last axis: a dense layer takes ``(batch, n_in, T)``, a
convolution ``(batch, C, H, W, T)``. In step ``t`` the synapse maps the input of
step ``t`` to the drive of the neurons (their first input, e.g. ``x`` of
``noisy-lif``: ``u <- beta u + W s_t + b``), all steps at once (one matrix product
for the whole time axis).

Stochastic firing (:class:`~neuromod.backends.noise.Bernoulli` models)
    Uniform variates come from the ``generator`` passed to ``forward`` (one draw
    per layer, in layer order), so a seeded generator reproduces a pass. In eval
    mode a net built with ``eval_noise=False`` fires deterministically: the
    variates are all ``1/2``, and since every noise family is symmetric,
    ``1/2 < F(d/sigma)`` exactly when ``d > 0`` -- the noise-free threshold.
    ``noise_in_state=True`` (a layer option) adds ``sigma * F^-1(U)`` of fresh
    variates ``U`` to the drive of every step, so the noise enters the membrane and
    persists through its leak, as in the official NSNN implementation: a fresh
    neuron then fires with the probability of the sum of two independent noises,
    ``Phi((u - theta) / (sigma sqrt 2))`` for Gaussian noise.

Perturbations (:class:`Perturbation`)
    ``SpikingNet(x, perturbation=p)`` hands every spiking layer's drive
    ``(batch, n, T)`` to ``p.drive`` before its neurons integrate it (membrane
    noise: ``u <- beta u + x_t + xi_t``) and its emitted spikes to ``p.spikes``
    before they are sent on (before pooling): transmission faults. The neurons'
    own reset follows the spikes they emitted. The read-out layer is not
    perturbed. :mod:`neuromod.neurons.nsnn.robustness` builds its spike-level and
    membrane perturbations on this.

Read-outs of :class:`SpikingNet`
    ``'rate'``: mean spikes per step of the last layer's neurons; ``'count'``: their
    spike count; ``'membrane'``: a non-spiking linear read-out layer
    (:class:`LinearReadout`), ``mean_t (W s_t + b)``.

Examples
--------
>>> import torch
>>> from neuromod.neurons.nsnn import noisy_lif
>>> net = SpikingNet([SpikingDense(4, 8, noisy_lif()), SpikingDense(8, 3, noisy_lif())],
...                  time_steps=5)
>>> g = torch.Generator().manual_seed(0)
>>> tuple(net(torch.rand(2, 4, generator=g), generator=g).shape)
(2, 3)
>>> SpikingNet.from_config(net.config()).config() == net.config()
True
"""
import math

import torch
from torch import nn

from neuromod.backends.model import NeuronModel
from neuromod.backends.torch_backend import NeuronLayer
from neuromod.errors import ParameterError

__all__ = ["SpikingDense", "SpikingConv2d", "LinearReadout", "SpikingNet", "Perturbation",
           "READOUTS", "COUPLINGS", "NORMS", "layer_from_config", "chain_shapes",
           "check_branches", "conv_geometry"]

#: Read-outs of :class:`SpikingNet`.
READOUTS = ("rate", "count", "membrane")
#: Recurrent couplings of :class:`SpikingConv2d`.
COUPLINGS = ("none", "intra", "inter")
#: Drive normalisations of :class:`SpikingConv2d`.
NORMS = ("none", "bn", "rftd")


def check_branches(branches):
    """``branches`` as an int if it is an integer >= 1, else a one-line ParameterError."""
    if isinstance(branches, bool) or not isinstance(branches, int) or branches < 1:
        raise ParameterError(f"branches must be an integer >= 1, got {branches!r}")
    return int(branches)


def conv_geometry(in_shape, kernel_size, stride, padding, pool):
    """``(C, H, W), k, stride, padding, (ph, pw), (Ho, Wo)`` of a 2-D convolution with
    ``padding`` None meaning ``kernel_size // 2`` and ``pool`` an int or ``(ph, pw)``;
    a one-line ParameterError when it leaves no output."""
    C, H, W = (int(v) for v in in_shape)
    k, st = int(kernel_size), int(stride)
    pad = k // 2 if padding is None else int(padding)
    ph, pw = (int(pool), int(pool)) if isinstance(pool, (int, float)) else (
        int(pool[0]), int(pool[1]))
    Ho, Wo = (H + 2 * pad - k) // st + 1, (W + 2 * pad - k) // st + 1
    if min(Ho, Wo) < 1 or min(ph, pw) < 1 or Ho // ph < 1 or Wo // pw < 1:
        raise ParameterError(f"conv layer: input {C}x{H}x{W} with kernel {k}, stride {st}, "
                             f"padding {pad}, pool {pool} leaves no output")
    return (C, H, W), k, st, pad, (ph, pw), (Ho, Wo)


class Perturbation:
    """Hooks a :class:`SpikingNet` calls in every spiking layer (identity here;
    subclass and override either).

    ``drive(drive, generator)`` gets the synaptic drive ``(batch, n, T)`` of a
    layer's neurons and returns the drive they integrate; ``spikes(spikes,
    generator)`` gets the spikes ``(batch, n, T)`` they emitted and returns the
    spikes sent to the next layer. ``generator`` is the pass's generator, so a
    seeded pass stays reproducible.

    Examples
    --------
    >>> import torch
    >>> from neuromod.neurons.nsnn import noisy_lif
    >>> class Silence(Perturbation):
    ...     def spikes(self, spikes, generator):
    ...         return torch.zeros_like(spikes)
    >>> net = SpikingNet([SpikingDense(4, 8, noisy_lif()), SpikingDense(8, 3, noisy_lif())])
    >>> net(torch.full((2, 4), 5.0), perturbation=Silence()).abs().sum().item()
    0.0
    """

    def drive(self, drive, generator):
        return drive

    def spikes(self, spikes, generator):
        return spikes


class _Spiking(nn.Module):
    """A synapse followed by a :class:`NeuronLayer` (shared machinery of the layers)."""

    def _make_neurons(self, model, n, params, surrogate, alpha, detach_reset, noise_in_state,
                      dt, dtype, device, branches=1, learn=(), drive=None):
        if not isinstance(model, NeuronModel):
            raise TypeError(f"model must be a NeuronModel, got {type(model).__name__}")
        self.branches = check_branches(branches)
        if self.branches > len(model.inputs):
            raise ParameterError(f"{self.branches} branches need a model with as many inputs; "
                                 f"{model.name!r} has {len(model.inputs)} (build it with "
                                 "neuromod.neurons.dendritic.dendritic_neuron)")
        if self.branches > 1 and noise_in_state:
            raise ParameterError("noise_in_state applies to layers of one drive (branches=1)")
        if drive is None:
            drive = (tuple(model.inputs[:self.branches]) if self.branches > 1 else
                     model.inputs[0] if model.inputs else None)
        learn = tuple(learn or ())
        self.neurons = NeuronLayer(model, n, dt, drive=drive, surrogate=surrogate, alpha=alpha,
                                   params=params, dtype=dtype, device=device,
                                   detach_reset=detach_reset, train=learn)
        if noise_in_state and model.firing is None:
            raise ParameterError(f"noise_in_state needs a model with Bernoulli firing; "
                                 f"{model.name!r} fires deterministically")
        self.noise_in_state = bool(noise_in_state)
        self._neuron_config = {
            "model": model.to_dict(), "params": _jsonable_params(params),
            "surrogate": None if self.neurons.surrogate is None else self.neurons.surrogate.name,
            "alpha": None if self.neurons.surrogate is None else self.neurons.surrogate.alpha,
            "detach_reset": bool(detach_reset), "noise_in_state": self.noise_in_state,
            "dt": self.neurons.dt, "branches": self.branches, "learn": list(learn)}

    @property
    def stochastic(self) -> bool:
        """Whether the neurons fire stochastically (Bernoulli firing)."""
        return bool(self.neurons.tm.compiled.noise)

    def _fire(self, drive, generator, noise, perturbation=None):
        """Run the neurons on ``drive`` (batch, n, T); ``noise=False`` fires at the
        noise-free threshold (variates 1/2, no state noise); ``perturbation`` (a
        :class:`Perturbation`) sees the drive and the emitted spikes."""
        if perturbation is None:
            return self._emit(drive, generator, noise)
        s = self._emit(perturbation.drive(drive, generator), generator, noise)
        return perturbation.spikes(s, generator)

    def _drive(self, z, B, T):
        """Synapse outputs ``(B, T, K n)`` -> the neurons' drive: ``(B, n, T)``, or
        ``(B, K, n, T)`` for ``K > 1`` branches (row ``k n + j``: branch ``k`` of
        neuron ``j``)."""
        if self.branches == 1:
            return z.transpose(1, 2)
        return z.reshape(B, T, self.branches, -1).permute(0, 2, 3, 1)

    def _emit(self, drive, generator, noise):
        if not self.stochastic:
            return self.neurons(drive)
        B, T, n = drive.shape[0], drive.shape[-1], self.neurons.n
        from neuromod.backends.noise import variates
        if not noise:
            half = torch.full((T, B, n), 0.5, dtype=torch.float64, device=drive.device)
            return self.neurons(drive, variates=half)
        R = variates((T, B, n), generator, drive.device)
        if self.noise_in_state:
            nl = self.neurons
            P = nl.params()
            sigma = nl.tm.parameter_value(nl.tm.compiled.scale, P, drive.dtype)
            U = variates((T, B, n), generator, drive.device).clamp(1e-12, 1.0 - 1e-12)
            from neuromod.backends.noise import family
            eps = family(nl.tm.compiled.noise).ppf(U).to(drive.dtype).permute(1, 2, 0)
            drive = drive + sigma * eps
        return self.neurons(drive, variates=R)


def _jsonable_params(params):
    out = {}
    for k, v in dict(params or {}).items():
        if isinstance(v, (bool, int, float, str)):
            out[k] = v
        else:
            raise ParameterError(f"layer parameter {k!r}: give a number or Brian2 text "
                                 f"(per-neuron values are set on the trained layer)")
    return out


class SpikingDense(_Spiking):
    """A dense synapse ``nn.Linear(n_in, n_out)`` driving ``n_out`` neurons of ``model``.

    Parameters
    ----------
    n_in, n_out : int
    model : NeuronModel
        Driven through its first input (``x`` of ``noisy-lif``).
    params : dict, optional
        Parameter overrides (numbers or Brian2 text), shared by the neurons.
    surrogate, alpha : optional
        Surrogate of a deterministic model (see :class:`NeuronLayer`); none for
        Bernoulli firing.
    detach_reset : bool
        Stop gradients through the reset (default, as NSNN's digit recipe).
    noise_in_state : bool
        Bernoulli models: add noise of the firing's family and ``sigma`` to the
        membrane in every step (see the module docstring).
    bias : bool
    dt : float
        Step length in seconds (only models that use ``dt`` see it).
    branches : int
        ``K > 1``: dendritic neurons with ``K`` branch drives (a model of
        :func:`neuromod.neurons.dendritic.dendritic_neuron`); the synapse is
        ``nn.Linear(n_in, K n_out)``, row ``k n_out + j`` driving branch ``k``
        of neuron ``j`` (its input ``model.inputs[k]``). The perturbation's
        ``drive`` hook then sees ``(batch, K, n_out, T)``.
    learn : sequence of str
        Neuron parameters trained with the weights (``nn.Parameter`` of the
        neuron layer, shared by its neurons), e.g. a model's decays.

    Examples
    --------
    >>> import torch
    >>> from neuromod.neurons.nsnn import noisy_lif
    >>> layer = SpikingDense(3, 2, noisy_lif())
    >>> tuple(layer(torch.zeros(1, 3, 4)).shape)
    (1, 2, 4)
    """
    kind = "dense"

    def __init__(self, n_in, n_out, model, params=None, surrogate=None, alpha=None,
                 detach_reset=True, noise_in_state=False, bias=True, dt=1e-3,
                 dtype=torch.float32, device=None, branches=1, learn=()):
        super().__init__()
        self.n_in, self.n_out = int(n_in), int(n_out)
        self._make_neurons(model, self.n_out, params, surrogate, alpha, detach_reset,
                           noise_in_state, dt, dtype, device, branches, learn)
        self.synapse = nn.Linear(self.n_in, self.n_out * self.branches, bias=bias, dtype=dtype,
                                 device=device)
        self.in_shape, self.out_shape = (self.n_in,), (self.n_out,)
        self._config = {"kind": self.kind, "n_in": self.n_in, "n_out": self.n_out,
                        "bias": bool(bias), **self._neuron_config}

    def forward(self, x, generator=None, noise=True, perturbation=None):
        """Spikes ``(batch, n_out, T)`` for inputs ``(batch, n_in, T)``."""
        if x.ndim != 3 or x.shape[1] != self.n_in:
            raise ValueError(f"dense layer: input must be (batch, {self.n_in}, time), "
                             f"got {tuple(x.shape)}")
        drive = self._drive(self.synapse(x.transpose(1, 2)), x.shape[0], x.shape[-1])
        return self._fire(drive, generator, noise, perturbation)

    def config(self) -> dict:
        """The layer's definition as JSON-ready values (weights excluded)."""
        return dict(self._config)


class SpikingConv2d(_Spiking):
    """A 2-D convolution ``nn.Conv2d`` driving one neuron of ``model`` per output
    position and channel, optionally followed by average pooling of the spikes.

    Parameters
    ----------
    in_shape : (C, H, W)
    channels : int
        Output channels.
    kernel_size, stride : int
    padding : int, optional
        Default ``kernel_size // 2`` (same size at stride 1).
    pool : int or (int, int)
        Average-pooling window and stride on the spikes (1: none; ``(1, 2)`` pools
        along the width only, for one-row maps).
    model, params, surrogate, alpha, detach_reset, noise_in_state, bias, dt :
        As :class:`SpikingDense`.
    branches, learn : int, sequence of str
        As :class:`SpikingDense`: the convolution has ``K channels`` output
        channels, channel ``k channels + c`` the branch ``k`` of channel ``c``.
    coupling : {'none', 'intra', 'inter'}
        Recurrent coupling of the layer's own pulses into the model's second
        input (``model.inputs[1]``, e.g. the linking input of a pulse-coupled
        neuron): in step ``t`` it receives ``K * s_{t-1}``, a learnable
        ``coupling_size`` x ``coupling_size`` convolution of the previous step's
        spikes, each map with itself (``'intra'``, depthwise) or across all
        channels (``'inter'``); the centre tap of a neuron onto itself is held at 0.
        The layer then runs step by step.
    coupling_size : int
        Odd kernel size of the coupling (default 3).
    norm : {'none', 'bn', 'rftd'}
        Normalisation of the synaptic drive per channel: ``'bn'``, batch
        statistics of each time step separately (over batch and positions);
        ``'rftd'``, statistics pooled over the batch, every time step and every
        position (all receptive fields of the channel), the normalised drive
        scaled by a learnable gain that starts at the model's threshold
        ``theta`` (1 when it has none). Both keep running statistics for eval.

    Examples
    --------
    >>> import torch
    >>> from neuromod.neurons.nsnn import noisy_lif
    >>> layer = SpikingConv2d((1, 8, 8), 4, 3, model=noisy_lif(), pool=2)
    >>> layer.out_shape, tuple(layer(torch.zeros(2, 1, 8, 8, 3)).shape)
    ((4, 4, 4), (2, 4, 4, 4, 3))
    """
    kind = "conv2d"

    def __init__(self, in_shape, channels, kernel_size=3, stride=1, padding=None, pool=1,
                 model=None, params=None, surrogate=None, alpha=None, detach_reset=True,
                 noise_in_state=False, bias=True, dt=1e-3, dtype=torch.float32, device=None,
                 branches=1, learn=(), coupling="none", coupling_size=3, norm="none"):
        super().__init__()
        (C, H, W), k, st, pad, (ph, pw), (Ho, Wo) = conv_geometry(in_shape, kernel_size,
                                                                  stride, padding, pool)
        self.conv_shape = (int(channels), Ho, Wo)
        if coupling not in COUPLINGS:
            raise ParameterError(f"coupling must be one of {', '.join(COUPLINGS)}, "
                                 f"got {coupling!r}")
        if norm not in NORMS:
            raise ParameterError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        if coupling != "none":
            if noise_in_state:
                raise ParameterError("noise_in_state applies to uncoupled layers")
            if len(model.inputs) < 2 or branches != 1:
                raise ParameterError(f"coupling needs a model with a second input for the "
                                     f"coupled pulses (and one branch); {model.name!r} has "
                                     f"inputs {', '.join(model.inputs) or 'none'}")
            cs = int(coupling_size)
            if cs < 1 or cs % 2 == 0:
                raise ParameterError(f"coupling_size must be odd and >= 1, got {coupling_size}")
        self.coupling, self.norm = coupling, norm
        self._make_neurons(model, int(channels) * Ho * Wo, params, surrogate, alpha,
                           detach_reset, noise_in_state, dt, dtype, device, branches, learn,
                           drive=tuple(model.inputs[:2]) if coupling != "none" else None)
        if coupling != "none":
            ch = int(channels)
            self.coupler = nn.Conv2d(ch, ch, cs, 1, cs // 2, bias=False,
                                     groups=ch if coupling == "intra" else 1, dtype=dtype,
                                     device=device)
            nn.init.constant_(self.coupler.weight, 1.0 / (cs * cs - 1) if cs > 1 else 0.0)
            mask = torch.ones_like(self.coupler.weight)
            r = cs // 2
            for c in range(ch):
                mask[c, 0 if coupling == "intra" else c, r, r] = 0.0
            self.register_buffer("coupling_mask", mask)
        self.synapse = nn.Conv2d(C, int(channels) * self.branches, k, st, pad, bias=bias,
                                 dtype=dtype, device=device)
        if norm != "none":
            gain = 1.0
            if norm == "rftd" and "theta" in model.parameters:
                gain = float(model.resolve_parameters(1, params)["theta"])
            self.drive_norm = nn.BatchNorm2d(int(channels) * self.branches, dtype=dtype,
                                             device=device)
            nn.init.constant_(self.drive_norm.weight, gain)
        self.pool = ph if ph == pw else (ph, pw)
        self._pool = (ph, pw)
        self.in_shape = (C, H, W)
        self.out_shape = (int(channels), Ho // ph, Wo // pw)
        self._config = {"kind": self.kind, "in_shape": list(self.in_shape),
                        "channels": int(channels), "kernel_size": k, "stride": st,
                        "padding": pad, "pool": self.pool if ph == pw else [ph, pw],
                        "bias": bool(bias),
                        "coupling": coupling, "coupling_size": int(coupling_size),
                        "norm": norm, **self._neuron_config}

    def forward(self, x, generator=None, noise=True, perturbation=None):
        """Spikes (pooled) ``(batch, *out_shape, T)`` for inputs ``(batch, C, H, W, T)``."""
        if x.ndim != 5 or tuple(x.shape[1:4]) != self.in_shape:
            raise ValueError(f"conv layer: input must be (batch, {', '.join(map(str, self.in_shape))}"
                             f", time), got {tuple(x.shape)}")
        B, T = x.shape[0], x.shape[-1]
        frames = x.permute(0, 4, 1, 2, 3).reshape(B * T, *self.in_shape)
        z = self.synapse(frames)                                            # (B T, K C, H, W)
        if self.norm == "rftd":         # one set of statistics over batch, time, positions
            z = self.drive_norm(z)
        elif self.norm == "bn":         # statistics of each step
            z = z.reshape(B, T, *z.shape[1:])
            z = torch.stack([self.drive_norm(z[:, t]) for t in range(T)], 1)
        drive = self._drive(z.reshape(B, T, -1), B, T)                      # (B, [K,] n, T)
        if self.coupling != "none":
            s = self._coupled(drive, generator, noise, perturbation)
        else:
            s = self._fire(drive, generator, noise, perturbation)
        if self._pool != (1, 1):
            s = s.transpose(1, 2).reshape(B * T, *self.conv_shape)
            s = nn.functional.avg_pool2d(s, self._pool)
            s = s.reshape(B, T, -1).transpose(1, 2)
        return s.reshape(B, *self.out_shape, T)

    def _coupled(self, drive, generator, noise, perturbation):
        """Step by step: the coupling of the previous step's spikes goes to the
        model's second input."""
        if perturbation is not None:
            drive = perturbation.drive(drive, generator)
        B, n, T = drive.shape
        w = self.coupler.weight * self.coupling_mask
        groups = self.coupler.groups
        pad = self.coupler.padding
        y = torch.zeros(B, *self.conv_shape, dtype=drive.dtype, device=drive.device)
        S, out = None, []
        for t in range(T):
            c = nn.functional.conv2d(y, w, padding=pad, groups=groups).reshape(B, n)
            x = torch.stack([drive[..., t], c], 1).unsqueeze(-1)           # (B, 2, n, 1)
            if self.stochastic and not noise:
                half = torch.full((1, B, n), 0.5, dtype=torch.float64, device=drive.device)
                st, _, S = self.neurons(x, state=S, return_state=True, variates=half)
            else:
                st, _, S = self.neurons(x, state=S, return_state=True, generator=generator)
            if perturbation is not None:
                st = perturbation.spikes(st, generator)
            out.append(st[..., 0])
            y = st[..., 0].reshape(B, *self.conv_shape)
        return torch.stack(out, -1)

    def config(self) -> dict:
        """The layer's definition as JSON-ready values (weights excluded)."""
        return dict(self._config)


class LinearReadout(nn.Module):
    """A non-spiking read-out: ``mean_t (W s_t + b)``, the time-averaged membrane of
    linear units driven by the spikes ``s_t`` of the layer before.

    Examples
    --------
    >>> import torch
    >>> r = LinearReadout(3, 2)
    >>> tuple(r(torch.ones(4, 3, 5)).shape)
    (4, 2)
    """
    kind = "readout"
    stochastic = False

    def __init__(self, n_in, n_out, bias=True, dtype=torch.float32, device=None):
        super().__init__()
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.synapse = nn.Linear(self.n_in, self.n_out, bias=bias, dtype=dtype, device=device)
        self.in_shape, self.out_shape = (self.n_in,), (self.n_out,)
        self._config = {"kind": self.kind, "n_in": self.n_in, "n_out": self.n_out,
                        "bias": bool(bias)}

    def forward(self, x, generator=None, noise=True, perturbation=None):
        """``(batch, n_out)`` for spikes ``(batch, n_in, T)``."""
        return self.synapse(x.mean(-1))

    def config(self) -> dict:
        return dict(self._config)


def layer_from_config(cfg, dtype=torch.float32, device=None):
    """Rebuild a layer from its :meth:`config` (weights fresh; load them after)."""
    cfg = dict(cfg)
    kind = cfg.pop("kind", None)
    if kind == "readout":
        return LinearReadout(cfg["n_in"], cfg["n_out"], cfg["bias"], dtype, device)
    neuron = dict(model=NeuronModel.from_dict(cfg.pop("model")), params=cfg.pop("params"),
                  surrogate=cfg.pop("surrogate"), alpha=cfg.pop("alpha"),
                  detach_reset=cfg.pop("detach_reset"), noise_in_state=cfg.pop("noise_in_state"),
                  dt=cfg.pop("dt"), bias=cfg.pop("bias"), dtype=dtype, device=device,
                  branches=cfg.pop("branches", 1), learn=tuple(cfg.pop("learn", ())))
    if kind == "dense":
        return SpikingDense(cfg["n_in"], cfg["n_out"], **neuron)
    if kind == "conv2d":
        return SpikingConv2d(cfg["in_shape"], cfg["channels"], cfg["kernel_size"], cfg["stride"],
                             cfg["padding"], cfg["pool"], coupling=cfg.get("coupling", "none"),
                             coupling_size=cfg.get("coupling_size", 3),
                             norm=cfg.get("norm", "none"), **neuron)
    raise ValueError(f"unknown layer kind {kind!r}")


def chain_shapes(layers, in_shape, conv_type):
    """Check that ``layers`` chain (a ``conv_type`` layer takes the previous output's
    shape, any other layer its flattened size) and that ``in_shape`` (default: the
    first layer's) fits the first layer; return the input shape as a tuple."""
    for a, b in zip(layers, layers[1:]):
        ok = (b.in_shape == a.out_shape) if isinstance(b, conv_type) else (
            b.in_shape[0] == math.prod(a.out_shape))
        if not ok:
            raise ParameterError(f"layer shapes do not chain: {a.out_shape} -> {b.in_shape}")
    shape = tuple(layers[0].in_shape if in_shape is None else (int(v) for v in in_shape))
    if math.prod(shape) != math.prod(layers[0].in_shape) or (
            isinstance(layers[0], conv_type) and shape != tuple(layers[0].in_shape)):
        raise ParameterError(f"in_shape {shape} does not fit the first layer "
                             f"({layers[0].in_shape})")
    return shape


class SpikingNet(nn.Module):
    """Spiking layers run for ``time_steps`` steps, with a read-out.

    Parameters
    ----------
    layers : sequence of layers
        :class:`SpikingDense`, :class:`SpikingConv2d` and, last, optionally a
        :class:`LinearReadout` (required for ``readout='membrane'``). A dense layer
        after a convolution takes its output flattened.
    readout : {'rate', 'count', 'membrane'}
    time_steps : int
        Steps a static input is presented for.
    eval_noise : bool
        Stochastic neurons stay stochastic in eval mode (default, as in NSNN);
        ``False`` fires them at the noise-free threshold in eval mode. Training
        mode is always stochastic.
    ensemble : int
        Default number of stochastic passes :meth:`predict` averages.
    in_shape : tuple, optional
        Shape of one input (default: the first layer's); a dense first layer takes
        it flattened, e.g. ``(1, 8, 8)`` images into ``SpikingDense(64, ...)``.

    Examples
    --------
    See the module docstring.
    """

    def __init__(self, layers, readout="rate", time_steps=4, eval_noise=True, ensemble=1,
                 in_shape=None):
        super().__init__()
        if readout not in READOUTS:
            raise ParameterError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
        layers = list(layers)
        if not layers:
            raise ParameterError("a spiking net needs at least one layer")
        if (readout == "membrane") != isinstance(layers[-1], LinearReadout):
            raise ParameterError("readout 'membrane' needs a LinearReadout as the last layer "
                                 "(and only it)")
        if any(isinstance(layer, LinearReadout) for layer in layers[:-1]):
            raise ParameterError("a LinearReadout can only be the last layer")
        if int(time_steps) < 1:
            raise ParameterError(f"time_steps must be >= 1, got {time_steps}")
        if int(ensemble) < 1:
            raise ParameterError(f"ensemble must be >= 1, got {ensemble}")
        self.in_shape = chain_shapes(layers, in_shape, SpikingConv2d)
        self.layers = nn.ModuleList(layers)
        self.readout = readout
        self.time_steps = int(time_steps)
        self.eval_noise = bool(eval_noise)
        self.ensemble = int(ensemble)

    @property
    def stochastic(self) -> bool:
        """Whether any layer fires stochastically."""
        return any(layer.stochastic for layer in self.layers)

    def forward(self, x, generator=None, perturbation=None):
        """Read-outs ``(batch, n_out)``.

        ``x`` is ``(batch, *in_shape)``, presented for ``time_steps`` steps, or
        ``(batch, *in_shape, T)``, one input per step. ``generator`` is the
        source of the firing variates (torch's default when omitted);
        ``perturbation`` a :class:`Perturbation` of every spiking layer.
        """
        nd = len(self.in_shape)
        if tuple(x.shape[1:nd + 1]) != tuple(self.in_shape) or x.ndim not in (nd + 1, nd + 2):
            raise ValueError(f"input must be (batch, {', '.join(map(str, self.in_shape))}"
                             f"[, time]), got {tuple(x.shape)}")
        if x.ndim == nd + 1:
            x = x.unsqueeze(-1).expand(*x.shape, self.time_steps)
        noise = self.training or self.eval_noise
        h = x
        if not isinstance(self.layers[0], SpikingConv2d):
            h = h.reshape(h.shape[0], -1, h.shape[-1])
        for layer in self.layers:
            if not isinstance(layer, SpikingConv2d) and h.ndim > 3:   # flatten after a conv
                h = h.reshape(h.shape[0], -1, h.shape[-1])
            h = layer(h, generator=generator, noise=noise, perturbation=perturbation)
        if self.readout == "membrane":
            return h
        return h.mean(-1) if self.readout == "rate" else h.sum(-1)

    @torch.no_grad()
    def predict(self, x, ensemble=None, generator=None, perturbation=None):
        """The read-out averaged over ``ensemble`` stochastic passes (default
        :attr:`ensemble`; one pass when nothing is stochastic at evaluation and no
        ``perturbation`` is given), in eval mode, without gradients."""
        was = self.training
        self.eval()
        try:
            k = self.ensemble if ensemble is None else int(ensemble)
            if k < 1:
                raise ParameterError(f"ensemble must be >= 1, got {ensemble}")
            if not (self.stochastic and self.eval_noise) and perturbation is None:
                k = 1
            out = self(x, generator, perturbation)
            for _ in range(k - 1):
                out = out + self(x, generator, perturbation)
            return out / k
        finally:
            self.train(was)

    def config(self) -> dict:
        """The net's definition as JSON-ready values (weights excluded)."""
        return {"layers": [layer.config() for layer in self.layers], "readout": self.readout,
                "time_steps": self.time_steps, "eval_noise": self.eval_noise,
                "ensemble": self.ensemble, "in_shape": list(self.in_shape)}

    @classmethod
    def from_config(cls, cfg, dtype=torch.float32, device=None) -> "SpikingNet":
        """Rebuild a net from :meth:`config` (fresh weights; load a state dict after)."""
        return cls([layer_from_config(c, dtype, device) for c in cfg["layers"]],
                   readout=cfg["readout"], time_steps=cfg["time_steps"],
                   eval_noise=cfg["eval_noise"], ensemble=cfg["ensemble"],
                   in_shape=cfg["in_shape"])
