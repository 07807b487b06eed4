"""Property: whatever a user (or a fuzzer) does to a valid space file, `gansearch run --dry-run` and
`gansearch validate` end in exit 0, or exit 2 with one line per problem in the `<field>: <rule>, got
<value>` form — never a traceback, never a started Ray.

Mutations: values of other types, huge/negative/non-finite numbers, deleted/renamed/unknown keys,
deeper nesting, YAML syntax damage, non-UTF-8 bytes. `--dry-run` runs every check `gansearch run`
makes before Ray starts (schema, names, `when`, search plan, data present) and writes nothing.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gansearch.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
# The files a user starts from (cifar10/image-folder/mnist need user data: they still must fail cleanly).
BASES = {p.name: p.read_text() for p in sorted((ROOT / "search_spaces").glob("*.yaml"))}
BASES["tiny.yaml"] = (ROOT / "tests" / "search" / "tiny.yaml").read_text()
EXAMPLES = 500

# One problem per line: a field path (or a file/option), a colon, the rule. No Python exception text.
ERROR_LINE = re.compile(r"^[^\s:].{0,300}?: .+")
PYTHON_NOISE = ("Traceback", 'File "', "Error(", "pydantic_core", "raise ")

SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63), 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-300, 1e300, -0.0, 5e-324]),
    st.text(max_size=12),
    st.sampled_from(["", "1e-4", "none", "auto", "ttur", "fid", "max", "~", "null", "yes", "0x10", ".inf"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _parent(tree: Any, path: tuple) -> Any:
    for k in path[:-1]:
        tree = tree[k]
    return tree


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(sorted(BASES)))
    text = BASES[name]
    kind = draw(st.sampled_from(["value", "value", "value", "delete", "rename", "add", "nest", "syntax", "bytes", "several"]))
    if kind in ("syntax", "bytes"):
        raw = text.encode()
        pos = draw(st.integers(0, len(raw)))
        if kind == "bytes":
            junk = draw(st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\x80", b"\xed\xa0\x80", b"\x00", b"\xf0\x28\x8c\xbc"]))
        else:
            junk = draw(st.sampled_from([b":", b"[", b"{", b"}", b"\t", b"- ", b"&a ", b"*b", b"!!python/object:os.system ",
                                         b"'", b'"', b"\n  x", b"%YAML 9.9\n", b"---\n", b"? "]))
        cut = draw(st.booleans())
        return raw[:pos] + junk + (b"" if cut and draw(st.booleans()) else raw[pos:])
    tree = yaml.safe_load(text)
    for _ in range(draw(st.integers(2, 4)) if kind == "several" else 1):
        paths = _paths(tree)
        path = draw(st.sampled_from(paths))
        parent = _parent(tree, path)
        op = draw(st.sampled_from(["value", "delete", "rename", "add", "nest"])) if kind == "several" else kind
        if op == "value":
            parent[path[-1]] = draw(VALUES)
        elif op == "delete":
            del parent[path[-1]]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = parent.pop(path[-1])
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "lr", "stepz", "when", "type", "choices", "space", "search"]))] = draw(VALUES)
        elif op == "nest":
            parent[path[-1]] = {"value": parent[path[-1]]} if draw(st.booleans()) else [parent[path[-1]]]
        if not isinstance(tree, dict):
            break
    return yaml.safe_dump(tree, allow_unicode=True).encode() if draw(st.booleans()) else yaml.dump(tree).encode()


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as e:
            code = e.code
    return (code if isinstance(code, int) else 1), out.getvalue(), err.getvalue()


def _ray_started() -> bool:
    import sys

    ray = sys.modules.get("ray")
    return bool(ray is not None and getattr(ray, "is_initialized", lambda: False)())


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(body=mutated(), command=st.sampled_from(["run", "validate"]))
def test_mutated_space_files_end_cleanly(tmp_path: Path, body: bytes, command: str) -> None:
    ray_before = _ray_started()
    space = tmp_path / "space.yaml"
    space.write_bytes(body)
    study = tmp_path / "study-never-created"
    argv = [command, str(space)] + (["--dry-run", "--out", str(study)] if command == "run" else [])
    code, out, err = _run(argv)
    assert code in (0, 2), (code, body[:300], err[-800:])
    assert not any(n in err for n in PYTHON_NOISE), err[-800:]
    assert not study.exists()  # a dry run writes nothing
    assert _ray_started() == ray_before  # no Ray started by checking a file
    if code == 2:
        lines = [x for x in err.splitlines() if x.strip()]
        assert lines, "exit 2 without a message"
        bad = [x for x in lines if not ERROR_LINE.match(x)]
        assert not bad, bad
    else:
        assert out.strip(), "exit 0 must say what it checked"


@pytest.mark.parametrize("junk", [b"\xff\xfe\x00", b"train: {steps: \x80}\n", b"space: {lr_g: [[[[[[[[[[[[1]]]]]]]]]]]]}\n"])
def test_hand_picked_bytes(tmp_path: Path, junk: bytes) -> None:
    space = tmp_path / "s.yaml"
    space.write_bytes(junk)
    code, _, err = _run(["run", str(space), "--dry-run", "--out", str(tmp_path / "s")])
    assert code == 2 and len(err.strip().splitlines()) == 1 and ERROR_LINE.match(err), err
