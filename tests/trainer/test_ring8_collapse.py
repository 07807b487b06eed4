"""ring8: a sane setting covers the ring; a D that learns 10x faster than G collapses it — the metrics show both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gansearch.config import load
from gansearch.trainer import train

ROOT = Path(__file__).resolve().parents[2]

# Sane: ring8.yaml's defaults (equal learning rates 1e-4, 256-wide MLPs, batches of 512, 6000 steps).
SANE: list[str] = []
# Bad: the same, but D's learning rate 10x G's and no balance strategy.
BAD = ["lr_d=1e-3", "train.steps=4000"]


def _run(tmp_path: Path, name: str, sets: list[str]) -> dict:
    cfg = load(ROOT / "search_spaces" / "ring8.yaml", ["balance=none", "loss=non_saturating", "train.threads=1"] + sets)
    assert cfg.space["lr_g"].default == 1e-4 and cfg.model.g_width == 256  # the sane setting is the default
    train(cfg, tmp_path / name)
    return json.loads((tmp_path / name / "metrics.json").read_text())["final"]


@pytest.mark.slow
def test_sane_setting_covers_ring_and_bad_setting_collapses(tmp_path: Path) -> None:
    sane = _run(tmp_path, "sane", SANE)
    bad = _run(tmp_path, "bad", BAD)
    print("sane", {k: sane[k] for k in ("modes_covered", "hq_fraction", "reverse_kl", "fid")})
    print("bad", {k: bad[k] for k in ("modes_covered", "hq_fraction", "reverse_kl", "fid")})
    assert sane["modes_covered"] >= 7 and sane["hq_fraction"] >= 0.8
    assert bad["modes_covered"] < sane["modes_covered"] and bad["modes_covered"] <= 4
    assert bad["reverse_kl"] > sane["reverse_kl"]
