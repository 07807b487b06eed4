"""The Dataset record every loader returns, plus the few helpers loaders share.

A training batch is `dataset.sample(n, generator)`: one indexing op on a tensor that already sits on
the device, so the loop needs no DataLoader and a resumed run draws the same batches bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

# Bump when any loader's preprocessing changes: it is part of every fingerprint, so caches keyed on
# fingerprints (real-image features, classifiers) are rebuilt.
PREPROCESS_VERSION = 1
CAP_SEED = 0  # fixed shuffle behind data.max_samples


@dataclass
class Dataset:
    """Tensors of one dataset on one device; images (N, C, H, W) in [-1, 1], points (N, 2)."""

    name: str
    kind: Literal["image", "points"]
    shape: tuple[int, ...]
    train: torch.Tensor
    train_labels: torch.Tensor | None
    test: torch.Tensor | None
    test_labels: torch.Tensor | None
    num_classes: int | None
    fingerprint: str
    modes: torch.Tensor | None = None
    mode_std: float | None = None

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n training examples drawn with `generator` (CPU or the data's device), on the data's device."""
        gdev = generator.device
        if self.kind == "image":
            idx = torch.randint(0, self.train.shape[0], (n,), generator=generator, device=gdev)
            return self.train[idx.to(self.train.device)]
        assert self.modes is not None and self.mode_std is not None
        return mixture_sample(self.modes.to(gdev), self.mode_std, n, generator).to(self.train.device)


def mixture_sample(modes: torch.Tensor, std: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """n draws from an equal-weight Gaussian mixture, on the generator's device."""
    k = torch.randint(0, modes.shape[0], (n,), generator=generator, device=generator.device)
    noise = torch.randn(n, modes.shape[1], generator=generator, device=generator.device)
    return modes[k] + std * noise


def fingerprint(name: str, **parts: Any) -> str:
    """16 hex chars of sha256 over everything that changes a dataset's tensors."""
    payload = {"name": name, "preprocess_version": PREPROCESS_VERSION, **parts}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_stamp(path: Path) -> list[Any]:
    """Name, size and mtime: cheap, and changes whenever the file is replaced."""
    st = path.stat()
    return [path.name, st.st_size, st.st_mtime_ns]


def to_signed(unit: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1], float32, clamped so resizing overshoot never leaves the range."""
    return (unit.float().clamp(0.0, 1.0) * 2.0 - 1.0).contiguous()


def resize_unit(images: torch.Tensor, size: int, antialias: bool = True) -> torch.Tensor:
    """Resize float NCHW images in [0, 1] to size x size (bilinear), in chunks to bound memory."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = [F.interpolate(chunk, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias)
           for chunk in images.split(8192)]
    return torch.cat(out).clamp_(0.0, 1.0)


def uint8_to_signed(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 NCHW 0..255 -> float32 [-1, 1] at size x size (antialiased bilinear)."""
    out = [to_signed(resize_unit(chunk.float() / 255.0, size)) for chunk in images.split(8192)]
    return torch.cat(out)


def cap_indices(n: int, max_samples: int | None) -> torch.Tensor | None:
    """Indices of the first max_samples after a fixed-seed shuffle; None when nothing is cut."""
    if max_samples is None or max_samples >= n:
        return None
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(CAP_SEED))
    return perm[:max_samples]


def make_image_dataset(
    name: str, train: torch.Tensor, train_labels: torch.Tensor | None, test: torch.Tensor | None,
    test_labels: torch.Tensor | None, num_classes: int | None, fp: str, max_samples: int | None,
    device: torch.device,
) -> Dataset:
    """Apply the max_samples cap, move to the device and build the record."""
    keep = cap_indices(train.shape[0], max_samples)
    if keep is not None:
        train = train[keep]
        train_labels = None if train_labels is None else train_labels[keep]

    def put(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t.to(device)

    return Dataset(name=name, kind="image", shape=tuple(train.shape[1:]), train=put(train),
                   train_labels=put(train_labels), test=put(test), test_labels=put(test_labels),
                   num_classes=num_classes, fingerprint=fp)
