"""The DATASETS name table: keys equal `config.names.DATASETS`, a conformance test keeps them so. A
plug-in's import path (`package.module:function`) loads through `data.plugin` instead."""

from __future__ import annotations

from typing import Callable

import torch

from gansearch.config.plugins import is_plugin
from gansearch.config.schema import DataConfig
from gansearch.data.cifar import load_cifar10
from gansearch.data.dataset import Dataset
from gansearch.data.digits import load_digits_dataset
from gansearch.data.idx import load_idx_dataset
from gansearch.data.image_folder import load_image_folder
from gansearch.data.locate import check_name
from gansearch.data.plugin import load_plugin
from gansearch.data.points import load_points

Loader = Callable[[DataConfig, torch.device], Dataset]

DATASETS: dict[str, Loader] = {
    "digits": load_digits_dataset,
    "mnist": load_idx_dataset,
    "fashion-mnist": load_idx_dataset,
    "cifar10": load_cifar10,
    "image-folder": load_image_folder,
    "ring8": load_points,
    "grid25": load_points,
}


def load_dataset(cfg: DataConfig, device: torch.device | str = "cpu") -> Dataset:
    """Load `cfg.name` onto `device`; unknown names list the valid ones, missing files say how to get them."""
    check_name(cfg.name)
    loader = load_plugin if is_plugin(cfg.name) else DATASETS[cfg.name]
    return loader(cfg, torch.device(device))
