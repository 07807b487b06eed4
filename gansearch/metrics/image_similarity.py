"""Image-to-image measures that use no learned or random feature net: pure torch maths on pixels, so they
judge a result independently of whatever net produced it (style transfer's objective is a VGG's Gram and
activation losses; these see only pixels).

Images are (N, 3, H, W) or (3, H, W) RGB in [0, 1] (the project's metric-boundary convention); a batch is
pooled into one value. Computed in float64 where sums and sorts are involved.

- `ssim`: the structural similarity index (Wang et al. 2004, "Image quality assessment: from error
  visibility to structural similarity"), torchmetrics' implementation with the paper's constants
  (11 x 11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03), on BT.601 luminance: 1 for identical images.
- `edge_correlation`: the Pearson correlation of the Sobel gradient magnitudes of the two luminances
  (valid region, no padding): 1 when the edges sit in the same places with proportional strength.
- `sliced_wasserstein`: the sliced 1-Wasserstein distance between two point clouds (Rabin et al. 2011,
  "Wasserstein barycenter and its application to texture mixing"): the mean over fixed, seeded random unit
  directions of the exact 1-D W1 between the projected empirical distributions. 0 for equal clouds.
- `colour_swd`: that distance between the RGB pixel distributions (Rabin et al. 2011).
- `patch_swd`: that distance between multi-scale patch distributions (the patch form of Heitz et al. 2021,
  "A Sliced Wasserstein Loss for Neural Texture Synthesis", and of Karras et al. 2018's SWD on a pyramid):
  3 x 3 RGB patches of each level of a 3-level Gaussian pyramid, each patch minus its own per-channel mean
  (so it measures local structure — edges, contrast, texture — and leaves colour to `colour_swd`; not
  divided by its std, which would blow up the noise of flat patches); the mean over levels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, Pillow's "L"
NUM_PROJECTIONS = 128
PROJECTION_SEED = 0
MAX_POINTS = 16384  # a larger cloud is a seeded random subset of this size (bounds time: every image up to
# 128 x 128 px is measured whole; sorting 128 projections of 2^14 points takes ~15 ms on one CPU core)
PATCH_SIZE = 3
PYRAMID_LEVELS = 3
_BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)  # Burt & Adelson's 5-tap Gaussian approximation


def _batch(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) float64 from (C, H, W) or (N, C, H, W)."""
    x = x.detach().to(torch.float64)
    return x.unsqueeze(0) if x.dim() == 3 else x


def luminance(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) BT.601 luminance of RGB images in [0, 1]."""
    x = _batch(x)
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


# ---- content: structure shared with the content image ----------------------------------------------
def ssim(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean SSIM (Wang et al. 2004) of the luminances of x and y, data range 1."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    value = structural_similarity_index_measure(luminance(x), luminance(y), gaussian_kernel=True, sigma=1.5,
                                                kernel_size=11, data_range=1.0, k1=0.01, k2=0.03)
    return float(value)


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H - 2, W - 2) Sobel gradient magnitude of the luminance (valid region only: no padding to
    invent edges at the border)."""
    lum = luminance(x)
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=lum.dtype, device=lum.device)
    kernels = torch.stack([gx, gx.T]).unsqueeze(1)  # (2, 1, 3, 3): d/dx, d/dy
    g = F.conv2d(lum, kernels)
    return g.pow(2).sum(1, keepdim=True).sqrt()


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two equally shaped tensors; 0 when either is constant (undefined there)."""
    a, b = a.flatten().to(torch.float64), b.flatten().to(torch.float64)
    a, b = a - a.mean(), b - b.mean()
    denom = float(a.norm() * b.norm())
    return float((a * b).sum()) / denom if denom > 0 else 0.0


def edge_correlation(x: torch.Tensor, y: torch.Tensor) -> float:
    """Pearson correlation of the Sobel gradient magnitudes of x's and y's luminances (same size)."""
    return pearson(sobel_magnitude(x), sobel_magnitude(y))


# ---- style: distributions matched to the style image's ----------------------------------------------
def projections(dim: int, count: int = NUM_PROJECTIONS, seed: int = PROJECTION_SEED) -> torch.Tensor:
    """(dim, count) float64 unit vectors, uniform on the sphere, a function of (dim, count, seed) only."""
    gen = torch.Generator().manual_seed(seed)
    d = torch.randn(dim, count, generator=gen, dtype=torch.float64)
    return d / d.norm(dim=0, keepdim=True)


def _sort_rows(x: torch.Tensor) -> torch.Tensor:
    """Each row sorted ascending; on the CPU by numpy, whose SIMD sort is ~10x torch's there (same values)."""
    if x.device.type == "cpu":
        return torch.from_numpy(np.sort(x.numpy(), axis=1))
    return x.sort(dim=1).values


def wasserstein_1d(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(P,) exact 1-Wasserstein distances between the empirical distributions of the columns of a (N, P)
    and b (M, P): the integral over u in (0, 1) of |F_a^-1(u) - F_b^-1(u)|, the quantile functions being
    piecewise constant between the breakpoints i/N and j/M."""
    a, b = _sort_rows(a.T.contiguous()), _sort_rows(b.T.contiguous())  # (P, N): contiguous rows sort faster
    n, m = a.shape[1], b.shape[1]
    if n == m:
        return (a - b).abs().mean(1)
    kw = {"dtype": torch.float64, "device": a.device}
    u = torch.cat([torch.arange(1, n + 1, **kw) / n, torch.arange(1, m + 1, **kw) / m]).sort().values
    width = torch.diff(u, prepend=u.new_zeros(1))
    mid = u - width / 2  # strictly inside its interval, so the floor below picks that interval's quantile
    ia = (mid * n).floor().long().clamp_(0, n - 1)
    ib = (mid * m).floor().long().clamp_(0, m - 1)
    return ((a[:, ia] - b[:, ib]).abs() * width).sum(1)


def _subsample(points: torch.Tensor, max_points: int, seed: int) -> torch.Tensor:
    if points.shape[0] <= max_points:
        return points
    idx = torch.randperm(points.shape[0], generator=torch.Generator().manual_seed(seed))[:max_points]
    return points[idx.to(points.device)]


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, num_projections: int = NUM_PROJECTIONS,
                       seed: int = PROJECTION_SEED, max_points: int = MAX_POINTS) -> float:
    """Sliced 1-Wasserstein distance between point clouds a (N, D) and b (M, D): the mean over
    `num_projections` seeded unit directions of the exact 1-D W1 of the projections. Deterministic;
    0 for equal clouds; a shift t of a cloud gives |t| E|theta_1| (|t| itself when D = 1)."""
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"point clouds must be (N, D) and (M, D), got {tuple(a.shape)} and {tuple(b.shape)}")
    # one subsampling seed for both: equal clouds keep equal subsets, so their distance stays 0
    a = _subsample(a.detach().to(torch.float64), max_points, seed + 1)
    b = _subsample(b.detach().to(torch.float64), max_points, seed + 1)
    theta = projections(a.shape[1], num_projections, seed).to(a.device)
    return float(wasserstein_1d(a @ theta, b.to(a.device) @ theta).mean())


def pixels(x: torch.Tensor) -> torch.Tensor:
    """(N H W, C) the pixels of images as points."""
    x = _batch(x)
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])


def colour_swd(x: torch.Tensor, y: torch.Tensor) -> float:
    """Sliced W1 between the RGB pixel distributions of x and y (any sizes)."""
    return sliced_wasserstein(pixels(x), pixels(y))


def gaussian_pyramid(x: torch.Tensor, levels: int = PYRAMID_LEVELS) -> list[torch.Tensor]:
    """[x, blur(x)[::2, ::2], ...]: `levels` images, each blurred by the 5-tap binomial filter (reflected
    borders) and subsampled by 2 from the one before."""
    x = _batch(x)
    k1 = torch.tensor(_BINOMIAL, dtype=x.dtype, device=x.device)
    k2 = (k1[:, None] * k1[None, :]) / k1.sum() ** 2
    kernel = k2.expand(x.shape[1], 1, 5, 5)
    out = [x]
    for _ in range(levels - 1):
        blurred = F.conv2d(F.pad(out[-1], (2, 2, 2, 2), mode="reflect"), kernel, groups=x.shape[1])
        out.append(blurred[..., ::2, ::2])
    return out


def patches(x: torch.Tensor, size: int = PATCH_SIZE, centre: bool = True) -> torch.Tensor:
    """(N L, C size^2) every size x size patch of (N, C, H, W) images (stride 1, valid), each minus its own
    per-channel mean when `centre`."""
    x = _batch(x)
    n, c = x.shape[:2]
    p = F.unfold(x, size).view(n, c, size * size, -1)  # (N, C, k^2, L)
    if centre:
        p = p - p.mean(2, keepdim=True)
    return p.permute(0, 3, 1, 2).reshape(-1, c * size * size)


def patch_swd(x: torch.Tensor, y: torch.Tensor, size: int = PATCH_SIZE, levels: int = PYRAMID_LEVELS) -> float:
    """Mean over the Gaussian pyramid levels of the sliced W1 between x's and y's mean-centred patches."""
    px, py = gaussian_pyramid(x, levels), gaussian_pyramid(y, levels)
    return sum(sliced_wasserstein(patches(a, size), patches(b, size)) for a, b in zip(px, py, strict=True)) / levels
