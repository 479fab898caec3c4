"""`qdc probe`: does a selection train a better model than random rows of the same size, on the user's data?

A linear probe (logistic regression on the rows' embeddings, the label as target) is trained on the
selected rows, and on random subsets of the same size drawn from the pool the selection came from (one
subset per seed: seeds ``seed, seed+1, ...``), and each is scored on rows the user held out. The answer is
the paired gain over random (selection accuracy minus each random subset's), its mean, a confidence
interval, and the number of seeds where the selection wins. It is the benchmark's measurement
(benchmarks/bench_select_proxies.py) on the user's own labelled data.

The interval (`ci`) is a paired bootstrap over the test rows AND the seeds: each resample draws test rows and
random subsets with replacement and scores the selection and random on the same rows. The held-out set is a
sample too: on a few hundred test rows its noise is larger than the spread over seeds, which a t interval
over the seeds alone (`ci_seeds`, kept beside it) leaves out (sst5, 500 test rows: [+0.008, +0.038] over the
seeds, [-0.021, +0.066] with the test rows resampled).

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
    resamples: int = Field(default=2000, ge=100)
    """Bootstrap resamples of the interval (test rows and seeds; seeded by `seed`)."""
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
    seeds_low: float
    seeds_high: float
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
            "ci_seeds": [round(self.seeds_low, 6), round(self.seeds_high, 6)],
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


def fit_predict(x: np.ndarray, y: np.ndarray, xt: np.ndarray, c: float) -> np.ndarray:
    """A logistic regression trained on (x, y), its predictions on `xt`; one class only = predict that class."""
    from sklearn.linear_model import LogisticRegression

    if len(set(y.tolist())) < 2:
        return np.full(xt.shape[0], y[0], dtype=object)
    return np.asarray(LogisticRegression(max_iter=2000, C=c).fit(x, y).predict(xt), dtype=object)


def _resampled_scores(right: np.ndarray, onehot: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Scores (models x resamples) on resampled test rows: `counts` (resamples x test rows) says how often each
    row was drawn, `onehot` (rows x classes) its class, `right` (rows x (model, class)) whether a model's
    prediction of it is right; the score is the mean recall over the classes drawn (one class: accuracy)."""
    per_class = counts @ onehot  # resamples x classes: rows drawn of each class
    c = onehot.shape[1]
    hits = (counts @ right).reshape(counts.shape[0], -1, c)  # resamples x models x classes: one product
    recall = np.where(per_class[:, None, :] > 0, hits / np.maximum(per_class[:, None, :], 1), np.nan)
    return np.asarray(np.nanmean(recall, axis=2).T)


def bootstrap_interval(
    yt: np.ndarray, chosen: np.ndarray, rand: np.ndarray, cfg: ProbeConfig, block: int = 50
) -> tuple[float, float]:
    """Percentile interval of the mean paired gain, resampling the test rows and the seeds together:
    `chosen` are the selection's predictions on the test rows, `rand` (seeds x rows) random's."""
    rng = np.random.default_rng([cfg.seed, 1])  # its own stream: the subsets' seeds stay as they were
    n, s = yt.shape[0], rand.shape[0]
    if cfg.metric == "balanced_accuracy":
        _, codes = np.unique(yt.astype(str), return_inverse=True)
        onehot = np.eye(int(codes.max()) + 1, dtype=np.float64)[codes]
    else:  # accuracy: every row in one class
        onehot = np.ones((n, 1))
    ok = np.vstack([chosen == yt, rand == yt]).astype(np.float64)  # models x rows
    right = (ok.T[:, :, None] * onehot[:, None, :]).reshape(n, -1)  # built once for every block
    gains: list[np.ndarray] = []
    for start in range(0, cfg.resamples, block):
        b = min(block, cfg.resamples - start)
        rows = rng.integers(n, size=(b, n))
        seeds = rng.integers(s, size=(b, s))
        drawn = (np.arange(b)[:, None] * n + rows).ravel()
        counts = np.bincount(drawn, minlength=b * n).reshape(b, n).astype(np.float64)
        scores = _resampled_scores(right, onehot, counts)
        gains.append(scores[0] - np.take_along_axis(scores[1:].T, seeds, axis=1).mean(axis=1))
    tail = (1 - cfg.confidence) / 2 * 100
    low, high = np.percentile(np.concatenate(gains), [tail, 100 - tail])
    return float(low), float(high)


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
    picked = fit_predict(sel_x, sel_y, test_x, cfg.c)
    preds = []
    for s in range(cfg.seeds):
        idx = np.random.default_rng(cfg.seed + s).choice(pool_x.shape[0], size=n, replace=False)
        preds.append(fit_predict(pool_x[idx], pool_y[idx], test_x, cfg.c))
    chosen = _score(cfg.metric, test_y, picked)
    rand = [_score(cfg.metric, test_y, p) for p in preds]
    d = chosen - np.asarray(rand)
    low, high = bootstrap_interval(test_y, picked, np.vstack(preds), cfg)
    seeds_low, seeds_high = t_interval(d, cfg.confidence)
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
        seeds_low=seeds_low,
        seeds_high=seeds_high,
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
        stored = schema.stored_dim(df) is not None
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
    res = probe(sx, sy, px, py, tx, ty, cfg)
    if all(schema.TEXT in df.columns for df in (selection, pool, test)):
        res.notes.extend(overlap_notes(selection[schema.TEXT], pool[schema.TEXT], test[schema.TEXT], names))
    return res


def overlap_notes(selection: pl.Series, pool: pl.Series, test: pl.Series, names: tuple[str, str, str]) -> list[str]:
    """What makes the comparison unfair, matched on the rows' text (ids differ across files): test rows that
    are also in the selection or the pool (their scores are not held out), and selected rows not in the pool
    (random subsets of the pool are then not a like-for-like baseline)."""
    notes = []
    in_sel, in_pool = int(test.is_in(selection.implode()).sum()), int(test.is_in(pool.implode()).sum())
    if in_sel or in_pool:
        notes.append(
            f"{in_sel} of the {test.len()} rows of {names[2]} are also in {names[0]} and {in_pool} in {names[1]} "
            "(same text): those rows are not held out (a large share inflates the scores)"
        )
    outside = int((~selection.is_in(pool.implode())).sum())
    if outside:
        notes.append(
            f"{outside} of the {selection.len()} rows of {names[0]} are not in {names[1]} (same text): random "
            "subsets of the pool are not a like-for-like baseline for them"
        )
    return notes
