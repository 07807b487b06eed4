"""Sample grids: an image grid for image data, a scatter over the true modes for 2D points."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw


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
