"""Cluster labels for selection: reuse `qdc_cluster`, else k-means on the pool's embeddings.

Up to `LEAN_ABOVE` rows this is `qdc.cluster.kmeans` (every point trains the centroids). Above it, a
memory-lean path: faiss spherical k-means trained on a seeded sample of `points_per_centroid`·K rows,
then assignment in chunks, so peak memory stays near the embedding matrix itself (no n×d temporaries).
"""

from __future__ import annotations

import math

import numpy as np

LEAN_ABOVE = 200_000


def default_k(budget: int, n: int) -> int:
    """clamp(floor(B/10), 2, min(1024, n)): about ten picks per cluster (algorithms.md §1.3)."""
    return max(1, min(n, max(2, min(1024, budget // 10))))


def lean_kmeans(
    x: np.ndarray, k: int, *, seed: int = 0, niter: int = 20, points_per_centroid: int = 64, chunk: int = 65_536
) -> np.ndarray:
    """Labels (n,) from spherical k-means trained on a sample; assignment streamed in chunks."""
    import faiss

    n, d = x.shape
    k = min(k, n)
    if k <= 1:
        return np.zeros(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    m = min(n, max(k * points_per_centroid, k * 4))
    sample = np.sort(rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
    xs = np.ascontiguousarray(x[sample], dtype=np.float32)
    km = faiss.Kmeans(
        d,
        k,
        niter=niter,
        seed=seed,
        spherical=True,
        verbose=False,
        max_points_per_centroid=math.ceil(m / k) + 1,
        min_points_per_centroid=1,
    )
    km.train(xs)
    del xs
    index = faiss.IndexFlatIP(d)
    index.add(np.ascontiguousarray(km.centroids, dtype=np.float32))
    labels = np.empty(n, dtype=np.int64)
    for s in range(0, n, chunk):
        block = np.ascontiguousarray(x[s : s + chunk], dtype=np.float32)
        _, a = index.search(block, 1)
        labels[s : s + chunk] = a[:, 0]
    return labels


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
