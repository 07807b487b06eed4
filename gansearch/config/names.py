"""The names of every plugin family, kept here so validation needs no torch.

The implementations live in `data/`, `trainer/` and `metrics/` under the same keys; a conformance test
checks each table against these tuples, so a name can't exist in one place only.
"""

from __future__ import annotations

IMAGE_DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion-mnist", "cifar10", "image-folder")
POINT_DATASETS: tuple[str, ...] = ("ring8", "grid25")
DATASETS: tuple[str, ...] = IMAGE_DATASETS + POINT_DATASETS

IMAGE_MODELS: tuple[str, ...] = ("dcgan", "msg", "progressive")  # msg: MSG-GAN; progressive: ProGAN's growing
MODELS: tuple[str, ...] = ("auto",) + IMAGE_MODELS + ("mlp",)
LOSSES: tuple[str, ...] = ("non_saturating", "hinge", "wgan_gp", "lsgan")
BALANCE: tuple[str, ...] = ("none", "ttur", "n_critic", "skip_d", "label_smoothing", "instance_noise")
FEATURE_NETS: tuple[str, ...] = ("auto", "classifier", "inception")
IMAGE_SIZES: tuple[int, ...] = (16, 32, 64, 128)  # powers of two from DCGAN's 4x4 trunk
