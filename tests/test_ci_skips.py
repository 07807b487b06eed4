"""Under CI a skipped test fails the run (tests/conftest.py): a missing tool or data file must not turn a
family of tests into green skips. Checked on a throwaway test file in a real pytest process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_a_skip_fails_the_run_only_under_ci(tmp_path: Path) -> None:
    (tmp_path / "test_needs_a_tool.py").write_text(
        "import pytest\n\ndef test_browser():\n    pytest.skip('no chromium at /usr/bin/chromium')\n\n"
        "def test_plain():\n    assert True\n")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    local = subprocess.run(cmd, env={**env, "CI": ""}, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    ci = subprocess.run(cmd, env={**env, "CI": "true"}, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert local.returncode == 0, local.stdout[-2000:]
    assert ci.returncode == 1, ci.stdout[-2000:]
    assert "CI=true: 1 tests skipped, which CI does not allow: no chromium at /usr/bin/chromium" in ci.stdout
