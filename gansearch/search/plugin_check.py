"""A plug-in model is checked before any trial: built and run on one batch in the driver before Ray starts,
then on every Ray node (where it may not import, or may import another version). Each way it can break
the contract (not importable, G's output of the wrong shape or outside [-1, 1], D's output of the wrong
shape, batch norm in a WGAN-GP critic) is one line naming the plug-in, and the node where it broke."""

from __future__ import annotations

from typing import Any

from gansearch.config import Dist, SpaceFile, fixed_params
from gansearch.config.fields import with_fields
from gansearch.config.plugins import add_to_sys_path, import_root, is_plugin, ship_path
from gansearch.errors import ConfigError


def _plugins(cfg: SpaceFile) -> list[str]:
    return [n for n in (cfg.model.name, cfg.data.name) if cfg.task == "gan" and is_plugin(n)]


def import_roots(cfg: SpaceFile) -> list[str]:
    """Folders a worker must put on sys.path for the study's plug-ins (none for installed ones)."""
    return sorted({r for r in (import_root(n) for n in _plugins(cfg)) if r is not None})


def ship_paths(cfg: SpaceFile) -> list[str]:
    """The study's plug-ins that are not installed, for Ray's runtime_env `py_modules` (each worker node
    gets a copy) when `gansearch run` starts Ray."""
    return sorted({p for p in (ship_path(n) for n in _plugins(cfg)) if p is not None})


def _variants(cfg: SpaceFile) -> list[tuple[dict[str, Any], bool]]:
    """(params, gradient_penalty) to build: the space's defaults, with and without a WGAN-GP critic as
    the losses the space allows need."""
    params = fixed_params(cfg.space)
    entry = cfg.space.get("loss", "non_saturating")
    losses = set(entry.choices or []) if isinstance(entry, Dist) else {entry}
    return [(params, gp) for gp in sorted({loss == "wgan_gp" for loss in losses})]


def data_shape(cfg: SpaceFile) -> tuple[int, ...]:
    from gansearch.data import load_dataset

    return tuple(load_dataset(cfg.data, "cpu").shape)


def check_model(cfg: SpaceFile, shape: tuple[int, ...], roots: list[str] | None = None) -> dict[str, Any]:
    """Here (the driver, or a Ray task on one node): build the plug-in and run a batch, each variant."""
    add_to_sys_path(roots or [])
    from gansearch.trainer.models.plugin import check

    built: dict[str, Any] = {}
    for params, gp in _variants(cfg):
        built = check(with_fields(cfg, params).model, shape, params, gp)
    return built


def check_on_nodes(cfg: SpaceFile, shape: tuple[int, ...], roots: list[str], timeout: float = 180) -> None:
    """After ray.init: `check_model` as a zero-CPU task pinned to each alive node."""
    import ray

    from gansearch.search.preflight import on_each_node

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    for _, where, error in on_each_node(_probe, (cfg.model_dump_json(), shape, roots), nodes, timeout, "model.name",
                                        cfg.model.name, "must build on every Ray node ({where}: {why})",
                                        "must build on every Ray node ({where}: {why})"):
        if error is not None:
            raise ConfigError("model.name", f"{error['rule']} (on Ray {where})", error["value"])


def _probe(cfg_json: str, shape: tuple[int, ...], roots: list[str]) -> dict[str, Any] | None:
    try:
        check_model(SpaceFile.model_validate_json(cfg_json), tuple(shape), roots)
    except ConfigError as e:
        return {"rule": e.rule, "value": e.value}
    return None
