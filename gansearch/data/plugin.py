"""A user's own dataset: `data.name: package.module:function` (an import path, `config.plugins`).

The contract:
- The function takes no required argument. gansearch passes, by keyword, those of `root` (data.root,
  `~` expanded; None when data.root is not set) and `image_size` (data.image_size) it declares as
  parameters, and nothing else (`**kwargs` gets nothing). Any other parameter must have a default. A
  function that declares `root` without a default needs data.root set.
- It returns a map-style dataset (`len(ds)` and `ds[i]` for i in 0..len-1, like a torch
  `torch.utils.data.Dataset` that defines `__len__`) of at least 2 items. Each item is an image, a
  (C, H, W) float tensor in [-1, 1] with C 1 or 3, or an `(image, label)` pair with an int label (a Python
  or numpy int, or a one-element integer tensor). Every item has the image shape of item 0, and a label
  if item 0 has one.
- gansearch indexes every item once (the data.max_samples cap, a fixed-seed draw like the built-in
  loaders', is drawn from `range(len(ds))` before indexing, so only kept items are read) into one tensor.
  Images that are not data.image_size square are resized like image-folder's: the shorter side to
  data.image_size (antialiased bilinear), then a centre crop; images already that size pass unchanged.
- Labels may be any ints: the distinct values, sorted, become classes 0..K-1 (labels already 0..K-1 stay
  as they are) and num_classes is K. There is no test split: the GAN trains on every item, and the
  dataset's classifier keeps a stratified tenth out of its own training to measure its accuracy on
  (`metrics.classifier.heldout_split`), as it does for image-folder.
- The fingerprint hashes the image bytes (before resizing) and labels with the import path,
  data.image_size and data.max_samples: any change of a pixel or a label makes a new one, so cached
  classifiers and real features are rebuilt.

Every broken promise is one ConfigError line `data.name: <rule>, got '<import path>'`.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from gansearch.config.plugins import resolve
from gansearch.config.schema import DataConfig
from gansearch.data.dataset import Dataset, cap_indices, fingerprint, make_image_dataset, to_signed
from gansearch.errors import ConfigError

KWARGS = ("root", "image_size")  # what gansearch passes a dataset function, each only when declared
CHANNELS = (1, 3)
ITEM_RULE = "(C, H, W) float tensors in [-1, 1] with C 1 or 3, or (image, int label) pairs"


@dataclass
class Probe:
    """What item 0 of a plug-in's dataset says without loading the rest."""

    length: int
    shape: tuple[int, ...]
    labelled: bool


def _fail(cfg: DataConfig, rule: str) -> ConfigError:
    return ConfigError("data.name", f"the plug-in's {rule}", cfg.name)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def plugin_kwargs(cfg: DataConfig, fn: Callable[..., Any]) -> dict[str, Any]:
    """The keyword arguments the contract gives `fn`; one line when it wants what gansearch can't give."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: call it bare
        return {}
    kwargs: dict[str, Any] = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in KWARGS and p.kind != p.POSITIONAL_ONLY:
            if p.name == "root":
                if cfg.root is None and p.default is p.empty:
                    raise ConfigError("data.root", f"must be set: the plug-in data.name {cfg.name} requires root", None)
                kwargs["root"] = None if cfg.root is None else str(Path(cfg.root).expanduser())
            else:
                kwargs["image_size"] = cfg.image_size
        elif p.default is p.empty:
            raise _fail(cfg, f"function must take no required parameter other than {' and '.join(KWARGS)} "
                             f"(it requires {p.name})")
    return kwargs


def check_callable(cfg: DataConfig) -> Callable[..., Any]:
    """Import the function and check its parameters (what `locate` checks: no call, no data read)."""
    fn = resolve(cfg.name, "data.name")
    plugin_kwargs(cfg, fn)
    return fn


def open_dataset(cfg: DataConfig) -> Any:
    """Call the function; return its map-style dataset of at least 2 items."""
    fn = check_callable(cfg)
    kwargs = plugin_kwargs(cfg, fn)
    try:
        ds = fn(**kwargs)
    except Exception as e:  # noqa: BLE001 - whatever the user's function raises, one line
        raise _fail(cfg, f"function must return a dataset (calling it raised {_first_line(e)})") from None
    kind = type(ds).__name__
    if (isinstance(ds, (str, bytes, Mapping, torch.utils.data.IterableDataset))
            or not (hasattr(ds, "__len__") and hasattr(ds, "__getitem__"))):
        raise _fail(cfg, f"function must return a map-style dataset (with __len__ and __getitem__; it "
                         f"returned {'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind})")
    try:
        n = len(ds)
    except Exception as e:  # noqa: BLE001
        raise _fail(cfg, f"dataset must have a length (len() raised {_first_line(e)})") from None
    if n < 2:
        raise _fail(cfg, f"dataset must hold at least 2 items (it holds {n})")
    return ds


def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a {str(x.dtype).removeprefix('torch.')} tensor of shape {tuple(x.shape)}"
    if isinstance(x, np.ndarray):
        return f"a numpy {x.dtype} array of shape {x.shape}"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of {len(x)}"
    return f"a {type(x).__name__}"


def _label(value: Any) -> int | None:
    """The int a label holds, or None when it isn't one."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point() \
            and not value.is_complex() and value.dtype != torch.bool:
        return int(value.item())
    return None


def split_item(cfg: DataConfig, item: Any, i: int) -> tuple[torch.Tensor, int | None]:
    """(image, label or None) of item i, checked against the contract."""
    label = None
    image = item
    if isinstance(item, (tuple, list)):
        if len(item) != 2:
            raise _fail(cfg, f"items must be {ITEM_RULE} (item {i} is {_describe(item)})")
        image, raw = item
        label = _label(raw)
        if label is None:
            raise _fail(cfg, f"items' labels must be ints (item {i}'s label is {_describe(raw)})")
    if not (isinstance(image, torch.Tensor) and image.dim() == 3 and image.is_floating_point()
            and image.shape[0] in CHANNELS and image.shape[1] > 0 and image.shape[2] > 0):
        what = f"item {i}'s image" if label is not None else f"item {i}"
        raise _fail(cfg, f"items must be {ITEM_RULE} ({what} is {_describe(image)})")
    return image, label


def _get(cfg: DataConfig, ds: Any, i: int) -> Any:
    try:
        return ds[i]
    except Exception as e:  # noqa: BLE001
        raise _fail(cfg, f"dataset must return item {i} of its {len(ds)} (ds[{i}] raised {_first_line(e)})") from None


def probe(cfg: DataConfig) -> Probe:
    """Call the function and check item 0: cheap enough for `gansearch validate`."""
    ds = open_dataset(cfg)
    image, label = split_item(cfg, _get(cfg, ds, 0), 0)
    return Probe(len(ds), tuple(image.shape), label is not None)


def resize_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """[-1, 1] NCHW -> size x size: shorter side to size (antialiased bilinear), centre crop; a no-op at size."""
    h, w = images.shape[-2:]
    if (h, w) == (size, size):
        return images
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    out = []
    for chunk in images.split(8192):
        unit = F.interpolate((chunk + 1.0) / 2.0, size=(nh, nw), mode="bilinear", align_corners=False,
                             antialias=True)
        top, left = (nh - size) // 2, (nw - size) // 2
        out.append(to_signed(unit[..., top:top + size, left:left + size]))
    return torch.cat(out)


def load_plugin(cfg: DataConfig, device: torch.device) -> Dataset:
    """Index every (kept) item once into the Dataset record; see the module's contract."""
    ds = open_dataset(cfg)
    n = len(ds)
    keep = cap_indices(n, cfg.max_samples)
    order = list(range(n)) if keep is None else keep.tolist()
    first, first_label = split_item(cfg, _get(cfg, ds, order[0]), order[0])
    shape = tuple(first.shape)
    train = torch.empty((len(order), *shape), dtype=torch.float32)
    labels: list[int] = []
    for j, i in enumerate(order):
        image, label = (first, first_label) if j == 0 else split_item(cfg, _get(cfg, ds, i), i)
        if tuple(image.shape) != shape:
            raise _fail(cfg, f"items must all have one shape (item {order[0]} is {shape}, item {i} is "
                             f"{tuple(image.shape)})")
        if (label is None) != (first_label is None):
            raise _fail(cfg, f"items must all carry a label or none (item {order[0]} "
                             f"{'has none' if first_label is None else 'has one'}, item {i} "
                             f"{'has none' if label is None else 'has one'})")
        train[j] = image.detach().to("cpu", torch.float32)
        if label is not None:
            labels.append(label)
    if not torch.isfinite(train).all():
        raise _fail(cfg, "images must be finite (they hold NaN or inf)")
    lo, hi = float(train.min()), float(train.max())
    if lo < -1.0 or hi > 1.0:
        raise _fail(cfg, f"images must lie in [-1, 1] (min {lo:.4g}, max {hi:.4g}; images in [0, 1] map "
                         "there by x * 2 - 1)")
    raw_labels = torch.tensor(labels, dtype=torch.int64) if first_label is not None else None
    digest = hashlib.sha256(train.numpy())  # the buffer itself: no copy
    if raw_labels is not None:
        digest.update(raw_labels.numpy())
    fp = fingerprint(cfg.name, data=digest.hexdigest(), shape=list(train.shape), labelled=raw_labels is not None,
                     image_size=cfg.image_size, max_samples=cfg.max_samples)
    y = num_classes = None
    if raw_labels is not None:
        classes, y = torch.unique(raw_labels, sorted=True, return_inverse=True)
        num_classes = int(classes.numel())
    train = resize_crop(train, cfg.image_size)
    # the cap was applied above; pass None so it is not applied twice
    return make_image_dataset(cfg.name, train, y, None, None, num_classes, fp, None, device)
