"""`qdc cluster`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import show, table

if TYPE_CHECKING:
    from qdc.cluster import ClusterConfig


@o.command(
    app,
    "cluster",
    (
        o.K("--k", int, "k"),
        o.SEED,
        *o.EMBED,
    ),
    config="qdc.cluster:ClusterConfig",
    rows=True,
)
def cluster_cmd(a: o.Args, cfg: ClusterConfig) -> None:
    """Add `qdc_cluster` and `qdc_cluster_distance` with spherical k-means (faiss) on the embeddings.

    Rows without `qdc_embedding` are embedded first. Every point trains the centroids. A table of clusters
    (size, examples nearest the centroid) goes to stderr; `--json` prints it on stdout.

    **Example:** `qdc cluster embedded.parquet -o clustered.parquet --k 8 --seed 1`
    """
    from qdc.cluster import cluster, cluster_summary

    out = o.transform(a, lambda df: cluster(df, cfg, o.embedding(a)))
    summary = cluster_summary(out)
    rows = [(c["cluster"], c["size"], c.get("mean_distance", ""), " | ".join(c["examples"])) for c in summary[:30]]  # type: ignore[arg-type]
    more = f"... and {len(summary) - 30} more clusters (use --json for all)" if len(summary) > 30 else None
    cols = ("cluster", "size", "mean dist", "examples (nearest the centroid)")
    body = {"rows": out.height, "k": len(summary), "clusters": summary}
    show(a, body, table(f"{len(summary)} clusters over {out.height} rows", rows, cols, more))
