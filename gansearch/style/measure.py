"""How a stylised image is scored, at a fixed size, so every trial of a study is measured alike.

By gansearch's measuring net (a VGG-19 that is NOT the one the image was optimised against: another seed,
or another weights file, on a fixed layer set) — a PROXY, not an independent judge: a random VGG-19 of
the objective's own family, whose layers overlap the optimised ones; Gram losses on wide random ReLU
features tend to one seed-independent distance, so this largely re-measures the objective:
- `content_distance`: the content loss (gansearch.style.losses) against the content image, on
  MEASURE_CONTENT_LAYERS; 0 for the content image itself.
- `style_distance`: the Gram (style) loss against the style image, on MEASURE_STYLE_LAYERS; 0 for the
  style image itself.
- `transfer_score` (gansearch's own proxy, the default ranking) = content_distance / the style image's
  content_distance + style_distance / the content image's style_distance: both trivial answers, handing
  back the content image or the style image, score exactly 1; lower is better.

By pixels alone (gansearch.metrics.image_similarity: no net, nothing shared with the objective):
- `content_ssim`, `content_edge_corr`: SSIM (Wang et al. 2004) and the correlation of Sobel edge
  magnitudes, of the luminance with the content image's; 1 for the content image; higher is better.
- `style_swd_patch`, `style_swd_colour`: sliced Wasserstein distances (Heitz et al. 2021; Rabin et al.
  2011) to the style image's multi-scale, mean-centred 3 x 3 patches and to its RGB pixel distribution;
  0 for the style image; lower is better. 128 fixed seeded projections: deterministic.

Every record also carries each measure of the other input image and of the noise start (`*_of_style`,
`*_of_content`, `*_of_noise`), the references a value is read against. Images are measured at
`style.measure_size`: a stylised image of another size is resized first (bilinear, antialiased); the two
reference images are read at that size from their source.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gansearch.config.metrics import FEATURE_NET, FEATURE_NET_HASH, STYLE_INDEPENDENT_METRICS, STYLE_METRICS
from gansearch.config.style import MEASURE_CONTENT_LAYERS, MEASURE_STYLE_LAYERS, StyleConfig, image_source
from gansearch.metrics.image_similarity import colour_swd, edge_correlation, patch_swd, ssim
from gansearch.style import vgg
from gansearch.style.images import load_image
from gansearch.style.losses import EPS, content_loss, style_loss

# measured from pixels alone, and which way is better
INDEPENDENT_METRICS = STYLE_INDEPENDENT_METRICS
MODES = {**STYLE_METRICS, **INDEPENDENT_METRICS}
# a diverged run's values: the far end of each measure's range
WORST = {"transfer_score": float("inf"), "content_distance": float("inf"), "style_distance": float("inf"),
         "content_ssim": -1.0, "content_edge_corr": -1.0, "style_swd_patch": float("inf"),
         "style_swd_colour": float("inf")}
# what each record key means, written into run.json ("measure_definitions") so a run describes itself
DESCRIPTIONS = {
    "transfer_score": "gansearch's own proxy, not an independent judge: content_distance / content_distance_of_style"
                      " + style_distance / style_distance_of_content, both measured by a random VGG-19 of the "
                      "objective's family (another seed) on layers overlapping the optimised ones; 1 for either "
                      "input image; lower is better",
    "content_distance": "content loss to the content image on the measuring VGG-19 (a proxy of the objective's "
                        "family); 0 for the content image; lower is better",
    "style_distance": "Gram (style) loss to the style image on the measuring VGG-19 (a proxy of the objective's "
                      "family); 0 for the style image; lower is better",
    "content_ssim": "SSIM (Wang et al. 2004) of the luminance with the content image's; no net; 1 for the content "
                    "image; higher is better",
    "content_edge_corr": "Pearson correlation of Sobel gradient magnitudes of the luminance with the content "
                         "image's; no net; 1 for the content image; higher is better",
    "style_swd_patch": "sliced W1 (Heitz et al. 2021) to the style image's 3x3 patches, each minus its mean, at 3 "
                       "Gaussian-pyramid levels; no net; 0 for the style image; lower is better",
    "style_swd_colour": "sliced W1 (Rabin et al. 2011) to the style image's RGB pixel distribution, pixels in "
                        "[0, 1]; no net; 0 for the style image; lower is better",
}


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

    def _at_size(self, image: torch.Tensor) -> torch.Tensor:
        """One [-1, 1] (1, 3, H, W) image on the measure's device, clamped, at measure_size."""
        x = image.detach().to(self.device, torch.float32).clamp(-1, 1)
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return x

    @torch.no_grad()
    def distances(self, image: torch.Tensor) -> dict[str, float]:
        """{content_distance, style_distance} of one [-1, 1] (1, 3, H, W) image (the measuring VGG's)."""
        feats = self.net(self._at_size(image), MEASURE_CONTENT_LAYERS + MEASURE_STYLE_LAYERS)
        return {"content_distance": float(content_loss(feats, self.content_targets)),
                "style_distance": float(style_loss(feats, self.style_targets))}

    @torch.no_grad()
    def independent(self, image: torch.Tensor) -> dict[str, float]:
        """INDEPENDENT_METRICS of one [-1, 1] image: pixels only, in [0, 1] (the metric boundary)."""
        x = (self._at_size(image) + 1) / 2
        content, style = (self.content + 1) / 2, (self.style + 1) / 2
        return {"content_ssim": ssim(x, content), "content_edge_corr": edge_correlation(x, content),
                "style_swd_patch": patch_swd(x, style), "style_swd_colour": colour_swd(x, style)}

    def score(self, image: torch.Tensor) -> dict[str, float]:
        """{transfer_score, content_distance, style_distance} (the VGG proxy) and INDEPENDENT_METRICS of one
        image."""
        d = self.distances(image)
        score = d["content_distance"] / max(self.content_of_style, EPS) + d["style_distance"] / max(self.style_of_content, EPS)
        return {"transfer_score": score, **d, **self.independent(image)}

    def baselines(self, noise: torch.Tensor) -> dict[str, float]:
        """The references every record carries: each input image measured against the other's target,
        and the trial's noise start measured against both."""
        d = {**self.distances(noise), **self.independent(noise)}
        on_style, on_content = self.independent(self.style), self.independent(self.content)
        return {"content_distance_of_style": self.content_of_style, "style_distance_of_content": self.style_of_content,
                "content_ssim_of_style": on_style["content_ssim"],
                "content_edge_corr_of_style": on_style["content_edge_corr"],
                "style_swd_patch_of_content": on_content["style_swd_patch"],
                "style_swd_colour_of_content": on_content["style_swd_colour"],
                **{f"{k}_of_noise": v for k, v in d.items()}}
