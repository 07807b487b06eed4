"""The content and style images: read once from a file, a folder holding one image, or a photo
scikit-learn ships (`sklearn:china.jpg`), centre-cropped to a square and resized, as [-1, 1] NCHW tensors
(the project's one image convention). Each comes with a fingerprint of the bytes it was read from."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gansearch.config.style import BUILTIN_IMAGES, BUILTIN_PREFIX, image_files, user_path
from gansearch.errors import ConfigError


def open_image(source: str, where: str = "style") -> tuple[Image.Image, str]:
    """(RGB PIL image, sha256 (16 hex) of its source bytes) of a builtin name, an image file or a folder
    (its first image in name order)."""
    if source.startswith(BUILTIN_PREFIX):
        name = source[len(BUILTIN_PREFIX):]
        if name not in BUILTIN_IMAGES:
            raise ConfigError(where, "must be one of " + ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_IMAGES), source)
        from sklearn.datasets import load_sample_image

        array = np.ascontiguousarray(load_sample_image(name))
        digest = hashlib.sha256(str(array.shape).encode() + array.tobytes()).hexdigest()[:16]
        return Image.fromarray(array).convert("RGB"), digest
    path = user_path(source)
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise ConfigError(where, "must be a folder holding an image", source)
        path = files[0]
    try:
        data = path.read_bytes()
        with Image.open(path) as img:
            rgb = img.convert("RGB")
    except (OSError, ValueError) as e:
        raise ConfigError(where, f"must be a readable image ({type(e).__name__}: {e})", source) from None
    return rgb, hashlib.sha256(data).hexdigest()[:16]


def square(img: Image.Image, size: int) -> Image.Image:
    """The largest centred square, resized to size x size (Pillow's bicubic filter, antialiased)."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)


def to_tensor(img: Image.Image) -> torch.Tensor:
    """(1, 3, H, W) float32 in [-1, 1]."""
    x = torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1).unsqueeze(0).contiguous()
    return x / 127.5 - 1.0


def load_image(source: str, size: int, where: str = "style") -> tuple[torch.Tensor, str]:
    img, digest = open_image(source, where)
    return to_tensor(square(img, size)), digest


def save_image(x: torch.Tensor, path: Path) -> Path:
    """A [-1, 1] (1, 3, H, W) or (3, H, W) tensor as an 8-bit RGB PNG."""
    img = x.detach().float().cpu().reshape(-1, *x.shape[-3:])[0]
    array = ((img.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, "RGB").save(path)
    return path
