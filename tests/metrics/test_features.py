"""Feature nets for FID: classifier accuracy on real data, the on-disk cache, provenance hashes, inception."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gansearch.config.schema import DataConfig
from gansearch.data import load_dataset
from gansearch.errors import ConfigError, GansearchError
from gansearch.metrics.features import (
    ClassifierNet, InceptionNet, PointsNet, default_cache_dir, feature_net_for, real_features, weights_hash_of,
)

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
    print(f"digits classifier: test accuracy {net.test_accuracy:.4f}, trained in {seconds:.1f} s")
    assert isinstance(net, ClassifierNet) and net.name == "classifier-cnn-v1/digits"
    assert net.test_accuracy is not None and net.test_accuracy >= 0.97
    feats = net.features(digits.test)
    logits = net.logits(digits.test)
    assert feats.shape == (360, 64) and feats.dtype == torch.float32 and not feats.requires_grad
    assert logits is not None and logits.shape == (360, 10)
    assert float((logits.argmax(1) == digits.test_labels).float().mean()) == pytest.approx(net.test_accuracy)
    # 64-d features stay full rank on the real data, so FID's covariance is not singular
    assert torch.linalg.matrix_rank(torch.cov(net.features(digits.train).double().T)) == 64


def test_cache_hit_loads_same_weights(digits, digits_net, cache: Path) -> None:
    net, train_seconds = digits_net
    files = sorted(p.suffix for p in (cache / "features").iterdir())
    assert files == [".json", ".safetensors"]
    start = time.perf_counter()
    again = feature_net_for(digits, "classifier", cache_dir=cache)
    seconds = time.perf_counter() - start
    print(f"cache hit: {seconds:.3f} s vs {train_seconds:.1f} s training")
    assert seconds < 2.0 and seconds < train_seconds / 5
    assert again.weights_hash == net.weights_hash and again.test_accuracy == net.test_accuracy
    assert torch.equal(again.features(digits.test[:50]), net.features(digits.test[:50]))
    # a different dataset fingerprint is a different cache entry
    other = load_dataset(DataConfig(name="digits", image_size=16, max_samples=300))
    assert other.fingerprint != digits.fingerprint


def test_weights_hash_tracks_the_weights(digits_net) -> None:
    net, _ = digits_net
    state = {k: v.clone() for k, v in net.module.state_dict().items()}
    assert weights_hash_of(state) == net.weights_hash
    state["embed.weight"][0, 0] += 1e-3
    assert weights_hash_of(state) != net.weights_hash


def test_real_features_cached(digits, digits_net, cache: Path) -> None:
    net, _ = digits_net
    first = real_features(net, digits, cache_dir=cache, max_n=1000)
    assert first.shape == (1000, 64) and len(list((cache / "real").glob("*.safetensors"))) == 1
    start = time.perf_counter()
    second = real_features(net, digits, cache_dir=cache, max_n=1000)
    assert time.perf_counter() - start < 0.5 and torch.equal(first, second)
    assert torch.equal(first, net.features(digits.train[:1000]))
    real_features(net, digits, cache_dir=cache, max_n=500)
    assert len(list((cache / "real").glob("*.safetensors"))) == 2  # max_n is part of the key


def test_mnist_classifier_5k(tmp_path: Path, cache: Path) -> None:
    make_mnist_root(tmp_path)
    ds = load_dataset(DataConfig(name="mnist", root=str(tmp_path), image_size=16))
    start = time.perf_counter()
    net = feature_net_for(ds, cache_dir=cache)
    print(f"mnist-5k classifier: t10k accuracy {net.test_accuracy:.4f}, {time.perf_counter() - start:.1f} s")
    assert ds.test is not None and ds.test.shape[0] == 10000
    assert net.test_accuracy is not None and net.test_accuracy >= 0.97


@pytest.mark.slow
@pytest.mark.skipif(not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").exists(),
                    reason="apt-get install dataset-fashion-mnist")
def test_fashion_classifier_full(cache: Path) -> None:
    ds = load_dataset(DataConfig(name="fashion-mnist", image_size=16))
    start = time.perf_counter()
    net = feature_net_for(ds, cache_dir=cache)
    print(f"fashion classifier: test accuracy {net.test_accuracy:.4f}, {time.perf_counter() - start:.1f} s")
    assert ds.train.shape[0] == 60000 and net.test_accuracy is not None and net.test_accuracy >= 0.88


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


def test_unknown_feature_net_and_cache_dir_env(digits, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="valid names: auto, classifier, inception"):
        feature_net_for(digits, "vgg", cache_dir=cache)
    monkeypatch.setenv("GANSEARCH_CACHE_DIR", str(cache / "elsewhere"))
    assert default_cache_dir() == cache / "elsewhere"


def test_inception_from_weights_file(digits, tmp_path: Path) -> None:
    pytest.importorskip("pytorch_fid", reason="pip install pytorch-fid (FID Inception blocks)")
    from gansearch.metrics.features import build_fid_inception

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
