"""Locality-sensitive hashing over MinHash signatures: bands x rows, the S-curve, candidate pairs.

A pair of documents with Jaccard similarity J becomes a candidate when all `r` signature values of at least
one of `b` bands agree: P(candidate | J) = 1 - (1 - J^r)^b (the S-curve).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

_P1 = np.uint64(0x9E3779B97F4A7C15)
_P2 = np.uint64(0xBF58476D1CE4E5B9)
_S29 = np.uint64(29)
_S32 = np.uint64(32)


def candidate_probability(j: float | np.ndarray, bands: int, rows: int) -> np.ndarray:
    """P(a pair at Jaccard `j` shares at least one band) = 1 - (1 - j^rows)^bands."""
    jj = np.asarray(j, dtype=np.float64)
    return np.asarray(1.0 - (1.0 - jj**rows) ** bands)


@functools.lru_cache(maxsize=64)
def band_params(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """The (bands, rows) with bands * rows <= num_perm that minimise the weighted error areas.

    False-positive area: the integral of the S-curve below `threshold`; false-negative area: the integral
    of 1 - S above it (the criterion datasketch and text-dedup use). Ties go to fewer bands, then fewer rows.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError("threshold must be in (0, 1)")
    lo: np.ndarray = np.linspace(0.0, threshold, 201)
    hi: np.ndarray = np.linspace(threshold, 1.0, 201)
    best: tuple[float, int, int] | None = None
    for b in range(1, num_perm + 1):
        rs = np.arange(1, num_perm // b + 1)
        if rs.size == 0:
            break
        p_lo = 1.0 - (1.0 - lo[None, :] ** rs[:, None]) ** b
        p_hi = 1.0 - (1.0 - hi[None, :] ** rs[:, None]) ** b
        fp = np.trapezoid(p_lo, lo, axis=1)
        fn = np.trapezoid(1.0 - p_hi, hi, axis=1)
        err = fp_weight * fp + fn_weight * fn
        k = int(np.argmin(err))
        if best is None or err[k] < best[0] - 1e-15:
            best = (float(err[k]), b, int(rs[k]))
    assert best is not None
    return best[1], best[2]


def s_curve(
    bands: int, rows: int, points: Sequence[float] = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
) -> list[dict[str, float]]:
    """P(candidate) at each Jaccard in `points`, rounded for display."""
    probs = candidate_probability(np.asarray(points), bands, rows)
    return [{"jaccard": float(j), "p_candidate": round(float(p), 4)} for j, p in zip(points, probs, strict=True)]


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64 keys: a mix of each band's `rows` signature values."""
    n = sig.shape[0]
    keys = np.empty((n, bands), dtype=np.uint64)
    from qdc._native import hashing

    if hashing is not None and sig.dtype == np.uint32 and sig.ndim == 2 and bands * rows <= sig.shape[1]:
        hashing.band_keys(np.ascontiguousarray(sig), sig.shape[1], bands, rows, keys)  # the same keys, compiled
        return keys
    s = sig.astype(np.uint64, copy=False)
    for b in range(bands):
        h = np.full(n, np.uint64((b * 0xBF58476D1CE4E5B9 + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
        for c in range(b * rows, (b + 1) * rows):
            h ^= s[:, c]
            h *= _P1
            h ^= h >> _S29
        h *= _P2
        h ^= h >> _S32
        keys[:, b] = h
    return keys


PAIR_CAP = 200
"""A bucket of more rows than PAIR_CAP + 1 yields only the pairs at most PAIR_CAP apart."""


def _band_pairs(col: np.ndarray, cap: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Index pairs (i < j) of rows sharing a key in one band.

    Rows are sorted by (key, index); every pair within a bucket is produced when the bucket has at most
    cap + 1 rows, otherwise only pairs at most `cap` apart in index order (huge buckets are near-copies
    that the other pairs connect anyway).
    """
    order = np.argsort(col, kind="stable")
    s = col[order]
    new = np.ones(s.shape[0], dtype=bool)
    new[1:] = s[1:] != s[:-1]
    run = np.cumsum(new) - 1
    sizes = np.bincount(run)
    dup = sizes[run] >= 2
    return run_pairs(order[dup], run[dup], cap)


def run_pairs(pos: np.ndarray, rid: np.ndarray, cap: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pairs (pos[a], pos[b]), a < b, of entries in the same run of `rid` (sorted), at most `cap` apart.

    Every pair of a run of up to cap + 1 entries; in a longer run only the pairs `cap` or fewer apart.
    """
    out_i: list[np.ndarray] = []
    out_j: list[np.ndarray] = []
    for d in range(1, cap + 1):
        if pos.shape[0] <= d:
            break
        same = rid[d:] == rid[:-d]
        if not same.any():
            break
        out_i.append(pos[:-d][same])
        out_j.append(pos[d:][same])
    return out_i, out_j


def candidate_pairs(keys: np.ndarray, cap: int = PAIR_CAP) -> tuple[np.ndarray, np.ndarray]:
    """Unique pairs (i < j) of rows that share at least one band key, sorted by (i, j)."""
    n = max(keys.shape[0], 1)
    from qdc._native import hashing

    if hashing is not None and keys.dtype == np.uint64 and keys.ndim == 2 and keys.shape[1] > 0:
        found = np.frombuffer(hashing.band_pairs(np.ascontiguousarray(keys), keys.shape[1], cap), dtype=np.uint64)
        codes = np.unique(found)  # the same pairs as the sorting code (tested)
    else:
        codes = _sorted_pair_codes(keys, cap)
    return (codes // np.uint64(n)).astype(np.int64), (codes % np.uint64(n)).astype(np.int64)


def _sorted_pair_codes(keys: np.ndarray, cap: int) -> np.ndarray:
    """Unique codes i * n + j (uint64, sorted) of the pairs of `candidate_pairs`, by sorting every band."""
    parts_i: list[np.ndarray] = []
    parts_j: list[np.ndarray] = []
    for b in range(keys.shape[1]):
        pi, pj = _band_pairs(keys[:, b], cap)
        parts_i += pi
        parts_j += pj
    if not parts_i:
        return np.zeros(0, dtype=np.uint64)
    i = np.concatenate(parts_i).astype(np.uint64)
    j = np.concatenate(parts_j).astype(np.uint64)
    return np.unique(i * np.uint64(keys.shape[0]) + j)
