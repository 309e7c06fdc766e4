"""Zero-mean noise families for stochastic (escape-noise) firing, in standard units.

A neuron with threshold noise fires in a time step with probability
``F((u - theta) / sigma)``, where ``F`` is the cumulative distribution function of
the noise added to the membrane potential ``u`` and ``sigma`` its **standard
deviation** -- for every family, so that noise levels compare across families
(Jolivet et al. 2006, escape noise; Ma et al. 2023, noise-driven learning). The
gradient of the firing probability is the density, ``f((u - theta)/sigma) / sigma``.

Each :class:`NoiseFamily` holds the standardised (unit-variance) CDF ``F(z)`` and
density ``f(z)`` once per target, as Brian2 holds a function's implementations:
for the array libraries (NumPy, Torch), as C expressions (Brian2's Cython and C++
targets) and as scalar Python expressions (the numba kernels); the tests check every
form against SciPy's distributions. All are numerically safe for every finite or infinite input: no
overflow, results in ``[0, 1]`` (CDF) and ``[0, max f]`` (density), no NaN except
for a NaN input.

==============  ==============================  =======================================
family          parameterisation (sigma = 1)    F(z)
==============  ==============================  =======================================
``gaussian``    standard normal                 ``erfc(-z / sqrt 2) / 2``
``logistic``    scale ``s = sqrt(3) / pi``      ``expit(z / s)``
``triangular``  half-width ``b = sqrt 6``       piecewise quadratic on ``[-b, b]``
``uniform``     half-width ``a = sqrt 3``       ``clip((z + a) / (2 a), 0, 1)``
==============  ==============================  =======================================

Examples
--------
>>> import numpy as np
>>> fam = FAMILIES["logistic"]
>>> float(fam.cdf(np.float64(0.0)))
0.5
>>> [round(float(FAMILIES[k].cdf(np.float64(1.0))), 4) for k in sorted(FAMILIES)]
[0.8413, 0.8598, 0.8249, 0.7887]
>>> float(FAMILIES["gaussian"].cdf(np.float64(-1e300))), float(FAMILIES["uniform"].pdf(np.float64(5.0)))
(0.0, 0.0)
"""
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["NoiseFamily", "FAMILIES", "family", "brian2_function", "Bernoulli", "variates"]

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LOGISTIC_S = math.sqrt(3.0) / math.pi
_TRI_B = math.sqrt(6.0)
_UNI_A = math.sqrt(3.0)


def _is_torch(z):
    return type(z).__module__.startswith("torch")


def _lib(z):
    """(elementwise functions, where, clip) for a NumPy array/scalar or a Torch tensor."""
    if _is_torch(z):
        import torch
        return torch, torch.where, torch.clamp
    return np, np.where, np.clip


# ------------------------------------------------------------------- gaussian
def _gauss_cdf(z):
    if _is_torch(z):
        import torch
        return 0.5 * torch.special.erfc(-z / _SQRT2)
    from scipy.special import erfc
    return 0.5 * erfc(-np.asarray(z, dtype=float) / _SQRT2)


def _mask(z, cond):
    """``cond`` as 0/1 values of ``z``'s dtype."""
    return cond.to(z.dtype) if _is_torch(z) else np.asarray(cond, dtype=float)


def _gauss_pdf(z):
    lib, where, clip = _lib(z)
    zc = clip(z, -37.0, 37.0)       # exp(-684.5) is still a normal float64: no underflow
    return _INV_SQRT_2PI * lib.exp(-0.5 * zc * zc) * _mask(z, lib.abs(z) < 37.0)


# ------------------------------------------------------------------- logistic
def _logistic_cdf(z):
    if _is_torch(z):
        import torch
        return torch.sigmoid(z / _LOGISTIC_S)
    from scipy.special import expit
    return expit(np.asarray(z, dtype=float) / _LOGISTIC_S)


def _logistic_pdf(z):
    lib, where, clip = _lib(z)
    x = z / _LOGISTIC_S
    e = lib.exp(-lib.abs(clip(x, -700.0, 700.0))) * _mask(z, lib.abs(x) < 700.0)
    return e / ((1.0 + e) * (1.0 + e) * _LOGISTIC_S)      # expit(x) expit(-x) / s


# ------------------------------------------------------------------- triangular
def _tri_cdf(z):
    lib, where, clip = _lib(z)
    zc = clip(z, -_TRI_B, _TRI_B)
    left, right = _TRI_B + zc, _TRI_B - zc       # distances to the ends of the support
    return where(zc < 0, left * left / (2.0 * _TRI_B * _TRI_B),
                 1.0 - right * right / (2.0 * _TRI_B * _TRI_B))


def _tri_pdf(z):
    lib, where, clip = _lib(z)
    zc = clip(z, -_TRI_B, _TRI_B)
    return (_TRI_B - lib.abs(zc)) / (_TRI_B * _TRI_B)


# ------------------------------------------------------------------- uniform
def _uni_cdf(z):
    lib, where, clip = _lib(z)
    return clip((clip(z, -_UNI_A, _UNI_A) + _UNI_A) / (2.0 * _UNI_A), 0.0, 1.0)


def _uni_pdf(z):
    lib, where, clip = _lib(z)
    return _mask(z, (z > -_UNI_A) & (z < _UNI_A)) * (1.0 / (2.0 * _UNI_A))


# ------------------------------------------------------------------- quantiles
def _gauss_ppf(p):
    if _is_torch(p):
        import torch
        return _SQRT2 * torch.special.erfinv(2.0 * p - 1.0)
    from scipy.special import ndtri
    return ndtri(np.asarray(p, dtype=float))


def _logistic_ppf(p):
    lib, where, clip = _lib(p)
    return _LOGISTIC_S * (lib.log(p) - lib.log1p(-p))


def _tri_ppf(p):
    lib, where, clip = _lib(p)
    lo = _TRI_B * (lib.sqrt(2.0 * clip(p, 0.0, 0.5)) - 1.0)
    hi = _TRI_B * (1.0 - lib.sqrt(2.0 * (1.0 - clip(p, 0.5, 1.0))))
    return where(p < 0.5, lo, hi)


def _uni_ppf(p):
    return _UNI_A * (2.0 * p - 1.0)


@dataclass(frozen=True)
class NoiseFamily:
    """A zero-mean, unit-variance noise distribution: ``cdf(z)`` and ``pdf(z)`` for
    NumPy arrays and Torch tensors alike (Torch: differentiable, any float dtype and
    device), and the same functions as C expressions of ``z`` (``c_cdf``, ``c_pdf``;
    ``<math.h>`` only) for generated code.

    ``scale`` is the library parameter of the matching :mod:`scipy.stats`
    distribution that has unit standard deviation (``scipy_name``), the oracle the
    tests compare against.
    """
    name: str
    cdf_fn: object
    pdf_fn: object
    c_cdf: str
    c_pdf: str
    scipy_name: str
    scipy_args: tuple
    py_cdf: str = ""
    py_pdf: str = ""
    ppf_fn: object = None

    def cdf(self, z):
        """``F(z)``, the probability that the noise is below ``z`` standard deviations."""
        return self.cdf_fn(z)

    def pdf(self, z):
        """``f(z) = dF/dz``, the density in units of 1 / standard deviation."""
        return self.pdf_fn(z)

    def ppf(self, p):
        """``F^-1(p)``, the quantile function (``p`` in ``[0, 1]``; NumPy or Torch).

        ``sigma * ppf(U)`` of uniform variates ``U`` is noise of standard deviation
        ``sigma`` (inverse-transform sampling), as the state noise of
        :func:`neuromod.neurons.nsnn.dense` draws it.

        Examples
        --------
        >>> round(float(FAMILIES["gaussian"].ppf(np.float64(0.975))), 4)
        1.96
        """
        return self.ppf_fn(p)

    def firing_probability(self, u, theta, sigma: float):
        """``F((u - theta) / sigma)``: the probability to fire in one step (``sigma > 0``,
        the noise's standard deviation, in the units of ``u``)."""
        return self.cdf((u - theta) / sigma)

    def firing_density(self, u, theta, sigma: float):
        """``f((u - theta) / sigma) / sigma``: d(firing probability)/du."""
        return self.pdf((u - theta) / sigma) / sigma

    def spike(self, z, variates):
        """Bernoulli spikes of Torch tensors: ``1`` where ``variates < F(z)`` (uniform
        variates in ``[0, 1)``, one per element), with the gradient of the firing
        probability, ``dF/dz = f(z)`` (noise-driven learning; the forward value is
        the 0/1 sample exactly)."""
        p = self.cdf(z)
        hard = (variates < p).to(p.dtype)
        return hard + (p - p.detach())


#: The noise families by name (σ is the standard deviation for each).
FAMILIES = {
    "gaussian": NoiseFamily(
        "gaussian", _gauss_cdf, _gauss_pdf,
        c_cdf=f"(0.5 * erfc(-(z) / {_SQRT2!r}))",
        c_pdf=f"(fabs(z) < 37.0 ? {_INV_SQRT_2PI!r} * exp(-0.5 * (z) * (z)) : 0.0)",
        scipy_name="norm", scipy_args=(0.0, 1.0),
        py_cdf=f"(0.5 * math.erfc(-(z) / {_SQRT2!r}))",
        py_pdf=f"({_INV_SQRT_2PI!r} * math.exp(-0.5 * (z) * (z)) if abs(z) < 37.0 else 0.0)",
        ppf_fn=_gauss_ppf),
    "logistic": NoiseFamily(
        "logistic", _logistic_cdf, _logistic_pdf,
        c_cdf=f"(1.0 / (1.0 + exp(-fmin(fmax((z) / {_LOGISTIC_S!r}, -700.0), 700.0))))",
        c_pdf=(f"(fabs((z) / {_LOGISTIC_S!r}) >= 700.0 ? 0.0 : "
               f"exp(-fabs((z) / {_LOGISTIC_S!r})) / ((1.0 + exp(-fabs((z) / {_LOGISTIC_S!r})))"
               f" * (1.0 + exp(-fabs((z) / {_LOGISTIC_S!r}))) * {_LOGISTIC_S!r}))"),
        scipy_name="logistic", scipy_args=(0.0, _LOGISTIC_S),
        py_cdf=f"(1.0 / (1.0 + math.exp(-min(max((z) / {_LOGISTIC_S!r}, -700.0), 700.0))))",
        py_pdf=(f"(0.0 if abs((z) / {_LOGISTIC_S!r}) >= 700.0 else "
                f"math.exp(-abs((z) / {_LOGISTIC_S!r})) / ((1.0 + math.exp(-abs((z) / "
                f"{_LOGISTIC_S!r}))) * (1.0 + math.exp(-abs((z) / {_LOGISTIC_S!r}))) * "
                f"{_LOGISTIC_S!r}))"),
        ppf_fn=_logistic_ppf),
    "triangular": NoiseFamily(
        "triangular", _tri_cdf, _tri_pdf,
        c_cdf=(f"((z) <= -{_TRI_B!r} ? 0.0 : (z) >= {_TRI_B!r} ? 1.0 : (z) < 0.0 ? "
               f"({_TRI_B!r} + (z)) * ({_TRI_B!r} + (z)) / {2 * _TRI_B * _TRI_B!r} : "
               f"1.0 - ({_TRI_B!r} - (z)) * ({_TRI_B!r} - (z)) / {2 * _TRI_B * _TRI_B!r})"),
        c_pdf=(f"(fabs(z) >= {_TRI_B!r} ? 0.0 : ({_TRI_B!r} - fabs(z)) / "
               f"{_TRI_B * _TRI_B!r})"),
        scipy_name="triang", scipy_args=(0.5, -_TRI_B, 2 * _TRI_B),
        py_cdf=(f"(0.0 if (z) <= -{_TRI_B!r} else 1.0 if (z) >= {_TRI_B!r} else "
                f"({_TRI_B!r} + (z)) * ({_TRI_B!r} + (z)) / {2 * _TRI_B * _TRI_B!r} if (z) < 0.0 "
                f"else 1.0 - ({_TRI_B!r} - (z)) * ({_TRI_B!r} - (z)) / {2 * _TRI_B * _TRI_B!r})"),
        py_pdf=f"(0.0 if abs(z) >= {_TRI_B!r} else ({_TRI_B!r} - abs(z)) / {_TRI_B * _TRI_B!r})",
        ppf_fn=_tri_ppf),
    "uniform": NoiseFamily(
        "uniform", _uni_cdf, _uni_pdf,
        c_cdf=(f"((z) <= -{_UNI_A!r} ? 0.0 : (z) >= {_UNI_A!r} ? 1.0 : "
               f"((z) + {_UNI_A!r}) / {2 * _UNI_A!r})"),
        c_pdf=f"(fabs(z) < {_UNI_A!r} ? {1 / (2 * _UNI_A)!r} : 0.0)",
        scipy_name="uniform", scipy_args=(-_UNI_A, 2 * _UNI_A),
        py_cdf=(f"(0.0 if (z) <= -{_UNI_A!r} else 1.0 if (z) >= {_UNI_A!r} else "
                f"((z) + {_UNI_A!r}) / {2 * _UNI_A!r})"),
        py_pdf=f"({1 / (2 * _UNI_A)!r} if abs(z) < {_UNI_A!r} else 0.0)",
        ppf_fn=_uni_ppf),
}


@dataclass(frozen=True)
class Bernoulli:
    """A model's stochastic firing rule: in each step a neuron that is not refractory
    spikes with probability ``F(d / sigma)``, ``d`` the signed distance to the
    model's threshold (``v - theta`` for ``threshold='v > theta'``), ``F`` the CDF
    of the zero-mean noise family ``noise`` and ``sigma`` (an expression of the
    parameters, in the unit of ``d``) its standard deviation. The spike and the reset
    use the same sample. Backward, the spike's gradient is the noise density,
    ``f(d / sigma) / sigma`` (noise-driven learning, Ma et al. 2023).

    Given to :class:`~neuromod.backends.model.NeuronModel` as ``firing=``; the default
    firing rule is the deterministic Heaviside ``H(d)`` with a surrogate gradient.

    Examples
    --------
    >>> Bernoulli("logistic", "sigma").to_dict()
    {'rule': 'bernoulli', 'noise': 'logistic', 'sigma': 'sigma'}
    """
    noise: str = "gaussian"
    sigma: str = "sigma"

    def __post_init__(self):
        family(self.noise)

    @property
    def family(self) -> NoiseFamily:
        return FAMILIES[self.noise]

    def to_dict(self) -> dict:
        return {"rule": "bernoulli", "noise": self.noise, "sigma": self.sigma}

    @classmethod
    def from_dict(cls, d: dict) -> "Bernoulli":
        from neuromod.errors import ParameterError
        if not isinstance(d, dict) or d.get("rule") != "bernoulli":
            raise ParameterError(f"unknown firing rule {d!r}")
        return cls(str(d.get("noise", "gaussian")), str(d.get("sigma", "sigma")))


class BatchShard:
    """Some rows of a global batch, for data-parallel training.

    Passed where a ``generator`` is expected, it makes :func:`variates` draw the variates
    of the whole batch of ``batch`` samples from ``generator`` (as one process would)
    and return only the rows ``rows`` (positions in the batch, along the batch axis,
    the second-to-last): every process of a data-parallel group then draws, for each of
    its samples, what one process draws for that sample of the global batch, and the
    generators of all processes stay in step.

    Examples
    --------
    >>> import torch
    >>> whole = variates((3, 4, 2), torch.Generator().manual_seed(0))
    >>> part = variates((3, 2, 2), BatchShard(torch.Generator().manual_seed(0), [1, 3], 4))
    >>> torch.equal(part, whole[:, [1, 3]])
    True
    """

    def __init__(self, generator, rows, batch):
        self.generator = generator
        self.rows = [int(r) for r in rows]
        self.batch = int(batch)


def normals(shape, generator=None, device=None, dtype=None, batch_axis=0):
    """Standard normal draws of ``shape`` from ``generator`` on ``device`` (Gaussian
    noise that is not firing noise, e.g. a layer's additive noise). A
    :class:`BatchShard` draws the whole batch along ``batch_axis`` and keeps its rows,
    as :func:`variates` does.

    Examples
    --------
    >>> import torch
    >>> whole = normals((4, 3), torch.Generator().manual_seed(1))
    >>> part = normals((1, 3), BatchShard(torch.Generator().manual_seed(1), [2], 4))
    >>> torch.equal(part, whole[[2]])
    True
    """
    import torch
    dtype = dtype or torch.float32
    if isinstance(generator, BatchShard):
        shape = list(shape)
        if shape[batch_axis] != len(generator.rows):
            raise ValueError(f"normals of {shape[batch_axis]} samples from a shard of "
                             f"{len(generator.rows)} rows")
        shape[batch_axis] = generator.batch
        whole = torch.randn(tuple(shape), generator=generator.generator, dtype=dtype,
                            device=device)
        rows = torch.as_tensor(generator.rows, dtype=torch.long, device=whole.device)
        return whole.index_select(batch_axis, rows)
    return torch.randn(tuple(shape), generator=generator, dtype=dtype, device=device)


def variates(shape, generator=None, device=None):
    """The uniform variates of stochastic firing, drawn by one protocol on every path:
    ``torch.rand(shape, generator=generator, dtype=torch.float64)`` with ``shape =
    (steps, batch, n)``; the step ``t`` uses ``[t]``. The same generator state gives
    the same spikes on the eager and fused Torch paths, and handed to Brian2 (as a
    ``TimedArray``) the same spikes there.

    Examples
    --------
    >>> import torch
    >>> r = variates((3, 1, 2), torch.Generator().manual_seed(0))
    >>> tuple(r.shape), r.dtype
    ((3, 1, 2), torch.float64)
    """
    import torch
    if isinstance(generator, BatchShard):
        shape = tuple(shape)
        if shape[-2] != len(generator.rows):
            raise ValueError(f"variates of {shape[-2]} samples from a shard of "
                             f"{len(generator.rows)} rows")
        whole = torch.rand(shape[:-2] + (generator.batch, shape[-1]),
                           generator=generator.generator, dtype=torch.float64, device=device)
        rows = torch.as_tensor(generator.rows, dtype=torch.long, device=whole.device)
        return whole.index_select(len(shape) - 2, rows)
    return torch.rand(tuple(shape), generator=generator, dtype=torch.float64, device=device)


def family(name: str) -> NoiseFamily:
    """The :class:`NoiseFamily` called ``name`` (one-line error listing the known ones).

    Examples
    --------
    >>> family("gaussian").name
    'gaussian'
    >>> family("cauchy")
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: unknown noise family 'cauchy'; known: gaussian, logistic, triangular, uniform
    """
    from neuromod.errors import ParameterError
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ParameterError(f"unknown noise family {name!r}; known: "
                             f"{', '.join(FAMILIES)}") from None


def brian2_function(name: str, kind: str = "cdf"):
    """The ``cdf`` or ``pdf`` of a noise family as a Brian2 function of a dimensionless
    argument, with NumPy, Cython and C++ implementations (Brian2 has no ``erf``).

    The function is called ``neuromod_<family>_<kind>`` in Brian2 code, e.g.
    ``p = neuromod_gaussian_cdf((v - v_th) / sigma) : 1``. The C++ and Cython
    implementations compile the same C expression (:attr:`NoiseFamily.c_cdf`); the
    NumPy one is :meth:`NoiseFamily.cdf`. A new :class:`brian2.Function` is made at
    each call (Brian2 objects are never shared between callers).

    Examples
    --------
    >>> f = brian2_function("logistic")
    >>> float(f.pyfunc(0.0)), sorted(f.implementations.keys())
    (0.5, ['cpp', 'cython'])
    """
    from brian2 import Function
    fam = family(name)
    if kind not in ("cdf", "pdf"):
        from neuromod.errors import ParameterError
        raise ParameterError(f"kind must be 'cdf' or 'pdf', not {kind!r}")
    fname = f"neuromod_{fam.name}_{kind}"
    expr = fam.c_cdf if kind == "cdf" else fam.c_pdf
    numpy_fn = fam.cdf if kind == "cdf" else fam.pdf
    c_code = f"static inline double {fname}(double z) {{ return {expr}; }}"
    f = Function(lambda z: numpy_fn(np.asarray(z, dtype=float)), arg_units=[1], return_unit=1,
                 arg_types=["float"], return_type="float", stateless=True)
    f.implementations.add_implementation(
        "cpp", code={"support_code": "#include <math.h>\n" + c_code}, name=fname)
    cython = ("cdef extern from *:\n"
              f"    \"\"\"\n    #include <math.h>\n    {c_code}\n    \"\"\"\n"
              f"    double {fname}(double z) nogil\n")
    f.implementations.add_implementation("cython", code=cython, name=fname)
    return f
