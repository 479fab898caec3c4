"""`qdc cluster`."""

from __future__ import annotations

from typing import Annotated

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
    OutputOpt,
    RolesOpt,
    SeedOpt,
    State,
    TemplateOpt,
    TextFieldOpt,
    check_output_path,
    console,
    embed_config,
    handle_errors,
    io_config,
    print_json,
)


@app.command("cluster")
@handle_errors
def cluster_cmd(
    input: InputArg = "-",
    output: OutputOpt = "-",
    k: Annotated[
        int | None, typer.Option("--k", help="Number of clusters [default: round(sqrt(n/2)), 2..1024].")
    ] = None,
    niter: Annotated[int, typer.Option("--niter", help="k-means iterations.")] = 25,
    sample_per_centroid: Annotated[
        int | None,
        typer.Option(
            "--sample-per-centroid",
            help="Train on at most this many points per centroid (faster on huge inputs) [default: all points].",
        ),
    ] = None,
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
    """Add `qdc_cluster` and `qdc_cluster_distance` with spherical k-means (faiss) on the embeddings.

    Rows without `qdc_embedding` are embedded first. Every point trains the centroids. A table of clusters
    (size, examples nearest the centroid) goes to stderr; `--json` prints it on stdout.

    **Example:** `qdc cluster embedded.parquet -o clustered.parquet --k 8 --seed 1`
    """
    from qdc.cluster import ClusterConfig, cluster, cluster_summary
    from qdc.config import validate_config
    from qdc.io import write_records

    check_output_path(output)
    if json and output == "-":
        raise typer.BadParameter("--json prints a summary on stdout; pass -o FILE for the rows")
    cfg = validate_config(
        ClusterConfig, {"k": k, "niter": niter, "seed": seed, "max_points_per_centroid": sample_per_centroid}, "options"
    )
    ecfg = embed_config(model, batch_size, device, no_cache, embed_field)
    inputs = Inputs(io_config(text_field, template, roles, id_field, on_bad_rows), bad_rows_file, output)
    out = cluster(inputs.read(input), cfg, ecfg)
    write_records(out, output)
    inputs.finish()
    summary = cluster_summary(out)
    if json:
        print_json({"rows": out.height, "k": len(summary), "clusters": summary})
    elif not State.quiet:
        table = Table(title=f"{len(summary)} clusters over {out.height} rows", title_justify="left")
        for col in ("cluster", "size", "mean dist", "examples (nearest the centroid)"):
            table.add_column(col, overflow="fold")
        for item in summary[:30]:
            table.add_row(
                str(item["cluster"]),
                str(item["size"]),
                str(item.get("mean_distance", "")),
                " | ".join(item["examples"]),  # type: ignore[arg-type]
            )
        if len(summary) > 30:
            table.caption = f"... and {len(summary) - 30} more clusters (use --json for all)"
        console.print(table)
