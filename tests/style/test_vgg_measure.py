"""The feature nets (random VGG-19 from a seed, torchvision's weights from a file) and the measure."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gansearch.config import load
from gansearch.config.style import VGG19_LAYERS
from gansearch.errors import ConfigError
from gansearch.style.images import load_image
from gansearch.style.measure import Measure
from gansearch.style.vgg import random_vgg19, vgg19_from_file


def test_random_net_is_a_function_of_its_seed() -> None:
    a, b, c = random_vgg19.__wrapped__(3), random_vgg19.__wrapped__(3), random_vgg19(4)  # built afresh, not cached
    assert a.weights_hash == b.weights_hash != c.weights_hash
    assert a.name == "vgg19-random-seed3"
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    out = a(x, ["relu1_1", "relu3_2", "relu5_1"])
    assert [tuple(v.shape) for v in out.values()] == [(1, 64, 32, 32), (1, 256, 8, 8), (1, 512, 2, 2)]
    # He init keeps the activations at one scale from the first layer to the last
    scale = [float(v.pow(2).mean().sqrt()) for v in out.values()]
    assert max(scale) / min(scale) < 10


def test_torchvision_layout_loads_key_for_key(tmp_path: Path) -> None:
    net = random_vgg19(7)
    state = {f"features.{k}": v for k, v in net.layers.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # ignored
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    loaded = vgg19_from_file(str(path), "style.feature_weights")
    assert loaded.weights_hash == net.weights_hash and loaded.name == "vgg19:vgg19-dcbb9e9d.pth"
    assert len(VGG19_LAYERS) == len(loaded.layers) == 30


def test_bad_weight_files_are_one_config_error(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(8, 3, 3, 3)}, wrong)
    with pytest.raises(ConfigError, match=r"features\.0\.weight: expected shape \(64, 3, 3, 3\)"):
        vgg19_from_file(str(wrong), "style.feature_weights")
    code = tmp_path / "code.pth"
    torch.save({"features": torch.nn.Conv2d(3, 3, 3)}, code)  # a pickled module: weights_only refuses it
    with pytest.raises(ConfigError, match="weights_only"):
        vgg19_from_file(str(code), "style.feature_weights")


def test_measure_definitions(space: Path) -> None:
    cfg = load(space)
    m = Measure(cfg.style, torch.device("cpu"))
    on_content, on_style = m.score(m.content), m.score(m.style)
    assert on_content["content_distance"] == 0.0 and on_style["style_distance"] == 0.0
    assert on_content["transfer_score"] == pytest.approx(1.0) and on_style["transfer_score"] == pytest.approx(1.0)
    # another size is resized to measure_size first
    big, _ = load_image(cfg.style.content, 40)
    assert m.score(big)["content_distance"] < 0.05
    assert m.provenance["eval.feature_net"] == "vgg19-random-seed1"
