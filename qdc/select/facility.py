"""`facility`: facility location on a sparse k-nearest-neighbour graph (Krause & Golovin; apricot's objective).

Maximise ``f(S) = sum_i max_{j in S} s(i, j) + λ·sum_{j in S} q_j`` where s is the cosine similarity clipped
at 0 and known only on the graph (each row's `neighbours` nearest rows, plus itself at 1), and q is the
score's percentile rank (0..1, so λ means the same for any score scale; λ = 0 is pure coverage).
f is monotone submodular, so greedy is within 1 - 1/e of the best.

The graph comes from `qdc.select.knn.knn_graph`: exact inner-product search (faiss) up to 20,000 rows,
exact search inside k-means cells above; only the (n, k) neighbour ids and similarities are kept, O(n·k)
memory. Each candidate j covers the rows that have j as a neighbour (the
reverse graph, in CSR form), so a gain is ``sum over those rows of max(0, s(i, j) - cover_i)``.

Greedy: lazy (a max-heap of stale upper bounds, re-evaluated on pop; the same picks as plain greedy; ties
go to the lower position) or, with ``epsilon > 0``, stochastic greedy (each step evaluates a seeded
sample of (n/B)·ln(1/ε) candidates). Once every row is covered (all gains 0) the remaining picks take the
rows with the highest quality term, then the lowest position.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np

from qdc.select.config import SelectConfig
from qdc.select.held import held_reasons
from qdc.select.kmq import percentile_rank
from qdc.select.knn import knn_graph
from qdc.select.pool import Picks, Pool
from qdc.select.robust import gate


def default_neighbours(n: int, budget: int) -> int:
    """clamp(ceil(3n/B), 20, 200): enough neighbours that the picks together can reach every row."""
    return int(min(200, max(20, math.ceil(3 * n / max(budget, 1)))))


def local_scaled(ids: np.ndarray, sims: np.ndarray, m: int) -> np.ndarray:
    """Self-tuning kernel on the graph (Zelnik-Manor & Perona 2004): exp(-d²/(σ_i·σ_j)), d² = 2 - 2·cos the
    squared chord distance, σ_i row i's chord distance to its m-th nearest neighbour (floored at 1e-3 so
    exact copies do not divide by zero). Missing neighbours (id -1) stay 0."""
    k = ids.shape[1]
    if k == 0:
        return sims
    d2 = np.maximum(2.0 - 2.0 * sims.astype(np.float64), 0.0)
    sigma = np.sqrt(d2[:, min(m, k) - 1]).clip(min=1e-3)
    other = sigma[np.maximum(ids, 0)]
    out = np.exp(-d2 / (sigma[:, None] * other))
    return np.where(ids >= 0, out, 0.0).astype(np.float32)


def reverse_graph(ids: np.ndarray, sims: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of who each row covers: ptr (n+1,), rows, sims; every row covers itself at similarity 1."""
    n, k = ids.shape
    src = np.repeat(np.arange(n, dtype=np.int64), k)
    dst = ids.reshape(-1)
    val = np.maximum(sims.reshape(-1), 0.0).astype(np.float32)
    ok = (dst >= 0) & (val > 0)
    src, dst, val = src[ok], dst[ok], val[ok]
    src = np.concatenate([np.arange(n, dtype=np.int64), src])
    dst = np.concatenate([np.arange(n, dtype=np.int64), dst])
    val = np.concatenate([np.ones(n, dtype=np.float32), val])
    order = np.argsort(dst, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=n), out=ptr[1:])
    return ptr, src[order], val[order]


class Coverage:
    """The facility-location state: each row's best similarity to the picks so far."""

    def __init__(self, ptr: np.ndarray, rows: np.ndarray, sims: np.ndarray, bonus: np.ndarray) -> None:
        self.ptr, self.rows, self.sims, self.bonus = ptr, rows, sims, bonus
        self.cover = np.zeros(ptr.shape[0] - 1, dtype=np.float32)

    def gain(self, j: int) -> float:
        a, b = self.ptr[j], self.ptr[j + 1]
        r = self.rows[a:b]
        return float(np.maximum(self.sims[a:b] - self.cover[r], 0.0).sum()) + float(self.bonus[j])

    def gains(self, cand: np.ndarray) -> np.ndarray:
        """Gains of several candidates at once (stochastic greedy)."""
        starts, ends = self.ptr[cand], self.ptr[cand + 1]
        lens = ends - starts
        flat = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(lens.sum())
        g = np.maximum(self.sims[flat] - self.cover[self.rows[flat]], 0.0)
        seg = np.repeat(np.arange(cand.shape[0]), lens)
        return np.asarray(np.bincount(seg, weights=g, minlength=cand.shape[0]) + self.bonus[cand])

    def first_gains(self) -> np.ndarray:
        """Each row's coverage gain before any pick (float64): the sum of its CSR segment. Every row covers
        itself, so no segment is empty and reduceat is exact."""
        if self.ptr.shape[0] <= 1:
            return np.zeros(0, dtype=np.float64)
        return np.asarray(np.add.reduceat(self.sims.astype(np.float64), self.ptr[:-1]), dtype=np.float64)

    def take(self, j: int) -> None:
        a, b = self.ptr[j], self.ptr[j + 1]
        r = self.rows[a:b]
        np.maximum.at(self.cover, r, self.sims[a:b])

    def value(self) -> float:
        return float(self.cover.sum())


def lazy_greedy(cov: Coverage, budget: int) -> list[int]:
    """Plain greedy's picks via stale upper bounds (valid because gains only shrink)."""
    first = cov.first_gains() + cov.bonus
    heap = [(-float(g), j) for j, g in enumerate(first.tolist())]
    heapq.heapify(heap)
    picked: list[int] = []
    while heap and len(picked) < budget:
        _, j = heapq.heappop(heap)
        g = cov.gain(j)
        if not heap or g >= -heap[0][0] - 1e-9 * max(1.0, g):
            picked.append(j)
            cov.take(j)
        else:
            heapq.heappush(heap, (-g, j))
    return picked


def stochastic_greedy(cov: Coverage, budget: int, epsilon: float, rng: np.random.Generator) -> list[int]:
    """Mirzasoleiman et al. 2015: each step, the best of a seeded sample of (n/B)·ln(1/ε) candidates."""
    n = cov.ptr.shape[0] - 1
    size = max(1, min(n, math.ceil(n / max(budget, 1) * math.log(1.0 / epsilon))))
    free = np.ones(n, dtype=bool)
    picked: list[int] = []
    for _ in range(min(budget, n)):
        pool = np.flatnonzero(free)
        cand = np.sort(rng.choice(pool, size=min(size, pool.size), replace=False))
        g = cov.gains(cand)
        j = int(cand[int(np.argmax(g))])
        picked.append(j)
        free[j] = False
        cov.take(j)
    return picked


def facility_arrays(
    x: np.ndarray,
    budget: int,
    *,
    neighbours: int | None = None,
    quality: np.ndarray | None = None,
    quality_weight: float = 0.0,
    epsilon: float = 0.0,
    seed: int = 0,
    graph: tuple[np.ndarray, np.ndarray] | None = None,
    exclude: np.ndarray | None = None,
    tail_share: float = 0.0,
    local_scale: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Positions in pick order and a log (objective value, coverage share, graph size)."""
    n = x.shape[0]
    budget = min(budget, n)
    if budget <= 0:
        return np.zeros(0, dtype=np.int64), {"objective": 0.0}
    if graph is None:
        graph = knn_graph(x, neighbours if neighbours is not None else default_neighbours(n, budget), seed)
    ids, sims = graph
    if local_scale > 0:
        sims = local_scaled(ids, sims, local_scale)
    ptr, rows, vals = reverse_graph(ids, sims)
    bonus = np.zeros(n, dtype=np.float64)
    if quality is not None and quality_weight > 0:
        bonus = quality_weight * percentile_rank(quality)
    if exclude is not None and exclude.any():
        # Excluded rows (junk) are neither picked before every other row nor counted as rows to cover.
        vals = np.where(exclude[rows], np.float32(0.0), vals)
        bonus = np.where(exclude, -1e6, bonus)
    cov = Coverage(ptr, rows, vals, bonus)
    rng = np.random.default_rng(seed)
    tail = min(budget, round(tail_share * budget))
    head = budget - tail
    picked = lazy_greedy(cov, head) if epsilon <= 0 else stochastic_greedy(cov, head, epsilon, rng)
    if tail:
        picked += least_covered(cov, tail, picked, exclude)
    if len(picked) < budget:  # the heap ran dry (cannot happen) — keep the contract anyway
        rest = np.setdiff1d(np.arange(n), np.asarray(picked, dtype=np.int64))
        picked.extend(rest[: budget - len(picked)].tolist())
    out = np.asarray(picked, dtype=np.int64)
    log = {
        "neighbours": int(ids.shape[1]),
        "objective": round(cov.value() + float(bonus[out].sum()), 6),
        "coverage": round(cov.value() / n, 6),
        "greedy": "lazy" if epsilon <= 0 else f"stochastic (epsilon {epsilon:g})",
    }
    return out, log


def least_covered(cov: Coverage, m: int, picked: list[int], exclude: np.ndarray | None) -> list[int]:
    """m more picks, each the row least covered by the picks so far (k-center's rule on the graph's
    coverage); ties go to the row with the larger first coverage gain, then the lower position.

    Coverage only grows, so a min-heap of stale values is exact (re-checked on pop, as in lazy greedy).
    """
    n = cov.cover.shape[0]
    first = cov.first_gains()
    skip = np.zeros(n, dtype=bool)
    skip[picked] = True
    if exclude is not None:
        skip |= exclude
    heap = [(float(cov.cover[j]), -float(first[j]), j) for j in np.flatnonzero(~skip).tolist()]
    heapq.heapify(heap)
    out: list[int] = []
    while heap and len(out) < m:
        c, g, j = heapq.heappop(heap)
        now = float(cov.cover[j])
        if now > c:
            heapq.heappush(heap, (now, g, j))
            continue
        out.append(j)
        cov.take(j)
    return out


def facility(pool: Pool, budget: int, cfg: SelectConfig, rng: np.random.Generator) -> Picks:
    """Facility location over the pool's embeddings (the kNN graph is built once per pool)."""
    if pool.n == 0 or budget == 0:
        return Picks.empty()
    fc = cfg.facility
    k = fc.neighbours if fc.neighbours is not None else default_neighbours(pool.n, budget)
    key = f"facility_graph_{k}"
    if key not in pool.info:
        pool.info[key] = knn_graph(pool.embeddings(), k, cfg.seed)
    exclude = gate(pool, budget) if cfg.junk_gate else None
    picked, log = facility_arrays(
        pool.embeddings(),
        budget,
        neighbours=k,
        quality=pool.score,
        quality_weight=fc.quality_weight,
        epsilon=fc.epsilon,
        seed=int(rng.integers(2**31)),
        graph=pool.info[key],
        exclude=exclude,
        tail_share=fc.tail_share,
        local_scale=fc.local_scale,
    )
    head = picked.shape[0] - round(fc.tail_share * picked.shape[0])
    reasons = [
        f"facility step={i + 1}" if i < head else f"facility least-covered step={i + 1}" for i in range(picked.shape[0])
    ]
    held = held_reasons(pool, exclude, exclude)
    return Picks(picked, np.zeros(picked.shape[0], dtype=np.int64), reasons, log, held)
