"""Checks several test files share: the CLI's exit code and output, and a resumed run against a straight one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch


def makefile_torch_pins(root: Path) -> list[str]:
    """The `name==version` tokens of the Makefile's torch line (torch and torchvision install first, from
    local disk; constraints.txt leaves them out)."""
    line = next(x for x in (root / "Makefile").read_text().splitlines() if "pip install" in x and "torch==" in x)
    return [tok for tok in line.split() if "==" in tok]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`gansearch ARGS` in this process: (exit code, stdout, stderr)."""
    from gansearch.cli.main import main

    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(space: Path, capsys: pytest.CaptureFixture[str], field: str, rule: str) -> str:
    """`gansearch validate SPACE` exits 2 with ONE line on stderr that starts with `field:` and states
    `rule`; returns stderr."""
    code, _, err = run_cli(["validate", str(space)], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, lines
    assert lines[0].startswith(field + ":"), lines[0]
    assert rule in lines[0], lines[0]
    return err


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_resumed_like_straight(straight: Path, resumed: Path, steps: list[int]) -> None:
    """A run interrupted and resumed ends with exactly the uninterrupted run's weights (every G and D
    tensor) and records (evaluated `steps`, none twice; the same distances and losses at each)."""
    from gansearch.trainer import checkpoint

    a = checkpoint.load(straight / checkpoint.FILENAME)
    b = checkpoint.load(resumed / checkpoint.FILENAME)
    for part in ("g", "d"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k} differs after resume"
    ra, rb = _jsonl(straight / "metrics.jsonl"), _jsonl(resumed / "metrics.jsonl")
    assert [r["step"] for r in rb] == steps  # nothing duplicated
    for x, y in zip(ra, rb):
        for key in ("fd_classifier", "d_loss", "g_loss", "kd_classifier"):
            assert x.get(key) == y.get(key), key
