"""Progress and notices from the library, without importing a UI.

Library code calls `progress(...)` and `notice(...)`; the CLI installs a reporter that draws rich progress
bars on stderr. With no reporter installed (the Python API) progress is silent and notices go to the
`qdc` logger.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

log = logging.getLogger("qdc")


class Reporter(Protocol):
    """What the CLI (or a caller) implements to show progress."""

    def progress(self, task: str, done: int, total: int | None) -> None: ...

    def notice(self, message: str) -> None: ...


class _NullReporter:
    def progress(self, task: str, done: int, total: int | None) -> None:
        return None

    def notice(self, message: str) -> None:
        log.info(message)


_NULL = _NullReporter()
_current: ContextVar[Reporter] = ContextVar("qdc_reporter", default=_NULL)


def progress(task: str, done: int, total: int | None = None) -> None:
    """Report that `done` of `total` units of `task` are finished."""
    _current.get().progress(task, done, total)


def notice(message: str) -> None:
    """A one-line message for people (stderr in the CLI)."""
    _current.get().notice(message)


def current_reporter() -> Reporter:
    """The reporter installed now (the CLI's, or the silent default)."""
    return _current.get()


@contextmanager
def use_reporter(reporter: Reporter) -> Iterator[None]:
    """Install `reporter` for the duration of the block."""
    token = _current.set(reporter)
    try:
        yield
    finally:
        _current.reset(token)
