"""Spoken digits read out by multi-spike neurons: spiketrum against sparse key points.

The task is the one of ``spiketrum-digits`` (:mod:`neuromod.auditory.digits`): the
shipped espeak-ng digits, six training accents (240 utterances), two held-out accents
with other voices (60). Each utterance is encoded

* by spiketrum at 1,000 spikes/s (:func:`~neuromod.auditory.digits.encode_set`, as
  ``spiketrum-digits``; 456 spikes per training utterance on average), and
* by Yu et al. (2019)'s sparse key points (:func:`neuromod.auditory.keypoints.keypoints`):
  one spike at each local maximum of the log spectrogram (201 FFT bins, 25 ms Hann
  window, 5 ms hop, 3 x 3 neighbourhood) at most ``-threshold_db`` dB below the
  utterance's maximum, with ONE threshold for every utterance, set on the training
  utterances so that their mean count equals spiketrum's
  (:func:`~neuromod.auditory.keypoints.match_threshold`). The held-out utterances are
  encoded with that threshold (their counts are reported).

Read-out (:data:`READOUT`): ten impulse neurons
(:class:`~neuromod.neurons.tempotron.efficient.ImpulseNeuron`, ``tau`` = 50 ms,
``theta`` = 1), one per digit, trained with threshold-driven plasticity
(``train_multispike(rule='tdp')``, online, lr 0.01, 40 epochs, initial weights
N(0.01, 0.01²)) to fire 20 spikes on an utterance of their digit and none on the
others. The class is the neuron with the most output spikes; among tied neurons the
one nearest to firing one more spike (the highest critical threshold
``theta*_{n+1}``, :func:`~neuromod.neurons.tempotron.efficient.tdp_gradient`) wins.
Afferents: spiketrum's spike of channel ``c`` and magnitude level ``j`` (polarity
merged) is afferent ``16 c + j`` (512); a key point of FFT bin ``f`` is afferent
``f`` (201). Each afferent reaches the neurons through three synapses with delays
0, 100 and 200 ms (a delay line: a neuron that integrates over 50 ms then also sees
what came 100 and 200 ms before). The neurons are trained on the training utterances
and on four frequency-warped copies of each (:func:`warp`: resampled as if recorded
at 0.8, 0.9, 1.1 and 1.2 times the rate, so every frequency scales by that factor,
encoded by the encoder itself, spike times scaled back to the original duration):
a cue to voices whose formants and pitch differ. Everything is the same for both
encoders.

How the design was chosen: on the TRAINING accents only, by cross-validation with
seed 0, one change at a time. First over three accent pairs (:data:`FOLDS`: train
on four accents, score the other two), from ``tau`` 50 ms, 5 spikes, no delays,
no warped copies (mean fold accuracy with spiketrum input, ties broken as above):
0.78 (10 spikes 0.79; with ties counted wrong: tau 20 / 100 ms 0.69 / 0.74, coarser
afferents 0.55-0.74, the multi-spike tempotron's gradient rule 0.76, robustness
margins and 5 ms training jitter no better); with 10 spikes, delays 0 / 100 ms 0.85,
0 / 100 / 200 ms 0.90, 0-300 ms 0.88. That design (10 spikes, 100 epochs, no warped copies)
scored 0.717 on the held-out accents (key points 0.80): these folds kept every
training voice on both sides, while the held-out accents are spoken by other voices.
A cross-validation that holds out the voice too (:func:`cross_validate`: 3 accent
pairs x 4 voices, train on the other accents' other three voices, score the pair in
the held-out voice) gave that design 0.717, as the held-out set, and the design was
re-chosen on it alone: warped copies 0.9 / 1.1 0.767, copies shifted by one channel
0.79, 0.8 / 0.9 / 1.1 / 1.2 0.817 (40 epochs as good as 100), then 20 spikes 0.85
(tau 100 ms 0.775, EML 0.779; without warped copies, delays of 0-300 ms 0.675,
channel pairs 0.729, 8 levels 0.704, duration-normalised time 0.704). The key-point
encoder's free choices (representation, hop, neighbourhood; the threshold then
follows from the count) were chosen with the first read-out on the accent folds:
spectrogram 5 ms hop 3 x 3 0.94, 2.5 ms hop 3 x 5 / 5 x 5 0.90 / 0.93, cochleagram
(spiketrum's 32 channels, peaks across channels only) 5 / 2.5 ms hop 0.72 / 0.54.
(These figures come from the exploration runs; the full size's own cross-validation
of the final design, whose patterns come in another order, gives 0.82 for spiketrum
and 0.72 for key points.) The held-out accents were scored once with the final
design. Its choice was made on the cross-validation alone, but after the first
design's held-out figure was known: read 0.889 with that in mind.

Beside it, the LIF classifier of ``spiketrum-digits`` on the same split (its
:func:`~neuromod.auditory.digits.run_digits`, spiketrum at 1,000 spikes/s, clean
test set only).

Quick size: seed 0. Full size: seeds 0, 1, 2 (initial weights and the order of the
utterances; the LIF classifier's seeds likewise), means over seeds, and the
voice-and-accent cross-validated accuracy of both encoders on the training accents
(seed 0).
"""
import numpy as np

from neuromod.validation.registry import claim

#: Spiketrum's rate, spikes per second of audio (that of ``spiketrum-digits``).
RATE = 1000.0

#: The read-out (see the module's description).
READOUT = {"rule": "tdp", "tau": 0.05, "spikes": 20, "delays": (0.0, 0.1, 0.2), "lr": 0.01,
           "epochs": 40, "init_mean": 0.01, "init_std": 0.01, "levels": 16,
           "warps": (0.8, 0.9, 1.1, 1.2)}

#: The key-point encoder's settings (the threshold is matched to spiketrum's count).
KEYPOINTS = {"representation": "spectrogram", "hop_s": 0.005, "window_s": 0.025,
             "neighbourhood": (1, 1)}

#: Accent pairs of :func:`cross_validate` (each crossed with the four training voices).
FOLDS = (("en-gb-scotland", "en-us-nyc"), ("en-gb", "en-us"),
         ("en-gb-x-gbclan", "en-gb-x-gbcwmd"))

ENCODERS = ("spiketrum", "keypoints")


def keypoint_inputs(items, threshold_db, settings=KEYPOINTS):
    """``([(times, afferents), ...], n_afferents)``: key points of ``[(x, fs, ...)]``,
    afferent = frequency band."""
    from neuromod.auditory.keypoints import band_frequencies, keypoints
    out = []
    for it in items:
        st = keypoints(it[0], it[1], threshold_db, **settings)
        out.append((np.asarray(st.times, dtype=np.float64), np.asarray(st.ids, dtype=np.int64)))
    n = len(band_frequencies(items[0][1], settings["representation"],
                             window_s=settings["window_s"]))
    return out, n


def patterns(inputs, n_afferents, delays=READOUT["delays"]):
    """:func:`~neuromod.neurons.tempotron.tasks.delay_line` with the read-out's delays."""
    from neuromod.neurons.tempotron.tasks import delay_line
    return delay_line(inputs, n_afferents, delays)


def _neuron(readout):
    from neuromod.neurons.tempotron.efficient import ImpulseNeuron
    return ImpulseNeuron(tau=readout["tau"])


def fit(P, labels, readout=READOUT, seed=0, n_classes=10):
    """Train one neuron per class: ``readout['spikes']`` spikes for its class, 0 else.
    Returns ``(W, history)``."""
    from neuromod.neurons.tempotron.learning import train_multispike
    labels = np.asarray(labels)
    desired = np.zeros((len(labels), n_classes), dtype=np.int64)
    desired[np.arange(len(labels)), labels] = readout["spikes"]
    return train_multispike(P, desired, rule=readout["rule"], neuron=_neuron(readout),
                            epochs=readout["epochs"], lr=readout["lr"],
                            init_mean=readout["init_mean"], init_std=readout["init_std"],
                            seed=seed)


def classify(P, W, readout=READOUT):
    """The class of every pattern: the neuron with the most output spikes, ties to the
    highest critical threshold ``theta*_{n+1}`` (the nearest to one more spike).
    Returns ``(classes, counts, n_ties)``."""
    from neuromod.errors import ParameterError
    from neuromod.neurons.tempotron.efficient import tdp_gradient
    from neuromod.neurons.tempotron.learning import spike_counts
    neuron = _neuron(readout)
    C = spike_counts(P, W, neuron)
    pred = C.argmax(1)
    n_ties = 0
    for p in range(P.n_patterns):
        top = np.flatnonzero(C[p] == C[p].max())
        if len(top) < 2:
            continue
        n_ties += 1
        s, e = P.offsets[p], P.offsets[p + 1]
        theta = []
        for j in top:
            try:
                theta.append(tdp_gradient(P.times[s:e], P.afferents[s:e], W[j],
                                          int(C[p, j]) + 1, neuron)[0])
            except ParameterError:       # no threshold gives one more spike
                theta.append(-np.inf)
        pred[p] = top[int(np.argmax(theta))]
    return pred, C, n_ties


def training_set(inputs, warped, labels, index, n_afferents, readout=READOUT):
    """Patterns and labels of the utterances ``index``: the originals, then each warped
    copy."""
    labels = np.asarray(labels)
    rows = [inputs[i] for i in index] + [w[i] for w in warped for i in index]
    return (patterns(rows, n_afferents, readout["delays"]),
            np.tile(labels[index], 1 + len(warped)))


def cross_validate(inputs, warped, n_afferents, labels, accents, voices, readout=READOUT,
                   seed=0, folds=FOLDS):
    """Mean accuracy over the folds (accent pair of ``folds``) x (voice): train on the
    other accents' other voices (with their warped copies), score the pair's utterances
    in that voice. The training accents only."""
    labels, accents, voices = np.asarray(labels), np.asarray(accents), np.asarray(voices)
    accs = []
    for held in folds:
        for v in sorted(set(voices.tolist())):
            a = np.isin(accents, held)
            tr, va = np.flatnonzero(~a & (voices != v)), np.flatnonzero(a & (voices == v))
            W, _ = fit(*training_set(inputs, warped, labels, tr, n_afferents, readout),
                       readout, seed)
            P = patterns([inputs[i] for i in va], n_afferents, readout["delays"])
            accs.append(float((classify(P, W, readout)[0] == labels[va]).mean()))
    return float(np.mean(accs)), accs


def warp(items, factor):
    """``items`` with every frequency scaled by ``factor`` (and durations by
    ``1 / factor``): each sound resampled as if it had been recorded at ``factor fs``."""
    from neuromod.auditory.audio import resample
    return [(resample(it[0], it[1] * factor, it[1]), it[1]) + tuple(it[2:]) for it in items]


def _unwarp(inputs, factor):
    """Spike times of a warped sound back on the original time axis (``t factor``)."""
    return [(t * factor, a) for t, a in inputs]


def encode(train, test, rate=RATE, settings=KEYPOINTS, warps=READOUT["warps"], n_jobs=2):
    """Both encoders' inputs: ``{encoder: (train inputs, test inputs, n_afferents,
    warped train inputs)}`` plus ``"threshold_db"`` (key points) and ``"spikes"`` (mean
    per utterance). The warped copies (one list per factor of ``warps``,
    :func:`warp`) are encoded like any sound (spiketrum at ``rate``, key points at the
    threshold matched on the original training sounds) and their spike times scaled
    back to the original duration."""
    from neuromod.auditory.digits import encode_set, spiketrum_afferents
    from neuromod.auditory.keypoints import match_threshold
    levels = READOUT["levels"]

    def spk(items):
        sp, J = encode_set(items, "spiketrum", rate, n_jobs=n_jobs)
        return spiketrum_afferents(sp, J, levels)
    st_tr, n_st = spk(train)
    st_te, _ = spk(test)
    mean = float(np.mean([len(t) for t, _ in st_tr]))
    tf = {k: v for k, v in settings.items() if k != "neighbourhood"}
    th, _ = match_threshold([it[0] for it in train], [it[1] for it in train], mean,
                            settings["neighbourhood"], **tf)
    kp_tr, n_kp = keypoint_inputs(train, th, settings)
    kp_te, _ = keypoint_inputs(test, th, settings)
    st_w, kp_w = [], []
    for f in warps:
        items = warp(train, f)
        st_w.append(_unwarp(spk(items)[0], f))
        kp_w.append(_unwarp(keypoint_inputs(items, th, settings)[0], f))
    out = {"spiketrum": (st_tr, st_te, n_st, st_w), "keypoints": (kp_tr, kp_te, n_kp, kp_w),
           "threshold_db": th}
    out["spikes"] = {enc: {split: float(np.mean([len(t) for t, _ in out[enc][i]]))
                           for i, split in enumerate(("train", "test"))} for enc in ENCODERS}
    return out


@claim("tempotron-spoken-digits",
       "Ten multi-spike neurons (impulse neurons, threshold-driven plasticity, one per digit, "
       "the most output spikes winning) trained on spiketrum's spikes of the spoken digits "
       "(1,000 spikes/s) reach >= 0.85 accuracy on the two held-out accents; reported beside "
       "the same read-out trained on Yu et al. 2019's sparse key points of the spectrogram at "
       "the same mean spike count, and the LIF classifier of spiketrum-digits on the same "
       "split.",
       ">= 0.85", "accuracy")
def spoken_digits(quick):
    from neuromod.auditory.digits import load_digits, run_digits
    seeds = (0,) if quick else (0, 1, 2)
    train, test = load_digits("train"), load_digits("test")
    y_tr = np.array([it[2] for it in train])
    y_te = np.array([it[2] for it in test])
    enc = encode(train, test)
    details = {}
    for name in ENCODERS:
        tr_in, te_in, n_aff, warped = enc[name]
        P_fit, y_fit = training_set(tr_in, warped, y_tr, np.arange(len(train)), n_aff)
        P_tr = patterns(tr_in, n_aff)
        P_te = patterns(te_in, n_aff)
        rows = []
        for seed in seeds:
            W, hist = fit(P_fit, y_fit, READOUT, seed)
            pred_te, C_te, ties = classify(P_te, W)
            pred_tr = classify(P_tr, W)[0]
            rows.append({"seed": seed, "accuracy": float((pred_te == y_te).mean()),
                         "train_accuracy": float((pred_tr == y_tr).mean()),
                         "argmax_accuracy": float((C_te.argmax(1) == y_te).mean()),
                         "ties": ties, "epochs": len(hist),
                         "output_spikes": float(C_te.sum(1).mean())})
        details[name] = {"accuracy": float(np.mean([r["accuracy"] for r in rows])),
                         "train_accuracy": float(np.mean([r["train_accuracy"] for r in rows])),
                         "n_afferents": n_aff * len(READOUT["delays"]),
                         "spikes_per_utterance": enc["spikes"][name], "runs": rows}
        if not quick:
            cv, folds = cross_validate(tr_in, warped, n_aff, y_tr, [it[3] for it in train],
                                       [it[4] for it in train])
            details[name]["cv_accuracy"] = cv
            details[name]["cv_folds"] = folds
    details["keypoints"]["threshold_db"] = enc["threshold_db"]
    lif = run_digits(rate=RATE, seeds=seeds, encoders=("spiketrum",), noise_db=(),
                     jitter_s=(), n_jobs=2)["spiketrum"]
    details["lif_classifier"] = {"accuracy": lif["clean"], "per_seed": lif["clean_per_seed"],
                                 "train_accuracy": lif["train"]}
    details.update({"seeds": list(seeds), "rate": RATE, "n_train": len(train),
                    "n_test": len(test), "readout": {**READOUT, "delays": list(READOUT["delays"]),
                                "warps": list(READOUT["warps"])},
                    "keypoint_encoder": {**KEYPOINTS,
                                         "neighbourhood": list(KEYPOINTS["neighbourhood"])}})
    acc = details["spiketrum"]["accuracy"]
    return {"measured": acc, "passed": acc >= 0.85, "details": details}
