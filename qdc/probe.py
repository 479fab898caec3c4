"""`qdc probe`: does a selection train a better model than random rows of the same size, on the user's data?

A linear probe (logistic regression on the rows' embeddings, the label as target) is trained on the
selected rows, and on random subsets of the same size drawn from the pool the selection came from (one
subset per seed: seeds ``seed, seed+1, ...``), and each is scored on rows the user held out. The answer is
the paired gain over random (selection accuracy minus each random subset's), its mean, a t confidence
interval over the seeds, and the number of seeds where the selection wins. It is the benchmark's
measurement (benchmarks/bench_select_proxies.py) on the user's own labelled data.

Rows of the selection, the pool and the test set are matched to nothing: the pool may contain the
selected rows (it usually does: random subsets are drawn from the same pool as the selection).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from pydantic import Field

from qdc.config import StageConfig
from qdc.errors import ConfigError, MissingColumnError

if TYPE_CHECKING:
    from qdc.embed import EmbedConfig


class ProbeConfig(StageConfig):
    """Options of `qdc probe`."""

    label_field: str = "label"
    """The column holding each row's class (any value; compared as text)."""
    seeds: int = Field(default=10, ge=2)
    """Random subsets to compare with (paired: seed, seed+1, ...)."""
    seed: int = 0
    c: float = Field(default=10.0, gt=0)
    """Inverse regularisation of the logistic regression."""
    confidence: float = Field(default=0.95, gt=0, lt=1)
    metric: str = "accuracy"
    """accuracy or balanced_accuracy."""


@dataclass
class ProbeResult:
    """The selection's score, the random subsets' scores (by seed) and the paired gain with its interval."""

    metric: str
    selected_rows: int
    pool_rows: int
    test_rows: int
    selected: float
    random: list[float]
    gain: float
    low: float
    high: float
    wins: int
    classes: int
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "selected_rows": self.selected_rows,
            "pool_rows": self.pool_rows,
            "test_rows": self.test_rows,
            "classes": self.classes,
            "selected": round(self.selected, 6),
            "random_mean": round(float(np.mean(self.random)), 6),
            "random": [round(r, 6) for r in self.random],
            "gain": round(self.gain, 6),
            "ci": [round(self.low, 6), round(self.high, 6)],
            "wins": self.wins,
            "seeds": len(self.random),
            "notes": self.notes,
        }


def labels_of(df: pl.DataFrame, field_name: str, what: str) -> np.ndarray:
    """The label column as text; a missing column or a null label is an error naming the file."""
    if field_name not in df.columns:
        raise MissingColumnError(f"{what}: no column {field_name!r} (give the label with --label-field)")
    col = df[field_name]
    if col.null_count():
        raise ConfigError(f"{what}: {col.null_count()} row(s) without a {field_name!r} label")
    return np.asarray([str(v) for v in col.to_list()], dtype=object)


def _score(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if metric == "balanced_accuracy":
        classes = sorted(set(y_true.tolist()))
        return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))
    return float(np.mean(y_true == y_pred))


def fit_and_score(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray, c: float, metric: str) -> float:
    """Train a logistic regression on (x, y) and score it on (xt, yt); one class only = predict that class."""
    from sklearn.linear_model import LogisticRegression

    if len(set(y.tolist())) < 2:
        return _score(metric, yt, np.full(yt.shape[0], y[0], dtype=object))
    clf = LogisticRegression(max_iter=2000, C=c).fit(x, y)
    return _score(metric, yt, clf.predict(xt))


def t_interval(d: np.ndarray, confidence: float) -> tuple[float, float]:
    """Student-t interval for the mean of the paired differences."""
    from scipy import stats

    if d.size < 2:
        return float(d.mean()), float(d.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, d.size - 1)) * float(d.std(ddof=1)) / math.sqrt(d.size)
    return float(d.mean()) - half, float(d.mean()) + half


def probe(
    sel_x: np.ndarray,
    sel_y: np.ndarray,
    pool_x: np.ndarray,
    pool_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    cfg: ProbeConfig,
) -> ProbeResult:
    """Probe the selection against `cfg.seeds` random subsets of the pool of the same size (paired)."""
    if cfg.metric not in ("accuracy", "balanced_accuracy"):
        raise ConfigError(f"--metric {cfg.metric!r}: expected accuracy or balanced_accuracy")
    n = sel_x.shape[0]
    if n == 0 or test_x.shape[0] == 0:
        raise ConfigError("qdc probe needs at least one selected row and one test row")
    if pool_x.shape[0] < n:
        raise ConfigError(f"the pool has {pool_x.shape[0]} rows, fewer than the {n} selected: give the input")
    if not (sel_x.shape[1] == pool_x.shape[1] == test_x.shape[1]):
        raise ConfigError("the selection, the pool and the test rows carry embeddings of different dimensions")
    notes: list[str] = []
    unseen = sorted(set(test_y.tolist()) - set(pool_y.tolist()))
    if unseen:
        notes.append(f"{len(unseen)} test label(s) never occur in the pool (e.g. {unseen[0]!r}): nobody can learn them")
    chosen = fit_and_score(sel_x, sel_y, test_x, test_y, cfg.c, cfg.metric)
    rand: list[float] = []
    for s in range(cfg.seeds):
        idx = np.random.default_rng(cfg.seed + s).choice(pool_x.shape[0], size=n, replace=False)
        rand.append(fit_and_score(pool_x[idx], pool_y[idx], test_x, test_y, cfg.c, cfg.metric))
    d = chosen - np.asarray(rand)
    low, high = t_interval(d, cfg.confidence)
    return ProbeResult(
        metric=cfg.metric,
        selected_rows=n,
        pool_rows=int(pool_x.shape[0]),
        test_rows=int(test_x.shape[0]),
        selected=chosen,
        random=rand,
        gain=float(d.mean()),
        low=low,
        high=high,
        wins=int((d > 0).sum()),
        classes=len(set(test_y.tolist()) | set(pool_y.tolist())),
        notes=notes,
    )


def probe_frames(
    selection: pl.DataFrame,
    pool: pl.DataFrame,
    test: pl.DataFrame,
    cfg: ProbeConfig,
    embed_cfg: EmbedConfig,
    names: tuple[str, str, str] = ("the selection", "the pool", "the test rows"),
) -> ProbeResult:
    """`probe` on prepared frames: their vectors (`qdc_embedding`, else embedded with `embed_cfg`, cached) and
    `cfg.label_field` labels; `names` say which frame an error is about."""
    from qdc import schema
    from qdc.embed import ensure_embeddings

    parts: list[tuple[np.ndarray, np.ndarray]] = []
    origins: list[str] = []
    for df, what in zip((selection, pool, test), names, strict=True):
        stored = schema.EMBEDDING in df.columns
        df, x = ensure_embeddings(df, embed_cfg)
        parts.append((x, labels_of(df, cfg.label_field, what)))
        origins.append(
            f"{what}: {x.shape[1]}-d " + ("stored qdc_embedding" if stored else f"--model {embed_cfg.model}")
        )
    if len({x.shape[1] for x, _ in parts}) > 1:
        raise ConfigError(
            f"vectors of different models cannot be compared ({'; '.join(origins)}): pass the --model that made "
            "the stored vectors, or embed all three with one model (qdc embed FILE --force --model M)"
        )
    (sx, sy), (px, py), (tx, ty) = parts
    return probe(sx, sy, px, py, tx, ty, cfg)
