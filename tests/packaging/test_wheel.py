"""The wheel on its own (issue 26): built from this checkout, installed into a fresh venv (not editable;
torch and torchvision at the Makefile's pins, everything else through constraints.txt), then a newcomer's
first steps with nothing but the installed package: `gansearch init digits`, a 2-trial `gansearch run` with
short steps, `gansearch export`. The venv's gansearch must be the wheel's, never this checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from checks import makefile_torch_pins
from gansearch.config import examples

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SHORT = ["--set", "train.steps=40", "--set", "eval.every=20", "--set", "train.checkpoint_every=20",
         "--set", "eval.num_samples=200", "--set", "eval.kid_subset_size=100", "--set", "eval.grid=16"]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def test_the_wheel_alone_inits_runs_and_exports(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HOME=str(tmp_path), RAY_USAGE_STATS_ENABLED="0", MLFLOW_DISABLE_TELEMETRY="true",
               GANSEARCH_CACHE_DIR=os.environ.get("GANSEARCH_CACHE_DIR") or str(tmp_path / "cache"),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)], tmp_path, env)
    (wheel,) = (tmp_path / "dist").glob("gansearch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).stem for n in names if n.startswith("gansearch/config/spaces/") and n.endswith(".yaml")}
    assert shipped == set(examples.names())  # every example space is inside the wheel
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith("LICENSE") for n in names)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    vpip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"]
    _run([*vpip, *makefile_torch_pins(ROOT)], tmp_path, env)
    _run([*vpip, "-c", str(ROOT / "constraints.txt"), str(wheel)], tmp_path, env)
    where = _run([str(venv / "bin" / "python"), "-c", "import gansearch; print(gansearch.__file__)"], tmp_path, env)
    assert where.stdout.strip().startswith(str(venv)), where.stdout  # the wheel's copy, not this checkout
    exe = str(venv / "bin" / "gansearch")
    work = tmp_path / "newcomer"
    work.mkdir()
    _run([exe, "init", "digits"], work, env)
    assert (work / "digits.yaml").read_text() == examples.text("digits")
    _run([exe, "run", "digits.yaml", "--out", "study", "--num-trials", "2", *SHORT], work, env, timeout=900)
    summary = json.loads((work / "study" / "summary.json").read_text())
    assert summary["num_trials"] == 2 and summary["origins"] == {"startup": 2}  # defaults_first is off
    _run([exe, "export", "study", "--to", "exports", "--top-k", "1"], work, env)
    manifest = json.loads((work / "exports" / "manifest.json").read_text())
    assert [t["trial_key"] for t in manifest["trials"]] == [summary["trials"][0]["key"]]
    _run([exe, "sample", "exports", "-n", "16", "-o", "grid.png"], work, env)
    assert (work / "grid.png").stat().st_size > 0
