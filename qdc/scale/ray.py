"""MinHash signatures and LSH band grouping as Ray Data operations (`qdc scale dedup --backend ray`).

Ray is an optional extra (``pip install 'qdc[ray]'``). The driver still reads the input, finds exact
duplicates and keeps the shingles for verification (as the local backend does); what moves to Ray:

1. signatures: ``map_batches`` over (row, text) blocks computes shingles, rensa signatures and band keys
   with the functions of `qdc.dedup` and emits one (band, key, row) record per band of every row;
2. band grouping: ``groupby(["band", "key"]).map_groups`` turns each bucket into candidate pairs exactly as
   `qdc.dedup.lsh.candidate_pairs` does (every pair; pairs at most 200 apart in buckets over 201 rows).

For `qdc scale select --backend ray`, the assignment of every row to its nearest k-means centroid runs as
a ``map_batches`` over row ranges of the memory-mapped embedding file (each worker maps the file itself);
the k-means training sample stays on the driver. For `qdc scale score --backend ray`, each batch is scored
as a ``map_batches`` over slices of its (prompt, response, text) columns (`score_ray`). For `qdc scale
embed --backend ray`, model-holding workers encode the chunks `qdc.embed.embed_texts` plans on the driver
(`encode_chunks_ray`), so the vectors are byte-identical to the local ones.

The candidate pairs come back to the driver, which verifies them by true Jaccard and joins them by
union-find, so the kept rows are the local backend's. `address` points at an existing cluster (``ray
start --head`` prints it, e.g. ``ray://host:10001`` or ``auto``); without it a local Ray instance starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import polars as pl

from qdc.dedup.lsh import PAIR_CAP, run_pairs
from qdc.dedup.minhash import MinHashParams
from qdc.errors import ConfigError

RANGE_ROWS = 262_144
"""Rows of the embedding file per Ray assignment task."""


def require_ray() -> Any:
    """The ray module, or a ConfigError (exit 2) saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs Ray: pip install 'qdc[ray]' (or pip install 'ray[data]')") from None
    return ray


def init(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to `address` (a running cluster) or start a local instance with `num_cpus` workers."""
    import contextlib
    import logging

    ray = require_ray()
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-dataset INFO lines on stderr
    with contextlib.suppress(AttributeError):  # stderr is for qdc's own progress
        ray.data.DataContext.get_current().enable_progress_bars = False
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)


def _sign(batch: dict[str, np.ndarray], params: MinHashParams) -> dict[str, np.ndarray]:
    """(row, text) -> one (band, key, row) record per band of each row that has shingles."""
    from qdc.dedup.lsh import band_keys
    from qdc.dedup.minhash import shingle_hashes, signatures

    bands, rows = params.band_rows()
    texts = pl.Series([str(t) for t in batch["text"]], dtype=pl.String)
    row = np.asarray(batch["row"], dtype=np.int64)
    sh, off = shingle_hashes(texts, params.ngram, params.steps)
    sig = signatures(sh, off, params.num_perm, params.seed, params.backend)
    keys = band_keys(sig, bands, rows)
    valid = np.flatnonzero(np.diff(off.astype(np.int64)) > 0)
    return {
        "band": np.tile(np.arange(bands, dtype=np.int64), valid.shape[0]),
        "key": keys[valid].ravel().view(np.int64),  # Arrow sorts int64 everywhere; the bits are the key
        "row": np.repeat(row[valid], bands),
    }


def _pairs(group: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """All pairs (i < j) of one bucket; in buckets over PAIR_CAP + 1 rows only pairs at most PAIR_CAP apart."""
    rows = np.sort(np.asarray(group["row"], dtype=np.int64))
    out_i, out_j = run_pairs(rows, np.zeros(rows.shape[0], dtype=np.int64), PAIR_CAP)
    if not out_i:
        empty = np.zeros(0, dtype=np.int64)
        return {"i": empty, "j": empty}
    return {"i": np.concatenate(out_i), "j": np.concatenate(out_j)}


def candidate_codes(
    texts: list[tuple[np.ndarray, list[str]]], params: MinHashParams, n: int, blocks: int | None = None
) -> np.ndarray:
    """Unique candidate pair codes i * n + j (i < j) of the given (rows, texts) parts, computed by Ray Data."""
    ray = require_ray()
    import pyarrow as pa

    tables = [
        pa.table({"row": pa.array(r, pa.int64()), "text": pa.array(t, pa.string())}) for r, t in texts if r.shape[0]
    ]
    if not tables:
        return np.zeros(0, dtype=np.uint64)
    ds = ray.data.from_arrow(tables)
    if blocks:
        ds = ds.repartition(blocks)
    records = ds.map_batches(_sign, fn_kwargs={"params": params}, batch_format="numpy")
    pairs = records.groupby(["band", "key"]).map_groups(_pairs, batch_format="numpy")
    parts: list[np.ndarray] = []
    for batch in pairs.iter_batches(batch_format="numpy", batch_size=1 << 20):
        if "i" not in batch:
            continue
        i = np.asarray(batch["i"], dtype=np.uint64)
        j = np.asarray(batch["j"], dtype=np.uint64)
        if i.shape[0]:
            parts.append(np.unique(i * np.uint64(n) + j))
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)


def _assign_ranges(batch: dict[str, np.ndarray], path: str, centroids: np.ndarray) -> dict[str, np.ndarray]:
    """Nearest centroid (inner product) of every row in the given [start, stop) ranges of the .npy at `path`."""
    from qdc.cluster import assign
    from qdc.scale.store import open_store

    x = open_store(path)
    rows: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for start, stop in zip(batch["start"].tolist(), batch["stop"].tolist(), strict=True):
        rows.append(np.arange(start, stop, dtype=np.int64))
        labels.append(assign(x, centroids, lo=start, hi=stop)[0])
    return {"row": np.concatenate(rows), "label": np.concatenate(labels)}


def assign(path: str, n: int, centroids: np.ndarray, range_rows: int | None = None) -> np.ndarray:
    """Raw nearest-centroid ids of the n rows of the .npy at `path`, computed by Ray workers."""
    ray = require_ray()
    range_rows = range_rows or RANGE_ROWS
    ranges = [{"start": s, "stop": min(n, s + range_rows)} for s in range(0, n, range_rows)]
    ds = ray.data.from_items(ranges).map_batches(
        _assign_ranges, fn_kwargs={"path": path, "centroids": centroids}, batch_size=1, batch_format="numpy"
    )
    labels = np.full(n, -1, dtype=np.int64)
    for batch in ds.iter_batches(batch_format="numpy", batch_size=1 << 20):
        labels[np.asarray(batch["row"], dtype=np.int64)] = np.asarray(batch["label"], dtype=np.int64)
    if (labels < 0).any():
        raise RuntimeError("Ray assignment left rows without a cluster")
    return labels


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


def encode_chunks_ray(chunks: list[list[str]], cfg: Any, workers: int = 2) -> Iterator[np.ndarray]:
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


def embed_texts_ray(texts: list[str], cfg: Any, workers: int = 2) -> np.ndarray:
    """`qdc.embed.embed_texts` with its chunks encoded by Ray workers (`encode_chunks_ray`).

    The driver does the cache lookups and writes, deduplication and length sort, so the chunks, and the
    vectors, are byte-identical to the local path's; rows come back in input order.
    """
    from functools import partial

    from qdc.embed import embed_texts

    return embed_texts(texts, cfg, encode_chunks=partial(encode_chunks_ray, cfg=cfg, workers=workers))


def cluster_cpus() -> int:
    """CPUs of the Ray instance this process is connected to (at least 1)."""
    ray = require_ray()
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _score_block(batch: Any, how: Any, score_columns: Callable[[pl.DataFrame, Any], pl.DataFrame]) -> Any:
    """(row, prompt, response, text) Arrow block -> (row, score columns) Arrow table, by `score_columns`."""
    from qdc import schema

    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    parts = frame.select(
        pl.col("prompt").alias(schema.PROMPT),
        pl.col("response").alias(schema.RESPONSE),
        pl.col("text").alias(schema.TEXT),
    )
    return score_columns(parts, how).with_columns(frame["row"]).to_arrow()


def score_ray(
    parts: pl.DataFrame, how: Any, score_columns: Callable[[pl.DataFrame, Any], pl.DataFrame], workers: int = 2
) -> pl.DataFrame:
    """`score_columns` of a batch as a Ray Data `map_batches` over `2 x workers` slices.

    `score_columns` is `qdc.quality.stream.score_columns`, passed in so that this module does not import it.

    Each task scores its slice with the local function (per-row signals, and the file-level `how` decides
    the text fallbacks), so the columns are the local ones; rows come back in input order.
    """
    from qdc import schema

    ray = require_ray()
    n = parts.height
    table = pl.DataFrame(
        {
            "row": np.arange(n, dtype=np.int64),
            "prompt": parts[schema.PROMPT],
            "response": parts[schema.RESPONSE],
            "text": parts[schema.TEXT],
        }
    ).to_arrow()
    step = max(1, -(-n // (2 * max(1, workers))))
    ds = ray.data.from_arrow([table.slice(s, step) for s in range(0, n, step)])
    out = ds.map_batches(
        _score_block, fn_kwargs={"how": how, "score_columns": score_columns}, batch_size=None, batch_format="pyarrow"
    )
    blocks: list[pl.DataFrame] = []
    for block in out.iter_batches(batch_format="pyarrow", batch_size=None):
        frame = pl.from_arrow(block)
        assert isinstance(frame, pl.DataFrame)
        blocks.append(frame)
    scores = pl.concat(blocks, how="vertical").sort("row")
    if scores.height != n or not np.array_equal(scores["row"].to_numpy(), np.arange(n)):
        raise RuntimeError("Ray scoring lost or repeated rows")
    return scores.drop("row")
