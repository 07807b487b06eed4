"""optuna-dashboard serves a study's Optuna journal offline on 127.0.0.1: the study "gansearch" is listed with
every trial, in the states and values Optuna itself reads from the journal, and the journal is left as it was."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "search"))
from browser import keep_screenshot, page  # noqa: E402
from study_helpers import optuna_trials  # noqa: E402

pytestmark = pytest.mark.slow

WAIT_MS = 60_000


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _wait_listening(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"optuna-dashboard exited with {proc.returncode}")
        try:
            return _get(url + "/api/studies")
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"optuna-dashboard at {url} not ready after {timeout:.0f} s")


def test_optuna_dashboard_lists_study_trials(tiny_study: Path, tmp_path: Path) -> None:
    from gansearch.tracking.server import free_port, stop_server

    journal = tiny_study / "optuna.journal"
    before = hashlib.sha256(journal.read_bytes()).hexdigest()
    expected = {t.number: (t.state.name.capitalize(), t.values) for t in optuna_trials(tiny_study)}
    assert len(expected) == 4
    port = free_port()
    exe = Path(sys.executable).with_name("optuna-dashboard")
    env = {**os.environ, "HOME": str(tmp_path)}  # gunicorn puts its control socket under ~/.gunicorn
    with open(tmp_path / "optuna-dashboard.log", "wb") as log:
        proc = subprocess.Popen([str(exe), str(journal), "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        studies = _wait_listening(url, proc)["study_summaries"]
        assert [(s["study_name"], s["directions"]) for s in studies] == [("gansearch", ["minimize"])]
        study = _get(f"{url}/api/studies/{studies[0]['study_id']}")
        shown = {t["number"]: (t["state"], t["values"]) for t in study["trials"]}
        assert shown == expected
        assert {p["name"] for t in study["trials"] for p in t["params"]} >= {"lr_g", "loss", "balance"}

        with page(height=900) as (pg, _errors):
            pg.set_default_timeout(WAIT_MS)
            pg.goto(f"{url}/dashboard")
            pg.get_by_role("link", name="gansearch").first.click()
            pg.wait_for_url(f"**/studies/{studies[0]['study_id']}**")
            pg.get_by_text("Objective 0").first.wait_for()  # the history plot's axis: the plot is drawn
            shot = tmp_path / "optuna-dashboard.png"
            pg.screenshot(path=str(shot))
            keep_screenshot(shot)
    finally:
        stop_server(proc)
    assert hashlib.sha256(journal.read_bytes()).hexdigest() == before, "the dashboard wrote into the journal"
