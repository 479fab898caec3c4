"""Embeddings of a large input written to a memory-mapped ``.npy`` (the input of `qdc scale select`).

Two passes: the first counts the rows (hidden columns only), the second embeds batch by batch with
`qdc.embed.embed_texts` (cache and model as in `qdc embed`) and writes each batch's rows into the file,
releasing the written pages. Rows that already carry `qdc_embedding` are copied, not re-embedded (unless
`force`). Row i of the file embeds row i of the input.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from qdc import schema
from qdc.embed import EmbedConfig, Embedder
from qdc.errors import ConfigError, DataError
from qdc.io import IOConfig, atomic_path, embeddings_of
from qdc.io.read import iter_batches, sample_lines
from qdc.progress import progress
from qdc.scale import memory
from qdc.scale.options import RunOptions
from qdc.scale.ray import require_ray
from qdc.scale.store import DTYPES, create, release

FIELD_COLUMNS = schema.PART_COLUMNS


def stream_embed(
    path: str,
    out: str | os.PathLike[str],
    embed_cfg: EmbedConfig | None = None,
    io_cfg: IOConfig | None = None,
    *,
    dtype: str = "float16",
    run: RunOptions = RunOptions(),
    embedder: Embedder | None = None,
    on_estimate: memory.OnEstimate | None = None,
) -> dict[str, Any]:
    """Embed every row of `path` into the (n, d) ``.npy`` `out`; returns rows, dim, dtype and seconds.

    With ``run.backend="ray"`` each batch is embedded as a Ray Data `map_batches` over `run.ray_cpus`
    (default 2) model-holding workers (a local Ray instance, or the cluster at `run.ray_address`); the file is
    the local one. `run.max_memory` shrinks the batches to fit the estimate, or refuses (ConfigError).
    """
    if not str(out).endswith(".npy"):
        raise ConfigError(f"-o {out}: --stream writes a .npy file")
    if dtype not in DTYPES:
        raise ConfigError(f"--dtype {dtype!r}: expected float16 or float32")
    cfg = embed_cfg or EmbedConfig()
    rows, row_bytes = sample_lines(path)
    width = np.dtype(DTYPES[dtype]).itemsize
    est, batch_rows = run.plan(
        lambda b: memory.embed_estimate(rows, row_bytes, b, cfg.model, width, run.ray), on_estimate
    )
    workers = (run.ray_cpus or 2) if run.ray else None
    run.start(workers)
    io_cfg = io_cfg or IOConfig()
    t0 = time.perf_counter()
    n = sum(b.height for b in iter_batches(path, io_cfg, batch_rows, user_columns=False))
    column = FIELD_COLUMNS[cfg.field]
    with atomic_path(out) as tmp:  # renamed into place only when complete, like every qdc output
        _fill(path, io_cfg, batch_rows, cfg, embedder, tmp, n, column, dtype, workers)
    dim = int(np.load(str(out), mmap_mode="r").shape[1])
    return {
        "rows": n,
        "dim": dim,
        "dtype": dtype,
        "path": str(out),
        "backend": run.backend,
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
    ray_workers: int | None = None,
) -> None:
    """Embed batch by batch into the new file `tmp` (on `ray_workers` Ray workers when given)."""
    from qdc.embed import embed_texts

    x: np.memmap | None = None
    start = 0
    for batch in iter_batches(path, io_cfg, batch_rows, user_columns=True):
        if schema.EMBEDDING in batch.columns and not cfg.force:
            v = embeddings_of(batch)
        else:
            texts = batch[column].cast(str).fill_null("").to_list()
            v = embed_texts_ray(texts, cfg, ray_workers) if ray_workers else embed_texts(texts, cfg, embedder)
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


class _EncodeChunks:
    """A Ray Data callable class: each worker loads the embedding model once and encodes whole chunks."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        from qdc.embed import EmbedConfig
        from qdc.embed.cache import default_cache_dir
        from qdc.embed.models import load_embedder

        self.cfg = EmbedConfig.model_validate(cfg)
        self.model = load_embedder(self.cfg.model, self.cfg.device, self.cfg.cache_dir or default_cache_dir())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        chunks, rows, vecs = [], [], []
        for chunk, texts in zip(batch["chunk"], batch["texts"], strict=True):
            v = self.model.encode([str(t) for t in texts], self.cfg.batch_size)
            chunks.append(np.full(v.shape[0], int(chunk), dtype=np.int64))
            rows.append(np.arange(v.shape[0], dtype=np.int64))
            vecs.append(np.asarray(v, dtype=np.float32))
        return {"chunk": np.concatenate(chunks), "row": np.concatenate(rows), "vec": np.concatenate(vecs)}


def encode_chunks_ray(chunks: list[list[str]], cfg: EmbedConfig, workers: int = 2) -> Iterator[np.ndarray]:
    """Each chunk's vectors, in chunk order, from one `encode` call per chunk on a pool of Ray workers.

    A chunk is never split or merged, so each worker makes exactly the calls the local loop makes.
    """
    ray = require_ray()
    ds = ray.data.from_items([{"chunk": i, "texts": list(c)} for i, c in enumerate(chunks)])
    out = ds.map_batches(
        _EncodeChunks,
        fn_constructor_kwargs={"cfg": cfg.model_dump(mode="json")},
        batch_size=1,
        concurrency=max(1, workers),
        batch_format="numpy",
    )
    got: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for block in out.iter_batches(batch_format="numpy", batch_size=None):
        ids = np.asarray(block["chunk"], dtype=np.int64)
        rows = np.asarray(block["row"], dtype=np.int64)
        vecs = np.asarray(block["vec"], dtype=np.float32)
        for c in np.unique(ids).tolist():
            m = ids == c
            got.setdefault(int(c), []).append((rows[m], vecs[m]))
    for i, chunk in enumerate(chunks):
        parts = got.get(i, [])
        rows = np.concatenate([r for r, _ in parts]) if parts else np.zeros(0, dtype=np.int64)
        if rows.shape[0] != len(chunk):
            raise RuntimeError(f"Ray embedding returned {rows.shape[0]} of the {len(chunk)} vectors of chunk {i}")
        vecs = np.concatenate([v for _, v in parts])
        yield vecs[np.argsort(rows, kind="stable")]


def embed_texts_ray(texts: list[str], cfg: EmbedConfig, workers: int = 2) -> np.ndarray:
    """`qdc.embed.embed_texts` with its chunks encoded by Ray workers (`encode_chunks_ray`).

    The driver does the cache lookups and writes, deduplication and length sort, so the chunks, and the
    vectors, are byte-identical to the local path's; rows come back in input order.
    """
    from functools import partial

    from qdc.embed import embed_texts

    return embed_texts(texts, cfg, encode_chunks=partial(encode_chunks_ray, cfg=cfg, workers=workers))
