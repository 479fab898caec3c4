"""Near-duplicates by MinHash-LSH over word n-gram shingles, verified by true Jaccard.

Pipeline (all vectorised; the only per-document Python is none on the hot path):

1. tokens: ``\\w+`` runs of the NFKC-lower-cased text (polars), each distinct word hashed once (xxh3-64);
2. shingles: word n-grams hashed by mixing the n word hashes in numpy; a row with fewer than n words gets one
   shingle of all its words (so short rows are still compared), a row with no words gets none and is skipped;
3. signatures: ``rensa`` (Rust) from the flat shingle-hash buffer, or datasketch ``MinHash.bulk`` (slower,
   same estimator) with ``backend="datasketch"``;
4. LSH: bands x rows derived from the threshold, band keys mixed in numpy, candidate pairs from equal keys;
5. verification: a candidate pair is a duplicate when the true Jaccard of the two shingle sets reaches the
   threshold (or, with ``verify=False``, the signature estimate does).

Work is done in chunks of rows so that only the signatures (4 bytes x num_perm per row) and band keys
(8 bytes x bands per row) are held for the whole input.
"""

from __future__ import annotations

import array
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from qdc.dedup.jaccard import ShingleSets, ragged_gather
from qdc.dedup.lsh import band_keys, band_params, candidate_pairs
from qdc.dedup.normalize import Step, word_hash_array
from qdc.dedup.rminhash import native_index, native_signatures
from qdc.progress import progress

Backend = Literal["rensa", "datasketch"]
CHUNK_ROWS = 8192
CACHE_SHINGLES = 1 << 25  # up to 128 MB of 32-bit shingle hashes kept for the Jaccard check

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class MinHashParams:
    """Everything that decides which pairs count as near-duplicates."""

    threshold: float = 0.8
    num_perm: int = 128
    ngram: int = 3
    bands: int | None = None
    rows: int | None = None
    verify: bool = True
    seed: int = 0
    backend: Backend = "rensa"
    steps: tuple[Step, ...] = ("nfkc", "case")
    threads: int | None = None
    """Chunks indexed at once (None: `default_threads()`); it changes the speed, never the pairs."""

    def band_rows(self) -> tuple[int, int]:
        """(bands, rows): the explicit values, else derived from the threshold.

        With verification, false positives only cost a Jaccard check, so the derivation weighs missed pairs
        9:1 against spurious candidates; without it, 1:1 (the datasketch criterion).
        """
        if self.bands and self.rows:
            return self.bands, self.rows
        fp, fn = (0.1, 0.9) if self.verify else (0.5, 0.5)
        b, r = band_params(self.threshold, self.num_perm, fp, fn)
        if self.bands:
            return self.bands, max(1, self.num_perm // self.bands)
        if self.rows:
            return max(1, self.num_perm // self.rows), self.rows
        return b, r


def _mix(h: np.ndarray) -> np.ndarray:
    h ^= h >> np.uint64(31)
    h *= _M2
    h ^= h >> np.uint64(29)
    h *= _M3
    h ^= h >> np.uint64(32)
    return h


def shingle_hashes(
    texts: pl.Series, ngram: int, steps: tuple[Step, ...] = ("nfkc", "case")
) -> tuple[np.ndarray, np.ndarray]:
    """Flat uint64 shingle hashes of all rows and the (n + 1) row offsets into them.

    Shingles of a row may repeat; MinHash and the Jaccard check treat them as a set.
    """
    w, lens = word_hash_array(texts, steps)
    n_rows = lens.shape[0]
    counts = np.where(lens >= ngram, lens - ngram + 1, np.minimum(lens, 1))
    offsets = np.zeros(n_rows + 1, dtype=np.uint64)
    np.cumsum(counts, out=offsets[1:])
    from qdc._native import hashing

    if hashing is not None:  # the compiled kernel: the same values as the numpy code below
        out = np.empty(int(offsets[-1]), dtype=np.uint64)
        hashing.shingles(w, lens.astype(np.int64, copy=False), ngram, out)
        return out, offsets
    return _mix(_numpy_shingles(w, lens, counts, ngram)), offsets


def _numpy_shingles(w: np.ndarray, lens: np.ndarray, counts: np.ndarray, ngram: int) -> np.ndarray:
    """Unmixed shingle hashes of every row (`shingle_hashes` without the compiled kernel)."""
    n_rows = lens.shape[0]
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.uint64)
    ends = np.cumsum(lens)
    starts = ends - lens
    # Full shingles: mix the ngram word hashes from every position of the flat word array at once (contiguous
    # slices, no gathers), then keep the positions whose n-gram lies inside one row.
    full = lens >= ngram
    h = np.zeros(0, dtype=np.uint64)
    if total >= ngram:
        span = total - ngram + 1
        h = np.full(span, _M1, dtype=np.uint64)
        for k in range(ngram):
            h *= _M1
            h ^= w[k : k + span]
        row_of = np.repeat(np.arange(n_rows, dtype=np.int32), lens)
        h = h[row_of[:span] == row_of[ngram - 1 :]]
    # A row shorter than ngram (but not empty) has one shingle of all its words.
    short = np.flatnonzero(~full & (lens > 0))
    if short.size:
        hs = np.full(short.shape[0], _M1, dtype=np.uint64)
        for k in range(ngram - 1):
            inside = k < lens[short]
            hs = np.where(inside, (hs * _M1) ^ w[np.minimum(starts[short] + k, total - 1)], hs)
        out = np.empty(int(counts.sum()), dtype=np.uint64)
        first = np.cumsum(counts) - counts
        is_short = np.zeros(out.shape[0], dtype=bool)
        is_short[first[short]] = True
        out[is_short] = hs
        out[~is_short] = h
        h = out
    return h


def _uint32_rows(rows: list[list[int]], n: int, width: int) -> np.ndarray:
    """The (n, width) uint32 matrix of equal-length lists of ints: appended to a C array list by list, about
    half the time of ``np.asarray(rows)`` (rensa's digests leave Rust only as Python lists)."""
    buf = array.array("I")
    if buf.itemsize != 4:  # C unsigned int is 32 bits on every platform numpy supports; just in case
        return np.asarray(rows, dtype=np.uint32).reshape(n, width)
    for row in rows:
        buf.extend(row)
    return np.frombuffer(buf, dtype=np.uint32).reshape(n, width)


def signatures(
    shingles: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int, backend: Backend = "rensa"
) -> np.ndarray:
    """(n, num_perm) MinHash signatures; rows without shingles get an all-max signature (never banded)."""
    n = offsets.shape[0] - 1
    if backend == "rensa":
        from qdc._native import hashing

        if hashing is not None:  # rensa's values, computed by qdc's kernel into an array (see qdc.dedup.rminhash)
            return native_signatures(shingles, offsets, num_perm, seed)
        import rensa

        mat = rensa.RMinHash.digest_matrix_from_flat_token_hashes(shingles, offsets, num_perm, seed)
        return _uint32_rows(mat.to_rows(), n, num_perm)
    from datasketch import MinHash

    bounds = offsets.astype(np.int64)
    sets = [shingles[bounds[i] : bounds[i + 1]].tolist() for i in range(n)]
    hashes = MinHash.bulk(sets, num_perm=num_perm, seed=seed, hashfunc=lambda x: x & 0xFFFFFFFF)
    return (
        np.vstack([m.hashvalues for m in hashes]).astype(np.uint64) if n else np.zeros((0, num_perm), dtype=np.uint64)
    )


@dataclass
class MinHashIndex:
    """Signatures, band keys and shingle counts of a set of rows, and (when small enough) their shingles."""

    sig: np.ndarray
    keys: np.ndarray
    counts: np.ndarray
    shingles: np.ndarray | None = None
    """Low 32 bits of every row's shingle hashes (offsets = cumsum of counts), kept for the Jaccard check."""


def _index_chunk(part: pl.Series, params: MinHashParams) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    bands, rows = params.band_rows()
    from qdc._native import hashing

    if hashing is not None and params.backend == "rensa":  # the same arrays, in one pass of compiled code
        sig, count, low = native_index(part, params.ngram, params.steps, params.num_perm, params.seed)
        return sig, band_keys(sig, bands, rows), count, low
    sh, off = shingle_hashes(part, params.ngram, params.steps)
    sig = signatures(sh, off, params.num_perm, params.seed, params.backend)
    return sig, band_keys(sig, bands, rows), np.diff(off.astype(np.int64)), sh.astype(np.uint32)


def default_threads() -> int:
    """Chunks indexed at once: 2 where the process may use 2 or more CPUs, else 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return min(2, cpus)


def _chunk_bounds(n: int, workers: int) -> list[tuple[int, int]]:
    """(start, length) of chunks of at most CHUNK_ROWS rows, as many as a multiple of `workers` and of about
    equal size, so that no worker is left with the last chunk alone."""
    count = -(-n // CHUNK_ROWS)
    count = -(-count // workers) * workers
    size = max(1, -(-n // max(count, 1)))
    return [(start, min(size, n - start)) for start in range(0, n, size)]


def build_index(texts: pl.Series, params: MinHashParams, threads: int | None = None) -> MinHashIndex:
    """Signatures and band keys for every row, chunk by chunk.

    `threads` chunks are indexed at once (default: `params.threads`, else `default_threads()`); numpy, polars
    and rensa release the GIL for most of the work, and the results are assembled in input order, so the index
    is the same for any number of threads (tested). Two threads cost about 7% more CPU (page faults and
    contention) for the overlap.
    """
    bands, _ = params.band_rows()
    n = texts.len()
    sigs: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    cached: list[np.ndarray] | None = [] if params.verify else None
    held = done = 0
    workers = max(1, threads or params.threads or default_threads())
    chunks = [texts.slice(start, size) for start, size in _chunk_bounds(n, workers)]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(chunks)))) as pool:
        for sig, key, count, sh in pool.map(lambda c: _index_chunk(c, params), chunks):
            sigs.append(sig)
            keys.append(key)
            counts.append(count)
            held += sh.shape[0]
            if cached is not None:
                # Beyond CACHE_SHINGLES the Jaccard check re-shingles the candidate rows instead.
                cached = [*cached, sh] if held <= CACHE_SHINGLES else None
            done += count.shape[0]
            progress("minhash", done, n)
    if not sigs:
        dtype = np.uint32 if params.backend == "rensa" else np.uint64
        return MinHashIndex(
            np.zeros((0, params.num_perm), dtype), np.zeros((0, bands), np.uint64), np.zeros(0, np.int64)
        )
    shingles = np.concatenate(cached) if cached else None
    return MinHashIndex(np.concatenate(sigs), np.concatenate(keys), np.concatenate(counts), shingles)


def shingle_sets(texts: pl.Series, params: MinHashParams, index: MinHashIndex, rows: np.ndarray) -> ShingleSets:
    """Shingle sets of `rows`, from the index's cache or by shingling those rows again."""
    from qdc._native import hashing

    if index.shingles is not None:
        offsets = np.zeros(index.counts.shape[0] + 1, dtype=np.int64)
        np.cumsum(index.counts, out=offsets[1:])
        if hashing is not None:  # the compiled pair_jaccard reads each row's segment where it is: no gather
            return ShingleSets(None, index.shingles, offsets)
    rows = np.unique(rows)
    if index.shingles is not None:
        values, off = ragged_gather(index.shingles, offsets, rows)
        return ShingleSets(rows, values, off)
    parts: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for start in range(0, rows.shape[0], CHUNK_ROWS):
        sh, off = shingle_hashes(texts.gather(rows[start : start + CHUNK_ROWS]), params.ngram, params.steps)
        parts.append(sh.astype(np.uint32))
        counts.append(np.diff(off.astype(np.int64)))
    offsets = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=offsets[1:])
    values = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)
    return ShingleSets(rows, values, offsets)


def estimated_jaccard(sig: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Fraction of equal signature values for each pair (the MinHash estimate of Jaccard)."""
    out = np.empty(i.shape[0], dtype=np.float64)
    for s in range(0, i.shape[0], 65536):
        out[s : s + 65536] = (sig[i[s : s + 65536]] == sig[j[s : s + 65536]]).mean(axis=1)
    return out


@dataclass
class MinHashMatches:
    """Verified duplicate pairs (i < j) with their similarity, and the number of LSH candidates."""

    i: np.ndarray
    j: np.ndarray
    sim: np.ndarray
    candidates: int
    sets: ShingleSets | None
    sig: np.ndarray | None = None

    def sim_to(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Similarity of rows a[k] and b[k]: true Jaccard when verified, else the signature estimate.

        Both rows must be part of some candidate pair (true for every member and keeper of a group).
        """
        if a.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        if self.sets is not None:
            return self.sets.jaccard(a, b)
        if self.sig is None:
            return np.zeros(a.shape[0], dtype=np.float64)
        return estimated_jaccard(self.sig, a, b)


def find_pairs(texts: pl.Series, params: MinHashParams) -> MinHashMatches:
    """Candidate pairs from LSH, kept when their (true or estimated) Jaccard reaches the threshold."""
    index = build_index(texts, params)
    valid = np.flatnonzero(index.counts > 0)
    ci, cj = candidate_pairs(index.keys[valid])
    ci, cj = valid[ci], valid[cj]
    if ci.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return MinHashMatches(empty, empty, np.zeros(0), 0, None)
    if not params.verify:
        sim = estimated_jaccard(index.sig, ci, cj)
        keep = sim >= params.threshold
        return MinHashMatches(ci[keep], cj[keep], sim[keep], int(ci.shape[0]), None, index.sig)
    sets = shingle_sets(texts, params, index, np.concatenate([ci, cj]))
    sim = sets.jaccard(ci, cj)
    keep = sim >= params.threshold - 1e-12
    return MinHashMatches(ci[keep], cj[keep], sim[keep], int(ci.shape[0]), sets)


def memory_bytes(n: int, params: MinHashParams) -> int:
    """Bytes held for the whole input: signatures + band keys + shingle counts (chunk work space aside)."""
    bands, _ = params.band_rows()
    per_value = 4 if params.backend == "rensa" else 8
    return n * (per_value * params.num_perm + 8 * bands + 8)
