"""`qdc cluster`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import State, console, print_json

if TYPE_CHECKING:
    from qdc.cluster import ClusterConfig


@o.command(
    app,
    "cluster",
    (
        o.INPUT,
        o.OUTPUT,
        *o.WRITE,
        o.Opt("--k", int | None, None, "Number of clusters [default: round(sqrt(n/2)), 2..1024].", key="k"),
        o.Opt("--niter", int, 25, "k-means iterations.", key="niter"),
        o.Opt(
            "--sample-per-centroid",
            int | None,
            None,
            "Train on at most this many points per centroid (faster on huge inputs) [default: all points].",
            key="max_points_per_centroid",
        ),
        o.SEED,
        *o.EMBED,
        *o.IO,
        o.JSON,
    ),
    config="qdc.cluster:ClusterConfig",
)
def cluster_cmd(a: o.Args, cfg: ClusterConfig) -> None:
    """Add `qdc_cluster` and `qdc_cluster_distance` with spherical k-means (faiss) on the embeddings.

    Rows without `qdc_embedding` are embedded first. Every point trains the centroids. A table of clusters
    (size, examples nearest the centroid) goes to stderr; `--json` prints it on stdout.

    **Example:** `qdc cluster embedded.parquet -o clustered.parquet --k 8 --seed 1`
    """
    from qdc.cluster import cluster, cluster_summary

    o.check_output_path(a.output)
    o.rows_to_file(a)
    inputs = o.read_inputs(a)
    out = cluster(inputs.read(a.input), cfg, o.embedding(a))
    o.write_rows(a, out)
    inputs.finish()
    summary = cluster_summary(out)
    if a.json:
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
