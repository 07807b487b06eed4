"""The feature network of style transfer: VGG-19's convolutional layers (Simonyan & Zisserman 2015) in
torchvision's layout, so torchvision's `vgg19` weights file loads key for key.

Weights come from a file the user has (loaded with `torch.load(weights_only=True)`; never downloaded), or
else from a fixed seed: He-normal filters, zero biases. Texture synthesis works with random filters
(Ustyuzhaninov et al. 2016, "Texture Synthesis Using Shallow Convolutional Networks with Random Filters"),
which is what makes an offline default possible; its name says it is random in every record.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Mapping, Sequence

import torch
import torch.nn as nn

from gansearch.config.style import VGG19_LAYERS, user_path
from gansearch.errors import ConfigError
from gansearch.style.losses import gram
from gansearch.metrics.features import weights_hash_of

# torchvision's vgg19 features config "E" up to relu5_1: channels per conv, "M" for a 2x2 max pool
_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # what torchvision's weights were trained on; kept for random nets too
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg19_layers() -> nn.Sequential:
    """VGG-19's `features` through relu5_1 (torchvision's indices 0..29)."""
    layers: list[nn.Module] = []
    channels = 3
    for v in _CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            channels = int(v)
    assert len(layers) == len(VGG19_LAYERS)
    return nn.Sequential(*layers)


class VGGFeatures(nn.Module):
    """Frozen VGG-19 features: `forward(x, names)` maps [-1, 1] images to {layer name: activation},
    running only as deep as the deepest name asked for. `name` and `weights_hash` are its provenance."""

    def __init__(self, layers: nn.Sequential, name: str) -> None:
        super().__init__()
        self.layers = layers.eval()
        for p in self.layers.parameters():
            p.requires_grad_(False)
        self.name = name
        self.weights_hash = weights_hash_of(self.layers.state_dict())
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, names: Sequence[str]) -> dict[str, torch.Tensor]:
        wanted = {VGG19_LAYERS.index(n): n for n in names}
        out: dict[str, torch.Tensor] = {}
        h = ((x + 1) / 2 - self.mean) / self.std
        for i, layer in enumerate(self.layers):
            if i > max(wanted):
                break
            h = layer(h)
            if i in wanted:
                out[wanted[i]] = h
        return out

    @torch.no_grad()
    def targets(self, content: torch.Tensor, style: torch.Tensor, content_layers: Sequence[str],
                style_layers: Sequence[str]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """What an image is pulled towards in this net: the content image's activations at content_layers
        and the style image's Gram matrices at style_layers."""
        c, s = self(content, content_layers), self(style, style_layers)
        return {k: c[k] for k in content_layers}, {k: gram(s[k]) for k in style_layers}


@functools.lru_cache(maxsize=4)  # frozen, so trials of one worker process (Tune reuses actors) share it
def random_vgg19(seed: int) -> VGGFeatures:
    """He-normal filters (std sqrt(2 / fan_in), which keeps activations at one scale through the ReLUs)
    and zero biases, drawn from a generator seeded `seed`: the same net on every machine and every call."""
    layers = vgg19_layers()
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in layers:
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan_in))
                m.bias.zero_()
    return VGGFeatures(layers, f"vgg19-random-seed{int(seed)}")


def vgg19_from_file(path: str, where: str) -> VGGFeatures:
    """torchvision's vgg19 weights (`features.N.*` keys; a bare `N.*` features dict works too), loaded
    without unpickling code; the classifier's weights are ignored."""
    try:
        state = torch.load(user_path(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable or unsafe file is the same user mistake
        raise ConfigError(where, f"must be a weights file torch.load(weights_only=True) reads ({type(e).__name__})",
                          path) from None
    if not isinstance(state, Mapping):
        raise ConfigError(where, "must hold a state dict (torchvision's vgg19 weights)", path)
    layers = vgg19_layers()
    own = layers.state_dict()
    prefix = "features." if any(str(k).startswith("features.") for k in state) else ""
    picked = {}
    for key, tensor in own.items():
        got = state.get(prefix + key)
        if not isinstance(got, torch.Tensor) or got.shape != tensor.shape:
            shape = None if not isinstance(got, torch.Tensor) else tuple(got.shape)
            raise ConfigError(where, f"must be torchvision's vgg19 weights ({prefix + key}: expected shape "
                              f"{tuple(tensor.shape)}, found {shape})", path)
        picked[key] = got.float()
    layers.load_state_dict(picked)
    return VGGFeatures(layers, f"vgg19:{Path(path).name}")


def build(weights: str | None, seed: int, where: str) -> VGGFeatures:
    return vgg19_from_file(weights, where) if weights is not None else random_vgg19(seed)
