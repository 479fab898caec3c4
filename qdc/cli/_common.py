"""Shared pieces of the CLI: the stderr console, progress bars, error handling, path checks, JSON output.

Options and input helpers are in `qdc.cli._options`."""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
import typer

from qdc.errors import QdcError

if TYPE_CHECKING:
    from rich.progress import Progress


class _Console:
    """The stderr console, built on first use: a command that says nothing to people (-q, --json) never
    imports rich.console (~20 ms of start-up). Markup off: ids, texts, paths and judge answers printed here may
    hold '[/b]' or '[/INST]', which rich would read as tags (a MarkupError, or text silently dropped); styles
    are given as Text spans instead."""

    real: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(rich_console(self), name)


def rich_console(c: Any = None) -> Any:
    """The real rich Console behind `console` (or `c`, when a test put a Console of its own there)."""
    c = console if c is None else c
    if not isinstance(c, _Console):
        return c
    if _Console.real is None:
        from rich.console import Console

        _Console.real = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
    return _Console.real


console: Any = _Console()


class State:
    """Global flags set by the app callback."""

    debug: bool = bool(os.environ.get("QDC_DEBUG"))
    quiet: bool = False
    verbose: bool = False
    log_json: bool = False  # notices and errors as JSON lines on stderr, no bars
    alias: str | None = None  # an old command's notice, said once its options are read (`qdc scale dedup`)
    gc_paused: bool = False  # the console entry point pauses the cyclic GC for start-up (`resume_gc`)


def resume_gc() -> None:
    """The cyclic GC back on once a command starts, start-up's objects (modules, classes, the config; they live
    to exit) frozen so it never walks them again: start-up's ~150 collections freed nothing and cost 35-58 ms
    CPU (SPEED's measurement)."""
    if State.gc_paused:
        import gc

        State.gc_paused = False
        gc.freeze()
        gc.enable()


def _json_line(level: str, message: str, **more: Any) -> None:
    import json

    key = "task" if more else "message"  # a progress line names its task
    sys.stderr.write(json.dumps({"level": level, key: message, **more}, ensure_ascii=False) + "\n")
    sys.stderr.flush()


# ------------------------------------------------------------------------------------ progress bars


HEARTBEAT_S = 1.0


class RichReporter:
    """Progress on stderr. On a terminal, a bar per task once it has run half a second; elsewhere (CI logs,
    pipes) or with --log-json, one line per task at its start (after half a second), every 10 s and at its end.
    The heartbeat says that a command whose library reports nothing works: after HEARTBEAT_S, an elapsed-time
    bar, or a line every 30 s while no other line was written."""

    bar: Progress | None = None
    timer: threading.Timer | None = None
    beat_task: Any = None  # the heartbeat's bar
    closed, beat_name, last_line = False, "", 0.0

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tasks: dict[str, Any] = {}  # a bar's id, or (plain) the time of the task's last line; inf: ended
        self.started: dict[str, float] = {}
        self.lock, self.t0 = threading.RLock(), time.monotonic()

    @functools.cached_property
    def plain(self) -> bool:
        """Lines, not bars (CI logs, pipes, --log-json); asked when first needed, so a run that reports nothing
        never loads rich.console."""
        return self.quiet or State.log_json or not console.is_terminal

    def start_heartbeat(self, name: str) -> None:
        if not self.quiet and name:
            self.beat_name, self.t0 = name, time.monotonic()
            self._arm(HEARTBEAT_S)

    def _arm(self, delay: float) -> None:
        self.timer = threading.Timer(delay, self.beat)
        self.timer.daemon = True
        self.timer.start()

    def beat(self) -> None:
        with self.lock:
            if self.closed:
                return
            if self.plain:
                if time.monotonic() - self.last_line >= 30 or self.last_line == 0.0:
                    self._line(self.beat_name, "working", None, time.monotonic() - self.t0, False)
                self._arm(30.0)  # a CI log needs a sign of life, not a line every few seconds
            elif not self.tasks and self.beat_task is None:
                from rich.markup import escape

                self.beat_task = self._bar().add_task(escape(self.beat_name), total=None)

    def _bar(self) -> Progress:
        if self.bar is None:
            # Imported here: only a terminal shows bars, and every command's start-up would pay for it.
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            parts = (MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), *parts, console=rich_console())
            self.bar.start()
        return self.bar

    def progress(self, task: str, done: int, total: int | None) -> None:
        if self.quiet:
            return
        with self.lock:
            now = time.monotonic()
            elapsed, finished = now - self.started.setdefault(task, now), total is not None and done >= total
            last = self.tasks.get(task)
            if last is None and (elapsed < 0.5 or (finished and not self.plain)):
                return  # too short to mention
            if self.plain:
                if last != float("inf") and (last is None or finished or now - last >= 10):
                    self.tasks[task] = float("inf") if finished else now
                    self._line(task, done, total, elapsed, finished)
                return
            if last is None:
                from rich.markup import escape  # the column reads markup

                self.tasks[task] = self._bar().add_task(escape(task), total=total)
                self._drop_beat()  # a real bar now says the command works
            self._bar().update(self.tasks[task], completed=done, total=total)

    def _drop_beat(self) -> None:
        if self.beat_task is not None and self.bar is not None:
            self.bar.remove_task(self.beat_task)
        self.beat_task = None

    def _line(self, task: str, done: int | str, total: int | None, elapsed: float, finished: bool) -> None:
        self.last_line = time.monotonic()
        if State.log_json:
            _json_line("progress", task, done=done, total=total, seconds=round(elapsed, 1))
            return
        of = f"/{total}" if total is not None else ""
        sys.stderr.write(f"qdc: {task}: {done}{of} ({elapsed:.1f}s){' done' if finished else ''}\n")
        sys.stderr.flush()

    def notice(self, message: str) -> None:
        if self.quiet:
            return
        if State.log_json:
            _json_line("notice", message)
        else:
            from rich.text import Text

            console.print(Text.assemble(("qdc:", "dim"), " ", message), highlight=False)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self.timer is not None:
                self.timer.cancel()
            self._drop_beat()
            if self.bar is not None:
                self.bar.stop()
                self.bar = None


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
    from rich.text import Text

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
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


# ------------------------------------------------------------------------------- file parameters

# Every command parameter that names a file, by parameter name, with the name users see. `check_paths`
# refuses an output that is an input or another output before the command starts, so a command is covered
# as soon as its parameters use these names (tests/test_integrity.py fails on a path parameter not listed).
OUTPUT_PARAMS = {
    "output": "-o",
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
    "pool": "--pool",
    "test": "--test",
}


def _output_paths(params: dict[str, Any]) -> dict[str, Any]:
    outputs = {label: params.get(name) for name, label in OUTPUT_PARAMS.items() if params.get(name) is not None}
    output = params.get("output")
    if params.get("on_bad_rows") == "skip" and params.get("bad_rows_file") is None and output not in (None, "-"):
        from qdc.io import bad_rows_path

        outputs["the bad-rows file"] = bad_rows_path(output)
    return outputs


def check_paths(params: dict[str, Any], cfg: Any = None) -> None:
    """ConfigError (exit 2) when an output parameter names another output's file or an input's: a parameter's,
    or one the built config `cfg` reads (`qdc.pipeline.fields.config_files`), whichever layer set it."""
    from qdc.io import check_distinct_paths

    inputs = {label: params.get(name) for name, label in INPUT_PARAMS.items() if params.get(name) is not None}
    if cfg is not None:
        from qdc.pipeline.fields import config_files

        inputs.update(config_files(cfg))
    check_distinct_paths(inputs, _output_paths(params))


# ------------------------------------------------------------------------------------------- output


def json_envelope(obj: Any) -> dict[str, Any]:
    """Every --json document: `qdc.envelope.envelope` of the running command's name."""
    from qdc.envelope import envelope

    ctx = click.get_current_context(silent=True) or _typer_context()
    return envelope(ctx.info_name if ctx is not None else None, obj)


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
    """A command's summary: `body` as the --json document on stdout (with --log-json: one JSON line on stderr),
    else `shown` (lines, tables) on stderr unless -q."""
    if a.get("json"):
        print_json(body)
    elif State.log_json and not State.quiet:  # the --json document as one line: every stderr line parses
        import orjson

        doc = {"level": "summary", **json_envelope(body)}
        sys.stderr.write(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY, default=str).decode() + "\n")
    elif not State.quiet:
        for item in shown:
            console.print(item)


def table(title: str, rows: Any, columns: Any = ("measure", "value"), caption: str | None = None, **kw: Any) -> Any:
    """A rich table: the first column left, the others right-aligned, long cells folded (`kw`: rich.table.Table's
    settings, e.g. box). Built when printed: a summary shown as --json or hidden by -q never imports rich.table."""
    return _Table(title, list(rows), columns, caption, kw)


class _Table:
    def __init__(self, title: str, rows: list[Any], columns: Any, caption: str | None, kw: dict[str, Any]) -> None:
        self.title, self.rows, self.columns, self.caption, self.kw = title, rows, columns, caption, kw

    def __rich__(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        out = Table(title=self.title, title_justify="left", caption=self.caption, **self.kw)
        for i, col in enumerate(self.columns):
            out.add_column(col, justify="left" if i == 0 else "right", overflow="fold")
        for row in self.rows:
            out.add_row(*(c if isinstance(c, Text) else str(c) for c in row))
        return out
