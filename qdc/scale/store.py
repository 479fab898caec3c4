"""Embeddings in a memory-mapped ``.npy`` file, so an (n, d) matrix never has to fit in RAM.

The file is a plain NumPy ``.npy`` (float16 halves the disk and page-cache footprint; float32 is exact).
Readers take row ranges (`block`) as float32 copies; `release` tells the kernel the process no longer
needs the pages of a range, so a sequential scan does not grow the resident set by the whole file.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterator

import numpy as np

from qdc.errors import ConfigError, DataError, opening

DTYPES = {"float16": np.float16, "float32": np.float32}


def create(path: str | os.PathLike[str], n: int, dim: int, dtype: str = "float16") -> np.memmap:
    """A new writable (n, dim) memory-mapped ``.npy`` file."""
    if dtype not in DTYPES:
        raise ConfigError(f"embedding dtype {dtype!r}: expected float16 or float32")
    out: np.memmap = np.lib.format.open_memmap(str(path), mode="w+", dtype=DTYPES[dtype], shape=(n, dim))
    return out


def open_store(path: str | os.PathLike[str], rows: int | None = None) -> np.memmap:
    """Open an existing (n, d) ``.npy`` read-only; `rows` checks n against the input's row count."""
    try:
        with opening(path, DataError):
            x = np.load(str(path), mmap_mode="r")
    except ValueError as exc:
        raise DataError(f"{path}: not a .npy file ({exc})") from None
    if x.ndim != 2 or x.dtype not in (np.float16, np.float32):
        raise DataError(f"{path}: expected a 2-d float16 or float32 array, got {x.dtype} {x.shape}")
    if rows is not None and x.shape[0] != rows:
        raise DataError(f"{path}: {x.shape[0]} embedding rows for {rows} input rows (row i must embed row i)")
    assert isinstance(x, np.memmap)
    return x


def release(x: np.ndarray, start: int, stop: int) -> None:
    """Drop the resident pages of rows [start, stop) of a read-only memmap (they stay in the page cache)."""
    mm = getattr(x, "_mmap", None)
    if mm is None or not hasattr(mm, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    # np.memmap maps from the offset rounded down to the allocation granularity.
    offset = int(getattr(x, "offset", 0)) % mmap.ALLOCATIONGRANULARITY
    row_bytes = int(np.prod(x.shape[1:], dtype=np.int64)) * x.dtype.itemsize
    lo = offset + start * row_bytes
    hi = offset + stop * row_bytes
    page = mmap.PAGESIZE
    lo_aligned = (lo // page + 1) * page if lo % page else lo  # only whole pages inside the range
    hi_aligned = (hi // page) * page
    if hi_aligned > lo_aligned:
        # Not every platform allows it on file mappings; it is only a hint.
        with contextlib.suppress(OSError, ValueError):
            mm.madvise(mmap.MADV_DONTNEED, lo_aligned, hi_aligned - lo_aligned)


def release_all(x: np.ndarray) -> None:
    """Drop every resident page of a read-only memmap (after a scattered read such as a gather)."""
    if x.shape[0]:
        release(x, 0, x.shape[0])


GATHER_ROWS = 1024
"""Rows gathered per step: a page fault maps its neighbours too (fault-around, readahead), so a scattered
gather over a whole file would otherwise make most of the file resident before it could be released."""


def gather(x: np.ndarray, rows: np.ndarray, dtype: type | None = None) -> np.ndarray:
    """x[rows] for sorted `rows`, `GATHER_ROWS` at a time, releasing each step's span of the memmap."""
    out = np.empty((rows.shape[0], *x.shape[1:]), dtype=dtype or x.dtype)
    for s in range(0, rows.shape[0], GATHER_ROWS):
        part = rows[s : s + GATHER_ROWS]
        out[s : s + part.shape[0]] = x[part]
        release(x, int(part[0]), int(part[-1]) + 1)
    return out


def ragged_gather(values: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`qdc.dedup.jaccard.ragged_gather` over a memory-mapped `values`, for sorted `rows`, step by step."""
    from qdc.dedup.jaccard import ragged_gather as gather_all

    offsets = offsets.astype(np.int64, copy=False)
    lens = offsets[rows + 1] - offsets[rows]
    new_off = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    np.cumsum(lens, out=new_off[1:])
    out = np.empty(int(new_off[-1]), dtype=values.dtype)
    for s in range(0, rows.shape[0], GATHER_ROWS):
        part = rows[s : s + GATHER_ROWS]
        vals, _ = gather_all(values, offsets, part)
        out[new_off[s] : new_off[s] + vals.shape[0]] = vals
        release(values, int(offsets[part[0]]), int(offsets[part[-1] + 1]))
    return out, new_off


def blocks(
    x: np.ndarray, block_rows: int = 65_536, lo: int = 0, hi: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """(start, float32 copy of rows [start, start + block_rows)) over rows [lo, hi) (default: all), releasing
    as it goes."""
    n = x.shape[0] if hi is None else min(hi, x.shape[0])
    for start in range(lo, n, block_rows):
        stop = min(n, start + block_rows)
        yield start, np.ascontiguousarray(x[start:stop], dtype=np.float32)
        release(x, start, stop)
