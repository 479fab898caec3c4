"""The k-nearest-neighbour graph facility location runs on: exact up to `EXACT_UP_TO` rows, k-means cells above.

Above `EXACT_UP_TO` rows the graph is built inside k-means cells (ours; the same idea as an IVF index, but
each cell is one dense matrix product instead of a per-query scan of inverted lists, which is what made
faiss's IVF take 91% of facility's time at 1M rows). Rows are split into about n/`CELL_ROWS` cells by
spherical k-means trained on a seeded sample; every row is a candidate in its `probes` nearest cells and
looks for its neighbours among the candidates of its own (nearest) cell. A query's neighbours therefore
come from the rows that have its cell among their `probes` nearest: near a cell's border they are found
from both sides, far from it nothing is lost. Each cell's queries are searched exactly (faiss flat inner
product, blocked), so the cost is about n·probes·CELL_ROWS·d multiply-adds instead of n²·d.

Both paths return, for every row, its k' = min(k, n-1) nearest other rows by inner product, nearest first;
missing neighbours (a cell with fewer than k+1 candidates) are id -1 with similarity 0. Deterministic for
a given seed (ties by faiss's order: lower candidate position first).
"""

from __future__ import annotations

from typing import Any

import numpy as np

EXACT_UP_TO = 20_000
CELL_ROWS = 1_000
PROBES = 2
_BLOCK = 4_096


def knn_graph(x: np.ndarray, k: int, seed: int = 0, *, probes: int = PROBES) -> tuple[np.ndarray, np.ndarray]:
    """(ids, sims), each (n, k'): every row's k' = min(k, n-1) nearest other rows by inner product.

    Exact up to EXACT_UP_TO rows; k-means cells above (`cell_knn`, `probes` cells per candidate).
    """
    n = x.shape[0]
    k = min(k, n - 1)
    if k <= 0:
        return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=np.float32)
    xf = np.ascontiguousarray(x, dtype=np.float32)
    if n <= EXACT_UP_TO:
        ids, sims = _search(xf, xf, np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64), k)
    else:
        ids, sims = cell_knn(xf, k, seed, probes=probes)
    sims[ids < 0] = 0.0
    return ids, sims


def cell_knn(x: np.ndarray, k: int, seed: int = 0, *, probes: int = PROBES) -> tuple[np.ndarray, np.ndarray]:
    """Approximate kNN inside k-means cells (see the module doc); x is (n, d) float32 C-contiguous."""
    import faiss

    from qdc.cluster import train_centroids

    n = x.shape[0]
    cells = max(2, round(n / CELL_ROWS))
    centroids = train_centroids(x, cells, seed=seed, niter=10, sample_per_centroid=20)
    cells = centroids.shape[0]
    probes = max(1, min(probes, cells))
    index: Any = faiss.IndexFlatIP(centroids.shape[1])
    index.add(centroids)
    near = np.empty((n, probes), dtype=np.int64)
    for lo in range(0, n, 65_536):
        hi = min(n, lo + 65_536)
        near[lo:hi] = index.search(x[lo:hi], probes)[1]
    home = near[:, 0]
    # Candidates of each cell: the rows that have it among their nearest `probes` cells (CSR by cell).
    cand_cell = near.reshape(-1)
    cand_row = np.repeat(np.arange(n, dtype=np.int64), probes)
    order = np.argsort(cand_cell, kind="stable")
    cand_row = cand_row[order]
    cand_ptr = np.zeros(cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(cand_cell, minlength=cells), out=cand_ptr[1:])
    query_order = np.argsort(home, kind="stable")
    query_ptr = np.zeros(cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(home, minlength=cells), out=query_ptr[1:])
    ids = np.full((n, k), -1, dtype=np.int64)
    sims = np.zeros((n, k), dtype=np.float32)
    for c in range(cells):
        queries = query_order[query_ptr[c] : query_ptr[c + 1]]
        if queries.size == 0:
            continue
        cand = cand_row[cand_ptr[c] : cand_ptr[c + 1]]  # sorted: the stable sort kept row order
        got_ids, got_sims = _search(x[cand], x[queries], cand, queries, k)
        ids[queries], sims[queries] = got_ids, got_sims
    return ids, sims


def _search(
    base: np.ndarray, queries: np.ndarray, base_rows: np.ndarray, query_rows: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's k nearest base rows other than itself (row ids in the whole matrix), blocked."""
    import faiss

    index: Any = faiss.IndexFlatIP(base.shape[1])
    index.add(np.ascontiguousarray(base, dtype=np.float32))
    m = queries.shape[0]
    want = min(k + 1, base.shape[0])
    ids = np.full((m, k), -1, dtype=np.int64)
    sims = np.zeros((m, k), dtype=np.float32)
    for lo in range(0, m, _BLOCK):
        hi = min(m, lo + _BLOCK)
        s, i = index.search(np.ascontiguousarray(queries[lo:hi], dtype=np.float32), want)
        rows = np.where(i >= 0, base_rows[np.maximum(i, 0)], -1)
        own = rows == query_rows[lo:hi, None]
        # Drop each query's own entry (or its last one when the search did not return it).
        drop = np.where(own.any(axis=1), own.argmax(axis=1), want - 1)
        keep = np.ones_like(own)
        keep[np.arange(hi - lo), drop] = False
        width = want - 1
        ids[lo:hi, :width] = rows[keep].reshape(hi - lo, width)
        sims[lo:hi, :width] = s[keep].reshape(hi - lo, width)
    return ids, sims


def recall(x: np.ndarray, ids: np.ndarray, sample: int = 1_000, seed: int = 0) -> float:
    """Share of the true k nearest neighbours that `ids` holds, on a seeded sample of rows (for benchmarks)."""
    n, k = ids.shape
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(sample, n), replace=False))
    xf = np.ascontiguousarray(x, dtype=np.float32)
    true, _ = _search(xf, xf[rows], np.arange(n, dtype=np.int64), rows, k)
    hits = sum(np.intersect1d(true[i], ids[r]).size for i, r in enumerate(rows.tolist()))
    return float(hits / max(1, rows.size * k))
