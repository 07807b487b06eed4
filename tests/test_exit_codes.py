"""The exit codes (docs/export.md) of `gansearch train`, in real processes: 0 done, 1 the run diverged (recorded,
with the step), 2 bad input, 130 interrupted. (3, the tracking server down at the end of `run`, is
tests/search/test_tracking_down.py; 2 for every kind of bad input is test_cli_errors.py and config/.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("gansearch"))
TINY = ["--set", "model.g_width=8", "--set", "model.d_width=8", "--set", "eval.num_samples=256",
        "--set", "eval.kid_subset_size=128", "--set", "eval.grid=16"]


def test_exit_0_done_and_1_diverged(tmp_path: Path) -> None:
    ok = subprocess.run([EXE, "train", str(ROOT / "search_spaces" / "digits.yaml"), "--out", str(tmp_path / "ok"),
                         "--quiet", "--steps", "10", "--set", "eval.every=10", *TINY],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and ok.stdout.startswith("completed: 10 steps"), ok.stderr[-2000:]
    # an unconstrained WGAN critic at lr_d 1.0 really diverges (tests/search/nan.yaml)
    bad = subprocess.run([EXE, "train", str(ROOT / "tests" / "search" / "nan.yaml"), "--out", str(tmp_path / "bad"),
                          "--quiet", "--set", "lr_d=1.0"], capture_output=True, text=True, timeout=300)
    summary = json.loads((tmp_path / "bad" / "metrics.json").read_text())
    assert bad.returncode == 1, bad.stdout + bad.stderr[-2000:]
    assert bad.stdout.startswith("diverged:") and f"not finite at step {summary['diverged_step']}" in bad.stdout
    assert summary["status"] == "diverged" and 0 < summary["diverged_step"] < 30



def test_exit_2_a_kid_subset_the_data_cant_fill(tmp_path: Path) -> None:
    """A folder of fewer real images than eval.kid_subset_size is one line naming that field, before any
    training step (it once surfaced as the metric's own message from inside every trial)."""
    r = subprocess.run([EXE, "train", str(ROOT / "search_spaces" / "digits.yaml"), "--out", str(tmp_path / "small"),
                        "--quiet", "--steps", "10", *TINY, "--set", "data.max_samples=150", "--set", "eval.kid_subset_size=200"],
                       capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr[-2000:]
    assert lines[0].startswith("eval.kid_subset_size: must be at most eval.num_samples (256) and the real images "
                               "scored (150; or set eval.kid: false), got 200"), lines[0]
    assert not (tmp_path / "small" / "metrics.jsonl").exists()


def test_exit_130_interrupted(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen([EXE, "train", str(ROOT / "search_spaces" / "digits.yaml"), "--out", str(out), "--quiet",
                             "--steps", "100000", *TINY], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not (out / "metrics.jsonl").exists() or not (out / "metrics.jsonl").read_text().strip():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-2000:]
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr[-2000:]
    assert stderr.strip().splitlines() == ["interrupted"]
