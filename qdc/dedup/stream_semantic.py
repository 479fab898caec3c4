"""Streamed SemDeDup over a memory-mapped embedding file: the rows of `qdc.dedup.semantic`, in bounded memory.

The matrix is never loaded. With k > 1 clusters, spherical k-means is trained on a seeded sample of the rows
still alive (`qdc.select.stream.train_kmeans`, k-means++ seeding) and every row is assigned to its nearest
centroid block by block (`qdc.select.stream.nearest`); only a label and a distance per row stay in RAM.
Then one cluster at a time, its rows are gathered from the memory map (sorted indices, released as they are
read) and deduplicated by `qdc.dedup.semantic.dedup_members`, the in-memory per-cluster step itself (same
order, eps rule, faithful/greedy mode, matches and similarities).

With one cluster (at most `global_max_rows` rows alive, as in memory, or `--set clusters=1`) the alive rows are
gathered into one block and the in-memory global search runs on it (centroid = normalised mean), so the
result is the in-memory one bit for bit. With k > 1 the clusters come from the sampled k-means, not from
`qdc.cluster.kmeans` over every row, so they (and hence the pairs compared) can differ from `qdc dedup`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qdc.dedup.semantic import SemanticMatches, SemanticParams, dedup_members, default_clusters, global_distances
from qdc.progress import progress
from qdc.scale.store import gather


def clusters_for(rows: int, params: SemanticParams) -> int:
    """The k the in-memory path would use for `rows` alive rows."""
    k = params.clusters if params.clusters is not None else default_clusters(rows, params.global_max_rows)
    return max(1, min(k, rows))


def stream_semantic(
    x: np.ndarray, alive: np.ndarray, prio: np.ndarray | None, params: SemanticParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """SemDeDup of the rows `alive` (sorted global indices) of the (n, d) memmap `x`.

    `prio`: the keep priority of every row (lower is kept first; None = input order), used by order=keep.
    Returns (removed rows, the row each matched, their cosine, info), global indices.
    """
    from qdc.select.stream import nearest, train_kmeans

    m = alive.shape[0]
    out = SemanticMatches(
        np.zeros(m, dtype=bool), np.full(m, -1, dtype=np.int64), np.zeros(m, dtype=np.float32), min(m, 1)
    )
    rank = np.zeros(m, dtype=np.float64) if prio is None else prio[alive]  # ties: input order
    is_ref = np.zeros(m, dtype=bool)
    k = clusters_for(m, params) if m >= 2 else 1
    info: dict[str, Any] = {"eps": params.eps, "mode": params.mode, "order": params.order, "clusters": out.clusters}
    if m < 2:
        pass
    elif k == 1:
        xm = gather(x, alive, np.float32)
        dedup_members(out, xm, np.arange(m), global_distances(xm), rank, is_ref, params)
        info["largest_cluster"] = m
        progress("scale dedup: semantic", m, m)
    else:
        everything = m == x.shape[0]
        centroids = train_kmeans(
            x,
            k,
            seed=params.seed,
            niter=params.niter,
            points_per_centroid=params.points_per_centroid,
            rows=None if everything else alive,
        )
        labels, dist = nearest(x, centroids, task="scale dedup: assign")
        if not everything:  # rows removed by exact/minhash take no part
            labels, dist = labels[alive], dist[alive]
        by_label = np.argsort(labels, kind="stable")
        sizes = np.bincount(labels)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        done = 0
        for c in np.flatnonzero(sizes).tolist():
            members = by_label[bounds[c] : bounds[c + 1]]  # increasing, so the gather reads the file in order
            if members.shape[0] >= 2:
                xm = gather(x, alive[members], np.float32)
                dedup_members(out, xm, members, dist[members], rank[members], is_ref[members], params)
            done += members.shape[0]
            progress("scale dedup: semantic", done, m)
        info.update(
            {
                "clusters": int((sizes > 0).sum()),
                "largest_cluster": int(sizes.max()),
                "trained_on": min(m, k * params.points_per_centroid),
            }
        )
    hit = np.flatnonzero(out.removed)
    return alive[hit], alive[out.match[hit]], out.sim[hit].astype(np.float64), info
