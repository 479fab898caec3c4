"""Which rows may be selected, and at what score and cost.

Rows are excluded (with a reason kept for the ledger) when they are duplicates of an earlier row (from
the dedup stage's `qdc_dup_of`, or found here: `qdc.dedup` exact+minhash when installed, else exact
normalised-text hashes) or below the `--min-quality` floor. Missing quality/complexity columns are
computed with their stages (`qdc.quality.score_quality`, `qdc.complexity`), imported lazily.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import polars as pl
import xxhash

from qdc import schema
from qdc.errors import ConfigError, MissingColumnError
from qdc.progress import notice
from qdc.select.score import parse_score, referenced_names, weights_expression

POS = "__qdc_sel_pos"
_WORDS = re.compile(r"\w+|[^\w\s]")


def optional_module(name: str, *attrs: str) -> ModuleType | None:
    """A sibling stage module when it is installed and has `attrs` (stages land independently)."""
    try:
        mod = importlib.import_module(name)
    except ImportError:
        return None
    return mod if all(hasattr(mod, a) for a in attrs) else None


def row_ids(df: pl.DataFrame) -> list[str]:
    if schema.ROW_ID in df.columns:
        return [str(v) for v in df[schema.ROW_ID].to_list()]
    return [str(i + 1) for i in range(df.height)]


def texts(df: pl.DataFrame) -> list[str]:
    if schema.TEXT in df.columns:
        return [t or "" for t in df[schema.TEXT].to_list()]
    if "text" in df.columns:
        return [str(t or "") for t in df["text"].to_list()]
    raise MissingColumnError(f"missing column '{schema.TEXT}': read rows with qdc.io.read_records first")


def token_counts(df: pl.DataFrame, cost_field: str | None) -> np.ndarray:
    """Per-row cost for --budget-tokens: a numeric column, else word and punctuation tokens of the text."""
    if cost_field is not None:
        if cost_field not in df.columns:
            raise ConfigError(f"--cost-field {cost_field!r}: no such column")
        vals = df[cost_field].cast(pl.Float64, strict=False).fill_null(0.0).to_numpy()
        return np.maximum(np.ceil(vals), 0).astype(np.int64)  # type: ignore[no-any-return]
    return np.array([len(_WORDS.findall(t)) for t in texts(df)], dtype=np.int64)


def _norm_text(t: str) -> str:
    return " ".join(t.lower().split())


def exact_duplicates(df: pl.DataFrame, skip: list[str | None]) -> dict[int, str]:
    """Rows whose normalised text equals an earlier eligible row's: position -> id of that row."""
    ids = row_ids(df)
    first: dict[int, int] = {}
    out: dict[int, str] = {}
    for i, t in enumerate(texts(df)):
        if skip[i] is not None:
            continue
        h = xxhash.xxh3_64_intdigest(_norm_text(t).encode())
        if h in first:
            out[i] = ids[first[h]]
        else:
            first[h] = i
    return out


def dedup_duplicates(
    df: pl.DataFrame,
    skip: list[str | None],
    mode: str,
    embeddings: Callable[[], np.ndarray] | None = None,
    eps: float = 0.05,
) -> tuple[dict[int, str], str]:
    """Duplicates found on the fly: position -> id of the earlier row it duplicates, and how they were found.

    auto: qdc.dedup exact+minhash when installed, else exact normalised text; semantic: exact+minhash and
    then SemDeDup (cosine > 1 - eps) on `embeddings()` (every row of `df`), keeping the earlier row of each
    group like the other methods.
    """
    if mode == "off":
        return {}, "off"
    if mode in ("auto", "semantic"):
        mod = optional_module("qdc.dedup", "dedup", "DedupConfig")
        if mod is None and mode == "semantic":
            raise ConfigError("--dedup semantic needs qdc.dedup, which is not installed")
        if mod is None:
            mode = "exact"
        else:
            live = [i for i, s in enumerate(skip) if s is None]
            sub = df[live].with_columns(pl.Series(POS, live, dtype=pl.Int64))
            methods = ["exact", "minhash"]
            extra: dict[str, Any] = {}
            if mode == "semantic":
                if embeddings is None:
                    raise ConfigError("--dedup semantic needs the rows' embeddings")
                x = embeddings()[live]
                sub = sub.with_columns(pl.Series(schema.EMBEDDING, x, dtype=pl.Array(pl.Float32, x.shape[1])))
                methods.append("semantic")
                extra = {"eps": eps, "semantic_order": "keep"}
            res: Any = mod.dedup(sub, mod.DedupConfig(methods=methods, **extra))
            removed = res.removed
            out: dict[int, str] = {}
            if removed is not None and removed.height:
                if POS in removed.columns:
                    pos = removed[POS].to_list()
                else:
                    where = {rid: i for i, rid in zip(live, row_ids(sub), strict=True)}
                    pos = [where[str(r)] for r in removed[schema.ROW_ID].to_list()]
                dup_of = removed[schema.DUP_OF].cast(pl.Utf8).to_list()
                out = {int(p): str(d) for p, d in zip(pos, dup_of, strict=True)}
            how = "qdc.dedup exact+minhash" + (f"+semantic (eps {eps:g})" if mode == "semantic" else "")
            return out, how
    return exact_duplicates(df, skip), "exact normalised text"


def _compute_column(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """Add qdc_quality / qdc_complexity with their stages when a score needs them."""
    if name == schema.QUALITY:
        quality = optional_module("qdc.quality", "score_quality", "QualityConfig")
        if quality is None:
            raise MissingColumnError(f"missing column '{name}': run `qdc score-quality` first")
        notice("no qdc_quality column: scoring quality with the heuristic scorer")
        out = quality.score_quality(df, quality.QualityConfig())
    elif name == schema.COMPLEXITY:
        cx = optional_module("qdc.complexity", "score_complexity", "ComplexityConfig")
        if cx is None:
            raise MissingColumnError(f"missing column '{name}': run `qdc score-complexity` first")
        notice("no qdc_complexity column: scoring complexity")
        out = cx.score_complexity(df, cx.ComplexityConfig())
    else:
        raise MissingColumnError(f"missing column '{name}'")
    if out.height != df.height or name not in out.columns:
        raise ConfigError(f"computing {name} changed the number of rows")
    return df.with_columns(out[name].cast(pl.Float64).alias(name))


def ensure_columns(df: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Compute qdc_quality/qdc_complexity when an expression names them and they are missing."""
    for raw in names:
        for name in (raw, f"qdc_{raw}"):
            missing = name not in df.columns and raw not in df.columns
            if name in (schema.QUALITY, schema.COMPLEXITY) and missing:
                df = _compute_column(df, name)
    return df


def score_expression(cfg: Any, df: pl.DataFrame, required: bool) -> str | None:
    """The expression that defines the score, or None when no score is wanted or possible."""
    if cfg.score is not None:
        return str(cfg.score)
    if cfg.weights:
        return weights_expression(dict(cfg.weights))
    if schema.QUALITY in df.columns or required:
        return schema.QUALITY
    return schema.QUALITY if optional_module("qdc.quality", "score_quality", "QualityConfig") else None


def evaluate(df: pl.DataFrame, expr_text: str, label: str) -> tuple[pl.DataFrame, np.ndarray]:
    """Evaluate an expression (computing missing quality/complexity first); nulls become the minimum."""
    df = ensure_columns(df, referenced_names(expr_text))
    expr, _ = parse_score(expr_text, df.columns)
    try:
        vals = df.select(expr.alias("_s"))["_s"].cast(pl.Float64).to_numpy().astype(np.float64)
    except pl.exceptions.PolarsError as exc:
        raise ConfigError(f"{label} {expr_text!r}: {exc}") from None
    bad = ~np.isfinite(vals)
    if bad.all() and vals.size:
        raise ConfigError(f"{label} {expr_text!r}: no row has a finite value")
    if bad.any():
        notice(f"{label}: {int(bad.sum())} row(s) without a finite value count as the lowest score")
        vals[bad] = float(vals[~bad].min())
    return df, vals
