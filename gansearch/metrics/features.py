"""Choosing the feature net for a dataset and an `eval.feature_net` setting, and the one import path for
feature nets.

It exists so callers ask one question, "which network measures this dataset?", and get a FeatureNet
(`feature_net.py`) whose provenance (name + weights_hash) and feature `space` name the metrics (see
gansearch.config.metrics):
- points-2d: the identity, for the 2D mixtures (`feature_net.PointsNet`);
- inception: pytorch-fid's FID Inception-v3 from a user-given weights file (`inception.py`);
- classifier: a small CNN trained once per dataset and cached (`classifier.py`, `feature_cache.py`).
Every name those modules had here before the split is re-exported, so `from gansearch.metrics.features
import ...` keeps working. The dataset is duck-typed (kind, name, ...): this module must not import
gansearch.data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gansearch.config.names import feature_net_rule
from gansearch.errors import ConfigError, GansearchError
from gansearch.metrics.classifier import (
    CLASSIFIER_ARCH, LOW_ACCURACY, MAX_SIDE, RECIPE, ClassifierNet, SmallCNN, accuracy, classifier_for,
    heldout_images, heldout_split, train_classifier,
)
from gansearch.metrics.feature_cache import REAL_SUBSET_SEED, default_cache_dir, real_features, real_subset
from gansearch.metrics.feature_net import FeatureNet, PointsNet, sha16, weights_hash_of
from gansearch.metrics.inception import (
    INCEPTION_GLOB, INCEPTION_NAME, InceptionNet, build_fid_inception, find_inception_weights,
)

FEATURE_NET_NAMES = ("auto", "classifier", "inception")

__all__ = [
    "CLASSIFIER_ARCH", "FEATURE_NET_NAMES", "INCEPTION_GLOB", "INCEPTION_NAME", "LOW_ACCURACY", "MAX_SIDE",
    "REAL_SUBSET_SEED", "RECIPE", "ClassifierNet", "FeatureNet", "InceptionNet", "PointsNet", "SmallCNN",
    "accuracy", "build_fid_inception", "classifier_for", "default_cache_dir", "feature_net_for",
    "find_inception_weights", "heldout_images", "heldout_split", "real_features", "real_subset", "sha16",
    "train_classifier", "weights_hash_of",
]


def feature_net_for(dataset: Any, feature_net: str = "auto", inception_weights: str | None = None,
                    device: torch.device | str = "cpu", cache_dir: Path | None = None) -> FeatureNet:
    """auto: points-2d for points, inception when weights are given, else the dataset's classifier."""
    if feature_net not in FEATURE_NET_NAMES:
        raise ConfigError("eval.feature_net", f"unknown feature net; valid names: {', '.join(FEATURE_NET_NAMES)}",
                          feature_net)
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    device = torch.device(device)
    if dataset.kind == "points":
        if feature_net == "inception":
            raise GansearchError(f"dataset {dataset.name!r} is 2D points: use eval.feature_net auto or classifier")
        return PointsNet()
    if feature_net == "inception" or (feature_net == "auto" and inception_weights is not None):
        path = find_inception_weights(inception_weights, cache_dir)
        if path is None:
            raise GansearchError(
                "no Inception weights: set eval.inception_weights to pytorch-fid's "
                f"pt_inception-2015-12-05-6726825d.pth, or put that file in {cache_dir / 'inception'}/ "
                "(it can't be downloaded at run time)")
        return InceptionNet(path, device)
    classes = dataset.num_classes if dataset.train_labels is not None else None
    if not classes or classes < 2:  # the rule `data.locate.check_feature_net` checks before a run, here as a run starts
        has = f"dataset {dataset.name} has {'no labels' if not classes else 'labels of 1 class'}"
        raise ConfigError("eval.feature_net", feature_net_rule(feature_net, has), feature_net, show_value=False)
    return classifier_for(dataset, device, cache_dir)
