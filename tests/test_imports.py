"""`gansearch --help` and `validate` stay light: the package and config import no torch/ray/optuna/mlflow."""

from __future__ import annotations

import subprocess
import sys


def test_light_imports() -> None:
    code = (
        "import sys, gansearch, gansearch.config, gansearch.cli.main, gansearch.data\n"
        "heavy = [m for m in ('torch', 'ray', 'optuna', 'mlflow', 'numpy') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout}"


def test_help_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "gansearch", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "train" in out.stdout and "validate" in out.stdout
