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
