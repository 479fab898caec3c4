"""Corpus n-gram statistics (distinct-n, n-gram entropy) vectorised over all tokens at once.

Tokens are those of `lexical.tokenize` (NFKC, lower-case, split on what Python's str.split calls
whitespace), byte for byte: ASCII rows are split in polars, the rare non-ASCII rows by `tokenize` itself.
Every token becomes a 64-bit hash (polars), an n-gram the wrapping polynomial combination of its
tokens' hashes, and counting runs on those integers. Two different n-grams share a key with probability
about u^2 / 2^65 for u distinct n-grams (under 1e-6 at 5 million), the only way a figure can differ from
the string-based `lexical.distinct_n` / `lexical.ngram_entropy`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from qdc.diversity.lexical import tokenize

# Python's str.split() whitespace in the ASCII range, apart from the space itself.
_ASCII_SPACE = r"[\t\n\r\x0b\x0c\x1c-\x1f]"
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplication by it is a bijection on uint64
_CHUNK = 1 << 20  # bytes per deflate chunk in compression_ratio


@dataclass(frozen=True)
class TokenHashes:
    """Every token of a corpus in order: its 64-bit hash and the index of its document."""

    hashes: np.ndarray  # uint64
    docs: np.ndarray  # int64, non-decreasing
    n_docs: int

    def subset(self, rows: np.ndarray) -> TokenHashes:
        """The tokens of the documents `rows` (sorted indices), renumbered 0..len(rows)-1."""
        member = np.zeros(self.n_docs, dtype=bool)
        member[rows] = True
        keep = member[self.docs]
        renumber = np.cumsum(member) - 1
        return TokenHashes(self.hashes[keep], renumber[self.docs[keep]], len(rows))


def token_hashes(texts: pl.Series | Sequence[str | None]) -> TokenHashes:
    """Tokenise every text (`lexical.tokenize` rules) and hash the tokens."""
    s = texts if isinstance(texts, pl.Series) else pl.Series(list(texts), dtype=pl.String)
    s = s.cast(pl.String).fill_null("")
    ascii_rows = (s.str.len_bytes() == s.str.len_chars()).to_numpy()
    lists = s.str.replace_all(_ASCII_SPACE, " ").str.to_lowercase().str.split(" ")
    if not ascii_rows.all():
        exact: list[list[str] | None] = [None] * len(s)
        for i, text in zip(np.flatnonzero(~ascii_rows).tolist(), s.filter(~ascii_rows).to_list(), strict=True):
            exact[i] = tokenize(text)
        lists = pl.select(pl.coalesce(pl.Series(exact, dtype=pl.List(pl.String)), lists)).to_series()
    lengths = lists.list.len().to_numpy()
    flat = lists.explode()
    docs = np.repeat(np.arange(len(s), dtype=np.int64), lengths)
    keep = (flat.str.len_bytes() > 0).fill_null(False).to_numpy()
    hashes = flat.hash(seed=0).to_numpy()
    return TokenHashes(hashes[keep], docs[keep], len(s))


def ngram_keys(tok: TokenHashes, n: int) -> np.ndarray:
    """One uint64 key per n-gram inside a document (never across two), in order."""
    h, d = tok.hashes, tok.docs
    if h.size < n:
        return np.zeros(0, dtype=np.uint64)
    m = h.size - n + 1
    key = h[:m].copy()
    with np.errstate(over="ignore"):
        for j in range(1, n):
            key *= _MIX
            key ^= h[j : j + m]
    return np.asarray(key[d[:m] == d[n - 1 :]])


def counts(keys: np.ndarray) -> np.ndarray:
    """How often each distinct key occurs (one sort; order of the counts unspecified)."""
    if not keys.size:
        return np.zeros(0, dtype=np.int64)
    ordered = pl.Series(keys).sort().to_numpy()
    edges = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    return np.diff(np.concatenate(([0], edges, [ordered.size])))


def entropy_of(c: np.ndarray) -> float:
    """Shannon entropy (nats) of a frequency vector."""
    if not c.size:
        return 0.0
    p = c / c.sum()
    return float(-(p * np.log(p)).sum())


def lexical_figures(tok: TokenHashes) -> dict[str, float | int]:
    """distinct_1..3, entropy_1..2 and the token count, as `lexical.distinct_n` / `ngram_entropy` define them."""
    out: dict[str, float | int] = {}
    for n in (1, 2):
        keys = ngram_keys(tok, n)
        c = counts(keys)
        out[f"distinct_{n}"] = c.size / keys.size if keys.size else 0.0
        out[f"entropy_{n}"] = entropy_of(c)
    keys = ngram_keys(tok, 3)
    out["distinct_3"] = pl.Series(keys).n_unique() / keys.size if keys.size else 0.0
    out["tokens"] = int(tok.hashes.size)
    return out


def compression_ratio(texts: pl.Series | Sequence[str | None], threads: int | None = None) -> float:
    """`lexical.compression_ratio` (gzip level 9 of the texts joined by spaces), deflated in 1 MiB chunks,
    each primed with the 32 KiB before it (as pigz does), on several threads.

    Up to 1 MiB the size is gzip's exactly; above it the chunk seams cost a few bytes each (-0.008% of the
    ratio on 32 MB of text). A sample of chunks is not used: on a corpus whose parts differ (several
    sources one after the other) an 8 MiB sample was off by up to 13%.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    s = texts if isinstance(texts, pl.Series) else pl.Series(list(texts), dtype=pl.String)
    data = s.cast(pl.String).fill_null("").str.join(" ").item().encode("utf-8")
    if not data:
        return 0.0
    starts = list(range(0, len(data), _CHUNK))
    last = len(starts) - 1
    picked = list(range(len(starts)))
    view = memoryview(data)

    def deflate(i: int) -> tuple[int, int]:
        start = starts[i]
        prime = bytes(view[max(0, start - 32768) : start])
        comp = (
            zlib.compressobj(9, zlib.DEFLATED, -15, zdict=prime) if prime else zlib.compressobj(9, zlib.DEFLATED, -15)
        )
        raw = view[start : start + _CHUNK]
        body = comp.compress(raw)
        tail = comp.flush(zlib.Z_FINISH if i == last else zlib.Z_FULL_FLUSH)
        return len(raw), len(body) + len(tail)

    workers = max(1, min(threads or os.cpu_count() or 1, len(picked)))
    if workers == 1:
        sizes = [deflate(i) for i in picked]
    else:
        with ThreadPoolExecutor(workers) as pool:
            sizes = list(pool.map(deflate, picked))
    raw_total = sum(r for r, _ in sizes)
    return raw_total / (sum(c for _, c in sizes) + 18)  # gzip: 10-byte header, 8-byte trailer
