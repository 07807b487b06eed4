"""One error tree, so the CLI can turn any user mistake into one line and exit 2."""

from __future__ import annotations

from typing import Any


class GansearchError(Exception):
    """Base of every error the CLI reports as a one-line message (exit 2)."""


class ConfigError(GansearchError):
    """A value breaks a rule; the message reads `<path>: <rule>, got <value>`."""

    def __init__(self, path: str, rule: str, value: Any = None, *, show_value: bool = True) -> None:
        self.path = path
        self.rule = rule
        self.value = value
        plain = path and path == path.strip() and not path.startswith(":") and ": " not in path
        shown = path if plain else repr(path)  # an empty, padded or colon-laden key, quoted
        msg = f"{_printable(shown)}: {_printable(rule)}"
        if show_value:
            msg += f", got {_short(value)}"
        super().__init__(msg)


class ConfigErrors(GansearchError):
    """Several ConfigErrors found in one pass; the CLI prints one line each."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class TrackingUnavailable(GansearchError):
    """The study's trials finished but the tracking server is down: the study is kept resumable (exit 3)."""


class DataNotFoundError(GansearchError):
    """A dataset's files are missing; the message says where we looked and how to get them."""


class TrainingDiverged(GansearchError):
    """Raised inside the loop when a loss turns NaN/inf; the loop records it and stops."""

    def __init__(self, step: int, what: str) -> None:
        self.step = step
        self.what = what
        super().__init__(f"{what} is not finite at step {step}")


def _printable(text: str) -> str:
    """A user's key may hold line breaks or control characters (NEL, U+2028, \\r): escape them, so one
    problem stays one line."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
