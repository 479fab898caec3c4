"""rensa's R-MinHash signatures (algorithm version 2) computed by qdc's compiled kernel, without rensa.

rensa 0.5 hands its digests to Python only as lists of ints (`to_rows`): 12.8M Python ints for 100k rows,
~1 s, three times its own signature time. `qdc._native.hashing.signatures` computes the same uint32 matrix
straight into a numpy array, from the same (a, b) pairs, which rensa draws from Xoshiro256++ seeded through
SplitMix64 (`permutations` below). The values are rensa's, bit for bit (tests/test_minhash_native.py compares
them on random inputs and on real near-duplicates), so kept rows do not change; where the extension is not
built, `qdc.dedup.minhash.signatures` calls rensa itself.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import polars as pl

    from qdc.dedup.normalize import Step

_M64 = (1 << 64) - 1


def _splitmix(state: int) -> tuple[int, int]:
    """(next state, output) of SplitMix64."""
    state = (state + 0x9E3779B97F4A7C15) & _M64
    z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return state, z ^ (z >> 31)


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & _M64


@functools.lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) uint64 arrays: rensa's pairs for (num_perm, seed), a made odd. Xoshiro256++'s state is four
    SplitMix64 outputs of the seed; each pair takes two draws (a first)."""
    s = [0, 0, 0, 0]
    state = seed & _M64
    for i in range(4):
        state, s[i] = _splitmix(state)
    draws = []
    for _ in range(2 * num_perm):
        draws.append((_rotl((s[0] + s[3]) & _M64, 23) + s[0]) & _M64)
        t = (s[1] << 17) & _M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
    a = np.array(draws[0::2], dtype=np.uint64) | np.uint64(1)
    b = np.array(draws[1::2], dtype=np.uint64)
    return a, b


def native_signatures(shingles: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """(n, num_perm) uint32: what ``rensa.RMinHash.digest_matrix_from_flat_token_hashes(shingles, offsets,
    num_perm, seed).to_rows()`` gives; needs `qdc._native.AVAILABLE`."""
    from qdc._native import hashing

    assert hashing is not None, "the compiled kernels are not built"
    offs = np.ascontiguousarray(offsets, dtype=np.int64)
    out = np.empty((offs.shape[0] - 1, num_perm), dtype=np.uint32)
    a, b = permutations(num_perm, seed)
    hashing.signatures(np.ascontiguousarray(shingles, dtype=np.uint64), offs, a, b, out)
    return out


def native_index(
    texts: pl.Series, ngram: int, steps: tuple[Step, ...], num_perm: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(signatures (n, num_perm) uint32, shingles per row, low 32 bits of every row's shingle hashes) of
    `texts`: `shingle_hashes` + `signatures` + the Jaccard cache of `qdc.dedup.minhash`, in one pass of the
    compiled kernel over the rows (scratch space reused row by row, no whole-chunk word or 64-bit shingle
    arrays). Needs `qdc._native.AVAILABLE`."""
    from qdc._native import hashing
    from qdc._native.tokens import joined_text, kernel_tables
    from qdc.dedup.normalize import _WORD_BYTE, word_text

    assert hashing is not None, "the compiled kernels are not built"
    text, byte_map = word_text(texts, steps)
    joined, offsets = joined_text(text)
    n = offsets.shape[0] - 1
    sig = np.empty((n, num_perm), dtype=np.uint32)
    counts = np.empty(n, dtype=np.int64)
    low = np.empty(len(joined) // 2 + n + 1, dtype=np.uint32)
    a, b = permutations(num_perm, seed)
    table, mapping = kernel_tables(_WORD_BYTE, byte_map)
    k = hashing.index_rows(joined, offsets, table, mapping, ngram, a, b, sig, counts, low)
    return sig, counts, low[:k]
