"""`qdc check`: schema checks and policy thresholds for CI gates (exit 3 when one fails).

Schema checks: lines that could not be read (`max_bad_rows`), required fields present and non-null on every
row, field JSON types, and empty text (`max_empty_rate`). Policy thresholds: row count, duplicate rate
(by the dedup stage), Vendi (embeddings), mean quality, junk rate (rows with qdc_quality below
`junk_below`), mean text length, mean complexity. A check runs only when its threshold is set; scores and
embeddings are reused from the rows when present and computed (by the stages) when not.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import orjson
import polars as pl
from pydantic import Field, model_validator

from qdc import measure, schema
from qdc.config import StageConfig, validate_config
from qdc.quality import is_junk

if TYPE_CHECKING:
    from qdc.io.rows import BadRow

JsonType = Literal["string", "integer", "number", "boolean", "list", "object", "null"]


class CheckConfig(StageConfig):
    """Thresholds of `qdc check` (and of the `check` pipeline stage); None = not checked."""

    min_rows: int | None = None
    """At least this many rows."""
    max_rows: int | None = None
    """At most this many rows."""
    required_fields: list[str] = Field(default_factory=list)
    """Fields every row must have, with a non-null value."""
    field_types: dict[str, JsonType] = Field(default_factory=dict)
    """JSON type every present, non-null value of a field must have, e.g. {id: string}."""
    max_bad_rows: int | None = 0
    """Lines that are not JSON objects or have no usable text (counted when read with on_bad_rows=skip)."""
    max_empty_rate: float | None = 0.0
    """Fraction of rows whose analysed text is empty or whitespace."""
    max_dup_rate: float | None = None
    """Fraction of rows the dedup stage would remove."""
    dedup: dict[str, Any] = Field(default_factory=dict)
    """Options for the dedup stage used by max_dup_rate (its defaults when empty)."""
    min_vendi: float | None = None
    """Vendi score (effective number of distinct rows) at least this."""
    min_mean_quality: float | None = None
    """Mean qdc_quality at least this (scored when missing)."""
    max_junk_rate: float | None = None
    """Fraction of rows with qdc_quality below junk_below or missing (unscored), at most this."""
    junk_below: float | None = None
    """qdc_quality below this is junk; default: qdc.quality.JUNK_THRESHOLD, else 0.3."""
    quality: dict[str, Any] = Field(default_factory=dict)
    """Options for the score-quality stage when rows carry no qdc_quality."""
    max_mean_length: float | None = None
    """Mean length of the analysed text, in characters."""
    min_mean_complexity: float | None = None
    """Mean qdc_complexity at least this (scored when missing)."""
    complexity: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _nested_options(self) -> CheckConfig:
        """The dedup/quality/complexity options are checked with the config (a --dry-run, a file's stage), not
        only after the data is read."""
        from qdc.complexity import ComplexityConfig
        from qdc.dedup import DedupConfig
        from qdc.errors import ConfigError
        from qdc.quality import QualityConfig

        for key, cls in (("dedup", DedupConfig), ("quality", QualityConfig), ("complexity", ComplexityConfig)):
            try:
                validate_config(cls, getattr(self, key), f"{key} options")
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return self


@dataclass
class Check:
    """One check's outcome."""

    name: str
    value: float | int | None
    op: str
    threshold: float | int
    passed: bool
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_OPS = {">=": operator.ge, "<=": operator.le}


def _check(name: str, value: float, op: str, threshold: float | None, detail: str = "") -> Check | None:
    if threshold is None:
        return None
    v = round(value, 6) if isinstance(value, float) else value
    return Check(name, v, op, threshold, bool(_OPS[op](value, threshold)), detail)


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    return "list" if isinstance(v, list) else "object"


def _rows(df: pl.DataFrame, fields: list[str]) -> list[dict[str, Any]]:
    """The named fields of every row, as JSON values (from the original lines when available)."""
    if schema.RAW in df.columns:
        out = []
        for raw in df[schema.RAW].to_list():
            obj = orjson.loads(raw)
            out.append({f: obj[f] for f in fields if f in obj})
        return out
    present = [f for f in fields if f in df.columns]
    return [dict(row) for row in df.select(present).iter_rows(named=True)]


def schema_checks(df: pl.DataFrame, cfg: CheckConfig, bad: Sequence[BadRow] = ()) -> list[Check]:
    """Bad lines (`bad`: the lines the read skipped; the first is named), required fields, field types and
    empty text."""
    detail = f"first at {bad[0].place}" if bad else ""
    out: list[Check | None] = [_check("bad_rows", len(bad), "<=", cfg.max_bad_rows, detail)]
    fields = list(dict.fromkeys([*cfg.required_fields, *cfg.field_types]))
    rows = _rows(df, fields) if fields else []
    for f in cfg.required_fields:
        missing = [i for i, r in enumerate(rows) if r.get(f) is None]
        detail = f"first at {schema.where(df, missing[0])}" if missing else ""
        out.append(_check(f"required:{f}", len(missing), "<=", 0, detail))
    for f, want in cfg.field_types.items():
        wrong = []
        for i, r in enumerate(rows):
            got = _json_type(r.get(f))
            if got != "null" and got != want and not (want == "number" and got == "integer"):
                wrong.append((i, got))
        detail = f"first at {schema.where(df, wrong[0][0])}: {wrong[0][1]}" if wrong else ""
        out.append(_check(f"type:{f}={want}", len(wrong), "<=", 0, detail))
    if df.height:
        empty = df[schema.TEXT].str.strip_chars().str.len_chars() == 0
        n_empty = int(empty.sum())
        first = f"first at {schema.where(df, int(empty.arg_max() or 0))}" if n_empty else ""
        out.append(_check("empty_rate", n_empty / df.height, "<=", cfg.max_empty_rate, first))
    return [c for c in out if c is not None]


def run_checks(
    df: pl.DataFrame, cfg: CheckConfig, ctx: measure.Context | None = None, bad: Sequence[BadRow] = ()
) -> list[Check]:
    """Every configured check on a prepared frame, in a fixed order."""
    ctx = ctx or measure.MeasureContext()
    out: list[Check | None] = list(schema_checks(df, cfg, bad))
    n = df.height
    out.append(_check("rows", n, ">=", cfg.min_rows))
    out.append(_check("rows", n, "<=", cfg.max_rows))
    if cfg.max_dup_rate is not None:
        dups = measure.duplicates(df, ctx, cfg.dedup)
        detail = f"{dups.removed.height} duplicate rows; {dups.method}"
        if dups.removed.height and schema.DUP_OF in dups.removed.columns:  # one to look at: `qdc dedup --removed`
            detail += f"; first: {schema.where(dups.removed, 0)} repeats {dups.removed[schema.DUP_OF][0]}"
        out.append(_check("dup_rate", dups.rate, "<=", cfg.max_dup_rate, detail))
    if cfg.min_vendi is not None:
        v, _ = measure.vendi(df, ctx)
        name = measure.embedding_info(ctx, df)["name"]
        how = name if schema.stored_dim(df) is not None else f"model {name}"
        out.append(_check("vendi", v, ">=", cfg.min_vendi, how))
    if cfg.min_mean_quality is not None or cfg.max_junk_rate is not None:
        how = "stored qdc_quality" if schema.QUALITY in df.columns else "scored now (score-quality defaults)"
        scored = measure.with_quality(df, ctx, cfg.quality)[schema.QUALITY]
        q = scored.cast(pl.Float64).fill_null(0.0)
        out.append(_check("mean_quality", float(q.mean() or 0.0), ">=", cfg.min_mean_quality, how))  # type: ignore[arg-type]
        below = cfg.junk_below if cfg.junk_below is not None else measure.junk_threshold()
        junk = float(is_junk(scored, below).mean()) if n else 0.0
        out.append(_check("junk_rate", junk, "<=", cfg.max_junk_rate, f"qdc_quality < {below:g} or unscored"))
    out.append(_check("mean_length", measure.mean_length(df), "<=", cfg.max_mean_length, "characters"))
    if cfg.min_mean_complexity is not None:
        how = "stored qdc_complexity" if schema.COMPLEXITY in df.columns else "scored now (score-complexity defaults)"
        c = measure.with_complexity(df, ctx, cfg.complexity)[schema.COMPLEXITY].cast(pl.Float64)
        out.append(_check("mean_complexity", float(c.mean() or 0.0), ">=", cfg.min_mean_complexity, how))  # type: ignore[arg-type]
    return [c for c in out if c is not None]


def failure_message(checks: list[Check]) -> str:
    failed = [c for c in checks if not c.passed]
    parts = [f"{c.name} = {c.value} (needs {c.op} {c.threshold})" for c in failed]
    return f"{len(failed)} of {len(checks)} checks failed: " + "; ".join(parts)
