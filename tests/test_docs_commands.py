"""The README and docs/ can't drift from the CLI: every `gansearch` command in a fenced shell block is
parsed by the real click command with `--help` appended (click rejects an unknown option or a missing value
before it prints help), its `--set` items and space file go through the space-file validator where the file
is one the repository ships, every complete space file in a yaml block validates, every `make` target
exists, and every relative link of the README points at a file. In-process: the whole file takes seconds."""

from __future__ import annotations

import contextlib
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
import yaml

from gansearch.errors import ConfigErrors

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"bash", "sh", "shell", "console", ""}
COMMANDS = ("init", "validate", "train", "run", "ui", "report", "export", "sample")
OPERATORS = {"&&", "||", ";", "|", "&"}


@dataclass(frozen=True)
class Command:
    where: str  # page:line
    argv: tuple[str, ...]  # after `gansearch`
    env: tuple[tuple[str, str], ...]


def blocks(page: Path) -> list[tuple[str, int, list[str]]]:
    """(language, first line number, lines) of each fenced block."""
    out, lang, start, body = [], None, 0, []
    for n, line in enumerate(page.read_text().splitlines(), 1):
        fence = re.match(r"^\s*```(\w*)\s*$", line)
        if fence and lang is None:
            lang, start, body = fence.group(1), n + 1, []
        elif fence:
            out.append((lang, start, body))
            lang = None
        elif lang is not None:
            body.append(line)
    assert lang is None, f"{page.name}: a code block opened at line {start} is never closed"
    return out


def expand(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{?([A-Za-z_]\w*)\}?", lambda m: variables.get(m.group(1), m.group(0)), text)


def gansearch_commands(line: str, where: str, variables: dict[str, str]) -> list[Command]:
    """The gansearch commands of one shell line, including those inside quoted strings (`ray exec '...'`)."""
    try:
        tokens = shlex.split(expand(line, variables), comments=True)
    except ValueError as e:
        raise AssertionError(f"{where}: the shell line does not parse ({e}): {line}") from None
    found, simple = [], []
    for tok in [*tokens, ";"]:
        if tok not in OPERATORS:
            simple.append(tok)
            continue
        found += _one(simple, where, variables)
        simple = []
    return found


def _one(tokens: list[str], where: str, variables: dict[str, str]) -> list[Command]:
    found = []
    for i, tok in enumerate(tokens):
        if tok == "gansearch" or tok.endswith("/bin/gansearch"):
            env = tuple(tuple(t.split("=", 1)) for t in tokens[:i] if re.match(r"^[A-Z_][A-Z0-9_]*=", t))
            args = []
            for a in tokens[i + 1:]:
                if re.match(r"^\d?[<>]", a):  # a redirection ends the arguments
                    break
                args.append(a)
            return [*found, Command(where, tuple(args), env)]
        if " " in tok and "gansearch" in tok:  # a quoted command line handed to ray exec, bash -c, ...
            found += gansearch_commands(tok, where, variables)
    return found


def all_commands() -> list[Command]:
    out = []
    for page in PAGES:
        variables: dict[str, str] = {}  # a page sets S='...' in one block and uses $S in later ones
        for lang, start, body in blocks(page):
            if lang not in SHELL:
                continue
            joined, n0 = "", start
            for n, line in enumerate(body, start):
                if not joined:
                    n0 = n
                if line.rstrip().endswith("\\"):
                    joined += line.rstrip()[:-1] + " "
                    continue
                joined += line
                assign = re.match(r"^([A-Za-z_]\w*)=(.*)$", joined.strip())
                if assign and " " not in assign.group(1):
                    variables[assign.group(1)] = " ".join(shlex.split(assign.group(2), comments=True))
                elif "gansearch" in joined:
                    out += gansearch_commands(joined, f"{page.relative_to(ROOT)}:{n0}", variables)
                joined = ""
    return out


COMMANDS_FOUND = all_commands()


def test_the_docs_show_every_command() -> None:
    """The parser found the blocks: every subcommand appears, so an empty scan can't pass the checks below."""
    shown = {c.argv[0] for c in COMMANDS_FOUND if c.argv}
    assert set(COMMANDS) <= shown, f"not shown in any code block: {sorted(set(COMMANDS) - shown)}"
    assert len(COMMANDS_FOUND) >= 40


@pytest.mark.parametrize("cmd", COMMANDS_FOUND, ids=[f"{c.where} {' '.join(c.argv[:2])}" for c in COMMANDS_FOUND])
def test_each_command_parses(cmd: Command) -> None:
    from gansearch.cli.main import app

    assert cmd.argv and cmd.argv[0] in COMMANDS, f"{cmd.where}: {cmd.argv}"
    group = typer.main.get_command(app)
    try:  # the whole command line as click parses it (types, extra arguments, required options), not run
        ctx = group.context_class(group, info_name="gansearch")
        sub = group.get_command(ctx, cmd.argv[0])
        sub.make_context(cmd.argv[0], list(cmd.argv[1:]), parent=ctx)
    except Exception as e:  # click's or typer's vendored click's UsageError
        if not hasattr(e, "format_message"):
            raise
        pytest.fail(f"{cmd.where}: gansearch {' '.join(cmd.argv)}: {e.format_message()}")
    _validate_space(cmd)


def _validate_space(cmd: Command) -> None:
    """`run`/`train`/`validate` of a space file the repository ships (or `gansearch init` writes): the file
    with the command's `--set` items must validate."""
    from gansearch.config import examples
    from gansearch.config.load import load

    if cmd.argv[0] not in ("run", "train", "validate") or len(cmd.argv) < 2:
        return
    space = cmd.argv[1]
    path = ROOT / space
    if not path.is_file() and Path(space).suffix == ".yaml" and Path(space).stem in examples.names():
        path = ROOT / "search_spaces" / Path(space).name  # what `gansearch init NAME` writes
    if not path.is_file():
        return  # a placeholder such as space.yaml: the options were checked above
    sets = [cmd.argv[i + 1] for i, a in enumerate(cmd.argv[:-1]) if a == "--set"]
    with on_path(dict(cmd.env).get("PYTHONPATH")):
        only_data_missing(lambda: load(path, sets), cmd.where)


def only_data_missing(check: Callable[[], object], where: str) -> None:
    """Run a validation; the one error allowed is a data folder this machine lacks (the reader's own)."""
    try:
        check()
    except ConfigErrors as e:
        wrong = [str(err) for err in e.errors if err.path != "data.root"]
        assert not wrong, f"{where}: {'; '.join(wrong)}"


@contextlib.contextmanager
def on_path(pythonpath: str | None) -> Iterator[None]:
    """`PYTHONPATH=examples gansearch ...`: the plug-in imports from the repository's folder of that name."""
    extra = [str(ROOT / p) for p in pythonpath.split(":")] if pythonpath else []
    sys.path[:0] = extra
    try:
        yield
    finally:
        del sys.path[:len(extra)]


def _space_blocks() -> list[tuple[str, dict]]:
    from gansearch.config.load import _Loader
    from gansearch.config.schema import SpaceFile

    out = []
    for page in PAGES:
        for lang, start, body in blocks(page):
            if lang != "yaml":
                continue
            raw = yaml.load("\n".join(body), Loader=_Loader)  # the product's reader (1e-4 is a float)
            if isinstance(raw, dict) and ("space" in raw or "search" in raw) and set(raw) <= set(SpaceFile.model_fields):
                out.append((f"{page.relative_to(ROOT)}:{start}", raw))
    return out


SPACES = _space_blocks()


def test_every_space_file_shown_validates() -> None:
    from gansearch.config.load import validate

    assert len(SPACES) >= 2  # the README's annotated space and the plug-in page's
    for where, raw in SPACES:
        with on_path("examples" if "gansearch_sngan" in str(raw) else None):  # the worked plug-in
            only_data_missing(lambda: validate(raw, where=where), where)


def test_make_targets_and_readme_links_exist() -> None:
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    for page in PAGES:
        for lang, start, body in blocks(page):
            for line in body if lang in SHELL else []:
                for target in re.findall(r"^\s*make ([\w-]+)", line):
                    assert target in targets, f"{page.name}:{start}: make {target} is not a Makefile target"
    readme = (ROOT / "README.md").read_text()
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if "://" not in link:
            assert (ROOT / link).exists(), f"README links to {link}, which does not exist"
