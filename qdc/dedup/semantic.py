"""Semantic duplicates: SemDeDup (Abbas et al. 2023) on unit embeddings.

Faithful algorithm (reference code: clustering.py / sort_clusters.py / semdedup.py):

1. spherical k-means; each row gets its cluster and its cosine distance to the centroid;
2. within a cluster, order the members: ``hard`` = farthest from the centroid first (the paper's default,
   which keeps the least prototypical member), ``easy`` = nearest first, or ``keep`` = the --keep policy;
3. S = cosine similarities in that order; M_j = max over earlier members i < j of S_ij (M_0 = 0);
4. row j is removed when M_j > 1 - eps (strict), whether or not its earlier match was itself removed.

Step 4 is not transitive-aware: with a~b, b~c, a!~c in order a, b, c both b and c go. The documented
alternative ``greedy`` compares each row only with rows still kept, so c survives there.

Inputs with at most `global_max_rows` rows skip k-means: one global cluster (centroid = normalised mean),
searched exhaustively in blocks, so no near-pair is lost at a cluster boundary. Larger inputs use
k = round(sqrt(n)) clusters (k-means cost n*k*d grows with k while the pairwise cost n^2*d/k shrinks; sqrt(n)
balances them at a few seconds for 200k rows), trained on at most 64 points per centroid.

Reference rows (``--against``) come first in every cluster's order and are never removed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from qdc.progress import progress

Mode = Literal["faithful", "greedy"]
Order = Literal["hard", "easy", "keep"]
BLOCK_FLOATS = 1 << 24  # 64 MB of float32 similarities per block


@dataclass(frozen=True)
class SemanticParams:
    """SemDeDup settings."""

    eps: float = 0.05
    mode: Mode = "faithful"
    order: Order = "hard"
    clusters: int | None = None
    global_max_rows: int = 10_000
    seed: int = 0
    niter: int = 20
    points_per_centroid: int = 64


def default_clusters(n: int, global_max_rows: int = 10_000) -> int:
    """1 (global search) up to `global_max_rows` rows, else round(sqrt(n)), at most 50,000."""
    if n <= global_max_rows:
        return 1
    return max(1, min(50_000, round(math.sqrt(n))))


@dataclass
class ClusterResult:
    """Per member in processing order: the order itself (local indices), M, its argmax, and removal."""

    order: np.ndarray
    m: np.ndarray
    match: np.ndarray
    removed: np.ndarray


def order_members(dist: np.ndarray, rank: np.ndarray, is_ref: np.ndarray, order: Order) -> np.ndarray:
    """Processing order of one cluster's members (local indices); ties by input position."""
    idx = np.arange(dist.shape[0])
    first = (~is_ref).astype(np.int64)
    if order == "hard":
        return np.lexsort((idx, -dist, first))
    if order == "easy":
        return np.lexsort((idx, dist, first))
    return np.lexsort((idx, rank, first))


def cluster_dedup(
    x: np.ndarray,
    order: np.ndarray,
    eps: float,
    mode: Mode = "faithful",
    is_ref: np.ndarray | None = None,
    against_only: bool = False,
) -> ClusterResult:
    """SemDeDup inside one cluster. `x`: (m, d) unit rows; `order`: processing order (local indices).

    Returns M_j, the earlier member it matched (in processing positions, -1 for none) and removal flags,
    all indexed by position in `order`. With `against_only`, only reference rows count as matches.
    """
    m = order.shape[0]
    xs = np.ascontiguousarray(x[order], dtype=np.float32)
    ref = np.zeros(m, dtype=bool) if is_ref is None else is_ref[order]
    thr = 1.0 - eps
    best = np.zeros(m, dtype=np.float32)
    match = np.full(m, -1, dtype=np.int64)
    step = max(1, min(m, BLOCK_FLOATS // max(m, 1)))
    for j0 in range(0, m, step):
        j1 = min(m, j0 + step)
        if j1 <= 1:
            continue
        b = j1 - j0
        s = xs[j0:j1] @ xs[:j1].T  # row r is member j0 + r against members 0..j1-1
        sub = s[:, j0:j1]
        sub[np.triu_indices(b)] = -np.inf  # only earlier members (c < j0 + r) count
        if against_only:
            s[:, ~ref[:j1]] = -np.inf
        arg = np.argmax(s, axis=1)
        val = s[np.arange(b), arg]
        has = np.isfinite(val)
        best[j0:j1] = np.where(has, val, 0.0)
        match[j0:j1] = np.where(has, arg, -1)
    best[0] = 0.0
    match[0] = -1
    cand = (best > thr) & ~ref
    if mode == "faithful":
        return ClusterResult(order, best, match, cand)
    removed = np.zeros(m, dtype=bool)
    for j in np.flatnonzero(cand).tolist():
        # Greedy: only rows still kept (and, with against_only, only reference rows) can claim j.
        alive = ~removed[:j] if not against_only else ref[:j]
        sims = xs[:j] @ xs[j]
        sims[~alive] = -np.inf
        k = int(np.argmax(sims))
        if sims[k] > thr:
            removed[j] = True
            best[j] = sims[k]
            match[j] = k
    return ClusterResult(order, best, match, removed)


@dataclass
class SemanticMatches:
    """Over all rows: removed flags, the matched row (global index, -1 none) and its cosine."""

    removed: np.ndarray
    match: np.ndarray
    sim: np.ndarray
    clusters: int


def global_distances(x: np.ndarray) -> np.ndarray:
    """Cosine distance of every row of `x` to the normalised mean (the single global cluster's centroid)."""
    centroid = x.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    dist: np.ndarray = (1.0 - x @ centroid).astype(np.float32)
    return dist


def dedup_members(
    out: SemanticMatches,
    xm: np.ndarray,
    members: np.ndarray,
    dist: np.ndarray,
    rank: np.ndarray,
    is_ref: np.ndarray,
    params: SemanticParams,
    against_only: bool = False,
) -> None:
    """SemDeDup of one cluster: `xm` = the (m, d) rows of the global indices `members` (increasing), with their
    distances to the centroid, keep ranks and reference flags; removals are recorded in `out` (global)."""
    local = order_members(dist, rank, is_ref, params.order)
    res_c = cluster_dedup(xm, local, params.eps, params.mode, is_ref, against_only)
    glob = members[res_c.order]
    hit = res_c.removed
    out.removed[glob[hit]] = True
    out.match[glob[hit]] = glob[res_c.match[hit]]
    out.sim[glob[hit]] = res_c.m[hit]


def semantic_matches(
    x: np.ndarray, rank: np.ndarray, is_ref: np.ndarray, params: SemanticParams, against_only: bool = False
) -> SemanticMatches:
    """SemDeDup over all rows of `x` ((n, d) unit float32)."""
    n = x.shape[0]
    removed = np.zeros(n, dtype=bool)
    match = np.full(n, -1, dtype=np.int64)
    sim = np.zeros(n, dtype=np.float32)
    if n < 2:
        return SemanticMatches(removed, match, sim, min(n, 1))
    k = params.clusters if params.clusters is not None else default_clusters(n, params.global_max_rows)
    k = max(1, min(k, n))
    if k == 1:
        labels = np.zeros(n, dtype=np.int64)
        dist = global_distances(x)
    else:
        from qdc.cluster import kmeans

        res = kmeans(x, k, seed=params.seed, niter=params.niter, max_points_per_centroid=params.points_per_centroid)
        labels, dist = res.labels, res.distances
    by_label = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    out = SemanticMatches(removed, match, sim, int(sizes.shape[0]))
    done = 0
    for c in range(sizes.shape[0]):
        members = by_label[bounds[c] : bounds[c + 1]]
        if members.shape[0] >= 2:
            dedup_members(out, x[members], members, dist[members], rank[members], is_ref[members], params, against_only)
        done += members.shape[0]
        progress("semantic dedup", done, n)
    return out


def memory_bytes(n: int, dim: int, clusters: int) -> int:
    """Embeddings (4 bytes x dim per row) + per-row labels, distances and results + one similarity block
    + centroids."""
    return n * (4 * dim + 40) + 4 * min(BLOCK_FLOATS, n * n) + 4 * clusters * dim
