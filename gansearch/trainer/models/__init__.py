"""MODELS name table: builds (G, D) for a data shape; an unknown name lists the valid ones."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from torch import Tensor, nn

from gansearch.config.load import model_rule
from gansearch.config.names import resolved_model
from gansearch.config.plugins import is_plugin
from gansearch.config.schema import ModelConfig
from gansearch.errors import ConfigError
from gansearch.trainer.models.dcgan import Discriminator, Generator, dcgan_init
from gansearch.trainer.models.mlp import (
    PacGANPointDiscriminator,
    PacGANPointGenerator,
    PointDiscriminator,
    PointGenerator,
    pacgan_init,
)
from gansearch.trainer.models.msg import MSGDiscriminator, MSGGenerator
from gansearch.trainer.models.progressive import ProgressiveDiscriminator, ProgressiveGenerator


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
        raise ConfigError("model.name", model_rule(is_image=False), cfg.name)
    c, s, _ = shape
    g = Generator(cfg.z_dim, c, s, cfg.g_width, cfg.depth)
    d = Discriminator(c, s, cfg.d_width, cfg.depth, cfg.spectral_norm, d_norm(cfg, gradient_penalty))
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    return g, d


def _scaled(g_cls: type[nn.Module], d_cls: type[nn.Module]) -> Callable[[ModelConfig, tuple[int, ...], bool], tuple[nn.Module, nn.Module]]:
    def build(cfg: ModelConfig, shape: tuple[int, ...], gradient_penalty: bool) -> tuple[nn.Module, nn.Module]:
        if len(shape) != 3:
            raise ConfigError("model.name", model_rule(is_image=False), cfg.name)
        c, s, _ = shape
        g = g_cls(cfg.z_dim, c, s, cfg.g_width)
        d = d_cls(c, s, cfg.d_width, cfg.spectral_norm, d_norm(cfg, gradient_penalty))
        g.apply(dcgan_init)
        d.apply(dcgan_init)
        return g, d

    return build


def _points_only(cfg: ModelConfig, shape: tuple[int, ...]) -> None:
    if len(shape) != 1:
        raise ConfigError("model.name", model_rule(is_image=True), cfg.name)


def _mlp(cfg: ModelConfig, shape: tuple[int, ...], gradient_penalty: bool) -> tuple[nn.Module, nn.Module]:
    _points_only(cfg, shape)
    return PointGenerator(cfg.z_dim, cfg.g_width, cfg.depth), PointDiscriminator(cfg.d_width, cfg.depth, cfg.spectral_norm)


def _pacgan_mlp(cfg: ModelConfig, shape: tuple[int, ...], gradient_penalty: bool) -> tuple[nn.Module, nn.Module]:
    _points_only(cfg, shape)
    g, d = PacGANPointGenerator(cfg.z_dim, cfg.g_width), PacGANPointDiscriminator(cfg.d_width)
    g.apply(pacgan_init)
    d.apply(pacgan_init)
    return g, d


MODELS: dict[str, Callable[[ModelConfig, tuple[int, ...], bool], tuple[nn.Module, nn.Module]]] = {
    "dcgan": _dcgan,
    "msg": _scaled(MSGGenerator, MSGDiscriminator),  # G emits every scale; D reads them all
    "progressive": _scaled(ProgressiveGenerator, ProgressiveDiscriminator),  # grows 4 px -> S (set_growth)
    "mlp": _mlp,  # no normalization in either network
    "pacgan_mlp": _pacgan_mlp,  # PacGAN's unpacked 2D networks: G 4x400 batch norm, D 3x200 maxout-5 (g/d_width)
}


def model_name(cfg: ModelConfig, shape: tuple[int, ...]) -> str:
    """The model a config builds: `auto` is dcgan for images and mlp for points (`config.names.resolved_model`)."""
    return resolved_model(cfg.name, shape)


def build_models(cfg: ModelConfig, shape: tuple[int, ...], gradient_penalty: bool = False,
                 params: Mapping[str, Any] | None = None) -> tuple[nn.Module, nn.Module]:
    """(G, D) for data of `shape`. `gradient_penalty`: D is a WGAN-GP critic (see `d_norm`). `params`: the
    run's hyperparameters, of which a plug-in (`package.module:function`) takes those it declares."""
    if is_plugin(cfg.name):
        from gansearch.trainer.models.plugin import build_plugin

        return build_plugin(cfg, shape, params or {}, gradient_penalty)
    name = model_name(cfg, shape)
    if name not in MODELS:
        raise ConfigError("model.name", "must be one of auto, " + ", ".join(MODELS), cfg.name)
    return MODELS[name](cfg, shape, gradient_penalty)


def scales_of(g: nn.Module, out: Any) -> list[Tensor]:
    """G's output as images from low to high resolution, the last at the data's: one for DCGAN and MLP,
    every scale for MSG-GAN, the current level upsampled to full size for a growing G."""
    return g.scales(out) if hasattr(g, "scales") else [out]


def full_size(g: nn.Module, out: Any) -> Tensor:
    """G's output at the data's resolution: what every metric and grid of the target resolution sees."""
    return scales_of(g, out)[-1]


def real_input(d: nn.Module) -> Callable[[Tensor], Any]:
    """How real images at the data's resolution become D's input (a pyramid, the current level)."""
    return getattr(d, "real_input", lambda x: x)


def set_growth(models: tuple[nn.Module, ...], level: int, alpha: float) -> None:
    for m in models:
        if hasattr(m, "grow"):
            m.grow(level, alpha)
