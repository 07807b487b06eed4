"""Shared by the style-transfer tests: two small synthetic photos on disk and a space file using them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def make_images(folder: Path) -> tuple[Path, Path]:
    """A content image (a smooth gradient with a dark square: shapes) and a style image (coloured
    stripes: texture), 48 x 40 px so the square crop is exercised."""
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:40, 0:48].astype(np.float32)
    content = np.stack([xx / 47 * 255, yy / 39 * 255, np.full_like(xx, 128)], axis=-1)
    content[10:30, 14:34] = 20
    style = np.stack([(np.sin(xx / 2) + 1) * 127, (np.cos(yy / 3) + 1) * 127, (np.sin((xx + yy) / 4) + 1) * 127], -1)
    cp, sp = folder / "content.png", folder / "style.png"
    Image.fromarray(content.astype(np.uint8)).save(cp)
    Image.fromarray(style.astype(np.uint8)).save(sp)
    return cp, sp


def space_text(content: Path, style: Path, *, steps: int = 12, every: int = 4, extra: str = "") -> str:
    return textwrap.dedent(f"""
        task: style_transfer
        style: {{content: {content}, style: {style}, measure_size: 16}}
        train: {{steps: {steps}, seed: 0, checkpoint_every: {every}, threads: 1}}
        eval: {{every: {every}}}
        space:
          image_size: 16
          style_weight: 5.0
          tv_weight: 0.01
          lr: 0.05
        """) + extra


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, Path]:
    return make_images(tmp_path / "images")


@pytest.fixture
def space(tmp_path: Path, images: tuple[Path, Path]) -> Path:
    path = tmp_path / "style.yaml"
    path.write_text(space_text(*images))
    return path
