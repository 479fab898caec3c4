"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models", appendix A; the same
thresholds as datatrove's GopherQualityFilter / GopherRepetitionFilter, see shared/reference/peers.md §10).

Web-page rules: kept here as published (a baseline and features for the learned scorer), not as gates.
The 50-word minimum fails most honest instruction answers, which is why `gopher_pass` alone ranks poorly.
"""

from __future__ import annotations

import polars as pl

from qdc.quality._text import LETTER, STOP8, R, lines, n_tokens, safe_div


def columns() -> list[pl.Expr]:
    """Measurements (float) and `gopher_pass` (1.0 when no rule fires) for the response column `r`."""
    ntok = n_tokens()
    ls = lines()
    nl = ls.list.len()
    alpha_tok = R.str.count_matches(r"\S*[" + LETTER + r"]\S*")
    mean_len = safe_div(R.str.replace_all(r"\s+", "").str.len_chars(), ntok)
    hash_ratio = safe_div(R.str.count_matches("#"), ntok)
    ellipsis_ratio = safe_div(R.str.count_matches(r"\.\.\.|…"), ntok)
    bullet_share = safe_div(ls.list.eval(pl.element().str.contains(r"^[•\-]").cast(pl.Int32)).list.sum(), nl)
    ell_lines = safe_div(ls.list.eval(pl.element().str.contains(r"(\.\.\.|…)$").cast(pl.Int32)).list.sum(), nl)
    stop = R.str.to_lowercase().str.count_matches(r"\b(?:" + "|".join(STOP8) + r")\b")
    dup_lines = safe_div(nl - ls.list.n_unique(), nl)
    dup_chars = safe_div(
        ls.list.eval(
            pl.element().filter(pl.element().is_duplicated() & ~pl.element().is_first_distinct()).str.len_chars()
        ).list.sum(),
        R.str.len_chars(),
    )
    fail = (
        (ntok < 50)
        | (ntok > 100_000)
        | (mean_len < 3)
        | (mean_len > 10)
        | (hash_ratio > 0.1)
        | (ellipsis_ratio > 0.1)
        | (bullet_share > 0.9)
        | (ell_lines > 0.3)
        | (safe_div(alpha_tok, ntok) < 0.8)
        | (stop < 2)
        | (dup_lines > 0.3)
        | (dup_chars > 0.2)
    )
    return [
        mean_len.alias("gopher_mean_word_len"),
        safe_div(alpha_tok, ntok).alias("gopher_alpha_words"),
        stop.cast(pl.Float64).alias("gopher_stop_words"),
        dup_lines.alias("gopher_dup_lines"),
        dup_chars.alias("gopher_dup_line_chars"),
        (~fail).cast(pl.Float64).alias("gopher_pass"),
    ]
