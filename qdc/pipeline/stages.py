"""The stage adapters of `qdc run`: one typed function per library stage, `(df, cfg, ctx) -> StageResult`.

Each adapter calls the library's public function with the stage's own config and the pipeline's context
(seed, embedding settings, the shared embedder) and says what the stage did in a JSON-able summary. A stage
that removes rows returns them in `StageResult.removed` with its reason columns. The registry in
`qdc.pipeline.config` holds these functions and config classes by reference.
"""

from __future__ import annotations

import polars as pl

from qdc import schema
from qdc.check import CheckConfig, failure_message, run_checks
from qdc.cluster import ClusterConfig, cluster
from qdc.complexity import ComplexityConfig, score_complexity
from qdc.complexity import summary as complexity_summary
from qdc.dedup import DedupConfig, dedup
from qdc.diversity import DiversityConfig, diversity_report
from qdc.embed import EmbedConfig, embed
from qdc.errors import CheckFailed
from qdc.pipeline.stage import StageContext, StageResult, StageSpec, stage_spec
from qdc.quality import QualityConfig, score_quality
from qdc.quality import summary as quality_summary
from qdc.select import SelectConfig, select


def embed_stage(df: pl.DataFrame, cfg: EmbedConfig, ctx: StageContext) -> StageResult:
    """`embed`: add qdc_embedding."""
    out = embed(df, cfg, ctx.embedder)
    dim = out[schema.EMBEDDING].dtype.size  # type: ignore[attr-defined]
    return StageResult(out, summary={"model": cfg.model, "dim": int(dim)})


def cluster_stage(df: pl.DataFrame, cfg: ClusterConfig, ctx: StageContext) -> StageResult:
    """`cluster`: add qdc_cluster (embedding with the pipeline's settings when needed)."""
    out = cluster(df, cfg, ctx.embed, ctx.embedder)
    return StageResult(out, summary={"k": int(out[schema.CLUSTER].n_unique())})


def dedup_stage(df: pl.DataFrame, cfg: DedupConfig, ctx: StageContext) -> StageResult:
    """`dedup`: removed rows (with the qdc_dup_* columns) go to `removed`."""
    res = dedup(df, cfg, ctx.embed, ctx.embedder)
    return StageResult(res.kept, removed=res.removed, summary=res.stats)


def quality_stage(df: pl.DataFrame, cfg: QualityConfig, ctx: StageContext) -> StageResult:
    """`score-quality`: add qdc_quality (removes nothing)."""
    out = score_quality(df, cfg, ctx.embed, ctx.embedder)
    return StageResult(out, summary={"scorer": cfg.scorer, **quality_summary(out)})


def complexity_stage(df: pl.DataFrame, cfg: ComplexityConfig, ctx: StageContext) -> StageResult:
    """`score-complexity`: add qdc_complexity (removes nothing)."""
    out = score_complexity(df, cfg)
    return StageResult(out, summary={"scorer": cfg.scorer, **complexity_summary(out)})


def select_stage(df: pl.DataFrame, cfg: SelectConfig, ctx: StageContext) -> StageResult:
    """`select`: selected rows continue; the others go to `removed` with qdc_select_reason."""
    if cfg.seed == 0 and ctx.seed:
        cfg = cfg.model_copy(update={"seed": ctx.seed})
    res = select(df, cfg, ctx.embed, ctx.embedder)
    keys = ("strategy", "eligible", "selected", "excluded", "budget", "scorer_calls", "not_selected")
    return StageResult(res.selected, removed=res.unselected, summary={k: res.manifest[k] for k in keys})


def diversity_stage(df: pl.DataFrame, cfg: DiversityConfig, ctx: StageContext) -> StageResult:
    """`diversity`: measures only (rows pass through unchanged; the figures go to the summary)."""
    return StageResult(df, summary=diversity_report(df, cfg, ctx.embed, ctx.embedder))


def check_stage(df: pl.DataFrame, cfg: CheckConfig, ctx: StageContext) -> StageResult:
    """`check`: rows pass through unchanged, or the run fails with exit code 3."""
    checks = run_checks(df, cfg, ctx)
    if not all(c.passed for c in checks):
        raise CheckFailed(failure_message(checks), [c.as_dict() for c in checks])
    return StageResult(df, summary={"checks": len(checks), "failed": 0, "results": [c.as_dict() for c in checks]})


BUILTIN: tuple[StageSpec, ...] = (
    stage_spec("embed", EmbedConfig, embed_stage, "add qdc_embedding"),
    stage_spec("cluster", ClusterConfig, cluster_stage, "add qdc_cluster (k-means)"),
    stage_spec("dedup", DedupConfig, dedup_stage, "remove duplicates (exact, minhash, semantic)"),
    stage_spec("score-quality", QualityConfig, quality_stage, "add qdc_quality"),
    stage_spec("score-complexity", ComplexityConfig, complexity_stage, "add qdc_complexity"),
    stage_spec("select", SelectConfig, select_stage, "keep a budgeted subset"),
    stage_spec("diversity", DiversityConfig, diversity_stage, "measure diversity (rows unchanged)"),
    stage_spec("check", CheckConfig, check_stage, "fail (exit 3) when a policy check fails"),
)
"""Every built-in stage, in the order `qdc run --help` lists them."""
