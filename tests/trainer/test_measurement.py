"""What a run records is what was computed: distinct samples per evaluation, the D loss without the
penalty, a per-loss collapse rule, a WGAN-GP critic without batch norm, resumed averages, refused folders.
Each test goes through the trainer the product runs (`train`, `Trainer`, `Step`), not a stand-in."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from gansearch.config import fixed_params, load
from gansearch.errors import ConfigError
from gansearch.metrics.evaluate import Evaluator
from gansearch.trainer import Trainer, train
from gansearch.trainer.losses import LOSSES, binary_entropy
from gansearch.trainer.records import Records

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "train.steps=40", "train.checkpoint_every=20", "train.batch_size=32", "eval.every=20",
    "eval.num_samples=256", "eval.kid_subset_size=128", "eval.grid=16", "model.g_width=16", "model.d_width=16",
    "eval.oscillation_window=16",
]


def tiny_cfg(*extra: str, space: str = "digits.yaml"):
    return load(ROOT / "search_spaces" / space, TINY + list(extra))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("space, extra", [
    ("digits.yaml", ["eval.num_samples=1200", "eval.grid=64"]),  # over the evaluator's 500-sample batches
    ("ring8.yaml", ["eval.num_samples=2500", "eval.grid=2500", "eval.kid=false", "model.g_width=32",
                    "model.d_width=32"]),
])
def test_every_evaluation_scores_num_samples_distinct_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             space: str, extra: list[str]) -> None:
    """On main, the trainer re-seeded its latents on every 500-sample call: 1200 samples were 500 + 500 +
    200 of the same images, and ring8's 2500 points were five copies of 500."""
    seen: list[torch.Tensor] = []
    real_call = Evaluator.__call__

    def recording(self, sample_fn):
        def wrapped(n: int) -> torch.Tensor:
            out = sample_fn(n)
            seen.append(out.detach().cpu().reshape(out.shape[0], -1).clone())
            return out
        return real_call(self, wrapped)

    monkeypatch.setattr(Evaluator, "__call__", recording)
    cfg = tiny_cfg("train.steps=20", *extra, space=space)
    train(cfg, tmp_path)
    recs = _jsonl(tmp_path / "metrics.jsonl")
    n = cfg.eval.num_samples
    drawn = torch.cat(seen)
    assert drawn.shape[0] == n * len(recs)  # one pass of num_samples per evaluation
    for i, rec in enumerate(recs):
        one = drawn[i * n:(i + 1) * n]
        assert torch.unique(one, dim=0).shape[0] == n, f"step {rec['step']}: repeated samples"
        assert rec["eval.num_samples"] == n
    # the same latents at every evaluation: what changed between evaluations is G
    assert not torch.equal(drawn[:n], drawn[n:2 * n])


def test_the_grid_shows_scored_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The grid is the first eval.grid samples of the evaluation, not another draw."""
    from gansearch.trainer import grids

    first_batch: list[torch.Tensor] = []
    real_call = Evaluator.__call__

    def recording(self, sample_fn):
        def wrapped(n: int) -> torch.Tensor:
            out = sample_fn(n)
            if not first_batch:
                first_batch.append(out.detach().clone())
            return out
        return real_call(self, wrapped)

    monkeypatch.setattr(Evaluator, "__call__", recording)
    saved: list[torch.Tensor] = []
    monkeypatch.setattr(grids, "save_grid", lambda samples, path, data: saved.append(samples.clone()))
    train(tiny_cfg("train.steps=1", "eval.every=1", "train.checkpoint_every=1"), tmp_path)
    assert torch.allclose(saved[0], first_batch[0][:16], atol=1e-6)


def test_wgan_gp_critic_has_no_batch_norm(tmp_path: Path) -> None:
    """Gulrajani et al. §4: the per-sample gradient penalty is undefined for a batch-norm critic."""
    gp = Trainer(tiny_cfg("loss=wgan_gp"), tmp_path / "gp", fixed_params(tiny_cfg("loss=wgan_gp").space))
    ns = Trainer(tiny_cfg(), tmp_path / "ns", fixed_params(tiny_cfg().space))
    kinds = lambda m: {type(x).__name__ for x in m.modules()}  # noqa: E731
    assert "SourceBatchNorm2d" in kinds(ns.d) and not {"BatchNorm2d", "SourceBatchNorm2d"} & kinds(gp.d) \
        and "GroupNorm" in kinds(gp.d)
    assert "BatchNorm2d" in kinds(gp.g)  # G keeps DCGAN's batch norm
    assert gp._meta()["d_norm"] == "layer" and ns._meta()["d_norm"] == "batch"
    x = torch.randn(8, 1, 16, 16)
    gp.d.train()
    assert torch.allclose(gp.d(x)[:2], gp.d(x[:2]), atol=1e-5)  # each output depends on its own input only


def test_recorded_d_loss_is_the_adversarial_term(tmp_path: Path) -> None:
    """skip_d compares D's last loss with d_threshold; on main trained steps recorded loss + GP and skipped
    steps the loss alone. Same state, same batch: gp_weight must not change the recorded D loss."""
    losses = []
    for gp_weight in (0.0, 1e4):
        cfg = tiny_cfg("loss=wgan_gp", f"gp_weight={gp_weight}")
        t = Trainer(cfg, tmp_path / str(gp_weight), fixed_params(cfg.space))
        loss_d, _ = t.step_fn(0, None)
        losses.append(float(loss_d))
    assert losses[0] == losses[1]


def test_collapse_is_measured_from_each_loss_floor(tmp_path: Path) -> None:
    """A label-smoothed non-saturating D can't go below H(1 - smoothing) = 0.325 at smoothing 0.1, so the
    old absolute 0.05 never fired; a WGAN critic's healthy loss is negative, so it always fired."""
    ev = tiny_cfg().eval
    floor = LOSSES["non_saturating"].d_floor(0.9)
    assert floor == pytest.approx(binary_entropy(0.9)) and floor == pytest.approx(0.3251, abs=1e-4)
    recs = Records(tmp_path, ev, d_floor=floor)
    recs.start({})
    for step in range(4):
        recs.add_losses(step, torch.full((2, 1), floor + 0.01))
        rec = recs.add_eval(step, {}, {}, None)
    assert rec["d_collapse"] == 1.0  # within 0.05 of the floor for 3 evaluations in a row
    summary = train(tiny_cfg("loss=wgan_gp", "train.steps=20", "eval.every=5", "train.checkpoint_every=20"),
                    tmp_path / "wgan")
    recs = _jsonl(tmp_path / "wgan" / "metrics.jsonl")
    assert summary["status"] == "completed" and all("d_collapse" not in r for r in recs)
    assert any(r.get("d_loss", 0) < 0 for r in recs)  # a negative critic loss is no collapse


def test_resume_keeps_the_losses_since_the_last_evaluation(tmp_path: Path) -> None:
    """Killed after a checkpoint that is not an evaluation step, the resumed run's next d_loss/g_loss still
    average every step since the last evaluation (main restarted the average at the checkpoint)."""
    cfg = tiny_cfg("train.checkpoint_every=10")
    train(cfg, tmp_path / "straight")

    class Killed(RuntimeError):
        pass

    def kill_at_40(step: int, fields: dict) -> None:
        if step == 40:  # the checkpoint of step 30 is written, the evaluation of step 40 is not
            raise Killed()

    with pytest.raises(Killed):
        train(cfg, tmp_path / "resumed", progress=kill_at_40)
    train(cfg, tmp_path / "resumed")
    a, b = _jsonl(tmp_path / "straight" / "metrics.jsonl"), _jsonl(tmp_path / "resumed" / "metrics.jsonl")
    assert [r["step"] for r in b] == [0, 20, 40]
    for key in ("d_loss", "g_loss", "d_amplitude", "d_collapse", "fd_classifier"):
        assert a[-1][key] == b[-1][key], key


# Scripted evaluation values: the series rises and falls, so the running min, the running max and the last
# value all differ at some evaluation (a `_best` that tracked the last value, or the other direction, is caught).
SCRIPT = [3.0, 1.0, 2.0, 0.5, 4.0, 0.7]


def _running_best(values: list[float], mode: str) -> list[float]:
    pick = min if mode == "min" else max
    return [pick(values[:i + 1]) for i in range(len(values))]


@pytest.mark.parametrize("space", ["digits.yaml", "ring8.yaml"])
def test_best_so_far_has_its_own_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, space: str) -> None:
    """`<metric>_best` is the running best in the metric's own direction, through the trainer's real path
    (Trainer -> Records -> metrics.jsonl, also across a resume): real evaluations whose values are replaced by
    a series that rises and falls, for every min and every max metric the space records. (A real run's
    distance mostly falls, where the running min and the last value agree.)"""
    from gansearch.config.metrics import BEST_SUFFIX, evaluation_metrics

    cfg = tiny_cfg("train.steps=5", "eval.every=1", "train.checkpoint_every=1", space=space)
    modes = evaluation_metrics(cfg, best=False)
    assert {"min", "max"} <= set(modes.values()), modes  # both directions are exercised
    # a max metric gets the series upside down, so that a max taken as min differs from it as well
    scripts = {k: SCRIPT if m == "min" else [5.0 - v for v in SCRIPT] for k, m in modes.items()}
    real_call = Evaluator.__call__
    nth = [0]  # the index of the next evaluation of the run being trained

    def scripted(self, sample_fn):
        out = real_call(self, sample_fn)
        i, nth[0] = nth[0], nth[0] + 1
        return {**out, **{k: s[i] for k, s in scripts.items()}}

    monkeypatch.setattr(Evaluator, "__call__", scripted)

    class Killed(RuntimeError):
        pass

    def kill_at_4(step: int, fields: dict) -> None:
        if step == 4:  # after the evaluation and checkpoint of step 3 (the series' turn), before step 4's
            raise Killed()

    train(cfg, tmp_path / "straight")
    with pytest.raises(Killed):
        nth[0] = 0
        train(cfg, tmp_path / "resumed", progress=kill_at_4)
    nth[0] = 4  # the resumed run restores step 3 (evaluations 0-3) and evaluates steps 4 and 5
    train(cfg, tmp_path / "resumed")
    for run in ("straight", "resumed"):
        recs = _jsonl(tmp_path / run / "metrics.jsonl")
        assert [r["step"] for r in recs] == [0, 1, 2, 3, 4, 5], run
        for key, mode in modes.items():
            assert [r[key] for r in recs] == scripts[key], (run, key)
            assert [r[key + BEST_SUFFIX] for r in recs] == _running_best(scripts[key], mode), (run, key, mode)


@pytest.mark.parametrize("change, field", [
    (["train.seed=1"], "train.seed"),
    (["model.g_width=8"], "model.g_width"),
    (["eval.num_samples=300"], "eval.num_samples"),
    (["data.image_size=32"], "data.image_size"),
])
def test_a_folder_of_another_run_is_refused(tmp_path: Path, change: list[str], field: str) -> None:
    """The checkpoint's config is compared, not only its params: one line naming the field, no shape error."""
    train(tiny_cfg("train.steps=20"), tmp_path)
    with pytest.raises(ConfigError, match=rf"^--out: must be a new folder or hold a run of the same {field} "):
        train(tiny_cfg("train.steps=40", *change), tmp_path)
    train(tiny_cfg("train.steps=40", "eval.every=10"), tmp_path)  # more steps, other cadence: a resume


def test_cli_refuses_another_runs_folder_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from gansearch.cli.main import main

    args = ["train", str(ROOT / "search_spaces" / "digits.yaml"), "--out", str(tmp_path), "--quiet"]
    for s in TINY:
        args += ["--set", s]
    main(args + ["--steps", "20"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(args + ["--steps", "40", "--seed", "5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and err[0].startswith("--out: ") and "train.seed" in err[0]


def test_points_refuse_bf16() -> None:
    with pytest.raises(Exception, match="train.precision: must be fp32 or auto for 2D points"):
        load(ROOT / "search_spaces" / "ring8.yaml", ["train.precision=bf16"])


def test_wgan_gp_under_compile_trains(tmp_path: Path) -> None:
    """torch 2.14's compiled autograd can't double-backward: the penalty runs through D's eager module."""
    cfg = load(ROOT / "search_spaces" / "ring8.yaml", [
        "loss=wgan_gp", "train.compile=true", "train.steps=3", "eval.every=3", "train.checkpoint_every=3",
        "eval.num_samples=64", "eval.grid=16", "model.g_width=16", "model.d_width=16", "train.batch_size=16"])
    summary = train(cfg, tmp_path)
    assert summary["status"] == "completed" and math.isfinite(summary["final"]["d_loss"])


def test_class_kl_reference_is_the_classifiers_own_held_out_histogram(tmp_path: Path) -> None:
    """The trainer wires class_kl's reference to the classifier's predictions on held-out real images (the
    digits test split), not to the true labels of the training images."""
    import numpy as np

    cfg = tiny_cfg()
    t = Trainer(cfg, tmp_path, fixed_params(cfg.space))
    net, data = t.setup.net, t.data
    predicted = np.bincount(net.logits(data.test).argmax(1).numpy(), minlength=10)
    assert np.array_equal(t.setup.evaluator._class_hist, predicted)
    true_train = np.bincount(data.train_labels.cpu().numpy(), minlength=10)
    assert not np.allclose(t.setup.evaluator._class_hist / predicted.sum(), true_train / true_train.sum())


@pytest.mark.parametrize("extra", [
    ["balance=n_critic", "n_critic=3"], ["balance=skip_d", "d_threshold=5.0"], ["balance=label_smoothing"],
    ["loss=wgan_gp"], ["loss=hinge"], ["loss=lsgan"],
])
def test_oscillation_means_the_same_across_losses_and_balance(tmp_path: Path, extra: list[str]) -> None:
    """period is in G iterations for every strategy: one D and one G loss per iteration in the window,
    whether D stepped 3 times (n_critic: its last step's loss) or not at all (skip_d: its loss on the
    batch). rel_amplitude is amplitude over the loss's own chance level (losses.Loss.chance), NaN where
    the loss has none: the same share of the same point for every loss."""
    cfg = tiny_cfg(*extra, "eval.oscillation_window=64")
    t = Trainer(cfg, tmp_path, fixed_params(cfg.space))
    assert {k: str(v) for k, v in t.params.items() if k in dict(e.split("=") for e in extra)} == dict(e.split("=") for e in extra)
    t.run()
    assert len(t.records.g_hist) == len(t.records.d_hist) == 40  # train.steps, below the window
    rec = _jsonl(tmp_path / "metrics.jsonl")[-1]
    g_chance, d_chance = t.loss.chance(t.balance.real_target)
    for prefix, chance in (("g", g_chance), ("d", d_chance)):
        if chance is None:
            assert rec[f"{prefix}_rel_amplitude"] is None  # NaN, written to JSON as null
        else:
            assert rec[f"{prefix}_rel_amplitude"] == pytest.approx(rec[f"{prefix}_amplitude"] / chance, rel=1e-9)
