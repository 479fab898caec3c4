"""`qdc scale score`, and `qdc scale dedup | select | embed`: aliases of `qdc dedup|select|embed --stream`,
kept for one release."""

from __future__ import annotations

import typer

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._stream import STREAMING

scale_app = typer.Typer(
    name="scale",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="Out-of-core scoring of inputs larger than memory (streamed in batches); `scale dedup`, `scale select` "
    "and `scale embed` are the old names of `dedup --stream`, `select --stream` and `embed --stream`.",
)
app.add_typer(scale_app, name="scale")
_OLD = {"--backend": "--executor", "--out": "--output"}


def _alias(name: str, target: str, first: tuple[str, ...] = ()) -> None:
    """`qdc scale NAME ARGS` runs `qdc TARGET --stream [FIRST] ARGS` (--backend read as --executor), with a notice."""

    @scale_app.command(
        name,
        help=f"The old name of `qdc {target} --stream` (its options and **Example** in `qdc {target} --help`).",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    )
    def alias(ctx: typer.Context) -> None:
        from qdc.cli import ROOT
        from qdc.cli._common import State

        args = [_OLD.get(arg, arg) for arg in ctx.args]
        defaults = [] if any(arg in args for arg in first[:1]) else list(first)
        State.alias = f"this command is now `qdc {target} --stream`; the `scale {name}` alias stays for one release"
        root = ctx.find_root().command
        try:
            flags = [opt.flags.split()[0] for opt in ROOT if getattr(State, opt.param)]
            code = root.main([*flags, target, "--stream", *defaults, *args], "qdc", standalone_mode=False)
        finally:
            State.alias = None  # not said when the options were refused
        raise typer.Exit(code or 0)


_alias("dedup", "dedup")
_alias("select", "select", ("--budget", "0.1"))
_alias("embed", "embed")


@o.command(
    scale_app,
    "score",
    (
        o.ONE_INPUT,
        o.OUTPUT,
        o.Opt("--quality/--no-quality", bool, True, "Add qdc_quality and the qdc_q_* signals (as score-quality)."),
        o.Opt("--complexity/--no-complexity", bool, True, "Add qdc_complexity and qdc_c_* (as score-complexity)."),
        o.Opt("--signals", str | None, None, "Comma-separated quality signals to use [default: all]."),
        *STREAMING,
        *o.IO,
        o.JSON,
    ),
)
def scale_score_cmd(a: o.Args) -> None:
    """Heuristic quality and complexity scores of a file larger than memory, streamed in batches.

    Writes every row with the columns and values of `qdc score-quality` followed by `qdc score-complexity`
    (same bytes), in input order, whatever the batch size or executor. Prints the memory it expects first;
    `--max-memory` shrinks the batches to fit or refuses (exit 2).

    **Example:** `qdc scale score big.jsonl -o scored.jsonl --max-memory 4G`
    """
    from qdc.cli.quality import stream_score
    from qdc.complexity import ComplexityConfig
    from qdc.config import validate_config
    from qdc.errors import ConfigError
    from qdc.quality import QualityConfig

    if a.signals is not None and not a.quality:
        raise ConfigError("--signals chooses quality signals; drop it or drop --no-quality")
    qcfg = validate_config(QualityConfig, {"signals": a.signals} if a.signals else {}, "options") if a.quality else None
    stream_score(a, qcfg, ComplexityConfig() if a.complexity else None)
