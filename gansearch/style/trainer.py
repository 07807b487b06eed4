"""Neural style transfer (Gatys et al. 2016) as a trial: the pixels of one image optimised with Adam or
L-BFGS so a VGG-19 sees the content image's activations and the style image's Gram matrices in it.

The same surface the search uses for the GAN trainer: `StyleTrainer(cfg, out_dir, params)`, `restore()`,
`run(report, progress)` returning the summary (also metrics.json), `records.evals`, `start_step`,
`save_checkpoint(step, path)`. Every `eval.every` steps the image is measured by ANOTHER net (the
transfer_score proxy) and by net-free pixel measures (SSIM, edges, sliced Wasserstein: see
gansearch.style.measure), saved as samples/step_<N>.png and reported; a non-finite loss or image ends
the run as diverged, scored at the worst case. No Ray, Optuna or MLflow here.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from gansearch.config import SpaceFile, fixed_params
from gansearch.config.metrics import OPTIMISED_NET, OPTIMISED_NET_HASH
from gansearch.config.space import full_params
from gansearch.config.style import CONTENT_LAYER_SETS, STYLE_LAYER_SETS, image_source
from gansearch.errors import ConfigError
from gansearch.style import vgg
from gansearch.style.images import load_image
from gansearch.style.losses import content_loss, style_loss, tv_loss
from gansearch.style.measure import DESCRIPTIONS, WORST, Measure
from gansearch.style.records import StyleRecords
from gansearch.trainer import checkpoint
from gansearch.trainer.setup import peak_memory_mib, reset_peak_memory, resolve_device

Report = Callable[[dict[str, Any], Path | None], None]
Progress = Callable[[int, dict[str, float]], None]
NOISE_SEED_OFFSET = 2  # the noise start comes from train.seed + 2 (as the GAN's noise stream)


def train(cfg: SpaceFile, out_dir: str | Path, params: Mapping[str, Any] | None = None,
          report: Report | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Optimise (or resume) into `out_dir`; `params` None takes the space file's defaults."""
    params = dict(params) if params is not None else fixed_params(cfg.space)
    return StyleTrainer(cfg, Path(out_dir), params).run(report, progress)


class StyleTrainer:
    def __init__(self, cfg: SpaceFile, out_dir: Path, params: dict[str, Any]) -> None:
        if cfg.style is None:
            raise ConfigError("style", "must be set for task style_transfer", None, show_value=False)
        self.cfg, self.out, self.params = cfg, Path(out_dir), params
        self.hp = full_params(params, "style_transfer")
        s, t = cfg.style, cfg.train
        self.device = resolve_device(t.device)
        reset_peak_memory(self.device)
        self.placement: dict[str, Any] = {}  # where a search put this run (gansearch.search.devices)
        self.precision = "fp32"  # the style trainer runs no autocast
        self._threads = (torch.get_num_threads(), t.threads or torch.get_num_threads())
        size = int(self.hp["image_size"])
        content, self.content_hash = load_image(image_source(s, "content"), size, "style.content")
        style, self.style_hash = load_image(image_source(s, "style"), size, "style.style")
        self.net = vgg.build(s.feature_weights, s.feature_seed, "style.feature_weights").to(self.device)
        self.measure = Measure(s, self.device)
        if self.net.weights_hash == self.measure.net.weights_hash:
            raise ConfigError("style.measure_weights", "must differ from the net the image is optimised against "
                              f"(both are {self.net.name}, weights {self.net.weights_hash})", s.measure_weights)
        self.content_layers = CONTENT_LAYER_SETS[self.hp["content_layers"]]
        self.style_layers = STYLE_LAYER_SETS[self.hp["style_layers"]]
        self.layers = tuple(dict.fromkeys(self.content_layers + self.style_layers))
        content, style = content.to(self.device), style.to(self.device)
        self.content_targets, self.style_targets = self.net.targets(content, style, self.content_layers, self.style_layers)
        gen = torch.Generator().manual_seed(t.seed + NOISE_SEED_OFFSET)
        self.noise = (torch.rand(1, 3, size, size, generator=gen) * 2 - 1).to(self.device)
        start = self.noise if self.hp["init"] == "noise" else content
        self.image = start.clone(memory_format=torch.contiguous_format).requires_grad_(True)
        lr = float(self.hp["lr"])
        if self.hp["optimizer"] == "lbfgs":  # one iteration (one evaluation of the loss) per step
            self.opt: torch.optim.Optimizer = torch.optim.LBFGS([self.image], lr=lr, max_iter=1, history_size=20)
        else:
            self.opt = torch.optim.Adam([self.image], lr=lr)
        self.baselines = self.measure.baselines(self.noise)
        self.records = StyleRecords(self.out, s.converge_rtol)
        self.terms: dict[str, float] = {}
        self.start_step: int | None = None

    @property
    def provenance(self) -> dict[str, Any]:
        return {**self.measure.provenance, OPTIMISED_NET: self.net.name, OPTIMISED_NET_HASH: self.net.weights_hash}

    # ---- the objective -------------------------------------------------------------------------
    def objective(self, x: torch.Tensor) -> torch.Tensor:
        """content_weight * content + style_weight * style + tv_weight * TV, on the net optimised against."""
        feats = self.net(x, self.layers)
        c = content_loss(feats, self.content_targets)
        s = style_loss(feats, self.style_targets)
        tv = tv_loss(x)
        loss = float(self.hp["content_weight"]) * c + float(self.hp["style_weight"]) * s + float(self.hp["tv_weight"]) * tv
        self.terms = {k: float(v.detach()) for k, v in (("loss", loss), ("content_loss", c), ("style_loss", s),
                                                         ("tv_loss", tv))}
        return loss

    def _closure(self) -> torch.Tensor:
        self.opt.zero_grad(set_to_none=True)
        loss = self.objective(self.image)
        loss.backward()
        return loss

    def _step(self) -> bool:
        """One optimizer step (the image kept in [-1, 1]); False when the loss or the image went non-finite."""
        if isinstance(self.opt, torch.optim.LBFGS):
            self.opt.step(self._closure)
        else:
            self._closure()
            self.opt.step()
        with torch.no_grad():
            finite = bool(torch.isfinite(self.image).all()) and all(v == v and abs(v) != float("inf")
                                                                    for v in self.terms.values())
            self.image.clamp_(-1, 1)
        return finite

    # ---- the run -------------------------------------------------------------------------------
    def run(self, report: Report | None = None, progress: Progress | None = None) -> dict[str, Any]:
        before, wanted = self._threads
        torch.set_num_threads(wanted)
        try:
            return self._run(report, progress)
        finally:
            torch.set_num_threads(before)

    def restore(self) -> bool:
        """Resume from the run folder's checkpoint, once (see gansearch.trainer.loop.Trainer.restore)."""
        path = self.out / checkpoint.FILENAME
        if self.start_step is None and path.exists():
            self.start_step = self._resume(path)
            return True
        return False

    def _run(self, report: Report | None, progress: Progress | None) -> dict[str, Any]:
        t, every = self.cfg.train, self.cfg.eval.every
        self.restore()
        if self.start_step is not None:
            step = self.start_step
        else:
            step = 0
            self.records.start(self._meta())
            self._evaluate(0, report)
        clock = time.perf_counter()
        while step < t.steps and self.records.status == "running":
            ok = self._step()
            step += 1
            if not ok:
                self.records.train_time += time.perf_counter() - clock
                self.records.status, self.records.diverged_step = "diverged", step
                break
            if step % every == 0 or step == t.steps or step % t.checkpoint_every == 0:
                self.records.train_time += time.perf_counter() - clock
                if progress:
                    last = self.records.evals[-1]["transfer_score"] if self.records.evals else float("nan")
                    progress(step, {"loss": self.terms["loss"], "transfer_score": last})
                if step % every == 0 or step == t.steps:
                    self._evaluate(step, report)
                if step % t.checkpoint_every == 0 or step == t.steps:
                    self.save_checkpoint(step)
                clock = time.perf_counter()
        if self.records.status == "diverged":
            self._evaluate(self.records.diverged_step or step, report, diverged=True)
        elif self.records.status == "running":
            self.records.status = "completed"
        return self.records.finish(step, self._meta())

    def _evaluate(self, step: int, report: Report | None, diverged: bool = False) -> None:
        t0 = time.perf_counter()
        if diverged:
            metrics: dict[str, float] = {**WORST, **{k: float("nan") for k in ("loss", "content_loss", "style_loss", "tv_loss")}}
            grid = None
        else:
            with torch.no_grad():
                self.objective(self.image)  # the loss terms of the image evaluated (not of the step before)
            metrics = {**self.measure.score(self.image), **self.terms}
            grid = self.records.save_image(step, self.image)
        self.records.eval_time += time.perf_counter() - t0
        rec = self.records.add_eval(step, metrics, {**self.baselines, **self.provenance}, grid)
        if report is not None:
            path = self.out / checkpoint.FILENAME
            report(rec, path if path.exists() else None)

    # ---- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self, step: int, path: Path | None = None) -> Path:
        """The whole state (atomically): the image, the optimizer's state, the records; tensors, numbers
        and strings only, so it loads with torch.load(weights_only=True)."""
        path = path or self.out / checkpoint.FILENAME
        checkpoint.save(path, {
            "task": "style_transfer",
            "step": step,
            "config": json.dumps(self.cfg.model_dump(mode="json")),
            "params": json.dumps(self.params),
            "image": self.image.detach().cpu().clone(),
            "opt": self.opt.state_dict(),
            "records": self.records.state(),
            "terms": json.dumps(self.terms),
        })
        return path

    def _resume(self, path: Path) -> int:
        state = checkpoint.load(path, map_location=self.device)
        cfg, params = checkpoint.config_of(state)
        checkpoint.check_same_run(path, cfg, params, self.cfg.model_dump(mode="json"), json.loads(json.dumps(self.params)))
        with torch.no_grad():
            self.image.copy_(state["image"].to(self.device))
        self.opt.load_state_dict(state["opt"])
        self.records.restore(state["records"])
        self.terms = json.loads(state.get("terms", "{}"))
        return int(state["step"])

    def _meta(self) -> dict[str, Any]:
        s = self.cfg.style
        assert s is not None
        return {
            "task": "style_transfer", "params": self.params, "device": str(self.device), "precision": self.precision,
            "gpu_peak_memory_mib": peak_memory_mib(self.device), **({"placement": self.placement} if self.placement else {}),
            "content": image_source(s, "content"), "style": image_source(s, "style"),
            "content_fingerprint": self.content_hash, "style_fingerprint": self.style_hash,
            # the export and the summary read one fingerprint of "the data": here, the two images
            "dataset_fingerprint": hashlib.sha256(f"{self.content_hash}:{self.style_hash}".encode()).hexdigest()[:16],
            "content_layers": list(self.content_layers), "style_layers": list(self.style_layers),
            "measure_size": s.measure_size, **self.baselines, **self.provenance,
            "measure_definitions": DESCRIPTIONS,
        }
