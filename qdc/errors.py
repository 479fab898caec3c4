"""Exceptions that the CLI turns into one-line messages and documented exit codes.

Exit codes (see README): 0 success, 1 bad data or a run-time failure, 2 usage or configuration error,
3 a `qdc check` policy failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class QdcError(Exception):
    """Base class for every error qdc expects; `exit_code` is what the CLI exits with."""

    exit_code: int = 1


class DataError(QdcError):
    """Bad input data: malformed JSON, a missing or mistyped field, a truncated file."""

    exit_code = 1


class ConfigError(QdcError):
    """A bad option or config file: unknown key, wrong type, impossible value."""

    exit_code = 2


class MissingColumnError(DataError):
    """A stage needs a column that an earlier command adds."""


class MissingDependencyError(QdcError):
    """An optional dependency is not installed."""

    exit_code = 1


class CheckFailed(QdcError):
    """A `qdc check` policy failed; `checks` holds every check's outcome (dicts) for a --json report."""

    exit_code = 3

    def __init__(self, message: str, checks: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.checks = checks or []


@contextmanager
def opening(path: Any, error: type[QdcError], what: str = "file") -> Iterator[None]:
    """A block that opens `path`: not found, a folder, or no permission become one line of `error`."""
    try:
        yield
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, expected a {what}") from None
    except PermissionError:
        raise error(f"{path}: permission denied") from None


def quote(value: Any, limit: int = 200) -> str:
    """repr() of a value from a user's file or flag, cut to `limit` characters (and never built in full)."""
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxdict, short.maxlist, short.maxtuple, short.maxset = 3, 8, 8, 8, 8
    short.maxstring = short.maxother = limit
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
