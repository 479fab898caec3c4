"""`qdc run`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, List

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from qdc.cli import app
from qdc.cli._common import State, check_output_path, console, handle_errors, print_json

if TYPE_CHECKING:
    from qdc.pipeline import RunResult


def _short(summary: dict[str, object], width: int = 60) -> str:
    parts = []
    for k, v in summary.items():
        if isinstance(v, (dict, list)):
            continue
        parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    text = ", ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


def print_summary(result: RunResult, source: str) -> None:
    """The per-stage table on stderr."""
    rows_in = result.manifest.get("input", {}).get("rows", "?")
    table = Table(
        title=f"qdc run {source}: {rows_in} rows in, {result.df.height} out, {result.removed_count} removed",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    width = max([len(r.name) for r in result.stages] + [5])
    cols = (
        ("#", "right", 2),
        ("stage", "left", width),
        ("status", "left", 6),
        ("rows in", "right", 7),
        ("rows out", "right", 8),
        ("removed", "right", 7),
        ("sec", "right", 6),
        ("peak MB", "right", 7),
    )
    notes_width = max(console.width - sum(w + 3 for _, _, w in cols) - 4, 10)
    for col, just, w in cols:
        table.add_column(col, justify=just, no_wrap=True, min_width=w)  # type: ignore[arg-type]
    table.add_column("notes", no_wrap=True)
    for r in result.stages:
        status = Text("ran", style="green") if r.status == "ran" else Text("cached", style="dim")  # no markup
        table.add_row(
            str(r.position),
            r.name,
            status,
            str(r.rows_in),
            str(r.rows_out),
            str(r.removed),
            f"{r.seconds:.2f}",
            f"{r.peak_rss / 2**20:.0f}",
            _short(r.summary, notes_width),
        )
    console.print(table)


@app.command("run")
@handle_errors
def run_cmd(
    config: Annotated[str, typer.Argument(help="Pipeline file (YAML, or TOML), e.g. configs/default.yaml.")],
    input: Annotated[
        str | None, typer.Argument(help="Input file or '-' [default: the config's `input`, else stdin].")
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Output file or '-' [default: the config's `output`, else stdout]."),
    ] = None,
    set_: Annotated[
        List[str] | None,
        typer.Option(
            "--set",
            help="Override a config value: key.path=value (YAML value), e.g. select.budget=400, "
            "embed.model=hash, seed=7, stages.3.threshold=0.9. Repeatable.",
        ),
    ] = None,
    workdir: Annotated[
        str | None,
        typer.Option(
            "--workdir",
            help="Folder of stage artifacts for skipping finished stages and resuming "
            "[default: the config's `workdir`, else .qdc-work].",
        ),
    ] = None,
    no_workdir: Annotated[
        bool, typer.Option("--no-workdir", help="Keep no stage artifacts (nothing to resume from).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Run every stage again, ignoring stored ones.")] = False,
    removed: Annotated[
        str | None,
        typer.Option(
            "--removed",
            help="Ledger of every removed row with the stage and reason "
            "[default: OUTPUT.removed.jsonl, or qdc.removed.jsonl for stdout].",
        ),
    ] = None,
    manifest: Annotated[
        str | None,
        typer.Option(
            "--manifest",
            help="Run manifest (JSON) [default: OUTPUT.manifest.json, or qdc.manifest.json].",
        ),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the manifest on stdout (needs -o FILE).")] = False,
) -> None:
    """Run a pipeline of stages (embed, cluster, dedup, score-quality, score-complexity, select, check)
    from a config file in one process.

    Each stage gets only its own config section. Finished stages are stored in the work folder under a key
    of the input's content and every config up to that stage, so a re-run skips them and a killed run
    resumes where it stopped. Every removed row goes to a ledger file; a manifest records versions, seeds,
    the model, input and config hashes, and rows, seconds and peak memory per stage. Presets:
    configs/default.yaml, fast.yaml (no transformer), judge.yaml, ci.yaml (checks only).

    **Example:** `qdc run configs/default.yaml data.jsonl -o curated.jsonl --set select.budget=400`
    """
    from qdc.pipeline import DEFAULT_WORKDIR, load_pipeline, run_file

    pipeline = load_pipeline(config, set_ or [])
    src = input or pipeline.input or "-"
    out = output or pipeline.output or "-"
    check_output_path(out)
    if json and out == "-":
        raise typer.BadParameter("--json prints the manifest on stdout; pass -o FILE for the rows")
    wd = None if no_workdir else (workdir or pipeline.workdir or DEFAULT_WORKDIR)
    result = run_file(pipeline, src, out, workdir=wd, removed_path=removed, manifest_path=manifest, force=force)
    if json:
        print_json(result.manifest)
    if not State.quiet:
        from qdc.progress import current_reporter

        close = getattr(current_reporter(), "close", None)  # finish the stage bars before the table
        if callable(close):
            close()
        print_summary(result, config)
        from qdc.embed.cache import default_cache_dir  # a config's cache_dir may point anywhere: say where

        cache = "off" if not pipeline.embed.cache else str(pipeline.embed.cache_dir or default_cache_dir())
        console.print(f"embedding cache: {cache}", highlight=False)
