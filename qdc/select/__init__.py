"""The `select` stage: choose B rows that balance quality and diversity, with a reason for every row.

Strategies (one per module): `kmq` (default), `iterative`, `bandit`, and the baselines `random`, `top`,
`deita`, `kcenter`. See docs/select.md for how each maps to its paper and what was adapted.

Output order: selected rows keep their input order (stable and independent of the strategy's internal
pick order, which the manifest's per-round counts describe). Same input + config + seed = same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator, model_validator

from qdc import schema
from qdc.config import StageConfig
from qdc.embed import EmbedConfig, Embedder, ensure_embeddings
from qdc.errors import ConfigError
from qdc.select import clusters as _clusters
from qdc.select.eligible import (
    dedup_duplicates,
    evaluate,
    optional_module,
    row_ids,
    score_expression,
    token_counts,
)
from qdc.select.pool import FeedbackSource, Pool, Scorer
from qdc.select.run import run_groups

__all__ = ["STRATEGIES", "SelectConfig", "SelectResult", "ledger", "select"]

STRATEGIES = ("kmq", "iterative", "bandit", "random", "top", "deita", "kcenter")
_NEEDS_SCORE = {"top", "deita"}


class SelectConfig(StageConfig):
    """Options of the `select` stage (field docs double as the CLI help)."""

    budget: int | float | None = None
    """Rows to select (an integer), or a fraction of the input rows (0 < f < 1)."""
    budget_tokens: int | None = None
    """Alternatively a token budget: each row costs its token count (or --cost-field)."""
    strategy: Literal["kmq", "iterative", "bandit", "random", "top", "deita", "kcenter"] = "kmq"
    seed: int = 0
    score: str | None = None
    """Score expression over columns, e.g. 'qdc_quality * qdc_complexity' [default: qdc_quality]."""
    weights: dict[str, float] | None = None
    """Score as a weighted sum, e.g. {quality: 1, complexity: 0.5}."""
    min_quality: float | None = None
    """Rows with qdc_quality below this are never selected."""
    dedup: Literal["auto", "exact", "semantic", "off"] = "auto"
    """Duplicates found on the fly: auto = qdc.dedup exact+minhash when installed, else exact text;
    semantic = exact+minhash, then SemDeDup on the embeddings (near-paraphrases too)."""
    dedup_eps: float = Field(default=0.05, gt=0.0, lt=1.0)
    """--dedup semantic: rows with cosine > 1 - eps to an earlier eligible row are duplicates."""
    cost_field: str | None = None
    """Numeric column giving each row's cost for --budget-tokens [default: word+punctuation tokens]."""
    group_field: str | None = None
    quota: str = "proportional"
    """Per-group share of the budget: equal, proportional, or min:N."""
    # clustering (kmq, iterative, bandit)
    k: int | None = None
    """Clusters [default: reuse qdc_cluster, else clamp(B/10, 2, 1024)]."""
    niter: int = 25
    allocation: Literal["equal", "proportional"] = "equal"
    within: Literal["softmax", "top", "random"] = "softmax"
    temperature: float = 0.2
    """Within-cluster softmax temperature on the standardised score (0.2 ≈ the original's peakedness)."""
    cluster_quality: bool = True
    """Scale cluster shares by min(1, 2·mean score percentile) so junk-only clusters get ~nothing."""
    diversity_weight: float | None = None
    """0 = pure score (top-B), 1 = pure coverage (uniform over clusters); kmq and iterative."""
    # iterative
    rounds: int = 3
    cluster_temperature: float = 1.0
    explore: float = 0.1
    feedback: str | None = None
    """Feedback expression for iterative/bandit [default: the score]; 'a - b' is the gap mode."""
    gap: tuple[str, str] | None = None
    """Two columns (reference, candidate): feedback = reference - candidate (the paper's reward gap)."""
    scorer: str | None = None
    """Name of a qdc.quality scorer (e.g. judge) used as feedback; called only on selected/probed rows."""
    feedback_portion: float = 1.0
    # bandit
    max_scored: int | None = None
    """Hard cap on scorer calls [default: ceil(0.2·B)]."""
    probe: int = 10
    block: int | None = None
    pulls_per_round: int = 50
    alpha: float = 1.0
    tau: float | None = None
    neighbour_radius: float = 0.0
    max_rounds: int = 200
    accept: Literal["block", "scored_only"] = "block"
    backfill: bool = True
    # deita
    ceiling: float = 0.9
    """DEITA: maximum cosine similarity between two selected rows."""

    @field_validator("budget")
    @classmethod
    def _budget(cls, v: int | float | None) -> int | float | None:
        if v is None:
            return v
        if isinstance(v, float) and v >= 1:
            if not v.is_integer():
                raise ValueError("a budget >= 1 must be a whole number of rows")
            return int(v)
        if v <= 0:
            raise ValueError("must be positive")
        return v

    @field_validator("quota")
    @classmethod
    def _quota(cls, v: str) -> str:
        if v in ("equal", "proportional"):
            return v
        if v.startswith("min:") and v[4:].strip().isdigit():
            return v
        raise ValueError("expected equal, proportional or min:N")

    @model_validator(mode="after")
    def _check(self) -> SelectConfig:
        if (self.budget is None) == (self.budget_tokens is None):
            raise ValueError("give exactly one of budget (rows or fraction) and budget_tokens")
        if self.budget_tokens is not None and self.budget_tokens < 0:
            raise ValueError("budget_tokens must be >= 0")
        if self.diversity_weight is not None:
            if not 0 <= self.diversity_weight <= 1:
                raise ValueError("diversity_weight must be in [0, 1]")
            if self.strategy not in ("kmq", "iterative"):
                raise ValueError("diversity_weight applies to kmq and iterative only")
        if self.score is not None and self.weights:
            raise ValueError("give score or weights, not both")
        if not 0 <= self.explore <= 1 or not 0 < self.feedback_portion <= 1:
            raise ValueError("explore must be in [0, 1] and feedback_portion in (0, 1]")
        if not -1 <= self.ceiling <= 1:
            raise ValueError("ceiling is a cosine similarity in [-1, 1]")
        for name in ("rounds", "probe", "pulls_per_round", "max_rounds", "niter"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.k is not None and self.k < 1:
            raise ValueError("k must be at least 1")
        if self.max_scored is not None and self.max_scored < 1:
            raise ValueError("max_scored must be at least 1")
        return self


@dataclass
class SelectResult:
    """Selected rows (input order, plus qdc_select_round/qdc_select_reason), the rest with a reason."""

    selected: pl.DataFrame
    unselected: pl.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    ledger: pl.DataFrame | None = None


def _resolve_rows(cfg: SelectConfig, n_input: int) -> int:
    assert cfg.budget is not None
    if isinstance(cfg.budget, float):
        return round(cfg.budget * n_input)
    return int(cfg.budget)


def _feedback_source(
    cfg: SelectConfig, frame: pl.DataFrame, score: np.ndarray | None, scorer: Scorer | None
) -> tuple[FeedbackSource, pl.DataFrame]:
    """Where iterative/bandit feedback comes from: scorer > gap > feedback expression > the score."""
    if scorer is None and cfg.scorer is not None:
        quality = optional_module("qdc.quality", "get_scorer", "QualityConfig")
        if quality is None:
            raise ConfigError(f"--scorer {cfg.scorer}: qdc.quality (get_scorer) is not installed")
        scorer = quality.get_scorer(quality.QualityConfig(scorer=cfg.scorer))
    if scorer is not None:
        declared = getattr(scorer, "score_range", None)
        vrange = (float(declared[0]), float(declared[1])) if declared else None
        return FeedbackSource(
            frame, scorer=scorer, label=getattr(scorer, "__name__", "scorer"), value_range=vrange
        ), frame
    text = None
    if cfg.gap is not None:
        text = f"`{cfg.gap[0]}` - `{cfg.gap[1]}`"
    elif cfg.feedback is not None:
        text = cfg.feedback
    if text is not None:
        frame, vals = evaluate(frame, text, "--feedback")
        return FeedbackSource(frame, values=vals, label=text), frame
    if score is None:
        raise ConfigError(f"--strategy {cfg.strategy} needs feedback: a score, --feedback, --gap or --scorer")
    unit = cfg.score is None and not cfg.weights
    return FeedbackSource(frame, values=score, label="score", value_range=(0.0, 1.0) if unit else None), frame


def select(
    df: pl.DataFrame,
    cfg: SelectConfig,
    embed_cfg: EmbedConfig | None = None,
    embedder: Embedder | None = None,
    scorer: Callable[[pl.DataFrame], np.ndarray] | None = None,
) -> SelectResult:
    """Select rows from a prepared frame; see SelectConfig. Every input row ends up in exactly one output."""
    n = df.height
    ids = row_ids(df)
    excluded: list[str | None] = [None] * n
    counts: dict[str, int] = {}
    if schema.DUP_OF in df.columns:
        for i, d in enumerate(df[schema.DUP_OF].cast(pl.Utf8).to_list()):
            if d is not None and d != "":
                excluded[i] = f"duplicate of {d}"
    full_x: list[np.ndarray] = []

    def all_embeddings() -> np.ndarray:
        """Embeddings of every input row, computed once (semantic dedup and the strategy share them)."""
        if not full_x:
            full_x.append(ensure_embeddings(df, embed_cfg, embedder)[1])
        return full_x[0]

    dups, dedup_how = dedup_duplicates(df, excluded, cfg.dedup, all_embeddings, cfg.dedup_eps) if n else ({}, "off")
    for i, d in dups.items():
        excluded[i] = f"duplicate of {d}"
    counts["duplicate"] = sum(1 for e in excluded if e is not None)
    uses_feedback = cfg.strategy in ("iterative", "bandit")
    external = uses_feedback and (
        scorer is not None or cfg.scorer is not None or cfg.gap is not None or cfg.feedback is not None
    )
    required = (
        cfg.strategy in _NEEDS_SCORE
        or (uses_feedback and not external)
        or (cfg.strategy == "kmq" and (cfg.within != "random" or cfg.diversity_weight not in (None, 1.0)))
    )
    work = df
    expr_text = (
        None
        if cfg.strategy in ("random", "kcenter") and cfg.score is None and not cfg.weights
        else score_expression(cfg, df, required)
    )
    score_all: np.ndarray | None = None
    if expr_text is not None and n:
        work, score_all = evaluate(work, expr_text, "--score")
    if cfg.min_quality is not None and n:
        if schema.QUALITY not in work.columns:
            work, _ = evaluate(work, schema.QUALITY, "--min-quality")
        q = work[schema.QUALITY].cast(pl.Float64).fill_null(float("-inf")).to_numpy()
        low = 0
        for i in range(n):
            if excluded[i] is None and not q[i] >= cfg.min_quality:
                excluded[i] = f"quality {q[i]:.4g} below --min-quality {cfg.min_quality:g}"
                low += 1
        counts["below_min_quality"] = low
    live = np.asarray([i for i in range(n) if excluded[i] is None], dtype=np.int64)
    frame = work[live] if n else work
    budget_rows = min(_resolve_rows(cfg, n), live.size) if cfg.budget is not None else None
    cost = token_counts(frame, cfg.cost_field) if live.size else np.zeros(0, dtype=np.int64)
    est_rows = (
        budget_rows
        if budget_rows is not None
        else int(min(live.size, (cfg.budget_tokens or 0) // max(float(cost.mean()) if cost.size else 1.0, 1.0)))
    )
    reuse = schema.CLUSTER in frame.columns and cfg.k is None and frame[schema.CLUSTER].null_count() == 0
    cluster_info: dict[str, Any] = {"source": "qdc_cluster column" if reuse else "k-means"}

    def embed_fn() -> np.ndarray:
        if full_x:
            return full_x[0][live]
        return ensure_embeddings(frame, embed_cfg, embedder)[1]

    def cluster_fn(p: Pool) -> np.ndarray:
        if reuse:
            _, dense = np.unique(p.frame[schema.CLUSTER].to_numpy(), return_inverse=True)
            return np.asarray(dense, dtype=np.int64)
        k = cfg.k if cfg.k is not None else _clusters.default_k(max(p.cluster_budget, 1), max(p.n, 1))
        return _clusters.compute_labels(p.embeddings(), min(k, max(p.n, 1)), cfg.seed, cfg.niter)

    score = None if score_all is None else score_all[live]
    pool = Pool(frame=frame, score=score, cost=cost, embed_fn=embed_fn, cluster_fn=cluster_fn, cluster_budget=est_rows)
    feedback = None
    if uses_feedback and live.size:
        feedback, frame = _feedback_source(cfg, frame, score, scorer)
        pool.frame = frame
    picks, run_log = run_groups(pool, cfg, feedback, budget_rows)
    # --- assemble
    sel_pos = live[picks.order] if picks.order.size else np.zeros(0, dtype=np.int64)
    round_col: list[int | None] = [None] * n
    reason_col: list[str] = [""] * n
    for p, r, why in zip(sel_pos.tolist(), picks.rounds.tolist(), picks.reasons, strict=True):
        round_col[p] = int(r)
        reason_col[p] = why
    selected_mask = np.zeros(n, dtype=bool)
    selected_mask[sel_pos] = True
    not_chosen = f"not selected by {cfg.strategy} (budget, or outranked)"
    for i in range(n):
        if not selected_mask[i]:
            reason_col[i] = excluded[i] or not_chosen
    out = df.with_columns(
        pl.Series(schema.SELECT_ROUND, round_col, dtype=pl.Int64),
        pl.Series(schema.SELECT_REASON, reason_col, dtype=pl.Utf8),
    )
    selected = out.filter(pl.Series(selected_mask))
    unselected = out.filter(~pl.Series(selected_mask)).drop(schema.SELECT_ROUND)
    ks = [pool.cluster_count()] + [g.get("k") for g in run_log.get("groups", {}).get("per_group", [])]
    clustered = [k for k in ks if k is not None]
    if clustered:
        cluster_info["k"] = clustered[0] if len(clustered) == 1 else sum(clustered)
    tokens = int(cost[picks.order].sum()) if picks.order.size else 0
    manifest: dict[str, Any] = {
        "stage": "select",
        "strategy": cfg.strategy,
        "seed": cfg.seed,
        "config": cfg.model_dump(mode="json"),
        "score": expr_text,
        "dedup": dedup_how,
        "rows_in": n,
        "eligible": int(live.size),
        "excluded": counts,
        "budget": {"rows": budget_rows, "tokens": cfg.budget_tokens},
        "selected": int(sel_pos.size),
        "selected_tokens": tokens,
        "clusters": cluster_info if clustered else None,
        "scorer_calls": feedback.calls if feedback is not None else 0,
        "feedback": None if feedback is None else feedback.label,
        "mean_score_selected": None
        if score is None or not picks.order.size
        else round(float(score[picks.order].mean()), 6),
        "mean_score_eligible": None if score is None or not live.size else round(float(score.mean()), 6),
        **run_log,
    }
    led = pl.DataFrame(
        {
            "id": ids,
            "line": df[schema.LINE].to_list() if schema.LINE in df.columns else list(range(1, n + 1)),
            "selected": selected_mask.tolist(),
            "round": round_col,
            "reason": reason_col,
        },
        schema={"id": pl.Utf8, "line": pl.Int64, "selected": pl.Boolean, "round": pl.Int64, "reason": pl.Utf8},
    )
    return SelectResult(selected, unselected, manifest, led)


def ledger(result: SelectResult) -> pl.DataFrame:
    """One row per input row: id, line, selected, round, reason."""
    assert result.ledger is not None
    return result.ledger
