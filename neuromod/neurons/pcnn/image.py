"""Image tools of the pulse-coupled network: loading grayscale images, the
first-firing-time matrix, the time signal, and segmentation into synchronously
firing connected regions.

Segmentation (:func:`segment`)
    With ``E`` starting at 0 every lit pixel pulses at step 0, so the first pulse
    that tells pixels apart is the first *after* step 0 (:func:`first_firing`
    with ``skip_initial=True``). Pixels with the same such time that touch
    (4-connectivity) form a segment. The network runs with fast linking, so a region
    that one pixel captures pulses in the same step, and with the defaults of
    :data:`SEGMENT_DEFAULTS` (``a_E = 0.8``, ``beta = 0.1``, ``V_F = 0``, 4
    neighbours, 60 steps). These were chosen on a design image of four vertical
    stripes of intensities 0.25 / 0.45 / 0.65 / 0.85 with Gaussian noise sigma 0.02
    (seed 100), not on the image of the ``pcnn-segmentation`` claim.

Examples
--------
>>> import numpy as np
>>> img = np.zeros((8, 8)); img[:, 4:] = 0.8; img[:, :4] = 0.3
>>> labels = segment(img)
>>> len(np.unique(labels)), bool((labels[:, :4] == labels[0, 0]).all())
(2, True)
"""
import os

import numpy as np

from neuromod.errors import FileFormatError, ParameterError

__all__ = ["load_image", "first_firing", "time_signal", "segments", "segment",
           "SEGMENT_DEFAULTS", "LUMA"]

#: ITU-R BT.601 luma weights of R, G, B.
LUMA = (0.299, 0.587, 0.114)
#: Network settings of :func:`segment` (see the module docstring).
SEGMENT_DEFAULTS = {"steps": 60, "neighbours": 4, "fast_linking": True,
                    "params": {"a_E": 0.8, "beta": 0.1, "V_F": 0.0}}


def load_image(path):
    """A grayscale image in [0, 1] (PNG/JPEG) or a 2-D ``.npy`` array as given.

    RGB(A) images become luminance with the ITU-R 601 weights (:data:`LUMA`); 8-bit
    values are scaled by 1/255, 16-bit by 1/65535.

    Raises
    ------
    FileFormatError
        One line naming the file: unreadable, not 2-D, NaN or infinite pixels.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileFormatError(f"{path}: no such file")
    if path.lower().endswith(".npy"):
        try:
            a = np.load(path, allow_pickle=False)
        except Exception as exc:       # noqa: BLE001 - any reader failure is a bad file
            raise FileFormatError(f"{path}: not a readable .npy array ({type(exc).__name__})"
                                  ) from None
        if a.ndim != 2 or a.dtype.kind not in "fiub" or min(a.shape) < 1:
            raise FileFormatError(f"{path}: need a 2-D numeric array, got shape {a.shape} "
                                  f"dtype {a.dtype}")
        a = a.astype(np.float64)
    else:
        from PIL import Image, UnidentifiedImageError
        try:
            with Image.open(path) as im:
                im.load()
                a = _luminance(im)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise FileFormatError(f"{path}: not a readable image ({exc.__class__.__name__})"
                                  ) from None
    if not np.isfinite(a).all():
        raise FileFormatError(f"{path}: {int((~np.isfinite(a)).sum())} NaN or infinite pixels")
    return a


def _luminance(im):
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im, dtype=np.float64) / 65535.0
    if mode == "I":                       # 32-bit integer PNGs hold 16-bit data
        a = np.asarray(im, dtype=np.float64)
        return a / (65535.0 if a.max() > 255 else 255.0)
    if mode == "F":
        return np.asarray(im, dtype=np.float64)
    if mode in ("L", "P", "1", "LA"):
        return np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    rgb = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    return rgb @ np.asarray(LUMA)


def first_firing(pulses, skip_initial=False):
    """The step of each pixel's first pulse, ``-1`` where it never pulses.

    ``skip_initial`` ignores step 0 (where every lit pixel pulses when ``E``
    starts at 0).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.zeros((4, 1, 2), np.uint8); P[0] = 1; P[2, 0, 1] = 1
    >>> first_firing(P).tolist(), first_firing(P, skip_initial=True).tolist()
    ([[0, 0]], [[-1, 2]])
    """
    P = np.asarray(pulses).astype(bool)
    if P.ndim != 3:
        raise ParameterError(f"pulses must be (steps, H, W), got shape {P.shape}")
    if skip_initial:
        P = P.copy()
        P[0] = False
    fired = P.any(0)
    return np.where(fired, P.argmax(0), -1).astype(np.int64)


def time_signal(pulses):
    """Pulses per step (the PCNN image signature), ``(steps,)`` int.

    Examples
    --------
    >>> import numpy as np
    >>> time_signal(np.ones((3, 2, 2), np.uint8)).tolist()
    [4, 4, 4]
    """
    P = np.asarray(pulses)
    return P.reshape(P.shape[0], -1).sum(1).astype(np.int64)


def segments(pulses):
    """Label pixels that first pulse (after step 0) in the same step and touch
    (4-connectivity); labels ``0 .. n - 1`` in raster order of their first pixel.
    Pixels that never pulse after step 0 form segments too.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.zeros((3, 1, 4), np.uint8); P[1, 0, :2] = 1; P[2, 0, 3] = 1
    >>> segments(P).tolist()
    [[0, 0, 1, 2]]
    """
    from scipy import ndimage
    ff = first_firing(pulses, skip_initial=True)
    labels = np.full(ff.shape, -1, dtype=np.int64)
    nxt = 0
    for t in np.unique(ff):
        lab, n = ndimage.label(ff == t)
        labels[lab > 0] = lab[lab > 0] - 1 + nxt
        nxt += n
    # renumber in raster order of each segment's first pixel
    _, first = np.unique(labels.ravel(), return_index=True)
    order = np.argsort(first)
    remap = np.empty(len(order), dtype=np.int64)
    remap[order] = np.arange(len(order))
    return remap[labels]


def segment(image, **overrides):
    """Segment a grayscale image into synchronously firing connected regions (see the
    module docstring); ``overrides`` replace network parameters of
    :data:`SEGMENT_DEFAULTS`. Fast linking runs on the Torch path.

    Returns
    -------
    ndarray (H, W) int64
        Segment labels (:func:`segments`).
    """
    from neuromod.neurons.pcnn import run
    params = {**SEGMENT_DEFAULTS["params"], **overrides}
    r = run(image, steps=SEGMENT_DEFAULTS["steps"], neighbours=SEGMENT_DEFAULTS["neighbours"],
            fast_linking=SEGMENT_DEFAULTS["fast_linking"], **params)
    return segments(r.pulses)
