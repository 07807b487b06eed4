"""PBT's exploit checked against the donor's checkpoint FILE, read with torch.load(weights_only=True), never
through Trainer.adopt: right after the exploit the member holds the donor's G and D weights, both Adam
optimizers' moments (exp_avg, exp_avg_sq, step) and the donor's step, with its own RNG streams, records
and step sizes. A replay that adopts on both sides would agree with itself if adopt dropped D or the
moments; this one would not. test_pbt.py runs the same check on a real study's checkpoints.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from study_helpers import DIGITS, cache_dir

MEMBER = {"lr_g": 2e-3, "lr_d": 2.5e-3, "loss": "wgan_gp", "gp_weight": 5.0, "balance": "ttur", "ttur_ratio": 0.6,
          "beta1": 0.5}
DONOR = {"lr_g": 1.3e-4, "lr_d": 1.1e-4, "loss": "non_saturating", "balance": "none", "beta1": 0.5}
NEW = {**DONOR, "lr_g": 1.3e-4 * 1.2, "lr_d": 1.1e-4 * 0.8}  # the donor's configuration, mutated


def exploit_like_a_trial(folder: Path, own: Path, params: dict[str, Any], donor: Path, donor_key: str,
                         steps: int) -> Path:
    """What gansearch.search.trainable does at an exploit: the member's own checkpoint in its folder, the
    donor's beside it; a trainer built from the new params adopts it and saves at once. Returns that
    checkpoint: the member's state right after the exploit."""
    from gansearch.config import load
    from gansearch.search import member
    from gansearch.trainer import checkpoint
    from gansearch.trainer.loop import Trainer

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy2(own, folder / checkpoint.FILENAME)
    shutil.copy2(donor, folder / member.DONOR_FILE)
    trainer = Trainer(load(DIGITS, [f"train.steps={steps}", "train.threads=1"]), folder, params)
    step = trainer.adopt(folder / member.DONOR_FILE, {"from": donor_key})
    return trainer.save_checkpoint(step, folder / checkpoint.FILENAME)


def _equal(a: dict[str, Any], b: dict[str, Any], what: str) -> None:
    assert a.keys() == b.keys(), what
    for k, v in a.items():
        assert torch.equal(v, b[k]), f"{what}: {k}"


def _rates(params: dict[str, Any]) -> tuple[float, float]:
    """G's and D's Adam step sizes under `params` (TTUR: D's is ttur_ratio times G's)."""
    lr_d = params["lr_g"] * params["ttur_ratio"] if params.get("balance") == "ttur" else params["lr_d"]
    return params["lr_g"], lr_d


def assert_holds_donor_state(after: dict[str, Any], donor: dict[str, Any], own: dict[str, Any],
                             params: dict[str, Any]) -> None:
    """`after` (the member right after the exploit), `donor` and `own` (the member before) as torch.load read
    them from their files."""
    assert int(after["step"]) == int(donor["step"]) == int(own["step"])
    for net in ("g", "d", *(("g_ema",) if "g_ema" in donor else ())):
        _equal(after[net], donor[net], net)
    for opt, lr in zip(("opt_g", "opt_d"), _rates(params)):
        got, want = after[opt]["state"], donor[opt]["state"]
        assert got.keys() == want.keys() and want, opt  # one entry per parameter, Adam has stepped
        for i in want:
            assert {"step", "exp_avg", "exp_avg_sq"} <= want[i].keys()
            _equal(got[i], want[i], f"{opt} state {i}")
        assert [g["lr"] for g in after[opt]["param_groups"]] == pytest.approx([lr] * len(after[opt]["param_groups"]))
    for rng in ("rng_torch", "rng_data", "rng_noise"):  # the member's own streams and history
        assert torch.equal(after[rng], own[rng]), rng
    assert after["records"]["evals"] == own["records"]["evals"]


def test_adopt_holds_the_donor_checkpoint_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gansearch.config import load
    from gansearch.trainer.loop import Trainer

    monkeypatch.setenv("GANSEARCH_CACHE_DIR", cache_dir())
    cfg = load(DIGITS, ["train.steps=10", "train.threads=1"])
    files = {}
    for name, params in (("member", MEMBER), ("donor", DONOR)):
        Trainer(cfg, tmp_path / name, params).run()
        files[name] = tmp_path / name / "checkpoint.pt"
    own, donor = (torch.load(files[k], weights_only=True) for k in ("member", "donor"))
    assert not torch.equal(own["opt_g"]["state"][0]["exp_avg"], donor["opt_g"]["state"][0]["exp_avg"])  # they differ
    after = exploit_like_a_trial(tmp_path / "exploited", files["member"], NEW, files["donor"], "donor", 10)
    assert_holds_donor_state(torch.load(after, weights_only=True), donor, own, NEW)
