"""Bring your own GAN: a study over the worked plug-in (examples/gansearch_sngan, SNGAN's ResNet G and D)
through `gansearch run` and through `gansearch.run`, searching the plug-in's own `d_blocks`, the dotted
`model.g_width` and `train.batch_size`. Each trial's built networks have the sampled structure; Optuna,
MLflow, run.json and the live training objects agree; the export reloads the plug-in and `gansearch sample`
reproduces the trained G; a broken plug-in is one line and exit 2 before Ray starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from study_helpers import GANSEARCH, assert_trained_with, child_runs, cli_env, optuna_trials

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SPACE = EXAMPLES / "sngan-digits.yaml"
SHORT = ["train.steps=20", "train.checkpoint_every=10", "eval.every=10", "eval.num_samples=128",
         "eval.kid_subset_size=64", "eval.grid=16", "eval.oscillation_window=8"]
SEARCHED = ("d_blocks", "model.g_width", "train.batch_size")


def _env(tmp: Path, plugin: bool = True) -> dict[str, str]:
    env = cli_env(tmp)
    paths = [str(EXAMPLES)] if plugin else []
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                                 if p and Path(p).resolve() != EXAMPLES])
    return env


def _check_trials(out: Path) -> None:
    """Per trial: the networks in its checkpoint have the sampled structure, and every store says so."""
    from gansearch.tracking.conventions import default_store_uri

    ot = {t.user_attrs["gansearch_key"]: t for t in optuna_trials(out)}
    _, runs, parent = child_runs(default_store_uri(out), out)
    assert parent.data.tags["optuna.sampler"] == "TPESampler"
    assert len(runs) == len(ot) >= 2
    for r in runs:
        key = r.data.tags["gansearch.trial_key"]
        p = ot[key].params
        assert set(SEARCHED) <= set(p)
        run_json = json.loads((out / "trials" / key / "run.json").read_text())
        for name in SEARCHED:  # Optuna, MLflow and run.json agree
            assert run_json["params"][name] == p[name] and r.data.params[name] == str(p[name]), (key, name)
        assert_trained_with(out / "trials" / key, p)  # and so do the live training objects
        state = torch.load(out / "trials" / key / "checkpoint.pt", weights_only=True)
        # D: the optimized first block (16 px -> 8 px), then d_blocks residual blocks at 8x8
        d_blocks = {k.split(".")[2] for k in state["d"] if k.startswith("net.blocks.")}
        assert len(d_blocks) == 1 + p["d_blocks"], (key, sorted(d_blocks))
        assert state["g"]["fc.weight"].shape[0] == 16 * p["model.g_width"]  # G: z -> 4x4 x g_width
        cfg = json.loads(state["config"])
        assert cfg["model"]["name"] == "gansearch_sngan.resnet:sngan" and cfg["train"]["batch_size"] == p["train.batch_size"]


def test_a_study_over_the_plugin_through_the_cli_exports_and_samples(tmp_path: Path) -> None:
    out, exported = tmp_path / "study", tmp_path / "export"
    sets = [a for s in SHORT for a in ("--set", s)]
    r = subprocess.run([GANSEARCH, "run", str(SPACE), "--out", str(out), "--num-trials", "2", *sets],
                       env=_env(tmp_path), capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    _check_trials(out)
    r = subprocess.run([GANSEARCH, "export", str(out), "--top-k", "1", "--to", str(exported)], env=_env(tmp_path),
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    (folder,) = [p for p in exported.iterdir() if p.is_dir()]
    config = json.loads((folder / "config.json").read_text())
    assert config["model_args"]["model_name"] == "gansearch_sngan.resnet:sngan"
    # the export's G is the trial's: the same outputs as G rebuilt from the trial checkpoint
    sys.path.insert(0, str(EXAMPLES))
    try:
        import gansearch
        from gansearch.export.generator import build

        g, z_dim = gansearch.load_generator(exported)
        key = json.loads((folder / "metrics.json").read_text())["trial_key"]
        state = torch.load(out / "trials" / key / "checkpoint.pt", weights_only=True)
        ref = build(json.loads(state["config"]), (1, 16, 16), state.get("g_ema", state["g"]), json.loads(state["params"]))
        z = torch.randn(8, z_dim, generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            assert torch.equal(g(z), ref(z))
    finally:
        sys.path.remove(str(EXAMPLES))
    npz = tmp_path / "s.npz"
    r = subprocess.run([GANSEARCH, "sample", str(exported), "-n", "16", "-o", str(npz)], env=_env(tmp_path),
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    import numpy as np

    drawn = np.load(npz)  # `gansearch sample`: the trained G's outputs on the latents it reports
    with torch.no_grad():
        expected = ref(torch.from_numpy(drawn["z"]))
    assert np.allclose(drawn["samples"], expected.numpy(), atol=1e-6)
    # where the plug-in can't be imported, the export refuses to load it, in one line
    r = subprocess.run([GANSEARCH, "sample", str(exported), "-n", "4", "-o", str(tmp_path / "t.npz")],
                       env=_env(tmp_path, plugin=False), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("model.name: must be an importable package.module:function") and "gansearch_sngan" in r.stderr


def test_the_python_api_runs_the_same_study_and_reads_it_back(ray_up, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import gansearch

    monkeypatch.syspath_prepend(str(EXAMPLES))
    study = gansearch.run(str(SPACE), tmp_path / "api", num_trials=2, overrides=SHORT)
    _check_trials(tmp_path / "api")
    summary = json.loads((tmp_path / "api" / "summary.json").read_text())
    df = study.trials_dataframe()
    # row for row what summary.json says, in its order
    assert list(df["key"]) == [t["key"] for t in summary["trials"]]
    for row, t in zip(df.to_dict("records"), summary["trials"]):
        assert (row["status"], row["value_step"], row["run_id"], row["origin"]) == \
            (t["status"], t["value_step"], t["run_id"], t["origin"])
        assert row["value"] == pytest.approx(t["value"]) if t["value"] is not None else row["value"] != row["value"]
        assert {k[len("params_"):]: v for k, v in row.items() if k.startswith("params_") and v == v} == t["params"]
    assert study.best_trial is not None and study.best_trial.key == summary["trials"][0]["key"]
    assert study.best_trial.params == summary["trials"][0]["params"]
    assert sorted(df["origin"]) == ["startup", "startup"]  # search.defaults_first is off: both TPE's draws
    again = gansearch.load_study(tmp_path / "api")
    assert again.trials == study.trials and again.best_trial == study.best_trial


BROKEN = {
    "import": ("raise ImportError('no module named tensorflow')\n", "must be an importable package.module:function"),
    "g_shape": ("import torch\nfrom torch import nn\n"
                "def build(shape, z_dim=8):\n    return nn.Linear(z_dim, 10), nn.Linear(10, 1)\n",
                "must have a G whose output is (N, *shape)"),
    "d_shape": ("import torch\nfrom torch import nn\n"
                "class G(nn.Module):\n    def __init__(s, z):\n        super().__init__(); s.l = nn.Linear(z, 256)\n"
                "    def forward(s, z):\n        return torch.tanh(s.l(z)).view(-1, 1, 16, 16)\n"
                "def build(shape, z_dim=8):\n    return G(z_dim), nn.Sequential(nn.Flatten(), nn.Linear(256, 3))\n",
                "must have a D whose output is (N,) or (N, 1) logits"),
    "range": ("import torch\nfrom torch import nn\n"
              "class G(nn.Module):\n    def __init__(s, z):\n        super().__init__(); s.l = nn.Linear(z, 256)\n"
              "    def forward(s, z):\n        return 5 + s.l(z).view(-1, 1, 16, 16)\n"
              "def build(shape, z_dim=8):\n    return G(z_dim), nn.Sequential(nn.Flatten(), nn.Linear(256, 1))\n",
              "must have a G whose images lie in [-1, 1]"),
}
RUN_AND_REPORT = """
import sys
from gansearch.cli.main import main
try:
    main(sys.argv[1:])
finally:
    print("ray imported:", "ray" in sys.modules, flush=True)
"""


def _broken_space(tmp: Path, kind: str) -> Path:
    (tmp / f"broken_{kind}.py").write_text(BROKEN[kind][0])
    space = tmp / f"space_{kind}.yaml"
    space.write_text(SPACE.read_text().replace("gansearch_sngan.resnet:sngan", f"broken_{kind}:build")
                     .replace("  d_blocks: {type: int, low: 1, high: 3, default: 2}     # the plug-in's own parameter, by its bare name\n", ""))
    return space


def test_a_broken_plugin_is_one_line_and_exit_2_before_ray_starts(tmp_path: Path) -> None:
    """Through the CLI (a child process that reports whether Ray was ever imported): G of the wrong shape."""
    space = _broken_space(tmp_path, "g_shape")
    env = {**_env(tmp_path, plugin=False), "PYTHONPATH": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", RUN_AND_REPORT, "run", str(space), "--out", str(tmp_path / "s")],
                       env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr[-2000:]
    assert lines[0].startswith("model.name: " + BROKEN["g_shape"][1]) and "broken_g_shape:build" in lines[0], lines[0]
    assert r.stdout.strip().splitlines()[-1] == "ray imported: False"
    assert not (tmp_path / "s" / "study.json").exists()


@pytest.mark.parametrize("kind", [k for k in BROKEN if k != "g_shape"])
def test_each_broken_plugin_is_refused_before_any_trial(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same path in-process (`gansearch run` is a thin wrapper): one line naming model.name and the plug-in,
    raised before the study folder exists."""
    from gansearch.config import load
    from gansearch.errors import ConfigError, ConfigErrors
    from gansearch.search.study import run_study

    space = _broken_space(tmp_path, kind)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises((ConfigError, ConfigErrors)) as e:
        run_study(load(space), space, tmp_path / "s", echo=lambda s: None)
    errors = e.value.errors if isinstance(e.value, ConfigErrors) else [e.value]
    assert [x.path for x in errors] == ["model.name"] and "\n" not in str(errors[0])
    assert errors[0].rule.startswith(BROKEN[kind][1]) and errors[0].value == f"broken_{kind}:build"
    assert not (tmp_path / "s" / "study.json").exists()
