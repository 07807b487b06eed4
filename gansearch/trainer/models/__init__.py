"""MODELS name table: builds (G, D) for a data shape; an unknown name lists the valid ones."""

from __future__ import annotations

from typing import Callable

from torch import nn

from gansearch.config.schema import ModelConfig
from gansearch.errors import ConfigError
from gansearch.trainer.models.dcgan import Discriminator, Generator, dcgan_init
from gansearch.trainer.models.mlp import PointDiscriminator, PointGenerator


def d_norm(cfg: ModelConfig, gradient_penalty: bool) -> str:
    """D's normalization: batch norm as configured, except under a gradient penalty, where it becomes
    layer norm. Batch norm couples the samples of a batch, so the critic is no longer a function of each
    input alone and the per-sample gradient norm the penalty constrains is not defined (Gulrajani et al.
    2017, §4: no batch norm in the critic; layer norm as the drop-in replacement)."""
    if not cfg.d_batchnorm:
        return "none"
    return "layer" if gradient_penalty else "batch"


def _dcgan(cfg: ModelConfig, shape: tuple[int, ...], gradient_penalty: bool) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 3:
        raise ConfigError("model.name", "must be mlp for 2D point data", cfg.name)
    c, s, _ = shape
    g = Generator(cfg.z_dim, c, s, cfg.g_width, cfg.depth)
    d = Discriminator(c, s, cfg.d_width, cfg.depth, cfg.spectral_norm, d_norm(cfg, gradient_penalty))
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    return g, d


def _mlp(cfg: ModelConfig, shape: tuple[int, ...], gradient_penalty: bool) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 1:
        raise ConfigError("model.name", "must be dcgan for image data", cfg.name)
    return PointGenerator(cfg.z_dim, cfg.g_width, cfg.depth), PointDiscriminator(cfg.d_width, cfg.depth, cfg.spectral_norm)


MODELS: dict[str, Callable[[ModelConfig, tuple[int, ...], bool], tuple[nn.Module, nn.Module]]] = {
    "dcgan": _dcgan,
    "mlp": _mlp,  # no normalization in either network
}


def build_models(cfg: ModelConfig, shape: tuple[int, ...], gradient_penalty: bool = False) -> tuple[nn.Module, nn.Module]:
    """(G, D) for data of `shape`; `auto` picks dcgan for images and mlp for points. `gradient_penalty`:
    D is a WGAN-GP critic (see `d_norm`)."""
    name = cfg.name if cfg.name != "auto" else ("dcgan" if len(shape) == 3 else "mlp")
    if name not in MODELS:
        raise ConfigError("model.name", "must be one of auto, " + ", ".join(MODELS), cfg.name)
    return MODELS[name](cfg, shape, gradient_penalty)
