"""Label agreement: how far a row's label matches the labels of its nearest neighbours in embedding space.

For labelled rows (synthetic classification data, where the generator's text often does not match the
label it was asked for), a row whose k nearest neighbours carry other labels is mislabeled or ambiguous;
this is k-NN label-noise detection (Bahri, Jiang and Gupta 2020, "Deep k-NN for Noisy Labels").

    agreement_i = sum_{j in kNN(i)} w(y_j) [y_j == y_i] / sum_{j in kNN(i)} w(y_j),   w(y) = 1 / freq(y)

Neighbours are the k most cosine-similar other labelled rows: exact inner-product search in chunks up to
`exact_max_rows` labelled rows, above it an inverted-file index (faiss IVF-Flat, 4·sqrt(n) lists trained
on a seeded sample, 16 probed per query), which finds nearly the same neighbours in a small fraction of
the time. Each neighbour is weighted by the inverse frequency of its label, so a row of a rare class
is not marked down only because most rows around it belong to the common one: with two balanced labels
0.5 is chance, 1 means every neighbour agrees. Rows without a label get null and are nobody's neighbour.
Cost on two cores, 384-d: 35.6 s for 100k rows (exact, growing with n squared), 194 s for 1M (IVF).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

EXACT_MAX_ROWS = 100_000
PROBES = 16


def neighbour_index(xs: np.ndarray, exact_max_rows: int, seed: int = 0) -> Any:
    """A faiss inner-product index over `xs`: flat (exact) up to `exact_max_rows` rows, else IVF-Flat."""
    import faiss

    n, d = xs.shape
    if n <= exact_max_rows:
        index = faiss.IndexFlatIP(d)
        index.add(xs)
        return index
    nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))  # faiss wants >= 39 training rows a list
    quantizer = faiss.IndexFlatIP(d)
    ivf = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    # Train on a seeded sample (64 rows a list) so the lists, hence the neighbours, repeat run to run.
    sample = np.random.default_rng(seed).choice(n, size=min(n, 64 * nlist), replace=False)
    ivf.cp.seed = seed
    ivf.train(xs[np.sort(sample)])
    ivf.add(xs)
    ivf.nprobe = min(PROBES, nlist)
    return ivf


def label_agreement(
    x: np.ndarray, labels: Sequence[object], k: int = 10, chunk: int = 4096, exact_max_rows: int = EXACT_MAX_ROWS
) -> np.ndarray:
    """Agreement in [0, 1] per row (NaN for rows whose label is None); see the module docstring."""
    n = x.shape[0]
    out = np.full(n, np.nan, dtype=np.float64)
    rows = np.asarray([i for i, lab in enumerate(labels) if lab is not None], dtype=np.int64)
    if rows.size < 2:
        return out
    text = [str(labels[i]) for i in rows.tolist()]
    code = {name: c for c, name in enumerate(sorted(set(text)))}
    y = np.asarray([code[t] for t in text], dtype=np.int64)
    weight = 1.0 / np.bincount(y, minlength=len(code)).astype(np.float64)
    if rows.size == n and x.dtype == np.float32 and x.flags.c_contiguous:
        xs = x  # every row labelled: search the matrix itself, no copy
    else:
        xs = np.ascontiguousarray(x[rows], dtype=np.float32)
    index = neighbour_index(xs, exact_max_rows)
    kk = min(k, rows.size - 1)
    agree = np.empty(rows.size, dtype=np.float64)
    for s in range(0, rows.size, chunk):
        q = xs[s : s + chunk]
        _, nn = index.search(q, kk + 1)
        own = np.arange(s, s + q.shape[0])[:, None]
        # Drop each row itself (it is usually, but with exact copies not always, the first hit).
        keep = (nn != own) & (nn >= 0)  # an IVF search can come back short (-1) in sparse lists
        first = np.cumsum(keep, axis=1) <= kk
        nn = np.where(keep & first, nn, -1)
        nb = np.where(nn >= 0, y[np.maximum(nn, 0)], -1)
        w = np.where(nn >= 0, weight[np.maximum(nb, 0)], 0.0)
        same = (nb == y[s : s + q.shape[0], None]) & (nn >= 0)
        total = w.sum(axis=1)
        agree[s : s + q.shape[0]] = np.where(total > 0, (w * same).sum(axis=1) / np.maximum(total, 1e-300), np.nan)
    out[rows] = agree
    return out
