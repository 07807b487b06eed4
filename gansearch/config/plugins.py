"""A user's own model or dataset, named in the space file by an import path: `package.module:function`.

gansearch imports the function where it is needed (validation reads its keyword parameters, the trainer
calls it); this module imports nothing heavy itself, but importing the user's module runs its code, which
usually imports torch.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from typing import Any, Callable

from gansearch.errors import ConfigError

IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
REQUIRED = inspect.Parameter.empty  # a keyword parameter without a default


def is_plugin(name: str) -> bool:
    """`package.module:function`, as opposed to a built-in name (dcgan, digits, ...)."""
    return bool(IMPORT_PATH.match(name))


def resolve(path: str, field: str) -> Callable[..., Any]:
    """The function at `path`; one line naming `field` when it can't be imported."""
    module_name, _, attr = path.partition(":")
    ensure_cwd_importable()
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001 - whatever the user's module raises, say it in one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ConfigError(field, f"must be an importable package.module:function ({type(e).__name__}: {first}; "
                          f"sys.path[0] is {sys.path[0] or '.'})", path) from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(field, f"must name a function of {module_name} (it has no callable {attr})", path)
    return fn


def keyword_params(fn: Callable[..., Any], skip: int = 1) -> dict[str, Any]:
    """name -> default (REQUIRED when none) of the parameters a plug-in takes by keyword, after the first
    `skip` positional ones (a model function's `shape`)."""
    params = list(inspect.signature(fn).parameters.values())[skip:]
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name: p.default for p in params if p.kind in kinds}


# the model section's fields a plug-in receives when it declares them (with the same name)
MODEL_FIELDS = ("z_dim", "g_width", "d_width", "depth", "spectral_norm", "d_batchnorm")


def import_root(path: str) -> str | None:
    """The folder to put on sys.path so the plug-in imports (the one holding its top-level package or
    module), or None when it is installed like any other package. A trial adds it to its own sys.path,
    and `gansearch run` ships it to Ray's workers (runtime_env `py_modules`) when it starts Ray."""
    import os

    top = importlib.import_module(path.partition(":")[0].split(".")[0])
    file = getattr(top, "__file__", None)
    if file is None:
        return None
    where = os.path.dirname(os.path.abspath(file))
    if os.path.basename(file) == "__init__.py":
        where = os.path.dirname(where)
    return None if any(p in where.split(os.sep) for p in ("site-packages", "dist-packages")) else where


def ship_path(path: str) -> str | None:
    """What Ray's runtime_env `py_modules` takes for the plug-in: its package folder or module file."""
    import os

    top = importlib.import_module(path.partition(":")[0].split(".")[0])
    file = getattr(top, "__file__", None)
    if file is None or import_root(path) is None:
        return None
    return os.path.dirname(os.path.abspath(file)) if os.path.basename(file) == "__init__.py" else os.path.abspath(file)


def add_to_sys_path(roots: "list[str] | tuple[str, ...]") -> None:
    """Put plug-in folders (`import_root`) first on this process's sys.path, once each."""
    for root in roots:
        if root not in sys.path:
            sys.path.insert(0, root)


def ensure_cwd_importable() -> None:
    """Like uvicorn and gunicorn: a plug-in next to the space file the user runs from imports without
    PYTHONPATH (a console script's sys.path starts with its own bin folder, not the working folder)."""
    import os

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
