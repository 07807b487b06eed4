"""The names of what an evaluation measures, and which way is better: one table for the trainer, the
search, the report and the export. Pure data (no torch), so `gansearch run` checks a metric name before
Ray starts.

A Fréchet or kernel distance is named after its feature space, as clean-fid and torch-fidelity users
expect: `fid`/`kid` only for Inception-v3 pool features (the papers' definition, comparable with published
numbers); `fd_classifier`/`kd_classifier` for the 64-d features of gansearch's per-dataset classifier;
`fd_points`/`kd_points` for raw 2-D coordinates (the Fréchet distance then matches means and covariances
only, which is why the 2-D spaces rank by the mode metrics instead).

Every value is the value of ONE evaluation. `<metric>_best` is the best of that metric over the
evaluations so far (a running min or max): a different number with its own name, selectable as
`search.metric` like any other.
"""

from __future__ import annotations

from typing import Any

from gansearch.config import names

# feature space -> (Fréchet distance key, kernel (MMD) distance key)
DISTANCES: dict[str, tuple[str, str]] = {
    "inception": ("fid", "kid"),
    "classifier": ("fd_classifier", "kd_classifier"),
    "points": ("fd_points", "kd_points"),
}
CLASS_METRICS = {"classes_covered": "max", "class_kl": "min"}
# PacGAN / VEEGAN: modes covered (gansearch's strict rule, and the papers' rule as modes_covered_paper),
# share of high-quality samples, reverse KL over modes; mode_score is gansearch's own ranking of the strict
# count and the share (see gansearch.metrics.coverage.mode_metrics).
MODE_METRICS = {"mode_score": "max", "modes_covered": "max", "modes_covered_paper": "max", "hq_fraction": "max",
                "reverse_kl": "min"}
LOSS_METRICS = {"d_loss": "min", "g_loss": "min", "g_amplitude": "min", "d_amplitude": "min",
                "g_rel_amplitude": "min", "d_rel_amplitude": "min", "g_slope": "min", "d_slope": "min"}
BEST_SUFFIX = "_best"
# task: style_transfer (gansearch.style): distances measured by a net other than the one optimised against
# (see gansearch.style.measure); transfer_score is gansearch's own ranking of the two, 1 for either input image.
# All three come from a second random VGG-19 of the objective's family: gansearch's proxy, not an independent
# judge (the pixel measures below are that)
STYLE_METRICS = {"transfer_score": "min", "content_distance": "min", "style_distance": "min"}
# measured from pixels alone (gansearch.metrics.image_similarity): nothing shared with the objective
STYLE_INDEPENDENT_METRICS = {"content_ssim": "max", "content_edge_corr": "max", "style_swd_patch": "min",
                             "style_swd_colour": "min"}
# the optimised objective's terms (the net optimised against) and the time to converge
STYLE_LOSS_METRICS = {"loss": "min", "content_loss": "min", "style_loss": "min", "tv_loss": "min",
                      "converge_step": "min", "converge_s": "min"}

# What an evaluation record says about how its numbers were computed (tags, not metrics); the names are
# the space file's own fields where one exists.
FEATURE_NET = "eval.feature_net"  # the resolved feature network, e.g. classifier-cnn-v1/digits
FEATURE_NET_HASH = "eval.feature_net_hash"  # sha256 (16 hex) of its weights
FEATURE_NET_ACCURACY = "eval.feature_net_accuracy"  # the classifier's accuracy on held-out real images
NUM_SAMPLES = "eval.num_samples"  # distinct generated samples scored
FEATURE_NET_WARNING = "eval.feature_net_warning"  # set when the classifier is too weak to trust
GENERATOR = "eval.generator"  # the G an evaluation sampled: "ema" (its moving average, ema_decay > 0) or "raw"
# style transfer: the net the image is optimised against (eval.feature_net is the one that measures)
OPTIMISED_NET = "style.feature_net"
OPTIMISED_NET_HASH = "style.feature_net_hash"
PROVENANCE = (FEATURE_NET, FEATURE_NET_HASH, FEATURE_NET_ACCURACY, NUM_SAMPLES, FEATURE_NET_WARNING, GENERATOR,
              OPTIMISED_NET, OPTIMISED_NET_HASH)


def feature_space(cfg: Any) -> str:
    """The feature space a space file's distances are computed in: points, inception or classifier."""
    if cfg.data.name in names.POINT_DATASETS:
        return "points"
    ev = cfg.eval
    if ev.feature_net == "inception" or (ev.feature_net == "auto" and ev.inception_weights is not None):
        return "inception"
    return "classifier"


def headline(cfg: Any) -> str:
    """The metric a space file ranks by when its `search` section names none."""
    if getattr(cfg, "task", "gan") == "style_transfer":
        return "transfer_score"
    return "mode_score" if cfg.data.name in names.POINT_DATASETS else DISTANCES[feature_space(cfg)][0]


def evaluation_metrics(cfg: Any, best: bool = True) -> dict[str, str]:
    """metric -> better mode ("min"/"max") of every metric an evaluation of `cfg` records, with their
    `_best` variants unless `best` is False (loss metrics excluded: see LOSS_METRICS)."""
    if getattr(cfg, "task", "gan") == "style_transfer":
        out = {**STYLE_METRICS, **STYLE_INDEPENDENT_METRICS}
        return {**out, **{k + BEST_SUFFIX: m for k, m in out.items()}} if best else out
    space = feature_space(cfg)
    fd, kd = DISTANCES[space]
    out = {fd: "min"}
    if cfg.eval.kid:
        out[kd] = "min"
    if space == "points":
        out.update(MODE_METRICS)
    elif space == "classifier":
        out.update(CLASS_METRICS)
    return {**out, **{k + BEST_SUFFIX: m for k, m in out.items()}} if best else out


def known_metrics(cfg: Any) -> dict[str, str]:
    """Every metric `search.metric` may name for `cfg`, with its better mode."""
    if getattr(cfg, "task", "gan") == "style_transfer":
        return {**evaluation_metrics(cfg), **STYLE_LOSS_METRICS}
    return {**evaluation_metrics(cfg), **LOSS_METRICS}


def objectives(cfg: Any) -> list[tuple[str, str]]:
    """The study's (metric, mode) pairs, the first driving the scheduler: `search.objectives`, else
    `search.metric` (default: the headline metric); a mode left out is the metric's better direction.
    The search (which also checks the names) and the report resolve them here alike."""
    s = cfg.search
    known = known_metrics(cfg)
    given = [(o.metric, o.mode) for o in s.objectives] if s.objectives else [(s.metric or headline(cfg), s.mode)]
    return [(m, mode or known.get(m, "min")) for m, mode in given]


def ranked_keys(reruns: list[dict[str, Any]], values: dict[str, float | None], mode: str) -> list[tuple[str, str]]:
    """The one order of a study's configurations (the report and the export share it): those rerun with
    fresh seeds first, by `rerun_rank_key` (only reruns with a finite mean, of trials in `values`); then
    every other trial by its own value (`rank_key`); trials with no value last, by key.
    Returns (key, "rerun_mean" | "value") pairs."""
    import math

    def finite(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))

    first = sorted((r for r in reruns if finite(r.get("mean")) and r.get("key") in values),
                   key=lambda r: rerun_rank_key(r, mode))
    seen = {str(r["key"]) for r in first}
    rest = [k for k in values if k not in seen]
    rest.sort(key=lambda k: (not finite(values[k]), *rank_key(float(values[k]) if finite(values[k]) else 0.0, k, mode)))
    return [(str(r["key"]), "rerun_mean") for r in first] + [(k, "value") for k in rest]


def trial_value(records: list[dict[str, Any]], metric: str) -> tuple[int, float] | None:
    """(step, value) a trial is ranked by, the one definition the search, Optuna, the summary, the reruns,
    the export and the report share: `metric` in the trial's LAST evaluation, and the step that value comes
    from (that evaluation's; for `<m>_best`, the first evaluation that reached it). None when the trial
    diverged (Optuna is told FAIL: no number) or its last value is not finite.
    """
    import math

    if not records or any(r.get("diverged") == 1 for r in records):
        return None
    value = records[-1].get(metric)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return None
    step = int(records[-1]["step"])
    if metric.endswith(BEST_SUFFIX):
        step = next(int(r["step"]) for r in records if r.get(metric) == value)
    return step, float(value)


def rank_key(value: float, key: str, mode: str) -> tuple[float, str]:
    """The one ranking rule of trials (summary, progress line, reruns, export, report): better value first
    in `mode`, ties to the lower trial key (never to the order trials were listed in)."""
    return (value if mode == "min" else -value), key


def rerun_rank_key(rerun: dict[str, Any], mode: str) -> tuple[int, float, str]:
    """Order of configurations rerun with fresh seeds (summary, export and report share it): those whose
    every seed ended with a value first, then by how many seeds diverged or failed; within that, by the
    mean over the seeds that have a value; ties to the lower key. A diverged seed has no value to average
    (a stand-in ±1e30 made the mean itself meaningless): it counts here, in the order, instead."""
    import math

    mean = rerun.get("mean")
    ok = isinstance(mean, (int, float)) and not isinstance(mean, bool) and math.isfinite(mean)
    lost = int(rerun.get("n_diverged") or 0) + int(rerun.get("n_failed") or 0)
    return (lost, *rank_key(mean, str(rerun.get("key")), mode)) if ok else (lost, math.inf, str(rerun.get("key")))
