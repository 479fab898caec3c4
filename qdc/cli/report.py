"""`qdc report`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from qdc.cli import app
from qdc.cli._common import (
    BatchSizeOpt,
    DeviceOpt,
    EmbedFieldOpt,
    IdFieldOpt,
    InputArg,
    JsonOpt,
    ModelOpt,
    NoCacheOpt,
    RolesOpt,
    SeedOpt,
    State,
    TemplateOpt,
    TextFieldOpt,
    console,
    embed_config,
    handle_errors,
    io_config,
    print_json,
)

if TYPE_CHECKING:
    import polars as pl

    from qdc.embed import EmbedConfig
    from qdc.embed.models import Embedder


def _generated(reproducible: bool) -> str:
    """The report's time stamp: SOURCE_DATE_EPOCH when set (reproducible builds), none with --reproducible."""
    import os
    from datetime import datetime, timezone

    from qdc.errors import ConfigError

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None:
        try:
            return datetime.fromtimestamp(int(epoch), timezone.utc).isoformat(timespec="seconds")
        except (ValueError, OverflowError, OSError):
            raise ConfigError(f"SOURCE_DATE_EPOCH={epoch[:40]!r}: expected whole seconds since 1970") from None
    return "" if reproducible else datetime.now(timezone.utc).isoformat(timespec="seconds")


def _embedder_for(
    df: pl.DataFrame, other: pl.DataFrame | None, ecfg: EmbedConfig, source: str, other_source: str
) -> Embedder | None:
    """The embedder for rows that lack vectors, after checking it matches the vectors the files carry.

    Vectors of different models cannot be compared: refuse at once (before minutes of embedding) when the
    two files carry different dimensions, or when --model gives another dimension than the file that has
    them. Say what will be embedded, and with which model, before doing it.
    """
    from qdc import schema
    from qdc.embed.cache import default_cache_dir
    from qdc.embed.models import load_embedder
    from qdc.errors import ConfigError
    from qdc.progress import notice

    files = [(source, df)] + ([(other_source, other)] if other is not None else [])
    carried = {name: f[schema.EMBEDDING].dtype.size for name, f in files if schema.EMBEDDING in f.columns}  # type: ignore[attr-defined]
    missing = [(name, f.height) for name, f in files if schema.EMBEDDING not in f.columns]
    if len(set(carried.values())) > 1:
        (a, da), (b, db) = carried.items()
        raise ConfigError(
            f"{a} carries {da}-d embeddings and {b} {db}-d: they come from different models and cannot be "
            f"compared; embed both with one model first (qdc embed FILE --force --model M)"
        )
    if not missing:
        return None
    embedder = load_embedder(ecfg.model, ecfg.device, ecfg.cache_dir or default_cache_dir())
    if carried and embedder.dim > 0 and embedder.dim not in carried.values():
        name, dim = next(iter(carried.items()))
        raise ConfigError(
            f"{name} carries {dim}-d embeddings but --model {ecfg.model} gives {embedder.dim}-d; pass the "
            f"--model that made them, or embed {missing[0][0]} with it first (qdc embed)"
        )
    what = " and ".join(f"{n} rows of {name}" for name, n in missing)
    also = f" ({', '.join(carried)} carries its own {next(iter(carried.values()))}-d vectors)" if carried else ""
    notice(f"embedding {what} with --model {ecfg.model}{also}")
    return embedder


@app.command("report")
@handle_errors
def report_cmd(
    input: InputArg = "-",
    output: Annotated[str, typer.Option("--output", "-o", help="The HTML file to write.")] = "report.html",
    compare: Annotated[
        str | None,
        typer.Option("--compare", help="A second file (e.g. the selected subset) for a before/after comparison."),
    ] = None,
    budgets: Annotated[
        str,
        typer.Option(
            "--budgets",
            help="Trade-off curve budgets: fractions or row counts, comma-separated.",
        ),
    ] = "0.1,0.25,0.5,0.75",
    strategies: Annotated[
        str,
        typer.Option(
            "--strategies",
            help="Selection strategies drawn on the trade-off curve.",
        ),
    ] = "random,top,kmq,deita,kcenter",
    seed: SeedOpt = 0,
    model: ModelOpt = "default",
    batch_size: BatchSizeOpt = 64,
    device: DeviceOpt = "auto",
    no_cache: NoCacheOpt = False,
    embed_field: EmbedFieldOpt = "text",
    text_field: TextFieldOpt = None,
    template: TemplateOpt = None,
    roles: RolesOpt = "user,assistant",
    id_field: IdFieldOpt = "id",
    reproducible: Annotated[
        bool,
        typer.Option(
            "--reproducible",
            help="Leave the generation time out, so the same input gives the same bytes "
            "(SOURCE_DATE_EPOCH, when set, is used as the time instead).",
        ),
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Write a self-contained HTML report: embedding map by cluster, quality and complexity histograms,
    duplicate groups, the cluster table, and the quality-diversity trade-off of the selection strategies.

    Scores, clusters and embeddings on the rows are reused; missing ones are computed. `--compare` adds a
    before/after section (e.g. the pool against the selected subset). The page has no scripts and loads
    nothing from the network. `--json` also prints the report's data on stdout.

    **Example:** `qdc report pool.jsonl -o report.html --compare selected.jsonl`
    """
    from qdc.errors import ConfigError
    from qdc.io import atomic_path, read_records
    from qdc.pipeline.stage import StageContext
    from qdc.progress import notice
    from qdc.report import ReportOptions, build_report, render_html

    if output == "-":
        raise ConfigError("-o: the report is an HTML file; name one, e.g. -o report.html")
    try:
        budget_list = tuple(float(b) for b in budgets.split(",") if b.strip())
    except ValueError:
        raise ConfigError(f"--budgets {budgets!r}: expected numbers, e.g. 0.1,0.5,400") from None
    if not budget_list or any(b <= 0 for b in budget_list):
        raise ConfigError("--budgets: give positive fractions or row counts")
    strategy_list = tuple(s.strip() for s in strategies.split(",") if s.strip())
    io = io_config(text_field, template, roles, id_field, "error")
    ecfg = embed_config(model, batch_size, device, no_cache, embed_field)
    generated = _generated(reproducible)
    df = read_records(input, io)
    other = read_records(compare, io) if compare is not None else None
    embedder = _embedder_for(df, other, ecfg, input, compare or "")
    opts = ReportOptions(budgets=budget_list, strategies=strategy_list)
    ctx = StageContext(seed=seed, embed=ecfg, embedder=embedder)
    data = build_report(df, ctx, other, opts, source=input, other_source=compare or "")
    data["generated"] = generated
    with atomic_path(output) as tmp:
        tmp.write_text(render_html(data), encoding="utf-8")
    for note in data["notes"]:
        notice(note)
    if json:
        print_json(data)
    elif not State.quiet:
        console.print(
            f"qdc: wrote {output} ({df.height} rows" + (f", compared with {compare}" if compare else "") + ")",
            highlight=False,
        )
