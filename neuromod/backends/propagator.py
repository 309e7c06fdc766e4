"""The exact propagator of linear models, backend-neutral: ``E = e^{A dt}`` and
``F = int_0^dt e^{A s} ds`` and the coefficients of a model's :class:`~neuromod.backends.ir.Layout`.

Both backends integrate ``method='exact'`` models with these numbers: the Torch
backend per run (differentiable in the parameters), the Brian2 backend as the
constants of its state updater. The arithmetic is torch's (float64, autograd),
without anything of the Torch backend.

Examples
--------
>>> import math, torch
>>> abs(expm(torch.tensor([[1.0]], dtype=torch.float64)).item() - math.e) < 1e-15
True
"""
import math

import numpy as np
import torch

from neuromod.backends.printers import evaluate

__all__ = ["expm", "propagator", "layout_values", "parameter_value"]


def _balance(A, m, dt):
    """Powers of two ``d`` such that ``A_ij d_j / d_i`` is of the order of the diagonal.

    SI units make the coupling entries of ``A`` differ by many orders of magnitude
    (``R/tau_m`` ~ 1e9 next to ``1/tau`` ~ 1e2); ``expm`` loses relative accuracy on
    such matrices. The similarity ``D^-1 A D`` with ``log2 d`` from a least-squares
    fit of every off-diagonal entry to the diagonal scale fixes that, and with
    powers of two scaling and unscaling are exact.
    """
    mags = {k: float(v.detach().abs().max()) for k, v in A.items()}
    diag = [mags.get((i, i), 0.0) for i in range(m)]
    rho = max(diag) if max(diag, default=0.0) > 0 else 1.0 / dt
    rows, rhs = [], []
    for (i, j), a in mags.items():
        if i != j and a > 0:
            r = np.zeros(m)
            r[j], r[i] = 1.0, -1.0
            rows.append(r)
            rhs.append(np.log2(rho) - np.log2(a))
    if not rows:
        return np.ones(m)
    y = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    return np.exp2(np.round(y - y.mean()))


def expm(M, degree=18):
    """Matrix exponential by Taylor series with scaling and squaring (batched, differentiable).

    ``torch.linalg.matrix_exp`` loses up to ~1e-10 relative accuracy on small
    triangular matrices in float64 (measured against 50-digit mpmath); here the
    matrix is scaled by ``2^-s`` to a norm <= 1/4, where the degree-18 Taylor
    polynomial (Horner form) is accurate to ~1e-29, then squared ``s`` times.

    Examples
    --------
    >>> import math
    >>> abs(expm(torch.tensor([[1.0]], dtype=torch.float64)).item() - math.e) < 1e-15
    True
    """
    norm = float(M.detach().abs().sum(-1).max()) if M.numel() else 0.0
    s = max(0, math.ceil(math.log2(norm / 0.25))) if norm > 0 else 0
    X = M / (2.0 ** s)
    eye = torch.eye(M.shape[-1], dtype=M.dtype, device=M.device)
    R = eye
    for k in range(degree, 0, -1):
        R = eye + (X @ R) / k
    for _ in range(s):
        R = R @ R
    return R


def _cyclic(A, m):
    """Indices of variables on a dependency cycle (strongly connected component > 1)."""
    reach = {i: {i} for i in range(m)}
    adj = {i: {j for (a, j) in A if a == i and j != i} for i in range(m)}
    for i in range(m):
        stack = list(adj[i])
        while stack:
            j = stack.pop()
            if j not in reach[i]:
                reach[i].add(j)
                stack.extend(adj[j])
    return {i for i in range(m) for j in reach[i] if j != i and i in reach[j]}


def propagator(A, m, dt, shape, device, frozen=()):
    """``E = e^{A dt}`` and ``F = int_0^dt e^{A s} ds`` (float64) for ``dx/dt = A x + c``.

    Parameters
    ----------
    A : dict of (int, int) to tensor
        Non-zero entries of ``A`` (each broadcastable to ``shape``).
    m : int
        Number of state variables.
    dt : float
    shape : tuple
        Batch shape of the entries (``()`` or ``(n,)``).
    frozen : set of int
        Variables held constant (refractory): no row in ``A`` and no forcing, so
        ``E_ii = 1`` and column ``i`` of ``F`` is zero.

    Returns
    -------
    E, F : tensors of shape ``shape + (m, m)``

    Notes
    -----
    Van Loan's block form ``expm([[A, I], [0, 0]] dt) = [[E, F], [0, I]]`` after the
    exact power-of-two balancing of :func:`_balance`. Diagonal entries of variables
    that are on no dependency cycle are set to their closed forms
    ``E_ii = exp(a dt)`` and ``F_ii = expm1(a dt)/a`` (``dt`` when ``a = 0``), so a
    leaky variable decays by exactly ``exp(-dt/tau)``.
    """
    f64 = torch.float64
    d = _balance(A, m, dt)
    M = torch.zeros(shape + (2 * m, 2 * m), dtype=f64, device=device)
    rows = []
    for i in range(m):
        row = [torch.zeros(shape, dtype=f64, device=device) for _ in range(2 * m)]
        for j in range(m):
            if (i, j) in A:
                row[j] = A[(i, j)].to(f64) * (dt * d[j] / d[i])
        if i not in frozen:
            row[m + i] = torch.full(shape, dt, dtype=f64, device=device)
        rows.append(torch.stack(row, dim=-1))
    for _ in range(m):
        rows.append(torch.zeros(shape + (2 * m,), dtype=f64, device=device))
    M = torch.stack(rows, dim=-2)
    X = expm(M)
    scale = torch.as_tensor(d[:, None] / d[None, :], dtype=f64, device=device)
    E = X[..., :m, :m] * scale
    F = X[..., :m, m:] * scale
    cyc = _cyclic(A, m)
    if len(cyc) < m:
        E = E.clone()
        F = F.clone()
        for i in range(m):
            if i in cyc:
                continue
            a = A.get((i, i))
            if i in frozen:
                E[..., i, i] = 1.0
                F[..., i, i] = 0.0
            elif a is None:
                E[..., i, i] = 1.0
                F[..., i, i] = dt
            else:
                a = torch.broadcast_to(a.to(f64), shape)
                E[..., i, i] = torch.exp(a * dt)
                safe = torch.where(a == 0, torch.ones_like(a), a)
                F[..., i, i] = torch.where(a == 0, torch.full_like(a, dt), torch.expm1(a * dt) / safe)
    return E, F


def parameter_value(cm, expr, values, dtype=None):
    """Value of a sympy expression of parameters, ``values`` mapping parameter names
    to tensors (cast to ``dtype`` when given); a number becomes a 0-d tensor of the
    parameters' dtype and device."""
    if expr.is_number:
        ref = next(iter(values.values()))
        return torch.as_tensor(float(expr), dtype=dtype or ref.dtype, device=ref.device)
    ns = {cm.names[k]: (v if dtype is None else v.to(dtype)) for k, v in values.items()
          if k in cm.names}
    return evaluate(expr, cm.names, ns)


def layout_values(cm, values, dt, dtype):
    """The coefficients of ``cm.layout`` (a tuple of tensors, in layout order) for
    parameter tensors ``values`` (name -> 0-d or ``(n,)`` tensor) and step ``dt``
    (seconds), cast to ``dtype``.

    ``E`` and ``F`` come from one matrix exponential (:func:`propagator`) in float64,
    differentiable in the parameters; ``K_i = sum_j F_ij c0_j`` and ``G_ik = sum_j
    F_ij g_jk`` fold in the forcing. A second propagator with the rows of
    ``(unless refractory)`` variables zeroed serves refractory neurons. For an
    affine discrete-time map (method ``'map'``) the coefficients are the map's own
    (:func:`_map_values`).
    """
    if cm.method == "map":
        return _map_values(cm, values, dt, dtype)
    f64 = torch.float64
    m = len(cm.states)
    ref = next(iter(values.values()))
    device = ref.device
    entries, shape = {}, ()       # np.broadcast_shapes: torch's imports torch.fx (~0.1 s)
    for ij, a in cm.A.items():
        entries[ij] = parameter_value(cm, a, values, f64)
        shape = np.broadcast_shapes(shape, tuple(entries[ij].shape))
    c0 = {i: parameter_value(cm, e, values, f64) for i, e in cm.constant_forcing.items()}
    g = {ik: parameter_value(cm, e, values, f64) for ik, e in cm.input_forcing.items()}
    for v in list(c0.values()) + list(g.values()):
        shape = np.broadcast_shapes(shape, tuple(v.shape))
    refr = cm.refractory_rows
    blocks = {}
    for variant in sorted({c.refractory for c in cm.layout.entries}):
        A = {ij: torch.broadcast_to(v, shape) for ij, v in entries.items()
             if not (variant and ij[0] in refr)}
        blocks[variant] = propagator(A, m, dt, shape, device, frozen=refr if variant else ())
    out = []
    for c in cm.layout.entries:
        E, F = blocks[c.refractory]
        reach = sorted(cm.reach[c.row])
        if c.kind == "E":
            v = E[..., c.row, c.col]
        elif c.kind == "F":
            v = F[..., c.row, c.col]
        elif c.kind == "K":
            v = sum(F[..., c.row, j] * c0[j] for j in reach if j in c0)
        else:
            v = sum(F[..., c.row, j] * g[(j, c.col)] for j in reach if (j, c.col) in g)
        out.append(v.to(dtype))
    return tuple(out)


def _map_values(cm, values, dt, dtype):
    """The coefficients of an affine discrete-time map, ``E_ij``, ``K_i``, ``G_ik``:
    expressions of the parameters and ``dt`` evaluated as they are (in float64,
    differentiable in the parameters)."""
    f64 = torch.float64
    device = next(iter(values.values())).device if values else None
    values = dict(values)
    values["dt"] = torch.as_tensor(float(dt), dtype=f64, device=device)
    out = []
    for c in cm.layout.entries:
        expr = {"E": lambda: cm.A[(c.row, c.col)], "K": lambda: cm.constant_forcing[c.row],
                "G": lambda: cm.input_forcing[(c.row, c.col)]}[c.kind]()
        out.append(parameter_value(cm, expr, values, f64).to(dtype))
    return tuple(out)
