"""`qdc diversity`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from qdc.cli import app
from qdc.cli._common import (
    BadRowsFileOpt,
    BatchSizeOpt,
    DeviceOpt,
    EmbedFieldOpt,
    IdFieldOpt,
    InputArg,
    Inputs,
    JsonOpt,
    ModelOpt,
    NoCacheOpt,
    OnBadRowsOpt,
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

ROWS = (
    ("n", "rows"),
    ("vendi", "Vendi (q=1, embeddings)"),
    ("vendi_q.0.1", "Vendi q=0.1"),
    ("vendi_q.0.5", "Vendi q=0.5"),
    ("vendi_q.2", "Vendi q=2"),
    ("vendi_q.inf", "Vendi q=inf"),
    ("mpcd", "mean pairwise cosine distance"),
    ("distinct_1", "distinct-1"),
    ("distinct_2", "distinct-2"),
    ("distinct_3", "distinct-3"),
    ("compression_ratio", "compression ratio (higher = redundant)"),
    ("entropy_1", "unigram entropy (nats)"),
    ("entropy_2", "bigram entropy (nats)"),
    ("self_bleu", "self-BLEU-3 (higher = redundant)"),
    ("ngram_vendi", "n-gram Vendi (sample)"),
    ("effective_clusters", "effective clusters"),
    ("cluster_coverage", "cluster coverage"),
)


def _get(report: dict[str, Any], key: str) -> str:
    v = report.get("vendi_q", {}).get(key.split(".", 1)[1]) if key.startswith("vendi_q.") else report.get(key)
    if v is None:
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


@app.command("diversity")
@handle_errors
def diversity_cmd(
    input: InputArg = "-",
    group_field: Annotated[
        str | None, typer.Option("--group-field", help="Also report the figures for each value of this field.")
    ] = None,
    lexical_field: Annotated[
        str,
        typer.Option("--lexical-field", help="Part of each row the lexical measures read: text, prompt or response."),
    ] = "text",
    no_embeddings: Annotated[
        bool, typer.Option("--no-embeddings", help="Skip the embedding measures (Vendi, MPCD): no model is loaded.")
    ] = False,
    sample: Annotated[
        int, typer.Option("--sample", help="Rows sampled (seeded) for self-BLEU and the n-gram Vendi score.")
    ] = 500,
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
    on_bad_rows: OnBadRowsOpt = "error",
    bad_rows_file: BadRowsFileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Dataset-level diversity: Vendi score and its q-orders, MPCD, distinct-n, compression ratio, n-gram
    entropy, self-BLEU, n-gram Vendi, and cluster spread when rows carry `qdc_cluster`.

    Rows without `qdc_embedding` are embedded first. `--json` prints one JSON document on stdout (keys
    n, vendi, vendi_q, distinct_1, distinct_2, compression_ratio, ...); without it a table goes to stderr
    and stdout stays empty.

    **Example:** `qdc diversity selected.jsonl --json --group-field category`
    """
    from qdc.config import validate_config
    from qdc.diversity import DiversityConfig, diversity_report

    cfg = validate_config(
        DiversityConfig,
        {
            "field": lexical_field,
            "embeddings": not no_embeddings,
            "sample": sample,
            "group_field": group_field,
            "seed": seed,
        },
        "options",
    )
    ecfg = embed_config(model, batch_size, device, no_cache, embed_field)
    inputs = Inputs(io_config(text_field, template, roles, id_field, on_bad_rows), bad_rows_file, "-")
    report = diversity_report(inputs.read(input), cfg, ecfg)
    inputs.finish()
    if json:
        print_json(report)
        return
    if State.quiet:
        return
    groups = report.get("groups", {})
    table = Table(title=f"diversity of {report['n']} rows", title_justify="left")
    table.add_column("measure")
    table.add_column("all", justify="right")
    for g in list(groups)[:8]:
        table.add_column(str(g), justify="right", overflow="fold")
    for key, label in ROWS:
        if _get(report, key) == "-" and not any(_get(v, key) != "-" for v in groups.values()):
            continue
        table.add_row(label, _get(report, key), *(_get(groups[g], key) for g in list(groups)[:8]))
    if len(groups) > 8:
        table.caption = f"... and {len(groups) - 8} more groups (use --json for all)"
    console.print(table)
