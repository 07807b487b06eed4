"""The on-disk cache of what feature nets cost to make: trained classifiers and real-data features.

It exists because both are slow to compute and identical across runs and trials: a classifier is
trained once per dataset and the real images' features once per (net, dataset, subset), then every run,
trial and cluster node reads the same files. This module owns the folder (`default_cache_dir`), the
file layout, and the rule that every entry is written atomically (`gansearch.files`) and checked
against its hash when read, so concurrent trials never see half an entry. The dataset is duck-typed
(train, fingerprint): this module must not import gansearch.data.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from gansearch.files import atomic_write_bytes
from gansearch.metrics.feature_net import FeatureNet, sha16

REAL_SUBSET_SEED = 0  # which train images give the real statistics (a seeded draw, not the first N)


def default_cache_dir() -> Path:
    """$GANSEARCH_CACHE_DIR if set, else the user's cache folder."""
    env = os.environ.get("GANSEARCH_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("gansearch"))


# ---- trained classifiers: <cache>/features/<key>.safetensors + <key>.json ---------------------------

def _classifier_paths(cache_dir: Path, key: str) -> tuple[Path, Path]:
    return cache_dir / "features" / f"{key}.safetensors", cache_dir / "features" / f"{key}.json"


def read_classifier(cache_dir: Path, key: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
    """(meta, state dict) of a cached classifier, or None when there is no complete entry (or a
    concurrent writer raced us and the weights don't match their recorded hash: then retrain)."""
    from safetensors.torch import load

    weights_path, meta_path = _classifier_paths(cache_dir, key)
    if meta_path.is_file() and weights_path.is_file():  # json is written last: both complete
        meta = json.loads(meta_path.read_text())
        data = weights_path.read_bytes()
        if sha16(data) == meta["weights_hash"]:
            return meta, load(data)
    return None


def write_classifier(cache_dir: Path, key: str, weights: bytes, meta: dict[str, Any]) -> None:
    """Cache a classifier: its safetensors bytes, then its meta (written last: its presence says both are)."""
    weights_path, meta_path = _classifier_paths(cache_dir, key)
    atomic_write_bytes(weights_path, weights)
    atomic_write_bytes(meta_path, json.dumps(meta, indent=1).encode())


# ---- real-data features: <cache>/real/<key>.safetensors ---------------------------------------------

def real_subset(n: int, max_n: int) -> torch.Tensor:
    """Indices of the train images behind the real statistics: all of them, or a seeded draw of max_n.
    Not the first max_n: loaders such as ImageFolder sort by class, and the first 10 000 of a big folder
    would hold its first classes only."""
    if n <= max_n:
        return torch.arange(n)
    return torch.sort(torch.randperm(n, generator=torch.Generator().manual_seed(REAL_SUBSET_SEED))[:max_n]).values


def real_features(net: FeatureNet, dataset: Any, cache_dir: Path | None = None, max_n: int = 10000) -> torch.Tensor:
    """Features of `real_subset` of the training images, computed once and cached (safetensors) on disk."""
    from safetensors.torch import load, save

    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    key = hashlib.sha256(f"{net.weights_hash}|{dataset.fingerprint}|{max_n}|seeded-{REAL_SUBSET_SEED}".encode()
                         ).hexdigest()[:24]
    path = cache_dir / "real" / f"{key}.safetensors"
    if path.is_file():
        return load(path.read_bytes())["features"]
    idx = real_subset(dataset.train.shape[0], max_n).to(dataset.train.device)
    feats = net.features(dataset.train[idx]).contiguous()
    atomic_write_bytes(path, save({"features": feats}, metadata={"net": net.name, "weights_hash": net.weights_hash,
                                                                 "dataset": dataset.fingerprint, "max_n": str(max_n)}))
    return feats
