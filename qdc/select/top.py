"""`top`: the highest-scoring rows (quality only, no diversity). Ties break by input order."""

from __future__ import annotations

import numpy as np

from qdc.select.config import SelectConfig
from qdc.select.pool import Picks, Pool


def top(pool: Pool, budget: int, cfg: SelectConfig, rng: np.random.Generator) -> Picks:
    """Stable sort by score, descending; the first `budget` rows."""
    score = pool.require_score("top")
    order = np.lexsort((np.arange(pool.n), -score))[:budget].astype(np.int64)
    reasons = [f"top rank={i + 1} score={score[p]:.4g}" for i, p in enumerate(order)]
    return Picks(order, np.zeros(order.shape[0], dtype=np.int64), reasons)
