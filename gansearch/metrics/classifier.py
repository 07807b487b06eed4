"""The dataset's own classifier as a feature net, with the training loop that makes it.

It exists so FID-style distances work offline on any labelled dataset: a small CNN trained once per
dataset (fixed seed, `RECIPE`) and cached (`feature_cache.py`); its 64-d penultimate layer keeps the
covariance full-rank from 64 samples on. Its accuracy is measured on real images it never trained on (the
dataset's test split, else a stratified held-out tenth of the train images), and the class histogram its
predictions give on those images is the reference for class_kl. The dataset is duck-typed (shape, train,
train_labels, test, test_labels, num_classes, fingerprint, name): this module must not import
gansearch.data.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from gansearch.errors import GansearchError
from gansearch.metrics import feature_cache
from gansearch.metrics.feature_net import FeatureNet, sha16

CLASSIFIER_ARCH = "classifier-cnn-v1"  # bump when SmallCNN changes
# examples seen = clamp(ceil(60k / N), 2, 12) * N. Random-shift augmentation was tried and cost 4-6 points of
# Fashion accuracy at 16 px, so there is none.
# heldout: the share of train images kept out of the classifier's training when the dataset has no test split
RECIPE = {"version": 2, "seed": 0, "batch": 128, "lr": 3e-3, "weight_decay": 1e-4, "examples": 60_000,
          "min_epochs": 2, "max_epochs": 12, "heldout": 0.1}
# Below this held-out accuracy a classifier's features separate the data too poorly for its distances to
# mean much: said in the output, the MLflow tags and the report.
LOW_ACCURACY = 0.8
MAX_SIDE = 32  # the classifier sees at most 32x32; larger inputs are downsampled first


class SmallCNN(nn.Module):
    """4 conv+BN blocks + a 64-d feature layer: ~2k train images/s on one CPU core at 16 px.

    Size-agnostic (adaptive pooling to 4x4); inputs over 32 px are downsampled first.
    """

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()

        def conv(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(*conv(channels, 32), nn.MaxPool2d(2), *conv(32, 32), *conv(32, 32),
                                  nn.MaxPool2d(2), *conv(32, 64), nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.embed = nn.Linear(64 * 4 * 4, 64)
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] > MAX_SIDE:
            x = F.interpolate(x, size=(MAX_SIDE, MAX_SIDE), mode="bilinear", align_corners=False, antialias=True)
        x = x.contiguous(memory_format=torch.channels_last)  # 1.5-2x faster convs on CPU
        feats = self.embed(self.body(x))  # pre-activation: no ReLU zeros to make the covariance singular
        return feats, self.head(feats)


class ClassifierNet(FeatureNet):
    """A trained SmallCNN; features are its 64-d embedding."""

    space = "classifier"
    num_features = 64

    def __init__(self, module: SmallCNN, name: str, weights_hash: str, num_classes: int,
                 accuracy: float | None, device: torch.device | str = "cpu") -> None:
        # channels_last whether trained here or loaded: same kernels, so a cache hit gives equal features
        super().__init__(module.to(memory_format=torch.channels_last), device)
        self.name, self.weights_hash = name, weights_hash
        self.num_classes, self.accuracy = num_classes, accuracy

    def _forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.module is not None
        return self.module(images)


def accuracy(net: FeatureNet, images: torch.Tensor, labels: torch.Tensor) -> float:
    logits = net.logits(images)
    assert logits is not None
    return float((logits.argmax(1) == labels.cpu()).float().mean())


def heldout_split(dataset: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(train indices for the classifier, held-out indices into dataset.train or None).

    None: the dataset has a labelled test split, which is the held-out set. Otherwise a stratified,
    seeded tenth of each class (at least one image of every class with two or more) is kept out.
    """
    if dataset.test is not None and dataset.test_labels is not None:
        return torch.arange(dataset.train.shape[0]), None
    labels = dataset.train_labels.detach().cpu().long()
    gen = torch.Generator().manual_seed(RECIPE["seed"])
    keep, out = [], []
    for c in torch.unique(labels).tolist():
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(idx.numel(), generator=gen)]
        k = int(round(RECIPE["heldout"] * idx.numel())) if idx.numel() >= 2 else 0
        k = max(k, 1) if idx.numel() >= 2 else 0
        out.append(idx[:k])
        keep.append(idx[k:])
    return torch.sort(torch.cat(keep)).values, torch.sort(torch.cat(out)).values


def heldout_images(dataset: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Real images (and labels) the classifier never trained on: the test split, else the held-out tenth."""
    _, held = heldout_split(dataset)
    if held is None:
        return dataset.test, dataset.test_labels
    held = held.to(dataset.train.device)
    return dataset.train[held], dataset.train_labels[held]


def train_classifier(dataset: Any, device: torch.device) -> SmallCNN:
    """Fixed-seed training on the train images outside the held-out set; about 60k examples seen
    (2..12 epochs), one-cycle Adam."""
    train_idx, _ = heldout_split(dataset)
    train_idx = train_idx.to(dataset.train.device)
    x, y = dataset.train[train_idx], dataset.train_labels[train_idx]
    n = x.shape[0]
    epochs = max(RECIPE["min_epochs"], min(RECIPE["max_epochs"], -(-RECIPE["examples"] // n)))
    batch = RECIPE["batch"]
    steps_per_epoch = -(-n // batch)
    gen = torch.Generator().manual_seed(RECIPE["seed"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RECIPE["seed"])
        model = SmallCNN(dataset.shape[0], dataset.num_classes).to(device, memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=RECIPE["lr"], weight_decay=RECIPE["weight_decay"])
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=RECIPE["lr"], total_steps=epochs * steps_per_epoch)
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen)
            for i in range(steps_per_epoch):
                idx = perm[i * batch:(i + 1) * batch].to(x.device)
                loss = F.cross_entropy(model(x[idx].to(device))[1], y[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    return model.eval()


def classifier_for(dataset: Any, device: torch.device, cache_dir: Path) -> ClassifierNet:
    """Load the dataset's cached classifier, or train it once and cache it (safetensors + json)."""
    from safetensors.torch import save

    if dataset.train_labels is None or not dataset.num_classes or dataset.num_classes < 2:
        raise GansearchError(
            f"dataset {dataset.name!r} has no class labels to train a classifier for FID; set "
            "eval.feature_net: inception and eval.inception_weights: <path to pt_inception-2015-12-05-*.pth>")
    key = hashlib.sha256(json.dumps([dataset.fingerprint, CLASSIFIER_ARCH, RECIPE], sort_keys=True).encode()
                         ).hexdigest()[:24]
    name = f"{CLASSIFIER_ARCH}/{dataset.name}"
    cached = feature_cache.read_classifier(cache_dir, key)
    if cached is not None:
        meta, state = cached
        model = SmallCNN(meta["channels"], meta["num_classes"])
        model.load_state_dict(state)
        return ClassifierNet(model, name, meta["weights_hash"], meta["num_classes"], meta["accuracy"], device)
    model = train_classifier(dataset, device)
    data = save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
    net = ClassifierNet(model, name, sha16(data), dataset.num_classes, None, device)
    held_x, held_y = heldout_images(dataset)
    net.accuracy = accuracy(net, held_x, held_y) if held_x is not None and held_x.shape[0] else None
    meta = {"name": name, "weights_hash": net.weights_hash, "channels": dataset.shape[0],
            "num_classes": dataset.num_classes, "accuracy": net.accuracy,
            "accuracy_on": "test split" if dataset.test is not None else f"held-out {RECIPE['heldout']:.0%} of train",
            "dataset_fingerprint": dataset.fingerprint, "arch": CLASSIFIER_ARCH, "recipe": RECIPE}
    feature_cache.write_classifier(cache_dir, key, data, meta)
    return net
