"""Fault injection, for the crash tests only: make one trial fail at a named point, once.

`GANSEARCH_FAULT=<action>:<point>@<step>[:<trial key>]`, e.g. `kill:after_checkpoint@10:trial-0000`
(several, comma-separated, each happening once):
- kill: SIGKILL the trial's worker (Tune restarts the trial from its checkpoint);
- raise: raise an exception in the trial (it ends failed; the study goes on);
- pause: write `.fault-paused-<step>` in the trial folder and wait until a file `.fault-release` appears
  there (a test changes the world, e.g. stops the tracking server, at a known point of the trial).
`point` is after_checkpoint (the evaluation's checkpoint is written, nothing logged yet) or after_log (its
MLflow batch is sent). A marker file in the trial folder makes a fault happen once, so a restarted trial
runs through. Unset, as always outside tests, it costs one dict lookup. A test that needs "killed between
writing the checkpoint and logging the evaluation" gets exactly that, instead of hoping that a timed kill
lands in a millisecond window.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

ENV = "GANSEARCH_FAULT"
ACTIONS = ("kill", "raise", "pause")
POINTS = ("after_checkpoint", "after_log")
RELEASE = ".fault-release"


class InjectedFault(RuntimeError):
    """What `raise` raises: a trial that fails for a reason the test chose."""


def maybe_fail(point: str, step: int, run_dir: Path) -> None:
    specs = os.environ.get(ENV)
    if not specs:
        return
    for spec in specs.split(","):
        _one(spec.strip(), point, step, run_dir)


def _one(spec: str, point: str, step: int, run_dir: Path) -> None:
    action, _, rest = spec.partition(":")
    where, _, rest = rest.partition("@")
    at, _, key = rest.partition(":")
    if action not in ACTIONS or where != point or not at.isdigit() or int(at) != step or (key and key != run_dir.name):
        return
    marker = run_dir / f".fault-{action}-{point}-{step}"
    if marker.exists():
        return
    marker.write_text(f"{spec}\npid {os.getpid()}\n")  # which process the fault hit
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "raise":
        raise InjectedFault(f"{ENV}={spec}")
    else:
        (run_dir / f".fault-paused-{step}").write_text(f"{spec}\n")
        deadline = time.monotonic() + 600
        while not (run_dir / RELEASE).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
