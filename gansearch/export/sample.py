"""`gansearch sample`: render n samples from an exported generator, checked against its manifest first.

Three outputs, for people and for outside scorers (pytorch-fid, clean-fid, torch-fidelity read a folder
of images; a 2-D point set is only useful as numbers):
- grid: one PNG (an image grid, or a scatter over the true modes for 2-D points);
- png: a folder of n PNG files, 000000.png ..., each image quantised as torchvision's save_image does;
- npz: one `.npz` holding `samples` (float32, images in [-1, 1] NCHW or (n, 2) points) and `z`.
With the default seed (the trial's own) and n = eval.num_samples, these are the samples every evaluation
of the trial scored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gansearch.errors import ConfigError
from gansearch.export import generator, manifest

FORMATS = ("auto", "grid", "png", "npz")


def resolve_format(fmt: str, out: str | Path) -> str:
    """auto: npz for a `.npz` path, png for a folder (an existing one, or a path written with a trailing
    /), else grid."""
    if fmt not in FORMATS:
        raise ConfigError("--format", "must be one of " + ", ".join(FORMATS), fmt)
    if fmt != "auto":
        return fmt
    if Path(out).suffix == ".npz":
        return "npz"
    if Path(out).is_dir() or str(out).endswith(("/", "\\")):
        return "png"
    return "grid"


def sample_export(export_dir: Path, n: int, out: str | Path, seed: int | None = None, fmt: str = "auto") -> dict[str, Any]:
    """Write `n` samples to `out` in `fmt`; the default seed is the trial's own (its grid, reproduced).

    Returns the trial folder, the seed, the format and the output path.
    """
    if n < 1:
        raise ConfigError("-n", "must be >= 1", n)
    kind = resolve_format(fmt, out)
    out = Path(out)
    folder, entry = manifest.resolve(Path(export_dir))
    if "image.png" in entry.get("files", {}) and "generator.safetensors" not in entry.get("files", {}):
        raise ConfigError("EXPORT_DIR", "must be a GAN export (a style-transfer export holds its image, "
                          "image.png, and nothing to sample from)", str(export_dir))
    manifest.verify(folder, entry)
    g, config = generator.load(folder)
    points = len(config["model_args"]["data_shape"]) == 1
    if kind == "png" and points:
        raise ConfigError("--format", "must be npz or grid for 2-D points (a point is not an image)", kind)
    if kind == "npz" and out.suffix != ".npz":
        raise ConfigError("-o", "must end in .npz with --format npz", str(out))
    if kind == "png" and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError("-o", "must be a new or empty folder with --format png", str(out))
    space_file = config["space_file"]
    used = generator.sample_seed(space_file["train"]["seed"]) if seed is None else int(seed)
    z_dim = config["model_args"]["z_dim"]
    samples = generator.render(g, z_dim, n, used, space_file["train"].get("threads"), generator.eval_pool(space_file))
    if kind == "grid":
        generator.save_grid(samples, out, config)
    elif kind == "png":
        save_pngs(samples, out)
    else:
        import numpy as np

        from gansearch.trainer.grids import fixed_latents

        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(out, samples=samples.numpy().astype(np.float32),
                 z=fixed_latents(n, z_dim, used, pool=generator.eval_pool(space_file)).numpy(),
                 seed=np.int64(used), trial_key=str(entry.get("trial_key")))
    return {"folder": str(folder), "trial_key": entry.get("trial_key"), "seed": used, "n": n, "format": kind,
            "path": str(out), "generator": config.get("generator", "raw")}


def save_pngs(samples: Any, folder: Path) -> None:
    """One PNG per image, [-1, 1] -> 0..255 exactly as torchvision's save_image rounds."""
    import numpy as np
    import torch
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    pixels = ((samples.float().cpu() + 1) / 2).mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)
    width = len(str(max(0, samples.shape[0] - 1)))
    for i, img in enumerate(pixels.permute(0, 2, 3, 1).numpy()):
        mode = "L" if img.shape[2] == 1 else "RGB"
        Image.fromarray(np.ascontiguousarray(img[:, :, 0] if mode == "L" else img), mode).save(
            folder / f"{i:0{max(6, width)}d}.png")
