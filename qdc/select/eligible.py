"""Which rows may be selected, and at what score and cost.

Rows are excluded (with a reason kept for the ledger) when they are duplicates of an earlier row (from
the dedup stage's `qdc_dup_of`, or found here with `qdc.dedup`: exact+minhash, exact alone, or
exact+minhash+semantic) or below the `--min-quality` floor. Missing quality/complexity columns are
computed with their stages (`qdc.quality.score_quality`, `qdc.complexity.score_complexity`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from qdc import schema
from qdc.complexity import ComplexityConfig, score_complexity
from qdc.dedup import DedupConfig, dedup
from qdc.dedup.config import Method
from qdc.errors import ConfigError, MissingColumnError
from qdc.progress import notice
from qdc.quality import QualityConfig, score_quality
from qdc.select.config import SelectConfig
from qdc.select.score import parse_score, referenced_names, weights_expression

POS = "__qdc_sel_pos"
_WORDS = re.compile(r"\w+|[^\w\s]")


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
    """Per-row cost for `budget_tokens`: a numeric column, else word and punctuation tokens of the text."""
    if cost_field is not None:
        if cost_field not in df.columns:
            raise ConfigError(f"cost_field {cost_field!r}: no such column")
        vals = df[cost_field].cast(pl.Float64, strict=False).fill_null(0.0).to_numpy()
        return np.maximum(np.ceil(vals), 0).astype(np.int64)  # type: ignore[no-any-return]
    return np.array([len(_WORDS.findall(t)) for t in texts(df)], dtype=np.int64)


def dedup_duplicates(
    df: pl.DataFrame,
    skip: list[str | None],
    mode: str,
    embeddings: Callable[[], np.ndarray] | None = None,
    eps: float = 0.05,
) -> tuple[dict[int, str], str]:
    """Duplicates found on the fly: position -> id of the earlier row it duplicates, and how they were found.

    All modes call `qdc.dedup` on the eligible rows, so they match `qdc dedup`: exact = its exact method
    (NFKC, case, punctuation and whitespace normalised), auto = exact+minhash, semantic = exact+minhash and
    then SemDeDup (cosine > 1 - eps) on `embeddings()` (every row of `df`), keeping the earlier row of
    each group.
    """
    if mode == "off":
        return {}, "off"
    live = [i for i, s in enumerate(skip) if s is None]
    sub = df[live].with_columns(pl.Series(POS, live, dtype=pl.Int64))
    methods: list[Method] = ["exact"] if mode == "exact" else ["exact", "minhash"]
    extra: dict[str, Any] = {}
    if mode == "semantic":
        if embeddings is None:
            raise ConfigError("--dedup semantic needs the rows' embeddings")
        x = embeddings()[live]
        sub = sub.with_columns(pl.Series(schema.EMBEDDING, x, dtype=pl.Array(pl.Float32, x.shape[1])))
        methods.append("semantic")
        extra = {"eps": eps, "semantic_order": "keep"}
    removed = dedup(sub, DedupConfig(methods=tuple(methods), **extra)).removed
    out: dict[int, str] = {}
    if removed is not None and removed.height:
        if POS in removed.columns:
            pos = removed[POS].to_list()
        else:
            where = {rid: i for i, rid in zip(live, row_ids(sub), strict=True)}
            pos = [where[str(r)] for r in removed[schema.ROW_ID].to_list()]
        dup_of = removed[schema.DUP_OF].cast(pl.Utf8).to_list()
        out = {int(p): str(d) for p, d in zip(pos, dup_of, strict=True)}
    how = {"exact": "qdc.dedup exact", "auto": "qdc.dedup exact+minhash"}.get(
        mode, f"qdc.dedup exact+minhash+semantic (eps {eps:g})"
    )
    return out, how


def _compute_column(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """Add qdc_quality / qdc_complexity with their stages when a score needs them."""
    if name == schema.QUALITY:
        notice("no qdc_quality column: scoring quality with the default scorer (written to the output)")
        out = score_quality(df, QualityConfig())
    elif name == schema.COMPLEXITY:
        notice("no qdc_complexity column: scoring complexity (written to the output)")
        out = score_complexity(df, ComplexityConfig())
    else:
        raise MissingColumnError(f"missing column '{name}'")
    if out.height != df.height or name not in out.columns:
        raise ConfigError(f"computing {name} changed the number of rows")
    # The quality signals come along (qdc_q_<signal>) for the junk gate (`robust.signal_flags`); the output
    # gets qdc_quality only (core._COMPUTED).
    extra = [c for c in out.columns if c.startswith(schema.QUALITY_SIGNAL_PREFIX) and c not in df.columns]
    return df.with_columns(out[name].cast(pl.Float64).alias(name), *[out[c] for c in extra])


def ensure_columns(df: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Compute qdc_quality/qdc_complexity when an expression names them and they are missing."""
    for raw in names:
        for name in (raw, f"qdc_{raw}"):
            missing = name not in df.columns and raw not in df.columns
            if name in (schema.QUALITY, schema.COMPLEXITY) and missing:
                df = _compute_column(df, name)
    return df


def score_expression(cfg: SelectConfig, df: pl.DataFrame) -> str:
    """The expression that defines the score: --score, `weights`, else qdc_quality (computed when missing)."""
    if cfg.score is not None:
        return str(cfg.score)
    if cfg.weights:
        return weights_expression(dict(cfg.weights))
    return schema.QUALITY


def evaluate(df: pl.DataFrame, expr_text: str, label: str) -> tuple[pl.DataFrame, np.ndarray]:
    """Evaluate an expression (computing missing quality/complexity first); nulls become the minimum."""
    df = ensure_columns(df, referenced_names(expr_text))
    expr, used = parse_score(expr_text, df.columns)
    try:
        vals = df.select(expr.alias("_s"))["_s"].cast(pl.Float64).to_numpy().astype(np.float64)
    except pl.exceptions.PolarsError as exc:
        texts = [c for c in used if not (df[c].dtype.is_numeric() or df[c].dtype == pl.Boolean)]
        why = f"column {texts[0]!r} holds {df[texts[0]].dtype} values, not numbers" if texts else str(exc)[:300]
        raise ConfigError(f"{label} {expr_text!r}: {why}") from None
    bad = ~np.isfinite(vals)
    if bad.all() and vals.size:
        raise ConfigError(f"{label} {expr_text!r}: no row has a finite value")
    if bad.any():
        notice(f"{label}: {int(bad.sum())} row(s) without a finite value count as the lowest score")
        vals[bad] = float(vals[~bad].min())
    return df, vals
