"""kMQ selection over memory-mapped embeddings, for inputs whose embedding matrix does not fit in RAM.

1. Pass 1 streams the input (`qdc.io.iter_batches`) and keeps one float64 score per row (the `--score`
   expression of `qdc select`, evaluated batch by batch; default `qdc_quality` when the input has it, else
   no score and uniform sampling inside clusters).
2. Spherical k-means (faiss) is trained on a seeded sample of `points_per_centroid` x K rows gathered from
   the memory map, seeded with k-means++ (`qdc.cluster.kmeans_plus_plus`); every row is then assigned to
   its nearest centroid in blocks of 65,536 rows, whose pages are released after use.
3. The per-cluster allocation and sampling are `qdc.select.kmq.kmq_arrays` itself (water-filling, Gumbel
   top-k inside clusters), so the output has exactly min(budget, rows) rows.
4. Pass 2 writes the selected rows in input order with `qdc_select_round` and `qdc_select_reason`, as
   `qdc select` does.

Same input + embeddings + options + seed = the same bytes. Not streamed: on-the-fly dedup (run
`qdc scale dedup` first), token budgets, groups, and the strategies other than kmq.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from qdc import schema
from qdc.cluster import BLOCK_ROWS, budget_k, train_centroids
from qdc.cluster import assign as assign_rows
from qdc.config import StageConfig
from qdc.errors import ConfigError, DataError
from qdc.io import IOConfig
from qdc.io.read import iter_batches, sample_lines
from qdc.io.write import open_sink
from qdc.progress import notice, progress
from qdc.scale import memory
from qdc.scale.options import RunOptions
from qdc.scale.ray import require_ray
from qdc.scale.store import open_store
from qdc.select.config import SelectConfig


class ScaleSelectConfig(StageConfig):
    """Options of streaming kMQ (the names and defaults of `qdc select`)."""

    budget: int | float
    """Rows to select (an integer), or a fraction of the input rows (0 < f < 1)."""
    score: str | None = None
    """Score expression over columns [default: qdc_quality when present, else no score]."""
    k: int | None = None
    """Clusters [default: clamp(B/10, 2, 1024)]."""
    niter: int = Field(default=20, ge=1)
    points_per_centroid: int = Field(default=64, ge=4)
    """k-means trains on a seeded sample of this many rows per centroid."""
    allocation: Literal["equal", "proportional"] = "equal"
    within: Literal["softmax", "top", "random"] = "softmax"
    temperature: float = 0.2
    cluster_quality: bool = True
    diversity_weight: float | None = None
    seed: int = 0

    @field_validator("budget")
    @classmethod
    def _budget(cls, v: int | float) -> int | float:
        if v <= 0:
            raise ValueError("budget must be positive")
        if isinstance(v, float) and v >= 1:
            if not v.is_integer():
                raise ValueError("a budget >= 1 must be a whole number of rows")
            return int(v)
        return v

    def rows(self, n: int) -> int:
        """The budget in rows for n input rows."""
        return min(n, round(self.budget * n) if isinstance(self.budget, float) else int(self.budget))


def stream_config(
    cfg: SelectConfig, named: set[str], strategy_named: bool = False, points_per_centroid: int | None = None
) -> ScaleSelectConfig:
    """The streaming kmq config for an in-memory `cfg`: `named` are the keys the user set (``--set``, without a
    ``select.`` prefix), `strategy_named` whether the strategy was chosen explicitly. Raises ConfigError for a
    key or strategy the stream does not take. Where the user named no value, an in-memory default (within,
    allocation, cluster_quality) gives way to the stream's own (kmq's softmax, equal shares)."""
    from qdc.config import validate_config

    fields, own = type(cfg).model_fields, ScaleSelectConfig.model_fields
    if odd := sorted(k for k in named if k.split(".")[0] not in (*own, "strategy")):
        raise ConfigError(f"--stream does not take --set {', '.join(odd)}; run without --stream")
    if cfg.strategy != "kmq" and (strategy_named or cfg.strategy != fields["strategy"].default):
        raise ConfigError(f"--stream runs kmq; --strategy {cfg.strategy} needs the rows in memory")
    data = {k: getattr(cfg, k) for k in ("budget", "score", "k", "temperature", "diversity_weight", "seed")}
    for key in ("within", "allocation", "cluster_quality"):
        value = getattr(cfg, key)
        data[key] = value if key in named or value != fields[key].default else own[key].default
    if points_per_centroid is not None:
        data["points_per_centroid"] = points_per_centroid
    return validate_config(ScaleSelectConfig, data, "--stream")


def _scores(
    path: str, cfg: ScaleSelectConfig, io_cfg: IOConfig, batch_rows: int, rows_hint: int
) -> tuple[int, np.ndarray | None, str | None]:
    from qdc.select.score import parse_score

    n = 0
    parts: list[np.ndarray] = []
    expr_text = cfg.score
    checked = False
    for batch in iter_batches(path, io_cfg, batch_rows, user_columns=True):
        if not checked:
            if expr_text is None and schema.QUALITY in batch.columns:
                expr_text = schema.QUALITY
            checked = True
        if expr_text is not None:
            expr, _ = parse_score(expr_text, batch.columns)
            parts.append(batch.select(expr.cast(pl.Float64)).to_series().to_numpy().astype(np.float64))
        n += batch.height
        progress("scale select: read scores", n, max(rows_hint, n))
    if expr_text is None:
        return n, None, None
    score = np.concatenate(parts)
    finite = np.isfinite(score)
    if not finite.all():  # non-finite scores rank lowest, as in `qdc select`
        low = float(score[finite].min()) - 1.0 if finite.any() else 0.0
        score = np.where(finite, score, low)
    return n, score, expr_text


def train_kmeans(
    x: np.ndarray, k: int, *, seed: int, niter: int, points_per_centroid: int, rows: np.ndarray | None = None
) -> np.ndarray:
    """`qdc.cluster.train_centroids` on a seeded sample of `points_per_centroid` x k rows (of `rows` when given)."""
    return train_centroids(x, k, seed=seed, niter=niter, sample_per_centroid=points_per_centroid, rows=rows)


def nearest(
    x: np.ndarray,
    centroids: np.ndarray,
    block_rows: int = BLOCK_ROWS,
    task: str = "scale select: assign",
    lo: int = 0,
    hi: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`qdc.cluster.assign` of rows [lo, hi) (used here and, per row range, by the Ray workers)."""
    return assign_rows(x, centroids, block_rows=block_rows, lo=lo, hi=hi, task=task)


def assign(
    x: np.ndarray, centroids: np.ndarray, block_rows: int = BLOCK_ROWS, *, ray_path: str | None = None
) -> np.ndarray:
    """Dense cluster labels (0..K'-1, by centroid id) of every row, searched block by block.

    With `ray_path` (the .npy behind `x`), Ray workers search row ranges in parallel (same labels).
    """
    if ray_path is not None:
        labels = ray_assign(ray_path, x.shape[0], centroids)
    else:
        labels, _ = nearest(x, centroids, block_rows)
    _, dense = np.unique(labels, return_inverse=True)
    return dense.astype(np.int64)


def estimate(
    path: str, embeddings: str, cfg: ScaleSelectConfig, run: RunOptions, on_estimate: memory.OnEstimate | None = None
) -> tuple[memory.Estimate, int]:
    """(estimate, batch rows) for a run, the batch shrunk to fit --max-memory (announced to `on_estimate`)."""
    x = open_store(embeddings)
    rows, _ = sample_lines(path)
    rows = rows or x.shape[0]
    budget = cfg.rows(rows)
    k = cfg.k or budget_k(budget, rows)
    return run.plan(lambda b: memory.select_estimate(rows, x.shape[1], k, b, cfg.points_per_centroid), on_estimate)


def stream_select(
    path: str,
    embeddings: str,
    cfg: ScaleSelectConfig,
    io_cfg: IOConfig | None = None,
    *,
    output: str | None = None,
    run: RunOptions = RunOptions(),
    on_estimate: memory.OnEstimate | None = None,
) -> dict[str, Any]:
    """Select `cfg.budget` rows of `path` by kMQ over the (n, d) ``.npy`` `embeddings` (row i embeds row i).

    Steps: pass 1 (scores), k-means on a seeded sample, blocked assignment (or Ray), the in-memory kMQ
    allocation and sampling on the labels (`_pick`), pass 2 (write). Writes the selected rows (input order) to
    `output` when given; returns the run summary.
    """
    io_cfg = io_cfg or IOConfig()
    est, rows_per_batch = estimate(path, embeddings, cfg, run, on_estimate)
    t0 = time.perf_counter()
    n, score, expr_text = _scores(path, cfg, io_cfg, rows_per_batch, est.rows)
    if cfg.within != "random" and score is None and cfg.diversity_weight != 1:
        raise ConfigError(
            "kmq samples by score inside clusters: the input has no qdc_quality; "
            "pass --score EXPR or --set within=random"
        )
    x = open_store(embeddings, rows=n)
    budget = cfg.rows(n)
    if isinstance(cfg.budget, int) and cfg.budget > n:
        notice(f"--budget {cfg.budget} is more than the {n} rows: all of them are selected")
    k = min(n, cfg.k or budget_k(budget, n))
    t1 = time.perf_counter()
    centroids = train_kmeans(x, k, seed=cfg.seed, niter=cfg.niter, points_per_centroid=cfg.points_per_centroid)
    t2 = time.perf_counter()
    run.start()
    labels = assign(x, centroids, ray_path=embeddings if run.ray else None)
    t3 = time.perf_counter()
    picked, log = _pick(labels, score, budget, cfg)
    t4 = time.perf_counter()
    if output is not None:
        _write(path, io_cfg, rows_per_batch, output, picked, labels, score, n)
    t5 = time.perf_counter()
    times = {"read_scores": t1 - t0, "train": t2 - t1, "assign": t3 - t2, "allocate_sample": t4 - t3, "write": t5 - t4}
    facts = {
        "n": n,
        "k": k,
        "budget": budget,
        "rows_per_batch": rows_per_batch,
        "backend": run.backend,
        "expr": expr_text,
    }
    return _summary(cfg, facts, x, embeddings, labels, picked, log, times, est)


def _pick(labels: np.ndarray, score: np.ndarray | None, budget: int, cfg: ScaleSelectConfig) -> tuple[np.ndarray, Any]:
    """kMQ on the labels: `qdc.select.kmq.kmq_arrays` itself; the picks in input order."""
    from qdc.select.kmq import kmq_arrays

    picked, log = kmq_arrays(
        labels,
        score,
        budget,
        allocation=cfg.allocation,
        within=cfg.within,
        temperature=cfg.temperature,
        diversity_weight=cfg.diversity_weight,
        cluster_quality=cfg.cluster_quality,
        seed=cfg.seed,
    )
    return np.sort(picked), log


def _summary(
    cfg: ScaleSelectConfig,
    run: dict[str, Any],
    x: np.ndarray,
    embeddings: str,
    labels: np.ndarray,
    picked: np.ndarray,
    log: Any,
    times: dict[str, float],
    est: memory.Estimate,
) -> dict[str, Any]:
    """The run summary of `stream_select`."""
    n, k = run["n"], run["k"]
    sizes = np.bincount(labels)
    return {
        "rows_in": n,
        "selected": int(picked.shape[0]),
        "budget": run["budget"],
        "strategy": "kmq",
        "seed": cfg.seed,
        "score": run["expr"],
        "embeddings": {"path": embeddings, "rows": int(x.shape[0]), "dim": int(x.shape[1]), "dtype": str(x.dtype)},
        "clusters": {
            "k": int(sizes.shape[0]),
            "trained_on": min(n, k * cfg.points_per_centroid),
            "largest": int(sizes.max()),
            "smallest": int(sizes.min()),
        },
        "kmq": {key: log[key] for key in ("within", "temperature")},
        "batch_rows": run["rows_per_batch"],
        "backend": run["backend"],
        "seconds": {**{key: round(v, 3) for key, v in times.items()}, "total": round(sum(times.values()), 3)},
        "estimate": {"rows": est.rows, "memory_bytes": est.memory, "text": est.describe()},
    }


def _write(
    path: str,
    io_cfg: IOConfig,
    batch_rows: int,
    output: str,
    picked: np.ndarray,
    labels: np.ndarray,
    score: np.ndarray | None,
    n: int,
) -> None:
    start = 0
    with open_sink(output) as sink:
        assert sink is not None
        for batch in iter_batches(path, io_cfg, batch_rows, user_columns=True):
            stop = start + batch.height
            lo, hi = np.searchsorted(picked, [start, stop])
            local = picked[lo:hi] - start
            if local.shape[0]:
                rows = picked[lo:hi]
                reasons = [
                    f"kmq cluster={int(c)}" + ("" if score is None else f" score={s:.4g}")
                    for c, s in zip(
                        labels[rows].tolist(),
                        (score[rows] if score is not None else np.zeros(rows.shape[0])).tolist(),
                        strict=True,
                    )
                ]
                sink.write(
                    batch[local].with_columns(
                        pl.Series(schema.SELECT_ROUND, np.zeros(local.shape[0], dtype=np.int64), dtype=pl.Int64),
                        pl.Series(schema.SELECT_REASON, reasons, dtype=pl.String),
                    )
                )
            start = stop
            progress("scale select: write", start, n)
    if start != n:
        raise DataError(f"{path}: the input changed during the run ({n} rows read first, {start} now)")


RANGE_ROWS = 262_144
"""Rows of the embedding file per Ray assignment task."""


def _assign_ranges(batch: dict[str, np.ndarray], path: str, centroids: np.ndarray) -> dict[str, np.ndarray]:
    """Nearest centroid (inner product) of every row in the given [start, stop) ranges of the .npy at `path`."""
    from qdc.cluster import assign
    from qdc.scale.store import open_store

    x = open_store(path)
    rows: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for start, stop in zip(batch["start"].tolist(), batch["stop"].tolist(), strict=True):
        rows.append(np.arange(start, stop, dtype=np.int64))
        labels.append(assign(x, centroids, lo=start, hi=stop)[0])
    return {"row": np.concatenate(rows), "label": np.concatenate(labels)}


def ray_assign(path: str, n: int, centroids: np.ndarray, range_rows: int | None = None) -> np.ndarray:
    """Raw nearest-centroid ids of the n rows of the .npy at `path`, computed by Ray workers."""
    ray = require_ray()
    range_rows = range_rows or RANGE_ROWS
    ranges = [{"start": s, "stop": min(n, s + range_rows)} for s in range(0, n, range_rows)]
    ds = ray.data.from_items(ranges).map_batches(
        _assign_ranges, fn_kwargs={"path": path, "centroids": centroids}, batch_size=1, batch_format="numpy"
    )
    labels = np.full(n, -1, dtype=np.int64)
    for batch in ds.iter_batches(batch_format="numpy", batch_size=1 << 20):
        labels[np.asarray(batch["row"], dtype=np.int64)] = np.asarray(batch["label"], dtype=np.int64)
    if (labels < 0).any():
        raise RuntimeError("Ray assignment left rows without a cluster")
    return labels
