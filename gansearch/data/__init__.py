"""Datasets as one name table; every image is a float32 NCHW tensor in [-1, 1].

Importing this package stays torch-free (so `locate` can check data during `validate`); `DATASETS`,
`Dataset` and `load_dataset` load torch on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gansearch.data.locate import check_feature_net, check_name, locate

if TYPE_CHECKING:  # pragma: no cover
    from gansearch.data.dataset import Dataset
    from gansearch.data.registry import DATASETS, load_dataset

__all__ = ["DATASETS", "Dataset", "check_feature_net", "check_name", "load_dataset", "locate"]

_LAZY = {"DATASETS": "gansearch.data.registry", "load_dataset": "gansearch.data.registry",
         "Dataset": "gansearch.data.dataset"}


def __getattr__(name: str) -> Any:
    """PEP 562: import the torch-using modules only when their names are asked for."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gansearch.data' has no attribute {name!r}")
