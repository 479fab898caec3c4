"""The `dedup` stage: exact, MinHash-LSH and semantic (SemDeDup) duplicate removal, with a ledger.

Methods run in the order given, each on the rows the previous ones kept. Each finds groups of duplicates
(exact: equal normalised text; minhash: connected components of verified near-pairs, so chains are one
group; semantic: SemDeDup within k-means clusters), keeps one row per group by the keep policy and removes
the rest. Every removed row records the surviving row it duplicates (`qdc_dup_of`, always a row that is in
the output or in a reference set), the method and the similarity that removed it.

With reference sets (`against`, e.g. an evaluation set), reference rows join every method, rank before all
input rows (so they are always the survivor of their group) and are never returned; with `against_only`
only input rows that duplicate a reference row are removed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from qdc import schema
from qdc.dedup import exact as exact_mod
from qdc.dedup import minhash as minhash_mod
from qdc.dedup import semantic as semantic_mod
from qdc.dedup.config import FIELD_COLUMNS, METHODS, DedupConfig, Method
from qdc.dedup.lsh import s_curve
from qdc.dedup.report import group_size_histogram, human_bytes, largest_groups
from qdc.dedup.steps import MATCHERS, Pool, removed_rows, resolve
from qdc.errors import ConfigError

if TYPE_CHECKING:  # qdc.embed (its config model, the cache's sqlite3) only for the semantic method
    from qdc.embed import EmbedConfig, Embedder

__all__ = ["FIELD_COLUMNS", "METHODS", "DedupConfig", "DedupResult", "Method", "dedup", "estimate_memory", "plan"]


@dataclass
class DedupResult:
    """Rows kept (input order), rows removed (input order, with the qdc_dup_* columns) and a summary."""

    kept: pl.DataFrame
    removed: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)


def estimate_memory(n: int, text_bytes: int, cfg: DedupConfig, dim: int = 384, frame_bytes: int = 0) -> int:
    """Bytes a run needs beyond the loaded frame (`frame_bytes` = its size, for the kept/removed copies).

    Methods run in turn, so the largest working set counts: exact = a normalised copy of the text + 24 B/row;
    minhash = 4 x num_perm + 8 x bands + 8 B/row, the 32-bit shingle cache (about 4 B per word, at most
    128 MB) and the work space of the chunks indexed at once; semantic = two copies of the embeddings
    (4 x dim B/row each) + 40 B/row + one similarity block. The output frames copy the input once more.
    """
    need = [0]
    if "exact" in cfg.methods:
        need.append(exact_mod.memory_bytes(n, text_bytes))
    if "minhash" in cfg.methods:
        words = text_bytes / 6  # about 6 bytes per word in English text
        workers = cfg.threads or minhash_mod.default_threads()  # chunks indexed at once, as build_index does
        chunk = min(n, minhash_mod.CHUNK_ROWS) * (words / max(n, 1)) * 64 * workers
        cache = min(4 * words, 4 * minhash_mod.CACHE_SHINGLES)
        need.append(minhash_mod.memory_bytes(n, cfg.minhash_params()) + int(chunk + cache))
    if "semantic" in cfg.methods:
        k = cfg.clusters or semantic_mod.default_clusters(n, cfg.global_max_rows)
        need.append(semantic_mod.memory_bytes(n, dim, k) + 4 * dim * n)
    return max(need) + 48 * n + frame_bytes


def plan(
    frames: Sequence[pl.DataFrame], cfg: DedupConfig, dim: int = 384, text_bytes: int | None = None
) -> dict[str, Any]:
    """What is known before a run over `frames` (the input and reference frames): the memory estimate and,
    with MinHash, the LSH bands and S-curve. `dedup()`'s stats carry the same figures (passing the pool's
    `text_bytes`, already at hand); `--explain` prints them first."""
    rows = sum(f.height for f in frames)
    if text_bytes is None:
        column = FIELD_COLUMNS[cfg.field]
        text_bytes = sum(int(f[column].cast(pl.String).str.len_bytes().sum() or 0) for f in frames)
    need = estimate_memory(rows, text_bytes, cfg, dim, sum(int(f.estimated_size()) for f in frames))
    out: dict[str, Any] = {"rows": rows, "memory_estimate_bytes": need, "memory_estimate": human_bytes(need)}
    if "minhash" in cfg.methods:
        out["bands"] = cfg.minhash_params().band_rows()
        out["s_curve"] = s_curve(*out["bands"])
    return out


def _texts(frames: Sequence[pl.DataFrame], column: str) -> pl.Series:
    parts = []
    for f in frames:
        schema.require_columns(f, column)
        parts.append(f[column].cast(pl.String).fill_null(""))
    return pl.concat(parts) if parts else pl.Series([], dtype=pl.String)


def _embeddings(
    frames: Sequence[pl.DataFrame], cfg: DedupConfig, embed_cfg: EmbedConfig | None, embedder: Embedder | None
) -> np.ndarray:
    from qdc.embed import EmbedConfig, embed_texts
    from qdc.io import embeddings_of

    ecfg = (embed_cfg or EmbedConfig()).model_copy(update={"field": cfg.field})
    parts = []
    for f in frames:
        if schema.EMBEDDING in f.columns and not ecfg.force:
            parts.append(embeddings_of(f))
        else:
            parts.append(embed_texts(_texts([f], FIELD_COLUMNS[cfg.field]).to_list(), ecfg, embedder))
    dims = {p.shape[1] for p in parts}
    if len(dims) > 1:
        raise ConfigError(
            f"embeddings of the input and the reference sets differ in size ({sorted(dims)}); "
            "embed them with the same model or drop qdc_embedding to re-embed"
        )
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def dedup(
    df: pl.DataFrame,
    cfg: DedupConfig | None = None,
    embed_cfg: EmbedConfig | None = None,
    embedder: Embedder | None = None,
    against: pl.DataFrame | Sequence[pl.DataFrame] | None = None,
) -> DedupResult:
    """Remove duplicates from `df` (a frame prepared by qdc.io); see the module docstring.

    Steps: gather the pool (reference rows first, the keep ranks); run each method's matcher
    (`qdc.dedup.steps.MATCHERS`) on the rows still alive; resolve every removed row to its final survivor;
    build the removed frame and the stats.

    Args:
        df: the rows to deduplicate.
        cfg: methods and thresholds (default: exact then MinHash 0.8, no model).
        embed_cfg, embedder: how to embed for the semantic method when rows lack qdc_embedding.
        against: reference frames (prepared); their rows are matched but never returned.
    """
    cfg = cfg or DedupConfig()
    refs = [against] if isinstance(against, pl.DataFrame) else list(against or [])
    column = FIELD_COLUMNS[cfg.field]
    schema.require_columns(df, column, schema.ROW_ID)
    pool = Pool.build(
        df, refs, cfg, _texts([*refs, df], column), lambda: _embeddings([*refs, df], cfg, embed_cfg, embedder)
    )
    per_method: dict[str, dict[str, Any]] = {}
    for m_index, method in enumerate(cfg.methods):
        t0 = time.perf_counter()
        found = MATCHERS[method](pool, np.flatnonzero(pool.alive))
        pool.apply(found, m_index)
        found.info.update(
            {
                "removed": int(found.rows.shape[0]),
                "rate": round(found.rows.shape[0] / max(pool.n_in, 1), 6),
                "seconds": round(time.perf_counter() - t0, 3),
            }
        )
        per_method[method] = found.info
    final = resolve(pool.alive, pool.target, len(cfg.methods))
    removed = removed_rows(pool, final)
    kept = df.filter(pl.Series(pool.alive[pool.n_ref :]))
    return DedupResult(kept, removed, _stats(pool, final, kept, removed, per_method))


def _stats(
    pool: Pool, final: np.ndarray, kept: pl.DataFrame, removed: pl.DataFrame, per_method: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The run summary: counts, per-method figures, group sizes and the largest groups, the memory estimate."""
    cfg, n_in = pool.cfg, pool.n_in
    dim = pool.x.shape[1] if pool.x is not None else 384
    known = plan([*pool.refs, pool.df], cfg, dim, int(pool.texts.str.len_bytes().sum() or 0))
    methods_txt = ["" if k < 0 else cfg.methods[k] for k in pool.method_of.tolist()]
    gone = ~pool.alive
    stats: dict[str, Any] = {
        "rows_in": n_in,
        "rows_kept": kept.height,
        "rows_removed": removed.height,
        "duplicate_rate": round(removed.height / max(n_in, 1), 6),
        "keep": cfg.keep,
        "methods": per_method,
        "group_sizes": group_size_histogram(final, gone),
        "largest_groups": largest_groups(
            final, gone, pool.ids, pool.texts, methods_txt, pool.sim, pool.is_ref, top=cfg.top_groups
        ),
        **{k: v for k, v in known.items() if k not in ("rows", "bands")},
    }
    if pool.refs:
        stats["against"] = {
            "rows": pool.n_ref,
            "files": sorted(set(pool.ref_src)),
            "removed": int(removed[schema.DUP_REF].is_not_null().sum()),
        }
    return stats
