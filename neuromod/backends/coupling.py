"""Shared-kernel (convolutional) coupling between 2-D maps of neurons.

Neighbour coupling in a pulse-coupled network, or coupling across feature maps, is
one small weight tensor shared by every position instead of an ``n_pre x n_post``
matrix (a 256 x 256 map would need 4.3e9 entries). A population laid out as
``C`` maps of ``H x W`` neurons has neuron index ``c*H*W + y*W + x``. A kernel
``K`` of shape ``(C_out, C_in, k, k)`` (``k`` odd, stride 1, "same" padding)
delivers, for presynaptic spikes ``s``, the input

``I[co, y, x] = sum_{ci, dy, dx} K[co, ci, dy, dx] s[ci, y + dy - r, x + dx - r]``,
``r = (k - 1) / 2``

(a cross-correlation, as :func:`torch.nn.functional.conv2d` computes), where
positions outside the map are zero (``boundary="zero"``) or wrap around
(``boundary="circular"``, a torus).

Two forms of the same coupling:

* :func:`conv_input` computes it on Torch tensors with ``conv2d`` (batched,
  differentiable in the spikes and in the kernel);
* :func:`kernel_synapses` lists it as synapses ``(pre, post, weight)`` for a
  simulator that needs explicit connections (Brian2), one per kernel entry and
  position; :func:`dense_matrix` sums them into the equivalent ``n_pre x n_post``
  matrix (for tests and small maps).

Examples
--------
>>> import numpy as np
>>> K = np.zeros((1, 1, 3, 3)); K[0, 0, 1, 2] = 1.0      # each neuron hears its right neighbour
>>> pre, post, w = kernel_synapses(K, (3, 3), boundary="zero")
>>> sorted(zip(pre.tolist(), post.tolist()))[:3]
[(1, 0), (2, 1), (4, 3)]
"""
from dataclasses import dataclass

import numpy as np

from neuromod.errors import ParameterError

__all__ = ["ConvCoupling", "kernel_synapses", "dense_matrix", "conv_input", "BOUNDARIES"]

BOUNDARIES = ("zero", "circular")


@dataclass(frozen=True)
class ConvCoupling:
    """The geometry of a convolutional coupling: ``C_in`` maps of ``shape = (H, W)``
    onto ``C_out`` maps of the same size, ``k x k`` kernel, boundary rule."""
    c_out: int
    c_in: int
    k: int
    shape: tuple
    boundary: str = "zero"

    @property
    def n_pre(self) -> int:
        return self.c_in * self.shape[0] * self.shape[1]

    @property
    def n_post(self) -> int:
        return self.c_out * self.shape[0] * self.shape[1]


def check_kernel(kernel, shape: tuple, boundary: str = "zero") -> ConvCoupling:
    """Validate a kernel and map shape; returns the :class:`ConvCoupling`.

    Raises ParameterError (one line) for a kernel that is not 4-D, not square, of even
    size, larger than the map, not finite, a map shape that is not two positive
    integers, or an unknown boundary.
    """
    ks = tuple(getattr(kernel, "shape", ()))
    if len(ks) != 4:
        raise ParameterError(f"a coupling kernel has shape (C_out, C_in, k, k), got {ks}")
    c_out, c_in, kh, kw = (int(v) for v in ks)
    if kh != kw or kh % 2 == 0:
        raise ParameterError(f"the kernel must be square with an odd size k (got {kh} x {kw})")
    try:
        h, w = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ParameterError(f"map shape must be (height, width), got {shape!r}") from None
    if h < 1 or w < 1 or min(c_out, c_in) < 1:
        raise ParameterError(f"map shape {shape!r} and channel counts must be positive")
    if boundary not in BOUNDARIES:
        raise ParameterError(f"boundary must be one of {', '.join(BOUNDARIES)}, not {boundary!r}")
    if boundary == "circular" and (kh > h or kh > w):
        raise ParameterError(f"a circular {kh} x {kh} kernel needs a map of at least that size, "
                             f"got {h} x {w}")
    if not bool(np.isfinite(np.asarray(_numpy(kernel), dtype=float)).all()):
        raise ParameterError("the coupling kernel has NaN or infinite weights")
    return ConvCoupling(c_out, c_in, kh, (h, w), boundary)


def _numpy(kernel):
    if type(kernel).__module__.startswith("torch"):
        return kernel.detach().cpu().numpy()
    return np.asarray(kernel)


def kernel_synapses(kernel, shape: tuple, boundary: str = "zero",
                    drop_zeros: bool = True) -> "tuple[np.ndarray, np.ndarray, np.ndarray]":
    """The synapses of a convolutional coupling: ``(pre, post, weight)`` arrays.

    Parameters
    ----------
    kernel : array_like, shape (C_out, C_in, k, k)
        Weights (any unit; the caller's port decides it).
    shape : (int, int)
        Height and width of every map.
    boundary : {"zero", "circular"}
    drop_zeros : bool
        Leave out the kernel entries that are exactly 0.

    Returns
    -------
    pre, post : ndarray of int64
        Neuron indices ``c*H*W + y*W + x`` in the source and target populations.
    weight : ndarray of float64

    Notes
    -----
    One synapse per (kernel entry, target position) that lands inside the map, so
    ``C_out * C_in * k * k * H * W`` at most; with a circular boundary on a map as
    small as the kernel, several entries may join the same pair of neurons (they add
    up, as in :func:`dense_matrix`). Vectorised: no Python loop over positions.
    """
    geo = check_kernel(kernel, shape, boundary)
    K = np.asarray(_numpy(kernel), dtype=np.float64)
    h, w = geo.shape
    r = (geo.k - 1) // 2
    co, ci, dy, dx = np.nonzero(K) if drop_zeros else np.indices(K.shape).reshape(4, -1)
    weights = K[co, ci, dy, dx]
    ys, xs = np.divmod(np.arange(h * w), w)                      # target positions
    sy = ys[None, :] + (dy - r)[:, None]                          # source rows
    sx = xs[None, :] + (dx - r)[:, None]
    if geo.boundary == "circular":
        sy, sx = sy % h, sx % w
        keep = np.ones(sy.shape, dtype=bool)
    else:
        keep = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
    pre = (ci[:, None] * (h * w) + sy * w + sx)[keep]
    post = (co[:, None] * (h * w) + ys[None, :] * w + xs[None, :])[keep]
    weight = np.broadcast_to(weights[:, None], keep.shape)[keep]
    return pre.astype(np.int64), post.astype(np.int64), weight.astype(np.float64)


def dense_matrix(kernel, shape: tuple, boundary: str = "zero") -> np.ndarray:
    """The ``(n_pre, n_post)`` weight matrix equivalent to the coupling (small maps).

    Examples
    --------
    >>> import numpy as np
    >>> dense_matrix(np.ones((1, 1, 3, 3)), (1, 3)).tolist()
    [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]]
    """
    geo = check_kernel(kernel, shape, boundary)
    from neuromod.limits import check_allocation
    check_allocation(8 * geo.n_pre * geo.n_post, "the dense form of a convolutional coupling")
    pre, post, w = kernel_synapses(kernel, shape, boundary)
    out = np.zeros((geo.n_pre, geo.n_post))
    np.add.at(out, (pre, post), w)
    return out


def conv_input(spikes, kernel, shape: tuple, boundary: str = "zero"):
    """The input a convolutional coupling delivers, on Torch tensors.

    Parameters
    ----------
    spikes : torch.Tensor, shape (..., C_in * H * W)
        Presynaptic spikes (or any presynaptic signal), neuron index ``c*H*W + y*W + x``.
    kernel : torch.Tensor, shape (C_out, C_in, k, k)
        May require grad (trainable coupling).
    shape : (int, int)
    boundary : {"zero", "circular"}

    Returns
    -------
    torch.Tensor, shape (..., C_out * H * W)
        ``spikes @ dense_matrix(kernel)``, computed by ``conv2d``.

    Examples
    --------
    >>> import torch
    >>> s = torch.tensor([[0.0, 1.0, 0.0]])
    >>> conv_input(s, torch.ones(1, 1, 3, 3, dtype=s.dtype), (1, 3)).tolist()
    [[1.0, 1.0, 1.0]]
    """
    import torch
    import torch.nn.functional as F
    geo = check_kernel(kernel, shape, boundary)
    h, w = geo.shape
    r = (geo.k - 1) // 2
    if spikes.shape[-1] != geo.n_pre:
        raise ParameterError(f"the source has {spikes.shape[-1]} neurons; a {geo.c_in} x "
                             f"{h} x {w} map needs {geo.n_pre}")
    lead = spikes.shape[:-1]
    x = spikes.reshape(-1, geo.c_in, h, w).to(kernel.dtype)
    if geo.boundary == "circular":
        x = F.pad(x, (r, r, r, r), mode="circular")
        out = F.conv2d(x, kernel)
    else:
        out = F.conv2d(x, kernel, padding=r)
    return out.reshape(*lead, geo.n_post) if lead else out.reshape(geo.n_post)
