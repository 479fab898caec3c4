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
    from qdc.report.inputs import options, write_report

    data, rows = write_report(
        a.input,
        a.output,
        o.read_inputs(a).io,
        o.embedding(a),
        seed=a.seed,
        compare=a.compare,
        opts=options(a.budgets, a.strategies),
        reproducible=a.reproducible,
    )
    also = f", compared with {a.compare}" if a.compare else ""
    show(a, data, f"qdc: wrote {a.output} ({rows} rows{also})")
