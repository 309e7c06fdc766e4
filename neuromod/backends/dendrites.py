"""Dendritic (branch) layers of rate units, and the branch nonlinearities every
dendritic path shares.

A dendritic layer has ``n`` somata with ``K`` branches each. Branch ``k`` of soma
``j`` sees every input and computes ``d_jk = g(sum_i w_jki x_i + b_jk)``; the soma
sums its branches and applies its own nonlinearity, ``y_j = sigma(sum_k d_jk)``;
only ``y`` goes on to the next layer. ``K = 1`` with ``g = identity`` is a point
layer ``sigma(W x + b)``, exactly (same outputs, same gradients).

Layout
    One weight matrix ``(K n, n_in)`` (a ``torch.nn.Linear`` or a convolution with
    ``K C`` output channels): row ``k n + j`` is branch ``k`` of soma ``j``. The
    spiking layers of :mod:`neuromod.backends.layers` use the same layout.

Nonlinearities (:data:`NONLINEARITIES`)
    Each is written once, as Brian2 expression text in ``x``; the rate layers
    compile it to Torch through the printers of :mod:`neuromod.backends.printers`
    and the spiking dendritic neuron puts the same text into its update, so every
    path runs one definition. ``softplus`` is written in its overflow-free form
    ``max(x, 0) + log(1 + exp(-|x|))`` and ``sigmoid`` as ``(1 + tanh(x/2))/2``.

Examples
--------
>>> import torch
>>> layer = DendriticDense(4, 3, branches=2)
>>> tuple(layer.synapse.weight.shape), tuple(layer(torch.ones(5, 4)).shape)
((6, 4), (5, 3))
>>> net = RateNet([DendriticDense(4, 3, branches=2), DendriticDense(3, 2, soma="identity")])
>>> RateNet.from_config(net.config()).config() == net.config()
True
"""
import functools

import torch
from torch import nn

from neuromod.backends.layers import chain_shapes, check_branches, conv_geometry
from neuromod.errors import ParameterError

__all__ = ["NONLINEARITIES", "nonlinearity", "check_nonlinearity", "DendriticDense", "DendriticConv2d", "RateNet",
           "rate_layer_from_config"]

#: Branch and soma nonlinearities: name -> Brian2 expression text in ``x``.
NONLINEARITIES = {
    "identity": "x",
    "relu": "clip(x, 0, inf)",
    "softplus": "clip(x, 0, inf) + log(1 + exp(-abs(x)))",
    "sigmoid": "0.5 + 0.5*tanh(0.5*x)",
}


def check_nonlinearity(name, what="nonlinearity"):
    """``name`` if it is in :data:`NONLINEARITIES`, else a one-line ParameterError."""
    if name not in NONLINEARITIES:
        raise ParameterError(f"{what} must be one of {', '.join(NONLINEARITIES)}, got {name!r}")
    return name


@functools.lru_cache(maxsize=None)
def nonlinearity(name):
    """The Torch function of the nonlinearity ``name`` (:data:`NONLINEARITIES`), printed
    from its expression text.

    Examples
    --------
    >>> import torch
    >>> nonlinearity("relu")(torch.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    >>> round(float(nonlinearity("softplus")(torch.tensor(0.0))), 6)   # log 2
    0.693147
    """
    import sympy as sp
    from neuromod.backends.equations import to_sympy
    from neuromod.backends.printers import torch_function
    check_nonlinearity(name)
    if name == "identity":
        return _identity
    return torch_function(to_sympy(NONLINEARITIES[name], {"x": sp.Symbol("x")}), "x")


def _identity(x):
    return x


class _Branches(nn.Module):
    """Shared machinery: branch pre-activations ``(batch, K n, ...)`` to soma outputs."""

    def _setup(self, n, branches, branch, soma):
        self.n, self.branches = int(n), check_branches(branches)
        self.branch = check_nonlinearity(branch, "branch")
        self.soma = check_nonlinearity(soma, "soma")
        self._g, self._sigma = nonlinearity(branch), nonlinearity(soma)

    def _combine(self, z):
        """``z`` ``(batch, K n, *rest)`` -> somatic outputs ``(batch, n, *rest)``."""
        B = z.shape[0]
        d = self._g(z.reshape(B, self.branches, self.n, *z.shape[2:]))
        return self._sigma(d.sum(1))


class DendriticDense(_Branches):
    """A dense dendritic layer of rate units (see the module docstring).

    Parameters
    ----------
    n_in : int
    n : int
        Somata.
    branches : int
        Branches per soma, ``K >= 1``.
    branch, soma : str
        Nonlinearities (:data:`NONLINEARITIES`); default ReLU branches and somata.
    bias : bool
        One bias per branch.

    Examples
    --------
    >>> import torch
    >>> lin = torch.nn.Linear(3, 2)
    >>> layer = DendriticDense(3, 2, branch="identity", soma="relu")
    >>> _ = layer.load_state_dict({"synapse." + k: v for k, v in lin.state_dict().items()})
    >>> x = torch.randn(4, 3)
    >>> torch.equal(layer(x), torch.relu(lin(x)))
    True
    """
    kind = "dendritic-dense"

    def __init__(self, n_in, n, branches=1, branch="relu", soma="relu", bias=True,
                 dtype=torch.float32, device=None):
        super().__init__()
        self._setup(n, branches, branch, soma)
        self.n_in = int(n_in)
        self.synapse = nn.Linear(self.n_in, self.n * self.branches, bias=bias, dtype=dtype,
                                 device=device)
        self.in_shape, self.out_shape = (self.n_in,), (self.n,)
        self._config = {"kind": self.kind, "n_in": self.n_in, "n": self.n,
                        "branches": self.branches, "branch": self.branch, "soma": self.soma,
                        "bias": bool(bias)}

    def forward(self, x):
        """Somatic outputs ``(batch, n)`` for inputs ``(batch, n_in)``."""
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"dendritic dense layer: input must be (batch, {self.n_in}), "
                             f"got {tuple(x.shape)}")
        return self._combine(self.synapse(x))

    def config(self) -> dict:
        return dict(self._config)


class DendriticConv2d(_Branches):
    """A 2-D convolutional dendritic layer: ``C`` somata per position, each with ``K``
    branch feature maps (one convolution with ``K C`` output channels), optionally
    followed by average pooling of the somatic outputs.

    Parameters
    ----------
    in_shape : (C_in, H, W)
    channels : int
        Somatic channels ``C``.
    kernel_size, stride, padding, pool :
        As :class:`~neuromod.backends.layers.SpikingConv2d` (padding default
        ``kernel_size // 2``).
    branches, branch, soma, bias :
        As :class:`DendriticDense`.

    Examples
    --------
    >>> import torch
    >>> layer = DendriticConv2d((1, 8, 8), 4, 3, branches=2, pool=2)
    >>> layer.out_shape, tuple(layer(torch.zeros(2, 1, 8, 8)).shape)
    ((4, 4, 4), (2, 4, 4, 4))
    """
    kind = "dendritic-conv2d"

    def __init__(self, in_shape, channels, kernel_size=3, stride=1, padding=None, pool=1,
                 branches=1, branch="relu", soma="relu", bias=True, dtype=torch.float32,
                 device=None):
        super().__init__()
        (C, H, W), k, st, pad, (ph, pw), (Ho, Wo) = conv_geometry(in_shape, kernel_size,
                                                                  stride, padding, int(pool))
        pool = ph
        self._setup(channels, branches, branch, soma)
        self.synapse = nn.Conv2d(C, self.n * self.branches, k, st, pad, bias=bias, dtype=dtype,
                                 device=device)
        self.kernel_size, self.pool = k, pool
        self.in_shape = (C, H, W)
        self.conv_shape = (self.n, Ho, Wo)
        self.out_shape = (self.n, Ho // pool, Wo // pool)
        self._config = {"kind": self.kind, "in_shape": list(self.in_shape),
                        "channels": self.n, "kernel_size": k, "stride": st, "padding": pad,
                        "pool": pool, "branches": self.branches, "branch": self.branch,
                        "soma": self.soma, "bias": bool(bias)}

    def forward(self, x):
        """Somatic outputs (pooled) ``(batch, *out_shape)`` for ``(batch, C_in, H, W)``."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"dendritic conv layer: input must be (batch, "
                             f"{', '.join(map(str, self.in_shape))}), got {tuple(x.shape)}")
        y = self._combine(self.synapse(x))
        return nn.functional.avg_pool2d(y, self.pool) if self.pool > 1 else y

    def config(self) -> dict:
        return dict(self._config)


def rate_layer_from_config(cfg, dtype=torch.float32, device=None):
    """Rebuild a rate layer from its ``config()`` (fresh weights)."""
    cfg = dict(cfg)
    kind = cfg.pop("kind", None)
    if kind == DendriticDense.kind:
        return DendriticDense(cfg["n_in"], cfg["n"], cfg["branches"], cfg["branch"],
                              cfg["soma"], cfg["bias"], dtype, device)
    if kind == DendriticConv2d.kind:
        return DendriticConv2d(cfg["in_shape"], cfg["channels"], cfg["kernel_size"],
                               cfg["stride"], cfg["padding"], cfg["pool"], cfg["branches"],
                               cfg["branch"], cfg["soma"], cfg["bias"], dtype, device)
    raise ValueError(f"unknown rate layer kind {kind!r}")


class RateNet(nn.Module):
    """A feed-forward network of dendritic (or point) rate layers; the last layer's
    outputs are the class scores.

    Parameters
    ----------
    layers : sequence of DendriticDense / DendriticConv2d
        A dense layer after a convolution takes its output flattened.
    in_shape : tuple, optional
        Shape of one input (default the first layer's); a dense first layer takes it
        flattened.

    Examples
    --------
    >>> import torch
    >>> net = RateNet([DendriticDense(64, 16, branches=4), DendriticDense(16, 10, soma="identity")],
    ...               in_shape=(1, 8, 8))
    >>> tuple(net(torch.zeros(3, 1, 8, 8)).shape)
    (3, 10)
    """

    def __init__(self, layers, in_shape=None):
        super().__init__()
        layers = list(layers)
        if not layers:
            raise ParameterError("a rate net needs at least one layer")
        self.in_shape = chain_shapes(layers, in_shape, DendriticConv2d)
        self.layers = nn.ModuleList(layers)

    stochastic = False

    def forward(self, x, generator=None, return_hidden=False):
        """Scores ``(batch, n_out)`` for inputs ``(batch, *in_shape)``; with
        ``return_hidden``, also the list of every layer's output."""
        nd = len(self.in_shape)
        if x.ndim != nd + 1 or tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"input must be (batch, {', '.join(map(str, self.in_shape))}), "
                             f"got {tuple(x.shape)}")
        h = x if isinstance(self.layers[0], DendriticConv2d) else x.reshape(x.shape[0], -1)
        hidden = []
        for layer in self.layers:
            if isinstance(layer, DendriticDense) and h.ndim > 2:
                h = h.reshape(h.shape[0], -1)
            h = layer(h)
            hidden.append(h)
        return (h, hidden) if return_hidden else h

    def config(self) -> dict:
        """The net's definition as JSON-ready values (weights excluded)."""
        return {"layers": [layer.config() for layer in self.layers],
                "in_shape": list(self.in_shape)}

    @classmethod
    def from_config(cls, cfg, dtype=torch.float32, device=None) -> "RateNet":
        """Rebuild a net from :meth:`config` (fresh weights; load a state dict after)."""
        return cls([rate_layer_from_config(c, dtype, device) for c in cfg["layers"]],
                   in_shape=cfg["in_shape"])
