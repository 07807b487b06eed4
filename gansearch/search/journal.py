"""The Optuna side of a study folder: which storage holds the study and what the study is called.

The driver, PBT and the report all open the same study; they read its storage and name from study.json
here, and this module imports nothing from gansearch.search, so none of them imports another for it.

- storage: the journal file `optuna.journal` in the study folder (the default), or any URL Optuna's
  RDBStorage takes (`--storage postgresql://...`, `sqlite:///...`), for a database several studies share;
- study name: `gansearch` in the journal file (it holds one study), and the study's MLflow experiment
  name in a database, which many studies share.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from gansearch.config import layout
from gansearch.errors import ConfigError

JOURNAL = layout.JOURNAL
JOURNAL_STUDY_NAME = "gansearch"  # the one study of a journal file
CLOSED_ATTR = "gansearch_closed_by_resume"  # an Optuna trial a crash left RUNNING, closed and re-enqueued
# SQLAlchemy's URL form, which RDBStorage takes: dialect[+driver]://...
_RDB_URL = re.compile(r"^[a-z][a-z0-9]*(\+[a-z0-9_]+)?://", re.IGNORECASE)


def check_url(url: str | None) -> None:
    """`--storage` must be an RDB URL (the journal file is the default and needs no flag)."""
    if url is None:
        return
    if not _RDB_URL.match(url) or url.startswith(("http://", "https://", "file://")):
        raise ConfigError("--storage", "must be a database URL Optuna's RDBStorage takes (e.g. "
                          "sqlite:///optuna.db or postgresql://user:pw@host/db; leave it out for the journal file "
                          "in the study folder)", _redact(url))


def describe(url: str | None) -> str:
    """How study.json and MLflow record the storage: the journal's name, or the URL without its password."""
    return JOURNAL if url is None else _redact(url)


def study_name(meta: Mapping[str, Any]) -> str:
    """The Optuna study's name as study.json records it (folders made before it did: the journal's)."""
    return str(meta.get("study_name") or JOURNAL_STUDY_NAME)


def new_study_name(storage_url: str | None, experiment: str) -> str:
    return experiment if storage_url is not None else JOURNAL_STUDY_NAME


def open_storage(study_dir: Path, url: str | None = None) -> Any:
    """The study's storage: `url` (RDB), else the journal file in the study folder."""
    if url is not None:
        from optuna.storages import RDBStorage

        return RDBStorage(url)
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    return JournalStorage(JournalFileBackend(str(Path(study_dir) / JOURNAL)))


def holds_study(storage: Any, name: str) -> bool:
    import optuna

    return name in {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}


def _redact(url: str) -> str:
    from gansearch.tracking.conventions import redact_uri

    return redact_uri(url)
