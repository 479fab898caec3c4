"""`random`: a seeded uniform sample of the eligible rows (the baseline every strategy must beat)."""

from __future__ import annotations

import numpy as np

from qdc.select.config import SelectConfig
from qdc.select.pool import Picks, Pool


def uniform(pool: Pool, budget: int, cfg: SelectConfig, rng: np.random.Generator) -> Picks:
    """The first `budget` rows of a seeded permutation."""
    order = rng.permutation(pool.n)[:budget].astype(np.int64)
    return Picks(order, np.zeros(order.shape[0], dtype=np.int64), ["random"] * order.shape[0])
