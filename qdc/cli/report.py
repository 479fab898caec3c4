"""`qdc report`."""

from __future__ import annotations

from typing import Annotated

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
    TemplateOpt,
    TextFieldOpt,
    console,
    embed_config,
    handle_errors,
    io_config,
    print_json,
)


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
    from qdc.progress import notice
    from qdc.report import ReportOptions, build_report, render_html
    from qdc.stage import StageContext

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
    df = read_records(input, io)
    other = read_records(compare, io) if compare is not None else None
    opts = ReportOptions(budgets=budget_list, strategies=strategy_list)
    data = build_report(df, StageContext(seed=seed, embed=ecfg), other, opts, source=input, other_source=compare or "")
    with atomic_path(output) as tmp:
        tmp.write_text(render_html(data), encoding="utf-8")
    for note in data["notes"]:
        notice(note)
    if json:
        print_json(data)
    else:
        console.print(
            f"qdc: wrote {output} ({df.height} rows" + (f", compared with {compare}" if compare else "") + ")",
            highlight=False,
        )
