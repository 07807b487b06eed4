"""`gansearch ui STUDY_DIR`: the MLflow UI for a study's store, on 127.0.0.1."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Callable

from gansearch.config import layout
from gansearch.errors import ConfigError


def serve_study(study_dir: Path, port: int | None = None, echo: Callable[[str], None] = print) -> None:
    from gansearch.tracking import conventions as cv
    from gansearch.tracking.server import start_server, stop_server, wait_ready

    meta_path = Path(study_dir) / layout.STUDY_JSON
    if not meta_path.exists():
        raise ConfigError("STUDY_DIR", "must be a study folder made by `gansearch run` (no study.json)", str(study_dir))
    meta = json.loads(meta_path.read_text())
    uri = meta["tracking_uri"]
    if not uri.startswith("sqlite"):
        echo(f"this study logs to {uri}: open {uri}/#/experiments/{meta['experiment_id']}/runs")
        return
    proc, url = start_server(uri, cv.artifact_root(study_dir), port)
    # SIGTERM (a service manager, `timeout`) must stop the server's process group too, not orphan it
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        wait_ready(url, proc)
        echo(f"MLflow UI: {url}/#/experiments/{meta['experiment_id']}/runs   (Ctrl-C to stop)")
        proc.wait()
    finally:
        stop_server(proc)
        signal.signal(signal.SIGTERM, previous)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
