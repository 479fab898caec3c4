"""`kcenter`: greedy k-center (farthest-first traversal) on the embeddings — pure coverage, no score.

Starts from a seeded random row, then repeatedly takes the row farthest (cosine distance) from
everything taken so far; ties go to the lowest position. O(n·B·d) time, O(n) extra memory.
"""

from __future__ import annotations

import numpy as np

from qdc.select.config import SelectConfig
from qdc.select.pool import Picks, Pool


def kcenter_arrays(x: np.ndarray, budget: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions in pick order and the cover radius (distance to the nearest earlier pick) of each."""
    n = x.shape[0]
    budget = min(budget, n)
    picked = np.zeros(budget, dtype=np.int64)
    radius = np.zeros(budget, dtype=np.float64)
    if budget == 0:
        return picked, radius
    mind = np.full(n, np.inf)
    cur = start
    for i in range(budget):
        picked[i] = cur
        radius[i] = mind[cur] if np.isfinite(mind[cur]) else 2.0
        mind = np.minimum(mind, 1.0 - (x @ x[cur]).astype(np.float64))
        mind[picked[: i + 1]] = -np.inf
        cur = int(np.argmax(mind))
    return picked, radius


def kcenter(pool: Pool, budget: int, cfg: SelectConfig, rng: np.random.Generator) -> Picks:
    """Farthest-first traversal from a seeded random start."""
    if pool.n == 0 or budget == 0:
        return Picks.empty()
    picked, radius = kcenter_arrays(pool.embeddings(), budget, int(rng.integers(pool.n)))
    reasons = [f"kcenter step={i + 1} distance={r:.4g}" for i, r in enumerate(radius)]
    return Picks(picked, np.zeros(picked.shape[0], dtype=np.int64), reasons)
