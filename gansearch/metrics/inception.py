"""pytorch-fid's FID Inception-v3 as a feature net, from a weights file the user supplies.

It exists so `fid`/`kid` mean what the literature means (2048-d pool features of the FID Inception,
comparable with published numbers) while nothing is downloaded at run time: the network is assembled
from torchvision and pytorch-fid's blocks, and its weights come from `eval.inception_weights` or a
pt_inception-2015-12-05-*.pth in the cache folder's inception/.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from gansearch.errors import ConfigError, GansearchError
from gansearch.metrics.feature_net import FeatureNet, sha16

INCEPTION_GLOB = "pt_inception-2015-12-05-*.pth"
INCEPTION_NAME = "inception-v3-fid"


class InceptionNet(FeatureNet):
    """pytorch-fid's FID Inception-v3 up to the 2048-d average pool; images resized to 299 bilinear."""

    name = INCEPTION_NAME
    space = "inception"
    num_features = 2048
    batch_size = 50

    def __init__(self, weights: Path, device: torch.device | str = "cpu") -> None:
        data = weights.read_bytes()
        self.weights_hash = sha16(data)
        self.weights_path = weights
        try:
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise GansearchError(f"{weights}: not a loadable Inception state dict ({exc})") from exc
        model = build_fid_inception()
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError) as exc:
            raise GansearchError(f"{weights}: not pytorch-fid's FID Inception weights ({exc})") from exc
        super().__init__(model, device)

    def _forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        m = self.module
        assert m is not None
        x = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
        # pytorch-fid resizes [0, 1] input to 299 then maps 2x-1; resizing is linear, so [-1, 1] in is the same
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        for layer in (m.Conv2d_1a_3x3, m.Conv2d_2a_3x3, m.Conv2d_2b_3x3, m.maxpool1, m.Conv2d_3b_1x1,
                      m.Conv2d_4a_3x3, m.maxpool2, m.Mixed_5b, m.Mixed_5c, m.Mixed_5d, m.Mixed_6a,
                      m.Mixed_6b, m.Mixed_6c, m.Mixed_6d, m.Mixed_6e, m.Mixed_7a, m.Mixed_7b, m.Mixed_7c):
            x = layer(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1), None


def build_fid_inception() -> nn.Module:
    """pytorch-fid's `fid_inception_v3()` without its download: torchvision Inception3 + FID blocks."""
    try:
        from pytorch_fid.inception import FIDInceptionA, FIDInceptionC, FIDInceptionE_1, FIDInceptionE_2
    except ImportError as exc:
        raise GansearchError("the inception feature net needs the pytorch-fid package: pip install pytorch-fid"
                             ) from exc
    from torchvision.models import inception_v3

    net = inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=False)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE_1(1280)
    net.Mixed_7c = FIDInceptionE_2(2048)
    return net


def find_inception_weights(inception_weights: str | None, cache_dir: Path) -> Path | None:
    """The given file (must exist), else a pt_inception-2015-12-05-*.pth in cache_dir/inception/."""
    if inception_weights is not None:
        path = Path(inception_weights).expanduser()
        if not path.is_file():
            raise ConfigError("eval.inception_weights", "file not found", str(path))
        return path
    found = sorted((cache_dir / "inception").glob(INCEPTION_GLOB))
    return found[0] if found else None
