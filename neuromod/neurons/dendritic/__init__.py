"""Dendritic-nonlinearity neurons (after Wu et al. 2023, "Mitigating communication
costs in neural networks: the role of dendritic nonlinearity").

A dendritic neuron has ``K`` branches; branch ``k`` sees every output of the layer
below and computes ``d_k = g(sum_i w_ki x_i + b_k)`` with a local nonlinearity
``g``; the soma sums its branches and applies its own nonlinearity (a rate unit) or
integrates the sum as the drive of a spiking soma; only the soma's output goes on
to the next layer. The claim under test: branches do not add much learning
capacity, but a network keeps its accuracy at the same compute while far fewer
activations travel between layers.

Pieces
    :func:`dendritic_neuron`, the spiking neuron as one model definition for both
    backends (a discrete LIF or noisy-LIF soma with ``K`` branch inputs);
    :func:`network`, rate or spiking networks of dendritic layers (the layers are
    :class:`~neuromod.backends.dendrites.DendriticDense` /
    :class:`~neuromod.backends.dendrites.DendriticConv2d` and
    :class:`~neuromod.backends.layers.SpikingDense` /
    :class:`~neuromod.backends.layers.SpikingConv2d` with ``branches=K``);
    :func:`budget`, the cost accounting of a network; :func:`match_budget`, the
    dendritic network of a point network's compute or parameters;
    :func:`spikes_sent`; :func:`train`, the recipe of ``neuromod train dendritic``.

Budget (:func:`budget`), per sample and forward pass
    A dense layer of ``n`` somata with ``K`` branches on ``L`` inputs has
    ``L n K + n K`` parameters (one bias per branch, none on the soma),
    ``L n K`` MACs, sends ``n`` activations and writes ``n K + n`` float32 values
    (branch outputs and somatic outputs; a point layer, ``K = 1``, writes its
    pre-activations and activations). A convolution counts the same per output
    position (``L = C_in k^2``) and sends its pooled map. Inter-layer activations
    are those of the hidden layers (the class scores are not sent on). A spiking
    network runs ``T`` steps: its MACs, activations and writes are ``T`` times
    those of one step, and :func:`spikes_sent` measures the spikes actually sent.

Matching (:func:`match_budget`)
    Every dendritic layer's MACs (or parameters) equal the point layer's within 5 %
    with integer soma counts: ``M_{l-1} M_l K = W_{l-1} W_l`` for MACs, solved layer
    by layer from the fixed input width ``M_0 = W_0`` and rounded. The first layer
    gets ``W_1 / K`` somata. The recurrence then alternates: a hidden-to-hidden
    layer after ``W/K`` somata gets ``W`` (``W/K * W * K = W^2``), the next ``W/K``
    again. ``W/sqrt(K)`` somata -- the figure quoted for the dendritic layer (its
    GEMM ``(L/sqrt K) x (N sqrt K)`` has the point layer's MACs) -- is the fixed
    point of the recurrence, reached only when the layer's input already has
    ``W/sqrt(K)`` units; with a fixed input width and every layer matched it is
    not reachable. The widths chosen are reported. The output layer stays a point
    layer (its MACs shrink with its input).

Examples
--------
>>> arch = match_budget((64, 256, 256, 256, 10), 4)
>>> arch.widths
(64, 64, 256, 64, 10)
>>> b = budget(arch.network())
>>> b["macs"], b["activations_per_sample"]
(148096, 384)
>>> budget(network((64, 256, 256, 256, 10)))["activations_per_sample"]
768
"""
import math
import re
from dataclasses import dataclass, field

from neuromod.backends.dendrites import NONLINEARITIES, check_nonlinearity
from neuromod.backends.layers import check_branches
from neuromod.backends.model import NeuronModel
from neuromod.errors import ParameterError

__all__ = ["dendritic_neuron", "network", "budget", "match_budget", "Architecture",
           "spikes_sent", "train", "SOMATA", "SPIKING_SOMATA", "MATCHES", "REFERENCE",
           "RECIPE", "TOLERANCE"]

#: Somata of :func:`network`: rate nonlinearities, or spiking somata.
SPIKING_SOMATA = ("lif", "noisy-lif")
SOMATA = tuple(NONLINEARITIES) + SPIKING_SOMATA
#: What :func:`match_budget` holds equal, layer by layer.
MATCHES = ("macs", "params")
#: Relative tolerance of :func:`match_budget`, per layer.
TOLERANCE = 0.05
#: Reference point networks (input, three hidden layers, classes).
REFERENCE = {"digits": (64, 256, 256, 256, 10), "mnist1d": (40, 256, 256, 256, 10)}
#: The training recipe of :func:`train`: Adam, learning rate 1e-3, batches of 32,
#: 40 epochs, best validation epoch kept.
RECIPE = {"epochs": 40, "batch_size": 32, "lr": 1e-3, "optimizer": "adam"}


def dendritic_neuron(branches=2, branch="relu", soma="noisy-lif", noise="gaussian",
                     reset="zero", branch_decay=None, **parameters):
    """A spiking point soma with ``K`` nonlinear branch inputs, one model for both
    backends.

    The soma is the discrete LIF of :func:`neuromod.neurons.nsnn.discrete_lif`
    (``soma='lif'``, threshold with a surrogate gradient) or the noisy LIF of
    :func:`neuromod.neurons.nsnn.noisy_lif` (``'noisy-lif'``, Bernoulli firing); its
    drive ``x`` becomes the sum of the branch outputs::

        u <- beta u + g(x_1) + ... + g(x_K)

    once per step, ``x_k`` the step's drive of branch ``k`` (held over the step) and
    ``g`` the branch nonlinearity, written as Brian2 text
    (:data:`neuromod.backends.dendrites.NONLINEARITIES`), so that Brian2 and Torch
    run the same statement. With ``branch_decay`` each branch is a leaky dendritic
    compartment ``d_k`` that integrates its drive before the nonlinearity::

        d_k <- alpha_d d_k + x_k   (k = 1..K);   u <- beta u + g(d_1) + ... + g(d_K)

    (``alpha_d`` the per-step decay; the soma's reset leaves the compartments).

    Parameters
    ----------
    branches : int
        ``K >= 1``.
    branch : str
        ``identity``, ``relu``, ``softplus`` or ``sigmoid``.
    soma : {'lif', 'noisy-lif'}
    noise, reset :
        As :func:`~neuromod.neurons.nsnn.noisy_lif` (``noise`` for ``noisy-lif`` only).
    branch_decay : float in [0, 1], optional
        ``alpha_d`` of leaky branch compartments (default: none, ``g(x_k)`` of the
        step's drive).
    **parameters
        Overrides of ``beta``, ``theta`` (and ``sigma``, ``alpha_d``),
        dimensionless, per step.

    Returns
    -------
    NeuronModel
        States ``u`` (and ``d_1 ... d_K`` with compartments); inputs ``x_1 ... x_K``.

    Examples
    --------
    >>> m = dendritic_neuron(2, "relu")
    >>> m.inputs, m.updates
    (('x_1', 'x_2'), 'u = beta*u + (clip(x_1, 0, inf) + clip(x_2, 0, inf))')
    """
    from neuromod.neurons.nsnn import discrete_lif, noisy_lif
    check_branches(branches)
    check_nonlinearity(branch, "branch")
    if soma not in SPIKING_SOMATA:
        raise ParameterError(f"soma must be one of {', '.join(SPIKING_SOMATA)}, got {soma!r}")
    base = noisy_lif(noise, reset) if soma == "noisy-lif" else discrete_lif(reset)
    d = base.to_dict()
    names = [f"x_{k}" for k in range(1, branches + 1)]
    g = NONLINEARITIES[branch]
    states = ["u"]
    pre = []
    if branch_decay is None:
        seen = names
    else:
        seen = [f"d_{k}" for k in range(1, branches + 1)]
        states += seen
        pre = [f"{c} = alpha_d*{c} + {x}" for c, x in zip(seen, names)]
        d["parameters"]["alpha_d"] = {"value": float(branch_decay), "unit": "1",
                                      "doc": "per-step decay of the branch compartments",
                                      "domain": "unit_interval"}
    total = " + ".join(re.sub(r"\bx\b", name, g) for name in seen)
    d["equations"] = "\n".join([f"{v} : 1" for v in states] + [f"{name} : 1" for name in names])
    d["inputs"] = names
    d["updates"] = "\n".join(pre + [re.sub(r"\bx\b", f"({total})", d["updates"])])
    d["name"] = f"dendritic-{soma}"
    d["derived"] = {}
    d["description"] = f"{base.description}; {branches} {branch} dendritic branches"
    model = NeuronModel.from_dict(d)
    return model.with_parameters(**parameters) if parameters else model


def _branches_list(branches, n_hidden):
    ks = [branches] * n_hidden if isinstance(branches, int) and not isinstance(
        branches, bool) else list(branches)
    if len(ks) != n_hidden or any(isinstance(k, bool) or not isinstance(k, int) or k < 1
                                  for k in ks):
        raise ParameterError(f"branches must be an integer >= 1 (or one per hidden layer, "
                             f"{n_hidden}), got {branches!r}")
    return ks


def network(widths, branches=1, branch=None, soma="relu", time_steps=4, in_shape=None,
            sigma=0.3, beta=0.5, theta=1.0, noise="gaussian", eval_noise=True, ensemble=1,
            surrogate="gaussian", alpha=None, branch_decay=None):
    """A feed-forward network of dendritic layers with a point output layer.

    Parameters
    ----------
    widths : sequence of int
        ``(inputs, somata of hidden layer 1, ..., classes)``.
    branches : int or sequence of int
        Branches per soma of every hidden layer (or one value per hidden layer).
        ``1`` with ``branch='identity'`` is the point network.
    branch : str, optional
        Branch nonlinearity; default ``'identity'`` where ``K = 1`` and ``'relu'``
        elsewhere.
    soma : str
        A rate nonlinearity (``relu``, ``softplus``, ``sigmoid``, ``identity``): a
        :class:`~neuromod.backends.dendrites.RateNet`; or ``lif`` / ``noisy-lif``: a
        :class:`~neuromod.backends.layers.SpikingNet` of :func:`dendritic_neuron`
        somata run for ``time_steps`` steps with a linear read-out of the last
        hidden layer's spikes (the point output layer).
    time_steps, sigma, beta, theta, noise, eval_noise, ensemble, surrogate, alpha :
        Spiking somata only (see :func:`neuromod.neurons.nsnn.classifier`; the
        surrogate of ``lif`` is by default the Gaussian of width ``sigma``).
    branch_decay : float, optional
        Spiking somata only: leaky branch compartments (:func:`dendritic_neuron`).
    in_shape : tuple, optional
        Shape of one input (flattened into the first layer).

    Examples
    --------
    >>> net = network((64, 32, 10), branches=4, soma="noisy-lif")
    >>> [tuple(layer.synapse.weight.shape) for layer in net.layers]
    [(128, 64), (10, 32)]
    """
    widths = tuple(int(w) for w in widths)
    if len(widths) < 3 or min(widths) < 1:
        raise ParameterError(f"widths must be (inputs, hidden..., classes), all >= 1, "
                             f"got {widths}")
    ks = _branches_list(branches, len(widths) - 2)
    if soma not in SOMATA:
        raise ParameterError(f"soma must be one of {', '.join(SOMATA)}, got {soma!r}")
    branch_of = [branch or ("identity" if k == 1 else "relu") for k in ks]
    for b in branch_of:
        check_nonlinearity(b, "branch")
    shape = (widths[0],) if in_shape is None else tuple(int(v) for v in in_shape)
    if soma not in SPIKING_SOMATA and branch_decay is not None:
        raise ParameterError("branch_decay (leaky branch compartments) needs a spiking soma "
                             f"({', '.join(SPIKING_SOMATA)})")
    if soma not in SPIKING_SOMATA:
        from neuromod.backends.dendrites import DendriticDense, RateNet
        layers = [DendriticDense(widths[i], widths[i + 1], ks[i], branch_of[i], soma)
                  for i in range(len(ks))]
        layers.append(DendriticDense(widths[-2], widths[-1], 1, "identity", "identity"))
        return RateNet(layers, in_shape=shape)
    from neuromod.backends.layers import LinearReadout, SpikingDense, SpikingNet
    if not (isinstance(sigma, (int, float)) and sigma > 0):
        raise ParameterError(f"sigma must be > 0, got {sigma!r}")
    layers = []
    for i, k in enumerate(ks):
        if k == 1 and branch_of[i] == "identity" and branch_decay is None:
            from neuromod.neurons.nsnn import discrete_lif, noisy_lif
            model = (noisy_lif(noise, beta=beta, theta=theta, sigma=sigma) if soma == "noisy-lif"
                     else discrete_lif(beta=beta, theta=theta))
        else:
            extra = {"sigma": sigma} if soma == "noisy-lif" else {}
            model = dendritic_neuron(k, branch_of[i], soma, noise, branch_decay=branch_decay,
                                     beta=beta, theta=theta, **extra)
        opts = ({} if soma == "noisy-lif" else
                {"surrogate": surrogate,
                 "alpha": 1.0 / float(sigma) if surrogate == "gaussian" and alpha is None
                 else alpha})
        layers.append(SpikingDense(widths[i], widths[i + 1], model, branches=k, **opts))
    layers.append(LinearReadout(widths[-2], widths[-1]))
    return SpikingNet(layers, readout="membrane", time_steps=time_steps, eval_noise=eval_noise,
                      ensemble=ensemble, in_shape=shape)


def _layer_cost(layer):
    """(params, macs, activations sent, values written, branches) of one layer, one step."""
    K = int(getattr(layer, "branches", 1))
    params = sum(p.numel() for p in layer.synapse.parameters())
    kind = getattr(layer, "kind", "")
    if "conv" in kind:
        conv = layer.synapse
        C_in = conv.in_channels
        k = conv.kernel_size[0] * conv.kernel_size[1]
        n, Ho, Wo = layer.conv_shape
        macs = C_in * k * n * K * Ho * Wo
        somatic = n * Ho * Wo
        sent = math.prod(layer.out_shape)
        written = somatic * K + somatic + (sent if sent != somatic else 0)
    else:
        lin = layer.synapse
        n = lin.out_features // K
        macs = lin.in_features * lin.out_features
        sent = n
        written = n * K + n
    return params, macs, sent, written, K


def budget(net):
    """The cost of one forward pass of ``net`` (a :func:`network` or any
    :class:`~neuromod.backends.dendrites.RateNet` /
    :class:`~neuromod.backends.layers.SpikingNet`), per sample.

    Returns
    -------
    dict
        ``K`` (branches per soma of the hidden layers: an int, or a list when they
        differ), ``widths`` (inputs, somata per layer, outputs), ``params``, ``macs``,
        ``activations_per_sample`` (hidden layers' somatic outputs sent on, times
        ``T`` steps for a spiking net), ``bytes_written`` (float32 branch and somatic
        outputs of every layer, times ``T``), ``time_steps`` and ``layers`` (the same
        per layer). See the module docstring for the counting rules.

    Examples
    --------
    Hand count, 3 inputs, 2 somata with 2 branches, 4 classes:
    weights 3*4 + 4 biases, then 2*4 + 4; MACs 12 + 8; 2 activations sent;
    writes (2*2 + 2) + (4 + 4) = 14 values = 56 bytes.

    >>> b = budget(network((3, 2, 4), branches=2))
    >>> b["params"], b["macs"], b["activations_per_sample"], b["bytes_written"]
    (28, 20, 2, 56)
    """
    T = int(getattr(net, "time_steps", 1))
    rows, ks = [], []
    layers = list(net.layers)
    for i, layer in enumerate(layers):
        params, macs, sent, written, K = _layer_cost(layer)
        hidden = i < len(layers) - 1
        rows.append({"kind": getattr(layer, "kind", ""), "branches": K, "params": params,
                     "macs": macs * T, "activations": sent * T if hidden else 0,
                     "bytes_written": 4 * written * T})
        if hidden:
            ks.append(K)
    widths = [math.prod(net.in_shape)] + [math.prod(layer.out_shape) for layer in layers]
    return {"K": ks[0] if len(set(ks)) == 1 else ks, "widths": widths,
            "params": sum(r["params"] for r in rows), "macs": sum(r["macs"] for r in rows),
            "activations_per_sample": sum(r["activations"] for r in rows),
            "bytes_written": sum(r["bytes_written"] for r in rows), "time_steps": T,
            "layers": rows}


@dataclass(frozen=True)
class Architecture:
    """What :func:`match_budget` returns: the widths of the budget-matched dendritic
    network and the per-layer comparison.

    Attributes
    ----------
    widths : tuple of int
        ``(inputs, somata per hidden layer..., classes)``.
    branches : int
    match : {'macs', 'params'}
    point_widths : tuple of int
    layers : tuple of dict
        Per hidden layer: ``n_in, somata, point, dendritic`` (the matched quantity)
        and ``relative_error``.
    """
    widths: tuple
    branches: int
    match: str
    point_widths: tuple
    layers: tuple = field(default_factory=tuple)

    def network(self, **options):
        """The network (:func:`network` with these widths and branches)."""
        return network(self.widths, self.branches, **options)


def _cost(n_in, n, K, match):
    return n_in * n * K if match == "macs" else (n_in + 1) * n * K


def match_budget(point_widths, branches, match="macs"):
    """The dendritic network with ``branches`` branches per soma whose every hidden
    layer has the MACs (or parameters) of the point network's within 5 %.

    Parameters
    ----------
    point_widths : sequence of int
        The point network, ``(inputs, hidden..., classes)``.
    branches : int
        ``K >= 1``.
    match : {'macs', 'params'}

    Returns
    -------
    Architecture

    Raises
    ------
    ParameterError
        ``K < 1``, or a layer that integer widths cannot match within 5 % (the
        message names the nearest).

    Examples
    --------
    >>> match_budget((64, 32, 1), 4, match="params").widths
    (64, 8, 1)
    >>> match_budget((64, 256, 10), 300)
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: K=300: hidden layer 1 needs 0.85 somata to match the point layer's 16384 MACs; the nearest integer width, 1, is off by 17% (at most 5%); use fewer branches or wider layers
    """
    W = tuple(int(w) for w in point_widths)
    if len(W) < 3 or min(W) < 1:
        raise ParameterError(f"point widths must be (inputs, hidden..., classes), all >= 1, "
                             f"got {W}")
    K = check_branches(branches)
    if match not in MATCHES:
        raise ParameterError(f"match must be one of {', '.join(MATCHES)}, got {match!r}")
    M = [W[0]]
    rows = []
    for l in range(1, len(W) - 1):
        target = _cost(W[l - 1], W[l], 1, match)
        unit = _cost(M[-1], 1, K, match)
        exact = target / unit
        n = max(1, int(round(exact)))
        got = _cost(M[-1], n, K, match)
        err = (got - target) / target
        if abs(err) > TOLERANCE:
            raise ParameterError(
                f"K={K}: hidden layer {l} needs {exact:.2f} somata to match the point layer's "
                f"{target} {'MACs' if match == 'macs' else 'parameters'}; the nearest integer "
                f"width, {n}, is off by {abs(err):.0%} (at most {TOLERANCE:.0%}); use fewer "
                "branches or wider layers")
        rows.append({"layer": l, "n_in": M[-1], "somata": n, "point": target, "dendritic": got,
                     "relative_error": err})
        M.append(n)
    return Architecture(tuple(M) + (W[-1],), K, match, W, tuple(rows))


def spikes_sent(net, X, generator=None, batch_size=512):
    """Spikes per sample that the spiking layers of a
    :class:`~neuromod.backends.layers.SpikingNet` send on (one pass, eval mode).

    Returns
    -------
    dict
        ``per_layer`` (mean spikes per sample of each spiking layer) and ``total``.

    Examples
    --------
    >>> import torch
    >>> net = network((4, 6, 2), branches=2, soma="noisy-lif")
    >>> s = spikes_sent(net, torch.rand(8, 4), torch.Generator().manual_seed(0))
    >>> len(s["per_layer"]), s["total"] >= 0
    (1, True)
    """
    import torch
    from neuromod.backends.layers import Perturbation

    class _Count(Perturbation):
        def __init__(self):
            self.sums = []

        def spikes(self, spikes, generator):
            self.sums.append(float(spikes.sum()))
            return spikes

    X = torch.as_tensor(X, dtype=torch.float32)
    n_spiking = sum(1 for layer in net.layers if getattr(layer, "kind", "") in
                    ("dense", "conv2d"))
    totals = [0.0] * n_spiking
    was = net.training
    net.eval()
    try:
        with torch.no_grad():
            for i in range(0, X.shape[0], batch_size):
                c = _Count()
                net(X[i:i + batch_size], generator=generator, perturbation=c)
                for j, v in enumerate(c.sums):
                    totals[j] += v
    finally:
        net.train(was)
    per = [t / X.shape[0] for t in totals]
    return {"per_layer": per, "total": sum(per)}


def train(data="digits", branches=1, match="macs", soma="relu", point_widths=None,
          options=None, split_seed=0, checkpoint=None, resume=False, progress=False,
          **net_options):
    """Train the budget-matched dendritic network on a data set and score it on the
    held-out split (the recipe of ``neuromod train dendritic``).

    The point network is :data:`REFERENCE` for the data set (else ``(inputs, 256,
    256, 256, classes)``), or ``point_widths``; :func:`match_budget` gives the
    widths for ``branches``; training is :func:`neuromod.training.train_classifier`
    (splits, best validation epoch, test scored once).

    Returns
    -------
    net : RateNet or SpikingNet
    report : dict
        The report of :func:`~neuromod.training.train_classifier` with a block
        ``budget``: ``K, widths, params, macs, activations_per_sample,
        bytes_written`` (and ``spikes_sent`` per sample on the test split for
        spiking somata), ``match``, ``point_widths``, ``soma``.

    Examples
    --------
    >>> from neuromod.training import TrainOptions
    >>> net, report = train("digits", branches=4, point_widths=(64, 32, 10),
    ...                     options=TrainOptions(epochs=3, lr=1e-2, optimizer="adam"))
    >>> report["budget"]["widths"], report["test_accuracy"] > 0.5
    ([64, 8, 10], True)
    """
    from neuromod.datasets import Dataset, load_dataset, split
    from neuromod.training import TrainOptions, train_classifier
    options = TrainOptions(**RECIPE) if options is None else options
    if soma not in SOMATA:
        raise ParameterError(f"soma must be one of {', '.join(SOMATA)}, got {soma!r}")
    ds = data if isinstance(data, Dataset) else load_dataset(data)
    n_in = math.prod(ds.in_shape)
    pw = tuple(point_widths) if point_widths is not None else REFERENCE.get(
        ds.name, (n_in, 256, 256, 256, ds.n_classes))
    if pw[0] != n_in or pw[-1] != ds.n_classes:
        raise ParameterError(f"point widths {pw} do not fit {ds.name}: {n_in} inputs, "
                             f"{ds.n_classes} classes")
    arch = match_budget(pw, branches, match)
    kw = dict(net_options)
    if soma in SPIKING_SOMATA:
        kw.setdefault("ensemble", options.ensemble)

    def build(in_shape, n_classes):
        return arch.network(soma=soma, in_shape=in_shape, **kw)

    net, report = train_classifier(build, ds, options, split_seed=split_seed,
                                   checkpoint=checkpoint, resume=resume,
                                   identity={"family": "dendritic", "soma": soma,
                                             "branches": branches, "match": match},
                                   progress=progress)
    b = budget(net)
    block = {k: b[k] for k in ("K", "widths", "params", "macs", "activations_per_sample",
                               "bytes_written")}
    block.update(match=match, point_widths=list(pw), soma=soma, time_steps=b["time_steps"])
    if soma in SPIKING_SOMATA:
        from neuromod.training import generator
        _, _, te = split(ds.y, seed=split_seed)
        block["spikes_sent"] = spikes_sent(net, ds.subset(te)[0],
                                           generator([options.seed, 4]))["total"]
    report["budget"] = block
    return net, report
