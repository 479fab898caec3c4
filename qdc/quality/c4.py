"""C4 document rules (Raffel et al. 2020, section 2.2; datatrove's C4QualityFilter, peers.md §10).

A line survives when it ends in terminal punctuation, has 3+ words, no word over 1,000 characters and no
"javascript"; the document is dropped with fewer than 5 sentences left, "lorem ipsum", or a `{` (C4's cheap
code filter: exactly why C4 fails real code answers). Kept as a published baseline and a learned feature.
"""

from __future__ import annotations

import polars as pl

from qdc.quality._text import TERMINAL, R, lines, safe_div


def columns() -> list[pl.Expr]:
    """`c4_kept_lines` (share of lines C4 keeps), `c4_sentences` and `c4_pass`."""
    ls = lines()
    keep = (
        pl.element().str.contains(TERMINAL + r"['\"”’)]?$")
        & (pl.element().str.count_matches(r"\S+") >= 3)
        & ~pl.element().str.contains(r"\S{1001}")
        & ~pl.element().str.to_lowercase().str.contains("javascript")
    )
    kept = ls.list.eval(pl.element().filter(keep))
    sentences = kept.list.join(" ").str.count_matches(TERMINAL + r"(?:\s|$)")
    low = R.str.to_lowercase()
    fail = (sentences < 5) | low.str.contains("lorem ipsum") | R.str.contains("{", literal=True)
    return [
        safe_div(kept.list.len(), ls.list.len()).alias("c4_kept_lines"),
        sentences.cast(pl.Float64).alias("c4_sentences"),
        (~fail).cast(pl.Float64).alias("c4_pass"),
    ]
