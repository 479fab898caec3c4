"""The `score-quality` stage: `qdc_quality` in [0, 1] plus the `qdc_q_*` columns behind it.

Scorers: `learned` (default, no model to download: tree ensembles shipped as JSON in qdc/data, trained on
public judged answers and junk; see `qdc.quality.learned`), `heuristic` (v1 hand-set gates, the model-free
fallback), `classifier` (logistic regression trained with `qdc train-quality`), `judge` (an LLM behind an
OpenAI-compatible API), `lm` (optional, `qdc[lm]`: a small causal LM's perplexity and IFD, see
`qdc.quality.lm`). The classifier, judge and lm scorers also write the heuristic signals.

The learned scorer writes `qdc_q_junk` (P(not junk)), `qdc_q_grade` and `qdc_q_reason` (the signals
that drove a junk verdict, '' otherwise; the column the HTML report can show). Rows with no response
part (plain text) get the heuristic defect gates only: no length preference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from qdc import schema
from qdc.config import StageConfig
from qdc.embed import EmbedConfig, Embedder, ensure_embeddings
from qdc.errors import ConfigError, quote
from qdc.quality.heuristic import SIGNALS, explain_row, score_rows
from qdc.quality.judge import JudgeConfig
from qdc.quality.lm import LMConfig

__all__ = [
    "JUNK_THRESHOLD",
    "REASON",
    "SIGNALS",
    "JudgeConfig",
    "QualityConfig",
    "explain",
    "get_scorer",
    "is_junk",
    "score_quality",
]

JUDGE_ERROR = schema.QUALITY_SIGNAL_PREFIX + "judge_error"
JUNK_THRESHOLD = 0.3
"""qdc_quality below this means junk, for every model-free scorer: the learned scorer puts exactly the
rows its junk model rejects below 0.3 (its `junk_threshold`); the heuristic one puts rows with a clear
defect there (one gate near 0; a one-word reply to an open question still scores about 0.42)."""
REASON = schema.QUALITY_SIGNAL_PREFIX + "reason"


def is_junk(quality: pl.Series, below: float = JUNK_THRESHOLD) -> np.ndarray:
    """The one junk rule for every reader of qdc_quality (`qdc check`, the report's card and junk section,
    score-quality's summary): a row is junk when its qdc_quality is under `below` or missing (null or NaN:
    a judge that gave no score, a row nothing scored), since a row no scorer vouched for is no evidence of
    quality."""
    q = quality.cast(pl.Float64).fill_null(float("nan")).to_numpy()
    return np.asarray(~(q >= below), dtype=bool)


class QualityConfig(StageConfig):
    """Options of the `score-quality` stage."""

    scorer: Literal["learned", "heuristic", "classifier", "judge", "lm"] = "learned"
    """learned (trees shipped in qdc, no download), heuristic (v1 rules), classifier (needs classifier), judge
    (needs judge.model and judge.base_url) or lm (a small local language model)."""
    signals: tuple[str, ...] = SIGNALS
    """Heuristic signals to compute (all by default); the others are left out of qdc_quality."""
    classifier: Path | None = None
    """Model file written by `qdc train-quality` (scorer: classifier)."""
    judge: JudgeConfig = JudgeConfig()
    lm: LMConfig = LMConfig()
    """The language-model scorer's options (scorer: lm)."""
    label_field: str | None = None
    """Also write qdc_label_agreement: how far each row's label (this field) agrees with its k nearest
    neighbours' labels (needs embeddings: qdc_embedding, else computed)."""
    label_k: int = Field(default=10, ge=1)
    """Neighbours per row for the label agreement."""

    @field_validator("signals", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        """'a,b' (the CLI's --signals, a YAML string) as a tuple of names."""
        if isinstance(value, str):
            return tuple(s.strip() for s in value.split(",") if s.strip())
        return value

    @field_validator("signals")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in v if s not in SIGNALS]
        if unknown:
            raise ValueError(f"unknown signal(s) {unknown}; known: {', '.join(SIGNALS)}")
        return tuple(s for s in SIGNALS if s in v)  # canonical order


def _parts(df: pl.DataFrame) -> tuple[list[str], list[str]]:
    schema.require_columns(df, schema.PROMPT, schema.RESPONSE)
    prompts = df[schema.PROMPT].fill_null("").to_list()
    responses = df[schema.RESPONSE].fill_null("").to_list()
    # Plain-text rows have no response part: score the whole text as the response.
    if _plain(responses) and schema.TEXT in df.columns:
        responses, prompts = df[schema.TEXT].fill_null("").to_list(), [""] * df.height
    return prompts, responses


def _plain(responses: list[str]) -> bool:
    return all(not r for r in responses)


def _learned(df: pl.DataFrame, cfg: QualityConfig) -> tuple[np.ndarray, list[pl.Series]]:
    """The learned scorer; plain-text rows (no response part) get the heuristic defect gates only."""
    from qdc.quality.learned import score_texts

    schema.require_columns(df, schema.PROMPT, schema.RESPONSE)
    if _plain(df[schema.RESPONSE].fill_null("").to_list()) and schema.TEXT in df.columns:
        prompts, responses = _parts(df)
        gates = tuple(s for s in cfg.signals if s != "length")
        quality, cols = score_rows(prompts, responses, gates)
        return quality, [pl.Series(schema.QUALITY_SIGNAL_PREFIX + k, v, dtype=pl.Float64) for k, v in cols.items()]
    quality, p_ok, grade, reason = score_texts(
        df[schema.PROMPT].fill_null("").to_list(), df[schema.RESPONSE].fill_null("").to_list(), task="score-quality"
    )
    return quality, [
        pl.Series(schema.QUALITY_SIGNAL_PREFIX + "junk", p_ok, dtype=pl.Float64),
        pl.Series(schema.QUALITY_SIGNAL_PREFIX + "grade", grade, dtype=pl.Float64),
        pl.Series(REASON, reason, dtype=pl.String),
    ]


def score_quality(
    df: pl.DataFrame,
    cfg: QualityConfig | None = None,
    embed_cfg: EmbedConfig | None = None,
    embedder: Embedder | None = None,
) -> pl.DataFrame:
    """Add qdc_quality and the qdc_q_* signal columns (replacing earlier ones)."""
    cfg = cfg or QualityConfig()
    new: list[pl.Series]
    if cfg.scorer == "learned":
        quality, new = _learned(df, cfg)
        return _finish(df, cfg, quality, new, embed_cfg, embedder)
    prompts, responses = _parts(df)
    heuristic, cols = score_rows(prompts, responses, cfg.signals)
    new = [pl.Series(schema.QUALITY_SIGNAL_PREFIX + k, v, dtype=pl.Float64) for k, v in cols.items()]
    quality = heuristic
    if cfg.scorer == "classifier":
        from qdc.quality import classifier

        if cfg.classifier is None:
            raise ConfigError("the classifier scorer needs a model file (--classifier MODEL.json)")
        model = classifier.load(cfg.classifier)
        quality = classifier.predict(model, df, embed_cfg, embedder)
        new.append(pl.Series(schema.QUALITY_SIGNAL_PREFIX + "classifier", quality, dtype=pl.Float64))
    elif cfg.scorer == "judge":
        from qdc.quality.judge import Judge

        judge = Judge(cfg.judge)
        try:
            scores, errors = judge.score(prompts, responses)
        finally:
            judge.close()
        new.append(pl.Series(schema.QUALITY_SIGNAL_PREFIX + "judge", scores, dtype=pl.Float64).fill_nan(None))
        new.append(pl.Series(JUDGE_ERROR, errors, dtype=pl.String))
        missing = np.isnan(scores)
        quality = np.where(missing, heuristic, scores) if cfg.judge.on_error == "fallback" else scores
    elif cfg.scorer == "lm":
        from qdc.quality.lm import score_lm

        quality, ppl, ifd = score_lm(prompts, responses, cfg.lm)
        new.append(pl.Series(schema.QUALITY_SIGNAL_PREFIX + "ppl", ppl, dtype=pl.Float64).fill_nan(None))
        new.append(pl.Series(schema.QUALITY_SIGNAL_PREFIX + "ifd", ifd, dtype=pl.Float64).fill_nan(None))
    return _finish(df, cfg, quality, new, embed_cfg, embedder)


def _finish(
    df: pl.DataFrame,
    cfg: QualityConfig,
    quality: np.ndarray,
    new: list[pl.Series],
    embed_cfg: EmbedConfig | None,
    embedder: Embedder | None,
) -> pl.DataFrame:
    """qdc_quality and the signal columns replace any earlier ones."""
    q = pl.Series(schema.QUALITY, np.clip(quality, 0.0, 1.0), dtype=pl.Float64).fill_nan(None)
    if cfg.label_field is not None:
        new.append(_label_agreement(df, cfg, embed_cfg, embedder))
    old = [
        c
        for c in df.columns
        if c == schema.QUALITY or c.startswith(schema.QUALITY_SIGNAL_PREFIX) or c == schema.LABEL_AGREEMENT
    ]
    return df.drop(old).with_columns(q, *new)


def _label_agreement(
    df: pl.DataFrame, cfg: QualityConfig, embed_cfg: EmbedConfig | None, embedder: Embedder | None
) -> pl.Series:
    """The qdc_label_agreement column (null where the label is null)."""
    from qdc.quality.agreement import label_agreement

    assert cfg.label_field is not None
    schema.require_columns(df, cfg.label_field, hint="--label-field names a field every row may carry")
    labels = df[cfg.label_field].to_list()
    x = ensure_embeddings(df, embed_cfg, embedder)[1]
    return pl.Series(schema.LABEL_AGREEMENT, label_agreement(x, labels, cfg.label_k), dtype=pl.Float64).fill_nan(None)


def get_scorer(
    cfg: QualityConfig | None = None, embed_cfg: EmbedConfig | None = None, embedder: Embedder | None = None
) -> Callable[[pl.DataFrame], np.ndarray]:
    """A function rows -> quality array (float64, NaN where a judge gave none), for scoring subsets.

    Selection strategies call it on the rows they are about to pick, so an expensive judge runs only on a
    fraction of the data. Heavy resources (classifier weights) load once, on first use.
    """
    cfg = cfg or QualityConfig()

    def scorer(rows: pl.DataFrame) -> np.ndarray:
        if rows.height == 0:
            return np.zeros(0, dtype=np.float64)
        out = score_quality(rows, cfg, embed_cfg, embedder)[schema.QUALITY]
        return np.asarray(out.cast(pl.Float64).fill_null(np.nan).to_numpy(), dtype=np.float64)

    return scorer


def _find_row(df: pl.DataFrame, row_id: str) -> int:
    """The first row whose id is `row_id`; an id no row has is a usage error (the data is fine)."""
    schema.require_columns(df, schema.ROW_ID)
    ids = df[schema.ROW_ID].cast(pl.String)
    hits = np.flatnonzero(np.asarray(ids.to_numpy() == str(row_id)))
    if hits.size == 0:
        source = f" in {df[schema.SRC][0]}" if schema.SRC in df.columns and df.height else ""
        example = f" (ids look like {quote(ids[0])})" if df.height else ""
        raise ConfigError(f"--explain {quote(row_id)}: no row has this id{source}{example}")
    return int(hits[0])


def explain(df: pl.DataFrame, row_id: str, cfg: QualityConfig | None = None) -> dict[str, Any]:
    """One row's heuristic signals with their measurements, and any stored quality columns."""
    cfg = cfg or QualityConfig()
    i = _find_row(df, row_id)
    prompts, responses = _parts(df[i : i + 1])
    out: dict[str, Any] = {"id": str(row_id), "where": schema.where(df, i)}
    plain = _plain(df[schema.RESPONSE].fill_null("").to_list()) and schema.TEXT in df.columns
    if cfg.scorer == "learned" and not plain:
        out.update(_explain_learned(df, i))
    else:
        out.update(explain_row(prompts[0], responses[0], cfg.signals))
    stored = {c: df[c][i] for c in df.columns if c == schema.QUALITY or c.startswith(schema.QUALITY_SIGNAL_PREFIX)}
    if stored:
        out["stored"] = stored
    return out


def _explain_learned(df: pl.DataFrame, i: int) -> dict[str, Any]:
    """The learned scorer's verdict on one row: P(not junk), grade, the culprits and every feature.

    Computed on the whole frame (the canned-answer signal is a property of the batch).
    """
    from qdc.quality.features import feature_frame
    from qdc.quality.learned import load_default, score_frame

    model = load_default()
    prompts, responses = df[schema.PROMPT].fill_null("").to_list(), df[schema.RESPONSE].fill_null("").to_list()
    frame = feature_frame(prompts, responses)
    # scored from the same frame on the whole batch, as score_quality does: the same number and reason
    quality, p_ok, grade, reasons = score_frame(model, frame, responses)
    reason = reasons[i]
    signals: dict[str, Any] = {
        "junk": {"score": round(float(p_ok[i]), 4), "judged_junk": bool(quality[i] < model.base), "reason": reason},
        "grade": {"score": round(float(grade[i]), 4)},
    }
    for name in frame.columns:
        signals[name] = {"value": round(float(frame[name][i]), 4), "used": name in model.features}
    return {"quality": round(float(quality[i]), 4), "reason": reason, "signals": signals}


def summary(df: pl.DataFrame) -> dict[str, Any]:
    """Distribution of qdc_quality and how many rows each signal flagged (< 1)."""
    q = df[schema.QUALITY].drop_nulls()
    flagged = {
        c[len(schema.QUALITY_SIGNAL_PREFIX) :]: int((df[c] < 1.0).sum())
        for c in df.columns
        if c.startswith(schema.QUALITY_SIGNAL_PREFIX)
        and df[c].dtype == pl.Float64
        and c[len(schema.QUALITY_SIGNAL_PREFIX) :] in SIGNALS
    }
    quantiles = (
        {f"p{p}": round(float(q.quantile(p / 100, "nearest") or 0.0), 4) for p in (10, 50, 90)} if q.len() else {}
    )
    mean = q.cast(pl.Float64).mean() if q.len() else None
    out = {
        "rows": df.height,
        "mean": round(float(mean), 4) if isinstance(mean, float) else None,
        **quantiles,
        "below_0.5": int((q < 0.5).sum()),
        "junk": int(is_junk(df[schema.QUALITY]).sum()),
        "flagged": flagged,
    }
    if REASON in df.columns:
        reasons = [r.split(",")[0] for r in df[REASON].fill_null("").to_list() if r]
        out["junk_reasons"] = dict(sorted(Counter(reasons).items(), key=lambda kv: (-kv[1], kv[0])))
    return out
