"""The Vendi score and its q-orders (Friedman & Dieng 2023; Pasarkar & Dieng 2024), algorithms.md §3.1.

VS_q = Hill number of order q of the eigenvalues of K / n (K a PSD similarity with unit diagonal):
(sum p^q)^(1 / (1 - q)); q = 1 is exp(Shannon entropy), q = inf is 1 / max p, q = 0 the rank.
For the cosine kernel on embeddings the nonzero eigenvalues of X X^T / n equal those of the d x d matrix
X^T X / n, so the cost is O(n d^2) and memory O(d^2) (`vendi_embeddings`). Eigenvalues below
max(n, d) * eps * max eigenvalue are round-off and are set to 0 (then renormalised); without this, q < 1
counts noise as diversity (VS_0.1 of n identical rows would exceed 1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import numpy as np

ORDERS: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, float("inf"))
CHUNK = 4096  # rows per block when accumulating X^T X (fits in L2/L3 cache)


def order_key(q: float) -> str:
    """The JSON key of an order: "0.1", "0.5", "1", "2", "inf"."""
    if np.isinf(q):
        return "inf"
    return str(int(q)) if float(q).is_integer() else repr(float(q))


def clip_eigenvalues(eigs: np.ndarray, n: int, d: int) -> np.ndarray:
    """Negative and round-off eigenvalues to 0, the rest normalised to sum 1."""
    lam = np.asarray(eigs, dtype=np.float64)
    lam = np.where(lam > 0, lam, 0.0)
    top = float(lam.max()) if lam.size else 0.0
    if top <= 0:
        return np.zeros(0)
    tol = max(n, d) * np.finfo(np.float64).eps * top
    lam = lam[lam > tol]
    return np.asarray(lam / lam.sum())


def hill(p: np.ndarray, q: float) -> float:
    """Hill number of order q of a probability vector with no zeros."""
    if p.size == 0:
        return 0.0
    if q == 0:
        return float(p.size)
    if q == 1:
        return float(np.exp(-np.sum(p * np.log(p))))
    if np.isinf(q):
        return float(1.0 / p.max())
    return float(np.exp(np.log(np.sum(p**q)) / (1.0 - q)))


def vendi_from_eigenvalues(eigs: np.ndarray, n: int, d: int, qs: Iterable[float] = ORDERS) -> dict[float, float]:
    """{q: VS_q} from raw eigenvalues of K / n (or of the d x d dual)."""
    if n == 0:
        return dict.fromkeys(qs, 0.0)
    p = clip_eigenvalues(eigs, n, d)
    return {q: hill(p, q) for q in qs}


def vendi_kernel(k: np.ndarray, q: float = 1.0) -> float:
    """VS_q of an n x n similarity matrix with unit diagonal (primal route, O(n^3))."""
    k = np.asarray(k, dtype=np.float64)
    n = k.shape[0]
    if n == 0:
        return 0.0
    eigs = np.linalg.eigvalsh((k + k.T) / (2.0 * n))
    return vendi_from_eigenvalues(eigs, n, n, (q,))[q]


def gram_dual(x: np.ndarray, normalise: bool = True) -> np.ndarray:
    """X^T X / n in float64, accumulated in row blocks (rows L2-normalised first when `normalise`)."""
    return gram_and_sum(x, normalise)[0]


def gram_and_sum(
    x: np.ndarray, normalise: bool = True, dtype: type[np.floating[Any]] = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """X^T X / n and the sum of the rows (L2-normalised first when `normalise`), float64, in one pass over
    row blocks: the sum gives the mean pairwise cosine for free (`embedding.mpcd_from_sum`).

    ``dtype=np.float32`` multiplies each block in float32 (sgemm, about 1.7x faster here) and sums only
    CHUNK rows before the float64 total: on 100k x 384 real-text embeddings every Vendi order agreed with
    the float64 product to 1e-8 relative (`qdc diversity` uses it; the default stays float64).
    """
    n, d = x.shape
    s = np.zeros((d, d), dtype=np.float64)
    total = np.zeros(d, dtype=np.float64)
    buf = np.empty((min(n, CHUNK), d), dtype=dtype)  # one block buffer, reused
    with _one_blas_thread():
        for start in range(0, n, CHUNK):
            total += _accumulate(s, x[start : start + CHUNK], normalise, buf)
    return np.asarray(s / max(n, 1)), total


def _accumulate(s: np.ndarray, rows: np.ndarray, normalise: bool, buf: np.ndarray) -> np.ndarray:
    """Add the block's B^T B to `s` and return its column sums, B = the rows in buf's dtype (normalised)."""
    block = buf[: rows.shape[0]]
    block[...] = rows
    if normalise:
        norms = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64))
        block /= np.where(norms > 0, norms, 1.0).astype(buf.dtype)[:, None]
    s += block.T @ block
    return np.asarray(block.sum(axis=0, dtype=np.float64))


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """BLAS limited to one thread while accumulating: the blocks are too small for threads to pay off, and
    on a busy machine the threads' spin-waiting made the sum 4-10x slower (measured: 0.5 s vs 2-6 s for
    100k x 384 on 2 cores)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    limits: contextlib.AbstractContextManager[object] = threadpool_limits(1, user_api="blas")
    return limits


def vendi_embeddings(x: np.ndarray, qs: Iterable[float] = ORDERS, normalise: bool = True) -> dict[float, float]:
    """{q: VS_q} with the cosine kernel on the rows of `x`: the d x d route when d < n, else n x n."""
    x = np.asarray(x)
    qs = tuple(qs)
    if x.ndim != 2:
        raise ValueError("expected an (n, d) matrix")
    n, d = x.shape
    if n == 0:
        return dict.fromkeys(qs, 0.0)
    if d < n:
        eigs = np.linalg.eigvalsh(gram_dual(x, normalise))
    else:
        xx = np.asarray(x, dtype=np.float64)
        if normalise:
            norms = np.linalg.norm(xx, axis=1, keepdims=True)
            xx = xx / np.where(norms > 0, norms, 1.0)
        eigs = np.linalg.eigvalsh(xx @ xx.T / n)
    return vendi_from_eigenvalues(eigs, n, d, qs)


def intdiv_kernel(k: np.ndarray) -> float:
    """Internal diversity 1 - mean(K) over all pairs, diagonal included (vendi-score's intdiv_K, q=1)."""
    k = np.asarray(k, dtype=np.float64)
    return float(1.0 - k.mean()) if k.size else 0.0
