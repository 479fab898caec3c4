"""`select()` and its five named steps (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from qdc import schema
from qdc.embed import EmbedConfig, Embedder, ensure_embeddings
from qdc.errors import ConfigError
from qdc.progress import notice
from qdc.quality import JUNK_THRESHOLD, QualityConfig, get_scorer
from qdc.select import clusters as _clusters
from qdc.select.config import SelectConfig
from qdc.select.eligible import dedup_duplicates, evaluate, row_ids, score_expression, token_counts
from qdc.select.held import count_kinds, ledger_reason
from qdc.select.pool import FeedbackSource, Picks, Pool, Scorer
from qdc.select.run import run_groups

_COMPUTED = (schema.QUALITY, schema.COMPLEXITY)
GATED = ("facility", "kmq", "iterative", "bandit")  # the strategies that apply the junk gate (`junk_gate`)


@dataclass
class SelectResult:
    """Selected rows (input order, plus qdc_select_round/qdc_select_reason), the rest with a reason."""

    selected: pl.DataFrame
    unselected: pl.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    ledger: pl.DataFrame | None = None


@dataclass
class _Exclusions:
    """Why each input row may not be selected (None = eligible), the counts, and how duplicates were found."""

    reasons: list[str | None]
    counts: dict[str, int]
    dedup: str


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
        scorer = get_scorer(QualityConfig.model_validate({"scorer": cfg.scorer}))
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
        frame, vals = evaluate(frame, text, "feedback")
        return FeedbackSource(frame, values=vals, label=text), frame
    if score is None:
        raise ConfigError(
            f"--strategy {cfg.strategy} needs feedback: a score, --scorer, or --set feedback=EXPR / gap=[REF,CAND]"
        )
    unit = cfg.score is None and not cfg.weights
    if not unit:
        return FeedbackSource(frame, values=score, label="score"), frame
    return FeedbackSource(frame, values=score, label="score", value_range=(0.0, 1.0), floor=JUNK_THRESHOLD), frame


def _wants_score(cfg: SelectConfig) -> bool:
    """Whether the strategy reads a score (random and kcenter do not; facility for its junk gate or λ > 0)."""
    if cfg.score is not None or cfg.weights:
        return True
    if cfg.strategy in ("random", "kcenter"):
        return False
    # facility reads qdc_quality for its junk gate even when λ = 0 (computed when missing, then written out)
    return not (cfg.strategy == "facility" and cfg.facility.quality_weight == 0 and not cfg.junk_gate)


def _exclusions(
    df: pl.DataFrame, cfg: SelectConfig, all_embeddings: Callable[[], np.ndarray]
) -> tuple[_Exclusions, pl.DataFrame, np.ndarray | None, str | None]:
    """Step 1: duplicates (qdc_dup_of, then on-the-fly dedup), the score, and the --min-quality floor.

    Returns the exclusions, the frame with any computed qdc_quality/qdc_complexity, the score of every
    input row (or None) and the score expression.
    """
    n = df.height
    excluded: list[str | None] = [None] * n
    counts: dict[str, int] = {}
    if schema.DUP_OF in df.columns:
        for i, d in enumerate(df[schema.DUP_OF].cast(pl.Utf8).to_list()):
            if d is not None and d != "":
                excluded[i] = f"duplicate of {d}"
    dups, how = dedup_duplicates(df, excluded, cfg.dedup, all_embeddings, cfg.dedup_eps) if n else ({}, "off")
    for i, d in dups.items():
        excluded[i] = f"duplicate of {d}"
    counts["duplicate"] = sum(1 for e in excluded if e is not None)
    work = df
    expr_text = score_expression(cfg, df) if _wants_score(cfg) else None
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
    if n and sum(counts.values()) == n:  # every row excluded, each by one reason
        why = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if v)
        top = f"; highest qdc_quality {float(q.max()):.4g}" if counts.get("below_min_quality") else ""
        notice(f"no row is eligible ({why}{top}): nothing is selected")
    return _Exclusions(excluded, counts, how), work, score_all, expr_text


def _pool(
    work: pl.DataFrame,
    cfg: SelectConfig,
    live: np.ndarray,
    score_all: np.ndarray | None,
    embeddings: Callable[[pl.DataFrame, np.ndarray], np.ndarray],
) -> tuple[Pool, int | None]:
    """Step 2: the eligible rows as a Pool (score, cost, lazy embeddings and clusters) and the row budget."""
    n = work.height
    frame = work[live] if n else work
    budget_rows = None
    if cfg.budget is not None:
        wanted = _resolve_rows(cfg, n)
        if wanted > live.size > 0:
            notice(f"--budget {wanted} is more than the {live.size} eligible rows: all of them are selected")
        budget_rows = min(wanted, int(live.size))
    cost = token_counts(frame, cfg.cost_field) if live.size else np.zeros(0, dtype=np.int64)
    mean_cost = max(float(cost.mean()) if cost.size else 1.0, 1.0)
    est_rows = budget_rows if budget_rows is not None else int(min(live.size, (cfg.budget_tokens or 0) // mean_cost))
    reuse = schema.CLUSTER in frame.columns and cfg.k is None and frame[schema.CLUSTER].null_count() == 0

    def cluster_fn(p: Pool) -> np.ndarray:
        if reuse:
            _, dense = np.unique(p.frame[schema.CLUSTER].to_numpy(), return_inverse=True)
            return np.asarray(dense, dtype=np.int64)
        if cfg.k is not None and cfg.k > p.n:
            notice(f"--k {cfg.k} is more than the {p.n} rows to cluster: using {max(p.n, 1)} one-row clusters")
        k = (
            cfg.k
            if cfg.k is not None
            else _clusters.default_k(
                max(p.cluster_budget, 1), max(p.n, 1), _clusters.rows_per_cluster(cfg.strategy, cfg.rows_per_cluster)
            )
        )
        return _clusters.compute_labels(p.embeddings(), min(k, max(p.n, 1)), cfg.seed, cfg.niter)

    pool = Pool(
        frame=frame,
        score=None if score_all is None else score_all[live],
        cost=cost,
        embed_fn=lambda: embeddings(frame, live),
        cluster_fn=cluster_fn,
        cluster_budget=est_rows,
    )
    pool.info["cluster_source"] = "qdc_cluster column" if reuse else "k-means"
    return pool, budget_rows


def _assemble(
    df: pl.DataFrame, work: pl.DataFrame, cfg: SelectConfig, live: np.ndarray, picks: Picks, excl: _Exclusions
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """Step 4: selected rows (input order) and the others, each with its reason (an exclusion's, the junk
    gate's, else "not selected"); the ledger; the junk gate's unselected rows per kind."""
    n = df.height
    sel_pos = live[picks.order] if picks.order.size else np.zeros(0, dtype=np.int64)
    round_col: list[int | None] = [None] * n
    reason_col: list[str] = [""] * n
    for p, r, why in zip(sel_pos.tolist(), picks.rounds.tolist(), picks.reasons, strict=True):
        round_col[p] = int(r)
        reason_col[p] = why
    mask = np.zeros(n, dtype=bool)
    mask[sel_pos] = True
    held_rows: list[int] = []
    for p, (_kind, detail) in picks.held.items():
        if not mask[live[p]]:
            reason_col[live[p]] = ledger_reason(detail)
            held_rows.append(p)
    not_chosen = f"not selected by {cfg.strategy} (budget, or outranked)"
    for i in range(n):
        if not mask[i] and not reason_col[i]:
            reason_col[i] = excl.reasons[i] or not_chosen
    # Scores select computed itself (qdc_quality, qdc_complexity) are written out, as `qdc score-*` would.
    computed = [pl.col(c) for c in _COMPUTED if c in work.columns and c not in df.columns]
    out = (work.select([*df.columns, *computed]) if computed else df).with_columns(
        pl.Series(schema.SELECT_ROUND, round_col, dtype=pl.Int64),
        pl.Series(schema.SELECT_REASON, reason_col, dtype=pl.Utf8),
    )
    selected = out.filter(pl.Series(mask))
    unselected = out.filter(~pl.Series(mask)).drop(schema.SELECT_ROUND)
    led = pl.DataFrame(
        {
            "id": row_ids(df),
            "line": df[schema.LINE].to_list() if schema.LINE in df.columns else list(range(1, n + 1)),
            "selected": mask.tolist(),
            "round": round_col,
            "reason": reason_col,
        },
        schema={"id": pl.Utf8, "line": pl.Int64, "selected": pl.Boolean, "round": pl.Int64, "reason": pl.Utf8},
    )
    return selected, unselected, led, count_kinds(picks.held, held_rows)


def _manifest(
    cfg: SelectConfig,
    n: int,
    excl: _Exclusions,
    pool: Pool,
    picks: Picks,
    budget_rows: int | None,
    expr_text: str | None,
    feedback: FeedbackSource | None,
    run_log: dict[str, Any],
    gated: dict[str, int],
) -> dict[str, Any]:
    """Step 5: parameters, counts (`not_selected`: rows per ledger reason, which add up to rows_in - selected;
    `junk_gate`: the gate's share of them per kind, None when the strategy applies no gate), clusters,
    scorer calls and the strategy's own log."""
    ks = [pool.cluster_count()] + [g.get("k") for g in run_log.get("groups", {}).get("per_group", [])]
    clustered = [k for k in ks if k is not None]
    cluster_info: dict[str, Any] | None = None
    if clustered:
        cluster_info = {"source": pool.info["cluster_source"]}
        cluster_info["k"] = clustered[0] if len(clustered) == 1 else sum(clustered)
    score = pool.score
    held = sum(gated.values())
    not_selected = {**excl.counts, "junk_gate": held}
    not_selected["outranked"] = n - int(picks.order.size) - sum(not_selected.values())
    applies = cfg.junk_gate and cfg.strategy in GATED
    return {
        "stage": "select",
        "strategy": cfg.strategy,
        "seed": cfg.seed,
        "config": cfg.model_dump(mode="json"),
        "score": expr_text,
        "dedup": excl.dedup,
        "rows_in": n,
        "eligible": pool.n,
        "excluded": excl.counts,
        "budget": {"rows": budget_rows, "tokens": cfg.budget_tokens},
        "selected": int(picks.order.size),
        "selected_tokens": int(pool.cost[picks.order].sum()) if picks.order.size else 0,
        "not_selected": not_selected,
        "junk_gate": {"held_back": held, "reasons": gated} if applies else None,
        "clusters": cluster_info,
        "scorer_calls": feedback.calls if feedback is not None else 0,
        "feedback": None if feedback is None else feedback.label,
        "mean_score_selected": None
        if score is None or not picks.order.size
        else round(float(score[picks.order].mean()), 6),
        "mean_score_eligible": None if score is None or not pool.n else round(float(score.mean()), 6),
        **run_log,
    }


def select(
    df: pl.DataFrame,
    cfg: SelectConfig,
    embed_cfg: EmbedConfig | None = None,
    embedder: Embedder | None = None,
    scorer: Callable[[pl.DataFrame], np.ndarray] | None = None,
) -> SelectResult:
    """Select rows from a prepared frame; see SelectConfig. Every input row ends up in exactly one output."""
    full_x: list[np.ndarray] = []

    def all_embeddings() -> np.ndarray:
        """Embeddings of every input row, computed once (semantic dedup and the strategy share them)."""
        if not full_x:
            full_x.append(ensure_embeddings(df, embed_cfg, embedder)[1])
        return full_x[0]

    def pool_embeddings(frame: pl.DataFrame, live: np.ndarray) -> np.ndarray:
        return full_x[0][live] if full_x else ensure_embeddings(frame, embed_cfg, embedder)[1]

    excl, work, score_all, expr_text = _exclusions(df, cfg, all_embeddings)
    live = np.asarray([i for i, e in enumerate(excl.reasons) if e is None], dtype=np.int64)
    pool, budget_rows = _pool(work, cfg, live, score_all, pool_embeddings)
    feedback = None
    if cfg.strategy in ("iterative", "bandit") and live.size:
        feedback, pool.frame = _feedback_source(cfg, pool.frame, pool.score, scorer)
    picks, run_log = run_groups(pool, cfg, feedback, budget_rows)
    selected, unselected, led, gated = _assemble(df, work, cfg, live, picks, excl)
    manifest = _manifest(cfg, df.height, excl, pool, picks, budget_rows, expr_text, feedback, run_log, gated)
    return SelectResult(selected, unselected, manifest, led)


def ledger(result: SelectResult) -> pl.DataFrame:
    """One row per input row: id, line, selected, round, reason."""
    assert result.ledger is not None
    return result.ledger
