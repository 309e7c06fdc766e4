"""Robustness of spiking classifiers to input noise, spike faults, membrane noise and
attacks, measured as in the NSNN paper (Ma, Yan & Tang, Patterns 2023).

:data:`SUITE` maps each perturbation to its strengths; :func:`evaluate` scores one
trained :class:`~neuromod.backends.layers.SpikingNet` under all of them,
:func:`compare` trains an NSNN and the same network of deterministic LIF neurons
over several seeds and scores both, :func:`figure` draws the curves.

Input corruptions (inputs scaled to [0, 1]; drawn once per condition from their
own seeded generator and *frozen* before the passes are averaged -- a corruption
drawn anew in each pass would be averaged away by the ensemble itself)

* ``gaussian`` (additive): ``clip(x + s xi, 0, 1)``, ``xi ~ N(0, 1)``;
* ``multiplicative``: ``clip(x (1 + s xi), 0, 1)``;
* ``salt-pepper``: each input value becomes 0 or 1 (even odds) with probability ``s``.

Perturbations inside the network (every spiking layer, drawn anew in each pass;
:class:`~neuromod.backends.layers.Perturbation`)

* ``spikes``: each emitted spike is deleted with probability ``s`` and a spike is
  added at each silent position with probability ``s``, before the spikes are
  sent on (the neurons reset on the spikes they emitted);
* ``membrane``: ``u <- beta u + x_t + s xi_t`` (Gaussian ``xi_t``, ``s`` in units
  of the membrane, ``theta = 1``).

Attacks (through the network's own backward: the noise density for NSNN, the
surrogate for LIF; cross-entropy of the read-out)

* ``l2``: a per-sample ``delta`` on the sphere ``||delta||_2 = s * mean_i ||x_i||_2``
  (random start), Adam (lr 0.002) for 30 steps ascending the loss, projected back
  onto the sphere after every step; ``x + delta`` is not clipped (the official
  protocol);
* ``fgsm``: ``clip(x + s sign(grad_x loss), 0, 1)``.

Against a stochastic network a gradient drawn from one noise sample is a weak
attack; ``l2`` and ``fgsm`` use the expectation over transformation: the gradient
of the loss averaged over ``samples`` (8) noise samples. ``l2-single`` and
``fgsm-single`` are the single-sample attacks, reported beside them
(:data:`REPORTED_ONLY`: they stay out of :func:`compare`'s mean difference). A
deterministic network gets the same attack either way.

Every condition is scored on the average of ``ensemble`` passes (default 8) for
both networks, so an NSNN's test-time ensemble and a LIF network's
deterministic pass are compared on the same footing; every draw comes from a
generator seeded by ``(seed, condition)``, so a run measures the same figures
every time.

Examples
--------
>>> from neuromod.training import TrainOptions
>>> from neuromod.neurons.nsnn import train
>>> net, report = train("digits", options=TrainOptions(epochs=2, momentum=0.9), hidden=32)
>>> from neuromod.datasets import load_dataset
>>> test = load_dataset("digits").subset(range(100))
>>> r = evaluate(net, test, suite={"spikes": (0.1,), "fgsm": (0.05,)}, ensemble=2, samples=2)
>>> [(row["kind"], row["strength"]) for row in r["rows"]]
[('spikes', 0.1), ('fgsm', 0.05)]
>>> 0.0 <= r["rows"][0]["accuracy"] <= 1.0
True
"""
import dataclasses

import numpy as np

from neuromod.backends.layers import Perturbation
from neuromod.errors import ParameterError
from neuromod.training import as_tensors, generator

__all__ = ["SUITE", "KINDS", "REPORTED_ONLY", "corrupt", "SpikeFaults", "MembraneNoise",
           "l2_attack", "fgsm", "evaluate", "compare", "figure"]

#: Perturbation kinds and their strengths (the paper's protocol).
SUITE = {
    "gaussian": (0.1, 0.2, 0.4),
    "multiplicative": (0.1, 0.2, 0.4),
    "salt-pepper": (0.01, 0.03, 0.1),
    "spikes": (0.05, 0.1, 0.2),
    "membrane": (0.1, 0.2),
    "l2": (0.5, 1.0),
    "l2-single": (0.5, 1.0),
    "fgsm": (0.05, 0.1),
    "fgsm-single": (0.05, 0.1),
}
#: Every kind :func:`evaluate` knows, with the meaning of its strength.
KINDS = {
    "gaussian": "standard deviation of additive Gaussian input noise",
    "multiplicative": "standard deviation of multiplicative Gaussian input noise",
    "salt-pepper": "probability that an input value is replaced by 0 or 1",
    "spikes": "fraction of spikes deleted and of silent positions given a spike",
    "membrane": "standard deviation of Gaussian membrane noise per step",
    "l2": "L2 radius, in units of the mean input norm (8-sample gradients)",
    "l2-single": "L2 radius, in units of the mean input norm (1-sample gradients)",
    "fgsm": "L-infinity step of FGSM (8-sample gradients)",
    "fgsm-single": "L-infinity step of FGSM (1-sample gradients)",
}
#: Kinds reported beside the others but kept out of :func:`compare`'s mean.
REPORTED_ONLY = ("l2-single", "fgsm-single")

_INPUT = ("gaussian", "multiplicative", "salt-pepper")
_ATTACKS = ("l2", "l2-single", "fgsm", "fgsm-single")
#: The L2 attack's optimiser (the official protocol).
L2_STEPS, L2_LR = 30, 0.002


def _torch():
    import torch
    return torch


def _check_strength(kind, s):
    if kind not in KINDS:
        raise ParameterError(f"unknown perturbation {kind!r}; known: {', '.join(KINDS)}")
    s = float(s)
    if not np.isfinite(s) or s < 0:
        raise ParameterError(f"{kind}: strength must be >= 0, got {s!r}")
    if kind in ("salt-pepper", "spikes") and s > 1:
        raise ParameterError(f"{kind}: strength is a probability in [0, 1], got {s!r}")
    return s


def corrupt(x, kind, strength, generator=None):
    """A corrupted copy of inputs ``x`` (values in [0, 1]).

    Parameters
    ----------
    x : torch.Tensor
    kind : {'gaussian', 'multiplicative', 'salt-pepper'}
    strength : float
        Noise standard deviation, or the salt-and-pepper probability.
    generator : torch.Generator, optional

    Returns
    -------
    torch.Tensor
        Same shape, values in [0, 1].

    Examples
    --------
    >>> import torch
    >>> x = torch.full((1000,), 0.5)
    >>> y = corrupt(x, "salt-pepper", 0.1, torch.Generator().manual_seed(0))
    >>> round(float((y != 0.5).double().mean()), 1), sorted(set(y.tolist()))
    (0.1, [0.0, 0.5, 1.0])
    """
    torch = _torch()
    if kind not in _INPUT:
        raise ParameterError(f"input corruption must be one of {', '.join(_INPUT)}, "
                             f"got {kind!r}")
    s = _check_strength(kind, strength)
    if kind == "salt-pepper":
        r = torch.rand(x.shape, generator=generator).to(x.device)
        salt = (torch.rand(x.shape, generator=generator) < 0.5).to(x.device, x.dtype)
        return torch.where(r < s, salt, x)
    xi = torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
    y = x + s * xi if kind == "gaussian" else x * (1.0 + s * xi)
    return y.clamp(0.0, 1.0)


class SpikeFaults(Perturbation):
    """Delete each emitted spike with probability ``p`` and add a spike at each
    silent position with probability ``p``, in every spiking layer.

    Examples
    --------
    >>> import torch
    >>> s = torch.zeros(1, 1000, 1)
    >>> out = SpikeFaults(0.2).spikes(s, torch.Generator().manual_seed(0))
    >>> round(float(out.mean()), 1)
    0.2
    """

    def __init__(self, p):
        self.p = _check_strength("spikes", p)

    def spikes(self, spikes, generator):
        torch = _torch()
        r = torch.rand(spikes.shape, generator=generator).to(spikes.device)
        return torch.where(spikes > 0, r >= self.p, r < self.p).to(spikes.dtype)


class MembraneNoise(Perturbation):
    """Gaussian noise of standard deviation ``sigma`` added to every spiking layer's
    membrane in every step: ``u <- beta u + x_t + sigma xi_t``.

    Examples
    --------
    >>> import torch
    >>> d = MembraneNoise(0.2).drive(torch.zeros(1, 10000, 1), torch.Generator().manual_seed(0))
    >>> round(float(d.std()), 2)
    0.2
    """

    def __init__(self, sigma):
        self.sigma = _check_strength("membrane", sigma)

    def drive(self, drive, generator):
        torch = _torch()
        xi = torch.randn(drive.shape, generator=generator).to(drive.device, drive.dtype)
        return drive + self.sigma * xi


def _samples(net, samples):
    stochastic = getattr(net, "stochastic", False) and getattr(net, "eval_noise", True)
    return max(1, int(samples)) if stochastic else 1


def _loss(net, x, y, k, generator):
    """Cross-entropy averaged over ``k`` noise samples of each input."""
    torch = _torch()
    xs = x.repeat(k, *([1] * (x.ndim - 1))) if k > 1 else x
    out = net(xs, generator=generator)
    return torch.nn.functional.cross_entropy(out, y.repeat(k) if k > 1 else y)


def _with_grad(net, fn):
    torch = _torch()
    was = net.training
    net.eval()
    params = [p.requires_grad for p in net.parameters()]
    for p in net.parameters():
        p.requires_grad_(False)
    try:
        with torch.enable_grad():
            return fn()
    finally:
        for p, r in zip(net.parameters(), params):
            p.requires_grad_(r)
        net.train(was)


def l2_attack(net, x, y, gamma, samples=8, seed=0, steps=L2_STEPS, lr=L2_LR, radius=None):
    """Adversarial inputs on an L2 sphere around ``x`` (the NSNN paper's attack).

    ``delta`` starts in a random direction with ``||delta_i||_2 = r`` for every
    sample ``i``, ``r = gamma * mean_i ||x_i||_2`` (or ``radius``), and Adam (``lr``)
    ascends the cross-entropy for ``steps`` steps, each followed by the projection
    ``delta_i <- r delta_i / ||delta_i||``; the loss is averaged over ``samples``
    noise samples of a stochastic network (expectation over transformation).

    Parameters
    ----------
    net : SpikingNet
    x, y : torch.Tensor
        Inputs ``(batch, ...)`` and labels.
    gamma : float
        Radius in units of the mean input norm.
    samples : int
    seed : int
    steps : int
    lr : float
    radius : float, optional
        The radius itself (default ``gamma * mean ||x||``).

    Returns
    -------
    torch.Tensor
        ``x + delta``, detached.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> class Net(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__(); self.net = net
    ...     def forward(self, x, generator=None): return self.net(x)
    >>> x = torch.rand(3, 4)
    >>> adv = l2_attack(Net(), x, torch.tensor([0, 1, 0]), 0.5, steps=5)
    >>> torch.allclose((adv - x).norm(dim=1), 0.5 * x.norm(dim=1).mean())
    True
    """
    torch = _torch()
    gamma = _check_strength("l2", gamma)
    k = _samples(net, samples)
    gen = generator([seed, 11])
    x = x.detach()
    r = float(gamma * x.flatten(1).norm(dim=1).mean()) if radius is None else float(radius)

    def project(d):
        n = d.flatten(1).norm(dim=1).clamp_min(1e-12)
        return d * (r / n).view(-1, *([1] * (d.ndim - 1)))

    delta = project(torch.randn(x.shape, generator=gen).to(x.device, x.dtype))
    if r == 0:
        return x.clone()

    def run():
        d = delta.clone().requires_grad_(True)
        opt = torch.optim.Adam([d], lr=lr)
        for _ in range(int(steps)):
            opt.zero_grad()
            (-_loss(net, x + d, y, k, gen)).backward()
            opt.step()
            with torch.no_grad():
                d.copy_(project(d))
        return (x + d).detach()
    return _with_grad(net, run)


def fgsm(net, x, y, eps, samples=8, seed=0):
    """FGSM inputs ``clip(x + eps sign(grad_x loss), 0, 1)``, the loss averaged over
    ``samples`` noise samples of a stochastic network.

    Examples
    --------
    >>> import torch
    >>> class Net(torch.nn.Module):
    ...     def forward(self, x, generator=None): return torch.stack([x.sum(1), -x.sum(1)], 1)
    >>> fgsm(Net(), torch.full((1, 3), 0.5), torch.tensor([0]), 0.1).tolist()
    [[0.4000000059604645, 0.4000000059604645, 0.4000000059604645]]
    """
    torch = _torch()
    eps = _check_strength("fgsm", eps)
    k = _samples(net, samples)
    gen = generator([seed, 13])

    def run():
        xa = x.detach().clone().requires_grad_(True)
        _loss(net, xa, y, k, gen).backward()
        return (x + eps * xa.grad.sign()).clamp(0.0, 1.0).detach()
    return _with_grad(net, run)


def _accuracy(net, X, y, ensemble, generator, perturbation, batch):
    torch = _torch()
    correct = 0
    with torch.no_grad():
        for i in range(0, X.shape[0], batch):
            s = net.predict(X[i:i + batch], ensemble=ensemble, generator=generator,
                            perturbation=perturbation)
            correct += int((s.argmax(1) == y[i:i + batch]).sum())
    return correct / X.shape[0]


def _conditions(suite):
    suite = SUITE if suite is None else suite
    out = []
    for kind, strengths in suite.items():
        for s in strengths:
            out.append((kind, _check_strength(kind, s)))
    return out


def evaluate(net, data, suite=None, ensemble=8, samples=8, seed=0, batch_size=512,
             progress=False):
    """Accuracy of a trained spiking net under every perturbation of ``suite``.

    Parameters
    ----------
    net : SpikingNet
    data : Dataset or (X, y)
        Held-out inputs in [0, 1] and labels.
    suite : dict, optional
        ``{kind: strengths}`` (default :data:`SUITE`; kinds in :data:`KINDS`).
    ensemble : int
        Passes averaged per condition (default 8).
    samples : int
        Noise samples per attack gradient (default 8; 1 for ``*-single``).
    seed : int
    batch_size : int
    progress : bool
        A tqdm bar on stderr.

    Returns
    -------
    dict
        ``clean`` (accuracy without perturbation), ``rows`` (one ``{kind,
        strength, accuracy}`` per condition, in suite order), ``ensemble``,
        ``samples``, ``seed``.
    """
    torch = _torch()
    if int(ensemble) < 1 or int(samples) < 1:
        raise ParameterError(f"ensemble and samples must be >= 1, got {ensemble}, {samples}")
    conditions = _conditions(suite)
    dev = next((p.device for p in net.parameters()), torch.device("cpu"))
    X, y = as_tensors(data, dev)
    clean = _accuracy(net, X, y, ensemble, generator([seed, 0, 0]), None, batch_size)
    rows = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(conditions), desc="robustness", unit="condition", leave=False)
    try:
        for i, (kind, s) in enumerate(conditions, start=1):
            gen = generator([seed, i, 1])
            pert, Xc = None, X
            if kind in _INPUT:
                Xc = corrupt(X, kind, s, gen)
            elif kind == "spikes":
                pert = SpikeFaults(s)
            elif kind == "membrane":
                pert = MembraneNoise(s)
            else:
                k = 1 if kind.endswith("-single") else samples
                attack = l2_attack if kind.startswith("l2") else fgsm
                radius = None
                if attack is l2_attack:   # one radius for the whole set, batch by batch
                    radius = float(s * X.flatten(1).norm(dim=1).mean())
                parts = []
                for j in range(0, X.shape[0], batch_size):
                    xb, yb = X[j:j + batch_size], y[j:j + batch_size]
                    if attack is l2_attack:
                        parts.append(l2_attack(net, xb, yb, s, k, seed=seed * 1000 + i,
                                               radius=radius))
                    else:
                        parts.append(fgsm(net, xb, yb, s, k, seed=seed * 1000 + i))
                Xc = torch.cat(parts)
            acc = _accuracy(net, Xc, y, ensemble, generator([seed, i, 2]), pert, batch_size)
            rows.append({"kind": kind, "strength": s, "accuracy": acc})
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return {"clean": clean, "rows": rows, "ensemble": int(ensemble), "samples": int(samples),
            "seed": int(seed)}


def compare(data="digits", seeds=(0, 1, 2), options=None, suite=None, ensemble=8, samples=8,
            split_seed=0, progress=False, **net_options):
    """Train an NSNN and the same network of deterministic LIF neurons per seed (the
    recipe of :func:`neuromod.neurons.nsnn.train`) and score both with
    :func:`evaluate` on the held-out test split.

    Parameters
    ----------
    data : str or Dataset
    seeds : sequence of int
        Training seeds (weights, batches, noise); the split is ``split_seed``'s.
    options : TrainOptions, optional
        Default :data:`neuromod.neurons.nsnn.RECIPE`; its seed is replaced by each
        of ``seeds``.
    suite, ensemble, samples :
        As :func:`evaluate`.
    split_seed : int
    progress : bool
    **net_options :
        Keyword arguments of :func:`neuromod.neurons.nsnn.classifier`.

    Returns
    -------
    dict
        ``seeds``; ``runs`` (``{'nsnn': [...], 'lif': [...]}``: per seed the
        :func:`evaluate` result with ``test_accuracy`` of the training report);
        ``table``: per condition ``kind, strength, nsnn, lif`` (means over seeds)
        and ``difference`` (``nsnn - lif``) with ``spread`` (its standard
        deviation over seeds; 0 for one seed); ``mean_difference``: the mean of
        ``difference`` over the conditions not in :data:`REPORTED_ONLY`, with
        ``mean_difference_spread``, the standard deviation over seeds of each
        seed's mean; ``clean_difference``, the unperturbed ``nsnn - lif``
        difference (same passes), so that ``mean_difference - clean_difference``
        compares the accuracy each network *loses* under perturbation.
    """
    from neuromod.datasets import Dataset, load_dataset, split
    from neuromod.neurons.nsnn import RECIPE, train
    from neuromod.training import TrainOptions
    ds = data if isinstance(data, Dataset) else load_dataset(data)
    test = ds.subset(split(ds.y, seed=split_seed)[2])
    base = TrainOptions(**RECIPE) if options is None else options
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ParameterError("compare needs at least one seed")
    runs = {"nsnn": [], "lif": []}
    for seed in seeds:
        opts = dataclasses.replace(base, seed=seed)
        for neuron in runs:
            net, report = train(ds, neuron, opts, split_seed=split_seed, progress=progress,
                                **net_options)
            res = evaluate(net, test, suite, ensemble, samples, seed, progress=progress)
            res["test_accuracy"] = report["test_accuracy"]
            runs[neuron].append(res)
    acc = {k: np.array([[r["accuracy"] for r in run["rows"]] for run in v])
           for k, v in runs.items()}                                  # (seeds, conditions)
    diff = acc["nsnn"] - acc["lif"]
    table = [{"kind": row["kind"], "strength": row["strength"],
              "nsnn": float(acc["nsnn"][:, j].mean()), "lif": float(acc["lif"][:, j].mean()),
              "difference": float(diff[:, j].mean()), "spread": float(diff[:, j].std())}
             for j, row in enumerate(runs["nsnn"][0]["rows"])]
    keep = np.array([row["kind"] not in REPORTED_ONLY for row in table])
    per_seed = diff[:, keep].mean(1) if keep.any() else np.zeros(len(seeds))
    return {"seeds": seeds, "runs": runs, "table": table,
            "clean": {k: float(np.mean([r["clean"] for r in v])) for k, v in runs.items()},
            "mean_difference": float(per_seed.mean()),
            "mean_difference_spread": float(per_seed.std()),
            "clean_difference": float(np.mean([a["clean"] - b["clean"] for a, b in
                                               zip(runs["nsnn"], runs["lif"])])),
            "ensemble": int(ensemble), "samples": int(samples)}


def figure(result, path):
    """Accuracy against strength, one panel per perturbation, NSNN and LIF (means
    over seeds, bars: their range), from :func:`compare`'s result; written to
    ``path`` (PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    kinds = list(dict.fromkeys(r["kind"] for r in result["table"]))
    cols = min(3, len(kinds))
    rows = -(-len(kinds) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.1 * rows), sharey=True,
                             squeeze=False)
    for ax in axes.flat[len(kinds):]:
        ax.set_visible(False)
    for ax, kind in zip(axes.flat, kinds):
        j = [i for i, r in enumerate(result["table"]) if r["kind"] == kind]
        xs = [result["table"][i]["strength"] for i in j]
        for neuron, color in (("nsnn", "C3"), ("lif", "k")):
            a = np.array([[run["rows"][i]["accuracy"] for i in j]
                          for run in result["runs"][neuron]])
            clean = np.mean([run["clean"] for run in result["runs"][neuron]])
            m = a.mean(0)
            ax.errorbar([0.0] + xs, [clean, *m],
                        yerr=[[0, *np.maximum(m - a.min(0), 0)],
                              [0, *np.maximum(a.max(0) - m, 0)]],
                        color=color, marker="o", ms=3, lw=1, capsize=2,
                        label=neuron.upper())
        ax.set_title(kind, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy (held out)", fontsize=8)
    axes[0][0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
