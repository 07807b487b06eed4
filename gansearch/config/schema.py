"""The space file, as closed pydantic models: an unknown key or a wrong type fails before anything runs."""

from __future__ import annotations

import math
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator

from gansearch.config.style import StyleConfig

Scalar = Union[StrictBool, StrictInt, StrictFloat, StrictStr]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Closed):
    name: StrictStr = Field("digits", description="a built-in dataset (Names, below) or a plug-in package.module:function")
    root: StrictStr | None = Field(None, description="folder with the dataset's files; null: the dataset's usual places")
    image_size: StrictInt = Field(16, description="pixels per side the models see (16, 32, 64 or 128)")
    max_samples: StrictInt | None = Field(None, gt=0, description="cap on training images")


class ModelConfig(_Closed):
    name: StrictStr = Field("auto", description="architecture (auto: dcgan for images, mlp for 2-D points) or a "
                                                "plug-in package.module:function returning (G, D)")
    z_dim: StrictInt = Field(64, ge=1, le=4096, description="latent size")
    g_width: StrictInt = Field(64, ge=1, le=4096, description="DCGAN ngf / MLP hidden units of G")
    d_width: StrictInt = Field(64, ge=1, le=4096, description="DCGAN ndf / MLP hidden units of D")
    depth: StrictInt = Field(0, ge=0, le=16, description="extra layers (DCGAN 3x3 convs, MLP hidden)")
    spectral_norm: StrictBool = Field(False, description="spectral normalisation on D's layers")
    d_batchnorm: StrictBool = Field(True, description="batch norm in D (a WGAN-GP critic gets layer norm instead)")


class TrainConfig(_Closed):
    steps: StrictInt = Field(2000, ge=1, le=10**9, description="generator updates (optimizer steps) per trial")
    batch_size: StrictInt = Field(64, ge=1, le=65536, description="images (or points) per batch")
    device: StrictStr = Field("auto", description="auto (what Ray granted; alone: CUDA when present), cpu, mps, cuda or cuda:N")
    seed: StrictInt = Field(0, ge=0, le=2**63 - 1, description="weights, batches and evaluation latents")
    checkpoint_every: StrictInt = Field(500, ge=1, description="trainer steps between checkpoints")
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="auto: bf16 autocast on CUDA, fp32 on CPU")
    channels_last: StrictBool = Field(True, description="NHWC memory layout for the convolutions")
    compile: StrictBool = Field(False, description="torch.compile G and D (pays on 32/64-px models)")
    threads: StrictInt | None = Field(None, ge=1, le=1024, description="torch CPU threads; null: the trial's CPUs")


class EvalConfig(_Closed):
    every: StrictInt = Field(250, ge=1, description="trainer steps between evaluations")
    num_samples: StrictInt = Field(1000, ge=2, le=10**7, description="distinct generated samples each evaluation scores")
    feature_net: StrictStr = Field("auto", description="auto: inception when weights are given, else the dataset's classifier")
    inception_weights: StrictStr | None = Field(None, description="pytorch-fid's Inception weights file (never downloaded)")
    kid: StrictBool = Field(True, description="also the kernel distance (KID)")
    kid_subset_size: StrictInt = Field(500, ge=2, description="samples per KID subset")
    grid: StrictInt = Field(64, ge=1, le=10000, description="images (or 2D points) in each sample grid")
    oscillation_window: StrictInt = Field(200, ge=8, description="steps of loss history per oscillation")
    collapse_threshold: StrictFloat = Field(0.05, ge=0.0, description="D loss below this counts as ~0")
    collapse_evals: StrictInt = Field(3, ge=1, description="evals in a row with D loss ~0 -> d_collapse")


class Dist(_Closed):
    """A search distribution; outside a search the parameter takes `default`."""

    type: Literal["loguniform", "uniform", "int", "categorical"] = Field(..., description="the distribution")
    low: StrictInt | StrictFloat | None = Field(None, description="lower end of the range (inclusive)")
    high: StrictInt | StrictFloat | None = Field(None, description="upper end of the range (inclusive)")
    step: StrictInt | StrictFloat | None = Field(None, description="grid step of uniform or int")
    log: StrictBool = Field(False, description="int on a log scale")
    choices: list[Scalar] | None = Field(None, description="the values of a categorical")
    default: Scalar | None = Field(None, description="the value outside a search (and in trial 0 with search.defaults_first); "
                                                     "null: the middle of the range, or the first choice")
    when: dict[StrictStr, Union[Scalar, list[Scalar]]] | None = Field(
        None, description="active only when these parameters take these values, e.g. {balance: ttur}")

    def fallback_default(self) -> Any:
        """The value to train with when no default is written: the middle of the range."""
        if self.default is not None:
            return self.default
        if self.type == "categorical":
            return self.choices[0] if self.choices else None
        assert self.low is not None and self.high is not None
        if self.type == "loguniform" or (self.type == "int" and self.log):
            mid = math.sqrt(self.low * self.high)
        else:
            mid = (self.low + self.high) / 2
        return round(mid) if self.type == "int" else mid


class ResourcesConfig(_Closed):
    """What Ray reserves for each trial; the trial trains on what Ray granted it (gansearch.search.devices)."""

    cpu: StrictInt | StrictFloat = Field(1, gt=0, description="CPUs per trial")
    gpu: Union[Literal["auto"], StrictInt, StrictFloat] = Field(
        "auto", description="GPUs per trial: auto (1 where the cluster has GPUs, else 0), 0 (CPU), 1, or a "
                            "fraction that packs 1/gpu trials on one card")

    @field_validator("gpu")
    @classmethod
    def _one_gpu_at_most(cls, v: Any) -> Any:
        if v != "auto" and not 0 <= v <= 1:
            raise ValueError("must be auto or a number from 0 to 1 (a trial trains on one GPU; a fraction packs "
                             "several trials on one card)")
        return v


class Objective(_Closed):
    metric: StrictStr = Field(..., description="a metric name (What is measured)")
    mode: Literal["min", "max"] | None = Field(None, description="null: the metric's own better direction")


class RerunConfig(_Closed):
    """Rerun the best k configurations with fresh seeds at full budget: rank by the mean, not a lucky seed."""

    k: StrictInt = Field(3, ge=1, le=1000, description="configurations to rerun")
    seeds: StrictInt = Field(3, ge=2, le=1000, description="fresh seeds per configuration")


class ASHAConfig(_Closed):
    """Early stopping's rungs (scheduler asha or hyperband): the first cut at `grace_period` trainer steps,
    then every `reduction_factor` times as many, keeping the best 1/reduction_factor at each. Choose the
    grace period where the metric's rank starts to predict the end (bench/rank_correlation.py)."""

    grace_period: StrictInt | None = Field(None, ge=1, description="trainer steps to the first cut; null: eval.every")
    reduction_factor: StrictInt = Field(3, ge=2, le=16, description="each rung keeps the best 1/reduction_factor")


class PBTConfig(_Closed):
    """Population Based Training (Jaderberg et al. 2017): every `perturbation_interval` trainer steps the
    worst `quantile_fraction` of the population copies the weights of one of the best and continues with
    its hyperparameters, each name in `mutate` multiplied by 0.8 or 1.2 (or, with `resample_probability`,
    drawn again from its range)."""

    perturbation_interval: StrictInt = Field(..., ge=1, description="trainer steps between perturbations")
    quantile_fraction: StrictFloat = Field(0.25, gt=0.0, le=0.5, description="share of the population that copies, "
                                                                          "and share it copies from")
    resample_probability: StrictFloat = Field(0.25, ge=0.0, le=1.0, description="chance a mutated value is drawn "
                                                                               "again from its range (pbt only)")
    mutate: list[StrictStr] = Field(..., min_length=1, description="continuous hyperparameters PBT may change")
    # with scheduler pb2 (Parker-Holder et al. 2020) a GP bandit picks the new values inside the range instead
    # of the x0.8/x1.2 moves; resample_probability does not apply there


class SearchConfig(_Closed):
    """How `gansearch run` searches; names of samplers/schedulers match gansearch.search's tables."""

    metric: StrictStr | None = Field(None, description="what trials are ranked by; null: the dataset's headline metric")
    mode: Literal["min", "max"] | None = Field(None, description="null: the metric's own better direction")
    sampler: Literal["tpe", "random", "qmc", "cmaes", "gp", "nsga2"] = Field("tpe", description="Optuna's sampler")
    # none by default: bench/search_efficiency.py's paired study (15 reps on ring8 and on digits) found no
    # gain from ASHA, and its rule, written before the run, keeps none unless ASHA beats TPE on both
    scheduler: Literal["asha", "hyperband", "pbt", "pb2", "none"] = Field(
        "none", description="Ray Tune's scheduler: early stopping (asha, hyperband), population training (pbt, "
                            "pb2) or none")
    num_trials: StrictInt = Field(8, ge=1, le=100000, description="trials (PBT: population members)")
    max_concurrent: StrictInt | None = Field(None, ge=1, description="trials at once; null: as many as the resources allow")
    resources_per_trial: ResourcesConfig = Field(ResourcesConfig(), description="what Ray reserves for each trial")
    seed: StrictInt = Field(0, ge=0, le=2**32 - 1, description="the sampler's and the scheduler's seed")
    objectives: list[Objective] | None = Field(None, description="several metrics: multi-objective (with scheduler none)")
    max_failures: StrictInt = Field(2, ge=0, le=100, description="restarts of a crashed trial from its last checkpoint")
    rerun_top_k: RerunConfig | None = Field(None, description="rerun the best k with fresh seeds; rank by the mean")
    asha: ASHAConfig = Field(ASHAConfig(), description="the rungs of asha and hyperband (kept, unused, with none)")
    pbt: PBTConfig | None = Field(None, description="required with scheduler pbt or pb2")
    # categorical names whose every combination of choices the study cycles through, in order, as Optuna's
    # enqueued partial trials (the sampler draws the rest): a balanced design where one group's share is
    # the finding, e.g. [model, loss] in search_spaces/model-sensitivity.yaml (gansearch.search.enqueue)
    stratify: list[StrictStr] = Field([], description="categoricals whose every combination gets an equal share of trials")
    # on: the space's defaults are the study's first trial (Optuna's queue, marked `defaults`), so a search is
    # never worse than the hand-set configuration it starts from. Off by default since the efficiency study
    # (docs/benchmarks.md): on digits, 15 paired reps, TPE with the defaults first ended worse than TPE alone
    # at equal budget (its 90 % interval wholly worse), which the rule written before the run turns off
    defaults_first: StrictBool = Field(False, description="the space's defaults are trial 0 (Optuna's queue, origin defaults)")


class SpaceFile(_Closed):
    name: StrictStr | None = Field(None, description="the study's default folder name (studies/<name>)")
    description: StrictStr | None = Field(None, description="free text")
    task: Literal["gan", "style_transfer"] = Field("gan", description="which trainer the search runs")
    data: DataConfig = Field(DataConfig(), description="the training data")
    model: ModelConfig = Field(ModelConfig(), description="the networks")
    train: TrainConfig = Field(TrainConfig(), description="one trial's training")
    eval: EvalConfig = Field(EvalConfig(), description="each evaluation")
    space: dict[StrictStr, Union[Dist, Scalar]] = Field({}, description="hyperparameters: a distribution or a fixed value")
    search: SearchConfig = Field(SearchConfig(), description="how gansearch run searches")
    style: StyleConfig | None = Field(None, description="the two images of task: style_transfer")


SECTIONS: dict[str, type[BaseModel]] = {
    "": SpaceFile,
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
    "space.*": Dist,
    "search": SearchConfig,
    "style": StyleConfig,
}
