"""Duplicate groups: connected components of matched pairs, and the keep policy that picks each group's survivor.

Keep policies (ties always break by input order, the earlier row wins):

- ``first``: the earliest row in the input;
- ``longest``: the row with the most characters in the compared text;
- ``best:COLUMN``: the row with the highest value of a numeric COLUMN (missing / NaN values rank last).

Rows of ``--against`` reference sets rank before every input row, so a group that touches a reference
row always keeps the reference row (and reference rows are never written anyway).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from qdc.errors import ConfigError, DataError, MissingColumnError


def components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component label of each of n items given edges (i, j): chains become one group.

    The one union-find of qdc, used in memory and by the streaming dedup: rounds of hooking every root to
    the smallest root it has an edge to, each followed by full path compression, all in numpy (no scipy
    import, which cost more start-up than the work). Every round at least halves the trees of each
    component that are still apart, so there are O(log n) rounds. A label is the smallest item of its
    component.
    """
    parent = np.arange(n, dtype=np.int64)
    if n == 0 or i.shape[0] == 0:
        return parent
    a = np.asarray(i, dtype=np.int64)
    b = np.asarray(j, dtype=np.int64)
    while True:
        ra, rb = parent[a], parent[b]
        apart = ra != rb
        if not apart.any():
            return parent
        a, b, ra, rb = a[apart], b[apart], ra[apart], rb[apart]  # edges inside one tree stay joined
        lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
        np.minimum.at(parent, hi, lo)  # roots only point to smaller roots: no cycles
        while True:  # compress: every item points at its root
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up


def parse_keep(keep: str) -> tuple[str, str | None]:
    """'first' | 'longest' | 'best:COLUMN' -> (policy, column)."""
    if keep in ("first", "longest"):
        return keep, None
    if keep.startswith("best:") and keep[5:].strip():
        return "best", keep[5:].strip()
    raise ConfigError(f"keep policy {keep!r}: expected first, longest or best:COLUMN (e.g. best:qdc_quality)")


def best_values(df: pl.DataFrame, column: str) -> np.ndarray:
    """The numbers of a `best:COLUMN` keep policy as float64 (missing values NaN).

    Raises MissingColumnError when the column is absent and DataError when it does not hold numbers.
    """
    if column not in df.columns:
        raise MissingColumnError(f"keep policy best:{column}: the input has no column '{column}'")
    col = df[column]
    if not col.dtype.is_numeric() and col.dtype not in (pl.Boolean, pl.Null):
        raise DataError(f"keep policy best:{column}: column '{column}' is {col.dtype}, expected numbers")
    values: np.ndarray = col.cast(pl.Float64).to_numpy().astype(np.float64)
    return values


def priority(df: pl.DataFrame, texts: pl.Series, keep: str, n_ref: int = 0) -> np.ndarray:
    """Rank of every row (0 = kept first); `n_ref` reference rows come first in `df` and rank first.

    `df` and `texts` hold the reference rows followed by the input rows. The order is `batch_priority`'s
    (one keep rule for the in-memory and the streaming dedup), ties by input position.
    """
    n = texts.len()
    index = np.arange(n)
    is_input = (index >= n_ref).astype(np.int64)
    key = batch_priority(df, texts, keep)
    order = np.lexsort((index, is_input) if key is None else (index, key, is_input))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank


def group_keepers(labels: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """For each item, the item of its group with the lowest rank (itself when it is the survivor)."""
    n = labels.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # Sort by (label, rank): the first item of each label run is that group's keeper.
    order = np.lexsort((rank, labels))
    sl = labels[order]
    first = np.ones(n, dtype=bool)
    first[1:] = sl[1:] != sl[:-1]
    run = np.cumsum(first) - 1
    keeper_sorted = order[first][run]
    keeper = np.empty(n, dtype=np.int64)
    keeper[order] = keeper_sorted
    return keeper


def batch_priority(batch: pl.DataFrame, texts: pl.Series, keep: str) -> np.ndarray | None:
    """Keep priority of each row, lower kept first (ties: the earlier row); None for keep=first. Per row, so
    batches concatenate (streaming) and `priority` ranks the whole input by it. Missing or NaN values of a
    best:COLUMN rank after every number."""
    policy, column = parse_keep(keep)
    if policy == "first":
        return None
    if policy == "longest":
        return -texts.fill_null("").str.len_chars().to_numpy().astype(np.float64)
    assert column is not None
    values = best_values(batch, column)
    return np.where(np.isfinite(values), -values, np.inf)
