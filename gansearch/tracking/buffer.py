"""MLflow calls the tracking server could not take, kept on disk in order and replayed when it is back.

A trial must keep training while an `mlflow server` restarts: a call that fails with a connection
error (refused, timed out, 5xx after retries) is appended to `trials/<key>/mlflow-buffer.jsonl`, and
every later call first replays what is pending, in order. Replays are idempotent: a metric keeps the
timestamp it was first logged with, so a batch sent twice (crash between sending and forgetting it) is
the same row to the store; tags, params, artifacts and run states are overwrites. An artifact is copied
next to the buffer when buffered (a best checkpoint is overwritten by the next one).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from gansearch.config import layout
from gansearch.files import atomic_write_text

BUFFER = layout.MLFLOW_BUFFER
FILES = "mlflow-buffer-files"
MAX_BATCH = 1000  # MLflow's limit of metrics per log_batch (params: 100)
# MLflow retries a refused connection for minutes by default (7 retries, backoff factor 2, 120 s
# timeout); a trial would stall its training that long at every evaluation.
HTTP_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
            "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}

Op = Callable[[Any, Mapping[str, Any]], None]


def short_http_retries() -> None:
    """Fail fast on a down server (the buffer keeps the call) unless the user chose other values."""
    for k, v in HTTP_ENV.items():
        os.environ.setdefault(k, v)


def unreachable(e: BaseException) -> bool:
    """True when the call failed because the server could not be reached (worth buffering), not because
    it refused the call (a bad request is a bug, and replaying it would fail forever)."""
    import requests

    seen: BaseException | None = e
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                             requests.exceptions.RetryError, ConnectionError, TimeoutError)):
            return True
        msg = str(seen)
        if "API request to" in msg and ("failed with exception" in msg or "failed with timeout" in msg):
            return True  # MLflow's wrapper of a requests error
        seen = seen.__cause__ or seen.__context__
    return False


def send_batch(c: Any, run_id: str, metrics: Sequence[Sequence[Any]] = (), params: Sequence[Sequence[str]] = (),
               tags: Sequence[Sequence[str]] = ()) -> None:
    """Metrics as (key, value, timestamp_ms, step), params and tags as (key, value), in MLflow-sized chunks."""
    from mlflow.entities import Metric, Param, RunTag

    ms = [Metric(k, float(v), int(ts), int(s)) for k, v, ts, s in metrics]
    ps = [Param(k, v) for k, v in params]
    ts_ = [RunTag(k, v) for k, v in tags]
    for i in range(0, max(len(ms), 1), MAX_BATCH):
        c.log_batch(run_id, metrics=ms[i : i + MAX_BATCH], params=ps[:100] if i == 0 else [], tags=ts_ if i == 0 else [])
    for i in range(100, len(ps), 100):
        c.log_batch(run_id, params=ps[i : i + 100])


OPS: dict[str, Op] = {
    "log_batch": lambda c, a: send_batch(c, a["run_id"], a.get("metrics", ()), a.get("params", ()), a.get("tags", ())),
    "log_artifact": lambda c, a: c.log_artifact(a["run_id"], a["path"], a.get("artifact_path")),
    "set_tag": lambda c, a: c.set_tag(a["run_id"], a["key"], a["value"]),
    "set_terminated": lambda c, a: c.set_terminated(a["run_id"], a["status"]),
}


class CallBuffer:
    """One trial's pending calls. `call` does a call now or keeps it; `flush` replays what is kept."""

    def __init__(self, folder: Path, client: Any, ops: Mapping[str, Op] | None = None, retry_after_s: float = 5.0) -> None:
        self.folder = Path(folder)
        self.path = self.folder / BUFFER
        self.c = client
        self.ops = {**OPS, **(ops or {})}
        self.retry_after_s = retry_after_s  # after a failure, don't knock again for this long
        self._down_until = 0.0

    def pending(self) -> int:
        return len(self._read())

    def call(self, op: str, **args: Any) -> bool:
        """Do `op` now (after what is pending), or keep it on disk if the server is unreachable.
        True when it reached the server."""
        with self._lock():
            if self._flush_locked() and time.monotonic() >= self._down_until:
                try:
                    self.ops[op](self.c, args)
                    return True
                except Exception as e:
                    if not unreachable(e):
                        raise
                    self._down_until = time.monotonic() + self.retry_after_s
            self._append(op, args)
            return False

    def flush(self, force: bool = False) -> bool:
        """Replay pending calls in order; True when none is left. `force` ignores the pause after a failure."""
        with self._lock():
            if force:
                self._down_until = 0.0
            return self._flush_locked()

    def flush_until(self, timeout_s: float, first_wait_s: float = 1.0) -> bool:
        """Retry with backoff (1, 2, 4 .. 15 s) for up to `timeout_s`; True when everything went through."""
        deadline = time.monotonic() + timeout_s
        wait = first_wait_s
        while True:
            if self.flush(force=True):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(wait, left))
            wait = min(wait * 2, 15.0)

    # ---- on disk -------------------------------------------------------------------------------
    def _flush_locked(self) -> bool:
        entries = self._read()
        if not entries:
            return True
        if time.monotonic() < self._down_until:
            return False
        while entries:
            op, args = entries[0]["op"], entries[0]["args"]
            try:
                self.ops[op](self.c, args)
            except Exception as e:
                if not unreachable(e):
                    raise
                self._down_until = time.monotonic() + self.retry_after_s
                return False
            entries.pop(0)
            self._write(entries)  # forget it only once it went through
            if op == "log_artifact" and Path(args["path"]).is_relative_to(self.folder / FILES):
                shutil.rmtree(Path(args["path"]).parent, ignore_errors=True)
        return True

    def _append(self, op: str, args: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if op == "log_artifact":  # keep the file as it is now
            dst = self.folder / FILES / f"{time.time_ns()}" / Path(args["path"]).name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(args["path"], dst)
            args = {**args, "path": str(dst)}
        with self.path.open("a") as f:
            f.write(json.dumps({"op": op, "args": args}) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(x) for x in self.path.read_text().splitlines() if x.strip()]

    def _write(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            self.path.unlink(missing_ok=True)
            shutil.rmtree(self.folder / FILES, ignore_errors=True)
            return
        atomic_write_text(self.path, "".join(json.dumps(e) + "\n" for e in entries))

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """The trial's worker and the driver's close may both replay one buffer: one at a time."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".mlflow-buffer.lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
