"""Lexical diversity of a corpus (algorithms.md §3.4): distinct-n, compression ratio, n-gram entropy and the
n-gram Vendi score. Tokens: Unicode NFKC, lower-case, whitespace split (no NLTK data needed).
"""

from __future__ import annotations

import gzip
import math
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np


def tokenize(text: str) -> list[str]:
    """NFKC + lower-case + whitespace split."""
    return unicodedata.normalize("NFKC", text or "").lower().split()


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(tokens[i:] for i in range(n)), strict=False))


def distinct_n(docs: Sequence[Sequence[str]], n: int) -> float:
    """|unique n-grams| / |n-grams|, n-grams taken inside each document (never across two)."""
    unique: set[tuple[str, ...]] = set()
    total = 0
    for toks in docs:
        grams = ngrams(toks, n)
        total += len(grams)
        unique.update(grams)
    return len(unique) / total if total else 0.0


def compression_ratio(texts: Sequence[str]) -> float:
    """len(utf8(' '.join(texts))) / len(gzip(same, level 9, mtime 0)); higher = more redundant."""
    data = " ".join(texts).encode("utf-8")
    if not data:
        return 0.0
    return len(data) / len(gzip.compress(data, compresslevel=9, mtime=0))


def ngram_entropy(docs: Sequence[Sequence[str]], n: int) -> float:
    """Shannon entropy (nats) of the corpus n-gram frequency distribution."""
    counts: Counter[tuple[str, ...]] = Counter()
    for toks in docs:
        counts.update(ngrams(toks, n))
    total = sum(counts.values())
    if not total:
        return 0.0
    p = np.fromiter(counts.values(), dtype=np.float64) / total
    return float(-(p * np.log(p)).sum())


def ngram_vendi(
    docs: Sequence[Sequence[str]], ns: Sequence[int] = (1, 2, 3, 4), qs: Sequence[float] = (1.0,)
) -> dict[float, float]:
    """Vendi with the n-gram kernel: K = mean over n of the cosine between n-gram count vectors.

    K = W W^T with W the row-normalised count matrices side by side, scaled by 1/sqrt(len(ns)); its
    eigenvalues come from the smaller of W W^T (docs) and W^T W (vocabulary). Call it on a sample: the
    cost grows as docs^2 * vocabulary.
    """
    from scipy import sparse

    from qdc.diversity.vendi import vendi_from_eigenvalues

    m = len(docs)
    if m == 0:
        return dict.fromkeys(qs, 0.0)
    blocks = []
    for n in ns:
        vocab: dict[tuple[str, ...], int] = {}
        rows, cols, vals = [], [], []
        for i, toks in enumerate(docs):
            c = Counter(ngrams(toks, n))
            norm = math.sqrt(sum(v * v for v in c.values()))
            for g, v in c.items():
                rows.append(i)
                cols.append(vocab.setdefault(g, len(vocab)))
                vals.append(v / norm)
        blocks.append(sparse.csr_matrix((vals, (rows, cols)), shape=(m, max(len(vocab), 1))))
    w = sparse.hstack(blocks).tocsr() / math.sqrt(len(ns))
    k = (w @ w.T).toarray()
    # Documents shorter than n have an all-zero block: their self-similarity is below 1. The package
    # averages anyway; we do the same so the kernel matches its definition.
    eigs = np.linalg.eigvalsh((k + k.T) / (2.0 * m))
    return vendi_from_eigenvalues(eigs, m, m, qs)
