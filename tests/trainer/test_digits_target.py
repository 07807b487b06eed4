"""The embedded default, as `make demo` runs it: the classifier Fréchet distance must fall to a quarter of
its step-0 value."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from gansearch.config import load
from gansearch.trainer import train

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_digits_default_learns_digits(tmp_path: Path) -> None:
    cfg = load(ROOT / "search_spaces" / "digits.yaml")
    t0 = time.perf_counter()
    summary = train(cfg, tmp_path)
    wall = time.perf_counter() - t0
    recs = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    first, last = recs[0], recs[-1]
    print(f"digits default: fd_classifier {first['fd_classifier']:.1f} -> {last['fd_classifier']:.1f} in {wall:.1f} s "
          f"(train {summary['train_time_s']} s, eval {summary['eval_time_s']} s)")
    assert summary["status"] == "completed" and last["step"] == cfg.train.steps
    assert last["fd_classifier"] <= 0.25 * first["fd_classifier"]
    assert last["classes_covered"] >= 9  # samples the digit classifier reads as (nearly) every digit
    assert last["class_kl"] < 0.5 and last["d_collapse"] == 0.0
