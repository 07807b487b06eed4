"""How a stylised image is scored: by a VGG-19 that is NOT the one it was optimised against (another
seed, or another weights file), on a fixed layer set, at a fixed size, so every trial of a study is
measured alike and none can score well by exploiting the net it optimises against.

- `content_distance`: the content loss (gansearch.style.losses) against the content image, on
  MEASURE_CONTENT_LAYERS; 0 for the content image itself.
- `style_distance`: the Gram (style) loss against the style image, on MEASURE_STYLE_LAYERS; 0 for the
  style image itself.
- `transfer_score` (gansearch's own single number for ranking) = content_distance / the style image's
  content_distance + style_distance / the content image's style_distance: both trivial answers, handing
  back the content image or the style image, score exactly 1; lower is better.

Images are measured at `style.measure_size`: a stylised image of another size is resized first
(bilinear, antialiased); the two reference images are read at that size from their source.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gansearch.config.metrics import FEATURE_NET, FEATURE_NET_HASH
from gansearch.config.style import MEASURE_CONTENT_LAYERS, MEASURE_STYLE_LAYERS, StyleConfig, image_source
from gansearch.style import vgg
from gansearch.style.images import load_image
from gansearch.style.losses import EPS, content_loss, style_loss

WORST = {"transfer_score": float("inf"), "content_distance": float("inf"), "style_distance": float("inf")}


class Measure:
    def __init__(self, s: StyleConfig, device: torch.device) -> None:
        self.size = s.measure_size
        self.net = vgg.build(s.measure_weights, s.measure_seed, "style.measure_weights").to(device)
        self.device = device
        self.content, _ = load_image(image_source(s, "content"), self.size, "style.content")
        self.style, _ = load_image(image_source(s, "style"), self.size, "style.style")
        self.content, self.style = self.content.to(device), self.style.to(device)
        self.content_targets, self.style_targets = self.net.targets(self.content, self.style, MEASURE_CONTENT_LAYERS,
                                                                    MEASURE_STYLE_LAYERS)
        # the normalisers of transfer_score: how far each input image is from the other's target
        self.content_of_style = self.distances(self.style)["content_distance"]
        self.style_of_content = self.distances(self.content)["style_distance"]

    @property
    def provenance(self) -> dict[str, Any]:
        return {FEATURE_NET: self.net.name, FEATURE_NET_HASH: self.net.weights_hash}

    @torch.no_grad()
    def distances(self, image: torch.Tensor) -> dict[str, float]:
        """{content_distance, style_distance} of one [-1, 1] (1, 3, H, W) image."""
        x = image.detach().to(self.device, torch.float32).clamp(-1, 1)
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        feats = self.net(x, MEASURE_CONTENT_LAYERS + MEASURE_STYLE_LAYERS)
        return {"content_distance": float(content_loss(feats, self.content_targets)),
                "style_distance": float(style_loss(feats, self.style_targets))}

    def score(self, image: torch.Tensor) -> dict[str, float]:
        """{transfer_score, content_distance, style_distance} of one image."""
        d = self.distances(image)
        score = d["content_distance"] / max(self.content_of_style, EPS) + d["style_distance"] / max(self.style_of_content, EPS)
        return {"transfer_score": score, **d}

    def baselines(self, noise: torch.Tensor) -> dict[str, float]:
        """The references every record carries: each input image measured against the other's target,
        and the trial's noise start measured against both."""
        d = self.distances(noise)
        return {"content_distance_of_style": self.content_of_style, "style_distance_of_content": self.style_of_content,
                "content_distance_of_noise": d["content_distance"], "style_distance_of_noise": d["style_distance"]}
