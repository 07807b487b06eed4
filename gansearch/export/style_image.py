"""One exported style-transfer trial: what `gansearch export` hands over for `task: style_transfer`, where
a GAN export holds a generator. The folder describes itself, with no pickle in it:

- image.png: the stylised image at the step the trial's value comes from (8-bit RGB);
- image.safetensors: the same image as float32 in [-1, 1], (1, 3, H, W), the exact pixels measured;
- config.json: the space file, the trial's params and the image's layout;
- metrics.json: the metrics logged at that step, the distances' provenance (the measuring net and the
  net optimised against), the references (each input image's and the noise start's distances), status;
- README.md: what it is and how it was made.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from gansearch.export.package import FORMAT, trial_metrics

IMAGE, TENSOR, CONFIG = "image.png", "image.safetensors", "config.json"


def export_style_trial(checkpoint_path: Path, folder: Path, info: Mapping[str, Any]) -> dict[str, Any]:
    """Write the trial folder from its checkpoint; returns the metrics.json body (`info` as for
    gansearch.export.package.export_trial)."""
    from safetensors.torch import save_file

    import gansearch
    from gansearch.style.images import save_image
    from gansearch.trainer import checkpoint

    state = checkpoint.load(checkpoint_path)
    space_file, params = checkpoint.config_of(state)
    step = int(state["step"])
    image = state["image"].detach().float().cpu().contiguous()
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"image": image}, str(folder / TENSOR), metadata={
        "format": "pt", "gansearch_version": gansearch.__version__, "trial_key": str(info["trial_key"]),
        "step": str(step), "range": "[-1, 1]", "layout": "NCHW"})
    save_image(image, folder / IMAGE)
    config = {"format": FORMAT, "task": "style_transfer", "space_file": space_file, "params": params,
              "image": {"file": IMAGE, "tensor": TENSOR, "shape": list(image.shape), "range": [-1, 1]}}
    metrics = trial_metrics(info, step, int(space_file["train"]["seed"]), {"task": "style_transfer"})
    (folder / CONFIG).write_text(json.dumps(config, indent=2))
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (folder / "README.md").write_text(card(config, metrics))
    return metrics


def card(config: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    style = config["space_file"]["style"]
    m = metrics["metrics"]
    h, w = config["image"]["shape"][-2:]
    lines = [
        f"# gansearch style transfer: trial {metrics['trial_key']} (rank {metrics['rank']})",
        "",
        f"![the stylised image]({IMAGE})",
        "",
        f"`{style.get('content') or style.get('root')}` in the style of `{style.get('style') or style.get('root')}`, "
        f"{w}x{h} px, optimised for {metrics['step']} steps; rank {metrics['rank']} of the study "
        f"`{metrics['study']}` by `{metrics['metric']}` ({metrics['mode']}) = {_fmt(metrics['value'])}.",
        "",
        f"Optimised against `{m.get('style.feature_net')}`; measured by `{m.get('eval.feature_net')}` "
        f"(weights {m.get('eval.feature_net_hash')}), another net. A `vgg19-random-seedN` net has fixed-seed "
        "random filters, not ImageNet weights (Ustyuzhaninov et al. 2016).",
        "",
        "| measured | this image | reference |",
        "|---|---|---|",
        f"| content_distance | {_fmt(m.get('content_distance'))} | the style image: {_fmt(m.get('content_distance_of_style'))}, "
        f"the noise start: {_fmt(m.get('content_distance_of_noise'))} |",
        f"| style_distance | {_fmt(m.get('style_distance'))} | the content image: {_fmt(m.get('style_distance_of_content'))}, "
        f"the noise start: {_fmt(m.get('style_distance_of_noise'))} |",
        f"| transfer_score (gansearch's proxy: a random VGG-19 of the objective's family) | "
        f"{_fmt(m.get('transfer_score'))} | either input image: 1 |",
        f"| content_ssim | {_fmt(m.get('content_ssim'))} | the content image: 1, the style image: "
        f"{_fmt(m.get('content_ssim_of_style'))}, the noise start: {_fmt(m.get('content_ssim_of_noise'))} |",
        f"| content_edge_corr | {_fmt(m.get('content_edge_corr'))} | the content image: 1, the style image: "
        f"{_fmt(m.get('content_edge_corr_of_style'))}, the noise start: {_fmt(m.get('content_edge_corr_of_noise'))} |",
        f"| style_swd_patch | {_fmt(m.get('style_swd_patch'))} | the style image: 0, the content image: "
        f"{_fmt(m.get('style_swd_patch_of_content'))}, the noise start: {_fmt(m.get('style_swd_patch_of_noise'))} |",
        f"| style_swd_colour | {_fmt(m.get('style_swd_colour'))} | the style image: 0, the content image: "
        f"{_fmt(m.get('style_swd_colour_of_content'))}, the noise start: {_fmt(m.get('style_swd_colour_of_noise'))} |",
        "",
        "The last four use no net (pixels only: SSIM, Sobel-edge correlation, sliced Wasserstein distances of "
        "patches and colours), so they share nothing with the objective.",
        "",
        "Hyperparameters: " + ", ".join(f"`{k}` {_fmt(v)}" for k, v in sorted(config["params"].items())) + ".",
        "",
        f"`{TENSOR}` holds the same pixels as float32 in [-1, 1] (1, 3, H, W): "
        f"`safetensors.torch.load_file('{TENSOR}')['image']`.",
    ]
    return "\n".join(lines) + "\n"


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)

