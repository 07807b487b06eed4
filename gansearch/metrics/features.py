"""Feature networks for the Fréchet and kernel distances that work offline, each carrying its provenance
(name + weights_hash) and its feature `space` (which names the metrics: see gansearch.config.metrics).

- classifier: a small CNN trained once per dataset (fixed seed) and cached with safetensors; its 64-d
  penultimate layer keeps the covariance full-rank from 64 samples on. Its accuracy is measured on real
  images it never trained on (the dataset's test split, else a stratified held-out tenth of the train
  images), and the class histogram its predictions give on those images is the reference for class_kl.
- inception: pytorch-fid's FID Inception-v3 (2048-d pool features) from a user-given weights file.
- points-2d: the identity, for the 2D mixtures.
The dataset is duck-typed (kind, shape, train, train_labels, test, test_labels, num_classes,
fingerprint, name): this module must not import gansearch.data.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from gansearch.errors import ConfigError, GansearchError

FEATURE_NET_NAMES = ("auto", "classifier", "inception")
CLASSIFIER_ARCH = "classifier-cnn-v1"  # bump when SmallCNN changes
# examples seen = clamp(ceil(60k / N), 2, 12) * N. Random-shift augmentation was tried and cost 4-6 points of
# Fashion accuracy at 16 px, so there is none.
# heldout: the share of train images kept out of the classifier's training when the dataset has no test split
RECIPE = {"version": 2, "seed": 0, "batch": 128, "lr": 3e-3, "weight_decay": 1e-4, "examples": 60_000,
          "min_epochs": 2, "max_epochs": 12, "heldout": 0.1}
# Below this held-out accuracy a classifier's features separate the data too poorly for its distances to
# mean much: said in the output, the MLflow tags and the report.
LOW_ACCURACY = 0.8
REAL_SUBSET_SEED = 0  # which train images give the real statistics (a seeded draw, not the first N)
INCEPTION_GLOB = "pt_inception-2015-12-05-*.pth"
INCEPTION_NAME = "inception-v3-fid"
MAX_SIDE = 32  # the classifier sees at most 32x32; larger inputs are downsampled first


def default_cache_dir() -> Path:
    """$GANSEARCH_CACHE_DIR if set, else the user's cache folder."""
    env = os.environ.get("GANSEARCH_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("gansearch"))


def sha16(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def weights_hash_of(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 (16 hex) of the safetensors bytes of a state dict: the same bytes the cache file holds."""
    from safetensors.torch import save

    return sha16(save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}))


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, then rename: concurrent trials never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FeatureNet:
    """What the distances need from a network: features (N, F) float32 on CPU, optional class logits,
    provenance, and the feature space that names its metrics."""

    name: str
    space: str  # a key of gansearch.config.metrics.DISTANCES
    weights_hash: str
    num_features: int
    num_classes: int | None = None
    accuracy: float | None = None  # on held-out real images (classifiers only)
    batch_size: int = 512

    def __init__(self, module: nn.Module | None, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.module = None if module is None else module.to(self.device).eval()

    def _forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N, F) features and (N, num_classes) logits (None without classes) from ONE forward pass,
        float32 on CPU; images are [-1, 1] NCHW (or (N, 2) points) on any device."""
        feats, logits = [], []
        with torch.no_grad():
            for chunk in images.split(self.batch_size):
                f, lg = self._forward(chunk.to(self.device, torch.float32))
                feats.append(f.float().cpu())
                if lg is not None and self.num_classes is not None:
                    logits.append(lg.float().cpu())
        f_all = torch.cat(feats) if feats else torch.empty(0, self.num_features)
        if self.num_classes is None:
            return f_all, None
        return f_all, torch.cat(logits) if logits else torch.empty(0, self.num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[0]

    def logits(self, images: torch.Tensor) -> torch.Tensor | None:
        """(N, num_classes) class logits for class coverage; None when the net has no classes."""
        return self.features_and_logits(images)[1]


class PointsNet(FeatureNet):
    """Identity features for 2D points: FID on coordinates is the Fréchet distance of the mixtures."""

    name = "points-2d"
    space = "points"
    weights_hash = sha16(b"points-2d identity")
    num_features = 2

    def __init__(self) -> None:
        super().__init__(None)

    def _forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        return images.reshape(images.shape[0], -1), None


# ---- classifier -------------------------------------------------------------------------------------

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
    from safetensors.torch import load, save

    if dataset.train_labels is None or not dataset.num_classes or dataset.num_classes < 2:
        raise GansearchError(
            f"dataset {dataset.name!r} has no class labels to train a classifier for FID; set "
            "eval.feature_net: inception and eval.inception_weights: <path to pt_inception-2015-12-05-*.pth>")
    key = hashlib.sha256(json.dumps([dataset.fingerprint, CLASSIFIER_ARCH, RECIPE], sort_keys=True).encode()
                         ).hexdigest()[:24]
    weights_path = cache_dir / "features" / f"{key}.safetensors"
    meta_path = cache_dir / "features" / f"{key}.json"
    name = f"{CLASSIFIER_ARCH}/{dataset.name}"
    if meta_path.is_file() and weights_path.is_file():  # json is written last: both complete
        meta = json.loads(meta_path.read_text())
        data = weights_path.read_bytes()
        if sha16(data) == meta["weights_hash"]:  # else a concurrent writer raced us: retrain
            model = SmallCNN(meta["channels"], meta["num_classes"])
            model.load_state_dict(load(data))
            return ClassifierNet(model, name, meta["weights_hash"], meta["num_classes"],
                                 meta["accuracy"], device)
    model = train_classifier(dataset, device)
    data = save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
    net = ClassifierNet(model, name, sha16(data), dataset.num_classes, None, device)
    held_x, held_y = heldout_images(dataset)
    net.accuracy = accuracy(net, held_x, held_y) if held_x is not None and held_x.shape[0] else None
    meta = {"name": name, "weights_hash": net.weights_hash, "channels": dataset.shape[0],
            "num_classes": dataset.num_classes, "accuracy": net.accuracy,
            "accuracy_on": "test split" if dataset.test is not None else f"held-out {RECIPE['heldout']:.0%} of train",
            "dataset_fingerprint": dataset.fingerprint, "arch": CLASSIFIER_ARCH, "recipe": RECIPE}
    _atomic_write(weights_path, data)
    _atomic_write(meta_path, json.dumps(meta, indent=1).encode())
    return net


# ---- inception --------------------------------------------------------------------------------------

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
            import io

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


# ---- choice and real-feature cache --------------------------------------------------------------------

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
    return classifier_for(dataset, device, cache_dir)


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
    _atomic_write(path, save({"features": feats}, metadata={"net": net.name, "weights_hash": net.weights_hash,
                                                            "dataset": dataset.fingerprint, "max_n": str(max_n)}))
    return feats
