"""Mode coverage: does the generator produce every class / mixture mode, and in fair proportions?

FID mixes quality and diversity in one number; mode dropping, the classic GAN failure, shows up more
plainly as counts. Images use a classifier's argmax; 2-D mixtures (ring8, grid25) use the Unrolled GAN /
VEEGAN / PacGAN protocol with the known mode centres.
"""

from __future__ import annotations

import numpy as np
import torch

from gansearch.metrics.frechet import ArrayLike, MetricError, as_float64

# gansearch's strict rule: a mode counts as covered with at least 20 of 2500 high-quality samples near it, a
# fifth of a fair share on grid25. Stricter than the papers' rule (modes_covered_paper: one sample will do).
PACGAN_MIN_FRACTION = 20 / 2500
# A sample is high quality within this many standard deviations of its nearest mode (Unrolled GAN).
HQ_STDS = 3.0
_EPS = 1e-10


def kl_divergence(p: np.ndarray, q: np.ndarray, eps: float = _EPS) -> float:
    """KL(p || q) of two histograms (normalised here), 0·log 0 = 0, q floored at `eps` so it stays finite."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise MetricError(f"KL needs histograms of one length, got {p.shape[0]} and {q.shape[0]}")
    if p.sum() <= 0 or q.sum() <= 0:
        raise MetricError(f"KL needs non-empty histograms, got sums {p.sum()} and {q.sum()}")
    p, q = p / p.sum(), q / q.sum()
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] / np.maximum(q[nz], eps))))


def class_coverage(
    fake_logits: ArrayLike, real_class_hist: ArrayLike, min_fraction: float | None = None
) -> dict[str, float]:
    """Classes the generator covers, and KL(generated class histogram || real class histogram).

    Rule: a class is covered when at least `min_fraction` of the generated samples are classified as it;
    the default is a fifth of a fair share, 0.2 / num_classes (the ratio PacGAN's 20-of-2500 rule gives
    for its 25 modes). `real_class_hist` may hold counts or shares.
    """
    logits = as_float64(fake_logits)
    real = as_float64(real_class_hist).ravel()
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise MetricError(f"fake_logits must be a non-empty 2-D (N, C) array, got shape {tuple(logits.shape)}")
    c = logits.shape[1]
    if real.shape[0] != c:
        raise MetricError(f"real_class_hist must have one entry per logit column ({c}), got {real.shape[0]}")
    threshold = 0.2 / c if min_fraction is None else float(min_fraction)
    counts = np.bincount(logits.argmax(axis=1), minlength=c).astype(np.float64)
    shares = counts / counts.sum()
    return {
        "classes_covered": int(np.sum(shares >= threshold)),
        "class_kl": kl_divergence(shares, real),
    }


def mode_metrics(
    points: ArrayLike, modes: ArrayLike, std: float, min_fraction: float = PACGAN_MIN_FRACTION
) -> dict[str, float]:
    """Modes covered (two rules), high-quality fraction and reverse KL for samples of a known Gaussian mixture.

    - a sample is high quality (hq) when within 3·std of its nearest mode centre (VEEGAN, Srivastava et
      al. 2017, section 5 "Experiments", paragraph "Synthetic Dataset");
    - modes_covered_paper: modes with at least ONE hq sample nearest them, the rule whose numbers are
      published: VEEGAN's "number of modes captured" ("the number of mixture components whose mean is
      nearest to at least one high quality sample", same paragraph, 2500 samples), and PacGAN's (Lin et
      al. 2018, Table 1), whose released evaluation code (synthetic_data_experiments, MetricLogger)
      counts the modes with a non-zero count of hq samples among 2500;
    - modes_covered: gansearch's strict rule, at least max(1, ceil(min_fraction · N)) hq samples; the
      default 20/2500 (a fifth of a fair share on grid25), scaled to N. A generator that leaks a few
      samples into a mode covers it by the papers' rule and not by this one, so modes_covered <=
      modes_covered_paper;
    - reverse_kl = KL(distribution of hq samples over modes || uniform over modes) (PacGAN); it lies in
      [0, log K], and is inf when no sample is high quality (nothing to compare);
    - mode_score = modes_covered + hq_fraction: gansearch's own single number for ranking, not a paper's.
      Its integer part is the modes covered and its fraction the high-quality share, so more modes always
      rank higher (covering m modes takes at least m * min_fraction > 0 of the samples high quality, so
      m modes with hq 1.0 never tie m + 1 modes), and among equal modes the cleaner samples win.
    """
    x = _points(points, "points")
    centres = _points(modes, "modes")
    if x.shape[1] != centres.shape[1]:
        raise MetricError(f"points and modes must share one dim, got {x.shape[1]} and {centres.shape[1]}")
    if not (std > 0):
        raise MetricError(f"mode std must be > 0, got {std}")
    k = centres.shape[0]
    dist = torch.cdist(x, centres)
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist <= HQ_STDS * std
    counts = np.bincount(nearest[hq].numpy(), minlength=k).astype(np.float64)
    need = max(1, int(np.ceil(min_fraction * x.shape[0] - 1e-9)))
    n_hq = int(hq.sum())
    covered = int(np.sum(counts >= need))
    return {
        "modes_covered": covered,
        "modes_covered_paper": int(np.sum(counts >= 1)),
        "hq_fraction": n_hq / x.shape[0],
        "reverse_kl": kl_divergence(counts, np.ones(k)) if n_hq else float("inf"),
        "mode_score": covered + n_hq / x.shape[0],
    }


def _points(a: ArrayLike, name: str) -> torch.Tensor:
    t = torch.as_tensor(a).detach().cpu().to(torch.float64)
    if t.ndim != 2 or t.shape[0] == 0:
        raise MetricError(f"{name} must be a non-empty 2-D (N, D) array, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise MetricError(f"{name} must be finite, got {int((~torch.isfinite(t)).sum())} non-finite values")
    return t
