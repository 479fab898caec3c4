"""What the report shows, computed as one JSON-able dict (also printed by `qdc report --json`).

Deterministic for a given input and seed: the plotted sample, k-means and every selection take the seed.
Scores, clusters and embeddings already on the rows are reused; missing ones are computed with the stages
(a section whose inputs cannot be computed says so instead of failing the report).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import polars as pl

from qdc import measure, schema
from qdc.errors import ConfigError, QdcError
from qdc.progress import progress
from qdc.quality import is_junk
from qdc.report.junk import junk_section
from qdc.select import SelectConfig, select

BINS = 20


@dataclass(frozen=True)
class ReportOptions:
    budgets: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75)
    """Trade-off curve budgets: fractions of the rows (or row counts when >= 1)."""
    strategies: tuple[str, ...] = ("random", "top", "kmq", "deita", "kcenter")
    max_points: int = 2500
    """Rows drawn in the projection (a seeded sample above this)."""
    examples: int = 3
    dup_groups: int = 12
    text_width: int = 240
    notes: list[str] = field(default_factory=list)


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _scored(df: pl.DataFrame, ctx: measure.Context, notes: list[str]) -> pl.DataFrame:
    for fn, col, what in (
        (measure.with_quality, schema.QUALITY, "quality"),
        (measure.with_complexity, schema.COMPLEXITY, "complexity"),
    ):
        if col in df.columns:
            continue
        try:
            df = fn(df, ctx)
        except ConfigError as exc:
            notes.append(f"{what} not shown: {exc}")
    return df


def _clusters(df: pl.DataFrame, x: np.ndarray, seed: int) -> np.ndarray:
    if schema.CLUSTER in df.columns and df[schema.CLUSTER].null_count() == 0:
        return df[schema.CLUSTER].cast(pl.Int64).to_numpy()
    from qdc.cluster import default_k, kmeans

    return kmeans(x, default_k(df.height), seed=seed).labels


def pca2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """(mean, 2 x d components, explained variance ratios); sign fixed so each component's largest
    loading is positive (deterministic across runs)."""
    mean = x.mean(axis=0)
    xc = (x - mean).astype(np.float64)
    cov = xc.T @ xc / max(x.shape[0] - 1, 1)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:2]
    comps = vecs[:, order].T
    for i in range(comps.shape[0]):
        if comps[i, np.argmax(np.abs(comps[i]))] < 0:
            comps[i] = -comps[i]
    total = float(vals.sum()) or 1.0
    return mean, comps, [round(float(vals[j]) / total, 4) for j in order]


def _col(df: pl.DataFrame, name: str) -> np.ndarray | None:
    """A score column as float64 (nulls as 0), or None when the frame lacks it."""
    return df[name].cast(pl.Float64).fill_null(0.0).to_numpy() if name in df.columns else None


def _hist(values: np.ndarray) -> list[int]:
    counts, _ = np.histogram(np.clip(values, 0.0, 1.0), bins=BINS, range=(0.0, 1.0))
    return [int(c) for c in counts]


def metrics(df: pl.DataFrame, x: np.ndarray, dups: measure.Duplicates | None, labels: np.ndarray) -> dict[str, Any]:
    """Dataset figures: rows, Vendi, mean scores, junk and duplicate rates, cluster count and entropy."""
    out: dict[str, Any] = {
        "rows": df.height,
        "vendi": round(measure.vendi_of(x), 4),
        "mean_length": round(measure.mean_length(df), 1),
        "clusters": int(np.unique(labels).size) if labels.size else 0,
    }
    for col, key in ((schema.QUALITY, "mean_quality"), (schema.COMPLEXITY, "mean_complexity")):
        if col in df.columns:
            out[key] = round(float(df[col].cast(pl.Float64).fill_null(0.0).mean() or 0.0), 4)  # type: ignore[arg-type]
    if schema.QUALITY in df.columns:
        junk = is_junk(df[schema.QUALITY], measure.junk_threshold())
        out["junk_rate"] = round(float(junk.mean()) if junk.size else 0.0, 4)
    if dups is not None:
        out["dup_rate"] = round(dups.rate, 4)
    if labels.size:
        p = np.bincount(labels) / labels.size
        p = p[p > 0]
        out["cluster_entropy"] = round(float(-(p * np.log(p)).sum()), 4)
    return out


def _dup_groups(df: pl.DataFrame, dups: measure.Duplicates, opts: ReportOptions) -> list[dict[str, Any]]:
    if dups.removed.height == 0:
        return []
    text_of = dict(zip(df[schema.ROW_ID].to_list(), df[schema.TEXT].to_list(), strict=True))
    groups: dict[str, list[dict[str, Any]]] = {}
    cols = dups.removed.columns
    for row in dups.removed.iter_rows(named=True):
        groups.setdefault(str(row.get(schema.DUP_OF)), []).append(
            {
                "id": row[schema.ROW_ID],
                "text": _short(row[schema.TEXT], opts.text_width),
                "method": row.get(schema.DUP_METHOD) if schema.DUP_METHOD in cols else None,
                "similarity": row.get(schema.DUP_SIMILARITY) if schema.DUP_SIMILARITY in cols else None,
            }
        )
    # Largest groups first; sorted() is stable, so ties keep the order groups were first seen.
    ranked = sorted(groups.items(), key=lambda kv: -len(kv[1]))[: opts.dup_groups]
    return [
        {
            "kept_id": k,
            "kept_text": _short(text_of.get(k, "(not in this file)"), opts.text_width),
            "size": len(v) + 1,
            "members": v[: opts.examples],
        }
        for k, v in ranked
    ]


def _cluster_table(df: pl.DataFrame, labels: np.ndarray, x: np.ndarray, opts: ReportOptions) -> list[dict[str, Any]]:
    ids, texts = df[schema.ROW_ID].to_list(), df[schema.TEXT].to_list()
    q = df[schema.QUALITY].cast(pl.Float64).to_numpy() if schema.QUALITY in df.columns else None
    c = df[schema.COMPLEXITY].cast(pl.Float64).to_numpy() if schema.COMPLEXITY in df.columns else None
    out = []
    for cid in np.unique(labels):
        idx = np.flatnonzero(labels == cid)
        centre = x[idx].mean(axis=0)
        near = idx[np.argsort(-(x[idx] @ centre), kind="stable")][: opts.examples]
        item: dict[str, Any] = {
            "cluster": int(cid),
            "size": int(idx.size),
            "share": round(idx.size / max(len(labels), 1), 4),
            "examples": [{"id": ids[i], "text": _short(texts[i], opts.text_width)} for i in near],
        }
        if q is not None:
            item["mean_quality"] = round(float(np.nanmean(q[idx])), 4)
        if c is not None:
            item["mean_complexity"] = round(float(np.nanmean(c[idx])), 4)
        out.append(item)
    out.sort(key=lambda r: (-r["size"], r["cluster"]))
    return out


def _select_ids(df: pl.DataFrame, strategy: str, budget: int, ctx: measure.Context) -> list[int]:
    """Row indices `qdc.select` picks with `strategy` at `budget` (no dedup: the report measures the rows)."""
    cfg = SelectConfig.model_validate({"budget": budget, "strategy": strategy, "seed": ctx.seed, "dedup": "off"})
    res = select(df, cfg, ctx.embed, ctx.embedder)
    pos = {rid: i for i, rid in enumerate(df[schema.ROW_ID].to_list())}
    return [pos[r] for r in res.selected[schema.ROW_ID].to_list()]


class _Steps:
    """Progress of a report as steps done out of a known count ('report' task), from the first step on: the
    scoring of 8,475 rows alone took seconds with nothing on screen."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        progress("report", 0, total)

    def __call__(self, what: str = "") -> None:
        self.done = min(self.done + 1, self.total)
        progress("report", self.done, self.total)


def tradeoff(
    df: pl.DataFrame,
    x: np.ndarray,
    ctx: measure.Context,
    opts: ReportOptions,
    step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Mean quality against Vendi of the subset each strategy picks at each budget (`step` after each)."""
    n = df.height
    budgets = sorted({min(n, max(1, round(b * n) if b < 1 else int(b))) for b in opts.budgets})
    q = _col(df, schema.QUALITY)
    curves: dict[str, list[dict[str, Any]]] = {}
    skipped: dict[str, str] = {}
    for strategy in opts.strategies:
        pts = []
        for b in budgets:
            try:
                idx = _select_ids(df, strategy, b, ctx)
            except QdcError as exc:
                skipped[strategy] = str(exc)
                break
            if step is not None:
                step(f"{strategy} at {b}")
            arr = np.asarray(idx, dtype=np.int64)
            pts.append(
                {
                    "budget": b,
                    "rows": int(arr.size),
                    "vendi": round(measure.vendi_of(x[arr]), 4),
                    "mean_quality": round(float(q[arr].mean()), 4) if q is not None and arr.size else None,
                }
            )
        if pts and strategy not in skipped:
            curves[strategy] = pts
    full = {
        "rows": n,
        "vendi": round(measure.vendi_of(x), 4),
        "mean_quality": round(float(q.mean()), 4) if q is not None and n else None,
    }
    return {"budgets": budgets, "curves": curves, "full": full, "skipped": skipped}


def _project(x: np.ndarray, mean: np.ndarray, comps: np.ndarray) -> np.ndarray:
    return np.asarray((x - mean) @ comps.T, dtype=np.float64)


def _compare(
    df: pl.DataFrame,
    x: np.ndarray,
    labels: np.ndarray,
    other: pl.DataFrame,
    ctx: measure.Context,
    base: dict[str, Any],
    notes: list[str],
) -> tuple[dict[str, Any], np.ndarray]:
    """Metrics of OTHER beside INPUT, and OTHER's share of each INPUT cluster (nearest centroid)."""
    from qdc.embed import ensure_embeddings

    other = _scored(other, ctx, notes)
    other, xo = ensure_embeddings(other, ctx.embed, ctx.embedder)
    centroids = (
        np.stack([x[labels == c].mean(axis=0) for c in range(int(labels.max()) + 1)])
        if labels.size
        else np.zeros((0, x.shape[1]))
    )
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    centroids = centroids / np.maximum(norms, 1e-12)
    lo = np.argmax(xo @ centroids.T, axis=1) if centroids.shape[0] else np.zeros(other.height, dtype=np.int64)
    dups = _duplicates_or_note(other, ctx, notes, "duplicates of the compared file")
    after = metrics(other, xo, dups, lo)
    after["clusters"] = int(np.unique(lo).size)
    k = int(labels.max()) + 1 if labels.size else 0
    before_share = np.bincount(labels, minlength=k) / max(labels.size, 1)
    after_share = np.bincount(lo, minlength=k) / max(lo.size, 1)
    in_ids = set(df[schema.ROW_ID].to_list())
    overlap = sum(1 for r in other[schema.ROW_ID].to_list() if r in in_ids)
    return {
        "rows": other.height,
        "overlap_ids": overlap,
        "before": base,
        "after": after,
        "coverage": round(float((np.bincount(lo, minlength=k) > 0).mean()) if k else 0.0, 4),
        "cluster_share": [
            {"cluster": c, "before": round(float(before_share[c]), 4), "after": round(float(after_share[c]), 4)}
            for c in range(k)
        ],
        "quality_hist": _hist(other[schema.QUALITY].cast(pl.Float64).fill_null(0.0).to_numpy())
        if schema.QUALITY in other.columns
        else None,
        "complexity_hist": _hist(other[schema.COMPLEXITY].cast(pl.Float64).fill_null(0.0).to_numpy())
        if schema.COMPLEXITY in other.columns
        else None,
    }, xo


def _sample(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Every row up to `limit`, else a seeded sample of `limit` rows in input order."""
    return np.arange(n) if n <= limit else np.sort(rng.choice(n, size=limit, replace=False))


def _hists(df: pl.DataFrame) -> dict[str, Any]:
    def hist(col: str) -> list[int] | None:
        return _hist(df[col].cast(pl.Float64).fill_null(0.0).to_numpy()) if col in df.columns else None

    return {"quality_hist": hist(schema.QUALITY), "complexity_hist": hist(schema.COMPLEXITY)}


def _dups_section(df: pl.DataFrame, dups: measure.Duplicates | None, opts: ReportOptions) -> dict[str, Any] | None:
    if dups is None:
        return None
    return {
        "rate": round(dups.rate, 4),
        "method": dups.method,
        "removed": dups.removed.height,
        "groups": _dup_groups(df, dups, opts),
    }


def _duplicates_or_note(
    df: pl.DataFrame, ctx: measure.Context, notes: list[str], what: str
) -> measure.Duplicates | None:
    try:
        return measure.duplicates(df, ctx)
    except QdcError as exc:
        notes.append(f"{what} not measured: {exc}")
        return None


def _points(df: pl.DataFrame, xy: np.ndarray, labels: np.ndarray, shown: np.ndarray) -> list[list[Any]]:
    """The map's points: x, y, cluster, id, text of the rows drawn."""
    ids, texts = df[schema.ROW_ID].to_list(), df[schema.TEXT].to_list()
    return [
        [round(float(xy[i, 0]), 4), round(float(xy[i, 1]), 4), int(labels[i]), ids[i], _short(texts[i], 120)]
        for i in shown
    ]


def _other_points(
    other: pl.DataFrame, pts: np.ndarray, opts: ReportOptions, rng: np.random.Generator
) -> list[list[Any]]:
    """The compared file's rows drawn over the map (a seeded sample): x, y, id, text."""
    oids, otexts = other[schema.ROW_ID].to_list(), other[schema.TEXT].to_list()
    return [
        [round(float(pts[i, 0]), 4), round(float(pts[i, 1]), 4), oids[i], _short(otexts[i], 120)]
        for i in _sample(other.height, opts.max_points, rng)
    ]


def build_report(
    df: pl.DataFrame,
    ctx: measure.Context,
    other: pl.DataFrame | None = None,
    opts: ReportOptions | None = None,
    *,
    source: str = "",
    other_source: str = "",
) -> dict[str, Any]:
    """Every section's data; `other` (e.g. the selected subset) adds the before/after comparison."""
    from qdc import __version__
    from qdc.embed import ensure_embeddings

    opts = opts or ReportOptions()
    notes: list[str] = list(opts.notes)
    if df.height == 0:
        raise ConfigError("cannot report on an empty dataset")
    step = _Steps(5 + len(opts.strategies) * len(opts.budgets) + (other is not None))
    df = _scored(df, ctx, notes)
    step("scores")
    model = measure.embedding_info(ctx, df)  # taken before embedding: stored vectors are used as they are
    df, x = ensure_embeddings(df, ctx.embed, ctx.embedder)
    step("embeddings")
    labels = _clusters(df, x, ctx.seed)
    step("clusters")
    dups = _duplicates_or_note(df, ctx, notes, "duplicates")
    step("duplicates")
    base = metrics(df, x, dups, labels)
    step("metrics")
    mean, comps, explained = pca2(x)
    xy = _project(x, mean, comps)
    rng = np.random.default_rng(ctx.seed)
    shown = _sample(df.height, opts.max_points, rng)
    points = _points(df, xy, labels, shown)
    report: dict[str, Any] = {
        "title": f"qdc report: {source or 'dataset'}",
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "qdc_version": __version__,
        "input": {"path": source, "rows": df.height},
        "seed": ctx.seed,
        "model": model,
        "metrics": base,
        "projection": {"explained": explained, "sampled": bool(shown.size < df.height), "points": points},
        **_hists(df),
        "hist_edges": [round(i / BINS, 4) for i in range(BINS + 1)],
        "junk": junk_section(df),
        "duplicates": _dups_section(df, dups, opts),
        "clusters": _cluster_table(df, labels, x, opts),
        "tradeoff": tradeoff(df, x, ctx, opts, step),
        "compare": None,
        "notes": notes,
    }
    if other is not None:
        comp, xo = _compare(df, x, labels, other, ctx, base, notes)
        step("comparison")
        comp["path"] = other_source
        comp["points"] = _other_points(other, _project(xo, mean, comps), opts, rng)
        report["compare"] = comp
    progress("report", step.total, step.total)  # steps skipped (a strategy that failed, equal budgets) included
    return report
