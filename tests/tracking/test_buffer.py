"""The MLflow call buffer against a real `mlflow server` that is stopped and started again on its port:
calls made while it is down are kept on disk, fail fast, and reach the server once, in order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _start(tmp: Path, port: int | None = None):
    from gansearch.tracking.server import start_server, wait_ready

    proc, url = start_server(f"sqlite:///{tmp / 'mlflow.db'}", str(tmp / "artifacts"), port, tmp / "server.log")
    wait_ready(url, proc, timeout=180)
    return proc, url


def test_buffer_survives_a_server_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    from gansearch.tracking import runs
    from gansearch.tracking.buffer import BUFFER, FILES, CallBuffer, unreachable
    from gansearch.tracking.server import stop_server

    proc, url = _start(tmp_path)
    port = int(url.rsplit(":", 1)[1])
    try:
        exp = runs.ensure_experiment(url, "buffer", None)
        parent = runs.start_study_run(url, exp, "buffer", {"a": 1}, None)
        trial = tmp_path / "trials" / "trial-0000"
        run = runs.TrialRun(url, exp, parent, "trial-0000", {"lr_g": 0.1}, trial_dir=trial)
        grid = trial / "samples" / "step_0.png"
        grid.parent.mkdir(parents=True)
        grid.write_bytes(b"png-0")
        assert run.log_eval({"step": 0, "fid": 5.0, "diverged": 0.0, "grid": "samples/step_0.png"}, trial)
        assert not (trial / BUFFER).exists()

        stop_server(proc)
        attempts: list[str] = []  # calls that reached the network layer (counted, not timed)
        for name in ("log_batch", "log_artifact"):
            real = getattr(run.c, name)
            setattr(run.c, name, lambda *a, _n=name, _r=real, **k: attempts.append(_n) or _r(*a, **k))
        run.log_eval({"step": 10, "fid": 4.0, "diverged": 0.0}, trial)
        assert attempts == ["log_batch"]  # one try (MLflow's own retries cut to one), then kept on disk
        grid.write_bytes(b"png-10")  # the file changes after it was buffered: the buffer kept its copy
        run.log_value_checkpoint("fid", 4.0, "min", grid)
        grid.write_bytes(b"changed")
        run.log_eval({"step": 20, "fid": 3.0, "diverged": 0.0}, trial)
        assert attempts == ["log_batch"]  # paused after a failure: the next calls don't knock at all
        assert run.buffer.pending() == 3 and len(list((trial / FILES).glob("*/*"))) == 1
        # the driver closes the run while the server is down: the close is kept after the trial's calls
        assert runs.close_trial_run(url, exp, parent, "trial-0000", "completed", trial_dir=trial, timeout_s=2) is None
        assert run.buffer.pending() == 4
        assert runs.flush_study(tmp_path, url, exp, parent) == {"trial-0000": 4}  # still down: nothing lost

        proc, url2 = _start(tmp_path, port)  # same port, same store
        assert url2 == url
        left = runs.flush_study(tmp_path, url, exp, parent, timeout_s=30)
        assert left == {"trial-0000": 0}
        assert not (trial / BUFFER).exists() and not (trial / FILES).exists()

        c = runs.client(url)
        r = c.get_run(run.run_id)
        assert [m.step for m in c.get_metric_history(run.run_id, "fid")] == [0, 10, 20]
        assert r.data.tags["status"] == "completed" and r.info.status == "FINISHED"
        assert r.data.params["lr_g"] == "0.1"
        arts = {a.path for a in c.list_artifacts(run.run_id, "checkpoint")}
        assert arts == {"checkpoint/step_0.png"}
        got = Path(c.download_artifacts(run.run_id, "checkpoint/step_0.png", str(tmp_path / "dl")))
        assert got.read_bytes() == b"png-10"

        # a replayed batch (crash between sending it and forgetting it) is the same row, not a second one
        args = runs.batch_args(run.run_id, {"kid": 0.5}, 30)
        buf = CallBuffer(tmp_path / "other", c)
        assert buf.call("log_batch", **args) and buf.call("log_batch", **args)
        assert [m.step for m in c.get_metric_history(run.run_id, "kid")] == [30]
        # a call the server refuses is an error, not something to keep
        with pytest.raises(Exception) as e:
            buf.call("set_tag", run_id="0" * 32, key="k", value="v")
        assert not unreachable(e.value) and buf.pending() == 0
    finally:
        stop_server(proc)


def test_trial_start_waits_for_the_server_then_gives_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A trial starting while the server is down retries for GANSEARCH_TRACKING_WAIT_S, then raises (Tune's
    max_failures restarts it later)."""
    monkeypatch.setenv("GANSEARCH_TRACKING_WAIT_S", "20")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    from gansearch.tracking import runs
    from gansearch.tracking.buffer import unreachable
    from gansearch.tracking.server import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens

    class Clock:  # runs' own clock, advanced by its sleeps: the backoff is counted, not waited for
        now = 0.0

        def monotonic(self) -> float:
            return self.now

        def sleep(self, s: float) -> None:
            sleeps.append(s)
            self.now += s

    sleeps: list[float] = []
    monkeypatch.setattr(runs, "time", Clock())
    with pytest.raises(Exception) as e:
        runs.TrialRun(url, "1", "p" * 32, "trial-0000", {}, trial_dir=tmp_path / "t")
    assert unreachable(e.value)
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 5.0]  # tries at 0, 1, 3, 7, 15 and 20 s of its 20: doubling, then it gives up
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "1"
