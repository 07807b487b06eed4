"""The model card (README.md) of one exported generator: what it is, how it was made, how to use it."""

from __future__ import annotations

import json
from typing import Any, Mapping

_SKIP = ("step",)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _schedule(schedule: list[dict[str, Any]] | None) -> list[str]:
    """A PBT member's weights were trained under several settings, some by other members: say which."""
    if not schedule:
        return []
    out = ["", "Population Based Training: the table holds the last settings. From each step on:", ""]
    for s in schedule:
        origin = f" (weights copied from `{s['from']}`)" if s.get("from") else ""
        out.append(f"- step {s['step']}{origin}: " + ", ".join(f"`{k}` {_fmt(v)}" for k, v in sorted(s["params"].items())))
    return out


def _generator(config: Mapping[str, Any]) -> list[str]:
    """Which weights these are, when they are not G's own: the moving average the trial evaluated."""
    if config.get("generator") != "ema":
        return []
    decay = config["params"].get("ema_decay")
    return [f"The weights are G's exponential moving average (`ema_decay` {_fmt(decay)}), the generator every "
            "evaluation of the trial sampled; the raw G stays in the training checkpoint."]


def render(config: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    sf = config["space_file"]
    ma = config["model_args"]
    data, model, train = sf["data"], sf["model"], sf["train"]
    shape = "x".join(str(s) for s in ma["data_shape"])
    metric, mode = metrics["metric"], metrics["mode"]
    m = metrics["metrics"]
    lines = [
        f"# gansearch generator: trial {metrics['trial_key']} (rank {metrics['rank']})",
        "",
        f"A GAN generator ({ma['model_name']}, {ma['num_params']:,} parameters) trained by `gansearch run` on "
        f"`{data['name']}` ({shape}); rank {metrics['rank']} of its study `{metrics['study']}` by "
        f"{'the rerun mean of ' if metrics['ranked_by'] == 'rerun_mean' else ''}`{metric}` ({mode}): "
        f"{_fmt(metrics['rank_value'])}.",
        "It maps a latent z ~ N(0, I) of size "
        f"{ma['z_dim']} to {'a 2D point' if len(ma['data_shape']) == 1 else 'an image in [-1, 1], NCHW'}.",
        *_generator(config),
        "",
        "## Data",
        f"- dataset `{data['name']}`, image_size {data.get('image_size')}, max_samples {data.get('max_samples')}",
        f"- dataset fingerprint `{metrics.get('dataset_fingerprint')}`",
        "",
        "## Hyperparameters (the trial's active parameters)",
        "",
        "| name | value |",
        "|---|---|",
        *[f"| `{k}` | {_fmt(v)} |" for k, v in sorted(config["params"].items())],
        *_schedule(config.get("schedule")),
        "",
        f"Model: `{json.dumps(model)}`. Training: {train['steps']} steps, batch {train['batch_size']}, "
        f"`train.seed` {metrics['train.seed']}, device `{train['device']}`, precision `{train['precision']}`.",
        "",
        f"## Metrics at step {metrics['step']} (the exported checkpoint; trial status `{metrics['status']}`)",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| `{k}` | {_fmt(v)} |" for k, v in sorted(m.items()) if k not in _SKIP],
        "",
        f"Provenance: distances in the features of `{m.get('eval.feature_net')}` (weights hash "
        f"`{m.get('eval.feature_net_hash')}`) on {m.get('eval.num_samples')} distinct samples. They are comparable "
        "only when those three match, and only a `fid` (Inception-v3 features) compares with published FIDs. "
        f"Recorded in MLflow run `{metrics['mlflow_run_id']}` (artifact `checkpoint/checkpoint.pt`).",
    ]
    rescored = metrics.get("rescored")
    if rescored and rescored.get("metrics"):
        base = metric.removesuffix("_best")
        fresh = rescored["metrics"].get(base)
        lines += ["", f"Re-scored on {rescored['num_samples']} fresh latents (seed {rescored['seed']}, used by no "
                  f"evaluation): `{base}` {_fmt(fresh)}, against {_fmt(m.get(base))} recorded on the run's own "
                  "evaluation latents. The recorded value was chosen as the best of a search; the fresh one was not."]
    elif rescored:
        lines += ["", f"Not re-scored on fresh latents: {rescored.get('error')}."]
    if metrics.get("rerun"):
        r = metrics["rerun"]
        lost = "".join(f", {r[f'n_{s}']} {s} (no value, not averaged)" for s in ("diverged", "failed") if r.get(f"n_{s}"))
        lines += ["", f"Reruns with fresh seeds: mean {_fmt(r['mean'])}, std {_fmt(r['std'])} over n={r['n']} runs{lost}."]
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "import json, torch",
        "from safetensors.torch import load_file",
        "from gansearch.export.generator import build",
        "",
        "cfg = json.load(open('config.json'))",
        "g = build(cfg['space_file'], tuple(cfg['model_args']['data_shape']), load_file('generator.safetensors'))",
        f"z = torch.randn(16, {ma['z_dim']}, generator=torch.Generator().manual_seed({metrics['sample_seed']}))",
        "with torch.no_grad():",
        "    x = g(z)  # in [-1, 1]",
        "```",
        "",
        "Render a grid (the sha256 of the weights is checked against the export's manifest.json first):",
        "",
        "```bash",
        f"gansearch sample . -n {config['space_file']['eval']['grid']} -o grid.png   # seed {metrics['sample_seed']}: the trial's own grid",
        "gansearch sample . -n 64 -o other.png --seed 1",
        "```",
        "",
        "## Limitations",
        "",
        f"- Trained for {metrics['step']} of {train['steps']} steps on `{data['name']}` only, in a hyperparameter "
        "search: a research artifact, not a production model.",
        "- The metric is one run's value at one evaluation; without reruns it includes seed luck.",
        "- FID here uses the feature net named above, not Inception unless it says so: don't compare it with "
        "published FIDs.",
        "- `gansearch sample` runs on the CPU in float32. It reproduces the trial's grid pixel for pixel when the "
        "trial also ran on the CPU in float32; a GPU/bf16 trial's grid can differ slightly.",
        "- The generator may reproduce training images and inherits the dataset's biases.",
        "",
    ]
    return "\n".join(lines)
