"""Sample grids: the fixed latents every evaluation draws, G's output for them, and the picture (an
image grid for image data, a scatter over the true modes for 2D points). `gansearch sample` uses the same
functions, so an export redraws a trial's grid exactly."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Callable, ContextManager

import torch
from PIL import Image, ImageDraw


SAMPLE_SEED_OFFSET = 3  # the fixed latents of a run come from train.seed + 3 (+1, +2: data and noise)


def sample_seed(train_seed: int) -> int:
    return int(train_seed) + SAMPLE_SEED_OFFSET


def fixed_latents(n: int, z_dim: int, seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The same z at every evaluation: each image then depends on its z alone."""
    gen = torch.Generator(device).manual_seed(int(seed))
    return torch.randn(n, z_dim, device=device, generator=gen)


@torch.no_grad()
def generate(g: torch.nn.Module, z: torch.Tensor,
             autocast: Callable[[], ContextManager[Any]] = contextlib.nullcontext) -> torch.Tensor:
    """G(z) in eval mode, in chunks of 1024, as float32; G's train/eval mode is restored after."""
    was_training = g.training
    g.eval()
    try:
        with autocast():
            out = torch.cat([g(chunk) for chunk in z.split(1024)])
    finally:
        g.train(was_training)
    return out.float().contiguous()


def save_grid(samples: torch.Tensor, path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if samples.dim() == 4:
        from torchvision.utils import save_image

        save_image((samples.float().cpu() + 1) / 2, path, nrow=max(1, int(math.ceil(math.sqrt(samples.shape[0])))), padding=2)
    else:
        scatter(samples, path, getattr(data, "modes", None))


def scatter(points: torch.Tensor, path: Path, modes: torch.Tensor | None, size: int = 256) -> None:
    """Points in [-5, 5]^2 drawn in black over the mixture's modes in red; no plotting library needed."""
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    extent = 5.0

    def px(x: float, y: float) -> tuple[float, float]:
        return (x + extent) / (2 * extent) * (size - 1), (extent - y) / (2 * extent) * (size - 1)

    if modes is not None:
        for x, y in modes.cpu().tolist():
            cx, cy = px(x, y)
            draw.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], outline=(220, 30, 30), width=2)
    pts = points.float().cpu()
    pts = pts[torch.isfinite(pts).all(dim=1)]
    for x, y in pts.tolist():
        cx, cy = px(x, y)
        draw.point((cx, cy), fill=(0, 0, 0))
    img.save(path)
