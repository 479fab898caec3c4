"""Exact duplicates: rows whose normalised text is identical (see `qdc.dedup.normalize` for the steps)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from qdc.dedup.normalize import ALL_STEPS, Step, normalise


def exact_labels(texts: pl.Series, steps: Sequence[Step] = ALL_STEPS) -> np.ndarray:
    """Group label of every row: the index of the first row with the same normalised text."""
    keys = normalise(texts, steps)
    frame = pl.DataFrame({"k": keys, "i": pl.int_range(keys.len(), eager=True, dtype=pl.Int64)})
    return frame.select(pl.col("i").min().over("k"))["i"].to_numpy().astype(np.int64)


def memory_bytes(n: int, text_bytes: int) -> int:
    """A normalised copy of the texts plus an 8-byte label and an 8-byte index per row (grouping)."""
    return text_bytes + 24 * n


def first_of_groups(keys: list[np.ndarray], prio: np.ndarray | None, n: int) -> np.ndarray:
    """For every row, the best row (lowest priority, then index) with the same key tuple (the streaming
    exact step: keys are per-row hashes of the normalised text)."""
    idx = np.arange(n, dtype=np.int64)
    sort_keys: list[np.ndarray] = [idx] + ([prio] if prio is not None else []) + keys[::-1]
    order = np.lexsort(sort_keys)
    same = np.ones(n, dtype=bool)
    same[0] = False
    for k in keys:
        ks = k[order]
        same[1:] &= ks[1:] == ks[:-1]
    run = np.cumsum(~same) - 1
    keeper = np.empty(n, dtype=np.int64)
    keeper[order] = order[~same][run]
    return keeper
