"""The search: the only package that imports ray and optuna (always lazily, inside functions).

`plan` checks a space file's `search` section against the name tables before Ray starts;
`study.run_study` runs it.
"""
