"""A command-line mistake is one line on stderr and exit 2, for every command, in a real process: unknown
options, missing arguments, bad values. (typer 0.29 raises its own vendored click exceptions, which the
CLI once let through as a 53-line traceback with exit 1.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / "search_spaces" / "digits.yaml")
EXE = str(Path(sys.executable).with_name("gansearch"))

CASES = [
    (["train", DIGITS, "--bogus"], "No such option: --bogus", "train"),
    (["train", DIGITS], "Missing option '--out'", "train"),
    (["train"], "Missing argument 'space'", "train"),
    (["train", DIGITS, "--out", "x", "--steps", "many"], "Invalid value for '--steps'", "train"),
    (["run", DIGITS, "--num-trials"], "Option '--num-trials' requires an argument", "run"),
    (["run", DIGITS, "--num-trials", "x"], "Invalid value for '--num-trials'", "run"),
    (["run"], "Missing argument 'space'", "run"),
    (["validate"], "Missing argument 'space'", "validate"),
    (["validate", DIGITS, "--frobnicate"], "No such option: --frobnicate", "validate"),
    (["export", "study"], "Missing option '--to'", "export"),
    (["export", "study", "--to", "x", "--top-k", "two"], "Invalid value for '--top-k'", "export"),
    (["sample", "exp", "--format"], "Option '--format' requires an argument", "sample"),
    (["sample", "exp", "-o", "x.png", "-n", "abc"], "Invalid value for '-n'", "sample"),
    (["sample"], "Missing argument 'export_dir'", "sample"),
    (["report", "study", "--top-k"], "Option '--top-k' requires an argument", "report"),
    (["ui", "study", "--port", "http"], "Invalid value for '--port'", "ui"),
    (["frobnicate"], "No such command 'frobnicate'", None),
    (["--log-level", "loud", "validate", DIGITS], "Invalid value for '--log-level': must be one of debug, info, "
                                                   "warning, error, got 'loud'", None),
]


@pytest.mark.parametrize("args, start, command", CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_usage_errors_are_one_line_exit_2(args: list[str], start: str, command: str | None, tmp_path: Path) -> None:
    r = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert lines[0].startswith(start), lines[0]
    assert lines[0].endswith(f"(see gansearch {command} --help)" if command else "(see gansearch --help)")
    assert r.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_no_arguments_prints_help_and_exits_0() -> None:
    r = subprocess.run([EXE], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "Usage: gansearch" in r.stdout and "Commands" in r.stdout


def test_version_prints_the_package_version_and_exits_0() -> None:
    import gansearch

    r = subprocess.run([EXE, "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == f"gansearch {gansearch.__version__}" and r.stderr == ""
    r = subprocess.run([EXE, "--show-completion", "bash"], capture_output=True, text=True, timeout=60,
                       env={**__import__("os").environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert r.returncode == 0 and "gansearch" in r.stdout  # a completion script for the shell


@pytest.mark.parametrize("command", ["init", "validate", "train", "run", "ui", "report", "export", "sample"])
def test_each_help_ends_with_an_example_that_parses(command: str, tmp_path: Path) -> None:
    """The example at the end of each --help names the command and its options parse: run with --help
    appended, click checks every option before it prints help, so a renamed flag fails here."""
    from gansearch.cli.main import EXAMPLES

    r = subprocess.run([EXE, command, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "Example: gansearch" in r.stdout and f"gansearch {command}" in r.stdout
    args = EXAMPLES[command].removeprefix("Example: gansearch ").split()
    r = subprocess.run([EXE, *args, "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0 and "Usage: gansearch" in r.stdout, r.stderr


def test_log_level_reaches_the_drivers_loggers() -> None:
    code = ("import logging, sys; from gansearch.cli.main import main; main(sys.argv[1:])\n"
            "print(logging.getLogger('ray').level, logging.getLogger('gansearch').level)")
    r = subprocess.run([sys.executable, "-c", code, "--log-level", "debug", "validate", DIGITS],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "10 10"  # logging.DEBUG for both


def test_init_writes_each_shipped_example(tmp_path: Path) -> None:
    """`gansearch init NAME` writes the example the package ships (the same bytes as the repository's
    search_spaces/, which links to it), refuses to overwrite without --force, and an unknown name is one
    line listing the valid ones, exit 2."""
    from gansearch.config import examples

    root = Path(__file__).resolve().parents[1]
    assert examples.names() == sorted(p.stem for p in (root / "search_spaces").glob("*.yaml"))
    for name in examples.names():
        path = examples.write(name, tmp_path / "all")
        assert path.read_bytes() == (root / "search_spaces" / f"{name}.yaml").read_bytes()
    r = subprocess.run([EXE, "init"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "digits.yaml").exists() and "gansearch run digits.yaml" in r.stdout
    (tmp_path / "digits.yaml").write_text("# mine\n")
    r = subprocess.run([EXE, "init", "digits"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "--force" in r.stderr
    assert (tmp_path / "digits.yaml").read_text() == "# mine\n"
    r = subprocess.run([EXE, "init", "digits", "--force"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "digits.yaml").read_text() == examples.text("digits")
    r = subprocess.run([EXE, "init", "stylegan"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("NAME: must be one of the shipped example spaces (cifar10, digits,") and "'stylegan'" in r.stderr
