"""Save and load models, networks and trained Torch modules: one ``.npz`` file, no pickle.

The file holds a JSON header (entry ``__neuromod__``, a unicode string) and plain
numeric arrays; ``numpy.load(..., allow_pickle=False)`` reads it, so loading an
untrusted file cannot run code. The header records ``format``
(``'neuromod-model'``), ``version`` (:data:`VERSION`) and ``kind``:

``model``
    A :class:`~neuromod.backends.NeuronModel` (definition and parameter defaults).
``network``
    A :class:`~neuromod.backends.network.Network`: models, sizes, parameter and
    initial-value overrides, inputs, sources (Poisson rates, spike times) and
    connections (dense or CSR weights, or a convolution kernel; delays).
``layer``
    A :class:`~neuromod.backends.torch_backend.NeuronLayer` with its (trained)
    parameters, time step, drive and surrogate.
``spiking-net``, ``rate-net``
    A :class:`~neuromod.backends.layers.SpikingNet` or a
    :class:`~neuromod.backends.dendrites.RateNet`: its ``config()`` and weights.
``state``
    A training state (:func:`save_state`, :func:`load_state`): nested dicts,
    lists and tuples of numbers, strings, numpy arrays and torch tensors -- model
    weights, optimiser state, random-generator states -- as JSON plus arrays.

Files of every earlier version stay readable: :func:`load` upgrades old headers
step by step (:data:`_UPGRADES`). Writes are atomic.

Examples
--------
>>> import os, tempfile
>>> from neuromod.neurons import lif
>>> path = os.path.join(tempfile.mkdtemp(), "lif.npz")
>>> save(lif(tau_m="10*ms"), path)
>>> load(path).parameters["tau_m"].value
0.01
"""
import json

import numpy as np

from neuromod.backends.model import NeuronModel
from neuromod.errors import FileFormatError, naming

__all__ = ["save", "load", "save_state", "load_state", "VERSION", "FORMAT"]

FORMAT = "neuromod-model"
#: Current file version. 1: first release; 2: model parameters record their domain
#: (version-1 parameters read as ``'finite'``), and the ``state`` kind.
VERSION = 2
_HEADER = "__neuromod__"


def _upgrade_1(head, arrays):
    """Version 1 -> 2: nothing to convert (a parameter without ``domain`` is finite)."""
    return dict(head, version=2), arrays


#: version -> function upgrading a header (and arrays) of that version to the next.
_UPGRADES = {1: _upgrade_1}


class _Arrays:
    def __init__(self):
        self.arrays = {}

    def put(self, value):
        """Store a scalar inline or an array under a new key; return a JSON reference."""
        if hasattr(value, "detach"):
            value = value.detach().cpu().double().numpy()
        if hasattr(value, "tocsr"):
            m = value.tocsr()
            return {"csr": [self.put(m.data), self.put(m.indices.astype(np.int64)),
                            self.put(m.indptr.astype(np.int64))], "shape": list(m.shape)}
        arr = np.asarray(value)
        if arr.ndim == 0 and arr.dtype.kind in "fiub":
            return float(arr) if arr.dtype.kind == "f" else int(arr)
        return self.store(arr)

    def store(self, arr):
        """Store a numeric (bool, int, uint, float) array under a new key: ``{"array": key}``."""
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"cannot store a {arr.dtype} array")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = arr
        return {"array": key}


def _get(ref, arrays):
    if isinstance(ref, dict) and "array" in ref:
        try:
            return arrays[ref["array"]]
        except KeyError:
            raise FileFormatError(f"missing array {ref['array']!r}") from None
    if isinstance(ref, dict) and "csr" in ref:
        import scipy.sparse as sps
        data, ind, ptr = (_get(r, arrays) for r in ref["csr"])
        return sps.csr_matrix((data, ind, ptr), shape=tuple(ref["shape"]))
    return ref


def _network_to_json(net, A):
    pops = []
    for name, p in net.populations.items():
        pops.append({"name": name, "model": p.model.to_dict(), "n": p.n,
                     "params": {k: A.put(_si(p, k, v, "param")) for k, v in p.params.items()},
                     "init": {k: A.put(_si(p, k, v, "state")) for k, v in p.init.items()},
                     "inputs": {k: A.put(_si(p, k, v, "state")) for k, v in p.inputs.items()}})
    gens = []
    for name, g in net.generators.items():
        if hasattr(g, "rates"):
            gens.append({"name": name, "kind": "poisson", "n": g.n, "rates": A.put(g.rates)})
        else:
            st = g.spikes
            gens.append({"name": name, "kind": "spikes", "n": st.n_trains, "times": A.put(st.times),
                         "ids": A.put(st.ids), "t_start": st.t_start, "t_stop": st.t_stop})
    conns = []
    for c in net.connections:
        entry = {"source": c.source, "target": c.target, "port": c.port, "name": c.name,
                 "delays": A.put(c.delays)}
        if hasattr(c, "kernel"):          # a ConvConnection
            entry.update(kind="conv", kernel=A.store(np.asarray(c.kernel, dtype=np.float64)),
                         shape=[int(v) for v in c.shape], boundary=c.boundary)
        else:
            entry["weights"] = A.put(c.weights)
        conns.append(entry)
    return {"populations": pops, "generators": gens, "connections": conns}


def _si(pop, name, value, what):
    from neuromod.units import as_si
    dim = pop.model.parameters[name].dim if what == "param" else pop.model.dim_of(name)
    return as_si(value, dim, name)


def _network_from_json(d, arrays):
    from neuromod.backends.network import Network
    from neuromod.spikes import SpikeTrains
    net = Network()
    for p in d["populations"]:
        net.add_population(p["name"], NeuronModel.from_dict(p["model"]), p["n"],
                           params={k: _get(v, arrays) for k, v in p["params"].items()},
                           init={k: _get(v, arrays) for k, v in p["init"].items()},
                           inputs={k: _get(v, arrays) for k, v in p["inputs"].items()})
    for g in d["generators"]:
        if g["kind"] == "poisson":
            net.add_poisson(g["name"], g["n"], _get(g["rates"], arrays))
        else:
            st = SpikeTrains(_get(g["times"], arrays), _get(g["ids"], arrays), g["t_start"],
                             g["t_stop"], n_trains=g["n"])
            net.add_spike_source(g["name"], st)
    for c in d["connections"]:
        if c.get("kind") == "conv":
            net.connect_conv(c["source"], c["target"], c["port"], _get(c["kernel"], arrays),
                             tuple(c["shape"]), c["boundary"], delays=_get(c["delays"], arrays),
                             name=c["name"])
        else:
            net.connect(c["source"], c["target"], c["port"], _get(c["weights"], arrays),
                        delays=_get(c["delays"], arrays), name=c["name"])
    return net


def save(obj, path):
    """Write a model, network, :class:`TorchNetwork` or :class:`NeuronLayer` to ``path``.

    Parameters
    ----------
    obj : NeuronModel, Network, TorchNetwork, NeuronLayer, SpikingNet or RateNet
        A ``TorchNetwork`` is saved as the network it holds, with its current
        (trained) weights; a :class:`~neuromod.backends.layers.SpikingNet` or a
        :class:`~neuromod.backends.dendrites.RateNet` as its definition (its
        ``config()``) and weights.
    path : str or path-like
        Written atomically as an uncompressed ``.npz``.
    """
    from neuromod.backends.network import Network
    from neuromod.io import atomic_write
    A = _Arrays()
    head = {"format": FORMAT, "version": VERSION}
    cls = type(obj).__name__
    if isinstance(obj, NeuronModel):
        head.update(kind="model", model=obj.to_dict())
    elif isinstance(obj, Network):
        head.update(kind="network", network=_network_to_json(obj, A))
    elif cls == "TorchNetwork":
        head.update(kind="network", network=_network_to_json(obj.to_network(), A), dt=obj.dt)
    elif cls in ("SpikingNet", "RateNet"):
        head.update(kind="spiking-net" if cls == "SpikingNet" else "rate-net", net=obj.config(),
                    state={k: A.put(v.detach().cpu()) for k, v in obj.state_dict().items()})
    elif cls == "NeuronLayer":
        from neuromod.backends.surrogate import SURROGATES
        if obj.surrogate is not None and obj.surrogate.name not in SURROGATES:
            raise TypeError(f"cannot save custom surrogate {obj.surrogate!r}; save the model "
                            "and parameters instead")
        head.update(kind="layer", model=obj.model.to_dict(), n=obj.n, dt=obj.dt, drive=obj.drive,
                    surrogate=None if obj.surrogate is None else
                    {"name": obj.surrogate.name, "alpha": obj.surrogate.alpha},
                    detach_reset=obj.detach_reset,
                    train=[k for k in obj.tm.param_names if isinstance(getattr(obj, "p_" + k),
                                                               __import__("torch").nn.Parameter)],
                    params={k: A.put(getattr(obj, "p_" + k)) for k in obj.tm.param_names})
    else:
        raise TypeError(f"cannot save a {cls}")
    header = np.array(json.dumps(head, sort_keys=True))

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **{_HEADER: header}, **A.arrays)

    atomic_write(path, write)


def save_state(state, path):
    """Write a training state -- nested dicts (string or integer keys), lists and
    tuples of None, bools, numbers, strings, numpy arrays and torch tensors -- to
    ``path`` (atomic ``.npz``: JSON header and arrays, no pickle).

    Examples
    --------
    >>> import os, tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> save_state({"epoch": 3, "w": torch.ones(2), "groups": [{"betas": (0.9, 0.99)}]}, path)
    >>> back = load_state(path)
    >>> back["epoch"], back["w"], back["groups"][0]["betas"]
    (3, tensor([1., 1.]), (0.9, 0.99))
    """
    from neuromod.io import atomic_write
    A = _Arrays()
    head = {"format": FORMAT, "version": VERSION, "kind": "state",
            "state": _state_to_json(state, A, 0)}
    header = np.array(json.dumps(head, sort_keys=True))

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, **{_HEADER: header}, **A.arrays)

    atomic_write(path, write)


def load_state(path):
    """Read what :func:`save_state` wrote; tensors come back as torch tensors of their
    dtype, arrays as numpy arrays.

    Raises
    ------
    FileFormatError
        When the file is not a neuromod state file (or is damaged).
    """
    head, arrays = _read(path)
    if head.get("kind") != "state":
        raise FileFormatError(f"{path}: not a training state (kind {head.get('kind')!r})")
    try:
        return _state_from_json(head["state"], arrays, 0)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise FileFormatError(f"{path}: damaged training state ({_one_line(exc)})") from None


_MAX_STATE_DEPTH = 32
_TENSOR_DTYPES = ("float64", "float32", "float16", "int64", "int32", "int16", "int8",
                  "uint8", "bool")


def _one_line(exc):
    text = " ".join(str(exc).split())
    return text if len(text) <= 100 else text[:97] + "..."


def _state_to_json(x, A, depth):
    if depth > _MAX_STATE_DEPTH:
        raise TypeError("training state nested too deeply")
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, (int, float)):
        return x if isinstance(x, int) or np.isfinite(x) else {"float": repr(float(x))}
    if hasattr(x, "detach"):
        t = x.detach().cpu()
        dtype = str(t.dtype).replace("torch.", "")
        if dtype not in _TENSOR_DTYPES:
            raise TypeError(f"cannot store a {dtype} tensor")
        key = f"a{len(A.arrays)}"
        A.arrays[key] = t.numpy()
        return {"tensor": key, "dtype": dtype}
    if isinstance(x, np.ndarray) or isinstance(x, np.generic):
        return A.store(np.asarray(x))
    if isinstance(x, tuple):
        return {"tuple": [_state_to_json(v, A, depth + 1) for v in x]}
    if isinstance(x, list):
        return [_state_to_json(v, A, depth + 1) for v in x]
    if isinstance(x, dict):
        if all(isinstance(k, str) for k in x):
            return {"dict": {k: _state_to_json(v, A, depth + 1) for k, v in x.items()}}
        if all(isinstance(k, int) and not isinstance(k, bool) for k in x):
            return {"intdict": [[k, _state_to_json(v, A, depth + 1)] for k, v in x.items()]}
    raise TypeError(f"cannot store a {type(x).__name__} in a training state")


def _state_from_json(x, arrays, depth):
    if depth > _MAX_STATE_DEPTH:
        raise ValueError("nested too deeply")
    if x is None or isinstance(x, (bool, str, int, float)):
        return x
    if isinstance(x, list):
        return [_state_from_json(v, arrays, depth + 1) for v in x]
    if not isinstance(x, dict) or len(x) not in (1, 2):
        raise ValueError("unknown entry")
    if set(x) == {"tensor", "dtype"}:
        import torch
        if x["dtype"] not in _TENSOR_DTYPES:
            raise ValueError(f"tensor dtype {str(x['dtype'])[:20]!r}")
        arr = arrays[x["tensor"]]
        if str(arr.dtype) != x["dtype"]:
            raise ValueError(f"array {x['tensor']!r} is {arr.dtype}, expected {x['dtype']}")
        return torch.from_numpy(np.array(arr))
    if set(x) == {"array"}:
        return arrays[x["array"]]
    if set(x) == {"float"} and x["float"] in ("nan", "inf", "-inf"):
        return float(x["float"])
    if set(x) == {"tuple"} and isinstance(x["tuple"], list):
        return tuple(_state_from_json(v, arrays, depth + 1) for v in x["tuple"])
    if set(x) == {"dict"} and isinstance(x["dict"], dict):
        return {k: _state_from_json(v, arrays, depth + 1) for k, v in x["dict"].items()}
    if set(x) == {"intdict"} and isinstance(x["intdict"], list):
        out = {}
        for k, v in x["intdict"]:
            if not isinstance(k, int) or isinstance(k, bool):
                raise ValueError("integer key expected")
            out[k] = _state_from_json(v, arrays, depth + 1)
        return out
    raise ValueError("unknown entry")


def _read(path):
    """``(header, arrays)`` of a neuromod ``.npz`` (any released version, upgraded)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise FileFormatError(f"{path}: not a neuromod model file ({_one_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 -- zipfile errors of a damaged archive
        raise FileFormatError(f"{path}: not a neuromod model file ({_one_line(exc)})") from None
    if _HEADER not in arrays:
        raise FileFormatError(f"{path}: not a neuromod model file (no {_HEADER} entry)")
    try:
        head = json.loads(str(arrays.pop(_HEADER)))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise FileFormatError(f"{path}: damaged header ({_one_line(exc)})") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        fmt = head.get("format") if isinstance(head, dict) else None
        raise FileFormatError(f"{path}: format {fmt!r}, expected {FORMAT!r}")
    version = head.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise FileFormatError(f"{path}: bad file version {version!r}")
    if version > VERSION:
        raise FileFormatError(f"{path}: written by a newer neuromod (file version {version}, "
                              f"this release reads up to {VERSION})")
    while version < VERSION:
        if version not in _UPGRADES:
            raise FileFormatError(f"{path}: unknown file version {version}")
        head, arrays = _UPGRADES[version](head, arrays)
        version = head["version"]
    return head, arrays


def load(path):
    """Read what :func:`save` wrote (any released version).

    Returns
    -------
    NeuronModel, Network, NeuronLayer, SpikingNet or RateNet (in eval mode) or dict
        What the file holds (its header's ``kind``); a training state written by
        :func:`save_state` comes back as :func:`load_state` returns it.

    Raises
    ------
    FileFormatError
        When the file is not a neuromod model file, is damaged (missing or mistyped
        fields), or comes from a newer version; a value outside its domain is the
        model's one-line ParameterError, prefixed with the path.
    """
    head, arrays = _read(path)
    try:
        with naming(path):
            return _build(head, arrays, path)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else _one_line(exc)
        raise FileFormatError(f"{path}: damaged model file ({what})") from None


def _build(head, arrays, path):
    kind = head.get("kind")
    if kind == "model":
        return NeuronModel.from_dict(head["model"])
    if kind == "network":
        return _network_from_json(head["network"], arrays)
    if kind == "layer":
        from neuromod.backends.torch_backend import NeuronLayer
        import torch
        params = {k: _get(v, arrays) for k, v in head["params"].items()}
        sur = head["surrogate"] or {"name": None, "alpha": None}   # None: Bernoulli firing
        layer = NeuronLayer(NeuronModel.from_dict(head["model"]), head["n"], head["dt"],
                            drive=head["drive"], surrogate=sur["name"],
                            alpha=sur["alpha"], params=params,
                            train=tuple(head["train"]), dtype=torch.float64,
                            detach_reset=head["detach_reset"])
        return layer
    if kind in ("spiking-net", "rate-net"):
        import torch
        if kind == "spiking-net":
            from neuromod.backends.layers import SpikingNet as cls
        else:
            from neuromod.backends.dendrites import RateNet as cls
        net = cls.from_config(head["net"])
        own = net.state_dict()
        state = {k: torch.as_tensor(np.asarray(_get(v, arrays))) for k, v in head["state"].items()}
        if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
            raise ValueError("the weights do not fit the network's definition")
        net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
        net.eval()
        return net
    if kind == "state":
        return _state_from_json(head["state"], arrays, 0)
    raise FileFormatError(f"{path}: unknown content kind {kind!r}")
