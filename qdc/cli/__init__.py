"""The qdc command line: a thin shell over the library (one module per command).

Only this package imports typer and rich. Each command parses options, builds a config, calls one
library function and writes its output.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import typer
from typer.core import TyperGroup, TyperOption

from qdc.cli._common import State
from qdc.cli._options import Opt

# The root command's flags, each setting the `State` attribute of its name. They are also accepted after the
# subcommand (`qdc select ... -q`: people put them at the end of a line) and moved in front of it unless that
# command has its own; a `qdc scale` alias passes the ones set on to the command it runs.
ROOT = (
    Opt("--debug", bool, False, "Show tracebacks for errors."),
    Opt("--quiet -q", bool, False, "No progress bars, notices or summaries on stderr (errors only)."),
    Opt("--verbose -v", bool, False, "Also show the library's log messages (INFO) on stderr."),
    Opt("--log-json", bool, False, "Notices, summaries, errors as JSON lines on stderr (CI logs); no progress bars."),
)
GLOBAL_FLAGS = tuple(flag for opt in ROOT for flag in opt.flags.split())
_LATE = ", ".join(f"`{opt.flags.split()[-1]}`" for opt in ROOT)


def hoist_global_flags(args: Sequence[str], commands: Mapping[str, Any]) -> list[str]:
    """`args` with the global flags that follow the subcommand moved before it (nothing after '--')."""
    args = list(args)
    pos = next((i for i, a in enumerate(args) if not a.startswith("-")), None)
    if pos is None or args[pos] not in commands:
        return args
    cmd = commands[args[pos]]
    own = {o for p in getattr(cmd, "params", []) for o in (*p.opts, *p.secondary_opts)}
    head, rest, moved = args[:pos], args[pos:], []
    end = rest.index("--") if "--" in rest else len(rest)
    kept = []
    for i, a in enumerate(rest):
        if i < end and a in GLOBAL_FLAGS and a not in own:
            moved.append(a)
        else:
            kept.append(a)
    return head + moved + kept


def _one_line(exc: Any) -> str:
    """A click usage error as one line: the message, and where help is. An unknown option that names a key of
    the command's config says the `--set` item to use instead (strategy knobs are keys, not flags)."""
    message = " ".join(line.strip() for line in exc.format_message().splitlines() if line.strip())
    ctx = getattr(exc, "ctx", None)
    flag = getattr(exc, "option_name", None) if type(exc).__name__ == "NoSuchOption" else None
    spec = getattr(getattr(ctx, "command", None), "callback", None)
    spec = getattr(spec, "qdc_options", ((), None))[1]
    if flag and spec:
        from qdc.pipeline.fields import as_set_item

        item = as_set_item(spec, flag)
        message = f"{flag} is a config key now: use --set {item}" if item else message
    elif flag and getattr(getattr(ctx, "command", None), "name", None) == "run":
        from qdc.pipeline.config import run_set_items  # a stage command's flag: name the key(s) it sets

        items = " or ".join(f"--set {i}" for i in run_set_items(flag))
        message = f"{flag} is a config key in qdc run: use {items}" if items else message
    where = f" (see '{ctx.command_path} -h')" if ctx is not None else ""
    return f"{message}{where}"


class QdcGroup(TyperGroup):
    """The root group: global flags anywhere on the line, usage errors as one line on stderr (exit 2)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from typer import _click

        argv = hoist_global_flags(sys.argv[1:] if args is None else args, self.commands)
        if not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except _click.exceptions.NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message(), err=True)
            sys.exit(0)
        except _click.exceptions.ClickException as exc:
            from qdc.cli._common import fail

            code = fail(_one_line(exc), exc.exit_code).exit_code
            sys.exit(code)
        except typer.Abort:
            typer.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    """No '<bool>' after flags in --help: a flag takes no value."""
    if self.is_flag:
        return None
    return _typer_display_type(self, ctx)


_typer_display_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

app = typer.Typer(
    name="qdc",
    cls=QdcGroup,
    help="Curate synthetic instruction data: measure quality, diversity and complexity, remove duplicates, "
    "and select a subset under a budget.\n\nExit codes: 0 ok, 1 bad data or run-time failure, "
    f"2 usage or config error, 3 a `qdc check` policy failed. {_LATE} may also follow the command.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from qdc import __version__

        typer.echo(f"qdc {__version__}")
        raise typer.Exit()


def _root(**flags: Any) -> None:
    """The root command: the global flags into `State` (--version has answered already: it is eager)."""
    flags.pop("version")
    State.debug = flags.pop("debug") or State.debug
    for name, value in flags.items():
        setattr(State, name, value)
    if State.verbose:
        import logging

        logging.basicConfig(level=logging.INFO, format="qdc: %(name)s: %(message)s", stream=sys.stderr)


VERSION = Opt("--version", bool | None, None, "Print the version.", extra={"callback": _version, "is_eager": True})
_root.__signature__ = inspect.Signature([o.parameter() for o in (*ROOT, VERSION)])  # type: ignore[attr-defined]
app.callback()(_root)


# Commands register themselves on `app` when their module is imported (each imports its library lazily).
_COMMANDS = (
    "embed",
    "cluster",
    "dedup",
    "quality",
    "complexity",
    "diversity",
    "select",
    "probe",
    "run",
    "check",
    "report",
    "scale",
    "listing",
)
for _name in _COMMANDS:
    importlib.import_module(f"qdc.cli.{_name}")


def _exit_fast(code: object) -> None:
    """End the process now with `code` (`os._exit`) when nothing is left for Python's shutdown to do; return
    (the caller raises SystemExit as usual) when something may be.

    Tearing down the interpreter (freeing every module and, after a big run, millions of objects) cost ~0.1 s
    CPU on a 50-row select and 0.13 s on `dedup --method minhash` of 20k documents. It is skipped only when the
    exit handlers are the known ones: logging's (run here) and polars' (nothing to save), thread pools' workers
    are joined (what Python's exit does first), no other thread is running and stdout/stderr flush. Anything
    else that registers an exit handler (Ray's shutdown, coverage, a temporary directory's finalizer) makes the
    count differ: the normal exit. Only the console entry point does this; `app` itself (CliRunner in tests)
    always returns normally.
    """
    import atexit
    import os
    import threading

    ncallbacks = getattr(atexit, "_ncallbacks", None)  # CPython's count of registered handlers
    if ncallbacks is None or not (code is None or isinstance(code, int)):
        return
    expected = ("logging" in sys.modules) + ("polars" in sys.modules)
    if ncallbacks() != expected:
        return
    executors = sys.modules.get("concurrent.futures.thread")
    join = getattr(executors, "_python_exit", None)
    if join is not None:  # executors' workers (an idle reader thread): finished and joined as Python's exit does
        join()
    if any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return
    if "logging" in sys.modules:
        import logging

        logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: let Python's exit report it as it always has
        return
    os._exit(code or 0)


def main() -> None:
    """Console-script entry point (`qdc`, `python -m qdc`): the app (the cyclic GC paused until the command
    starts: `_common.resume_gc`), then a fast exit when safe."""
    import gc

    gc.disable()
    State.gc_paused = True
    try:
        app()
    except SystemExit as done:
        _exit_fast(done.code)
        raise
