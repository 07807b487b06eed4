"""GAN metrics: pure numpy/torch maths (FID, KID, coverage, loss oscillation) and the Evaluator.

Knows nothing of GAN classes, data loading or tracking. `feature_net_for` (`features.py`) and
`real_features` (`feature_cache.py`) load lazily, so importing this package never needs a feature net's
weights.
`kid.kid` is re-exported as `kernel_inception_distance`: a package attribute named `kid` would hide
the `kid` submodule (`import gansearch.metrics.kid as m` would then give the function).
"""

from __future__ import annotations

import importlib
from typing import Any

from gansearch.metrics.coverage import class_coverage, kl_divergence, mode_metrics
from gansearch.metrics.evaluate import Evaluator
from gansearch.metrics.frechet import MetricError, frechet_distance, gaussian_stats, sqrtm_psd
from gansearch.metrics.kid import kid as kernel_inception_distance
from gansearch.metrics.kid import mmd2_unbiased, polynomial_kernel
from gansearch.metrics.oscillation import d_collapse, diverged, loss_summary, oscillation

_LAZY = {"feature_net_for": "gansearch.metrics.features", "real_features": "gansearch.metrics.feature_cache"}

__all__ = [
    "Evaluator",
    "MetricError",
    "class_coverage",
    "d_collapse",
    "diverged",
    "feature_net_for",
    "frechet_distance",
    "gaussian_stats",
    "kernel_inception_distance",
    "kl_divergence",
    "loss_summary",
    "mmd2_unbiased",
    "mode_metrics",
    "oscillation",
    "polynomial_kernel",
    "real_features",
    "sqrtm_psd",
]


def __getattr__(name: str) -> Any:
    """Load the feature-net names on first use (PEP 562)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gansearch.metrics' has no attribute {name!r}")
