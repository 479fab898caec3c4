"""The `embed` stage: a qdc_embedding column of L2-normalised float32 vectors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from qdc import schema
from qdc.config import StageConfig
from qdc.embed.cache import EmbeddingCache, default_cache_dir, text_key
from qdc.embed.models import (
    DEFAULT_MODEL,
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    StaticEmbedder,
    l2_normalise,
    load_embedder,
)
from qdc.io import embeddings_of
from qdc.progress import notice, progress

__all__ = [
    "EmbedConfig",
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "StaticEmbedder",
    "embed",
    "embed_texts",
    "ensure_embeddings",
    "l2_normalise",
    "load_embedder",
]

FIELD_COLUMNS = schema.PART_COLUMNS


MAX_HASH_DIM = 65_536  # hash:100000000 allocated 400 MB per row before doing anything useful


class EmbedConfig(StageConfig):
    """Options of the `embed` stage."""

    model: str = DEFAULT_MODEL
    """'default' (bundled all-MiniLM-L6-v2), 'static', 'hash[:DIM]', or a sentence-transformers name/path."""
    batch_size: int = Field(default=64, ge=1)
    """Rows per model batch."""
    device: str = "auto"
    field: Literal["text", "prompt", "response"] = "text"
    """Which part of each row to embed (prompt = the instruction / user turns only)."""
    cache: bool = True
    cache_dir: Path | None = None
    force: bool = False
    """Re-embed even when rows already carry qdc_embedding."""

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value not in ("auto", "cpu", "cuda", "mps") and not (value.startswith("cuda:") and value[5:].isdigit()):
            raise ValueError("expected auto, cpu, cuda, cuda:N or mps")
        return value

    @field_validator("model")
    @classmethod
    def _hash_dim(cls, value: str) -> str:
        if value.startswith("hash:") and not (value[5:].isdigit() and 1 <= int(value[5:]) <= MAX_HASH_DIM):
            raise ValueError(f"expected hash or hash:DIM with DIM from 1 to {MAX_HASH_DIM}")
        return value


ChunkEncoder = Callable[[list[list[str]]], Iterator[np.ndarray]]
"""Encodes chunks of texts (each chunk one `Embedder.encode` call), yielding their vectors in chunk order."""


def chunk_keys(keys: list[bytes], batch_size: int) -> list[list[bytes]]:
    """Chunks of one model batch first (so progress shows after the first batch, not after 512 rows), then
    of max(8 x batch_size, 256). Every cut falls on a multiple of batch_size, so the model's batches, and
    the padding inside them, are the same as with one long chunk."""
    size = max(batch_size * 8, 256)
    size -= size % max(batch_size, 1)
    first = max(batch_size, 1)
    parts = [keys[:first]] if keys else []
    parts += [keys[s : s + size] for s in range(first, len(keys), size)]
    return parts


def embed_texts(
    texts: Sequence[str],
    cfg: EmbedConfig | None = None,
    embedder: Embedder | None = None,
    encode_chunks: ChunkEncoder | None = None,
) -> np.ndarray:
    """Embed texts with the cache; only texts the cache lacks reach the model (loaded lazily).

    The texts the cache lacks are deduplicated, sorted longest first (ties in first-seen order) and cut
    into chunks (`chunk_keys`); each chunk is one `encode` call and one progress step. `encode_chunks` replaces the
    sequential loop over those chunks (the Ray backend spreads them over workers): the chunks, and so the
    padding inside the model's batches, are the same either way, which keeps the vectors byte-identical.

    Returns an (n, d) float32 array of unit rows, in input order.
    """
    cfg = cfg or EmbedConfig()
    cache_dir = cfg.cache_dir or default_cache_dir()
    model = embedder or load_embedder(cfg.model, cfg.device, cache_dir)
    n = len(texts)
    keys = [text_key(t) for t in texts]
    cache = EmbeddingCache(cache_dir, model.identity) if cfg.cache else None
    found = cache.get(keys) if cache else {}
    todo_keys = list(dict.fromkeys(k for k in keys if k not in found))
    by_key = dict(zip(keys, texts, strict=True))
    if todo_keys:
        # Longest first so each batch pads to similar lengths (sentence-transformers does the same).
        todo_keys.sort(key=lambda k: -len(by_key[k]))
        parts = chunk_keys(todo_keys, cfg.batch_size)
        done = n - sum(1 for k in keys if k not in found)
        progress("embed", done, n)
        counts: dict[bytes, int] = {}
        for k in keys:
            counts[k] = counts.get(k, 0) + 1
        chunks = [[by_key[k] for k in part] for part in parts]
        vectors = (
            encode_chunks(chunks)
            if encode_chunks is not None
            else (model.encode(chunk, cfg.batch_size) for chunk in chunks)
        )
        for part, vecs in zip(parts, vectors, strict=True):
            if cache:
                cache.put(part, vecs)
            for k, v in zip(part, vecs, strict=True):
                found[k] = v
            done += sum(counts[k] for k in part)
            progress("embed", done, n)
    elif n:
        progress("embed", n, n)
    if cache:
        cache.close()
    if n == 0:
        return np.zeros((0, max(model.dim, 0)), dtype=np.float32)
    out = np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
    return l2_normalise(out)


def embed(df: pl.DataFrame, cfg: EmbedConfig | None = None, embedder: Embedder | None = None) -> pl.DataFrame:
    """Add qdc_embedding (pl.Array(Float32, d)); rows that already have one keep it unless cfg.force."""
    cfg = cfg or EmbedConfig()
    if schema.EMBEDDING in df.columns and not cfg.force:
        notice("rows already carry qdc_embedding: reusing them (pass --force to re-embed)")
        return df
    column = FIELD_COLUMNS[cfg.field]
    schema.require_columns(df, column)
    vecs = embed_texts(df[column].to_list(), cfg, embedder)
    series = pl.Series(schema.EMBEDDING, vecs, dtype=pl.Array(pl.Float32, vecs.shape[1]))
    return df.with_columns(series)


def ensure_embeddings(
    df: pl.DataFrame, cfg: EmbedConfig | None = None, embedder: Embedder | None = None
) -> tuple[pl.DataFrame, np.ndarray]:
    """The frame with qdc_embedding (computed when missing) and the embeddings as an (n, d) array."""
    if schema.EMBEDDING not in df.columns:
        df = embed(df, cfg, embedder)
    return df, embeddings_of(df)
