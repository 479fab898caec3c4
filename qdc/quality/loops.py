"""Repetition that tells generation loops from code's natural structure.

A loop repeats long spans verbatim: its zlib-compressed size falls far below ordinary text's (about 0.35
to 0.6 of the raw bytes for prose and for code alike at a few hundred bytes; a loop goes under 0.15), and
its repeated lines are long prose lines. Code repeats short structural lines (`}`, `return x;`, `end`),
which are left out: only lines of 4+ words count as duplicates here. Compression is measured from 200
characters on (shorter texts do not compress whatever they hold).
"""

from __future__ import annotations

import zlib

import numpy as np
import polars as pl

from qdc.quality._text import lines, safe_div


def columns() -> list[pl.Expr]:
    """`dup_prose_lines`: share of 4+-word lines that repeat an earlier one."""
    long = lines().list.eval(pl.element().filter(pl.element().str.count_matches(r"\S+") >= 4))
    n = long.list.len()
    return [safe_div(n - long.list.n_unique(), n).alias("dup_prose_lines")]


def compression(responses: list[str]) -> np.ndarray:
    """zlib (level 1) compressed / raw size per response; 1.0 under 200 characters."""
    out = np.ones(len(responses), dtype=np.float64)
    for i, r in enumerate(responses):
        if r is not None and len(r) >= 200:
            b = r.encode("utf-8", "replace")
            out[i] = len(zlib.compress(b, 1)) / len(b)
    return out
