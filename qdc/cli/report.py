"""`qdc report`."""

from __future__ import annotations

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import show


@o.command(
    app,
    "report",
    (
        o.INPUT,
        o.Opt("--output -o", str, "report.html", "The HTML file to write."),
        o.Opt("--compare", str | None, None, "A second file (e.g. the selected subset) for a before/after comparison."),
        o.Opt(
            "--budgets", str, "0.1,0.25,0.5,0.75", "Trade-off curve budgets: fractions or row counts, comma-separated."
        ),
        o.Opt(
            "--strategies", str, "random,top,kmq,deita,kcenter", "Selection strategies drawn on the trade-off curve."
        ),
        o.SEED,
        *o.EMBED,
        *o.TEXT,
        o.Opt(
            "--reproducible",
            bool,
            False,
            "Leave the generation time out, so the same input gives the same bytes (SOURCE_DATE_EPOCH, when set, "
            "is used as the time instead).",
        ),
        o.JSON,
    ),
)
def report_cmd(a: o.Args) -> None:
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
    from qdc.report.inputs import embedder_for, generated_at

    if a.output == "-":
        raise ConfigError("-o: the report is an HTML file; name one, e.g. -o report.html")
    try:
        budget_list = tuple(float(b) for b in a.budgets.split(",") if b.strip())
    except ValueError:
        raise ConfigError(f"--budgets {a.budgets!r}: expected numbers, e.g. 0.1,0.5,400") from None
    if not budget_list or any(b <= 0 for b in budget_list):
        raise ConfigError("--budgets: give positive fractions or row counts")
    strategy_list = tuple(s.strip() for s in a.strategies.split(",") if s.strip())
    io = o.read_inputs(a).io
    ecfg = o.embedding(a)
    generated = generated_at(a.reproducible)
    df = read_records(a.input, io)
    other = read_records(a.compare, io) if a.compare is not None else None
    embedder = embedder_for(df, other, ecfg, o.shown(a.input), a.compare or "")
    opts = ReportOptions(budgets=budget_list, strategies=strategy_list)
    ctx = StageContext(seed=a.seed, embed=ecfg, embedder=embedder)
    data = build_report(df, ctx, other, opts, source=o.shown(a.input), other_source=a.compare or "")
    data["generated"] = generated
    with atomic_path(a.output) as tmp:
        tmp.write_text(render_html(data), encoding="utf-8")
    for note in data["notes"]:
        notice(note)
    also = f", compared with {a.compare}" if a.compare else ""
    show(a, data, f"qdc: wrote {a.output} ({df.height} rows{also})")
