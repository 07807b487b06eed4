"""Feature nets for the distances: classifier accuracy on held-out real data, the on-disk cache (checked by
counting what was computed, never by timing), provenance hashes, the real subset, inception."""

from __future__ import annotations

import json
import time
from pathlib import Path

from PIL import Image

import numpy as np
import pytest
import torch

from gansearch.config.schema import DataConfig
from gansearch.data import load_dataset
from gansearch.errors import ConfigError, GansearchError
import gansearch.metrics.classifier as classifier_mod
from gansearch.metrics.classifier import ClassifierNet, heldout_split
from gansearch.metrics.feature_cache import default_cache_dir, real_features, real_subset
from gansearch.metrics.feature_net import PointsNet, weights_hash_of
from gansearch.metrics.features import feature_net_for
from gansearch.metrics.inception import InceptionNet

from shared_files import DEBIAN_FASHION, make_mnist_root


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gansearch-cache")


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig(name="digits", image_size=16))


@pytest.fixture(scope="module")
def digits_net(digits, cache: Path) -> tuple[ClassifierNet, float]:
    start = time.perf_counter()
    net = feature_net_for(digits, "auto", cache_dir=cache)
    return net, time.perf_counter() - start


def test_digits_classifier(digits, digits_net) -> None:
    net, seconds = digits_net
    print(f"digits classifier: test accuracy {net.accuracy:.4f}, trained in {seconds:.1f} s")
    assert isinstance(net, ClassifierNet) and net.name == "classifier-cnn-v1/digits" and net.space == "classifier"
    assert net.accuracy is not None and net.accuracy >= 0.97
    feats, logits = net.features_and_logits(digits.test)
    assert feats.shape == (360, 64) and feats.dtype == torch.float32 and not feats.requires_grad
    assert logits is not None and logits.shape == (360, 10)
    assert torch.equal(feats, net.features(digits.test)) and torch.equal(logits, net.logits(digits.test))
    assert float((logits.argmax(1) == digits.test_labels).float().mean()) == pytest.approx(net.accuracy)
    # 64-d features stay full rank on the real data, so FID's covariance is not singular
    assert torch.linalg.matrix_rank(torch.cov(net.features(digits.train).double().T)) == 64


def test_cache_hit_loads_same_weights(digits, digits_net, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net, _ = digits_net
    # the module's cache is shared with other tests (in any order): count only what this test adds
    entries = set((cache / "features").iterdir())
    own = [p for p in entries if p.suffix == ".json" and json.loads(p.read_text())["weights_hash"] == net.weights_hash]
    assert len(own) == 1 and own[0].with_suffix(".safetensors") in entries  # digits: one json, one weights file
    trained: list[str] = []
    real_train = classifier_mod.train_classifier
    monkeypatch.setattr(classifier_mod, "train_classifier", lambda ds, dev: trained.append(ds.name) or real_train(ds, dev))
    again = feature_net_for(digits, "classifier", cache_dir=cache)
    assert trained == []  # a cache hit trains nothing
    assert again.weights_hash == net.weights_hash and again.accuracy == net.accuracy
    assert torch.equal(again.features(digits.test[:50]), net.features(digits.test[:50]))
    # another dataset (another fingerprint) is another cache entry: trained once, then a hit
    other = load_dataset(DataConfig(name="digits", image_size=16, max_samples=300))
    feature_net_for(other, "classifier", cache_dir=cache)
    feature_net_for(other, "classifier", cache_dir=cache)
    assert trained == ["digits"] and len(list((cache / "features").iterdir())) == len(entries) + 2


def test_weights_hash_tracks_the_weights(digits_net) -> None:
    net, _ = digits_net
    state = {k: v.clone() for k, v in net.module.state_dict().items()}
    assert weights_hash_of(state) == net.weights_hash
    state["embed.weight"][0, 0] += 1e-3
    assert weights_hash_of(state) != net.weights_hash


def test_real_features_cached(digits, digits_net, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net, _ = digits_net

    def entries() -> int:  # the module's cache is shared with other tests: count what this test adds
        return len(list((cache / "real").glob("*.safetensors")))

    before = entries()
    first = real_features(net, digits, cache_dir=cache, max_n=1000)
    assert first.shape == (1000, 64) and entries() == before + 1
    calls: list[int] = []
    monkeypatch.setattr(net, "features", lambda x: calls.append(len(x)) or ClassifierNet.features(net, x))
    second = real_features(net, digits, cache_dir=cache, max_n=1000)
    assert calls == [] and torch.equal(first, second)  # a hit computes no feature
    idx = real_subset(digits.train.shape[0], 1000)
    assert torch.equal(first, ClassifierNet.features(net, digits.train[idx]))
    real_features(net, digits, cache_dir=cache, max_n=500)
    assert calls == [500] and entries() == before + 2  # max_n is part of the key


def test_real_statistics_are_not_the_first_classes_of_a_sorted_folder() -> None:
    """ImageFolder lists images class by class: the first N of 10 equal classes would be 1 class at N = n/10.
    The real subset is a seeded draw, so each class appears in about its share."""
    labels = torch.arange(10).repeat_interleave(3000)  # class-sorted, 30 000 images
    idx = real_subset(labels.numel(), 10000)
    counts = torch.bincount(labels[idx], minlength=10)
    assert idx.numel() == 10000 and idx.unique().numel() == 10000
    assert int(counts.min()) > 900 and int(counts.max()) < 1100  # ~1000 each (binomial sd ~ 27)
    assert torch.equal(idx, real_subset(labels.numel(), 10000))  # the same draw every time
    assert torch.equal(real_subset(500, 10000), torch.arange(500))  # small sets: every image


def test_heldout_split_for_a_dataset_without_test_split() -> None:
    from types import SimpleNamespace

    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20 + [3] * 1)
    ds = SimpleNamespace(train=torch.zeros(labels.numel(), 1, 2, 2), train_labels=labels, test=None, test_labels=None)
    train_idx, held = heldout_split(ds)
    assert held is not None and set(train_idx.tolist()).isdisjoint(held.tolist())
    assert sorted(train_idx.tolist() + held.tolist()) == list(range(labels.numel()))
    assert torch.bincount(labels[held], minlength=4).tolist() == [5, 3, 2, 0]  # a stratified tenth
    assert torch.equal(heldout_split(ds)[1], held)  # seeded
    with_test = SimpleNamespace(train=ds.train, train_labels=labels, test=ds.train[:5], test_labels=labels[:5])
    assert heldout_split(with_test)[1] is None and heldout_split(with_test)[0].numel() == labels.numel()


def test_mnist_classifier_5k(tmp_path: Path, cache: Path) -> None:
    make_mnist_root(tmp_path)
    ds = load_dataset(DataConfig(name="mnist", root=str(tmp_path), image_size=16))
    start = time.perf_counter()
    net = feature_net_for(ds, cache_dir=cache)
    print(f"mnist-5k classifier: t10k accuracy {net.accuracy:.4f}, {time.perf_counter() - start:.1f} s")
    assert ds.test is not None and ds.test.shape[0] == 10000
    assert net.accuracy is not None and net.accuracy >= 0.97


@pytest.mark.slow
@pytest.mark.skipif(not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").exists(),
                    reason="apt-get install dataset-fashion-mnist")
def test_fashion_classifier_full(cache: Path) -> None:
    ds = load_dataset(DataConfig(name="fashion-mnist", image_size=16))
    start = time.perf_counter()
    net = feature_net_for(ds, cache_dir=cache)
    print(f"fashion classifier: test accuracy {net.accuracy:.4f}, {time.perf_counter() - start:.1f} s")
    assert ds.train.shape[0] == 60000 and net.accuracy is not None and net.accuracy >= 0.88


def test_points_use_identity(cache: Path) -> None:
    ring = load_dataset(DataConfig(name="ring8"))
    net = feature_net_for(ring, "auto", cache_dir=cache)
    assert isinstance(net, PointsNet) and net.num_features == 2 and net.logits(ring.train) is None
    assert torch.equal(net.features(ring.train[:10]), ring.train[:10])
    with pytest.raises(GansearchError, match="2D points"):
        feature_net_for(ring, "inception", cache_dir=cache)


def test_unlabelled_folder_asks_for_inception(tmp_path: Path, cache: Path) -> None:
    from PIL import Image

    (tmp_path / "only").mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8), "L").save(tmp_path / "only" / f"{i}.png")
    ds = load_dataset(DataConfig(name="image-folder", root=str(tmp_path), image_size=8))
    with pytest.raises(GansearchError, match="inception_weights"):
        feature_net_for(ds, "auto", cache_dir=cache)


def test_image_folder_accuracy_is_held_out_and_a_weak_net_is_named(tmp_path: Path, cache: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An ImageFolder has no test split: the classifier holds out a tenth, records its accuracy there, and
    a net that can't tell the classes apart (noise images) is flagged in the record, not silently used."""
    from gansearch.config import load
    from gansearch.trainer import train

    rng = np.random.default_rng(0)
    for c in range(10):
        (tmp_path / "noise" / f"c{c}").mkdir(parents=True)
        for i in range(30):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), "L").save(tmp_path / "noise" / f"c{c}" / f"{i}.png")
    root = Path(__file__).resolve().parents[2]
    cfg = load(root / "search_spaces" / "image-folder.yaml", [
        f"data.root={tmp_path / 'noise'}", "data.image_size=16", "train.steps=2", "eval.every=2", "eval.num_samples=64",
        "eval.kid=false", "eval.grid=4", "model.g_width=8", "model.d_width=8", "train.checkpoint_every=2",
        "train.compile=false"])
    monkeypatch.setenv("GANSEARCH_CACHE_DIR", str(cache))
    summary = train(cfg, tmp_path / "run")
    rec = summary["final"]
    assert rec["eval.feature_net_accuracy"] is not None and rec["eval.feature_net_accuracy"] < 0.5  # 30 held out
    assert "classifies only" in rec["eval.feature_net_warning"] and "inception_weights" in rec["eval.feature_net_warning"]


def test_unknown_feature_net_and_cache_dir_env(digits, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="valid names: auto, classifier, inception"):
        feature_net_for(digits, "vgg", cache_dir=cache)
    monkeypatch.setenv("GANSEARCH_CACHE_DIR", str(cache / "elsewhere"))
    assert default_cache_dir() == cache / "elsewhere"


def test_inception_from_weights_file(digits, tmp_path: Path) -> None:
    pytest.importorskip("pytorch_fid", reason="pip install pytorch-fid (FID Inception blocks)")
    from gansearch.metrics.inception import build_fid_inception

    cache = tmp_path / "cache"
    with pytest.raises(GansearchError, match=r"pt_inception-2015-12-05-6726825d\.pth.*inception"):
        feature_net_for(digits, "inception", cache_dir=cache)
    torch.manual_seed(0)
    state = build_fid_inception().state_dict()  # random weights: the real file can't be had offline
    given = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(state, given)
    net = feature_net_for(digits, "auto", inception_weights=str(given), cache_dir=cache)
    assert isinstance(net, InceptionNet) and net.name == "inception-v3-fid" and net.logits(digits.test[:2]) is None
    feats = net.features(digits.test[:3])  # grey 16x16 -> 3 x 299 x 299
    assert feats.shape == (3, 2048) and feats.dtype == torch.float32 and torch.isfinite(feats).all()
    assert not torch.equal(feats[0], feats[1])
    # a file in cache_dir/inception is picked up for feature_net="inception"; other weights, other hash
    state["fc.bias"][0] += 1.0
    (cache / "inception").mkdir(parents=True)
    torch.save(state, cache / "inception" / given.name)
    cached = feature_net_for(digits, "inception", cache_dir=cache)
    assert isinstance(cached, InceptionNet) and cached.weights_hash != net.weights_hash
    with pytest.raises(ConfigError, match="eval.inception_weights: file not found"):
        feature_net_for(digits, "auto", inception_weights=str(tmp_path / "nope.pth"), cache_dir=cache)
    (tmp_path / "bad.pth").write_bytes(b"not a state dict")
    with pytest.raises(GansearchError, match="bad.pth: not a loadable"):
        feature_net_for(digits, "inception", inception_weights=str(tmp_path / "bad.pth"), cache_dir=cache)
