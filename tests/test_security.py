"""Security defaults: loopback servers, telemetry off, no code-running loads, no secrets in the record.

The source checks read the package's syntax tree, so a new `torch.load` without `weights_only=True`
or a `yaml.load` with an unsafe loader fails here. A wrong password for a real basic-auth
`mlflow server` on 127.0.0.1 is refused before any trial; the study with the right one (and the search
for the password everywhere it could leak) is in tests/search/test_faults.py.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from gansearch.tracking.conventions import redact_uri

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "gansearch"
SOURCES = sorted(PKG.rglob("*.py"))


def _calls(name: str) -> list[tuple[Path, ast.Call]]:
    """Every call whose dotted name ends with `name` (e.g. "torch.load", "yaml.load")."""
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                f = node.func
                dotted = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                    dotted = f"{f.value.id}.{f.attr}"
                if dotted == name:
                    found.append((path, node))
    return found


def _kw(call: ast.Call, key: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == key), None)


def test_torch_load_always_weights_only() -> None:
    calls = _calls("torch.load")
    assert calls, "the checkpoint loader uses torch.load; this test must see it"
    for path, call in calls:
        v = _kw(call, "weights_only")
        assert isinstance(v, ast.Constant) and v.value is True, f"{path}:{call.lineno}: torch.load without weights_only=True"


def test_yaml_loaded_safely() -> None:
    import importlib

    import yaml

    assert not _calls("yaml.unsafe_load") and not _calls("yaml.full_load")
    for path, call in _calls("yaml.load"):
        loader = _kw(call, "Loader")
        assert isinstance(loader, ast.Name), f"{path}:{call.lineno}: yaml.load needs an explicit safe Loader"
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        cls = getattr(module, loader.id, None) or getattr(yaml, loader.id, None)
        assert cls is not None and issubclass(cls, yaml.SafeLoader), f"{path}:{call.lineno}: {loader.id} is not a SafeLoader"


def test_yaml_python_tags_refused(tmp_path: Path) -> None:
    from gansearch.config import load
    from gansearch.errors import GansearchError

    marker = tmp_path / "pwned"
    space = tmp_path / "evil.yaml"
    space.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(GansearchError):
        load(space, [])
    assert not marker.exists()


def test_no_plain_pickle_loads() -> None:
    """The only unpickling is CIFAR's batch format, through an unpickler that builds arrays only."""
    assert not _calls("pickle.load") and not _calls("pickle.loads")
    from gansearch.data.cifar import read_batches
    from gansearch.errors import GansearchError

    class Evil:
        def __reduce__(self):  # type: ignore[override]
            return (os.system, ("true",))

    import tempfile

    batch = Path(tempfile.mkdtemp()) / "data_batch_1"
    batch.write_bytes(pickle.dumps({"data": Evil(), "labels": [0]}))
    with pytest.raises(GansearchError, match="refusing"):
        read_batches([batch])


def test_servers_bind_loopback() -> None:
    from gansearch.tracking.server import server_command

    cmd = server_command("sqlite:///x.db", None, 5000)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    for path in SOURCES:
        assert "0.0.0.0" not in path.read_text(), f"{path}: binds every interface"


def test_telemetry_off_for_every_process() -> None:
    code = ("import os, json; from gansearch.search.study import study_env; study_env(); "
            "print(json.dumps({k: os.environ.get(k) for k in ('RAY_USAGE_STATS_ENABLED', 'MLFLOW_DISABLE_TELEMETRY')}))")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_USAGE_STATS_ENABLED", "MLFLOW_DISABLE_TELEMETRY")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert json.loads(out) == {"RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true"}


@pytest.mark.parametrize("uri, shown", [
    ("http://alice:s3cr3t@127.0.0.1:5000", "http://alice:***@127.0.0.1:5000"),
    ("https://alice:p%40ss@mlflow.internal/path", "https://alice:***@mlflow.internal/path"),
    ("postgresql://u:pw@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
])
def test_redact_uri(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown


@pytest.mark.slow
def test_wrong_password_refused_in_one_line_before_any_trial(tmp_path: Path) -> None:
    """A wrong password in `--tracking-uri` (against MLflow's basic-auth app) is refused in one line before
    Ray starts or anything is written, and the line shows neither password. The right password's study,
    and the check that it is nowhere in the record, is
    tests/search/test_faults.py::test_tracking_server_restart_mid_search_with_a_password."""
    import shutil
    import tempfile

    from mlflow.tracking import MlflowClient

    from gansearch.tracking.server import stop_server
    sys.path.insert(0, str(ROOT / "tests" / "search"))
    from study_helpers import AUTH_SECRET, DIGITS, basic_auth_server, cache_dir, with_password

    proc, url = basic_auth_server(tmp_path)
    ray_tmp = Path(tempfile.mkdtemp(prefix="gsr-"))  # short: Ray's socket paths must fit in 107 bytes
    env = {**os.environ, "GANSEARCH_CACHE_DIR": cache_dir(), "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": str(ray_tmp)}
    for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(k, None)
    try:
        # the auth app is really on: no credentials, no API
        with pytest.raises(Exception, match="401|Unauthorized|credentials"):
            MlflowClient(tracking_uri=url).search_experiments()
        wrong = subprocess.run([sys.executable, "-m", "gansearch", "run", str(DIGITS), "--out", str(tmp_path / "wrong"),
                                "--tracking-uri", with_password(url, "not-" + AUTH_SECRET)],
                               capture_output=True, text=True, env=env, timeout=600)
        lines = wrong.stderr.strip().splitlines()
        assert wrong.returncode == 2 and len(lines) == 1, wrong.stderr[-2000:]
        assert lines[0].startswith("--tracking-uri: must accept this process's credentials (user 'alice'")
        assert "401" in lines[0] and AUTH_SECRET not in wrong.stderr + wrong.stdout
        assert not (tmp_path / "wrong").exists() and not list(ray_tmp.glob("**/session_*"))  # no Ray started
    finally:
        stop_server(proc)
        shutil.rmtree(ray_tmp, ignore_errors=True)
