"""Train one GAN from a space file's fixed values: resumable, evaluated, and honest about divergence.

`train()` is the whole API: no Ray, Optuna or MLflow here. The search wraps it and listens through
`report`, called after every evaluation with the record and the checkpoint path.

Over 300 lines on purpose: the Trainer's state (models, optimizers, RNG streams, records, the average,
the lineage) is written and read in one place, so a checkpoint, a resume and PBT's adopt can't drift
apart; the step (step.py), the models, the evaluation and the records live in their own modules.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from gansearch.config import SpaceFile, fixed_params, full_params
from gansearch.config.fields import with_fields
from gansearch.config.lineage import DONOR_SCHEDULE, schedule
from gansearch.config.plugins import is_plugin
from gansearch.config.metrics import GENERATOR, evaluation_metrics
from gansearch.trainer import checkpoint
from gansearch.trainer.balance import get_balance
from gansearch.trainer.ema import GeneratorEMA
from gansearch.trainer.grids import (fixed_latents, generate, generate_scales, latent_stream, pool_size, sample_seed,
                                     tensor_stream)
from gansearch.trainer.losses import get_loss
from gansearch.trainer.effective import effective_params
from gansearch.trainer.models import build_models, d_norm, model_name, real_input, set_growth
from gansearch.trainer.models.progressive import growth
from gansearch.trainer.models.scales import resolutions
from gansearch.trainer.records import Records
from gansearch.trainer.setup import EvalSetup, peak_memory_mib, reset_peak_memory, resolve_device
from gansearch.trainer.step import Step

Report = Callable[[dict[str, Any], Path | None], None]
Progress = Callable[[int, dict[str, float]], None]


def train(
    cfg: SpaceFile,
    out_dir: str | Path,
    params: Mapping[str, Any] | None = None,
    report: Report | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train (or resume) into `out_dir`; return the final summary also written to metrics.json.

    `params` are the active hyperparameters (a search's sample); None takes the space file's defaults.
    """
    return Trainer(cfg, Path(out_dir), dict(params) if params is not None else fixed_params(cfg.space)).run(report, progress)


def adam(model: torch.nn.Module, lr: float, betas: tuple[float, float], weight_decay: float = 0.0) -> torch.optim.Adam:
    """Fused Adam: one kernel per step rather than a loop over parameters (CPU and CUDA alike)."""
    return torch.optim.Adam(model.parameters(), lr=lr, betas=betas, weight_decay=weight_decay, fused=True)


class Trainer:
    def __init__(self, cfg: SpaceFile, out_dir: Path, params: dict[str, Any]) -> None:
        cfg = with_fields(cfg, params)  # searched `model.*`/`train.*` fields: the checkpoint's config says what trained
        self.hp = full_params(params)
        if self.hp["model"] != "auto":  # a searched architecture: the checkpoint's config names what was built
            cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"name": self.hp["model"]})})
        self.cfg, self.out, self.params = cfg, out_dir, params
        t = cfg.train
        self.device = resolve_device(t.device)
        reset_peak_memory(self.device)
        # where a search put this run (node, granted GPU ids, device; gansearch.search.devices): run.json records it
        self.placement: dict[str, Any] = {}
        self._threads = (torch.get_num_threads(), t.threads or torch.get_num_threads())
        self.setup = EvalSetup(cfg, self.device)
        self.data = self.setup.dataset
        self.model = model_name(cfg.model, self.data.shape)
        if self.model == "msg":  # its lower scales are scored too; a growing G's levels are one image at a time
            self.setup.score_scales(tuple(resolutions(cfg.data.image_size)[:-1]))
        torch.manual_seed(t.seed)  # after the setup, so a feature-net cache miss can't change the init
        self.loss = get_loss(self.hp["loss"])
        self.g, self.d = build_models(cfg.model, self.data.shape, self.loss.gradient_penalty, self.hp)
        self.levels = len(resolutions(cfg.data.image_size)) if self.model == "progressive" else 0
        self.d_norm = ("the plug-in's own" if is_plugin(cfg.model.name) else
                       d_norm(cfg.model, self.loss.gradient_penalty) if len(self.data.shape) == 3 else "none")
        self.channels_last = t.channels_last and len(self.data.shape) == 3
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.g.to(self.device, memory_format=fmt)
        self.d.to(self.device, memory_format=fmt)
        # G's moving average (ema_decay > 0): what evaluations and grids sample, checkpoints carry and exports ship
        decay = float(self.hp["ema_decay"])
        self.ema = GeneratorEMA(self.g, decay) if decay > 0 else None
        self.balance = get_balance(self.hp, t.steps)
        lr_g, lr_d = self.balance.learning_rates()
        self.lr_g, self.lr_d = lr_g, lr_d
        betas = (float(self.hp["beta1"]), float(self.hp["beta2"]))
        wd = float(self.hp["weight_decay"])
        self.opt_g = adam(self.g, lr_g, betas, wd)
        self.opt_d = adam(self.d, lr_d, betas, wd)
        self.data_gen = torch.Generator(self.device).manual_seed(t.seed + 1)
        self.noise_gen = torch.Generator(self.device).manual_seed(t.seed + 2)
        # 2-D points stay fp32: bf16's rounding near |x| = 2 is ~0.008, the order of a ring8 mode's std (0.02)
        use_bf16 = (t.precision == "bf16" or (t.precision == "auto" and self.device.type == "cuda")) \
            and self.data.kind != "points"
        self.precision = "bf16" if use_bf16 else "fp32"
        self.autocast = (
            (lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)) if use_bf16 else contextlib.nullcontext
        )
        z_dim = cfg.model.z_dim
        g_fwd, d_fwd = self.g, self.d
        if t.compile:
            g_fwd, d_fwd = torch.compile(self.g), torch.compile(self.d)
        self.step_fn = Step(
            g=g_fwd, d=d_fwd, critic=self.d, opt_g=self.opt_g, opt_d=self.opt_d, loss=self.loss, balance=self.balance,
            gp_weight=float(self.hp["gp_weight"]),
            sample_real=self._sample_real,
            sample_z=lambda n: torch.randn(n, z_dim, device=self.device, generator=self.noise_gen),
            noise_gen=self.noise_gen, batch_size=t.batch_size, autocast=self.autocast,
            d_has_batchnorm=any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in self.d.modules()),
        )
        floor = None if self.loss.d_floor is None else self.loss.d_floor(self.balance.real_target)
        self.records = Records(self.out, cfg.eval, evaluation_metrics(cfg, best=False), d_floor=floor,
                               levels=self.loss.chance(self.balance.real_target))
        # how every evaluation's numbers were made: the feature net (setup) and the G that was sampled
        self.provenance: dict[str, Any] = {**self.setup.provenance, GENERATOR: "raw" if self.ema is None else "ema"}
        self.pool = pool_size(cfg.eval.num_samples, cfg.eval.grid)
        self.last_d: float | None = None  # D's last loss, read only by strategies that need it (skip_d)
        self.start_step: int | None = None  # the checkpoint's step once restored (None: a fresh run)
        self.lineage: list[dict[str, Any]] = []  # PBT: each time this run took another member's weights

    @property
    def g_ema(self) -> torch.nn.Module | None:
        """G's moving average, None when ema_decay is 0."""
        return None if self.ema is None else self.ema.model

    @property
    def ema_decay(self) -> float:
        """The decay the average is updated with, 0 when there is none (run.json's `effective` reads it)."""
        return 0.0 if self.ema is None else self.ema.decay

    @property
    def eval_g(self) -> torch.nn.Module:
        """The G that evaluations and sample grids sample: the moving average when on, else G itself."""
        return self.g if self.ema is None else self.ema.model

    def _sample_real(self, n: int) -> Any:
        """Real images as D takes them: the data's size (DCGAN), a pyramid (MSG-GAN), the current level."""
        x = self.data.sample(n, self.data_gen)
        return real_input(self.d)(x.contiguous(memory_format=torch.channels_last) if self.channels_last else x)

    def grow(self, step: int) -> None:
        """Progressive growing: set G's, D's (and G's average's) level and fade-in for the iteration after
        `step` steps."""
        if self.levels:
            level, alpha = growth(step, self.levels, int(self.hp["steps_per_resolution"]), float(self.hp["fade_in"]))
            set_growth((self.g, self.d) if self.ema is None else (self.g, self.d, self.ema.model), level, alpha)

    # ---- the run -------------------------------------------------------------------------------
    def run(self, report: Report | None = None, progress: Progress | None = None) -> dict[str, Any]:
        before, wanted = self._threads
        torch.set_num_threads(wanted)
        try:
            return self._run(report, progress)
        finally:
            torch.set_num_threads(before)  # train.threads applies to this run, not the rest of the process

    def restore(self) -> bool:
        """Resume from the run folder's checkpoint, if there is one and it was not restored yet; then
        `start_step` is its step and `records` what it recorded. `run` calls it too: a caller restores
        first only to look at what the checkpoint holds (the search logs what a kill left unlogged)."""
        ckpt_path = self.out / checkpoint.FILENAME
        if self.start_step is None and ckpt_path.exists():
            self.start_step = self._resume(ckpt_path)
            return True
        return False

    def _run(self, report: Report | None, progress: Progress | None) -> dict[str, Any]:
        t, ev = self.cfg.train, self.cfg.eval
        ckpt_path = self.out / checkpoint.FILENAME
        self.restore()
        if self.start_step is not None:
            step = self.start_step
        else:
            step = 0
            self.records.start(self._meta())
            self.grow(0)
            self._evaluate(0, report)
        flush_every = max(1, min(ev.every, 100))
        buf = torch.zeros(2, flush_every, device=self.device)
        filled = 0
        clock = time.perf_counter()
        while step < t.steps and self.records.status == "running":
            self.grow(step)
            loss_d, loss_g = self.step_fn(step, self.last_d)
            if self.ema is not None:  # G stepped exactly once in step_fn: one step of its average
                self.ema.update()
            if self.records.warmup_time is None:
                float(loss_g)  # the first iteration done, compilation included (a GPU runs ahead otherwise)
                self.records.warmup_time = time.perf_counter() - clock
            step += 1
            buf[0, filled], buf[1, filled] = loss_d, loss_g
            filled += 1
            if self.balance.reads_d_loss:
                self.last_d = float(loss_d)
            boundary_eval = step % ev.every == 0 or step == t.steps
            if filled == flush_every or boundary_eval or step % t.checkpoint_every == 0:
                window = buf[:, :filled].cpu()
                self.records.train_time += time.perf_counter() - clock
                self.records.add_losses(step - filled, window)
                filled = 0
                if self.records.status == "diverged":
                    break
                if progress:
                    progress(step, self.records.progress_fields())
                if boundary_eval:
                    self.grow(step)
                    self._evaluate(step, report)
                if step % t.checkpoint_every == 0 or step == t.steps:
                    self.save_checkpoint(step, ckpt_path)
                clock = time.perf_counter()
        if self.records.status == "diverged":
            self._evaluate(self.records.diverged_step or step, report, diverged=True)
        elif self.records.status == "running":
            self.records.status = "completed"
        return self.records.finish(step, self._meta())

    def _evaluate(self, step: int, report: Report | None, diverged: bool = False) -> None:
        t0 = time.perf_counter()
        grid, scale_grids = None, []
        if diverged:
            metrics = self.setup.worst_case()
        elif self.setup.scale_evaluators:  # every scale of the same latents, from one pass of G
            *lower, full = generate_scales(self.eval_g, self._latents(self.pool), self.autocast)
            metrics = self.setup.evaluate(tensor_stream(full))
            metrics.update(self.setup.evaluate_scales({x.shape[-1]: tensor_stream(x) for x in lower}))
            n = self.cfg.eval.grid
            grid = self.records.save_grid(step, full[:n], self.data)
            scale_grids = [self.records.save_grid(step, x[:n], self.data, scale=x.shape[-1]) for x in lower]
        else:
            metrics = self.setup.evaluate(latent_stream(self.eval_g, self._latents(self.pool), self.autocast))
            grid = self.records.save_grid(step, self._sample(self.cfg.eval.grid), self.data)
        self.records.eval_time += time.perf_counter() - t0
        record = self.records.add_eval(step, metrics, self.provenance, grid, scale_grids)
        if report is not None:
            report(record, self.out / checkpoint.FILENAME if (self.out / checkpoint.FILENAME).exists() else None)

    def _latents(self, n: int) -> torch.Tensor:
        """The first n of the run's evaluation latents (the same at every evaluation; see grids), drawn on
        the CPU whatever the device, so `gansearch sample` redraws the very latents a GPU run scored."""
        z = fixed_latents(n, self.cfg.model.z_dim, sample_seed(self.cfg.train.seed), "cpu", pool=self.pool)
        return z.to(self.device)

    def _sample(self, n: int) -> torch.Tensor:
        """G (its moving average when on) in eval mode on the first n evaluation latents: each image depends
        on its z alone."""
        return generate(self.eval_g, self._latents(n), self.autocast)

    # ---- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self, step: int, path: Path | None = None) -> Path:
        """Write the full training state (atomically); the search calls it at each evaluation step."""
        path = path or self.out / checkpoint.FILENAME
        state = {
            "step": step,
            "config": json.dumps(self.cfg.model_dump(mode="json")),
            "params": json.dumps(self.params),
            "data_shape": [int(s) for s in self.data.shape],  # what G was built for: the export rebuilds it
            "g": self.g.state_dict(),
            **({} if self.ema is None else {"g_ema": self.ema.model.state_dict()}),
            "d": self.d.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng_torch": torch.get_rng_state(),
            "rng_data": self.data_gen.get_state(),
            "rng_noise": self.noise_gen.get_state(),
            "records": self.records.state(),
            "last_d": float("nan") if self.last_d is None else self.last_d,
            "lineage": json.dumps(self.lineage),
        }
        checkpoint.save(path, state)
        return path

    def _resume(self, path: Path) -> int:
        state = checkpoint.load(path, map_location=self.device)
        cfg, params = checkpoint.config_of(state)
        checkpoint.check_same_run(path, cfg, params, self.cfg.model_dump(mode="json"), json.loads(json.dumps(self.params)))
        self._load_models(state)
        self._load_history(state)
        return int(state["step"])

    def _load_models(self, state: dict[str, Any]) -> None:
        self.g.load_state_dict(state["g"])
        if self.ema is not None:  # a state without one (PBT: a donor that averaged nothing) starts it from its G
            self.ema.model.load_state_dict(state.get("g_ema", state["g"]))
        self.d.load_state_dict(state["d"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.last_d = None if state["last_d"] != state["last_d"] else float(state["last_d"])  # NaN: none yet

    def _load_history(self, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["rng_torch"].cpu())
        self.data_gen.set_state(state["rng_data"].cpu())
        self.noise_gen.set_state(state["rng_noise"].cpu())
        self.records.restore(state["records"])
        self.lineage = json.loads(state.get("lineage", "[]"))

    def adopt(self, donor_path: Path, event: dict[str, Any]) -> int:
        """PBT's exploit: this run continues from another member's weights and optimizer moments (its
        models are built from its new hyperparameters, the donor's), at its own step. It keeps its own
        history (records, loss sums, RNG streams, lineage) from its folder's checkpoint, so its metrics
        stay one curve. Returns the step; `event` (`from`: the donor's name) goes into the lineage."""
        own_path = self.out / checkpoint.FILENAME
        own = checkpoint.load(own_path, map_location=self.device)
        step, lineage = int(own["step"]), json.loads(own.get("lineage", "[]"))
        if lineage and lineage[-1]["step"] == step and lineage[-1]["from"] == event["from"]:
            self.start_step = self._resume(own_path)  # adopted already: the trial restarted before reporting
            return step
        donor = checkpoint.load(donor_path, map_location=self.device)
        for path, state in ((own_path, own), (donor_path, donor)):  # the same run in all but the params
            cfg, params = checkpoint.config_of(state)
            checkpoint.check_same_run(path, cfg, params, self.cfg.model_dump(mode="json"), params)
        self._load_history(own)
        self._load_models(donor)
        betas = (float(self.hp["beta1"]), float(self.hp["beta2"]))
        for opt, lr in ((self.opt_g, self.lr_g), (self.opt_d, self.lr_d)):
            for group in opt.param_groups:  # the donor's moments; the step size is this member's own
                group.update(lr=lr, betas=betas, weight_decay=float(self.hp["weight_decay"]))
        # the donor's schedule at the copy, from its own checkpoint: the history of the weights just adopted
        donor_schedule = schedule(json.loads(donor.get("lineage", "[]")), checkpoint.config_of(donor)[1])
        self.lineage.append({"step": step, **event, "donor_step": int(donor["step"]),
                             "before": checkpoint.config_of(own)[1], "params": self.params,
                             DONOR_SCHEDULE: donor_schedule})
        self.start_step = step
        return step

    def _meta(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "effective": effective_params(self),  # each value as the live objects hold it (trainer.effective)
            "model": self.model,
            "lr_g_effective": self.lr_g,
            "lr_d_effective": self.lr_d,
            "d_norm": self.d_norm,
            "precision": self.precision,
            "device": str(self.device),
            "gpu_peak_memory_mib": peak_memory_mib(self.device),
            **({"placement": self.placement} if self.placement else {}),
            "dataset": self.data.name,
            "dataset_fingerprint": self.data.fingerprint,
            "num_params_g": sum(p.numel() for p in self.g.parameters()),
            "num_params_d": sum(p.numel() for p in self.d.parameters()),
            **self.provenance,
        }
