"""An outside scorer agrees with the trainer's record. `gansearch sample` writes the exported generator's
samples as files (PNG images, or an .npz of 2-D points); they are scored again here by a second
implementation that shares nothing with gansearch's metric code: torchmetrics' FrechetInceptionDistance
and KernelInceptionDistance with the same feature module, and a numpy mode counter written from the
PacGAN paper's definition. With the trial's own seed and n = eval.num_samples, the files hold exactly
the samples the trainer's evaluation scored, so the numbers must agree (up to PNG's 8-bit rounding)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gansearch.cli.main import main
from ring8_export import export_ring8


class Features(torch.nn.Module):
    """The study's cached classifier, as torchmetrics calls a custom feature module: images in, (N, 64) out.
    PNG files arrive as uint8 (0..255) and are mapped to the [-1, 1] the network was trained on."""

    num_features = 64

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net.eval()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float() / 255.0 * 2.0 - 1.0
        return self.net(x)[0]


def load_pngs(folder: Path) -> torch.Tensor:
    files = sorted(folder.glob("*.png"))
    arr = np.stack([np.asarray(Image.open(f)) for f in files])
    return torch.from_numpy(arr).unsqueeze(1)  # grey: (N, 1, H, W) uint8


@pytest.mark.slow
def test_digits_export_rescored_by_torchmetrics(tiny_study: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    from gansearch.config import SpaceFile
    from gansearch.data import load_dataset
    from gansearch.metrics.classifier import SmallCNN
    from gansearch.metrics.feature_cache import default_cache_dir, real_subset

    export = tmp_path / "export"
    main(["export", str(tiny_study), "--top-k", "1", "--to", str(export)])
    folder = next(p for p in export.iterdir() if p.is_dir())
    m = json.loads((folder / "metrics.json").read_text())
    cfg = SpaceFile.model_validate(json.loads((folder / "config.json").read_text())["space_file"])
    rec = next(r for r in (json.loads(x) for x in (tiny_study / "trials" / m["trial_key"] / "metrics.jsonl")
                           .read_text().splitlines()) if r["step"] == m["step"])
    n = cfg.eval.num_samples
    pngs = tmp_path / "pngs"
    main(["sample", str(export), "-n", str(n), "-o", f"{pngs}/"])
    fake = load_pngs(pngs)
    assert fake.shape == (n, 1, 16, 16) and fake.dtype == torch.uint8

    # the feature module: the cached classifier's weights, read straight from the cache file by hash
    meta = next(json.loads(p.read_text()) for p in (default_cache_dir() / "features").glob("*.json")
                if json.loads(p.read_text())["weights_hash"] == rec["eval.feature_net_hash"])
    net = SmallCNN(meta["channels"], meta["num_classes"])
    weights = next(p for p in (default_cache_dir() / "features").glob("*.safetensors")
                   if p.with_suffix(".json").exists() and json.loads(p.with_suffix(".json").read_text()) == meta)
    net.load_state_dict(load_file(str(weights)))
    feat = Features(net)

    data = load_dataset(cfg.data)
    real = data.train[real_subset(data.train.shape[0], 10000)]
    fid = FrechetInceptionDistance(feature=feat, reset_real_features=False)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    theirs = float(fid.compute())
    ours = rec["fd_classifier"]
    print(f"fd_classifier: trainer {ours:.4f}, torchmetrics on {n} PNG files {theirs:.4f}")
    assert theirs == pytest.approx(ours, rel=0.005)

    kid = KernelInceptionDistance(feature=feat, subsets=100, subset_size=cfg.eval.kid_subset_size)
    kid.update(real, real=True)
    kid.update(fake, real=False)
    k_mean, k_std = (float(v) for v in kid.compute())
    print(f"kd_classifier: trainer {rec['kd_classifier']:.4f} ± {rec['kd_classifier_std']:.4f}, "
          f"torchmetrics {k_mean:.4f} ± {k_std:.4f}")
    assert abs(k_mean - rec["kd_classifier"]) < 3 * max(k_std, rec["kd_classifier_std"]) / np.sqrt(100) + 0.02 * abs(k_mean)


def pacgan_modes(points: np.ndarray, modes: np.ndarray, std: float) -> tuple[int, float, float]:
    """PacGAN (Lin et al. 2018, §5.1, after VEEGAN): a sample is high quality within three standard
    deviations of its nearest mode; a mode is captured when at least 20 of 2500 samples (scaled to n)
    are high quality and nearest to it; reverse KL is over the modes' shares of high-quality samples."""
    d = np.sqrt(((points[:, None, :] - modes[None, :, :]) ** 2).sum(-1))
    nearest, dist = d.argmin(1), d.min(1)
    hq = dist <= 3 * std
    counts = np.bincount(nearest[hq], minlength=len(modes))
    need = max(1, int(np.ceil(20 / 2500 * len(points))))
    p = counts / counts.sum()
    nz = p > 0
    return int((counts >= need).sum()), float(hq.mean()), float((p[nz] * np.log(p[nz] * len(modes))).sum())


def test_ring8_npz_rescored_by_a_numpy_mode_counter(tmp_path: Path) -> None:
    from gansearch.data.points import MIXTURES

    cfg, rec, export, _ = export_ring8(tmp_path, [
        "train.steps=1500", "eval.every=1500", "train.checkpoint_every=1500", "model.g_width=64", "model.d_width=64",
        "train.batch_size=256", "lr_g=1e-3", "lr_d=1e-3"])
    out = tmp_path / "points.npz"
    main(["sample", str(export), "-n", str(cfg.eval.num_samples), "-o", str(out)])
    with np.load(out) as f:
        points = f["samples"].astype(np.float64)
    assert points.shape == (2500, 2) and len(np.unique(points, axis=0)) == 2500  # 2500 distinct samples
    modes, std = MIXTURES["ring8"]
    covered, hq, rkl = pacgan_modes(points, modes.numpy().astype(np.float64), std)
    print(f"trainer: {rec['modes_covered']} modes, hq {rec['hq_fraction']:.4f}, rKL {rec['reverse_kl']:.4f}; "
          f"numpy: {covered} modes, hq {hq:.4f}, rKL {rkl:.4f}")
    assert 0 < covered <= 8 and 0 < hq < 1  # a partly trained ring: the counts are not trivial
    assert covered == rec["modes_covered"] and hq == pytest.approx(rec["hq_fraction"], abs=1e-12)
    assert rkl == pytest.approx(rec["reverse_kl"], abs=1e-9)
