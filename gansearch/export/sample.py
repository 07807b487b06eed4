"""`gansearch sample`: render n images from an exported generator, checked against its manifest first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gansearch.errors import ConfigError
from gansearch.export import generator, manifest


def sample_export(export_dir: Path, n: int, out: Path, seed: int | None = None) -> dict[str, Any]:
    """Write a grid of `n` samples to `out`; the default seed is the trial's own (its grid, reproduced).

    Returns the trial folder, the seed used and the output path.
    """
    if n < 1:
        raise ConfigError("-n", "must be >= 1", n)
    folder, entry = manifest.resolve(Path(export_dir))
    manifest.verify(folder, entry)
    g, config = generator.load(folder)
    space_file = config["space_file"]
    used = generator.sample_seed(space_file["train"]["seed"]) if seed is None else int(seed)
    samples = generator.render(g, config["model_args"]["z_dim"], n, used, space_file["train"].get("threads"))
    out = Path(out)
    generator.save_grid(samples, out, config)
    return {"folder": str(folder), "trial_key": entry.get("trial_key"), "seed": used, "n": n, "path": str(out)}
