"""Row blocks of a bounded cost: the one loop that splits work into batches of a few MB."""

from __future__ import annotations

import numpy as np


def cost_blocks(ends: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """(start, stop) ranges that cover rows 0..len(ends) in order, each of the rows whose cumulative cost
    (`ends[i]`: the cost of rows 0..i) stays within `budget` past the block's start, and at least one row.

    Keeping temporaries a few MB lets numpy reuse them from malloc's heap: whole-input arrays were fresh
    mappings whose first-touch page faults cost more system time than the work on the 2-core VM.
    """
    out: list[tuple[int, int]] = []
    start, n = 0, ends.shape[0]
    while start < n:
        base = int(ends[start - 1]) if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + budget, side="right")))
        out.append((start, stop))
        start = stop
    return out
