"""MODELS name table: builds (G, D) for a data shape; an unknown name lists the valid ones."""

from __future__ import annotations

from typing import Callable

from torch import nn

from gansearch.config.schema import ModelConfig
from gansearch.errors import ConfigError
from gansearch.trainer.models.dcgan import Discriminator, Generator, dcgan_init
from gansearch.trainer.models.mlp import PointDiscriminator, PointGenerator


def _dcgan(cfg: ModelConfig, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 3:
        raise ConfigError("model.name", "must be mlp for 2D point data", cfg.name)
    c, s, _ = shape
    g = Generator(cfg.z_dim, c, s, cfg.g_width, cfg.depth)
    d = Discriminator(c, s, cfg.d_width, cfg.depth, cfg.spectral_norm, cfg.d_batchnorm)
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    return g, d


def _mlp(cfg: ModelConfig, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 1:
        raise ConfigError("model.name", "must be dcgan for image data", cfg.name)
    return PointGenerator(cfg.z_dim, cfg.g_width, cfg.depth), PointDiscriminator(cfg.d_width, cfg.depth, cfg.spectral_norm)


MODELS: dict[str, Callable[[ModelConfig, tuple[int, ...]], tuple[nn.Module, nn.Module]]] = {
    "dcgan": _dcgan,
    "mlp": _mlp,
}


def build_models(cfg: ModelConfig, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """(G, D) for data of `shape`; `auto` picks dcgan for images and mlp for points."""
    name = cfg.name if cfg.name != "auto" else ("dcgan" if len(shape) == 3 else "mlp")
    if name not in MODELS:
        raise ConfigError("model.name", "must be one of auto, " + ", ".join(MODELS), cfg.name)
    return MODELS[name](cfg, shape)
