"""`gansearch ui STUDY_DIR` serves the study's store on 127.0.0.1 and takes its server down on SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _serving(study: Path) -> list[int]:
    """Live processes whose command line names this study's folder: the UI and its server's workers."""
    alive = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(study) in cmd and state != "Z":
            alive.append(int(proc.name))
    return alive


def test_ui_serves_study_and_stops_on_sigterm(tmp_path: Path) -> None:
    from gansearch.tracking import conventions as cv
    from gansearch.tracking import runs

    study = tmp_path / "study"
    study.mkdir()
    uri = cv.default_store_uri(study)
    exp = runs.ensure_experiment(uri, "gansearch:ui-test", cv.artifact_root(study))
    (study / "study.json").write_text(json.dumps({"tracking_uri": uri, "experiment_id": exp}))
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "HOME": str(tmp_path)}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("gansearch")), "ui", str(study)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()  # a reader thread: a blocked readline can't outlive the deadline
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        url, deadline = None, time.monotonic() + 180
        while url is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            m = re.search(r"MLflow UI: (http://127\.0\.0\.1:\d+)/#/experiments/(\d+)/runs", line)
            if m:
                url = m.group(1)
                assert m.group(2) == str(exp)
        assert url, "the UI never said where it serves"
        with urllib.request.urlopen(url + "/health", timeout=10) as r:
            assert r.status == 200
        assert len(_serving(study)) >= 2, "the UI and its server"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 30
        while _serving(study) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _serving(study), "the MLflow server outlived `gansearch ui`"
    finally:  # whatever is left, with its whole process group (the server's workers don't name the study)
        for pid in _serving(study):
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
