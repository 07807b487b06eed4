"""cluster.yaml passes Ray's own cluster-config schema and validator (from the installed `ray`), installs
exactly the tested pins (constraints.txt and the Makefile's torch line), and keeps telemetry off and token auth on; a broken copy fails. The KubeRay
manifest has the structure KubeRay needs and the installed Ray version; the image recipe in
k8s/Dockerfile installs the same pins."""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray
import yaml
from packaging.requirements import Requirement
from ray.autoscaler._private.util import prepare_config, validate_config

from checks import makefile_torch_pins

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
TELEMETRY_OFF = {"RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true"}


def _config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "cluster.yaml").read_text())


# what every node of a cluster must run at the driver's exact version (a Ray cluster refuses a mixed Ray;
# a trial unpickles the driver's Optuna and MLflow objects; checkpoints cross nodes as torch files)
NODE_PINNED = ("torch", "torchvision", "ray", "optuna", "mlflow")


def _project_pins() -> dict[str, str]:
    """The versions the suite passed with: constraints.txt, and the Makefile's torch/torchvision line
    (installed first, from local disk); pyproject.toml itself takes ranges."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            r = Requirement(line.split("#")[0].strip())
            pins[r.name] = next(iter(r.specifier)).version
    pins.update(_pins_in([" ".join(makefile_torch_pins(ROOT))]))
    deps = {Requirement(d).name for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert set(NODE_PINNED) <= deps
    return {k: pins[k] for k in NODE_PINNED}


def _pins_in(commands: list[str]) -> dict[str, str]:
    """Every `name==version` token of some shell commands."""
    found: dict[str, str] = {}
    for cmd in commands:
        for tok in shlex.split(cmd, comments=True):
            if "==" in tok:
                r = Requirement(tok)
                (v,) = [s.version for s in r.specifier]
                assert found.setdefault(r.name, v) == v, f"{r.name} pinned twice differently"
    return found


def test_cluster_yaml_passes_rays_schema_and_validator() -> None:
    cfg = _config()
    jsonschema.validate(cfg, SCHEMA)
    validate_config(cfg)
    validate_config(prepare_config(copy.deepcopy(cfg)))  # what `ray up` validates after filling defaults


@pytest.mark.parametrize("breakage", ["unknown_top_key", "min_workers_string", "head_type_missing", "no_provider"])
def test_broken_copies_fail_validation(breakage: str) -> None:
    cfg = _config()
    if breakage == "unknown_top_key":
        cfg["max_wrokers"] = 8
    elif breakage == "min_workers_string":
        cfg["available_node_types"]["gpu_worker"]["min_workers"] = "0"
    elif breakage == "head_type_missing":
        cfg["head_node_type"] = "no_such_type"
    else:
        del cfg["provider"]
    with pytest.raises((jsonschema.ValidationError, ValueError)):
        validate_config(cfg)


def test_gpu_workers_autoscale_from_zero_and_head_runs_no_trials() -> None:
    cfg = _config()
    workers = [t for name, t in cfg["available_node_types"].items() if name != cfg["head_node_type"]]
    assert workers and all(t["min_workers"] == 0 and t["max_workers"] > 0 for t in workers)
    assert all(t["node_config"]["InstanceType"].startswith(("g", "p")) for t in workers)  # AWS GPU families
    assert cfg["available_node_types"][cfg["head_node_type"]]["resources"] == {"CPU": 0}


def test_setup_installs_exactly_the_project_pins() -> None:
    cfg = _config()
    project = _project_pins()
    assert {"torch", "torchvision", "ray", "optuna", "mlflow"} <= set(project)
    installed = _pins_in(cfg["setup_commands"] + cfg["head_setup_commands"] + cfg["worker_setup_commands"])
    assert {k: installed.get(k) for k in project} == project
    assert project["ray"] == ray.__version__
    assert any("pip install -e ~/gansearch" in c for c in cfg["setup_commands"])


def test_token_auth_and_telemetry_off_on_every_ray_process() -> None:
    cfg = _config()
    starts = cfg["head_start_ray_commands"] + cfg["worker_start_ray_commands"]
    for cmd in (c for c in starts if "ray start" in c):
        assert "RAY_AUTH_MODE=token" in cmd and "RAY_USAGE_STATS_ENABLED=0" in cmd
        assert "--disable-usage-stats" in cmd
    assert "--dashboard-host=127.0.0.1" in " ".join(cfg["head_start_ray_commands"])
    env_lines = " ".join(cfg["setup_commands"])  # the shell profile every `ray exec` / driver uses
    for k, v in {**TELEMETRY_OFF, "RAY_AUTH_MODE": "token"}.items():
        assert f"export {k}={v}" in env_lines
    assert cfg["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"


def test_mlflow_server_on_the_head_uses_shared_storage() -> None:
    cmd = " ".join(_config()["head_start_ray_commands"])
    server = cmd[cmd.index("mlflow server"):]
    assert "MLFLOW_DISABLE_TELEMETRY=true" in cmd
    assert re.search(r"--backend-store-uri (sqlite:////mnt/shared/|postgresql://)", server)
    assert "--artifacts-destination /mnt/shared/" in server
    assert "0.0.0.0" not in server and "--host" in server
    assert "pkill" not in cmd and "killall" not in cmd  # stopped by its saved process group


def _k8s() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((ROOT / "k8s" / "raycluster.yaml").read_text()) if d]


def test_kuberay_manifest_structure() -> None:
    docs = _k8s()
    (rc,) = [d for d in docs if d["kind"] == "RayCluster"]
    assert rc["apiVersion"] == "ray.io/v1"
    spec = rc["spec"]
    assert spec["rayVersion"] == ray.__version__
    assert spec["enableInTreeAutoscaling"] is True and spec["authOptions"]["mode"] == "token"
    head = spec["headGroupSpec"]["template"]["spec"]
    assert head["containers"][0]["name"] == "ray-head"
    (group,) = spec["workerGroupSpecs"]
    assert group["minReplicas"] == 0 < group["maxReplicas"]
    worker = group["template"]["spec"]["containers"][0]
    assert int(worker["resources"]["limits"]["nvidia.com/gpu"]) >= 1
    images = {c["image"] for c in head["containers"]} | {worker["image"]}
    assert len(images) == 1 and ray.__version__ in images.pop()
    for c in (head["containers"][0], worker):
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert all(env.get(k) == v for k, v in TELEMETRY_OFF.items())
        assert {"name": "shared", "mountPath": "/mnt/shared"} in c["volumeMounts"]
    claims = {v["persistentVolumeClaim"]["claimName"] for s in (head, group["template"]["spec"]) for v in s["volumes"]}
    (pvc,) = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert claims == {pvc["metadata"]["name"]} and pvc["spec"]["accessModes"] == ["ReadWriteMany"]


def test_image_recipe_uses_the_same_pins() -> None:
    recipe = text = (ROOT / "k8s" / "Dockerfile").read_text()
    assert f"FROM rayproject/ray:{ray.__version__}-" in recipe
    runs = [line[len("RUN "):] for line in recipe.splitlines() if line.startswith("RUN ")]
    assert {k: _pins_in(runs).get(k) for k in _project_pins()} == _project_pins()
    (rc,) = [d for d in _k8s() if d["kind"] == "RayCluster"]
    tag = rc["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]
    assert f"-t {tag}" in text
