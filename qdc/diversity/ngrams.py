"""Corpus n-gram statistics (distinct-n, n-gram entropy) vectorised over all tokens at once.

Tokens are those of `lexical.tokenize` (NFKC, lower-case, split on what Python's str.split calls
whitespace), byte for byte: every row is split on bytes, the rare non-ASCII rows normalised by Python first.
Every token becomes a 64-bit hash (XXH3-64), an n-gram the wrapping polynomial
combination of its tokens' hashes, and counting runs on those integers. Two different n-grams
share a key with probability about u^2 / 2^65 for u distinct n-grams (under 1e-6 at 5 million), the only
way a figure can differ from the string-based `lexical.distinct_n` / `lexical.ngram_entropy`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

# Token bytes: every byte but what Python's str.split() splits on in the ASCII range (beyond ASCII, the rare
# non-ASCII rows have their whitespace replaced in Python: after NFKC only U+0085, U+1680, U+2028 and U+2029 of
# it are left; every byte of another non-ASCII character is a token byte).
_TOKEN_BYTE = np.ones(256, dtype=bool)
_TOKEN_BYTE[[0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20]] = False
_PY_WIDE_SPACE = re.compile("[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplication by it is a bijection on uint64


@dataclass(frozen=True)
class TokenHashes:
    """Every token of a corpus in order: its 64-bit hash and the index of its document."""

    hashes: np.ndarray  # uint64
    docs: np.ndarray  # int32 (int64 past 2**31 rows), non-decreasing
    n_docs: int

    def subset(self, rows: np.ndarray) -> TokenHashes:
        """The tokens of the documents `rows` (sorted, distinct indices), renumbered 0..len(rows)-1: each
        document's tokens are one slice (docs is non-decreasing), found by binary search."""
        rows = np.asarray(rows, dtype=self.docs.dtype)  # the same dtype: searchsorted copies docs otherwise
        lo = np.searchsorted(self.docs, rows, side="left")
        per = np.searchsorted(self.docs, rows, side="right") - lo
        starts = np.repeat(lo - (np.cumsum(per) - per), per)  # token index = its rank in the subset + shift
        take = starts + np.arange(starts.size, dtype=np.int64)
        return TokenHashes(self.hashes[take], np.repeat(np.arange(rows.size, dtype=np.int64), per), len(rows))


def token_hashes(texts: pl.Series | Sequence[str | None]) -> TokenHashes:
    """Tokenise every text (`lexical.tokenize` rules) and hash the tokens (XXH3-64, `qdc._native.tokens`).

    The rare non-ASCII rows are NFKC-normalised and lower-cased by Python (as `tokenize` does) and their
    non-ASCII whitespace made spaces; then every row is split on bytes: a token is a run of bytes other than
    Python's ASCII whitespace, ASCII letters lower-cased by a byte table on the way (for ASCII text what
    `str.lower` does). `hash_tokens` runs the compiled kernel when `qdc._native` is built and numpy otherwise,
    with the same hashes, so no figure depends on the build. On 100k rows / 5.4 million tokens: 0.13 s of
    CPU (compiled) or 0.33 s (numpy), against 0.34 s for polars' split, explode and string hash.
    """
    from qdc._native.tokens import ASCII_LOWER, hash_tokens

    s = texts if isinstance(texts, pl.Series) else pl.Series(list(texts), dtype=pl.String)
    s = s.cast(pl.String).fill_null("")
    wide = np.flatnonzero((s.str.len_bytes() != s.str.len_chars()).to_numpy())
    if wide.size:
        redone = [_PY_WIDE_SPACE.sub(" ", unicodedata.normalize("NFKC", t).lower()) for t in s.gather(wide)]
        s = s.scatter(wide, pl.Series(redone, dtype=pl.String))
    hashes, per_row = hash_tokens(s, _TOKEN_BYTE, byte_map=ASCII_LOWER)
    row = np.arange(len(s), dtype=np.int32 if len(s) < 2**31 else np.int64)  # int32: 21 MB less at 5.4M tokens
    return TokenHashes(hashes, np.repeat(row, per_row), len(s))


def ngram_keys(tok: TokenHashes, n: int) -> np.ndarray:
    """One uint64 key per n-gram inside a document (never across two), in order."""
    return _keys(tok, n, with_docs=False)[0]


def ngram_keys_and_docs(tok: TokenHashes, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`ngram_keys` and the document of each key."""
    return _keys(tok, n, with_docs=True)


_KEY_BLOCK = 1 << 20  # n-gram positions per step of _keys: its temporaries (8 MB) are reused from step to step


def _keys(tok: TokenHashes, n: int, with_docs: bool) -> tuple[np.ndarray, np.ndarray]:
    """The n-gram keys inside documents (and their documents when `with_docs`, else an empty array); for
    n = 1 the token hashes themselves, not a copy. Built `_KEY_BLOCK` positions at a time into one array:
    whole-corpus temporaries were two fresh 43 MB arrays per n at 100k rows, whose first page faults cost
    more system time than the arithmetic."""
    h, d = tok.hashes, tok.docs
    if n == 1:
        return h, d if with_docs else d[:0]
    m = max(h.size - n + 1, 0)
    keys = np.empty(m, dtype=np.uint64)  # room for every position; the pages never written cost nothing
    docs = np.empty(m if with_docs else 0, dtype=d.dtype)
    used = 0
    for lo in range(0, m, _KEY_BLOCK):
        hi = min(m, lo + _KEY_BLOCK)
        with np.errstate(over="ignore"):
            key = h[lo:hi] * _MIX
            key ^= h[lo + 1 : hi + 1]
            for j in range(2, n):
                key *= _MIX
                key ^= h[lo + j : hi + j]
        inside = d[lo:hi] == d[lo + n - 1 : hi + n - 1]
        k = int(np.count_nonzero(inside))
        np.compress(inside, key, out=keys[used : used + k])
        if with_docs:
            np.compress(inside, d[lo:hi], out=docs[used : used + k])
        used += k
    return keys[:used], docs[:used]


_DENSE_DF = 32  # n-grams in more documents than this go through one dense product (BLAS), the rest as pairs


def ngram_vendi_hashed(
    tok: TokenHashes, ns: Sequence[int] = (1, 2, 3, 4), qs: Sequence[float] = (1.0,)
) -> dict[float, float]:
    """`lexical.ngram_vendi` of the documents of `tok` from their n-gram keys, in numpy (no Python loop per
    n-gram, no scipy import): the same kernel, K = W W^T / len(ns) with W the row-normalised n-gram count
    matrices side by side. Frequent n-grams form a dense block multiplied by BLAS; each rarer one adds
    v_i v_j to K[i, j] for every pair of its documents (one bincount)."""
    from qdc.diversity.vendi import vendi_from_eigenvalues

    m = tok.n_docs
    if m == 0:
        return dict.fromkeys(qs, 0.0)
    rows, cols, vals = [], [], []
    width = 0
    for n in ns:
        keys, docs = ngram_keys_and_docs(tok, n)
        order = np.lexsort((keys, docs))
        keys, docs = keys[order], docs[order]
        new = np.ones(keys.shape[0], dtype=bool)
        new[1:] = (keys[1:] != keys[:-1]) | (docs[1:] != docs[:-1])
        first = np.flatnonzero(new)
        count = np.diff(np.append(first, keys.shape[0])).astype(np.float64)
        row = docs[first].astype(np.int64)  # row * m + row below must not overflow int32
        vocab, col = np.unique(keys[first], return_inverse=True)
        norm = np.sqrt(np.bincount(row, weights=count * count, minlength=m))
        rows.append(row)
        cols.append(col + width)
        vals.append(count / norm[row] if row.size else count)
        width += vocab.size
    k = _gram_of_entries(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), m, width)
    eigs = np.linalg.eigvalsh((k + k.T) / (2.0 * m * len(ns)))
    return vendi_from_eigenvalues(eigs, m, m, qs)


def _gram_of_entries(row: np.ndarray, col: np.ndarray, val: np.ndarray, m: int, width: int) -> np.ndarray:
    """W W^T (m x m) for the sparse W given as distinct (row, col, value) entries."""
    k = np.zeros((m, m), dtype=np.float64)
    if not row.size:
        return k
    order = np.argsort(col, kind="stable")
    row, col, val = row[order], col[order], val[order]
    df = np.bincount(col, minlength=width)
    start = np.cumsum(df) - df
    per = df[col]
    dense = per > _DENSE_DF
    if dense.any():
        hot, pos = np.unique(col[dense], return_inverse=True)
        w = np.zeros((m, hot.size), dtype=np.float64)
        w[row[dense], pos] = val[dense]
        k += w @ w.T
    rare = np.flatnonzero(~dense)
    if rare.size:
        reps = per[rare]
        a = np.repeat(rare, reps)  # every entry paired with every entry of its column (itself included)
        b = start[col[a]] + np.arange(a.size) - np.repeat(np.cumsum(reps) - reps, reps)
        k += np.bincount(row[a] * m + row[b], weights=val[a] * val[b], minlength=m * m).reshape(m, m)
    return k


def _sorted(keys: np.ndarray) -> np.ndarray:
    """The keys sorted, by polars on the calling thread: the report's own two threads keep both cores busy,
    and polars' parallel sort spent 1.6x the CPU for it (0.111 vs 0.069 s on 5.3 million bigram keys)."""
    return pl.Series(keys).sort(multithreaded=False).to_numpy()


def counts(keys: np.ndarray) -> np.ndarray:
    """How often each distinct key occurs (one sort; order of the counts unspecified)."""
    if not keys.size:
        return np.zeros(0, dtype=np.int64)
    ordered = _sorted(keys)
    edges = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    return np.diff(np.concatenate(([0], edges, [ordered.size])))


def n_distinct(keys: np.ndarray) -> int:
    """How many distinct keys there are (one sort: 0.08 s of CPU against 0.13 s for polars' n_unique hash
    table on 5.3 million trigram keys)."""
    if not keys.size:
        return 0
    ordered = _sorted(keys)
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1


def entropy_of(c: np.ndarray) -> float:
    """Shannon entropy (nats) of a frequency vector."""
    if not c.size:
        return 0.0
    p = c / c.sum()
    return float(-(p * np.log(p)).sum())


def lexical_figures(tok: TokenHashes, parts: Sequence[str] = ("counts", "distinct_3")) -> dict[str, float | int]:
    """distinct_1..3, entropy_1..2 and the token count, as `lexical.distinct_n` / `ngram_entropy` define them.

    `parts` picks what to compute: "counts" (distinct_1, distinct_2, entropy_1, entropy_2, tokens) and
    "distinct_3", so the report can run the two on different threads.
    """
    out: dict[str, float | int] = {}
    if "counts" in parts:
        for n in (1, 2):
            keys = ngram_keys(tok, n)
            c = counts(keys)
            out[f"distinct_{n}"] = c.size / keys.size if keys.size else 0.0
            out[f"entropy_{n}"] = entropy_of(c)
        out["tokens"] = int(tok.hashes.size)
    if "distinct_3" in parts:
        keys = ngram_keys(tok, 3)
        out["distinct_3"] = n_distinct(keys) / keys.size if keys.size else 0.0
    return out
