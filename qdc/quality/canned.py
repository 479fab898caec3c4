"""Canned answers: the same (or nearly the same) response given to many different instructions.

Keys: the response lower-cased with runs of non-word characters collapsed, whole and its first 160
characters (a fixed opening with a varying tail). Only responses of 5+ words count, since "positive" or
"42" are legitimately shared by many classification or arithmetic rows. The measure is log(1 + number of
*other distinct instructions* answered with the same key): 0 for an ordinary row. It is a batch property:
a judge-gaming null model answers every instruction with one string, which no per-row rule can see.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def canned(df: pl.DataFrame) -> np.ndarray:
    """log1p(other distinct prompts sharing the response's key), per row of a frame with `p` and `r`."""
    key = pl.col("r").str.to_lowercase().str.replace_all(r"[\W_]+", " ").str.strip_chars()
    frame = df.select(
        pl.col("p"),
        key.alias("k"),
        key.str.slice(0, 160).alias("h"),
        (pl.col("r").str.count_matches(r"\S+") >= 5).alias("ok"),
    )
    worst = np.zeros(df.height, dtype=np.float64)
    for col in ("k", "h"):
        counts = frame.with_columns(pl.col("p").n_unique().over(col).alias("n"))["n"].to_numpy()
        worst = np.maximum(worst, counts.astype(np.float64) - 1.0)
    ok = frame["ok"].to_numpy()
    return np.where(ok, np.log1p(worst), 0.0)
