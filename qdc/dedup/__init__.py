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
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from qdc import schema
from qdc.config import StageConfig
from qdc.dedup import exact as exact_mod
from qdc.dedup import minhash as minhash_mod
from qdc.dedup import semantic as semantic_mod
from qdc.dedup.groups import components, group_keepers, parse_keep, priority
from qdc.dedup.lsh import s_curve
from qdc.dedup.normalize import ALL_STEPS, Step
from qdc.dedup.report import group_size_histogram, human_bytes, largest_groups
from qdc.embed import EmbedConfig, Embedder
from qdc.errors import ConfigError

__all__ = ["METHODS", "DedupConfig", "DedupResult", "dedup", "estimate_memory"]

Method = Literal["exact", "minhash", "semantic"]
METHODS: tuple[Method, ...] = ("exact", "minhash", "semantic")
FIELD_COLUMNS = schema.PART_COLUMNS


class DedupConfig(StageConfig):
    """Options of the `dedup` stage. The default (exact, then MinHash at Jaccard 0.8) needs no model."""

    methods: tuple[Method, ...] = ("exact", "minhash")
    """Applied in this order; 'exact,minhash' strings are accepted."""
    keep: str = "first"
    """Which row of a group survives: first, longest or best:COLUMN (ties: the earlier row)."""
    field: Literal["text", "prompt", "response"] = "text"
    """Part of each row to compare (and to embed for the semantic method)."""
    normalize: tuple[Step, ...] = ALL_STEPS
    """Exact-match normalisation steps (nfkc, case, punctuation, whitespace); () compares raw text."""
    threshold: float = Field(default=0.8, gt=0.0, lt=1.0)
    """MinHash: Jaccard similarity of word n-gram sets at which two rows are duplicates."""
    num_perm: int = Field(default=128, ge=8, le=1024)
    ngram: int = Field(default=3, ge=1, le=32)
    """Words per shingle: 3 keeps one changed word in a 50-word row above Jaccard 0.8 (5-grams do not)."""
    bands: int | None = Field(default=None, ge=1)
    rows: int | None = Field(default=None, ge=1)
    """bands x rows of the LSH; by default derived from threshold and num_perm."""
    verify: bool = True
    """Check each LSH candidate pair by its true Jaccard (else by the signature estimate)."""
    backend: Literal["rensa", "datasketch"] = "rensa"
    eps: float = Field(default=0.05, gt=0.0, lt=1.0)
    """Semantic: rows with cosine > 1 - eps to an earlier row of their cluster are duplicates."""
    semantic_mode: Literal["faithful", "greedy"] = "faithful"
    semantic_order: Literal["auto", "hard", "easy", "keep"] = "auto"
    """auto = hard (SemDeDup's keep-the-farthest-from-centroid) with keep=first, else the keep policy."""
    clusters: int | None = Field(default=None, ge=1)
    """Semantic k-means clusters; default 1 (global search) up to global_max_rows rows, else sqrt(n)."""
    global_max_rows: int = Field(default=10_000, ge=1)
    against_only: bool = False
    """With reference sets: remove only rows that duplicate a reference row."""
    seed: int = 0
    top_groups: int = Field(default=5, ge=0)

    @field_validator("methods", "normalize", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip() and v.strip() != "none")
        return value

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one method (exact, minhash, semantic)")
        if len(set(value)) != len(value):
            raise ValueError("a method is listed twice")
        return value

    @field_validator("keep")
    @classmethod
    def _keep(cls, value: str) -> str:
        try:
            parse_keep(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    def minhash_params(self) -> minhash_mod.MinHashParams:
        steps = tuple(s for s in self.normalize if s in ("nfkc", "case"))
        return minhash_mod.MinHashParams(
            self.threshold,
            self.num_perm,
            self.ngram,
            self.bands,
            self.rows,
            self.verify,
            self.seed,
            self.backend,
            steps,
        )

    def semantic_params(self) -> semantic_mod.SemanticParams:
        order = self.semantic_order
        if order == "auto":
            order = "hard" if parse_keep(self.keep)[0] == "first" else "keep"
        return semantic_mod.SemanticParams(
            self.eps, self.semantic_mode, order, self.clusters, self.global_max_rows, self.seed
        )


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
    128 MB) and one chunk's work space; semantic = two copies of the embeddings (4 x dim B/row each) +
    40 B/row + one similarity block. The output frames copy the input once more.
    """
    need = [0]
    if "exact" in cfg.methods:
        need.append(exact_mod.memory_bytes(n, text_bytes))
    if "minhash" in cfg.methods:
        words = text_bytes / 6  # about 6 bytes per word in English text
        chunk = min(n, minhash_mod.CHUNK_ROWS) * (words / max(n, 1)) * 64
        cache = min(4 * words, 4 * minhash_mod.CACHE_SHINGLES)
        need.append(minhash_mod.memory_bytes(n, cfg.minhash_params()) + int(chunk + cache))
    if "semantic" in cfg.methods:
        k = cfg.clusters or semantic_mod.default_clusters(n, cfg.global_max_rows)
        need.append(semantic_mod.memory_bytes(n, dim, k) + 4 * dim * n)
    return max(need) + 48 * n + frame_bytes


def _texts(frames: Sequence[pl.DataFrame], column: str) -> pl.Series:
    parts = []
    for f in frames:
        schema.require_columns(f, column)
        parts.append(f[column].cast(pl.String).fill_null(""))
    return pl.concat(parts) if parts else pl.Series([], dtype=pl.String)


def _embeddings(
    frames: Sequence[pl.DataFrame], cfg: DedupConfig, embed_cfg: EmbedConfig | None, embedder: Embedder | None
) -> np.ndarray:
    from qdc.embed import embed_texts
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
    n_ref = sum(f.height for f in refs)
    n_in = df.height
    total = n_ref + n_in
    texts = _texts([*refs, df], column)
    ids = [i for f in refs for i in schema.ids(f)] + schema.ids(df)
    ref_src = [
        str(s)
        for f in refs
        for s in (f[schema.SRC].cast(pl.String).to_list() if schema.SRC in f.columns else ["<against>"] * f.height)
    ]
    is_ref = np.arange(total) < n_ref
    # Reference rows rank first whatever the policy; they get null values for a best:COLUMN.
    rank_frame = df if not refs else pl.concat([df.clear(n_ref), df], how="vertical")
    rank = priority(rank_frame, texts, cfg.keep, n_ref)

    alive = np.ones(total, dtype=bool)
    target = np.full(total, -1, dtype=np.int64)
    method_of = np.full(total, -1, dtype=np.int64)
    sim = np.zeros(total, dtype=np.float64)
    per_method: dict[str, dict[str, Any]] = {}
    x_all: np.ndarray | None = None

    for m_index, method in enumerate(cfg.methods):
        t0 = time.perf_counter()
        idx = np.flatnonzero(alive)
        local_texts = texts.gather(idx)
        info: dict[str, Any] = {}
        if method in ("exact", "minhash"):
            if method == "exact":
                labels = exact_mod.exact_labels(local_texts, cfg.normalize)
                pair_sim = None
            else:
                params = cfg.minhash_params()
                found = minhash_mod.find_pairs(local_texts, params)
                labels = components(idx.shape[0], found.i, found.j)
                pair_sim = found
                bands, rows = params.band_rows()
                info = {
                    "threshold": cfg.threshold,
                    "num_perm": cfg.num_perm,
                    "ngram": cfg.ngram,
                    "bands": bands,
                    "rows": rows,
                    "verify": cfg.verify,
                    "candidate_pairs": found.candidates,
                    "duplicate_pairs": int(found.i.shape[0]),
                }
            keeper = group_keepers(labels, rank[idx])
            hit = (keeper != np.arange(idx.shape[0])) & ~is_ref[idx]
            if refs and cfg.against_only:
                hit &= is_ref[idx[keeper]]
            members, keepers = np.flatnonzero(hit), keeper[hit]
            sims = np.ones(members.shape[0]) if pair_sim is None else pair_sim.sim_to(members, keepers)
            rm, to = idx[members], idx[keepers]
        else:
            if x_all is None:
                x_all = _embeddings([*refs, df], cfg, embed_cfg, embedder)
            params_s = cfg.semantic_params()
            x = x_all if idx.shape[0] == total else x_all[idx]  # no copy when every row is still alive
            sm = semantic_mod.semantic_matches(x, rank[idx], is_ref[idx], params_s, cfg.against_only)
            hit_idx = np.flatnonzero(sm.removed)
            rm, to, sims = idx[hit_idx], idx[sm.match[hit_idx]], sm.sim[hit_idx].astype(np.float64)
            info = {"eps": cfg.eps, "mode": params_s.mode, "order": params_s.order, "clusters": sm.clusters}
        alive[rm] = False
        target[rm] = to
        method_of[rm] = m_index
        sim[rm] = sims
        info.update(
            {
                "removed": int(rm.shape[0]),
                "rate": round(rm.shape[0] / max(n_in, 1), 6),
                "seconds": round(time.perf_counter() - t0, 3),
            }
        )
        per_method[method] = info

    # Point every removed row at the row that finally survives (a later method may remove its match).
    final = np.where(alive, np.arange(total), target)
    for _ in range(len(cfg.methods) * total + 1):
        moved = ~alive[final]
        if not moved.any():
            break
        final[moved] = target[final[moved]]

    removed_in = ~alive[n_ref:]
    rows_rm = np.flatnonzero(removed_in)
    fin = final[n_ref:][rows_rm]
    removed = df[rows_rm].with_columns(
        pl.Series(schema.DUP_OF, [ids[f] for f in fin.tolist()], dtype=pl.String),
        pl.Series(schema.DUP_METHOD, [cfg.methods[k] for k in method_of[n_ref:][rows_rm].tolist()], dtype=pl.String),
        pl.Series(schema.DUP_SIMILARITY, np.round(sim[n_ref:][rows_rm], 6), dtype=pl.Float64),
        pl.Series(schema.DUP_REF, [ref_src[f] if f < n_ref else None for f in fin.tolist()], dtype=pl.String),
    )
    kept = df.filter(pl.Series(~removed_in))
    text_bytes = int(texts.str.len_bytes().sum() or 0)
    methods_txt = ["" if k < 0 else cfg.methods[k] for k in method_of.tolist()]
    stats: dict[str, Any] = {
        "rows_in": n_in,
        "rows_kept": kept.height,
        "rows_removed": removed.height,
        "duplicate_rate": round(removed.height / max(n_in, 1), 6),
        "keep": cfg.keep,
        "methods": per_method,
        "group_sizes": group_size_histogram(final, ~alive),
        "largest_groups": largest_groups(final, ~alive, ids, texts, methods_txt, sim, is_ref, top=cfg.top_groups),
        "memory_estimate_bytes": estimate_memory(
            total,
            text_bytes,
            cfg,
            x_all.shape[1] if x_all is not None else 384,
            int(df.estimated_size()) + sum(int(f.estimated_size()) for f in refs),
        ),
    }
    stats["memory_estimate"] = human_bytes(stats["memory_estimate_bytes"])
    if "minhash" in cfg.methods:
        b, r = cfg.minhash_params().band_rows()
        stats["s_curve"] = s_curve(b, r)
    if refs:
        stats["against"] = {
            "rows": n_ref,
            "files": sorted(set(ref_src)),
            "removed": int(removed[schema.DUP_REF].is_not_null().sum()),
        }
    return DedupResult(kept, removed, stats)
