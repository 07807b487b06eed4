"""CIFAR-10 from the python-pickle batches (cifar-10-batches-py), the folder torchvision downloads.

We read the batches like torchvision's CIFAR10 (pickle, latin1) but skip its md5 check (it re-hashes
178 MB on every trial start and rejects any other copy, so no test could run offline), and through an
unpickler that builds only what a CIFAR batch holds (dicts, lists, strings, numpy arrays): a tampered
batch cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from gansearch.config.schema import DataConfig
from gansearch.data.dataset import Dataset, file_stamp, fingerprint, make_image_dataset, uint8_to_signed
from gansearch.data.locate import CIFAR_TEST, CIFAR_TRAIN, cifar_dir
from gansearch.errors import GansearchError


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}: a CIFAR batch holds only arrays, lists and strings")


def read_batches(paths: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, 3, 32, 32) images and int64 labels from CIFAR pickle batches."""
    data, labels = [], []
    for path in paths:
        try:
            with open(path, "rb") as f:
                entry = _BatchUnpickler(f, encoding="latin1").load()
            data.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
        except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as exc:
            raise GansearchError(f"{path}: not a CIFAR-10 python batch ({exc!r})") from exc
    return torch.from_numpy(np.concatenate(data)), torch.tensor(labels, dtype=torch.int64)


def load_cifar10(cfg: DataConfig, device: torch.device) -> Dataset:
    """50k train (and 10k test if test_batch exists) -> [-1, 1] at image_size; 3 channels, 10 classes."""
    folder = cifar_dir(cfg)
    train_paths = [folder / name for name in CIFAR_TRAIN]
    train_u8, train_y = read_batches(train_paths)
    test = test_y = None
    stamps = [file_stamp(p) for p in train_paths]
    if (folder / CIFAR_TEST).is_file():
        test_u8, test_y = read_batches([folder / CIFAR_TEST])
        test = uint8_to_signed(test_u8, cfg.image_size)
        stamps.append(file_stamp(folder / CIFAR_TEST))
    fp = fingerprint(cfg.name, files=stamps, image_size=cfg.image_size, max_samples=cfg.max_samples)
    train = uint8_to_signed(train_u8, cfg.image_size)
    return make_image_dataset(cfg.name, train, train_y, test, test_y, 10, fp, cfg.max_samples, device)
