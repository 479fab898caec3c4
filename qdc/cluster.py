"""The `cluster` stage: faiss spherical k-means on the embeddings.

Choices, made knowingly:
- Spherical (centroids re-normalised each step) because rows are unit vectors and every later step
  (SemDeDup, selection) reasons in cosine.
- All points train the centroids: faiss otherwise subsamples to 256 points per centroid, which on skewed
  synthetic data starves small clusters. `max_points_per_centroid` restores the subsampling for speed.
- Clusters are renumbered by size (largest = 0, ties by the lowest row index), so ids are stable and
  readable.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from qdc import schema
from qdc.config import StageConfig
from qdc.embed import EmbedConfig, Embedder, ensure_embeddings
from qdc.errors import ConfigError
from qdc.progress import notice, progress


class ClusterConfig(StageConfig):
    """Options of the `cluster` stage."""

    k: int | None = None
    """Number of clusters; default `default_k(n)`."""
    niter: int = 25
    """k-means iterations."""
    seed: int = 0
    max_points_per_centroid: int | None = None
    """None trains on every point; a number restores faiss's subsampling (faster on huge inputs)."""


def default_k(n: int) -> int:
    """round(sqrt(n / 2)), at least 2 and at most 1024 (and never more than n)."""
    return max(1, min(n, max(2, min(1024, round(math.sqrt(n / 2))))))


@dataclass(frozen=True)
class KMeansResult:
    """Cluster labels, cosine distance to the own centroid, and the unit centroids (k, d)."""

    labels: np.ndarray
    distances: np.ndarray
    centroids: np.ndarray


def kmeans_plus_plus(x: np.ndarray, k: int, seed: int, max_sample: int = 50_000) -> np.ndarray:
    """k-means++ seeding (D² sampling) on a seeded sample of at most `max_sample` rows.

    faiss seeds with k random points, which on well-separated data often puts two seeds in one group and
    none in another (11 of 20 seeds split 4 clean blobs wrongly in our tests); D² sampling avoids that.
    """
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    sample = x if n <= max_sample else x[np.sort(rng.choice(n, size=max_sample, replace=False))]
    m = sample.shape[0]
    chosen = [int(rng.integers(m))]
    # Squared Euclidean distance between unit rows is 2 - 2 cos.
    d2 = np.maximum(2.0 - 2.0 * (sample @ sample[chosen[0]]), 0.0).astype(np.float64)
    for _ in range(1, k):
        total = float(d2.sum())
        nxt = int(rng.integers(m)) if total <= 0 else int(rng.choice(m, p=d2 / total))
        chosen.append(nxt)
        d2 = np.minimum(d2, np.maximum(2.0 - 2.0 * (sample @ sample[nxt]), 0.0))
    return np.ascontiguousarray(sample[chosen], dtype=np.float32)


def budget_k(budget: int, n: int) -> int:
    """clamp(floor(B/10), 2, min(1024, n)): about ten picks per cluster (algorithms.md §1.3). The k of bandit and
    `select --stream`; in-memory kmq and iterative default to about three picks per cluster (docs/select.md)."""
    return max(1, min(n, max(2, min(1024, budget // 10))))


BLOCK_ROWS = 65_536


SMALL_WORK = 1 << 24
"""Below this many multiply-adds per pass (rows x centroids x dims), faiss runs on one OpenMP thread: on a
small input the threads' start-up and spin-waiting between faiss's many short parallel regions cost more CPU
than the work (`qdc cluster` on 50 rows: median 0.74 -> 0.65 s CPU). Results do not depend on the thread count."""


@contextlib.contextmanager
def _threads_for(work: int) -> Iterator[None]:
    """One faiss (OpenMP) thread while a small job runs; the previous setting afterwards."""
    import faiss

    if work >= SMALL_WORK:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def train_centroids(
    x: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    niter: int = 25,
    sample_per_centroid: int | None = None,
    rows: np.ndarray | None = None,
    max_points_per_centroid: int | None = None,
) -> np.ndarray:
    """Unit (k', d) float32 centroids of spherical k-means (faiss), always seeded with k-means++.

    `x` may be an in-memory array or a memory map (rows are gathered in steps that release their pages).
    `rows` (sorted indices) restricts training to those rows. With `sample_per_centroid`, training uses a
    seeded sample of min(n, k * sample_per_centroid) rows (sorted, so a memory map is read in order);
    otherwise every row trains (`max_points_per_centroid` restores faiss's own subsampling).
    k' = min(k, training rows); k' = 1 is the normalised mean.
    """
    from qdc.scale.store import gather

    n = x.shape[0] if rows is None else rows.shape[0]
    if n == 0:
        raise ConfigError("cannot cluster an empty dataset")
    if k < 1:
        raise ConfigError(f"--k must be at least 1 (got {k})")
    if sample_per_centroid is not None:
        rng = np.random.default_rng(seed)
        m = min(n, max(k, 1) * sample_per_centroid)
        sample = np.sort(rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
        if rows is not None:
            sample = rows[sample]
        xs = gather(x, sample, np.float32)
        points = math.ceil(m / min(k, m)) + 1
    else:
        xs = np.ascontiguousarray(x if rows is None else gather(x, rows, np.float32), dtype=np.float32)
        points = max_points_per_centroid or max(n, 256)
    k = min(k, xs.shape[0])
    if k == 1:
        centroid = xs.mean(axis=0, keepdims=True)
        out: np.ndarray = (centroid / max(float(np.linalg.norm(centroid)), 1e-12)).astype(np.float32)
        return out
    import faiss

    km = faiss.Kmeans(
        xs.shape[1],
        k,
        niter=niter,
        seed=seed % 2**31,  # faiss takes a signed 32-bit seed; qdc seeds go to 2**32 - 1
        spherical=True,
        verbose=False,
        max_points_per_centroid=points,
        min_points_per_centroid=1,
    )
    with _threads_for(min(xs.shape[0], k * points) * k * xs.shape[1]):
        km.train(xs, init_centroids=kmeans_plus_plus(xs, k, seed))
    return np.ascontiguousarray(km.centroids, dtype=np.float32)


def assign(
    x: np.ndarray,
    centroids: np.ndarray,
    *,
    block_rows: int = BLOCK_ROWS,
    lo: int = 0,
    hi: int | None = None,
    task: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(nearest centroid id as int64, cosine distance to it as float32) of rows [lo, hi) (default: all).

    Searched `block_rows` at a time (a memory map releases each block's pages), so peak memory stays near
    one block; ties go to the lower centroid id (faiss's flat search). `task` names the progress line.
    """
    import faiss

    from qdc.scale.store import blocks

    hi = x.shape[0] if hi is None else min(hi, x.shape[0])
    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    labels = np.empty(max(hi - lo, 0), dtype=np.int64)
    dist = np.empty(max(hi - lo, 0), dtype=np.float32)
    with _threads_for((hi - lo) * centroids.shape[0] * centroids.shape[1]):
        for start, block in blocks(x, block_rows, lo, hi):
            d, a = index.search(block, 1)
            labels[start - lo : start - lo + block.shape[0]] = a[:, 0]
            dist[start - lo : start - lo + block.shape[0]] = np.clip(1.0 - d[:, 0], 0.0, 2.0)
            if task is not None:
                progress(task, start - lo + block.shape[0], hi - lo)
    return labels, dist


def kmeans(
    x: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    niter: int = 25,
    max_points_per_centroid: int | None = None,
    sample_per_centroid: int | None = None,
) -> KMeansResult:
    """Spherical k-means on unit rows (`train_centroids` + `assign`); labels renumbered by cluster size
    (largest first)."""
    n = x.shape[0]
    if n == 0:
        raise ConfigError("cannot cluster an empty dataset")
    if k < 1:
        raise ConfigError(f"--k must be at least 1 (got {k})")
    k = min(k, n)
    x = np.ascontiguousarray(x, dtype=np.float32)
    centroid = train_centroids(
        x,
        k,
        seed=seed,
        niter=niter,
        sample_per_centroid=sample_per_centroid,
        max_points_per_centroid=max_points_per_centroid,
    )
    if centroid.shape[0] == 1:
        labels = np.zeros(n, dtype=np.int64)
    else:
        labels, _ = assign(x, centroid, block_rows=max(n, 1) if sample_per_centroid is None else BLOCK_ROWS)
    # Renumber: largest cluster first, ties by first row index; drop empty clusters.
    sizes = np.bincount(labels, minlength=centroid.shape[0])
    first = np.full(centroid.shape[0], n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n))
    used = np.flatnonzero(sizes)
    order = used[np.lexsort((first[used], -sizes[used]))]
    remap = np.full(centroid.shape[0], -1, dtype=np.int64)
    remap[order] = np.arange(order.shape[0])
    labels = remap[labels]
    centroids = centroid[order]
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    centroids = centroids / np.maximum(norms, 1e-12)
    distances = 1.0 - np.einsum("ij,ij->i", x, centroids[labels])
    return KMeansResult(labels, np.clip(distances, 0.0, 2.0).astype(np.float32), centroids.astype(np.float32))


def cluster(
    df: pl.DataFrame,
    cfg: ClusterConfig | None = None,
    embed_cfg: EmbedConfig | None = None,
    embedder: Embedder | None = None,
) -> pl.DataFrame:
    """Add qdc_cluster and qdc_cluster_distance (embedding first when qdc_embedding is missing)."""
    cfg = cfg or ClusterConfig()
    df, x = ensure_embeddings(df, embed_cfg, embedder)
    k = cfg.k if cfg.k is not None else default_k(df.height)
    if k > df.height > 0:  # said, as select says it: kmeans clamps k to the rows
        notice(f"--k {k} is more than the {df.height} rows: {df.height} clusters, one row each")
    res = kmeans(x, k, seed=cfg.seed, niter=cfg.niter, max_points_per_centroid=cfg.max_points_per_centroid)
    return df.with_columns(
        pl.Series(schema.CLUSTER, res.labels, dtype=pl.Int64),
        pl.Series(schema.CLUSTER_DISTANCE, res.distances, dtype=pl.Float32),
    )


def cluster_summary(df: pl.DataFrame, examples: int = 2, width: int = 80) -> list[dict[str, object]]:
    """Per cluster: id, size, mean distance to centroid, and the texts of the rows nearest the centroid."""
    schema.require_columns(df, schema.CLUSTER)
    cols = [schema.CLUSTER] + ([schema.CLUSTER_DISTANCE] if schema.CLUSTER_DISTANCE in df.columns else [])
    text = df[schema.TEXT] if schema.TEXT in df.columns else pl.Series([""] * df.height)
    frame = df.select(cols).with_columns(text.alias("_t"), pl.int_range(df.height).alias("_i"))
    out: list[dict[str, object]] = []
    sort_by = [schema.CLUSTER_DISTANCE, "_i"] if schema.CLUSTER_DISTANCE in df.columns else ["_i"]
    for (cid,), group in frame.sort(sort_by).group_by([schema.CLUSTER], maintain_order=False):
        texts = [" ".join(t.split())[:width] for t in group["_t"].head(examples).to_list()]
        item: dict[str, object] = {"cluster": int(cid), "size": group.height, "examples": texts}
        if schema.CLUSTER_DISTANCE in group.columns:
            item["mean_distance"] = round(float(group[schema.CLUSTER_DISTANCE].mean() or 0.0), 4)  # type: ignore[arg-type]
        out.append(item)
    out.sort(key=lambda r: (-int(r["size"]), int(r["cluster"])))  # type: ignore[call-overload]
    return out
