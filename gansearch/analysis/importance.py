"""Which hyperparameters an importance evaluator could score, how sure each score is, and whether the
study is large enough to rank them at all.

Optuna's evaluators only see COMPLETE trials (early-stopped ones are PRUNED). fANOVA keeps only the
parameters present in every one of them, so a conditional parameter silently vanishes; Optuna 5's
PED-ANOVA (conditional PED-ANOVA) scores each regime of a parameter (active / inactive) separately but
skips a regime with fewer than 2 trials, so a parameter active in fewer than 2 trials scores 0. The
report states both, computed here from the trials' parameters.

A point estimate alone reads as a finding even on 8 trials, so each score comes with a bootstrap interval
(the same evaluator on completed trials resampled with replacement; gansearch.search.report draws them),
parameters active in too few trials are marked, and a verdict says whether the study ranks anything.

A resample keeps each trial it drew once. Repeated copies of one trial make PED-ANOVA's kernel density
peak on it, so noise parameters look important: on a 40-trial study whose value depends on x alone, x's
90% interval was [0.43, 0.97] with copies and [0.76, 0.95] without, where 150 independent 40-trial studies
spread over [0.71, 0.98]. A resample then holds about 63% of the trials, so its spread is somewhat wider
than the study's own: the intervals err on the side of ranking nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gansearch.errors import ConfigError

EVALUATORS = ("ped_anova", "fanova")
MIN_REGIME = 2  # PED-ANOVA's _min_n_trials_in_regime in Optuna 5.0
# Bootstrap resamples per evaluator: PED-ANOVA costs ~4-12 ms a resample (8-100 trials), fANOVA's random
# forest ~90-560 ms, so fANOVA gets fewer (its 5th/95th percentiles are then rougher).
RESAMPLES = {"ped_anova": 200, "fanova": 50}
LEVEL = 0.90  # central percentile interval of the bootstrap
SEED = 0
MIN_TRIALS = 10  # below this PED-ANOVA's top set (at most half the study) holds fewer than 5 trials
MIN_ACTIVE = 5  # a parameter active in fewer completed trials is marked
MIN_PER_CHOICE = 2  # ... and a categorical with a choice drawn fewer times than this

HANDLING = {
    "ped_anova": ("PED-ANOVA (Optuna 5, conditional): a conditional parameter is kept and scored within "
                  "the trials where it is active (its inactive regime adds nothing); a regime with fewer "
                  f"than {MIN_REGIME} trials is skipped."),
    "fanova": ("fANOVA: only parameters present in every completed trial are scored; conditional "
               "parameters absent from any completed trial are dropped."),
}
RESAMPLE = ("drawn with replacement, each drawn trial kept once (copies of a trial distort PED-ANOVA's density "
            "estimate), so a resample holds about 63% of the trials and the interval errs on the wide side")
INTERVAL_RULE = ("{pct:g}% interval: the {lo:g}th-{hi:g}th percentiles of the importance over {b} bootstrap "
                 "resamples of the completed trials (" + RESAMPLE + "; seed {seed}; the same evaluator; a parameter "
                 "a resample cannot score counts 0 there).")
SPARSE_RULE = (f"marked: active in fewer than {MIN_ACTIVE} completed trials, or a categorical with a choice drawn "
               f"in fewer than {MIN_PER_CHOICE} of them; its score rests on too few trials to mean much.")
VERDICT_RULE = (f"A study with fewer than {MIN_TRIALS} completed trials is too small to rank (PED-ANOVA's top "
                "set would hold fewer than 5 trials). Otherwise a parameter ranks below the top one only where "
                "its interval lies wholly below the top one's; the top one ranks first only where that holds "
                "for every other parameter and it is not marked.")


def check_evaluator(name: str) -> str:
    if name not in EVALUATORS:
        raise ConfigError("--evaluator", f"must be one of {', '.join(EVALUATORS)}", name)
    return name


def target_quantile(n_trials: int) -> float:
    """PED-ANOVA's top quantile: Optuna's 0.1 for large studies, but at least ~5 trials on top (Optuna's
    own advice) and at most half of the study."""
    if n_trials <= 0:
        return 0.1
    return min(0.5, max(0.1, 5.0 / n_trials))


def dropped_params(trial_params: Sequence[Mapping[str, Any]], searched: Sequence[str], evaluator: str) -> dict[str, str]:
    """Searched parameters the evaluator cannot score on these (COMPLETE, finite) trials -> why."""
    check_evaluator(evaluator)
    n = len(trial_params)
    out: dict[str, str] = {}
    for name in searched:
        active = sum(1 for p in trial_params if name in p)
        if active == 0:
            out[name] = f"not active in any of the {n} completed trials"
        elif evaluator == "fanova" and active < n:
            out[name] = f"conditional: active in {active} of {n} completed trials; fANOVA drops it"
        elif evaluator == "ped_anova" and active < MIN_REGIME:
            out[name] = f"active in {active} of {n} completed trials; PED-ANOVA needs {MIN_REGIME} per regime"
    return out


def conditional_params(trial_params: Sequence[Mapping[str, Any]], searched: Sequence[str]) -> dict[str, int]:
    """Searched parameters active in some but not all of these trials -> in how many."""
    n = len(trial_params)
    counts = {name: sum(1 for p in trial_params if name in p) for name in searched}
    return {k: c for k, c in counts.items() if 0 < c < n}


def sparse_params(trial_params: Sequence[Mapping[str, Any]], names: Sequence[str],
                  choices: Mapping[str, Sequence[Any]]) -> dict[str, str]:
    """Parameters (of `names`) active in too few trials to score (SPARSE_RULE) -> why.
    `choices`: each categorical's choices."""
    out: dict[str, str] = {}
    for name in names:
        values = [p[name] for p in trial_params if name in p]
        if len(values) < MIN_ACTIVE:
            out[name] = f"active in {len(values)} of {len(trial_params)} completed trials (fewer than {MIN_ACTIVE})"
        elif name in choices:
            few = [str(c) for c in choices[name] if sum(1 for v in values if v == c) < MIN_PER_CHOICE]
            if few:
                out[name] = f"choice{'s' if len(few) > 1 else ''} {', '.join(few)} drawn in fewer than {MIN_PER_CHOICE} trials"
    return out


def intervals(names: Sequence[str], resamples: Sequence[Mapping[str, float]],
              level: float = LEVEL) -> dict[str, list[float]]:
    """Percentile interval of each parameter's importance over bootstrap resamples (0 where a resample
    did not score it). Empty when there are no resamples."""
    if not resamples:
        return {}
    q = [50 * (1 - level), 50 * (1 + level)]
    out = {}
    for name in names:
        lo, hi = np.percentile([float(r.get(name, 0.0)) for r in resamples], q)
        out[name] = [float(lo), float(hi)]
    return out


def verdict(n_trials: int, importances: Mapping[str, float], bounds: Mapping[str, Sequence[float]],
            sparse: Mapping[str, str]) -> dict[str, Any]:
    """Does this study rank its parameters (VERDICT_RULE)? kind: too_small, nothing, no_ranking, partial
    or top_first; `below`: the parameters whose interval lies wholly below the top one's."""
    def out(kind: str, text: str, below: Sequence[str] = ()) -> dict[str, Any]:
        return {"kind": kind, "text": text, "below_top": list(below)}

    if not importances:
        return out("nothing", "No importances were computed (see the note): nothing to rank.")
    if n_trials < MIN_TRIALS:
        return out("too_small", f"Too small to rank: {n_trials} completed trials, fewer than {MIN_TRIALS}. "
                                "The importances below rank nothing; read them as noise.")
    if len(importances) < 2:
        return out("nothing", "Fewer than two parameters scored: nothing to rank.")
    top = max(importances, key=lambda k: importances[k])
    if top not in bounds:
        return out("nothing", "No bootstrap intervals: the ranking cannot be judged.")
    below = [k for k in importances if k != top and k in bounds and bounds[k][1] < bounds[top][0]]
    rest = [k for k in importances if k != top and k not in below]
    if not below:
        return out("no_ranking", f"No parameter's interval lies below {top}'s: these trials rank nothing.")
    if rest:
        return out("partial", f"{top} and {', '.join(rest)} cannot be ordered (their intervals overlap); "
                              f"{', '.join(below)} rank below {top}.", below)
    if top in sparse:
        return out("partial", f"{top} scores above every other parameter's interval, but it is marked "
                              f"({sparse[top]}).", below)
    return out("top_first", f"{top} ranks first: its interval lies above every other parameter's.", below)


def importance_section(objective: tuple[str, str], evaluator: str, importances: Mapping[str, float],
                       trial_params: Sequence[Mapping[str, Any]], searched: Sequence[str],
                       excluded: Mapping[str, int], quantile: float | None, note: str | None = None,
                       resamples: Sequence[Mapping[str, float]] = (), failed_resamples: int = 0,
                       choices: Mapping[str, Sequence[Any]] | None = None) -> dict[str, Any]:
    """One objective's importance entry for report.json. `excluded`: trials not used, by reason;
    `resamples`: the evaluator's importances on each bootstrap resample that it could score."""
    dropped = dropped_params(trial_params, searched, evaluator)
    scored = {k: float(v) for k, v in sorted(importances.items(), key=lambda kv: -kv[1]) if k not in dropped}
    bounds = intervals(list(scored), resamples)
    sparse = sparse_params(trial_params, list(scored), choices or {})
    b = len(resamples) + failed_resamples
    pct = 100 * LEVEL
    return {
        "metric": objective[0], "mode": objective[1], "evaluator": evaluator,
        "handling": HANDLING[evaluator], "trials_used": len(trial_params), "trials_excluded": dict(excluded),
        "target_quantile": quantile, "importances": scored, "ranking": list(scored),
        "intervals": bounds, "interval_level": LEVEL,
        "bootstrap": {"resamples": b, "scored": len(resamples), "seed": SEED,
                      "rule": INTERVAL_RULE.format(pct=pct, lo=50 - pct / 2, hi=50 + pct / 2, b=b, seed=SEED)},
        "sparse": sparse, "sparse_rule": SPARSE_RULE,
        "verdict": verdict(len(trial_params), scored, bounds, sparse) | {"rule": VERDICT_RULE},
        "conditional": conditional_params(trial_params, searched), "dropped": dropped, "note": note,
    }
