"""Surface form: symbol soup, script mixing, structure and size of the response.

Judge-gaming outputs (Zheng et al. 2024, "Cheating Automatic LLM Benchmarks: Null Models Achieve High Win
Rates") are built from braces, code symbols and fragments in several scripts around an injected
instruction: a high share of symbol characters outside code fences and letters from more than one script
set them apart. Markdown structure (list items, headings, bold) and size are what LLM judges reward in
honest answers (AlpacaEval's length bias), so they feed the graded part of the learned score.
"""

from __future__ import annotations

import polars as pl

from qdc.quality._text import LIST_LINE, P, R, lines, n_words, safe_div
from qdc.quality.refusal import BOILERPLATE, REFUSAL

SALAD = (
    r"\b(?:the|a|an|of|to|and|in|is|for|with)\s+(?:the|a|an|of|to|and|in|is|for|with|that|are|was)\b(?:\s+(?:the|a|an"
    r"|of|to|and|in|is|for|with))?"
)
"""Two function words in a row ("the of", "a and"): about 0.2% of words in real answers, common in
shuffled word salad, which keeps every word plausible (measured on the TUNE rows only). Word salad also
moves sentence openers ("The", "However") into mid-sentence (`opener_mid_sentence`) and leaves a
lower-case word after a full stop (`lower_after_stop`); honest prose rarely does either."""


def columns() -> list[pl.Expr]:
    """Float measurements of `r` (and of `p` for the size ratio)."""
    prose = R.str.replace_all(r"(?s)```.*?(?:```|$)", " ")
    chars = prose.str.len_chars()
    ls = lines()
    nl = ls.list.len()
    latin = prose.str.count_matches(r"[A-Za-z]")
    letters = latin + prose.str.count_matches(r"[^\x00-\x7f]")
    nw = n_words()
    return [
        (nw + 1).log().alias("log_words"),
        ((nw + 1).log() - (n_words(P) + 1).log()).alias("log_size_ratio"),
        # shares of a handful of characters mean nothing ("Sci/Tech" is 1/8 symbols): 30+ characters only
        pl.when(chars >= 30)
        .then(safe_div(prose.str.count_matches(r"[{}\[\]<>|\\^~`$#@*=+_/]"), chars))
        .otherwise(0.0)
        .alias("symbol_share"),
        safe_div(prose.str.count_matches(r"[\u2190-\u2bff\u2e00-\u2e7f\U0001f000-\U0001faff]"), chars).alias(
            "unicode_symbols"
        ),
        (safe_div(pl.min_horizontal(latin, letters - latin), letters) * 2).alias("script_mix"),
        # likewise: "Sci/Tech" is 7/8 letters, as a cut or a noised short string might be
        pl.when(chars >= 30).then(safe_div(letters, chars)).otherwise(1.0).alias("letter_share"),
        safe_div(ls.list.eval(pl.element().str.contains(LIST_LINE).cast(pl.Int32)).list.sum(), nl).alias("list_lines"),
        (R.str.count_matches(r"(?m)^#{1,6} ") + R.str.count_matches(r"\*\*[^*\n]+\*\*"))
        .clip(0, 20)
        .cast(pl.Float64)
        .alias("markdown_marks"),
        R.str.contains("```").cast(pl.Float64).alias("has_fence"),
        R.str.slice(0, 200).str.contains(REFUSAL.pattern).cast(pl.Float64).alias("refusal"),
        R.str.count_matches(BOILERPLATE.pattern).clip(0, 3).cast(pl.Float64).alias("boilerplate"),
        (nw == 0).cast(pl.Float64).alias("no_words"),
        safe_div(R.str.to_lowercase().str.count_matches(SALAD), nw).alias("function_pairs"),
        safe_div(
            prose.str.count_matches(r"[a-z,;] (?:The|This|These|It|They|However|In|For|If|When|A|An|We) "), nw
        ).alias("opener_mid_sentence"),
        safe_div(prose.str.count_matches(r"[a-z][.!?] [a-z]"), prose.str.count_matches(r"[.!?](?:\s|$)") + 1).alias(
            "lower_after_stop"
        ),
    ]
