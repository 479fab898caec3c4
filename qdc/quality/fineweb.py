"""FineWeb quality rules (Penedo et al. 2024; datatrove's FineWebQualityFilter defaults, peers.md §10).

Dropped when under 12% of lines end in terminal punctuation, over 67% of lines are 30 characters or
shorter, over 1% of characters sit in duplicated lines, or there are more than 0.3 newlines per word.
The paper tuned these on web pages; they are a baseline here and feed the learned scorer as features.
"""

from __future__ import annotations

import polars as pl

from qdc.quality._text import TERMINAL, R, lines, n_words, safe_div


def columns() -> list[pl.Expr]:
    """`fineweb_term_lines`, `fineweb_short_lines`, `fineweb_newline_ratio` and `fineweb_pass`."""
    ls = lines()
    nl = ls.list.len()
    term = safe_div(ls.list.eval(pl.element().str.contains(TERMINAL + "$").cast(pl.Int32)).list.sum(), nl)
    short = safe_div(ls.list.eval((pl.element().str.len_chars() <= 30).cast(pl.Int32)).list.sum(), nl)
    dup_chars = safe_div(
        ls.list.eval(pl.element().filter(pl.element().is_duplicated()).str.len_chars()).list.sum(),
        R.str.len_chars(),
    )
    newline_ratio = safe_div(R.str.count_matches("\n"), n_words())
    fail = (term < 0.12) | (short > 0.67) | (dup_chars > 0.01) | (newline_ratio > 0.3)
    return [
        term.alias("fineweb_term_lines"),
        short.alias("fineweb_short_lines"),
        newline_ratio.alias("fineweb_newline_ratio"),
        (~fail).cast(pl.Float64).alias("fineweb_pass"),
    ]
