"""The example space files shipped inside the package (gansearch/config/spaces; the repository's
`search_spaces/` is a link to the same folder), so a `pip install gansearch` user can start from one:
`gansearch init digits` writes digits.yaml to the current folder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from gansearch.errors import ConfigError


def names() -> list[str]:
    """Every shipped example, by the name `gansearch init` takes (the file name without .yaml)."""
    folder = resources.files("gansearch.config").joinpath("spaces")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def text(name: str) -> str:
    if name not in names():
        raise ConfigError("NAME", "must be one of the shipped example spaces (" + ", ".join(names()) + ")", name)
    return resources.files("gansearch.config").joinpath("spaces", f"{name}.yaml").read_text()


def write(name: str, folder: Path, force: bool = False) -> Path:
    """Write example `name` as folder/<name>.yaml; an existing file is kept unless `force`."""
    body = text(name)
    path = Path(folder) / f"{name}.yaml"
    if path.exists() and not force:
        raise ConfigError("NAME", "must not name a file that exists (pass --force to overwrite)", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path
