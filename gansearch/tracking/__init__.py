"""MLflow conventions: run names, tags, statuses, batched logging. Imports mlflow (lazily), never ray/optuna.

`conventions` is pure (no mlflow import); `runs` talks to the tracking store.
"""
