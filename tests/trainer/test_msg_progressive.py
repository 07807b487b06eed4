"""MSG-GAN and progressive growing: shapes at 32/64/128 px, a continuous fade-in, resume mid-fade bit for
bit, every loss and balance strategy, gradients at every scale, and the per-scale distances re-computed
independently from the run's own checkpoint and latents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from checks import assert_resumed_like_straight
from gansearch.config import load
from gansearch.config.schema import ModelConfig
from gansearch.data import load_dataset
from gansearch.metrics.feature_cache import real_subset
from gansearch.metrics.features import feature_net_for
from gansearch.trainer import checkpoint, train
from gansearch.trainer.grids import fixed_latents, sample_seed
from gansearch.trainer.losses import get_loss
from gansearch.trainer.models import build_models, full_size, real_input, set_growth
from gansearch.trainer.models.progressive import growth
from gansearch.trainer.models.scales import resolutions

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "train.steps=20", "train.checkpoint_every=10", "train.batch_size=16", "eval.every=10",
    "eval.num_samples=128", "eval.kid_subset_size=64", "eval.grid=16", "model.g_width=8", "model.d_width=8",
    "eval.oscillation_window=8",
]


def tiny_cfg(model: str, *extra: str):
    return load(ROOT / "search_spaces" / "digits.yaml", TINY + [f"model.name={model}", *extra])


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_msg_shapes(size: int, channels: int) -> None:
    g, d = build_models(ModelConfig(name="msg", z_dim=16, g_width=8, d_width=8), (channels, size, size))
    out = g(torch.randn(3, 16))
    assert [tuple(x.shape) for x in out] == [(3, channels, r, r) for r in resolutions(size)]
    assert all(float(x.detach().abs().max()) <= 1.0 for x in out)  # tanh images at every scale
    assert d(out).shape == (3,)
    # seeded: allclose's default atol (1e-8) is below float32's rounding of a block mean near 0, which the
    # pooling and `.mean` sum in different orders; unseeded, about 1 draw in 100 failed (a flaky test)
    x = torch.rand(3, channels, size, size, generator=torch.Generator().manual_seed(size + channels)) * 2 - 1
    real = real_input(d)(x)  # the real pyramid: each scale the block average of the full image
    assert [tuple(r.shape) for r in real] == [(3, channels, r, r) for r in resolutions(size)]
    assert torch.equal(real[-1], x)
    assert torch.allclose(real[0][:, :, 1, 2], x[:, :, size // 4:size // 2, size // 2:3 * size // 4].mean(dim=(2, 3)))
    assert full_size(g, out).shape == (3, channels, size, size)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_progressive_shapes_at_every_level(size: int) -> None:
    g, d = build_models(ModelConfig(name="progressive", z_dim=16, g_width=8, d_width=8), (3, size, size))
    z = torch.randn(2, 16)
    for level, r in enumerate(resolutions(size)):
        for alpha in (0.0, 0.3, 1.0):
            set_growth((g, d), level, alpha)
            x = g(z)
            assert x.shape == (2, 3, r, r)
            assert full_size(g, x).shape == (2, 3, size, size)  # scored and shown at the data's size
            assert real_input(d)(torch.zeros(2, 3, size, size)).shape == (2, 3, r, r)
            assert d(x).shape == (2,)


def test_growth_schedule() -> None:
    """Level k from step k*P; alpha rises linearly over the first fade_in*P steps of each level >= 1."""
    assert growth(0, 4, 100, 0.5) == (0, 1.0) and growth(99, 4, 100, 0.5) == (0, 1.0)
    assert growth(100, 4, 100, 0.5) == (1, 0.0)
    assert growth(125, 4, 100, 0.5) == (1, 0.5)
    assert growth(150, 4, 100, 0.5) == (1, 1.0)
    assert growth(10**6, 4, 100, 0.5) == (3, 1.0)  # stays at full size
    assert growth(200, 4, 100, 0.0) == (2, 1.0)  # no fade: a hard switch


@pytest.mark.parametrize("level", [1, 2, 3])
def test_fade_in_is_continuous(level: int) -> None:
    """The image and D's verdict just before and just after a phase change agree: at alpha 0 the new
    layers contribute nothing, and at the first fade step little."""
    torch.manual_seed(0)
    size, p, fade = 32, 40, 0.5
    g, d = build_models(ModelConfig(name="progressive", z_dim=16, g_width=8, d_width=8), (3, size, size))
    g.eval(), d.eval()
    z, real = torch.randn(8, 16), torch.rand(8, 3, size, size) * 2 - 1
    levels = len(resolutions(size))

    def at(step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        set_growth((g, d), *growth(step, levels, p, fade))
        with torch.no_grad():
            x = g(z)
            return full_size(g, x), d(x), d(real_input(d)(real))

    before, after, next_step = at(level * p - 1), at(level * p), at(level * p + 1)
    for a, b in zip(before, after):
        assert torch.allclose(a, b, atol=1e-6), float((a - b).abs().max())
    # one fade step (alpha 1/20) moves the image by at most alpha x |new - old| <= 2 alpha
    assert float((next_step[0] - after[0]).abs().max()) <= 2 / (fade * p) + 1e-6
    assert not torch.equal(next_step[0], after[0])  # ... and the new layers do come in


def test_resume_mid_fade_in_is_bit_for_bit(tmp_path: Path) -> None:
    """Killed after the step-45 checkpoint, half-way through fading in 16 px (alpha 0.5), then resumed:
    exactly the weights, growth and records of the run that was never interrupted."""
    cfg = tiny_cfg("progressive", "train.steps=60", "train.checkpoint_every=15", "eval.every=15",
                   "steps_per_resolution=20", "fade_in=0.5")
    assert growth(45, 3, 20, 0.5) == (2, 0.5)
    train(cfg, tmp_path / "straight")

    class Crash(RuntimeError):
        pass

    def crash_at_60(record: dict, ckpt: Path | None) -> None:
        if record["step"] == 60:
            raise Crash()

    with pytest.raises(Crash):
        train(cfg, tmp_path / "resumed", report=crash_at_60)
    mid = checkpoint.load(tmp_path / "resumed" / checkpoint.FILENAME)
    assert mid["step"] == 45 and mid["g"]["growth"].tolist() == [2.0, 0.5]
    train(cfg, tmp_path / "resumed")
    assert_resumed_like_straight(tmp_path / "straight", tmp_path / "resumed", [0, 15, 30, 45, 60])


CASES = [("loss", v) for v in ("non_saturating", "hinge", "lsgan", "wgan_gp")] + [
    ("balance", v) for v in ("ttur", "n_critic", "skip_d", "label_smoothing", "instance_noise")]


@pytest.mark.parametrize("model", ["msg", "progressive"])
@pytest.mark.parametrize("what,value", CASES)
def test_every_loss_and_balance_trains(tmp_path: Path, model: str, what: str, value: str) -> None:
    extra = ["steps_per_resolution=5", "fade_in=0.5"] if model == "progressive" else []
    cfg = tiny_cfg(model, f"{what}={value}", *extra)
    summary = train(cfg, tmp_path)
    assert summary["status"] == "completed" and summary["steps"] == 20 and summary["model"] == model
    final = summary["final"]
    assert np.isfinite(final["d_loss"]) and np.isfinite(final["g_loss"]) and np.isfinite(final["fd_classifier"])
    if model == "msg":
        assert {"fd_classifier_4px", "fd_classifier_8px", "kd_classifier_8px"} <= set(final)
        assert all((tmp_path / p).is_file() for p in final["scale_grids"])
    else:
        assert checkpoint.load(tmp_path / checkpoint.FILENAME)["g"]["growth"].tolist() == [2.0, 1.0]  # grew to 16 px


@pytest.mark.parametrize("loss", ["non_saturating", "wgan_gp"])
def test_msg_gradients_reach_every_scale(loss: str) -> None:
    """G's loss through MSG-GAN's D sends a gradient to every scale's toRGB at once (DCGAN-style D on
    the last scale alone would leave the lower ones at zero)."""
    torch.manual_seed(0)
    lf = get_loss(loss)
    g, d = build_models(ModelConfig(name="msg", z_dim=16, g_width=8, d_width=8), (1, 32, 32), lf.gradient_penalty)
    lf.g_loss(d(g(torch.randn(8, 16)))).backward()
    norms = [float(rgb[0].weight.grad.norm()) for rgb in g.to_rgb]
    assert len(norms) == 4 and all(n > 0 for n in norms), norms


def _fd(a: np.ndarray, b: np.ndarray) -> float:
    """pytorch-fid's formula with scipy's sqrtm, in float64: the independent reference."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_msg_scale_distances_match_an_independent_computation(tmp_path: Path) -> None:
    """The recorded fd_classifier_8px of an MSG-GAN run, re-computed from its checkpoint: the run's own
    evaluation latents through G's 8 px output, and the real images average-pooled to 8 px, both shown to
    the classifier upsampled to 16 px, Fréchet distance by scipy."""
    cfg = tiny_cfg("msg", "eval.num_samples=256")
    summary = train(cfg, tmp_path)
    rec = summary["final"]
    g, _ = build_models(cfg.model, (1, 16, 16))
    g.load_state_dict(checkpoint.load(tmp_path / checkpoint.FILENAME)["g"])
    g.eval()
    z = fixed_latents(256, cfg.model.z_dim, sample_seed(cfg.train.seed), pool=256)
    with torch.no_grad():
        fake8 = g(z)[1]
    data = load_dataset(cfg.data, torch.device("cpu"))
    net = feature_net_for(data, "auto")
    up = torch.nn.functional.interpolate
    idx = real_subset(data.train.shape[0], 10000)
    real8 = torch.nn.functional.avg_pool2d(data.train[idx], 2)
    f_fake = net.features(up(fake8, size=(16, 16), mode="nearest")).double().numpy()
    f_real = net.features(up(real8, size=(16, 16), mode="nearest")).double().numpy()
    expected = _fd(f_real, f_fake)
    assert rec["fd_classifier_8px"] == pytest.approx(expected, rel=1e-3)
    assert rec["fd_classifier_8px"] != pytest.approx(rec["fd_classifier"], rel=1e-2)  # a different number


@pytest.mark.parametrize("model", ["msg", "progressive"])
def test_export_rebuilds_the_generator_as_trained(tmp_path: Path, model: str) -> None:
    """The export path (config from the checkpoint, shape from G's weights, strict load) renders exactly
    the evaluation's full-size samples; a progressive G exported before it finished growing (level 1 of 2
    at step 20) keeps its level."""
    from gansearch.export import generator

    cfg = tiny_cfg(model, "steps_per_resolution=15", "fade_in=0.2") if model == "progressive" else tiny_cfg(model)
    train(cfg, tmp_path, {"model": model} | ({"steps_per_resolution": 15, "fade_in": 0.2} if model == "progressive" else {}))
    state = checkpoint.load(tmp_path / checkpoint.FILENAME)
    space_file, _ = checkpoint.config_of(state)
    g_state = {k: v.contiguous() for k, v in state["g"].items()}
    shape = generator.data_shape(space_file, g_state)
    assert shape == (1, 16, 16)
    g = generator.build(space_file, shape, g_state)
    if model == "progressive":
        assert (g.level, g.alpha) == (1, 1.0)
    samples = generator.render(g, cfg.model.z_dim, 16, sample_seed(cfg.train.seed), pool=128)
    assert samples.shape == (16, 1, 16, 16)
    trained, _ = build_models(cfg.model, (1, 16, 16))
    trained.load_state_dict(state["g"])
    trained.eval()
    with torch.no_grad():
        direct = full_size(trained, trained(fixed_latents(16, cfg.model.z_dim, sample_seed(cfg.train.seed), pool=128)))
    assert torch.equal(samples, direct.float())
