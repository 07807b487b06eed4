"""The names of every plugin family, kept here so validation needs no torch.

The implementations live in `data/`, `trainer/` and `metrics/` under the same keys; a conformance test
checks each table against these tuples, so a name can't exist in one place only. What `model.name: auto`
builds (`resolved_model`) is here too, the one copy validation, the trainer and the export read.

`data.name` may also be a user's plug-in, an import path `package.module:function` (`config.plugins`):
image data, like the built-in image datasets (`is_image_data`); `gansearch.data.plugin` holds its contract.
The feature-net rule (`feature_net_rule`) is here so the check before a run (`data.locate.check_feature_net`)
and the one inside it (`metrics.features.feature_net_for`) say the same words.
"""

from __future__ import annotations

from typing import Sequence

from gansearch.config.plugins import is_plugin

IMAGE_DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion-mnist", "cifar10", "image-folder")
POINT_DATASETS: tuple[str, ...] = ("ring8", "grid25")
DATASETS: tuple[str, ...] = IMAGE_DATASETS + POINT_DATASETS

IMAGE_MODELS: tuple[str, ...] = ("dcgan", "msg", "progressive")  # msg: MSG-GAN; progressive: ProGAN's growing
POINT_MODELS: tuple[str, ...] = ("mlp", "pacgan_mlp")
MODELS: tuple[str, ...] = ("auto",) + IMAGE_MODELS + POINT_MODELS
# what `model.name: auto` builds: dcgan for images, mlp for 2D points
AUTO_MODEL: dict[str, str] = {"image": "dcgan", "points": "mlp"}
LOSSES: tuple[str, ...] = ("non_saturating", "hinge", "wgan_gp", "lsgan")
BALANCE: tuple[str, ...] = ("none", "ttur", "n_critic", "skip_d", "label_smoothing", "instance_noise")
FEATURE_NETS: tuple[str, ...] = ("auto", "classifier", "inception")
IMAGE_SIZES: tuple[int, ...] = (16, 32, 64, 128)  # powers of two from DCGAN's 4x4 trunk
FEATURE_NET_RULE = "needs labels (a classifier) or eval.inception_weights (Inception) to measure distances"


def is_image_data(name: str) -> bool:
    """`data.name` names images: a built-in image dataset or a plug-in (plug-ins return images)."""
    return name in IMAGE_DATASETS or is_plugin(name)


def feature_net_rule(feature_net: str, data_has: str) -> str:
    """The one-line rule image data without labels of 2 or more classes breaks when the distances call for
    the dataset's classifier (`eval.feature_net` classifier, or auto without `eval.inception_weights`);
    `data_has` says what the data has instead."""
    if feature_net == "classifier":
        return (f"classifier needs labels of 2 or more classes to measure distances (or set it to auto or "
                f"inception, with eval.inception_weights, for Inception); {data_has}")
    return f"{FEATURE_NET_RULE}; {data_has}"


def resolved_model(name: str, data_shape: Sequence[int]) -> str:
    """The model `model.name` builds for data of `data_shape`: `auto` becomes AUTO_MODEL's choice for
    images (C, S, S) or 2D points (2,); any other name is itself."""
    if name != "auto":
        return name
    return AUTO_MODEL["image" if len(data_shape) == 3 else "points"]
