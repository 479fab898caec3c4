"""The qdc command line: a thin shell over the library (one module per command).

Only this package imports typer and rich. Each command parses options, builds a config, calls one
library function and writes its output.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from qdc.cli._common import State

app = typer.Typer(
    name="qdc",
    help="Curate synthetic instruction data: measure quality, diversity and complexity, remove duplicates, "
    "and select a subset under a budget.\n\nExit codes: 0 ok, 1 bad data or run-time failure, "
    "2 usage or config error, 3 a `qdc check` policy failed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from qdc import __version__

        typer.echo(f"qdc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summaries on stderr.")] = False,
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = None,
) -> None:
    State.debug = debug or State.debug
    State.quiet = quiet


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
)
for _name in _COMMANDS:
    importlib.import_module(f"qdc.cli.{_name}")


def main() -> None:
    """Console-script entry point."""
    app()
