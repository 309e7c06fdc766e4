"""Spike non-linearity with a selectable surrogate gradient (Torch backend).

The forward pass is the Heaviside step ``H(x)`` of the scaled threshold distance
``x = (lhs - rhs) / scale`` (``v > v_th`` gives ``x = (v - v_th)/scale``). The
backward pass replaces ``H'(x) = delta(x)`` by the derivative of a smooth proxy
``phi(x)``, a step that rises from 0 to 1 (so ``integral phi'(x) dx = 1``):

=================  ====================================================  =====================================
name               proxy ``phi(x)``                                       ``phi'(x)`` (the surrogate)
=================  ====================================================  =====================================
``sigmoid``        ``1 / (1 + exp(-a x))``                                ``a phi (1 - phi)``
``fast_sigmoid``   ``(1 + a x / (1 + a |x|)) / 2``  (SuperSpike)          ``a / (2 (1 + a |x|)^2)``
``atan``           ``1/2 + atan(pi a x / 2) / pi``                        ``a / (2 (1 + (pi a x / 2)^2))``
``gaussian``       ``(1 + erf(a x / sqrt 2)) / 2``                        ``a exp(-(a x)^2 / 2) / sqrt(2 pi)``
``triangle``       piecewise quadratic, 0 below ``-1/a``, 1 above ``1/a``  ``a max(0, 1 - a |x|)``
=================  ====================================================  =====================================

References: Zenke & Ganguli (2018) Neural Comput. 30:1514 (SuperSpike);
Neftci, Mostafa & Zenke (2019) IEEE Signal Process. Mag. 36:51; Bellec et al.
(2018) NeurIPS (triangle); Fang et al. (2021) ICCV (atan).

A custom surrogate subclasses :class:`Surrogate` and defines ``proxy`` and
``derivative`` (the noisy-neuron models plug in the noise density this way).

Examples
--------
>>> import torch
>>> s = get_surrogate("fast_sigmoid", alpha=10.0)
>>> x = torch.tensor([-0.1, 0.2], requires_grad=True)
>>> s(x).tolist()
[0.0, 1.0]
"""
import math

import torch

__all__ = ["Surrogate", "Sigmoid", "FastSigmoid", "ATan", "Gaussian", "Triangle",
           "SURROGATES", "get_surrogate"]


class _SpikeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, surrogate, strict):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return ((x > 0) if strict else (x >= 0)).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.derivative(x), None, None


class Surrogate:
    """Base class: Heaviside forward, ``derivative`` backward.

    Parameters
    ----------
    alpha : float
        Steepness (inverse width) in units of the scaled threshold distance.
    """
    name = "surrogate"
    default_alpha = 1.0

    def __init__(self, alpha=None):
        self.alpha = float(self.default_alpha if alpha is None else alpha)
        if not self.alpha > 0:
            raise ValueError(f"surrogate alpha must be > 0, got {alpha}")

    def proxy(self, x):
        """The smooth step whose derivative is the surrogate."""
        raise NotImplementedError

    def derivative(self, x):
        """Analytic derivative of :meth:`proxy`."""
        raise NotImplementedError

    def __call__(self, x, strict=True):
        """Heaviside of ``x`` (``x > 0``, or ``x >= 0`` when not strict) with this surrogate."""
        return _SpikeFunction.apply(x, self, strict)

    def __repr__(self):
        return f"{type(self).__name__}(alpha={self.alpha:g})"


class Sigmoid(Surrogate):
    """``phi = sigmoid(a x)``."""
    name, default_alpha = "sigmoid", 4.0

    def proxy(self, x):
        return torch.sigmoid(self.alpha * x)

    def derivative(self, x):
        s = torch.sigmoid(self.alpha * x)
        return self.alpha * s * (1 - s)


class FastSigmoid(Surrogate):
    """SuperSpike: ``phi = (1 + a x/(1 + a|x|))/2``."""
    name, default_alpha = "fast_sigmoid", 10.0

    def proxy(self, x):
        ax = self.alpha * x
        return 0.5 * (1 + ax / (1 + ax.abs()))

    def derivative(self, x):
        return self.alpha / (2 * (1 + self.alpha * x.abs()) ** 2)


class ATan(Surrogate):
    """``phi = 1/2 + atan(pi a x/2)/pi``."""
    name, default_alpha = "atan", 2.0

    def proxy(self, x):
        return 0.5 + torch.atan(0.5 * math.pi * self.alpha * x) / math.pi

    def derivative(self, x):
        return 0.5 * self.alpha / (1 + (0.5 * math.pi * self.alpha * x) ** 2)


class Gaussian(Surrogate):
    """``phi = Phi(a x)`` (standard normal CDF); the surrogate is its density."""
    name, default_alpha = "gaussian", 4.0

    def proxy(self, x):
        return 0.5 * (1 + torch.erf(self.alpha * x / math.sqrt(2)))

    def derivative(self, x):
        ax = self.alpha * x
        return self.alpha * torch.exp(-0.5 * ax * ax) / math.sqrt(2 * math.pi)


class Triangle(Surrogate):
    """Piecewise-linear surrogate ``a max(0, 1 - a|x|)``; its proxy is piecewise quadratic."""
    name, default_alpha = "triangle", 1.0

    def proxy(self, x):
        ax = torch.clamp(self.alpha * x, -1.0, 1.0)
        return 0.5 + ax - 0.5 * torch.sign(ax) * ax * ax

    def derivative(self, x):
        return self.alpha * torch.clamp(1 - self.alpha * x.abs(), min=0.0)


#: Surrogates selectable by name.
SURROGATES = {c.name: c for c in (Sigmoid, FastSigmoid, ATan, Gaussian, Triangle)}


def get_surrogate(surrogate="fast_sigmoid", alpha=None):
    """A :class:`Surrogate` from a name (see :data:`SURROGATES`) or an instance.

    Examples
    --------
    >>> get_surrogate("atan", 3.0)
    ATan(alpha=3)
    """
    if isinstance(surrogate, Surrogate):
        return surrogate
    if isinstance(surrogate, type) and issubclass(surrogate, Surrogate):
        return surrogate(alpha)
    try:
        return SURROGATES[str(surrogate)](alpha)
    except KeyError:
        raise ValueError(f"unknown surrogate {surrogate!r}; choose from {', '.join(SURROGATES)}") from None
