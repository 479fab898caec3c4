"""The compression ratio of a corpus (`lexical.compression_ratio`: gzip level 9 of the texts joined by spaces),
deflated in primed pieces on several threads, on a stated sample above a size."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

_CHUNK = 1 << 20  # bytes per deflate chunk up to 2 x the sample size
_BLOCK = 1 << 16  # bytes per sampled block above it
_PRIME = 1 << 15  # bytes before each deflated piece that prime its window (deflate's whole window)
SAMPLE_BYTES = 4 << 20  # `compression` compresses at most this much of a larger text (a stated sample)


def compression_sample_bytes(nbytes: int, max_bytes: int | None = SAMPLE_BYTES) -> int | None:
    """The bytes `compression` deflates when it samples a text of `nbytes` bytes, None when it
    deflates them all (up to 2 x max_bytes, or max_bytes None)."""
    if max_bytes is None or nbytes <= 2 * max_bytes:
        return None
    return max(1, max_bytes // _BLOCK) * _BLOCK


def compression(
    texts: pl.Series | Sequence[str | None], threads: int | None = None, max_bytes: int | None = SAMPLE_BYTES
) -> tuple[float, int | None]:
    """`lexical.compression_ratio` (gzip level 9 of the texts joined by spaces) and the bytes it deflated when
    it sampled (`compression_sample_bytes`, else None), deflated in pieces, each primed with the 32 KiB before
    it (as pigz does), on several threads.

    Up to 2 x `max_bytes` (or with ``max_bytes=None``) every byte is compressed, in 1 MiB chunks: up to 1 MiB
    the size is gzip's exactly, above it the chunk seams cost a few bytes each (-0.008% of the ratio on 32 MB).
    Above that, a stated sample: `max_bytes` / 64 KiB blocks spaced evenly over the whole text (a stratified
    sample, so every part of a corpus made of several sources counts by its size), each primed with the
    32 KiB before it, so a block compresses as it would inside the whole stream; the ratio of their sums.
    Only the rows under a block and its prime are joined (the whole join was 32 MB of copies at 100k rows).
    At 4 MiB it was within 0.14% of the exact ratio on the 32 MB real-text mix it was chosen on, and within
    1.3% on four others (the same texts shuffled, in reverse file order, sorted by length; 24 MB of 200-word
    documents with near-copies), for 0.28 s of CPU instead of 1.3-2.1 s; a contiguous 8 MiB head had been off
    by up to 13%. On the 17 MB of ../shared/data texts (questions only) in file order it is 3.4% low (0.4%
    shuffled, 0.8% sorted by length): the error of the sample is a few per cent, not a few per mille.
    """
    from qdc._native.tokens import joined_text

    s = texts if isinstance(texts, pl.Series) else pl.Series(list(texts), dtype=pl.String)
    s = s.cast(pl.String).fill_null("")
    lens = s.str.len_bytes().to_numpy().astype(np.int64) + 1  # each row and the space after it
    total = int(lens.sum()) - 1 if lens.size else 0
    if total <= 0:
        return 0.0, None
    sample = compression_sample_bytes(total, max_bytes)
    if sample is None:
        # the whole join (a sample joins only the rows under its blocks: the sizes above decide which path)
        view = memoryview(joined_text(s)[0])
        size, starts = _CHUNK, list(range(0, total, _CHUNK))

        def piece(lo: int, hi: int) -> bytes | memoryview:
            return view[lo:hi]
    else:
        stride = total / (sample // _BLOCK)
        size, starts = _BLOCK, [int((j + 0.5) * stride) - _BLOCK // 2 for j in range(sample // _BLOCK)]
        row_start = np.cumsum(lens) - lens

        def piece(lo: int, hi: int) -> bytes | memoryview:
            return joined_slice(s, row_start, lo, hi)

    sizes = _deflate_all(piece, starts, size, total, threads)
    raw_total = sum(r for r, _ in sizes)
    return raw_total / (sum(c for _, c in sizes) + 18), sample  # gzip: 10-byte header, 8-byte trailer


def _deflate_all(
    piece: Callable[[int, int], bytes | memoryview], starts: list[int], size: int, total: int, threads: int | None
) -> list[tuple[int, int]]:
    """(raw, deflated) bytes of each piece [start, start + size) of a `total`-byte text, primed with the
    `_PRIME` bytes before it; the last piece of the text ends the stream, the others a full flush."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    def deflate(start: int) -> tuple[int, int]:
        lo = max(0, start - _PRIME)
        data = piece(lo, start + size)
        prime, raw = bytes(data[: start - lo]), data[start - lo :]
        comp = (
            zlib.compressobj(9, zlib.DEFLATED, -15, zdict=prime) if prime else zlib.compressobj(9, zlib.DEFLATED, -15)
        )
        body = comp.compress(raw)
        tail = comp.flush(zlib.Z_FINISH if start + size >= total else zlib.Z_FULL_FLUSH)
        return len(raw), len(body) + len(tail)

    workers = max(1, min(threads or os.cpu_count() or 1, len(starts)))
    if workers == 1:
        return [deflate(i) for i in starts]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(deflate, starts))


def joined_slice(s: pl.Series, row_start: np.ndarray, lo: int, hi: int) -> bytes:
    """Bytes lo:hi of the rows of `s` joined by single spaces (UTF-8), joining only the rows they cover;
    row_start[i] is where row i begins in the whole join."""
    first = int(np.searchsorted(row_start, lo, side="right")) - 1  # the row that holds byte lo
    last = int(np.searchsorted(row_start, hi, side="left"))  # the first row that begins at or after hi
    joined: bytes = s.slice(first, last - first + 1).str.join(" ").cast(pl.Binary).item()
    base = int(row_start[first])
    return joined[lo - base : hi - base]
