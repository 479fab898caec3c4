"""`top`: the highest-scoring rows (quality only, no diversity).

Ties break by a seeded draw (a permutation from the run's generator), not by input order: with 847 rows
at quality 1.0 and a budget of 500, input order would take all 500 from the first file given.
"""

from __future__ import annotations

import numpy as np

from qdc.select.config import SelectConfig
from qdc.select.pool import Picks, Pool


def top(pool: Pool, budget: int, cfg: SelectConfig, rng: np.random.Generator) -> Picks:
    """Sort by score, descending, ties in a seeded random order; the first `budget` rows."""
    score = pool.require_score("top")
    order = np.lexsort((rng.permutation(pool.n), -score))[:budget].astype(np.int64)
    reasons = [f"top rank={i + 1} score={score[p]:.4g}" for i, p in enumerate(order)]
    return Picks(order, np.zeros(order.shape[0], dtype=np.int64), reasons)
