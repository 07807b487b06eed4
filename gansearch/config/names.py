"""The names of every plugin family, kept here so validation needs no torch.

The implementations live in `data/`, `trainer/` and `metrics/` under the same keys; a conformance test
checks each table against these tuples, so a name can't exist in one place only. What `model.name: auto`
builds (`resolved_model`) is here too, the one copy validation, the trainer and the export read.
"""

from __future__ import annotations

from typing import Sequence

IMAGE_DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion-mnist", "cifar10", "image-folder")
POINT_DATASETS: tuple[str, ...] = ("ring8", "grid25")
DATASETS: tuple[str, ...] = IMAGE_DATASETS + POINT_DATASETS

IMAGE_MODELS: tuple[str, ...] = ("dcgan", "msg", "progressive")  # msg: MSG-GAN; progressive: ProGAN's growing
POINT_MODELS: tuple[str, ...] = ("mlp",)
MODELS: tuple[str, ...] = ("auto",) + IMAGE_MODELS + POINT_MODELS
# what `model.name: auto` builds: dcgan for images, mlp for 2D points
AUTO_MODEL: dict[str, str] = {"image": "dcgan", "points": "mlp"}
LOSSES: tuple[str, ...] = ("non_saturating", "hinge", "wgan_gp", "lsgan")
BALANCE: tuple[str, ...] = ("none", "ttur", "n_critic", "skip_d", "label_smoothing", "instance_noise")
FEATURE_NETS: tuple[str, ...] = ("auto", "classifier", "inception")
IMAGE_SIZES: tuple[int, ...] = (16, 32, 64, 128)  # powers of two from DCGAN's 4x4 trunk


def resolved_model(name: str, data_shape: Sequence[int]) -> str:
    """The model `model.name` builds for data of `data_shape`: `auto` becomes AUTO_MODEL's choice for
    images (C, S, S) or 2D points (2,); any other name is itself."""
    if name != "auto":
        return name
    return AUTO_MODEL["image" if len(data_shape) == 3 else "points"]
