"""A user's own (G, D), from `model.name: package.module:function`.

gansearch calls `function(shape, **kwargs)`: `shape` is the data's, (C, H, W) for images or (2,) for
points; `kwargs` holds, among the keyword parameters the function declares, the model section's fields
(`z_dim` always; `g_width`, `d_width`, ... where the space file sets or searches them), a trial's values
of the same names, and `gradient_penalty` (True for a WGAN-GP critic). The function's own defaults are
the defaults. It returns (G, D): G maps (N, z_dim) to (N, *shape), images in [-1, 1]; D maps a batch to
(N,) or (N, 1) logits. Everything around the networks is gansearch's: losses, balance strategies,
metrics, checkpoints, export.

The WGAN-GP rule (no batch norm in the critic, Gulrajani et al. 2017 §4) holds for plug-ins too: a
plug-in that declares `gradient_penalty` is told and must build D without it; one that doesn't and
whose D has batch norm is refused under `loss: wgan_gp` (`check`, before any trial).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor, nn

from gansearch.config.plugins import MODEL_FIELDS, keyword_params, resolve
from gansearch.config.schema import ModelConfig
from gansearch.errors import ConfigError


class PluginDiscriminator(nn.Module):
    """The plug-in's D, its logits as (N,) whatever shape it returns them in."""

    def __init__(self, net: nn.Module, kwargs: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.net = net
        self.kwargs = dict(kwargs or {})  # what the plug-in function was called with (run.json `effective`)

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x)
        return out.reshape(out.shape[0])


def plugin_kwargs(fn: Any, cfg: ModelConfig, params: Mapping[str, Any], gradient_penalty: bool) -> dict[str, Any]:
    declared = keyword_params(fn)
    out: dict[str, Any] = {}
    for name in declared:
        if name == "z_dim" or (name in MODEL_FIELDS and name in cfg.model_fields_set):
            out[name] = getattr(cfg, name)
        if name in params and name not in MODEL_FIELDS:
            out[name] = params[name]
        if name == "gradient_penalty":
            out[name] = gradient_penalty
    return out


def build_plugin(cfg: ModelConfig, shape: tuple[int, ...], params: Mapping[str, Any],
                 gradient_penalty: bool) -> tuple[nn.Module, nn.Module]:
    fn = resolve(cfg.name, "model.name")
    kwargs = plugin_kwargs(fn, cfg, params, gradient_penalty)
    try:
        built = fn(tuple(shape), **kwargs)
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's code: one line, naming it
        raise ConfigError("model.name", f"must build (G, D) for data of shape {tuple(shape)} (it raised "
                          f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''})", cfg.name) from None
    if not (isinstance(built, tuple) and len(built) == 2 and all(isinstance(m, nn.Module) for m in built)):
        raise ConfigError("model.name", "must return (G, D), two torch.nn.Module", cfg.name)
    g, d = built
    return g, PluginDiscriminator(d, kwargs)


def has_batchnorm(m: nn.Module) -> bool:
    return any(isinstance(x, nn.modules.batchnorm._BatchNorm) for x in m.modules())


@torch.no_grad()
def check(cfg: ModelConfig, shape: tuple[int, ...], params: Mapping[str, Any], gradient_penalty: bool,
          n: int = 4) -> dict[str, Any]:
    """Build the plug-in and run one batch through G and D (CPU, eval mode): every way it can break the
    contract is one line naming model.name. Returns what was built (parameter counts)."""
    g, d = build_plugin(cfg, shape, params, gradient_penalty)
    where = cfg.name
    if gradient_penalty and has_batchnorm(d) and "gradient_penalty" not in keyword_params(resolve(where, "model.name")):
        raise ConfigError("model.name", "must build a WGAN-GP critic without batch norm (Gulrajani et al. 2017 §4: the "
                          "penalty needs a per-sample gradient); its D has batch norm: declare a gradient_penalty "
                          "parameter and leave batch norm out when it is True, or search another loss", where)
    g.eval()
    d.eval()
    z = torch.randn(n, cfg.z_dim, generator=torch.Generator().manual_seed(0))
    try:
        x = g(z)
    except Exception as e:  # noqa: BLE001
        raise ConfigError("model.name", f"must have a G that maps (N, z_dim={cfg.z_dim}) latents (it raised "
                          f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''})", where) from None
    if not isinstance(x, Tensor) or tuple(x.shape) != (n, *shape):
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ConfigError("model.name", f"must have a G whose output is (N, *shape) = {(n, *shape)} (got {got})", where)
    if len(shape) == 3 and (float(x.min()) < -1.0 - 1e-4 or float(x.max()) > 1.0 + 1e-4):
        raise ConfigError("model.name", f"must have a G whose images lie in [-1, 1], as the data does (got "
                          f"[{float(x.min()):.3g}, {float(x.max()):.3g}]: end G with tanh)", where)
    try:
        logits = d.net(x)
    except Exception as e:  # noqa: BLE001
        raise ConfigError("model.name", f"must have a D that takes a batch shaped like the data (it raised "
                          f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''})", where) from None
    if not isinstance(logits, Tensor) or tuple(logits.shape) not in ((n,), (n, 1)):
        got = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ConfigError("model.name", f"must have a D whose output is (N,) or (N, 1) logits (got {got} for N={n})", where)
    return {"num_params_g": sum(p.numel() for p in g.parameters()),
            "num_params_d": sum(p.numel() for p in d.parameters())}
