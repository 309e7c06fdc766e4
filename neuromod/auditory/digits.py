"""Spoken-digit recognition from spikes: encoders compared at equal spike rate.

Pipeline (:func:`run_digits`)
    1. The shipped espeak-ng digits (``neuromod.data``, ``speech/digits``): six
       training accents, two HELD-OUT test accents (Caribbean, Received
       Pronunciation), three voice variants each.
    2. Each utterance is encoded by spiketrum at ``rate`` spikes/s (exactly
       ``round(rate * duration)`` spikes) and by the baselines
       (:mod:`neuromod.auditory.baselines`: send-on-delta and gammatone + LIF), each
       with its threshold adapted per file to emit the same number of spikes.
    3. Spikes are pooled per pair of adjacent cochlear channels (polarity and level
       merged, so every encoder feeds the same 16 input lines) and counted in time
       bins (:func:`pool_features`): input ``(16, n_bins)``.
    4. A small spiking network on the Torch backend is trained on the clean training
       set, per encoder (:func:`SpikingDigitNet`): 16 input lines -> 64 LIF neurons
       (:func:`classifier_neuron`, a :class:`~neuromod.backends.model.NeuronModel` in a
       :class:`~neuromod.backends.torch_backend.NeuronLayer`), one step per time bin,
       ``v[t] = beta v[t-1] + W_in x[t] + b``, spike ``S[t] = H(v[t] - theta)``, reset by
       subtraction (``beta = 0.8``, ``theta = 1``); a linear read-out of the hidden
       spikes gives the 10 logits. The Heaviside's derivative is replaced by the
       fast-sigmoid surrogate ``1 / (1 + alpha |v - theta|)**2`` (Zenke & Ganguli 2018).
       Adam, cross-entropy, weight decay 1e-3, fixed seeds; checkpoints every epoch and
       resumes (:func:`train_classifier`).
       The time code (duration-normalised or absolute bins, how many) and the read-out
       (hidden raster or spike counts) are chosen by :func:`select_design` by
       leave-one-accent-out cross-validation on the TRAINING accents only
       (:data:`DESIGN`, recorded in ``validation/digits_design.json``).
    5. Accuracy on the held-out accents, clean and in additive white Gaussian noise at
       10 dB and 0 dB SNR (noise power = signal power / 10**(SNR/10) per utterance,
       seeded), each noisy file re-encoded by every encoder at the same spike count.
"""
import csv
import os

import numpy as np

__all__ = ["load_digits", "add_noise", "encode_set", "spiketrum_afferents", "pool_features", "features",
           "classifier_neuron", "SpikingDigitNet", "train_classifier", "accuracy",
           "select_design", "run_digits", "ENCODERS", "CANDIDATES", "DESIGN"]

ENCODERS = ("spiketrum", "send_on_delta", "lif")


def load_digits(split):
    """``[(x, fs, label, accent, variant), ...]`` of the shipped digit set ``'train'``/``'test'``.

    Examples
    --------
    >>> test = load_digits("test")
    >>> len(test), sorted({it[3] for it in test})
    (60, ['en-029', 'en-gb-x-rp'])
"""
    from neuromod.auditory.audio import read_wav
    from neuromod.data import path
    out = []
    with open(path("speech/manifest.csv")) as fh:
        for row in csv.DictReader(fh):
            if row["split"] == split:
                x, fs, _ = read_wav(path("speech/" + row["file"]))
                out.append((x, fs, int(row["label"]), row["accent"], row["variant"]))
    if not out:
        raise FileNotFoundError(f"no digits for split {split!r} in the shipped manifest")
    return out


def add_noise(x, snr_db, seed):
    """``x`` plus white Gaussian noise of power ``mean(x**2) / 10**(snr_db / 10)``.

    Examples
    --------
    >>> x = np.sin(np.arange(16000) * 0.1)
    >>> y = add_noise(x, 10.0, seed=0)
    >>> round(float(10 * np.log10(np.mean(x**2) / np.mean((y - x)**2))), 1)
    10.0
    """
    x = np.asarray(x, dtype=np.float64)
    p = float(np.mean(x * x)) / 10.0 ** (snr_db / 10.0)
    return x + np.sqrt(p) * np.random.default_rng(seed).standard_normal(x.size)


def _channel_of(encoder, ids, n_levels):
    ids = np.asarray(ids)
    if encoder == "spiketrum":
        return ids // (2 * n_levels)
    if encoder == "send_on_delta":
        return ids // 2
    return ids


def encode_set(items, encoder, rate, channels=32, n_jobs=1):
    """Encode ``[(x, fs, ...), ...]``; returns ``(list of SpikeTrains, n_levels)``.

    Spiketrum emits ``round(rate * duration)`` spikes per file; a baseline's threshold
    is adapted per file to emit the same count.

    Examples
    --------
    >>> items = load_digits("test")[:2]
    >>> sp, J = encode_set(items, "lif", 500.0)
    >>> [s.n_spikes for s in sp] == [round(500.0 * it[0].size / it[1]) for it in items]
    True
    """
    from neuromod.auditory.spiketrum import DEFAULTS, encode_batch
    from neuromod.auditory.baselines import encode_baseline
    n_levels = DEFAULTS["levels"]
    if encoder == "spiketrum":
        codes = encode_batch([it[0] for it in items], [it[1] for it in items], n_jobs=n_jobs,
                             rate=rate, channels=channels)
        return [c.spikes for c in codes], n_levels
    def one(it):
        n = int(round(rate * it[0].size / it[1]))
        return encode_baseline(encoder, it[0], it[1], n, channels=channels)[0]
    if int(n_jobs) <= 1:
        return [one(it) for it in items], n_levels
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(int(n_jobs)) as pool:     # compiled kernels release the GIL
        return list(pool.map(one, items)), n_levels


def spiketrum_afferents(spikes, n_levels, levels=16, channels=32):
    """Spiketrum codes as afferent spike times, for spike-time read-outs.

    Spiketrum's spike id ``2 n_levels c + n_levels s + j`` (channel ``c``, polarity
    ``s``, magnitude level ``j`` of ``n_levels``) becomes afferent
    ``levels c + floor(j levels / n_levels)``: polarity merged, the levels grouped
    into ``levels`` bands.

    Parameters
    ----------
    spikes : list of SpikeTrains
        Codes of :func:`encode_set` (``encoder='spiketrum'``).
    n_levels : int
        The encoder's magnitude levels (the second value :func:`encode_set` returns).
    levels, channels : int
        Afferent levels per channel and cochlear channels.

    Returns
    -------
    inputs : list of (times, afferents)
        Per code, spike times in seconds from its ``t_start`` and afferent indices.
    n_afferents : int
        ``channels * levels``.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains([0.1, 0.2], [2 * 16 + 5, 16 + 3], t_start=0.0, t_stop=0.3,
    ...                  n_trains=64)
    >>> inputs, n = spiketrum_afferents([st], 16)
    >>> inputs[0][1].tolist(), n     # (channel 0, level 3), (channel 1, level 5)
    ([3, 21], 512)
    """
    out = []
    for st in spikes:
        ids = np.asarray(st.ids, dtype=np.int64)
        ch, lev = ids // (2 * n_levels), ids % n_levels
        out.append((np.asarray(st.times, dtype=np.float64) - st.t_start,
                    ch * levels + lev * levels // n_levels))
    return out, channels * levels


def pool_features(spikes, encoder, n_levels, channels=32, n_bins=20, group=2, bin_s=None):
    """Spike counts per (channel group, time bin).

    Duration-normalised bins (``bin_s=None``): spike ``i`` of an utterance of duration
    ``D`` falls in bin ``floor(n_bins t_i / D)`` (isolated words differ in speed;
    normalising time makes the bins phonetic rather than absolute). Absolute bins
    (``bin_s`` in seconds): bin ``floor(t_i / bin_s)`` from the utterance's start, spikes
    after ``n_bins * bin_s`` dropped. Channel group ``k // group`` (adjacent cochlear
    channels pooled).

    Returns
    -------
    numpy.ndarray, shape ``(n_files, channels // group, n_bins)``, float32

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains([0.05, 0.95], [0, 3], t_start=0.0, t_stop=1.0, n_trains=4)
    >>> pool_features([st], "lif", 1, channels=4, n_bins=2, group=2)[0].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    >>> pool_features([st], "lif", 1, channels=4, n_bins=2, group=2, bin_s=0.025)[0].tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    X = np.zeros((len(spikes), channels // group, n_bins), dtype=np.float32)
    for i, st in enumerate(spikes):
        ch = _channel_of(encoder, st.ids, n_levels) // group
        rel = st.times - st.t_start
        if bin_s is None:
            b = np.minimum(np.floor(rel / st.duration * n_bins).astype(np.int64), n_bins - 1)
        else:
            b = np.floor(rel / float(bin_s)).astype(np.int64)
            keep = b < n_bins
            ch, b = ch[keep], b[keep]
        np.add.at(X[i], (ch, b), 1.0)
    return X


def classifier_neuron():
    """The hidden neuron of :func:`SpikingDigitNet`, written once as a discrete-time
    :class:`~neuromod.backends.model.NeuronModel` (dimensionless membrane, one step
    per time bin)::

        v <- beta v + (1 - beta) I     I: the bin's input
        v > theta  ->  spike, v -= theta (reset by subtraction)

    ``beta`` is the decay of one step (default 0.8); threshold and reset follow the
    update.

    Examples
    --------
    >>> m = classifier_neuron()
    >>> m.method, m.updates, m.reset
    ('map', 'v = beta*v + (1 - beta)*I', 'v -= theta')
    """
    from neuromod.backends.model import NeuronModel
    return NeuronModel(
        "digit-lif", "v : 1\nI : 1",
        {"beta": "0.8", "theta": "1"}, threshold="v > theta", reset="v -= theta",
        inputs=("I",), init={"v": "0"}, updates="v = beta*v + (1 - beta)*I",
        surrogate_scale="theta", domains={"beta": "unit_interval", "theta": "positive"},
        description="discrete LIF with reset by subtraction (digit classifier)")


def SpikingDigitNet(n_in=16, n_hidden=64, n_out=10, n_steps=20, beta=0.8, readout="raster",
                    alpha=10.0, dt=1e-3):
    """The spiking digit classifier, a ``torch.nn.Module`` on the Torch backend.

    ``n_in`` input lines -> ``Linear`` -> ``n_hidden`` LIF neurons -> linear read-out.
    The hidden neurons are :func:`classifier_neuron` in a
    :class:`~neuromod.backends.torch_backend.NeuronLayer`, one step of ``dt`` per time
    bin with the per-step decay ``beta``, driven by ``I = (W x + b) / (1 - beta)`` so
    that a bin's input moves the membrane by ``W x + b``::

        v[t] = beta v[t-1] + W x[t] + b;   S[t] = H(v[t] - theta);   v[t] -= theta S[t]

    The Heaviside's derivative is replaced by the fast-sigmoid surrogate
    ``1 / (1 + alpha |v - theta|)**2`` (Zenke & Ganguli 2018); the reset path is
    detached. The read-out is linear in the hidden spikes: ``'raster'`` reads the whole
    raster ``vec(S[:, 0..T-1])``, ``'count'`` the spike count of each hidden neuron.

    ``forward(x)`` takes ``(batch, n_in, n_steps)`` spike counts and returns
    ``(logits (batch, n_out), hidden spike count per sample (batch,))``.

    Examples
    --------
    >>> import torch
    >>> net = SpikingDigitNet(4, 8, 3, n_steps=5)
    >>> logits, _ = net(torch.zeros(2, 4, 5))
    >>> tuple(logits.shape)
    (2, 3)
    """
    import torch
    from torch import nn

    from neuromod.backends.torch_backend import NeuronLayer

    if readout not in ("raster", "count"):
        raise ValueError(f"readout must be 'raster' or 'count', got {readout!r}")
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta must be in (0, 1), got {beta}")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w_in = nn.Linear(n_in, n_hidden)
            self.hidden = NeuronLayer(classifier_neuron(), n_hidden, dt=dt, drive="I",
                                      surrogate="fast_sigmoid", alpha=alpha,
                                      params={"beta": float(beta)})
            self.w_out = nn.Linear(n_hidden * (n_steps if readout == "raster" else 1), n_out)
            self.gain = 1.0 / (1.0 - beta)

        def forward(self, x):
            B, _, T = x.shape
            if T != n_steps:
                raise ValueError(f"expected {n_steps} time steps, got {T}")
            # I = W x / (1 - beta): the membrane jumps by W x per bin, v <- beta v + W x
            cur = self.w_in(x.transpose(1, 2)).transpose(1, 2) * self.gain   # (B, H, T)
            r = self.hidden(cur)                                    # (B, H, T) spikes
            feat = r.reshape(B, -1) if readout == "raster" else r.sum(2)
            return self.w_out(feat), r.sum((1, 2))

    return Net()


def train_classifier(X, y, epochs=100, lr=5e-3, batch=60, seed=0, checkpoint=None,
                     n_hidden=64, weight_decay=1e-3, readout="raster", beta=0.8, log=None):
    """Train :func:`SpikingDigitNet` on features ``X`` (n, K, T) and labels ``y``
    (Adam, cross-entropy, shuffled mini-batches; every random draw seeded).

    With ``checkpoint`` (a file path) the model, optimiser, epoch and RNG states are
    saved atomically after every epoch, and training resumes from the file when it
    exists: training 10 epochs, stopping and resuming to 20 gives the same weights
    as 20 epochs at once.

    Examples
    --------
    >>> X = np.random.default_rng(0).poisson(1.0, (20, 4, 5)).astype(np.float32)
    >>> net = train_classifier(X, np.arange(20) % 10, epochs=2, n_hidden=8)
    >>> 0.0 <= accuracy(net, X, np.arange(20) % 10) <= 1.0
    True

    Returns
    -------
    torch.nn.Module (in eval mode)
    """
    import torch
    from neuromod.runtime import threads
    with threads(torch=1):     # tiny network: one thread is fastest and reproducible
        return _train(torch, X, y, epochs, lr, batch, seed, checkpoint, n_hidden, weight_decay,
                      readout, beta, log)


def _train(torch, X, y, epochs, lr, batch, seed, checkpoint, n_hidden, weight_decay, readout,
           beta, log):
    torch.manual_seed(seed)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    net = SpikingDigitNet(X.shape[1], n_hidden, 10, n_steps=X.shape[2], readout=readout,
                          beta=beta)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    start = 0
    if checkpoint and os.path.exists(checkpoint):
        start = _resume(checkpoint, net, opt, gen)
    n = Xt.shape[0]
    for epoch in range(start, epochs):
        net.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            logits, _ = net(Xt[idx])
            loss = torch.nn.functional.cross_entropy(logits, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
        if log is not None:
            log(epoch + 1, total / n)
        if checkpoint:
            from neuromod.backends.serialize import save_state
            save_state({"model": net.state_dict(), "optimizer": opt.state_dict(),
                        "generator": gen.get_state(), "epoch": epoch + 1}, checkpoint)
    net.eval()
    return net


def _resume(checkpoint, net, opt, gen):
    """Load a checkpoint written by :func:`train_classifier` (``.npz``: JSON header
    and arrays, read without pickle by :func:`neuromod.backends.serialize.load_state`)
    into ``net``, ``opt`` and ``gen``; return the epoch to continue from. Anything
    that does not fit this network is a one-line FileFormatError."""
    import torch
    from neuromod.backends.serialize import load_state
    from neuromod.errors import FileFormatError
    state = load_state(checkpoint)
    try:
        epoch = int(state["epoch"])
        if epoch < 0 or isinstance(state["epoch"], bool):
            raise ValueError(f"epoch {epoch}")
        gstate = state["generator"]
        if not (isinstance(gstate, torch.Tensor) and gstate.dtype == torch.uint8):
            raise ValueError("generator state is not a uint8 tensor")
        model = state["model"]
        own = net.state_dict()
        if not isinstance(model, dict) or set(model) != set(own) or any(
                not isinstance(model[k], torch.Tensor) or model[k].shape != own[k].shape
                or model[k].dtype != own[k].dtype for k in own):
            raise ValueError("weights do not fit this network")
        net.load_state_dict(model)
        opt.load_state_dict(state["optimizer"])
        gen.set_state(gstate)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        text = " ".join(str(exc).split())[:100]
        raise FileFormatError(f"{checkpoint}: not a checkpoint of this classifier "
                              f"({text})") from None
    return epoch


def accuracy(net, X, y):
    """Fraction of ``X`` classified as ``y``.

    Examples: see :func:`train_classifier`."""
    import torch
    with torch.no_grad():
        logits, _ = net(torch.as_tensor(X, dtype=torch.float32))
    return float((logits.argmax(1).numpy() == np.asarray(y)).mean())


#: Classifier designs compared by :func:`select_design` (time code x read-out), in
#: order of preference on ties. ``bin_s=None``: ``n_bins`` duration-normalised bins;
#: otherwise ``n_bins`` absolute bins of ``bin_s`` seconds (0.8 s window).
CANDIDATES = tuple(
    {"n_bins": n, "bin_s": b, "readout": r}
    for r in ("raster", "count")
    for n, b in ((20, None), (10, None), (40, None), (32, 0.025)))

#: The design used by :func:`run_digits`: chosen by :func:`select_design` on the
#: training accents alone (leave-one-accent-out; record in
#: ``validation/digits_design.json``, made by ``validation/select_digits_design.py``).
DESIGN = {"n_bins": 40, "bin_s": None, "readout": "raster", "n_hidden": 64, "beta": 0.8,
          "epochs": 100}


def _design(design):
    d = dict(DESIGN)
    d.update(design or {})
    return d


def features(spikes, encoder, n_levels, design=None):
    """:func:`pool_features` with a design's time code (``n_bins``, ``bin_s``)."""
    d = _design(design)
    return pool_features(spikes, encoder, n_levels, n_bins=int(d["n_bins"]), bin_s=d["bin_s"])


def _fit(X, y, design, seed, checkpoint=None):
    d = _design(design)
    return train_classifier(X, y, epochs=int(d["epochs"]), seed=seed, checkpoint=checkpoint,
                            n_hidden=int(d["n_hidden"]), readout=d["readout"], beta=d["beta"])


def select_design(candidates=CANDIDATES, encoders=ENCODERS, rate=1000.0, seed=0, n_jobs=1,
                  progress=None):
    """Choose the classifier design on the TRAINING accents only.

    Leave-one-accent-out cross-validation: for each of the six training accents, train
    on the other five (``seed``) and score the held-out one; a candidate's score is
    its mean accuracy over folds and over ``encoders`` (one design for every encoder,
    so no encoder gets a classifier tuned to it). The held-out test accents are never
    read. Ties go to the earlier candidate.

    Returns
    -------
    dict
        ``{"chosen": design, "table": [{**candidate, "<encoder>": cv accuracy, ...,
        "mean": ...}, ...], "folds": [accents], "rate", "seed"}``.

    Examples
    --------
    >>> rec = select_design(candidates=CANDIDATES[:2])   # about 2 min  # doctest: +SKIP
    >>> rec["chosen"]["readout"]                         # doctest: +SKIP
    'raster'
    """
    train = load_digits("train")
    y = np.array([it[2] for it in train])
    accents = np.array([it[3] for it in train])
    folds = sorted(set(accents.tolist()))
    spikes = {}
    for enc in encoders:
        spikes[enc] = encode_set(train, enc, rate, n_jobs=n_jobs)
    table = []
    for cand in candidates:
        row = dict(cand)
        for enc in encoders:
            sp, J = spikes[enc]
            X = features(sp, enc, J, cand)
            accs = []
            for acc_name in folds:
                tr, va = accents != acc_name, accents == acc_name
                net = _fit(X[tr], y[tr], cand, seed)
                accs.append(accuracy(net, X[va], y[va]))
                if progress is not None:
                    progress()
            row[enc] = float(np.mean(accs))
        row["mean"] = float(np.mean([row[enc] for enc in encoders]))
        table.append(row)
    best = max(range(len(table)), key=lambda i: (table[i]["mean"], -i))
    return {"chosen": _design(candidates[best]), "table": table, "folds": folds,
            "rate": rate, "seed": seed, "encoders": list(encoders)}


def run_digits(rate=1000.0, epochs=None, seeds=(0,), checkpoint_dir=None, encoders=ENCODERS,
               noise_db=(10.0, 0.0), jitter_s=(0.001, 0.005), n_jobs=1, design=None, log=None):
    """The full comparison, with the classifier :data:`DESIGN` (or ``design``).

    Trained on the six training accents, scored on the two held-out accents.
    Besides clean and noisy sounds, the clean test spikes are jittered (Gaussian,
    ``jitter_s`` standard deviations, seeded; :func:`~neuromod.auditory.robustness.
    jitter_spikes`): conditions ``"jitter1ms"``, ``"jitter5ms"``.

    Returns
    -------
    dict
        ``{encoder: {"train", "clean", "10dB", "0dB", "jitter1ms", ...}}`` accuracies (means over
        ``seeds``; per-seed lists under ``"<condition>_per_seed"``) plus ``rate``,
        ``n_train``, ``n_test``, ``epochs``, ``design``, ``spikes_per_file`` (mean, equal
        for every encoder by construction).

    Examples
    --------
    >>> res = run_digits(seeds=(0,))   # about 40 s  # doctest: +SKIP
    >>> res["spiketrum"]["clean"]       # doctest: +SKIP
    0.95
    """
    import torch
    from neuromod.auditory.robustness import jitter_spikes
    d = _design(design)
    if epochs is not None:
        d["epochs"] = int(epochs)
    train = load_digits("train")
    test = load_digits("test")
    y_train = np.array([it[2] for it in train])
    y_test = np.array([it[2] for it in test])
    conditions = {"clean": test}
    for db in noise_db:
        conditions[f"{db:g}dB"] = [(add_noise(it[0], db, seed=1000 + i), it[1]) + tuple(it[2:])
                                   for i, it in enumerate(test)]
    result = {"rate": rate, "n_train": len(train), "n_test": len(test), "epochs": d["epochs"],
              "seeds": list(seeds), "design": d}
    from neuromod.runtime import threads
    with threads(torch=1):     # tiny network: one thread is fastest and reproducible
        for enc in encoders:
            sp, J = encode_set(train, enc, rate, n_jobs=n_jobs)
            result.setdefault("spikes_per_file", float(np.mean([s.n_spikes for s in sp])))
            Xtr = features(sp, enc, J, d)
            feats = {}
            for name, items in conditions.items():
                sp_c, _ = encode_set(items, enc, rate, n_jobs=n_jobs)
                feats[name] = features(sp_c, enc, J, d)
                if name == "clean":
                    for sd in jitter_s:
                        jit = [jitter_spikes(st, sd, seed=2000 + i) for i, st in enumerate(sp_c)]
                        feats[f"jitter{sd * 1e3:g}ms"] = features(jit, enc, J, d)
            accs = {"train": [], **{name: [] for name in feats}}
            for seed in seeds:
                ckpt = (None if checkpoint_dir is None
                        else os.path.join(checkpoint_dir, f"digits-{enc}-seed{seed}.npz"))
                net = _fit(Xtr, y_train, d, seed, checkpoint=ckpt)
                accs["train"].append(accuracy(net, Xtr, y_train))
                for name, X in feats.items():
                    accs[name].append(accuracy(net, X, y_test))
            # mean over seeds as total correct / total tried (exact, no float drift)
            out = {k: float(np.sum(np.round(np.asarray(v) * (len(y_train) if k == "train"
                                                             else len(y_test)))))
                   / ((len(y_train) if k == "train" else len(y_test)) * len(v))
                   for k, v in accs.items()}
            out.update({f"{k}_per_seed": v for k, v in accs.items() if k != "train"})
            result[enc] = out
            if log is not None:
                log(enc, out)
    return result
