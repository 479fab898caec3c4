"""Cluster labels for selection: reuse `qdc_cluster`, else k-means on the pool's embeddings.

Up to `LEAN_ABOVE` rows this is `qdc.cluster.kmeans` (every point trains the centroids). Above it, a
memory-lean path: faiss spherical k-means trained on a seeded sample of `points_per_centroid`·K rows,
then assignment in chunks, so peak memory stays near the embedding matrix itself (no n×d temporaries).
"""

from __future__ import annotations

import numpy as np

LEAN_ABOVE = 200_000


# Budget rows per cluster when neither `k` nor `rows_per_cluster` is set. 3 for kmq and iterative: chosen on the
# tuning proxies (sst2, sms_spam, subj over 10 pool draws) and the 8-task probe, where B/3 was at or above B/10
# for both (docs/select.md); bandit keeps the paper's 10, since a pull probes 10 rows of one cluster.
ROWS_PER_CLUSTER = 3.0
ROWS_PER_CLUSTER_BY_STRATEGY = {"bandit": 10.0}


def rows_per_cluster(strategy: str, value: float | None) -> float:
    """The configured rows per cluster, else the strategy's default."""
    return value if value is not None else ROWS_PER_CLUSTER_BY_STRATEGY.get(strategy, ROWS_PER_CLUSTER)


def default_k(budget: int, n: int, rows_per_cluster: float = 10.0) -> int:
    """clamp(round(B / rows_per_cluster), 2, min(1024, n)); 10 rows per cluster is `qdc.cluster.budget_k`."""
    if rows_per_cluster == 10.0:
        from qdc.cluster import budget_k

        return budget_k(budget, n)
    return int(max(1, min(max(2, round(budget / rows_per_cluster)), 1024, n)))


def lean_kmeans(
    x: np.ndarray, k: int, *, seed: int = 0, niter: int = 20, points_per_centroid: int = 64, chunk: int = 65_536
) -> np.ndarray:
    """Labels (n,): `qdc.cluster.train_centroids` (k-means++) on a seeded sample, `qdc.cluster.assign` in chunks."""
    from qdc.cluster import assign, train_centroids

    n = x.shape[0]
    k = min(k, n)
    if k <= 1:
        return np.zeros(n, dtype=np.int64)
    centroids = train_centroids(x, k, seed=seed, niter=niter, sample_per_centroid=max(points_per_centroid, 4))
    return assign(x, centroids, block_rows=chunk)[0]


def compute_labels(x: np.ndarray, k: int, seed: int, niter: int) -> np.ndarray:
    """Dense labels 0..K'-1 for the rows of `x`."""
    n = x.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n > LEAN_ABOVE:
        labels = lean_kmeans(x, k, seed=seed, niter=min(niter, 20))
    else:
        from qdc.cluster import kmeans

        labels = kmeans(x, k, seed=seed, niter=niter).labels
    _, dense = np.unique(labels, return_inverse=True)
    return dense.astype(np.int64)
