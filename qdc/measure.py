"""Dataset-level measurements shared by `qdc check` and `qdc report`.

They reuse the stages through their uniform interface (`run_stage(df, cfg, ctx)`) and `qdc.diversity` when
those modules are installed, loaded lazily; when one is missing a small documented fallback runs instead
(exact duplicates on normalised text; Vendi through the d x d covariance), and the result says which ran.
"""

from __future__ import annotations

import importlib
import math
import re
import unicodedata
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import polars as pl

from qdc import schema
from qdc.config import validate_config
from qdc.errors import ConfigError
from qdc.stage import StageContext


def optional(module: str, *attrs: str) -> ModuleType | None:
    """The module when it imports and has every attribute in `attrs`, else None."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return mod if all(hasattr(mod, a) for a in attrs) else None


def run_optional_stage(
    module: str, config: str, df: pl.DataFrame, options: dict[str, Any], ctx: StageContext, what: str
) -> Any | None:
    """Run a stage by module when it is installed (None when it is not)."""
    mod = optional(module, config, "run_stage")
    if mod is None:
        return None
    cfg = validate_config(getattr(mod, config), dict(options), what)
    if "seed" in type(cfg).model_fields and "seed" not in options:
        cfg = cfg.model_copy(update={"seed": ctx.seed})
    return mod.run_stage(df, cfg, ctx)


def with_quality(df: pl.DataFrame, ctx: StageContext, options: dict[str, Any] | None = None) -> pl.DataFrame:
    """The frame with qdc_quality (scored by the score-quality stage when missing)."""
    if schema.QUALITY in df.columns:
        return df
    res = run_optional_stage("qdc.quality", "QualityConfig", df, options or {}, ctx, "quality options")
    if res is None:
        raise ConfigError(
            "qdc_quality is missing and the score-quality stage (qdc.quality) is not "
            "installed; run `qdc score-quality` first"
        )
    out: pl.DataFrame = res.df
    return out


def with_complexity(df: pl.DataFrame, ctx: StageContext, options: dict[str, Any] | None = None) -> pl.DataFrame:
    """The frame with qdc_complexity (scored by the score-complexity stage when missing)."""
    if schema.COMPLEXITY in df.columns:
        return df
    res = run_optional_stage("qdc.complexity", "ComplexityConfig", df, options or {}, ctx, "complexity options")
    if res is None:
        raise ConfigError(
            "qdc_complexity is missing and the score-complexity stage (qdc.complexity) is not "
            "installed; run `qdc score-complexity` first"
        )
    out: pl.DataFrame = res.df
    return out


_WS = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return _WS.sub(" ", _PUNCT.sub("", text)).strip()


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


def duplicates(df: pl.DataFrame, ctx: StageContext, options: dict[str, Any] | None = None) -> Duplicates:
    """Duplicates by the dedup stage (its defaults, or `options`); fallback: exact on normalised text.

    The fallback normalises with NFKC, case folding, punctuation removal and whitespace collapsing, and
    keeps the first row of each group (input order).
    """
    n = max(df.height, 1)
    res = run_optional_stage("qdc.dedup", "DedupConfig", df, options or {}, ctx, "dedup options")
    if res is not None:
        removed = res.removed if res.removed is not None else df.clear()
        method = _describe_methods(res.summary.get("methods", res.summary.get("method", "dedup stage")))
        return Duplicates(removed.height / n, removed, method)
    keys = [_norm(t) for t in df[schema.TEXT].to_list()]
    first: dict[str, int] = {}
    dup_rows: list[int] = []
    dup_of: list[str] = []
    ids = df[schema.ROW_ID].to_list()
    for i, k in enumerate(keys):
        j = first.setdefault(k, i)
        if j != i:
            dup_rows.append(i)
            dup_of.append(ids[j])
    removed = df[dup_rows].with_columns(
        pl.Series(schema.DUP_OF, dup_of, dtype=pl.String),
        pl.lit("exact").alias(schema.DUP_METHOD),
        pl.lit(1.0).alias(schema.DUP_SIMILARITY),
    )
    return Duplicates(len(dup_rows) / n, removed, "exact (normalised text; qdc.dedup not installed)")


def vendi_of(x: np.ndarray) -> float:
    """Vendi score (order 1) with the cosine kernel: exp of the entropy of the eigenvalues of X^T X / n.

    Uses `qdc.diversity.vendi.vendi_embeddings` when installed. X has unit rows, so the n x n kernel
    K = X X^T / n shares its non-zero eigenvalues with the d x d matrix X^T X / n, far cheaper for n >> d.
    """
    if x.shape[0] == 0:
        return 0.0
    div = optional("qdc.diversity.vendi", "vendi_embeddings")
    if div is not None:  # the diversity module's implementation (same formula, with eigenvalue clipping)
        return float(div.vendi_embeddings(x, (1.0,))[1.0])
    x64 = x.astype(np.float64)
    lam = np.linalg.eigvalsh(x64.T @ x64 / x64.shape[0])
    lam = lam[lam > 1e-12]
    lam = lam / lam.sum()
    return float(math.exp(-float(np.sum(lam * np.log(lam)))))


def vendi(df: pl.DataFrame, ctx: StageContext) -> tuple[float, pl.DataFrame]:
    """Vendi of the rows' embeddings (embedding with the context's settings when missing)."""
    from qdc.embed import ensure_embeddings

    df, x = ensure_embeddings(df, ctx.embed, ctx.embedder)
    return vendi_of(x), df


def mean_length(df: pl.DataFrame) -> float:
    """Mean length of the analysed text in characters."""
    if df.height == 0:
        return 0.0
    return float(df[schema.TEXT].str.len_chars().mean() or 0.0)  # type: ignore[arg-type]


def junk_threshold(default: float = 0.3) -> float:
    """Quality below which a row counts as junk: qdc.quality's JUNK_THRESHOLD when it defines one."""
    mod = optional("qdc.quality", "JUNK_THRESHOLD")
    return float(mod.JUNK_THRESHOLD) if mod is not None else default
