"""gansearch: find GAN hyperparameters that converge.

Importing the package is cheap: torch, Ray, Optuna and MLflow load only in the modules that need them.
The Python API (gansearch.api) is here too, loaded on first use:

    import gansearch
    study = gansearch.run("search_spaces/digits.yaml", "studies/digits")
    study.trials_dataframe(); study.best_trial
    gansearch.load_study("studies/digits"); gansearch.train(space, out); gansearch.load_generator(export_dir)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Study", "Trial", "load_generator", "load_study", "run", "train", "__version__"]
_API = ("Study", "Trial", "load_generator", "load_study", "run", "train")


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        # by name: the root package is only a facade over gansearch.api (which the layers contract places
        # above everything else); the modules that read __version__ must not depend on it
        return getattr(importlib.import_module("gansearch.api"), name)
    raise AttributeError(f"module 'gansearch' has no attribute {name!r}")
