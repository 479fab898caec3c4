"""Shared pieces of the CLI: the stderr console, progress bars, error handling, path checks, JSON output.

Options and input helpers are in `qdc.cli._options`."""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from qdc.errors import QdcError

if TYPE_CHECKING:
    pass

# Markup off: ids, texts, paths and judge answers printed here may hold '[/b]' or '[/INST]', which rich would
# read as tags (a MarkupError, or text silently dropped). Styles are given as Text spans instead.
console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


class State:
    """Global flags set by the app callback."""

    debug: bool = bool(os.environ.get("QDC_DEBUG"))
    quiet: bool = False
    verbose: bool = False
    log_json: bool = False  # notices and errors as JSON lines on stderr, no bars
    alias: str | None = None  # an old command's notice, said once its options are read (`qdc scale dedup`)


def _json_line(level: str, message: str) -> None:
    import json

    sys.stderr.write(json.dumps({"level": level, "message": message}, ensure_ascii=False) + "\n")
    sys.stderr.flush()


# ------------------------------------------------------------------------------------ progress bars


HEARTBEAT_S = 1.0


class RichReporter:
    """Draws a progress bar for a task once it has run for half a second; notices go to stderr."""

    def __init__(self, quiet: bool) -> None:
        import threading

        self.quiet = quiet
        self._bar: Progress | None = None
        self.tasks: dict[str, Any] = {}
        self.started: dict[str, float] = {}
        # The heartbeat: a command whose library reports no progress still shows that it works, from 1 s on.
        self._lock = threading.RLock()
        self._timer: Any = None
        self._beat_name = ""
        self._beat_task: Any = None
        self._t0 = time.monotonic()
        self._last_line = 0.0
        self._closed = False

    def start_heartbeat(self, name: str) -> None:
        """After HEARTBEAT_S with nothing shown, an elapsed-time bar for the command (or, not on a terminal,
        a line, repeated every 30 s while no other progress line was written)."""
        if self.quiet or not name:
            return
        self._beat_name, self._t0 = name, time.monotonic()
        self._arm(HEARTBEAT_S)

    def _arm(self, delay: float) -> None:
        import threading

        self._timer = threading.Timer(delay, self._beat)
        self._timer.daemon = True
        self._timer.start()

    def _beat(self) -> None:
        with self._lock:
            if self._closed:
                return
            now = time.monotonic()
            if State.log_json or not console.is_terminal:
                if now - self._last_line >= 30 or self._last_line == 0.0:
                    self._line(self._beat_name, "working", None, now - self._t0, False)
                self._arm(30.0)  # a CI log needs a sign of life, not a line every few seconds
            elif not self.tasks and self._beat_task is None:
                self._beat_task = self.progress_bar().add_task(escape(self._beat_name), total=None)

    def progress_bar(self) -> Progress:
        if self._bar is None:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._bar.start()
        return self._bar

    def progress(self, task: str, done: int, total: int | None) -> None:
        if self.quiet:
            return
        with self._lock:
            self._progress(task, done, total)

    def _progress(self, task: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        start = self.started.setdefault(task, now)
        if State.log_json or not console.is_terminal:
            self._plain(task, done, total, now - start)
            return
        if task not in self.tasks:
            finished = total is not None and done >= total
            if finished or now - start < 0.5:
                return
            self.tasks[task] = self.progress_bar().add_task(escape(task), total=total)  # the column reads markup
            if self._beat_task is not None:  # a real bar now says the command works
                self.progress_bar().remove_task(self._beat_task)
                self._beat_task = None
        assert self._bar is not None
        self._bar.update(self.tasks[task], completed=done, total=total)

    def _plain(self, task: str, done: int, total: int | None, elapsed: float) -> None:
        """Not a terminal (CI logs, pipes): one ordered line per task at its start (after half a second),
        every 10 s, and at its end; no redrawn bars to interleave."""
        finished = total is not None and done >= total
        last = self.tasks.get(task)
        now = time.monotonic()
        if last == float("inf") or (last is None and elapsed < 0.5):
            return  # said its end already, or too short to mention
        if last is not None and not finished and now - last < 10:
            return
        self.tasks[task] = now
        self._line(task, done, total, elapsed, finished)
        if finished:
            self.tasks[task] = float("inf")  # said once

    def _line(self, task: str, done: int | str, total: int | None, elapsed: float, finished: bool) -> None:
        self._last_line = time.monotonic()
        if State.log_json:
            import json

            line = {"level": "progress", "task": task, "done": done, "total": total, "seconds": round(elapsed, 1)}
            sys.stderr.write(json.dumps(line, ensure_ascii=False) + "\n")
        else:
            of = f"/{total}" if total is not None else ""
            sys.stderr.write(f"qdc: {task}: {done}{of} ({elapsed:.1f}s){' done' if finished else ''}\n")
        sys.stderr.flush()

    def notice(self, message: str) -> None:
        if self.quiet:
            return
        if State.log_json:
            _json_line("notice", message)
        else:
            console.print(Text.assemble(("qdc:", "dim"), " ", message), highlight=False)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            if self._bar is not None:
                if self._beat_task is not None:
                    self._bar.remove_task(self._beat_task)
                    self._beat_task = None
                self._bar.stop()
                self._bar = None


# ----------------------------------------------------------------------------------- error handling

F = TypeVar("F", bound=Callable[..., Any])
# Usage errors raised inside a command (typer.BadParameter) keep click's own handling (exit 2). Recent typer
# versions ship their own copy of click, so take the base class from typer's exception itself.
_CLICK_ERRORS: tuple[type[BaseException], ...] = tuple(
    {click.ClickException, *(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")}
)
_PASS_THROUGH: tuple[type[BaseException], ...] = (typer.Exit, typer.Abort, *_CLICK_ERRORS)


def fail(message: str, code: int) -> typer.Exit:
    if State.log_json:
        _json_line("error", message)
        return typer.Exit(code)
    console.print(Text.assemble(("Error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Run a command with progress bars; QdcError -> one line on stderr + its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from qdc.progress import use_reporter

        reporter = RichReporter(State.quiet)
        ctx = click.get_current_context(silent=True) or _typer_context()
        reporter.start_heartbeat(getattr(ctx, "info_name", None) or "")
        previous = _on_sigterm()
        try:
            check_path_params(kwargs)
            with use_reporter(reporter):
                return fn(*args, **kwargs)
        except _PASS_THROUGH:
            raise
        except BrokenPipeError:
            # The reader of stdout went away (e.g. `| head`): not an error of ours.
            sys.stderr.close()
            raise typer.Exit(0) from None
        except (Exception, KeyboardInterrupt) as exc:
            reporter.close()  # the bars stop before the error line
            if State.debug and not isinstance(exc, KeyboardInterrupt):
                raise
            raise fail(*_failure(exc)) from None
        finally:
            reporter.close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper  # type: ignore[return-value]


def _failure(exc: BaseException) -> tuple[str, int]:
    """The one line and exit code of a command that failed with `exc`."""
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM); no output was written", 143
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted; no output was written", 130
    if isinstance(exc, QdcError):
        return str(exc), exc.exit_code
    return f"internal error: {type(exc).__name__}: {exc} (rerun with qdc --debug for a traceback)", 1


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so the clean-up that Ctrl-C runs (temporary files, staged
    outputs, scale work folders) runs for `kill` and container stops too."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def _on_sigterm() -> Any:
    """Install the SIGTERM handler (main thread only); the previous handler, or None when not installed."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


# ------------------------------------------------------------------------------- file parameters

# Every command parameter that names a file, by parameter name, with the name users see. `handle_errors`
# refuses an output that is an input or another output before the command starts, so a command is covered
# as soon as its parameters use these names (tests/test_integrity.py fails on a path parameter not listed).
OUTPUT_PARAMS = {
    "output": "-o",
    "out": "-o",
    "removed": "--removed",
    "manifest": "--manifest",
    "ledger": "--ledger",
    "bad_rows_file": "--bad-rows-file",
}
INPUT_PARAMS = {
    "input": "the input",
    "config": "the config",
    "good": "--good",
    "bad": "--bad",
    "against": "--against",
    "compare": "--compare",
    "classifier": "--classifier",
    "embeddings": "--embeddings",
    "rubric": "--rubric",
    "pool": "--pool",
    "test": "--test",
    "lm_model": "--lm-model",
}


def check_path_params(params: dict[str, Any]) -> None:
    """ConfigError (exit 2) when an output parameter names an input's file or another output's."""
    from qdc.io import check_distinct_paths

    inputs = {label: params.get(name) for name, label in INPUT_PARAMS.items() if params.get(name) is not None}
    outputs = {label: params.get(name) for name, label in OUTPUT_PARAMS.items() if params.get(name) is not None}
    output = params.get("output", params.get("out"))
    if params.get("on_bad_rows") == "skip" and params.get("bad_rows_file") is None and output not in (None, "-"):
        outputs["the bad-rows file"] = f"{output}.bad-rows.jsonl"  # the default of `Inputs.finish`
    check_distinct_paths(inputs, outputs)


# ------------------------------------------------------------------------------------------- output


JSON_ENVELOPE_VERSION = 1  # bump when a key of the envelope changes meaning


# The command's own keys that already count the rows read and the rows written, first match wins; `rows` is
# also the rows written only where every row read is written (`qdc check` reads `rows` and writes none).
_ROWS_IN = ("rows_in", "rows", "n")
_ROWS_OUT = ("rows_out", "rows_kept", "selected")
_EVERY_ROW_WRITTEN = frozenset({"embed", "cluster", "score-quality", "score-complexity"})


def _row_counts(command: str | None, body: dict[str, Any]) -> dict[str, int]:
    """{"rows_in": ..., "rows_out": ...} as far as the command's keys say (none invented)."""
    counts = {}
    rows_in = next((body[k] for k in _ROWS_IN if type(body.get(k)) is int), None)
    rows_out = next((body[k] for k in _ROWS_OUT if type(body.get(k)) is int), None)
    if rows_out is None and command in _EVERY_ROW_WRITTEN and type(body.get("rows")) is int:
        rows_out = body["rows"]
    if rows_in is not None:
        counts["rows_in"] = rows_in
    if rows_out is not None:
        counts["rows_out"] = rows_out
    return counts


def json_envelope(obj: Any) -> dict[str, Any]:
    """Every --json document: {"qdc": version, "json_version": 1, "command": name, "rows_in": n, "rows_out": m,
    ...the command's keys}.

    `rows_in` (rows read) and `rows_out` (rows written) appear where the command counts them; its own keys
    (`rows`, `n`, `rows_kept`, `selected`, ...) are kept as they were; a non-object is under "result".
    """
    from qdc import __version__

    ctx = click.get_current_context(silent=True) or _typer_context()
    head: dict[str, Any] = {"qdc": __version__, "json_version": JSON_ENVELOPE_VERSION}
    if ctx is not None and ctx.info_name:
        head["command"] = ctx.info_name
    body = obj if isinstance(obj, dict) else {"result": obj}
    head.update(_row_counts(head.get("command"), body))
    return {**head, **{k: v for k, v in body.items() if k not in head}}


def _typer_context() -> Any:
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # an older typer on plain click
        return None
    return get_current_context(silent=True)


def print_json(obj: Any) -> None:
    from qdc.io import write_json

    write_json(json_envelope(obj), "-")


def show(a: dict[str, Any], body: Any, *shown: Any) -> None:
    """A command's summary: `body` as the --json document on stdout, else `shown` (lines, tables) on stderr
    unless -q."""
    if a.get("json"):
        print_json(body)
    elif not State.quiet:
        for item in shown:
            console.print(item)


def table(title: str, rows: Any, columns: Any = ("measure", "value"), caption: str | None = None) -> Any:
    """A rich table: the first column left, the others right-aligned, long cells folded."""
    from rich.table import Table

    out = Table(title=title, title_justify="left", caption=caption)
    for i, col in enumerate(columns):
        out.add_column(col, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        out.add_row(*(c if isinstance(c, Text) else str(c) for c in row))
    return out
