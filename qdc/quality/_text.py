"""Vectorised text views shared by the v2 signals: polars expressions over a frame with columns `p`
(instruction) and `r` (response), so every signal runs column-wise in polars' native code, not per row."""

from __future__ import annotations

import polars as pl

P = pl.col("p")
R = pl.col("r")

LETTER = "A-Za-z\u00c0-\U0010ffff"
"""Letters, cheaply: ASCII letters and every non-ASCII character (Unicode classes cost 5x in the regex engine)."""
WORD = r"[0-9" + LETTER + r"]+"
TERMINAL = r"[.!?。！？…]"
STOP8 = ("the", "be", "to", "of", "and", "that", "have", "with")
"""Gopher's stop words (Rae et al. 2021, appendix A)."""
FUNCTION_WORDS = [
    "the",
    "a",
    "an",
    "and",
    "or",
    "but",
    "of",
    "to",
    "in",
    "on",
    "at",
    "by",
    "for",
    "from",
    "with",
    "as",
    "that",
    "which",
    "who",
    "whose",
    "this",
    "these",
    "those",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "than",
    "then",
    "if",
    "because",
    "while",
    "when",
    "where",
    "so",
    "such",
    "its",
    "their",
    "our",
    "your",
    "my",
    "his",
    "her",
    "into",
    "onto",
    "over",
    "under",
    "about",
    "between",
    "through",
    "during",
    "before",
    "after",
    "also",
    "not",
    "no",
    "nor",
    "very",
    "more",
    "most",
    "can",
    "could",
    "will",
    "would",
    "should",
    "may",
    "might",
    "must",
    "shall",
    "do",
    "does",
    "did",
    "has",
    "have",
    "had",
    "here",
    "there",
]
"""Words an English sentence does not end on (a cut mid-sentence usually leaves one last)."""

CODE_LINE = (
    r"^\s*(?:def |class |import |from \S+ import|return\b|if\b|for\b|while\b|elif\b|else\b|try\b|except\b|"
    r"public |private |static |function\b|var |let |const |#include|SELECT\b|INSERT\b|UPDATE\b|CREATE\b|"
    r"<\w+|//|/\*|\*/)|[;{}]\s*$|^\s*[\w.\[\]]+\s*=\s*\S|\w+\(.*\)\s*:?\s*$"
)
"""A line that reads as source code (code keeps no full stops and repeats its structure legitimately)."""
LIST_LINE = r"^\s*(?:[-*•+]|\d+[.)]|[a-zA-Z][.)])\s+"


def lines(col: pl.Expr = R) -> pl.Expr:
    """Non-empty stripped lines (a list column)."""
    return (
        col.str.split("\n")
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element().str.len_chars() > 0))
    )


def n_tokens(col: pl.Expr = R) -> pl.Expr:
    """Whitespace tokens."""
    return col.str.count_matches(r"\S+")


def n_words(col: pl.Expr = R) -> pl.Expr:
    """Word tokens (letters/digits)."""
    return col.str.count_matches(WORD)


def safe_div(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """a / b, 0 where b is 0."""
    return pl.when(b > 0).then(a / b).otherwise(0.0)
