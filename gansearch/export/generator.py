"""An exported generator: rebuilt from config.json, weights from safetensors, sampled like the trainer.

Nothing here unpickles: the weights come from `safetensors.torch.load_file`, the architecture from the
space file recorded in config.json plus the data shape recorded there (`model_args.data_shape`, taken
from the trainer's checkpoint at export time), so rendering needs
neither the dataset nor Ray/MLflow. Latents are drawn exactly as the trainer draws an evaluation's
(`gansearch.trainer.grids`), so the default seed reproduces the trial's own sample grid, and n =
eval.num_samples the very samples its evaluations scored.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator, Mapping, Sequence

import torch

from gansearch.trainer.grids import fixed_latents, generate, pool_size, sample_seed  # noqa: F401 - sample_seed: re-exported

WEIGHTS = "generator.safetensors"
CONFIG = "config.json"


def data_shape(space_file: Mapping[str, Any], g_state: Mapping[str, torch.Tensor],
               stored: Sequence[int] | None = None) -> tuple[int, ...]:
    """The data shape G was built for: `stored`, what the trainer recorded in its checkpoint
    (`checkpoint.data_shape_of`), whenever there is one; only a checkpoint written before the trainer
    recorded it is guessed from the space file and G's own weights (`guess_data_shape`)."""
    if stored is not None:
        return tuple(int(s) for s in stored)
    return guess_data_shape(space_file, g_state)


def guess_data_shape(space_file: Mapping[str, Any], g_state: Mapping[str, torch.Tensor]) -> tuple[int, ...]:
    """For old checkpoints only: 2D mixtures are (2,); images are (C, S, S) with S = data.image_size and
    C the output channels of G's last convolution in key order. `build(...)` then loads the weights
    strictly, which checks the guess."""
    from gansearch.data.points import MIXTURES

    if space_file["data"]["name"] in MIXTURES:
        return (2,)
    size = int(space_file["data"]["image_size"])
    convs = [(k, t) for k, t in g_state.items() if k.endswith("weight") and t.dim() == 4]
    if not convs:
        raise ValueError("G has no convolution weights: cannot tell the image channels")
    key, last = convs[-1]
    # DCGAN ends in a transposed convolution (in, out, k, k); MSG/progressive in a toRGB conv (out, in, 1, 1)
    return (int(last.shape[0] if key.startswith("to_rgb") else last.shape[1]), size, size)


def modes_of(space_file: Mapping[str, Any]) -> list[list[float]] | None:
    """The true modes of a 2D mixture (drawn under the scatter plot), else None."""
    from gansearch.data.points import MIXTURES

    name = space_file["data"]["name"]
    return MIXTURES[name][0].tolist() if name in MIXTURES else None


def build(space_file: Mapping[str, Any], shape: tuple[int, ...], state: Mapping[str, torch.Tensor],
          params: Mapping[str, Any] | None = None) -> torch.nn.Module:
    """G for `shape` with `state` loaded strictly, in eval mode on the CPU (`params`: the trial's, which a
    plug-in model takes its own parameters from; a plug-in that can't be imported here is one line)."""
    from gansearch.config import SpaceFile
    from gansearch.trainer.models import build_models

    cfg = SpaceFile.model_validate(dict(space_file))
    with torch.random.fork_rng(devices=[]):  # building D and the init draw from the global RNG
        g, _ = build_models(cfg.model, tuple(shape), params=params)
    g.load_state_dict(dict(state), strict=True)
    return g.eval()


def load(folder: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """(G, config.json) of one exported trial folder; weights through safetensors only."""
    from safetensors.torch import load_file

    config = json.loads((folder / CONFIG).read_text())
    state = load_file(str(folder / WEIGHTS), device="cpu")
    return build(config["space_file"], tuple(config["model_args"]["data_shape"]), state, config.get("params")), config


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def eval_pool(space_file: Mapping[str, Any]) -> int:
    """How many latents each evaluation of the trial drew (its scored samples, its grid the first of them)."""
    ev = space_file["eval"]
    return pool_size(ev["num_samples"], ev["grid"])


@torch.no_grad()
def render(g: torch.nn.Module, z_dim: int, n: int, seed: int, threads: int | None = None, pool: int = 0) -> torch.Tensor:
    """n samples from the first n rows of randn(max(n, pool), z_dim) of a CPU generator seeded `seed`,
    through G in eval mode (`pool`: `eval_pool`, so a trial's seed gives its evaluation's latents).

    `threads` is the trial's train.threads: the same thread count keeps the float sums in the same
    order as the trial's own evaluation.
    """
    with _threads(threads):
        return generate(g, fixed_latents(n, z_dim, seed, pool=pool))


def save_grid(samples: torch.Tensor, path: Path, config: Mapping[str, Any]) -> None:
    """The trainer's own grid writer: an image grid, or a scatter over the recorded modes."""
    from gansearch.trainer.grids import save_grid as trainer_save_grid

    modes = config["model_args"].get("modes")
    data = SimpleNamespace(modes=torch.tensor(modes) if modes is not None else None)
    trainer_save_grid(samples, path, data)
