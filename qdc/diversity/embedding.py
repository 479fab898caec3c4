"""Embedding-space diversity: mean pairwise cosine distance (closed form) and cluster spread."""

from __future__ import annotations

import numpy as np


def mean_pairwise_cosine_distance(x: np.ndarray) -> float:
    """1 - mean cosine over pairs i != j, exact in O(n d): (|s|^2 - n) / (n (n - 1)), s = sum of unit rows.

    Zero rows stay zero (cosine 0 with everything) and are left out of the diagonal term.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 2:
        return 0.0
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    u = x / np.where(norms > 0, norms, 1.0)
    s = u.sum(axis=0)
    self_sim = float(np.sum(u * u))  # n for unit rows
    mean_cos = (float(s @ s) - self_sim) / (n * (n - 1))
    return float(1.0 - mean_cos)


def mpcd_from_sum(total: np.ndarray, self_sim: float, n: int) -> float:
    """1 - (|s|^2 - sum_i |u_i|^2) / (n (n - 1)) from s, the sum of the unit rows, and the sum of their
    squared norms (n, less the zero rows)."""
    if n < 2:
        return 0.0
    return float(1.0 - (float(total @ total) - self_sim) / (n * (n - 1)))


def cluster_spread(labels: np.ndarray, k: int | None = None) -> dict[str, float]:
    """Entropy (nats), entropy / ln K, effective clusters exp(H) and coverage |{c: m_c > 0}| / K.

    K is the number of clusters of the pool the labels came from: `k` when given, else max label + 1
    (cluster ids from `qdc cluster` run 0 .. K-1 over the full pool).
    """
    labels = np.asarray(labels)
    labels = labels[labels >= 0]
    if labels.size == 0:
        return {
            "clusters": 0,
            "cluster_entropy": 0.0,
            "cluster_entropy_norm": 0.0,
            "effective_clusters": 0.0,
            "cluster_coverage": 0.0,
        }
    kk = int(k if k is not None else labels.max() + 1)
    counts = np.bincount(labels.astype(np.int64), minlength=kk)
    p = counts[counts > 0] / labels.size
    h = float(-(p * np.log(p)).sum())
    return {
        "clusters": kk,
        "cluster_entropy": h,
        "cluster_entropy_norm": h / np.log(kk) if kk > 1 else 0.0,
        "effective_clusters": float(np.exp(h)),
        "cluster_coverage": float((counts > 0).sum() / kk),
    }
