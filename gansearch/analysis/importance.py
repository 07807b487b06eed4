"""Which hyperparameters an importance evaluator could score, and which it had to leave out.

Optuna's evaluators only see COMPLETE trials (early-stopped ones are PRUNED). fANOVA keeps only the
parameters present in every one of them, so a conditional parameter silently vanishes; Optuna 5's
PED-ANOVA (conditional PED-ANOVA) scores each regime of a parameter (active / inactive) separately but
skips a regime with fewer than 2 trials, so a parameter active in fewer than 2 trials scores 0. The
report states both, computed here from the trials' parameters.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from gansearch.errors import ConfigError

EVALUATORS = ("ped_anova", "fanova")
MIN_REGIME = 2  # PED-ANOVA's _min_n_trials_in_regime in Optuna 5.0

HANDLING = {
    "ped_anova": ("PED-ANOVA (Optuna 5, conditional): a conditional parameter is kept and scored within "
                  "the trials where it is active (its inactive regime adds nothing); a regime with fewer "
                  f"than {MIN_REGIME} trials is skipped."),
    "fanova": ("fANOVA: only parameters present in every completed trial are scored; conditional "
               "parameters absent from any completed trial are dropped."),
}


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


def importance_section(objective: tuple[str, str], evaluator: str, importances: Mapping[str, float],
                       trial_params: Sequence[Mapping[str, Any]], searched: Sequence[str],
                       excluded: Mapping[str, int], quantile: float | None, note: str | None = None) -> dict[str, Any]:
    """One objective's importance entry for report.json. `excluded`: trials not used, by reason."""
    dropped = dropped_params(trial_params, searched, evaluator)
    scored = {k: float(v) for k, v in sorted(importances.items(), key=lambda kv: -kv[1]) if k not in dropped}
    return {
        "metric": objective[0], "mode": objective[1], "evaluator": evaluator,
        "handling": HANDLING[evaluator], "trials_used": len(trial_params), "trials_excluded": dict(excluded),
        "target_quantile": quantile, "importances": scored, "ranking": list(scored),
        "conditional": conditional_params(trial_params, searched), "dropped": dropped, "note": note,
    }
