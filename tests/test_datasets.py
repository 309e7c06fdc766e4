"""Data sets for the training loop: built-in sets, the real loaders on tiny files, splits."""
import os
import random

import numpy as np
import pytest

from neuromod.datasets import load_dataset, split
from neuromod.errors import FileFormatError, ParameterError


def test_digits_are_scikit_learns_images_over_16():
    from sklearn.datasets import load_digits
    ref = load_digits()
    d = load_dataset("digits")
    assert d.X.shape == (1797, 1, 8, 8) and d.X.dtype == np.float32
    np.testing.assert_array_equal(d.X[:, 0] * 16, ref.images)
    np.testing.assert_array_equal(d.y, ref.target)
    assert d.in_shape == (1, 8, 8) and d.n_classes == 10


def test_mnist1d_is_the_generated_set_rescaled_and_leaves_global_generators_alone():
    np.random.seed(123)
    random.seed(123)
    before = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    d = load_dataset("mnist1d")
    after = (np.random.random(), random.random())
    assert before == after
    from mnist1d.data import get_dataset_args, make_dataset
    ref = make_dataset(get_dataset_args())
    x = np.concatenate([ref["x"], ref["x_test"]])
    np.testing.assert_allclose(d.X[:, 0, 0], (x - x.min()) / (x.max() - x.min()), atol=1e-6)
    np.testing.assert_array_equal(d.y, np.concatenate([ref["y"], ref["y_test"]]))
    assert d.X.shape == (5000, 1, 1, 40) and d.X.min() == 0.0 and d.X.max() == 1.0


@pytest.mark.parametrize("seed", [0, 5])
def test_split_is_stratified_disjoint_and_seeded(seed):
    y = np.repeat(np.arange(4), [40, 60, 100, 10])
    tr, va, te = split(y, seed=seed)
    allidx = np.concatenate([tr, va, te])
    assert len(allidx) == len(y) and len(np.unique(allidx)) == len(y)
    for c, n in enumerate([40, 60, 100, 10]):
        n_te = round(0.3 * n)
        assert (y[te] == c).sum() == n_te
        assert (y[va] == c).sum() == round(0.1 * (n - n_te))
    again = split(y, seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip((tr, va, te), again))
    other = split(y, seed=seed + 1)
    assert not np.array_equal(te, other[2])
    with pytest.raises(ParameterError, match="test fraction"):
        split(y, test=1.0)


def _cifar_records(rng, n):
    labels = rng.integers(0, 10, n).astype(np.uint8)
    pixels = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
    return labels, pixels, np.concatenate([labels[:, None], pixels], axis=1)


def test_cifar10_binary_batches_are_pooled_with_channel_first_images(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "cifar-10-batches-bin"
    root.mkdir()
    l1, p1, r1 = _cifar_records(rng, 5)
    l2, p2, r2 = _cifar_records(rng, 3)
    r1.tofile(root / "data_batch_1.bin")
    r2.tofile(root / "test_batch.bin")
    (root / "batches.meta.txt").write_text("\n".join(f"class{i}" for i in range(10)) + "\n\n")
    d = load_dataset(f"cifar10:{tmp_path}")
    assert d.X.shape == (8, 3, 32, 32) and d.classes[3] == "class3"
    np.testing.assert_array_equal(d.y, np.concatenate([l1, l2]))
    # record layout: 1024 red, then green, then blue bytes, row-major 32 x 32
    assert d.X[6, 1, 2, 5] == np.float32(p2[1, 1024 + 2 * 32 + 5] / 255.0)
    assert d.X[0, 2, 31, 31] == np.float32(p1[0, 3071] / 255.0)


def test_cifar10_errors_name_the_file(tmp_path):
    with pytest.raises(FileFormatError, match="no CIFAR-10 binary batches"):
        load_dataset(f"cifar10:{tmp_path}")
    (tmp_path / "data_batch_1.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(FileFormatError, match="data_batch_1.bin: 3000 bytes"):
        load_dataset(f"cifar10:{tmp_path}")
    rec = np.zeros(3073, np.uint8)
    rec[0] = 12
    rec.tofile(tmp_path / "data_batch_1.bin")
    with pytest.raises(FileFormatError, match="record 0 has label 12"):
        load_dataset(f"cifar10:{tmp_path}")


def _png(path, arr):
    from PIL import Image
    Image.fromarray(arr).save(path)


def test_folder_reads_one_directory_per_class(tmp_path):
    rng = np.random.default_rng(1)
    imgs = {}
    for c in ("cat", "dog"):
        (tmp_path / c).mkdir()
        for i in range(2):
            a = rng.integers(0, 256, (4, 5)).astype(np.uint8)
            _png(tmp_path / c / f"{i}.png", a)
            imgs[(c, i)] = a
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    d = load_dataset(f"folder:{tmp_path}")
    assert d.classes == ("cat", "dog") and d.X.shape == (4, 1, 4, 5)
    np.testing.assert_array_equal(d.y, [0, 0, 1, 1])
    np.testing.assert_array_equal(d.X[3, 0] * 255, imgs[("dog", 1)])
    # one RGB image makes the whole set RGB; grey images are repeated over channels
    rgb = rng.integers(0, 256, (4, 5, 3)).astype(np.uint8)
    _png(tmp_path / "dog" / "2.png", rgb)
    d = load_dataset(f"folder:{tmp_path}")
    assert d.X.shape == (5, 3, 4, 5)
    np.testing.assert_array_equal(d.X[4].transpose(1, 2, 0) * 255, rgb)
    np.testing.assert_array_equal(d.X[0, 2] * 255, imgs[("cat", 0)])


def test_folder_errors_name_the_file(tmp_path):
    with pytest.raises(FileFormatError, match="no class sub-directories"):
        load_dataset(f"folder:{tmp_path}")
    (tmp_path / "a").mkdir()
    with pytest.raises(FileFormatError, match="no images"):
        load_dataset(f"folder:{tmp_path}")
    _png(tmp_path / "a" / "0.png", np.zeros((4, 4), np.uint8))
    _png(tmp_path / "a" / "1.png", np.zeros((3, 4), np.uint8))
    with pytest.raises(FileFormatError, match=r"1.png: image is 4 x 3 pixels"):
        load_dataset(f"folder:{tmp_path}")
    os.remove(tmp_path / "a" / "1.png")
    (tmp_path / "a" / "2.png").write_bytes(b"not a png")
    with pytest.raises(FileFormatError, match="2.png: not a readable image") as exc:
        load_dataset(f"folder:{tmp_path}")
    assert "\n" not in str(exc.value)


def test_unknown_or_missing_data_sets_are_one_line_errors(tmp_path):
    with pytest.raises(ParameterError, match="unknown data set 'mnist'"):
        load_dataset("mnist")
    with pytest.raises(ParameterError, match="needs a directory"):
        load_dataset("cifar10:")
    missing = tmp_path / "nothere"
    with pytest.raises(FileFormatError, match="nothere: no such file or directory"):
        load_dataset(f"folder:{missing}")
    (tmp_path / "f.bin").write_bytes(b"")
    with pytest.raises(FileFormatError, match="not a directory"):
        load_dataset(f"cifar10:{tmp_path / 'f.bin'}")
