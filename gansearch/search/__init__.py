"""The search: the only package that imports ray and optuna.

`plan` checks a space file's `search` section against the name tables before Ray starts; `study.run_study`
runs it. Most modules import Ray and Optuna inside the functions that use them, so `gansearch --help`,
`validate` and the plan stay light. Three subclass Ray's classes and import it at their top: `searcher`
(OptunaSearch), `pbt_schedulers` (PBT, PB2) and `progress` (a Tune Callback); they in turn are imported only
inside functions. Module map: docs/design.md.
"""
