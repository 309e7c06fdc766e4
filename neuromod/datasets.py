"""Image-like classification data for the training loop: built-in sets and real loaders.

Every loader returns a :class:`Dataset` whose inputs are float32 arrays of shape
``(n, C, H, W)`` scaled to [0, 1] (the range the input-noise perturbations of
:mod:`neuromod.neurons.nsnn` assume) and whose labels are int64 class indices.

Specs understood by :func:`load_dataset`:

``digits``
    scikit-learn's 8 x 8 hand-written digits (1,797 images, 10 classes, shipped
    with scikit-learn), pixel values 0..16 divided by 16; shape ``(n, 1, 8, 8)``.
``mnist1d``
    The MNIST-1D benchmark (Greydanus & Kobak 2024, "Scaling down deep learning
    with MNIST-1D"), generated locally by the ``mnist1d`` package with its
    default arguments (5,000 sequences of length 40, generator seed 42; never
    downloaded), min-max scaled to [0, 1]; shape ``(n, 1, 1, 40)``.
``cifar10:PATH``
    The binary release of CIFAR-10 (``data_batch_1.bin`` ... ``data_batch_5.bin``
    and ``test_batch.bin``, 3,073-byte records: one label byte, then the 1,024
    red, green and blue bytes of a 32 x 32 image) in the directory PATH (or its
    ``cifar-10-batches-bin`` sub-directory). The batches present are pooled;
    :func:`split` then draws the splits, as for every other set. Class names come
    from ``batches.meta.txt`` when present.
``folder:PATH``
    One sub-directory of images per class (sorted names give the class indices),
    read with Pillow. All images must share one size; they are converted to
    grey levels when every image is grey, to RGB otherwise, and divided by 255.

Splits (:func:`split`): test = 30 % of the samples, stratified by class; the
validation split is 10 % of the rest, stratified too; both drawn from ``seed``.
"""
import os
import random
from dataclasses import dataclass

import numpy as np

from neuromod.errors import FileFormatError, ParameterError
from neuromod.limits import check_allocation

__all__ = ["Dataset", "load_dataset", "split", "DATASETS"]

#: The built-in data sets; ``cifar10:PATH`` and ``folder:PATH`` read users' files.
DATASETS = ("digits", "mnist1d", "cifar10:PATH", "folder:PATH")

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm",
                     ".webp")
_CIFAR_RECORD = 1 + 3 * 32 * 32


@dataclass(frozen=True)
class Dataset:
    """A labelled set of image-like inputs.

    Attributes
    ----------
    name : str
        The spec it was loaded from (``'digits'``, ``'cifar10:/data/cifar'``...).
    X : numpy.ndarray
        float32, shape ``(n, C, H, W)``, values in [0, 1].
    y : numpy.ndarray
        int64, shape ``(n,)``, values in ``0 .. len(classes) - 1``.
    classes : tuple of str
        Class names, indexed by label.

    Examples
    --------
    >>> d = load_dataset("digits")
    >>> d.X.shape, d.X.dtype, float(d.X.max()), d.n_classes
    ((1797, 1, 8, 8), dtype('float32'), 1.0, 10)
    """
    name: str
    X: np.ndarray
    y: np.ndarray
    classes: tuple

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def in_shape(self) -> tuple:
        """``(C, H, W)`` of one input."""
        return tuple(int(v) for v in self.X.shape[1:])

    def subset(self, index):
        """The samples at ``index`` as a ``(X, y)`` pair."""
        return self.X[index], self.y[index]


def load_dataset(spec: str) -> Dataset:
    """Load a data set by spec (see the module docstring for the specs).

    Parameters
    ----------
    spec : str
        ``'digits'``, ``'mnist1d'``, ``'cifar10:PATH'`` or ``'folder:PATH'``.

    Returns
    -------
    Dataset

    Raises
    ------
    ParameterError
        An unknown spec.
    FileFormatError
        A missing path or a file that is not what the spec says, named in the
        one-line message.

    Examples
    --------
    >>> d = load_dataset("mnist1d")
    >>> d.X.shape, d.n_classes, 0.0 <= float(d.X.min()) < float(d.X.max()) <= 1.0
    ((5000, 1, 1, 40), 10, True)
    >>> load_dataset("mnist")
    Traceback (most recent call last):
    ...
    neuromod.errors.ParameterError: unknown data set 'mnist': use digits, mnist1d, cifar10:PATH or folder:PATH
    """
    spec = str(spec)
    kind, _, path = spec.partition(":")
    if kind == "digits" and not path:
        return _digits()
    if kind == "mnist1d" and not path:
        return _mnist1d()
    if kind in ("cifar10", "folder") and path:
        if not os.path.exists(path):
            raise FileFormatError(f"{path}: no such file or directory (data set {spec!r})")
        if not os.path.isdir(path):
            raise FileFormatError(f"{path}: not a directory (data set {spec!r})")
        return _cifar10(spec, path) if kind == "cifar10" else _folder(spec, path)
    if kind in ("cifar10", "folder"):
        raise ParameterError(f"data set {spec!r} needs a directory: {kind}:PATH")
    raise ParameterError(f"unknown data set {spec!r}: use digits, mnist1d, cifar10:PATH or "
                         "folder:PATH")


def split(y, seed: int = 0, test: float = 0.3, val: float = 0.1):
    """Stratified ``(train, val, test)`` index arrays.

    ``test`` of the samples of each class go to the test split, then ``val`` of
    the remaining ones to the validation split (per class, rounded to the nearest
    integer), the rest to training. Indices are sorted within each split; the
    draw depends on ``seed`` only.

    Parameters
    ----------
    y : array_like of int
        Labels.
    seed : int
    test, val : float
        Fractions in [0, 1).

    Returns
    -------
    train, val, test : numpy.ndarray of int64

    Examples
    --------
    >>> y = np.repeat([0, 1], 50)
    >>> tr, va, te = split(y, seed=0)
    >>> len(tr), len(va), len(te), int(y[te].sum())
    (62, 8, 30, 15)
    """
    y = np.asarray(y)
    for name, value in (("test", test), ("val", val)):
        if not (0.0 <= float(value) < 1.0):
            raise ParameterError(f"{name} fraction must be in [0, 1), got {value!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    parts = ([], [], [])
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(test * len(idx)))
        n_val = int(round(val * (len(idx) - n_test)))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_val])
        parts[0].append(idx[n_test + n_val:])
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) for p in parts)


def _digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    X = (d.images.astype(np.float32) / 16.0)[:, None]
    return Dataset("digits", X, d.target.astype(np.int64), tuple(str(c) for c in range(10)))


def _mnist1d():
    from mnist1d.data import get_dataset_args, make_dataset
    # make_dataset seeds the global generators of numpy and random: restore them.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    X = np.concatenate([data["x"], data["x_test"]]).astype(np.float64)
    y = np.concatenate([data["y"], data["y_test"]]).astype(np.int64)
    X = (X - X.min()) / (X.max() - X.min())
    return Dataset("mnist1d", X.astype(np.float32)[:, None, None, :], y,
                   tuple(str(c) for c in range(10)))


def _cifar10(spec, path):
    sub = os.path.join(path, "cifar-10-batches-bin")
    root = sub if os.path.isdir(sub) else path
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    files = [os.path.join(root, n) for n in names if os.path.isfile(os.path.join(root, n))]
    if not files:
        raise FileFormatError(f"{path}: no CIFAR-10 binary batches (data_batch_1.bin ... "
                              "test_batch.bin); the binary release is needed, not the pickled "
                              "one")
    sizes = [os.path.getsize(f) for f in files]
    check_allocation(sum(sizes) * 4, f"data set {spec}")
    images, labels = [], []
    for f, size in zip(files, sizes):
        if size == 0 or size % _CIFAR_RECORD:
            raise FileFormatError(f"{f}: {size} bytes is not a whole number of "
                                  f"{_CIFAR_RECORD}-byte CIFAR-10 records")
        raw = np.fromfile(f, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
        if raw[:, 0].max() > 9:
            bad = int(np.argmax(raw[:, 0] > 9))
            raise FileFormatError(f"{f}: record {bad} has label {int(raw[bad, 0])}, "
                                  "CIFAR-10 labels are 0..9")
        labels.append(raw[:, 0].astype(np.int64))
        images.append(raw[:, 1:].reshape(-1, 3, 32, 32))
    X = np.concatenate(images).astype(np.float32) / 255.0
    classes = tuple(str(c) for c in range(10))
    meta = os.path.join(root, "batches.meta.txt")
    if os.path.isfile(meta):
        with open(meta, encoding="utf-8", errors="replace") as fh:
            words = [line.strip() for line in fh if line.strip()]
        if len(words) >= 10:
            classes = tuple(words[:10])
    return Dataset(spec, X, np.concatenate(labels), classes)


def _folder(spec, path):
    from PIL import Image, UnidentifiedImageError
    classes = sorted(e.name for e in os.scandir(path) if e.is_dir()
                     and not e.name.startswith("."))
    if not classes:
        raise FileFormatError(f"{path}: no class sub-directories (folder:PATH needs one "
                              "directory of images per class)")
    files, labels = [], []
    for k, c in enumerate(classes):
        names = sorted(n for n in os.listdir(os.path.join(path, c))
                       if n.lower().endswith(_IMAGE_EXTENSIONS) and not n.startswith("."))
        if not names:
            raise FileFormatError(f"{os.path.join(path, c)}: no images (extensions "
                                  f"{', '.join(_IMAGE_EXTENSIONS)})")
        files += [os.path.join(path, c, n) for n in names]
        labels += [k] * len(names)
    arrays, size, grey = [], None, True
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                mode_grey = im.mode in ("1", "L", "LA", "I", "I;16", "F")
                arr = np.asarray(im.convert("L" if mode_grey else "RGB"))
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise FileFormatError(f"{f}: not a readable image ({reason})") from None
        if size is None:
            size = arr.shape[:2]
            check_allocation(len(files) * 3 * size[0] * size[1] * 4, f"data set {spec}")
        elif arr.shape[:2] != size:
            raise FileFormatError(f"{f}: image is {arr.shape[1]} x {arr.shape[0]} pixels, the "
                                  f"first one {size[1]} x {size[0]}; all images must share one "
                                  "size")
        grey = grey and mode_grey
        arrays.append(arr)
    if grey:
        X = np.stack(arrays)[:, None]
    else:
        X = np.stack([np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a
                      for a in arrays]).transpose(0, 3, 1, 2)
    return Dataset(spec, X.astype(np.float32) / 255.0, np.asarray(labels, dtype=np.int64),
                   tuple(classes))
