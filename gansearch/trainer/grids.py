"""The latents every evaluation draws, G's output for them, and the picture (an image grid for image
data, a scatter over the true modes for 2D points). `gansearch sample` uses the same functions, so an
export redraws a trial's grid, or the very samples an evaluation scored, exactly.

An evaluation scores `eval.num_samples` DISTINCT samples: the first rows of one seeded draw of
`pool = max(eval.num_samples, eval.grid)` latents, the same draw at every evaluation (so a metric's
change from one evaluation to the next is the generator's, not the latents'). The grid is the first
`eval.grid` of those rows: it shows samples that were scored.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Callable, ContextManager

import torch
from PIL import Image, ImageDraw


SAMPLE_SEED_OFFSET = 3  # the fixed latents of a run come from train.seed + 3 (+1, +2: data and noise)
# An export re-scores its generator on latents no evaluation of the run used: this far from sample_seed.
RESCORE_SEED_OFFSET = 1_000_003
SampleFn = Callable[[int], torch.Tensor]


def sample_seed(train_seed: int) -> int:
    return int(train_seed) + SAMPLE_SEED_OFFSET


def rescore_seed(train_seed: int) -> int:
    return sample_seed(train_seed) + RESCORE_SEED_OFFSET


def pool_size(num_samples: int, grid: int) -> int:
    """How many latents one evaluation draws: its scored samples, and its grid as their first rows."""
    return max(int(num_samples), int(grid))


def fixed_latents(n: int, z_dim: int, seed: int, device: torch.device | str = "cpu", pool: int = 0) -> torch.Tensor:
    """The first n rows of randn(max(n, pool), z_dim) from a generator seeded `seed`.

    torch draws a different tail for different sizes, so a slice of one draw of `pool` rows, not a
    smaller draw, is what keeps the grid (n = eval.grid) the first samples of the evaluation.
    """
    gen = torch.Generator(device).manual_seed(int(seed))
    return torch.randn(max(int(n), int(pool)), z_dim, device=device, generator=gen)[:n]


def latent_stream(g: torch.nn.Module, z: torch.Tensor,
                  autocast: Callable[[], ContextManager[Any]] = contextlib.nullcontext) -> SampleFn:
    """An evaluator's `sample_fn`: each call returns G's output for the NEXT n rows of `z` (distinct
    samples, never the same rows twice); asking past the end is an error, not a wrap-around."""
    pos = 0

    def next_samples(n: int) -> torch.Tensor:
        nonlocal pos
        if pos + n > z.shape[0]:
            raise ValueError(f"sample_fn: asked for samples {pos}..{pos + n} of {z.shape[0]} latents")
        out = generate(g, z[pos:pos + n], autocast)
        pos += n
        return out

    return next_samples


@torch.no_grad()
def generate_scales(g: torch.nn.Module, z: torch.Tensor,
                    autocast: Callable[[], ContextManager[Any]] = contextlib.nullcontext) -> list[torch.Tensor]:
    """G(z) in eval mode at each scale it emits (models.scales_of; the last at the data's size), in chunks
    of 1024, as float32; G's train/eval mode is restored after."""
    from gansearch.trainer.models import scales_of

    was_training = g.training
    g.eval()
    try:
        with autocast():
            chunks = [scales_of(g, g(chunk)) for chunk in z.split(1024)]
    finally:
        g.train(was_training)
    return [torch.cat(parts).float().contiguous() for parts in zip(*chunks)]


def generate(g: torch.nn.Module, z: torch.Tensor,
             autocast: Callable[[], ContextManager[Any]] = contextlib.nullcontext) -> torch.Tensor:
    """G(z) at the data's size (see generate_scales)."""
    return generate_scales(g, z, autocast)[-1]


def tensor_stream(x: torch.Tensor) -> SampleFn:
    """An evaluator's `sample_fn` over samples already drawn: the next n rows each call, never twice."""
    pos = 0

    def next_samples(n: int) -> torch.Tensor:
        nonlocal pos
        if pos + n > x.shape[0]:
            raise ValueError(f"sample_fn: asked for samples {pos}..{pos + n} of {x.shape[0]}")
        pos += n
        return x[pos - n:pos]

    return next_samples


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
