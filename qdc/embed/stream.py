"""Embeddings of a large input written to a memory-mapped ``.npy`` (the input of `qdc scale select`).

Two passes: the first counts the rows (hidden columns only), the second embeds batch by batch with
`qdc.embed.embed_texts` (cache and model as in `qdc embed`) and writes each batch's rows into the file,
releasing the written pages. Rows that already carry `qdc_embedding` are copied, not re-embedded (unless
`force`). Row i of the file embeds row i of the input.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from qdc import schema
from qdc.embed import EmbedConfig, Embedder
from qdc.errors import DataError
from qdc.io import IOConfig, atomic_path, embeddings_of
from qdc.progress import progress
from qdc.scale import memory
from qdc.scale.reader import DEFAULT_BATCH_ROWS, iter_batches, sample_lines
from qdc.scale.store import create, release

FIELD_COLUMNS = schema.PART_COLUMNS


def estimate(
    path: str, cfg: EmbedConfig, dtype: str, batch_rows: int, max_memory: int | None, backend: str = "local"
) -> tuple[memory.Estimate, int]:
    """(estimate, batch rows) for embedding `path`, the batch shrunk to fit --max-memory."""
    rows, row_bytes = sample_lines(path)
    width = 2 if dtype == "float16" else 4
    return memory.plan(
        lambda b: memory.embed_estimate(rows, row_bytes, b, cfg.model, width, backend == "ray"), batch_rows, max_memory
    )


def stream_embed(
    path: str,
    out: str | os.PathLike[str],
    embed_cfg: EmbedConfig | None = None,
    io_cfg: IOConfig | None = None,
    *,
    dtype: str = "float16",
    batch_rows: int = DEFAULT_BATCH_ROWS,
    embedder: Embedder | None = None,
    backend: str = "local",
    ray_workers: int = 2,
    ray_address: str | None = None,
    max_memory: int | None = None,
    on_estimate: memory.OnEstimate | None = None,
) -> dict[str, Any]:
    """Embed every row of `path` into the (n, d) ``.npy`` `out`; returns rows, dim, dtype and seconds.

    With ``backend="ray"`` each batch is embedded as a Ray Data `map_batches` over `ray_workers`
    model-holding workers (a local Ray instance, or the cluster at `ray_address`); the file is the local one.
    `max_memory` shrinks the batches to fit the estimate, or refuses (ConfigError) when nothing fits.
    """
    cfg = embed_cfg or EmbedConfig()
    est, fitted = estimate(path, cfg, dtype, batch_rows, max_memory, backend)
    memory.announce(est, fitted, batch_rows, max_memory, on_estimate)
    batch_rows = fitted
    if backend == "ray":
        from qdc.scale import ray as ray_backend

        ray_backend.init(ray_address, ray_workers)
    io_cfg = io_cfg or IOConfig()
    t0 = time.perf_counter()
    n = sum(b.height for b in iter_batches(path, io_cfg, batch_rows, user_columns=False))
    column = FIELD_COLUMNS[cfg.field]
    with atomic_path(out) as tmp:  # renamed into place only when complete, like every qdc output
        _fill(path, io_cfg, batch_rows, cfg, embedder, tmp, n, column, dtype, backend, ray_workers)
    dim = int(np.load(str(out), mmap_mode="r").shape[1])
    return {
        "rows": n,
        "dim": dim,
        "dtype": dtype,
        "path": str(out),
        "backend": backend,
        "batch_rows": batch_rows,
        "bytes": int(os.path.getsize(out)),
        "seconds": round(time.perf_counter() - t0, 3),
        "estimate": {"rows": est.rows, "memory_bytes": est.memory, "text": est.describe()},
    }


def _fill(
    path: str,
    io_cfg: IOConfig,
    batch_rows: int,
    cfg: EmbedConfig,
    embedder: Embedder | None,
    tmp: Path,
    n: int,
    column: str,
    dtype: str = "float16",
    backend: str = "local",
    ray_workers: int = 2,
) -> None:
    from qdc.embed import embed_texts

    x: np.memmap | None = None
    start = 0
    for batch in iter_batches(path, io_cfg, batch_rows, user_columns=True):
        if schema.EMBEDDING in batch.columns and not cfg.force:
            v = embeddings_of(batch)
        else:
            texts = batch[column].cast(str).fill_null("").to_list()
            if backend == "ray":
                from qdc.scale.ray import embed_texts_ray

                v = embed_texts_ray(texts, cfg, ray_workers)
            else:
                v = embed_texts(texts, cfg, embedder)
        if x is None:
            x = create(tmp, n, v.shape[1], dtype)
        if v.shape[1] != x.shape[1]:
            raise DataError(f"{path}: embeddings change size at row {start + 1} ({v.shape[1]} != {x.shape[1]})")
        x[start : start + v.shape[0]] = v
        x.flush()
        release(x, start, start + v.shape[0])
        start += v.shape[0]
        progress("scale embed", start, n)
    if x is None or start != n:
        raise DataError(f"{path}: the input changed during the run ({n} rows counted, {start} embedded)")
    x.flush()
    del x
