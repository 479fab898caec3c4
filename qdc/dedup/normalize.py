"""Text normalisation for exact matching, and word tokens for MinHash shingles.

Steps (each switchable, applied in this order):

- ``nfkc``: Unicode NFKC (compatibility forms fold: full-width letters, ligatures, non-breaking spaces).
  Only rows with non-ASCII characters pay for it (ASCII is NFKC-stable).
- ``case``: Unicode lower-casing.
- ``punctuation``: every run of Unicode punctuation (category P*) becomes a space. Symbols (S*: ``+ = $ <``)
  stay, so ``a + b`` and ``a < b`` still differ (but ``f(a, b)`` and ``f a b`` do not).
- ``whitespace``: runs of whitespace (spaces, tabs, newlines) become one space; ends are trimmed.

MinHash tokens are the ``\\w+`` runs of the text after ``nfkc`` and ``case`` (when enabled), so
punctuation and whitespace never matter there.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl
import xxhash

Step = Literal["nfkc", "case", "punctuation", "whitespace"]
ALL_STEPS: tuple[Step, ...] = ("nfkc", "case", "punctuation", "whitespace")


def nfkc(texts: pl.Series) -> pl.Series:
    """NFKC-normalise the rows that contain non-ASCII characters (the rest are already normal)."""
    texts = texts.cast(pl.String).fill_null("")
    mask = texts.str.contains(r"[^\x00-\x7F]")
    idx = np.flatnonzero(mask.to_numpy())
    if idx.size == 0:
        return texts
    values = texts.gather(idx).to_list()
    fixed = pl.Series([unicodedata.normalize("NFKC", v) for v in values], dtype=pl.String)
    return texts.scatter(idx, fixed)


def normalise(texts: pl.Series, steps: Sequence[Step] = ALL_STEPS) -> pl.Series:
    """The exact-match key text of every row, after the chosen steps."""
    out = texts.cast(pl.String).fill_null("")
    if "nfkc" in steps:
        out = nfkc(out)
    if "case" in steps:
        out = out.str.to_lowercase()
    if "punctuation" in steps:
        out = out.str.replace_all(r"\p{P}+", " ")
    if "whitespace" in steps:
        out = out.str.replace_all(r"\s+", " ").str.strip_chars()
    return out


_WORD_BYTE = np.zeros(256, dtype=bool)
"""Bytes of \\w tokens: ASCII word characters and every byte of a non-ASCII character."""
_WORD_BYTE[[ord(c) for c in "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"]] = True
_WORD_BYTE[0x80:] = True  # only rows whose non-ASCII characters are all \w hold such bytes


def word_tokens(texts: pl.Series, steps: Sequence[Step] = ALL_STEPS) -> tuple[pl.Series, np.ndarray]:
    """All ``\\w+`` tokens of all rows as one flat Series, and the number of tokens of each row."""
    out = texts.cast(pl.String).fill_null("")
    if "nfkc" in steps:
        out = nfkc(out)
    if "case" in steps:
        out = out.str.to_lowercase()
    toks = out.str.extract_all(r"\w+")
    lens = toks.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = toks.explode().drop_nulls()
    return flat, lens


def word_hash_array(texts: pl.Series, steps: Sequence[Step] = ALL_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """xxh3-64 of every ``\\w+`` token of every row (after ``nfkc`` and ``case``), flat, and tokens per row.

    Equal to ``word_hashes(word_tokens(...))`` without building a string per token: ASCII rows (NFKC-stable,
    where ``\\w`` is ``[0-9A-Za-z_]``) are lower-cased and split on bytes; in the other rows every non-ASCII
    character outside ``\\w`` becomes a space first (a Unicode regex); then every token is hashed in numpy
    (`qdc._native.tokens`).
    """
    from qdc._native.tokens import hash_tokens

    text, byte_map = word_text(texts, steps)
    return hash_tokens(text, _WORD_BYTE, byte_map=byte_map)


def word_text(texts: pl.Series, steps: Sequence[Step] = ALL_STEPS) -> tuple[pl.Series, np.ndarray | None]:
    """(the rows as `word_hash_array` splits them, the byte map to apply while splitting): rows with
    non-ASCII characters NFKC-normalised, lower-cased and with their non-ASCII characters outside \\w replaced
    by spaces; ASCII rows as they are, for ASCII_LOWER (when ``case``) to lower-case byte by byte."""
    from qdc._native.tokens import ASCII_LOWER

    out = base = texts.cast(pl.String).fill_null("")
    wide = np.flatnonzero((base.str.len_bytes() != base.str.len_chars()).to_numpy())
    if wide.size:
        part = base.gather(wide)
        if "nfkc" in steps:
            part = nfkc(part)
        if "case" in steps:
            part = part.str.to_lowercase()
        # Non-ASCII characters outside \w become spaces: then the byte split (ASCII word bytes, and every
        # byte of a non-ASCII character) finds exactly the \w+ runs, 7x cheaper than extracting them.
        out = out.scatter(wide, part.str.replace_all(r"[^\w\x00-\x7F]+", " "))
    # The other rows were lower-cased above, and ASCII lower-casing leaves them as they are.
    return out, (ASCII_LOWER if "case" in steps else None)


def word_hashes(words: pl.Series) -> np.ndarray:
    """A stable 64-bit hash (xxh3) of every word, hashing each distinct word once."""
    if words.len() == 0:
        return np.zeros(0, dtype=np.uint64)
    uniq = words.unique(maintain_order=True)
    hashes = np.fromiter(
        (xxhash.xxh3_64_intdigest(w.encode("utf-8")) for w in uniq.to_list()), dtype=np.uint64, count=uniq.len()
    )
    # Casting to an Enum of the distinct words gives each word's index into `uniq` (a hash lookup in Rust).
    codes = words.cast(pl.Enum(uniq)).to_physical().to_numpy()
    out: np.ndarray = hashes[codes]
    return out
