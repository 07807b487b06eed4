"""MNIST and Fashion-MNIST from idx files (plain or .gz), parsed with numpy: no torchvision download path."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from gansearch.config.schema import DataConfig
from gansearch.data.dataset import Dataset, file_stamp, fingerprint, make_image_dataset, uint8_to_signed
from gansearch.data.locate import idx_files
from gansearch.errors import GansearchError

IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension


def read_idx(path: Path, magic: int) -> np.ndarray:
    """The array in an idx file; a wrong magic number or a short file raises GansearchError naming it."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise GansearchError(f"{path}: cannot read idx file ({exc})") from exc
    if len(data) < 4 or int.from_bytes(data[:4], "big") != magic:
        got = hex(int.from_bytes(data[:4], "big")) if len(data) >= 4 else "a file under 4 bytes"
        raise GansearchError(f"{path}: not an idx file with magic {magic:#06x}, got {got}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise GansearchError(f"{path}: idx header says {dims} ({expected} bytes), file has {len(data)} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_split(images: Path, labels: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, 1, 28, 28) images and int64 (N,) labels, checked to have the same N."""
    x = read_idx(images, IMAGES_MAGIC)
    y = read_idx(labels, LABELS_MAGIC)
    if x.shape[0] != y.shape[0]:
        raise GansearchError(f"{images}: {x.shape[0]} images but {labels.name} has {y.shape[0]} labels")
    return torch.from_numpy(x.copy())[:, None], torch.from_numpy(y.astype(np.int64))


def load_idx_dataset(cfg: DataConfig, device: torch.device) -> Dataset:
    """Train (and test when present) idx files -> [-1, 1] at image_size, antialiased bilinear."""
    files = idx_files(cfg)
    assert files["train_images"] is not None and files["train_labels"] is not None
    train_u8, train_y = read_split(files["train_images"], files["train_labels"])
    test = test_y = None
    if files["test_images"] is not None and files["test_labels"] is not None:
        test_u8, test_y = read_split(files["test_images"], files["test_labels"])
        test = uint8_to_signed(test_u8, cfg.image_size)
    stamps = {k: file_stamp(p) for k, p in files.items() if p is not None}
    fp = fingerprint(cfg.name, files=stamps, image_size=cfg.image_size, max_samples=cfg.max_samples)
    train = uint8_to_signed(train_u8, cfg.image_size)
    num_classes = int(train_y.max()) + 1
    return make_image_dataset(cfg.name, train, train_y, test, test_y, num_classes, fp, cfg.max_samples, device)
