"""`qdc run`."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import typer

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import State, console, print_json, show, table

if TYPE_CHECKING:
    from qdc.pipeline import RunResult
    from qdc.pipeline.report import RunPlan


def print_summary(result: RunResult, plan: RunPlan) -> None:
    """The per-stage table on stderr (rows in and out, removed, seconds, peak memory in MB; under 80 columns,
    so it fits a CI log), then one line of notes per stage, wrapped, never cut."""
    from rich import box
    from rich.text import Text

    from qdc.pipeline.report import stage_notes

    rows_in = result.manifest.get("input", {}).get("rows", "?")
    title = f"qdc run {plan.pipeline.source}: {rows_in} rows in, {result.df.height} out, {result.removed_count} removed"
    rows = []
    for r in result.stages:
        status = Text(r.status, style="green" if r.status == "ran" else "dim")  # no markup
        mb = round(r.peak_rss / 2**20)
        rows.append((f"{r.position} {r.name}", status, r.rows_in, r.rows_out, r.removed, f"{r.seconds:.2f}", mb))
    cols = ("stage", "status", "in", "out", "removed", "sec", "MB")
    console.print(table(title, rows, cols, box=box.SIMPLE_HEAD, pad_edge=False))
    for r in result.stages:
        notes = stage_notes(r.summary)
        if notes:
            # Wrapped at ', ' with the continuation indented, so each stage's notes read as one block.
            lines = textwrap.wrap(
                f"{r.position:>2} {r.name}: {notes}", max(console.width - 1, 40), subsequent_indent="      "
            )
            console.print(Text("\n".join(lines)), soft_wrap=True)
    console.print(f"embedding cache: {plan.embedding_cache()}", highlight=False)
    console.print(
        f"ledger: {plan.ledger}; manifest: {plan.manifest}; workdir: {plan.workdir or 'none'}", highlight=False
    )


def _print_plan(plan: RunPlan) -> None:
    """`--dry-run`: what the run would read, write and do, on stderr (stdout stays empty)."""
    from rich.text import Text

    if plan.input != "-":
        from qdc.io import input_files

        input_files(plan.input)  # a folder or pattern with no data files fails here, as the run would
    for line in plan.files():
        console.print(line)
    for line in plan.stages():
        console.print(Text(line), soft_wrap=False, overflow="fold")


@o.command(
    app,
    "run",
    (
        o.Opt("CONFIG", str, ..., "Pipeline file (YAML, or TOML), e.g. configs/default.yaml."),
        o.Opt("INPUT", str | None, None, "Input file or '-' [default: the config's `input`, else stdin]."),
        o.Opt("--output -o", str | None, None, "Output file or '-' [default: the config's `output`, else stdout]."),
        o.Opt(
            "--set",
            list[str] | None,
            None,
            "Override a config value: key.path=value (YAML value), e.g. select.budget=400, embed.model=hash, "
            "seed=7, stages.3.threshold=0.9. Repeatable.",
            name="set_",
        ),
        o.Opt(
            "--workdir",
            str | None,
            None,
            "Folder of stage artifacts for skipping finished stages and resuming [default: the config's "
            "`workdir`, else .qdc-work].",
        ),
        o.Opt("--no-workdir", bool, False, "Keep no stage artifacts (nothing to resume from)."),
        o.Opt("--force", bool, False, "Run every stage again, ignoring stored ones."),
        o.Opt(
            "--removed",
            str | None,
            None,
            "Ledger of every removed row with the stage and reason [default: OUTPUT.removed.jsonl, or "
            "qdc.removed.jsonl for stdout].",
        ),
        o.Opt(
            "--manifest", str | None, None, "Run manifest (JSON) [default: OUTPUT.manifest.json, or qdc.manifest.json]."
        ),
        o.JSON.with_(help="Print the manifest on stdout (needs -o FILE)."),
        *o.WRITE,
        o.Opt("--dry-run", bool, False, "Validate the config and print the plan (stages, files); run nothing."),
    ),
)
def run_cmd(a: o.Args) -> None:
    """Run a pipeline of stages (embed, cluster, dedup, score-quality, score-complexity, select, check)
    from a config file in one process.

    Each stage gets only its own config section. Finished stages are stored in the work folder under a key
    of the input's content and every config up to that stage, so a re-run skips them and a killed run
    resumes where it stopped. Every removed row goes to a ledger file; a manifest records versions, seeds,
    the model, input and config hashes, and rows, seconds and peak memory per stage. Presets:
    configs/default.yaml, fast.yaml (no transformer), judge.yaml, ci.yaml (checks only).

    **Example:** `qdc run configs/default.yaml data.jsonl -o curated.jsonl --set select.budget=400`
    """
    from qdc.errors import CheckFailed
    from qdc.pipeline import load_pipeline, run_file
    from qdc.pipeline.report import RunPlan

    pipeline = load_pipeline(a.config, a.set_ or [])
    plan = RunPlan.resolve(pipeline, a.input, a.output, a.workdir, a.no_workdir, a.removed, a.manifest)
    o.check_output_path(plan.output)
    if a.json and plan.output == "-":
        raise typer.BadParameter("--json prints the manifest on stdout; pass -o FILE for the rows")
    if a.dry_run:
        return _print_plan(plan)
    if plan.output == "-":
        from qdc.progress import notice

        notice(
            f"rows go to stdout; the ledger to {plan.ledger}, the manifest to {plan.manifest} (--removed, --manifest)"
        )
    try:
        result = run_file(
            pipeline,
            plan.input,
            plan.output,
            workdir=plan.workdir,
            removed_path=plan.ledger,
            manifest_path=plan.manifest,
            force=a.force,
            columns=o.column_names(a),
            drop_qdc=a.drop_qdc,
        )
    except CheckFailed as exc:
        if a.json:  # a CI job keeps the figures of the failed gate, as `qdc check --json` gives them
            print_json({"passed": False, "error": str(exc), "checks": exc.checks})
        raise
    if a.json:
        print_json(result.manifest)
    if State.log_json:
        if not a.json:  # with --json the manifest is on stdout already
            show({}, result.manifest)  # one JSON line, not the table
    elif not State.quiet:
        from qdc.progress import current_reporter

        close = getattr(current_reporter(), "close", None)  # finish the stage bars before the table
        if callable(close):
            close()
        print_summary(result, plan)
