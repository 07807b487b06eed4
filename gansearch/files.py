"""Atomic file writes: a reader never sees half a file, and a crash never leaves a torn one.

Run folders, checkpoints and the feature cache are read while they are written (the search polls a trial's
files, a resumed run reads its checkpoint, concurrent trials share one cache), so every such write goes to
a temporary file beside the target, is flushed to disk (fsync), then renamed over it (`os.replace`, atomic
on POSIX and Windows). The temporary file gets the permissions a plain `open()` gives (0o666 less the
umask), not tempfile.mkstemp's owner-only 0o600. Standard library only: every layer may import it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import BinaryIO, Iterator


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write `path`'s new content into; on a clean exit it is flushed, fsynced and
    renamed over `path`; on an exception it is removed and `path` is left as it was.

    Creates the parent folders. For writers that take a file object, e.g. `torch.save(state, f)`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:  # a unique name beside the target: concurrent writers never share a temp file
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` with `data` atomically (see `atomic_open`)."""
    with atomic_open(path) as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Replace `path` with `text` atomically (see `atomic_open`)."""
    atomic_write_bytes(path, text.encode(encoding))
