"""`deita`: score-first selection with a cosine-similarity ceiling (DEITA "Repr Filter", Liu et al. 2024).

Rows are visited by score, descending; ties in a seeded random order (the run's generator;
input order would favour the first file given; the original's pandas sort is not stable either). A row
is taken unless its cosine similarity to some already-taken row exceeds the ceiling tau
(default 0.9, the original's threshold); the first row is always taken. Semantics are the original's
batch_size=1 (no over-rejection by rejected rows of the same batch), computed in blocks for speed: a
block is compared with everything taken before it in one matrix product, then its survivors with each
other in order. Stops at the budget; when the ceiling rejects too much it returns fewer rows (faithful;
no two rows above the ceiling are ever selected, so nothing is back-filled).
"""

from __future__ import annotations

import numpy as np

from qdc.select.config import SelectConfig
from qdc.select.pool import Picks, Pool


def deita_arrays(
    x: np.ndarray,
    score: np.ndarray,
    budget: int,
    ceiling: float,
    block: int = 512,
    tiebreak: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Positions taken in visit order, and how many rows were rejected by the ceiling.

    Ties in score are visited by `tiebreak` (ascending; default: input order)."""
    n = x.shape[0]
    order = np.lexsort((np.arange(n) if tiebreak is None else tiebreak, -score))
    taken = np.zeros((min(budget, n), x.shape[1]), dtype=np.float32)
    out: list[int] = []
    rejected = 0
    for start in range(0, n, block):
        if len(out) >= budget:
            break
        cand = order[start : start + block]
        xb = x[cand].astype(np.float32)
        ok = (xb @ taken[: len(out)].T).max(axis=1) <= ceiling if out else np.ones(cand.shape[0], dtype=bool)
        inner = xb @ xb.T
        kept_local: list[int] = []
        for j in range(cand.shape[0]):
            if len(out) >= budget:
                break
            if not ok[j] or (kept_local and inner[j, kept_local].max() > ceiling):
                rejected += 1
                continue
            kept_local.append(j)
            taken[len(out)] = xb[j]
            out.append(int(cand[j]))
    return np.asarray(out, dtype=np.int64), rejected


def deita(pool: Pool, budget: int, cfg: SelectConfig, rng: np.random.Generator) -> Picks:
    """Score-first greedy with a cosine ceiling `cfg.deita.ceiling`."""
    score = pool.require_score("deita")
    picked, rejected = deita_arrays(
        pool.embeddings(), score, budget, cfg.deita.ceiling, tiebreak=rng.permutation(pool.n)
    )
    reasons = [f"deita rank={i + 1} score={score[p]:.4g}" for i, p in enumerate(picked)]
    return Picks(
        picked,
        np.zeros(picked.shape[0], dtype=np.int64),
        reasons,
        {
            "ceiling": cfg.deita.ceiling,
            "rejected_by_ceiling": rejected,
            "shortfall": int(min(budget, pool.n) - picked.shape[0]),
        },
    )
