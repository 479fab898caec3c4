"""Dataset-level measurements shared by `qdc check` and `qdc report`.

They call the library stages directly (`qdc.dedup`, `qdc.quality`, `qdc.complexity`,
`qdc.diversity.vendi`), so a check or a report measures exactly what the commands compute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import polars as pl

from qdc import schema
from qdc.complexity import ComplexityConfig, score_complexity
from qdc.config import StageConfig, validate_config
from qdc.dedup import DedupConfig, dedup
from qdc.diversity.vendi import vendi_embeddings
from qdc.embed import EmbedConfig, Embedder
from qdc.quality import JUNK_THRESHOLD, QualityConfig, score_quality


class Context(Protocol):
    """What a measurement may use: the seed and how to embed (`qdc.pipeline.StageContext` is one)."""

    @property
    def seed(self) -> int: ...
    @property
    def embed(self) -> EmbedConfig: ...
    @property
    def embedder(self) -> Embedder | None: ...


@dataclass
class MeasureContext:
    """A plain `Context` for callers outside a pipeline."""

    seed: int = 0
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    embedder: Embedder | None = None


def _config(cls: type[StageConfig], options: dict[str, Any] | None, ctx: Context, what: str) -> Any:
    """The stage config from user options; the context's seed unless the options set one."""
    options = dict(options or {})
    cfg = validate_config(cls, options, what)
    if "seed" in cls.model_fields and "seed" not in options:
        cfg = cfg.model_copy(update={"seed": ctx.seed})
    return cfg


def with_quality(df: pl.DataFrame, ctx: Context, options: dict[str, Any] | None = None) -> pl.DataFrame:
    """The frame with qdc_quality (scored by `qdc.quality` with `options` when missing)."""
    if schema.QUALITY in df.columns:
        return df
    cfg: QualityConfig = _config(QualityConfig, options, ctx, "quality options")
    return score_quality(df, cfg, ctx.embed, ctx.embedder)


def with_complexity(df: pl.DataFrame, ctx: Context, options: dict[str, Any] | None = None) -> pl.DataFrame:
    """The frame with qdc_complexity (scored by `qdc.complexity` with `options` when missing)."""
    if schema.COMPLEXITY in df.columns:
        return df
    cfg: ComplexityConfig = _config(ComplexityConfig, options, ctx, "complexity options")
    return score_complexity(df, cfg)


@dataclass
class Duplicates:
    """Rows a dedup pass would remove, with `qdc_dup_of` naming the kept row, and how they were found."""

    rate: float
    removed: pl.DataFrame
    method: str


def _describe_methods(methods: Any) -> str:
    """'exact (61 rows), minhash (253 rows)' from the dedup stage's per-method summary."""
    if isinstance(methods, dict):
        parts = []
        for name, info in methods.items():
            removed = info.get("removed") if isinstance(info, dict) else None
            parts.append(f"{name} ({removed} rows)" if removed is not None else str(name))
        return ", ".join(parts)
    if isinstance(methods, (list, tuple)):
        return ", ".join(str(m) for m in methods)
    return str(methods)


def duplicates(df: pl.DataFrame, ctx: Context, options: dict[str, Any] | None = None) -> Duplicates:
    """The rows `qdc.dedup` removes with its defaults (or `options`), and how they were found."""
    cfg: DedupConfig = _config(DedupConfig, options, ctx, "dedup options")
    res = dedup(df, cfg, ctx.embed, ctx.embedder)
    removed = res.removed if res.removed is not None else df.clear()
    method = _describe_methods(res.stats.get("methods", res.stats.get("method", "dedup stage")))
    return Duplicates(removed.height / max(df.height, 1), removed, method)


def vendi_of(x: np.ndarray) -> float:
    """Vendi score (order 1, cosine kernel) of unit rows: `qdc.diversity.vendi.vendi_embeddings`."""
    if x.shape[0] == 0:
        return 0.0
    return float(vendi_embeddings(x, (1.0,))[1.0])


def vendi(df: pl.DataFrame, ctx: Context) -> tuple[float, pl.DataFrame]:
    """Vendi of the rows' embeddings (embedding with the context's settings when missing)."""
    from qdc.embed import ensure_embeddings

    df, x = ensure_embeddings(df, ctx.embed, ctx.embedder)
    return vendi_of(x), df


def embedding_info(ctx: Context, df: pl.DataFrame) -> dict[str, Any]:
    """Which vectors a measure of `df` (as read, before any embedding) uses: the rows' own qdc_embedding
    (`schema.stored_dim`; then no model runs, whatever --model or the config says), else the context's model."""
    dim = schema.stored_dim(df)
    if dim is not None:
        return {"name": f"stored qdc_embedding ({dim}-d)", "identity": None}
    return {"name": ctx.embed.model, "identity": getattr(ctx.embedder, "identity", None)}


def mean_length(df: pl.DataFrame) -> float:
    """Mean length of the analysed text in characters."""
    if df.height == 0:
        return 0.0
    return float(df[schema.TEXT].str.len_chars().mean() or 0.0)  # type: ignore[arg-type]


def junk_threshold() -> float:
    """Quality below which a row counts as junk (`qdc.quality.JUNK_THRESHOLD`)."""
    return JUNK_THRESHOLD
