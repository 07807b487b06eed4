"""manifest.json: what an export holds, with the sha256 of every file, and the check `sample` makes.

The manifest sits at the export root; a trial folder is checked against its parent's manifest, so a
swapped or corrupted weights file is refused before it is loaded.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from gansearch.errors import ConfigError

MANIFEST = "manifest.json"
FORMAT = 1
CHECKED = ("generator.safetensors", "config.json")  # what rendering reads


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by its path relative to it (posix, sorted)."""
    return {p.relative_to(folder).as_posix(): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def write(root: Path, study: Mapping[str, Any], trials: list[Mapping[str, Any]]) -> Path:
    """`trials`: dicts with at least `folder`; each gets the hashes of its folder's files."""
    import torch

    import gansearch

    body = {
        "format": FORMAT,
        **study,
        "gansearch_version": gansearch.__version__,
        "torch_version": torch.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "trials": [{**t, "files": file_hashes(root / t["folder"])} for t in trials],
    }
    path = root / MANIFEST
    path.write_text(json.dumps(body, indent=2))
    return path


def resolve(export_dir: Path) -> tuple[Path, dict[str, Any]]:
    """(trial folder, its manifest entry) for an export root (rank 1) or one trial folder of it."""
    export_dir = Path(export_dir)
    if not export_dir.is_dir():
        raise ConfigError("EXPORT_DIR", "must be a folder made by `gansearch export`", str(export_dir))
    if (export_dir / MANIFEST).is_file():
        root, manifest = export_dir, _read(export_dir / MANIFEST)
        if not manifest.get("trials"):
            raise ConfigError(str(export_dir / MANIFEST), "must list at least one trial", manifest.get("trials"))
        entry = min(manifest["trials"], key=lambda t: t["rank"])
        return root / entry["folder"], entry
    root = export_dir.resolve().parent
    if not (root / MANIFEST).is_file():
        raise ConfigError("EXPORT_DIR", f"must be an export root or a trial folder inside one (no {MANIFEST} "
                          "here or in the parent: copy the whole export)", str(export_dir))
    manifest = _read(root / MANIFEST)
    for entry in manifest.get("trials", []):
        if entry["folder"] == export_dir.resolve().name:
            return export_dir, entry
    raise ConfigError(str(root / MANIFEST), "must list the trial folder", export_dir.resolve().name)


def verify(folder: Path, entry: Mapping[str, Any], names: tuple[str, ...] = CHECKED) -> None:
    """Refuse a file whose sha256 differs from the manifest's (or that the manifest doesn't list)."""
    files = entry.get("files", {})
    for name in names:
        path = folder / name
        if not path.is_file():
            raise ConfigError(str(path), "must exist (listed in the manifest)", None, show_value=False)
        expected = files.get(name)
        actual = sha256(path)
        if expected != actual:
            raise ConfigError(str(path), f"sha256 must match the manifest ({expected})", actual)


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(str(path), "must be valid JSON", str(e)) from None
