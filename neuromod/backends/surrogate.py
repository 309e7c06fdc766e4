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

Each surrogate writes its derivative once, as a sympy expression of the scaled
distance ``z`` and the steepness ``alpha`` (:meth:`Surrogate.formula`, written to be
finite for every finite input); the Torch backward pass evaluates it and the fused
kernels print it into their code (:func:`neuromod.backends.printers.print_expr`).
A custom surrogate subclasses :class:`Surrogate` and defines ``proxy`` and either
``formula`` (then it runs on every path) or ``derivative`` alone (Torch tensors
only; the fused kernels refuse it and the step-by-step path runs).

Examples
--------
>>> import torch
>>> s = get_surrogate("fast_sigmoid", alpha=10.0)
>>> x = torch.tensor([-0.1, 0.2], requires_grad=True)
>>> s(x).tolist()
[0.0, 1.0]
"""
import functools
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

    @staticmethod
    def formula(z, alpha):
        """The derivative of :meth:`proxy` as a sympy expression of the symbols ``z``
        and ``alpha``; None for a surrogate defined by :meth:`derivative` alone."""
        return None

    def derivative(self, x):
        """Analytic derivative of :meth:`proxy` at ``x`` (a tensor): :meth:`formula`
        evaluated with torch."""
        fn = _derivative_function(type(self))
        if fn is None:
            raise NotImplementedError(f"{type(self).__name__} defines neither formula nor "
                                      "derivative")
        return fn(x, self.alpha)

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

    @staticmethod
    def formula(z, alpha):
        # alpha s (1 - s) with s = sigmoid(alpha z), written without overflow
        import sympy as sp
        return alpha / (2 + 2 * sp.cosh(alpha * z))


class FastSigmoid(Surrogate):
    """SuperSpike: ``phi = (1 + a x/(1 + a|x|))/2``."""
    name, default_alpha = "fast_sigmoid", 10.0

    def proxy(self, x):
        ax = self.alpha * x
        return 0.5 * (1 + ax / (1 + ax.abs()))

    @staticmethod
    def formula(z, alpha):
        import sympy as sp
        return alpha / (2 * (1 + alpha * sp.Abs(z)) ** 2)


class ATan(Surrogate):
    """``phi = 1/2 + atan(pi a x/2)/pi``."""
    name, default_alpha = "atan", 2.0

    def proxy(self, x):
        return 0.5 + torch.atan(0.5 * math.pi * self.alpha * x) / math.pi

    @staticmethod
    def formula(z, alpha):
        import sympy as sp
        return alpha / (2 * (1 + (sp.pi * alpha * z / 2) ** 2))


class Gaussian(Surrogate):
    """``phi = Phi(a x)`` (standard normal CDF); the surrogate is its density."""
    name, default_alpha = "gaussian", 4.0

    def proxy(self, x):
        return 0.5 * (1 + torch.erf(self.alpha * x / math.sqrt(2)))

    @staticmethod
    def formula(z, alpha):
        import sympy as sp
        return alpha * sp.exp(-(alpha * z) ** 2 / 2) / sp.sqrt(2 * sp.pi)


class Triangle(Surrogate):
    """Piecewise-linear surrogate ``a max(0, 1 - a|x|)``; its proxy is piecewise quadratic."""
    name, default_alpha = "triangle", 1.0

    def proxy(self, x):
        ax = torch.clamp(self.alpha * x, -1.0, 1.0)
        return 0.5 + ax - 0.5 * torch.sign(ax) * ax * ax

    @staticmethod
    def formula(z, alpha):
        import sympy as sp
        return alpha * sp.Max(0, 1 - alpha * sp.Abs(z))


@functools.lru_cache(maxsize=None)
def _derivative_function(cls):
    """``f(x, alpha)`` evaluating ``cls.formula`` with torch (printed once per class)."""
    import sympy as sp

    from neuromod.backends.printers import TORCH_DIALECT, print_expr
    z, alpha = sp.Symbol("z", real=True), sp.Symbol("alpha", positive=True)
    expr = cls.formula(z, alpha)
    if expr is None:
        return None
    src = print_expr(expr, {"z": "x", "alpha": "alpha"}, TORCH_DIALECT)
    ns = {"torch": torch, "_t": _as_tensor}
    return eval(f"lambda x, alpha: {src}", ns)  # noqa: S307 -- printed from sympy here


def _as_tensor(x):
    return x if isinstance(x, torch.Tensor) else torch.tensor(x)


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
