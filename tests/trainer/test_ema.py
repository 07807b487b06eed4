"""G's exponential moving average (ema_decay): the update in closed form, nothing changed when off, the
evaluations and grids made by the average, resume bit for bit, PBT's adopt, and progressive growing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from checks import assert_resumed_like_straight
from gansearch.config import fixed_params, load
from gansearch.trainer import Trainer, checkpoint, train
from gansearch.trainer.grids import generate, generate_scales, latent_stream, save_grid, tensor_stream

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "train.steps=20", "train.checkpoint_every=10", "train.batch_size=16", "eval.every=10",
    "eval.num_samples=128", "eval.kid_subset_size=64", "eval.grid=16", "model.g_width=8", "model.d_width=8",
    "eval.oscillation_window=8",
]


def tiny_cfg(*extra: str):
    return load(ROOT / "search_spaces" / "digits.yaml", TINY + list(extra))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _trainer(out: Path, *extra: str) -> Trainer:
    cfg = tiny_cfg(*extra)
    return Trainer(cfg, out, fixed_params(cfg.space))


def test_ema_decay_is_a_hyperparameter_like_any_other() -> None:
    """Off by default; fixed or searched in a space file; 1 (a G that never moves) is refused in one line."""
    from gansearch.config.hparams import defaults
    from gansearch.errors import ConfigErrors

    assert defaults()["ema_decay"] == 0.0
    assert fixed_params(tiny_cfg("ema_decay=0.999").space)["ema_decay"] == 0.999
    searched = tiny_cfg("ema_decay={type: categorical, choices: [0.0, 0.999]}").space["ema_decay"]
    assert searched.choices == [0.0, 0.999]
    tiny_cfg("ema_decay={type: uniform, low: 0.9, high: 0.9999}")
    with pytest.raises(ConfigErrors, match=r"space.ema_decay: must be a number in \[0, 1\), got 1.0"):
        tiny_cfg("ema_decay=1.0")


def test_average_is_the_closed_form_weighted_sum_of_g_history(tmp_path: Path) -> None:
    """After k G steps with decay d, p_ema = d^k p_0 + sum_i (1 - d) d^(k - i) p_i over G's weights p_i after
    each step (p_0 its initial weights); G's buffers (batch-norm running statistics) are copied, not averaged."""
    d, k = 0.8, 12
    trainer = _trainer(tmp_path, f"train.steps={k}", f"ema_decay={d}")
    history = [[p.detach().double().clone() for p in trainer.g.parameters()]]
    # G's weights after each of its optimizer steps, read by torch's own hook
    trainer.opt_g.register_step_post_hook(
        lambda *_: history.append([p.detach().double().clone() for p in trainer.g.parameters()]))
    trainer.run()
    assert len(history) == k + 1
    expected = [d**k * p0 for p0 in history[0]]
    for i in range(1, k + 1):
        expected = [e + (1 - d) * d ** (k - i) * p for e, p in zip(expected, history[i])]
    averaged = list(trainer.g_ema.parameters())
    assert len(averaged) == len(expected)
    for e, a, g in zip(expected, averaged, trainer.g.parameters()):
        assert torch.allclose(a.double(), e, rtol=0, atol=1e-6)
        assert not torch.equal(a, g)  # an average of the history, not G itself
    for (name, a), b in zip(trainer.g_ema.named_buffers(), trainer.g.buffers()):
        assert torch.equal(a, b), name
    assert not trainer.g_ema.training and not any(p.requires_grad for p in trainer.g_ema.parameters())
    state = checkpoint.load(tmp_path / checkpoint.FILENAME)
    assert state.keys() >= {"g", "g_ema"}
    assert all(torch.equal(v, state["g_ema"][n]) for n, v in trainer.g_ema.state_dict().items())


def test_off_changes_nothing_and_on_never_feeds_back(tmp_path: Path) -> None:
    """ema_decay 0 (the default): no average in the checkpoint, records and run.json say "raw". On, the
    average never feeds back into training: G, D and the losses are bit for bit those of the run without."""
    off = train(tiny_cfg(), tmp_path / "off")
    on = train(tiny_cfg("ema_decay=0.9"), tmp_path / "on")
    a = checkpoint.load(tmp_path / "off" / checkpoint.FILENAME)
    b = checkpoint.load(tmp_path / "on" / checkpoint.FILENAME)
    assert "g_ema" not in a and "g_ema" in b
    for part in ("g", "d"):
        assert all(torch.equal(a[part][n], b[part][n]) for n in a[part]), part
    ra, rb = _jsonl(tmp_path / "off" / "metrics.jsonl"), _jsonl(tmp_path / "on" / "metrics.jsonl")
    assert [r["eval.generator"] for r in ra] == ["raw"] * 3 and [r["eval.generator"] for r in rb] == ["ema"] * 3
    assert [(r["d_loss"], r["g_loss"]) for r in ra[1:]] == [(r["d_loss"], r["g_loss"]) for r in rb[1:]]
    assert ra[0]["fd_classifier"] == rb[0]["fd_classifier"]  # step 0: the average is G's initial copy
    assert ra[-1]["fd_classifier"] != rb[-1]["fd_classifier"]  # later: another generator, another number
    assert off["eval.generator"] == "raw" and on["eval.generator"] == "ema"
    assert json.loads((tmp_path / "off" / "run.json").read_text())["eval.generator"] == "raw"
    assert json.loads((tmp_path / "on" / "run.json").read_text())["eval.generator"] == "ema"
    from gansearch.tracking.conventions import record_metrics, record_tags

    assert record_tags(rb[-1])["eval.generator"] == "ema" and "eval.generator" not in record_metrics(rb[-1])


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_evaluation_and_grid_come_from_the_average(tmp_path: Path) -> None:
    """The step-20 record scores the average's samples of the evaluation latents, and its grid shows them:
    re-computed here from the average and from raw G, only the average's match."""
    trainer = _trainer(tmp_path, "ema_decay=0.9")
    summary = trainer.run()
    rec = summary["final"]
    assert rec["step"] == 20 and rec["eval.generator"] == "ema"
    z = trainer._latents(trainer.pool)
    scores = {name: trainer.setup.evaluate(latent_stream(g, z))["fd_classifier"]
              for name, g in (("ema", trainer.g_ema), ("raw", trainer.g))}
    assert rec["fd_classifier"] == scores["ema"] and rec["fd_classifier"] != scores["raw"]
    n = trainer.cfg.eval.grid
    for name, g in (("ema", trainer.g_ema), ("raw", trainer.g)):
        save_grid(generate(g, z[:n]), tmp_path / f"{name}.png", trainer.data)
    recorded = _pixels(tmp_path / rec["grid"])
    assert np.array_equal(recorded, _pixels(tmp_path / "ema.png"))
    assert not np.array_equal(recorded, _pixels(tmp_path / "raw.png"))
    assert torch.equal(trainer._sample(n), generate(trainer.g_ema, z[:n]))


class Crash(RuntimeError):
    pass


def test_resume_is_bit_for_bit_with_the_average(tmp_path: Path) -> None:
    """Killed after its step-10 checkpoint and resumed: G, D, the average and the records are exactly the
    uninterrupted run's."""
    cfg = tiny_cfg("ema_decay=0.95")
    train(cfg, tmp_path / "straight")

    def crash_at_20(record: dict, ckpt: Path | None) -> None:
        if record["step"] == 20:
            raise Crash()

    with pytest.raises(Crash):
        train(cfg, tmp_path / "resumed", report=crash_at_20)
    assert checkpoint.load(tmp_path / "resumed" / checkpoint.FILENAME)["step"] == 10
    train(cfg, tmp_path / "resumed")
    assert_resumed_like_straight(tmp_path / "straight", tmp_path / "resumed", [0, 10, 20])
    a = checkpoint.load(tmp_path / "straight" / checkpoint.FILENAME)["g_ema"]
    b = checkpoint.load(tmp_path / "resumed" / checkpoint.FILENAME)["g_ema"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_adopt_takes_the_donors_average(tmp_path: Path) -> None:
    """PBT's exploit: the member continues from the donor's G, D and G's average; from a donor that kept no
    average, the average restarts from the donor's G."""
    train(tiny_cfg("train.steps=10", "ema_decay=0.9", "lr_g=0.001"), tmp_path / "donor")
    train(tiny_cfg("train.steps=10", "lr_g=0.001"), tmp_path / "plain")
    donor = checkpoint.load(tmp_path / "donor" / checkpoint.FILENAME)
    plain = checkpoint.load(tmp_path / "plain" / checkpoint.FILENAME)
    for source, want in (("donor", donor["g_ema"]), ("plain", plain["g"])):
        own = tmp_path / f"own_{source}"
        train(tiny_cfg("train.steps=10", "ema_decay=0.9"), own)
        member = _trainer(own, "train.steps=10", "ema_decay=0.9", "lr_g=0.002")
        assert member.adopt(tmp_path / source / checkpoint.FILENAME, {"from": source}) == 10
        got = member.g_ema.state_dict()
        assert all(torch.equal(got[k], want[k]) for k in want), source


@pytest.mark.parametrize("model", ["progressive", "msg"])
def test_scaled_models_evaluate_the_average(tmp_path: Path, model: str) -> None:
    """A growing G's average is at G's level and fade-in at every evaluation; an MSG-GAN's distances at
    every scale, and its grids, are the average's."""
    grows = ("steps_per_resolution=8", "fade_in=0.5") if model == "progressive" else ()
    trainer = _trainer(tmp_path, f"model.name={model}", *grows, "ema_decay=0.9")
    rec = trainer.run()["final"]
    state = checkpoint.load(tmp_path / checkpoint.FILENAME)
    if model == "progressive":
        assert (trainer.g_ema.level, trainer.g_ema.alpha) == (trainer.g.level, trainer.g.alpha) == (2, 1.0)
        assert torch.equal(state["g_ema"]["growth"], state["g"]["growth"])
    z = trainer._latents(trainer.pool)

    def scores(g: torch.nn.Module) -> dict[str, float]:
        *lower, full = generate_scales(g, z)
        out = trainer.setup.evaluate(tensor_stream(full))
        out.update(trainer.setup.evaluate_scales({x.shape[-1]: tensor_stream(x) for x in lower}))
        return {k: v for k, v in out.items() if k.startswith("fd_")}

    ema, raw = scores(trainer.g_ema), scores(trainer.g)
    scales = ("fd_classifier_4px", "fd_classifier_8px") if model == "msg" else ()
    assert set(ema) == {"fd_classifier", *scales}
    for k in ema:
        assert rec[k] == ema[k] and rec[k] != raw[k], k
    n = trainer.cfg.eval.grid
    for x in generate_scales(trainer.g_ema, z[:n]):  # (this tiny G's outputs are nearly flat: raw G's grids look alike)
        r = x.shape[-1]
        save_grid(x, tmp_path / f"ema_{r}.png", trainer.data)
        recorded = tmp_path / "samples" / ("step_20.png" if r == 16 else f"step_20_{r}px.png")
        assert np.array_equal(_pixels(recorded), _pixels(tmp_path / f"ema_{r}.png")), r
