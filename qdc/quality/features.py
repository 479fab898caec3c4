"""The feature matrix of the learned quality scorer: every v2 signal, computed column-wise.

`feature_frame(prompts, responses)` returns one float column per feature (names in `FEATURES`), built
from the signal modules (gopher, c4, fineweb, completeness, loops, relevance, canned, surface, injection). Polars
evaluates the expressions in native code over whole columns; only zlib compression loops in Python.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from qdc.quality import asked, c4, canned, completeness, fineweb, gopher, injection, loops, relevance, surface
from qdc.quality._text import WORD

CHUNK = 20_000
"""Rows per progress step: every feature but `canned` is a property of its row alone, so computing the
frame in chunks gives the same numbers (`canned` is computed over the whole batch)."""


def feature_frame(
    prompts: Sequence[str], responses: Sequence[str], only: Sequence[str] | None = None, task: str | None = None
) -> pl.DataFrame:
    """One row per (prompt, response), one Float64 column per feature (`only`: just the polars-computed
    columns named there, e.g. a model's features; the Python-side ones are always computed). `task`:
    report progress under that name (`qdc.progress.progress`), one step per `CHUNK` rows."""
    from qdc.progress import progress

    base = pl.DataFrame(
        {"p": list(prompts), "r": list(responses)}, schema={"p": pl.String, "r": pl.String}
    ).with_columns(pl.col("p").fill_null(""), pl.col("r").fill_null(""))
    parts = []
    for start in range(0, max(base.height, 1), CHUNK):
        parts.append(_row_features(base.slice(start, CHUNK), only))
        if task is not None:
            progress(task, min(start + CHUNK, base.height), base.height)
    out = pl.concat(parts).with_columns(pl.Series("canned", canned.canned(base), dtype=pl.Float64))
    return out.fill_null(0.0).fill_nan(0.0)


def _row_features(base: pl.DataFrame, only: Sequence[str] | None) -> pl.DataFrame:
    """The per-row features of a frame with `p` and `r` (all but `canned`)."""
    exprs = [
        *surface.columns(),
        *completeness.columns(),
        *loops.columns(),
        *relevance.columns(),
        *gopher.columns(),
        *c4.columns(),
        *fineweb.columns(),
        *injection.columns(),
    ]
    if only is not None:
        wanted = set(only)
        exprs = [e for e in exprs if e.meta.output_name() in wanted]
    out = base.lazy().select([e.cast(pl.Float64) for e in exprs]).collect()
    out = out.with_columns(pl.Series("compression", loops.compression(base["r"].to_list()), dtype=pl.Float64))
    words = np.asarray(base.select(pl.col("r").str.count_matches(WORD))["r"].to_numpy(), dtype=np.float64)
    return out.with_columns(
        pl.Series(k, v, dtype=pl.Float64) for k, v in asked.asked(base["p"].to_list(), words).items()
    )


def matrix(frame: pl.DataFrame, names: Sequence[str]) -> np.ndarray:
    """The named columns as a float64 (n, d) array."""
    return np.column_stack([frame[n].to_numpy().astype(np.float64) for n in names]) if names else np.zeros((0, 0))
