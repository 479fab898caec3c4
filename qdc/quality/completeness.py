"""Completeness: does the response stop where an answer ends, or mid-word / mid-sentence?

Not ending in a full stop is normal for code, lists, tables, math and one-word answers, so the signals
look at *how* the text ends: on a function word ("the", "and", "of": no English sentence ends there), on
an opening bracket, comma, colon or dash, inside an open code fence, or with a prose last line of 4+ words
and no closing punctuation while the rest of the answer uses full stops, or on a word fragment: a last
word (text ending in a letter) that is not in qdc's list of words seen in honest answers
(`qdc/data/quality_words.txt`: every ASCII word in the training answers of the learned
scorer) or a lone lower-case letter other than "a" and "i" ("Polar bears h"). Code lines, list
items, table rows and headings never count as mid-sentence. Whether the text ends on a full stop is
deliberately *not* a feature: lists, tables, code and short answers often do not.
The weights come from the learned scorer, not hand-set.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import polars as pl

from qdc.quality._text import CODE_LINE, FUNCTION_WORDS, LIST_LINE, TERMINAL, P, R, lines

WORDS_FILE = "quality_words.txt"


@cache
def known_words() -> tuple[str, ...]:
    """The shipped word list (empty when the file is absent, e.g. while training the scorer)."""
    ref = resources.files("qdc.data").joinpath(WORDS_FILE)
    if not ref.is_file():
        return ()
    return tuple(w for w in ref.read_text(encoding="utf-8").split() if w)


def columns() -> list[pl.Expr]:
    """0/1 flags about the ending of `r`."""
    text = R.str.strip_chars()
    last_line = lines().list.last().fill_null("")
    last_word = text.str.to_lowercase().str.extract(r"([^\W\d_]+)\W*$", 1).fill_null("")
    structured = (
        last_line.str.contains(CODE_LINE)
        | last_line.str.contains(LIST_LINE)
        | last_line.str.contains(r"^\s*(?:#|\||>)|\|\s*$")
        | last_line.str.contains(r"[=<>+\-*/^]")  # math, an equation or a result line
    )
    ends_alpha = text.str.contains(r"[^\W\d_]$")
    prose_sentences = R.str.count_matches(TERMINAL + r"(?:\s|$)")
    mid_sentence = ends_alpha & ~structured & (last_line.str.count_matches(r"\S+") >= 4) & (prose_sentences >= 1)
    return [
        (
            ends_alpha
            & text.str.contains(r"(?:^|[^A-Za-z])[a-z]+$")  # a lower-case last word: names are not fragments
            & (~last_word.is_in(known_words()) | ((last_word.str.len_chars() == 1) & ~last_word.is_in(["a", "i"])))
            & ~P.str.to_lowercase().str.contains(last_word, literal=True)
        )
        .cast(pl.Float64)
        .alias("end_fragment"),
        (ends_alpha & last_word.is_in(FUNCTION_WORDS)).cast(pl.Float64).alias("end_function_word"),
        text.str.contains(r"[,:;(\[{–—-]$").cast(pl.Float64).alias("end_open_mark"),
        (R.str.count_matches(r"```") % 2).cast(pl.Float64).alias("open_fence"),
        mid_sentence.cast(pl.Float64).alias("end_mid_sentence"),
    ]
