"""Relevance: does the response talk about what the instruction asks?

Model-free by default: the share of the instruction's content words (4+ letters, not stop words, compared
by their first `STEM` letters) that the response uses, and the share of the response's content words
found in the instruction. An answer moved to another instruction shares almost none; an echo of the
prompt shares nearly all. When rows carry embeddings of both parts (`prompt_x`, `response_x`),
`embedding_similarity` gives the cosine instead.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from qdc.quality._text import FUNCTION_WORDS, P, R, safe_div

_STOP = sorted(
    set(FUNCTION_WORDS)
    | {
        "what",
        "which",
        "write",
        "give",
        "make",
        "list",
        "tell",
        "explain",
        "describe",
        "following",
        "given",
        "please",
        "provide",
        "using",
        "about",
        "some",
        "each",
        "other",
        "them",
        "they",
        "there",
        "their",
        "would",
        "could",
        "should",
        "your",
        "yours",
        "also",
        "into",
        "just",
        "like",
        "more",
    }
)


STEM = 5
"""Words are compared by their first 5 letters, a crude stemmer: "anagrams" meets "anagram", "tableName"
meets "table", "sorted" meets "sorting". Without it, a correct short answer that inflects the
instruction's words looked as unrelated as an answer moved from another instruction."""


def _content(col: pl.Expr) -> pl.Expr:
    return (
        col.str.slice(0, 2000)
        .str.to_lowercase()
        .str.extract_all(r"[a-z\u00c0-\U0010ffff]{4,}")
        .list.eval(pl.element().filter(~pl.element().is_in(_STOP)).str.slice(0, STEM))
        .list.unique()
    )


def columns() -> list[pl.Expr]:
    """`prompt_covered` and `response_in_prompt` (0 to 1; 0 when a side has no content words), whether the
    prompt has no content word, and `option_named`."""
    pw, rw = _content(P), _content(R)
    both = pw.list.set_intersection(rw).list.len()
    return [
        safe_div(both, pw.list.len()).alias("prompt_covered"),
        safe_div(both, rw.list.len()).alias("response_in_prompt"),
        (pw.list.len() == 0).cast(pl.Float64).alias("prompt_no_content"),
        _option_named().cast(pl.Float64).alias("option_named"),
    ]


def _option_named() -> pl.Expr:
    """A short response (1-5 words) that the prompt contains word for word, at word boundaries: the label
    or option a classification or multiple-choice instruction lists ("... World, Sports, Business or
    Sci/Tech?" -> "Sci/Tech"). Such an answer is complete however short it is; without this, a two-word
    label looked like an answer cut after ten characters."""
    answer = R.str.strip_chars().str.strip_chars(".!?\"'` ").str.to_lowercase()
    short = (answer.str.len_chars() > 0) & (answer.str.count_matches(r"\S+") <= 5)
    # only short answers need the prompt normalised (an empty string elsewhere: the same result, less work)
    prompt = pl.when(short).then(P).otherwise(pl.lit(""))
    padded = pl.lit(" ") + prompt.str.to_lowercase().str.replace_all(r"[^\w/+#-]+", " ") + pl.lit(" ")
    needle = pl.lit(" ") + answer.str.replace_all(r"[^\w/+#-]+", " ").str.strip_chars() + pl.lit(" ")
    return short & padded.str.contains(needle, literal=True)


def embedding_similarity(prompt_x: np.ndarray, response_x: np.ndarray) -> np.ndarray:
    """Row-wise cosine of unit prompt and response embeddings."""
    return np.asarray(np.einsum("ij,ij->i", prompt_x, response_x), dtype=np.float64)
