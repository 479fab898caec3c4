"""The `score-complexity` stage: `qdc_complexity` in [0, 1] plus the `qdc_c_*` signals behind it.

Each raw signal (see `qdc.complexity.signals`) is mapped to [0, 1] by a saturating curve
1 - exp(-value / scale), with scales chosen so a typical "hard" instruction reaches about 0.6-0.9:

    tokens 60, constraints 3, questions 3, steps 6, ast_nodes 150, mtld 80 (code_blocks: 1 when any)

qdc_complexity is their weighted mean: tokens 0.2, constraints 0.2, questions 0.1, steps 0.2,
code (max of presence * 0.5 and the AST curve) 0.15, mtld 0.15. The weights favour what the instruction
demands (length, constraints, sub-tasks) over what the response happened to do.
With `scorer: judge` an LLM rates the instruction with a DEITA-style 1-6 complexity rubric instead, and
qdc_complexity is (rating - 1) / 5 (rows it cannot rate fall back to the heuristic value).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import polars as pl

from qdc import schema
from qdc.complexity.signals import NAMES, measure
from qdc.config import StageConfig
from qdc.quality.judge import JudgeConfig

__all__ = ["ComplexityConfig", "explain", "score_complexity", "summary"]

SCALES = {"tokens": 60.0, "constraints": 3.0, "questions": 3.0, "steps": 6.0, "ast_nodes": 150.0, "mtld": 80.0}
WEIGHTS = {"tokens": 0.2, "constraints": 0.2, "questions": 0.1, "steps": 0.2, "code": 0.15, "mtld": 0.15}


class ComplexityConfig(StageConfig):
    """Options of the `score-complexity` stage."""

    scorer: Literal["heuristic", "judge"] = "heuristic"
    """heuristic (no model) or judge (DEITA-style 1-6 complexity rubric; needs judge.model and base_url)."""
    judge: JudgeConfig = JudgeConfig(rubric="complexity6")


def _curve(value: float, scale: float) -> float:
    return 1.0 - math.exp(-max(value, 0.0) / scale)


def combine(raw: dict[str, float]) -> float:
    """qdc_complexity from one row's raw signals."""
    parts = {k: _curve(raw[k], SCALES[k]) for k in ("tokens", "constraints", "questions", "steps", "mtld")}
    parts["code"] = max(0.5 if raw["code_blocks"] > 0 else 0.0, _curve(raw["ast_nodes"], SCALES["ast_nodes"]))
    return sum(WEIGHTS[k] * parts[k] for k in WEIGHTS)


def _parts(df: pl.DataFrame) -> tuple[list[str], list[str]]:
    schema.require_columns(df, schema.PROMPT, schema.RESPONSE)
    prompts = df[schema.PROMPT].fill_null("").to_list()
    responses = df[schema.RESPONSE].fill_null("").to_list()
    if all(not p for p in prompts) and schema.TEXT in df.columns:
        prompts = df[schema.TEXT].fill_null("").to_list()
    return prompts, responses


def score_complexity(df: pl.DataFrame, cfg: ComplexityConfig | None = None) -> pl.DataFrame:
    """Add qdc_complexity and the qdc_c_* raw signals (replacing earlier ones)."""
    cfg = cfg or ComplexityConfig()
    prompts, responses = _parts(df)
    raws = [measure(p, r) for p, r in zip(prompts, responses, strict=True)]
    values = np.array([combine(r) for r in raws], dtype=np.float64)
    cols = [pl.Series(schema.COMPLEXITY_SIGNAL_PREFIX + k, [r[k] for r in raws], dtype=pl.Float64) for k in NAMES]
    if cfg.scorer == "judge":
        from qdc.quality.judge import Judge

        judge = Judge(cfg.judge)
        try:
            scores, errors = judge.score(prompts, [""] * len(prompts))
        finally:
            judge.close()
        judged = pl.Series(schema.COMPLEXITY_SIGNAL_PREFIX + "judge", scores, dtype=pl.Float64)
        cols.append(judged.fill_nan(None))
        cols.append(pl.Series(schema.COMPLEXITY_SIGNAL_PREFIX + "judge_error", errors, dtype=pl.String))
        values = np.where(np.isnan(scores), values, scores)
    old = [c for c in df.columns if c == schema.COMPLEXITY or c.startswith(schema.COMPLEXITY_SIGNAL_PREFIX)]
    return df.drop(old).with_columns(pl.Series(schema.COMPLEXITY, np.clip(values, 0.0, 1.0)), *cols)


def summary(df: pl.DataFrame) -> dict[str, Any]:
    """Rows, and the mean and 90th percentile of qdc_complexity (None without rows), rounded to 4 places."""
    values = df[schema.COMPLEXITY].to_numpy()
    mean, p90 = (round(float(f(values)), 4) if values.size else None for f in (np.mean, lambda v: np.quantile(v, 0.9)))
    return {"rows": df.height, "mean": mean, "p90": p90}


def explain(df: pl.DataFrame, row_id: str) -> dict[str, Any]:
    """One row's raw complexity signals, their [0, 1] parts and the combined value."""
    from qdc.quality import _find_row

    i = _find_row(df, row_id)
    prompts, responses = _parts(df[i : i + 1])
    raw = measure(prompts[0], responses[0])
    return {
        "id": str(row_id),
        "where": schema.where(df, i),
        "complexity": round(combine(raw), 4),
        "signals": {k: round(v, 4) for k, v in raw.items()},
    }
