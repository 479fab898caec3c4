"""The candidate pool every strategy draws from: eligible rows, their score, embeddings and clusters.

Embeddings are computed on first use, once for the whole pool, and shared by the per-group sub-pools (a
sub-pool is a view: `positions` into the parent). Clusters are computed per pool, on first use, sized for
the budget that pool was given: a group is clustered on its own rows, so a small group is not cut into
fragments of clusters drawn for the whole pool. Strategies see pool positions 0..n-1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from qdc.errors import ConfigError

Scorer = Callable[[pl.DataFrame], np.ndarray]


def standardise(v: np.ndarray) -> np.ndarray:
    """(v - mean) / (std + 1e-12); an empty or constant vector gives zeros."""
    v = np.asarray(v, dtype=np.float64)
    if v.size == 0:
        return v
    sd = float(v.std())
    return (v - float(v.mean())) / (sd + 1e-12) if sd > 0 else np.zeros_like(v)


def softmax(v: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """exp(v/T) normalised, with max-subtraction for stability."""
    v = np.asarray(v, dtype=np.float64) / max(temperature, 1e-12)
    if v.size == 0:
        return v
    e = np.exp(v - v.max())
    return e / e.sum()  # type: ignore[no-any-return]


@dataclass
class FeedbackSource:
    """Per-row feedback for iterative/bandit: a column (cheap) or a scorer callable (counted, cached).

    `calls` counts rows handed to the scorer; each row is scored at most once. `limit`
    (bandit.max_scored) makes `score` raise if it would be exceeded, so a bug can never overspend.
    """

    frame: pl.DataFrame
    values: np.ndarray | None = None
    scorer: Scorer | None = None
    label: str = "score"
    value_range: tuple[float, float] | None = None
    floor: float | None = None  # a threshold that means something on this scale (qdc_quality's junk threshold)
    limit: int | None = None
    calls: int = 0
    cache: dict[int, float] = field(default_factory=dict)

    def score(self, positions: np.ndarray) -> np.ndarray:
        """Feedback for pool positions (frame rows), scoring only the ones not seen before."""
        positions = np.asarray(positions, dtype=np.int64)
        todo = [int(p) for p in dict.fromkeys(positions.tolist()) if int(p) not in self.cache]
        if todo:
            if self.limit is not None and self.calls + len(todo) > self.limit:
                raise ConfigError(f"scorer budget exceeded ({self.calls + len(todo)} > {self.limit})")
            if self.scorer is not None:
                got = np.asarray(self.scorer(self.frame[todo]), dtype=np.float64).reshape(-1)
                if got.shape[0] != len(todo):
                    raise ConfigError(f"scorer returned {got.shape[0]} scores for {len(todo)} rows")
            else:
                assert self.values is not None
                got = self.values[np.asarray(todo)]
            got = np.where(np.isfinite(got), got, np.nan)
            self.calls += len(todo)
            for p, v in zip(todo, got.tolist(), strict=True):
                self.cache[p] = float(v)
        out = np.array([self.cache[int(p)] for p in positions], dtype=np.float64)
        if np.isnan(out).any():
            fill = np.nanmin(out) if np.isfinite(out).any() else 0.0
            out = np.where(np.isnan(out), fill, out)
        return out

    def scored(self) -> list[int]:
        return sorted(self.cache)


@dataclass
class Pool:
    """Eligible rows (`frame`) with score, token cost, and lazily computed embeddings and clusters."""

    frame: pl.DataFrame
    score: np.ndarray | None
    cost: np.ndarray
    embed_fn: Callable[[], np.ndarray]
    cluster_fn: Callable[[Pool], np.ndarray]
    """Dense cluster ids 0..K-1 for a pool (its rows, its `cluster_budget`)."""
    cluster_budget: int = 0
    """Rows this pool's clustering is sized for (the default K is about a tenth of it)."""
    positions: np.ndarray | None = None  # sub-pool: rows of the parent pool
    parent: Pool | None = None
    _x: np.ndarray | None = None
    _labels: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.cost.shape[0])

    def embeddings(self) -> np.ndarray:
        if self.parent is not None:
            assert self.positions is not None
            return np.asarray(self.parent.embeddings()[self.positions])
        if self._x is None:
            self._x = self.embed_fn()
        return self._x

    def labels(self) -> np.ndarray:
        """Dense cluster ids 0..K-1 over this pool's rows (computed once, on first use)."""
        if self._labels is None:
            self._labels = self.cluster_fn(self)
        return self._labels

    def cluster_count(self) -> int | None:
        """K of this pool's clustering, or None when no strategy asked for clusters."""
        return None if self._labels is None else int(self._labels.max()) + 1 if self._labels.size else 0

    def require_score(self, strategy: str) -> np.ndarray:
        if self.score is None:
            raise ConfigError(f"--strategy {strategy} needs a score (--score, --set weights=..., or qdc_quality)")
        return self.score

    def root_positions(self) -> np.ndarray:
        """Positions of this pool's rows in the root pool."""
        if self.parent is None:
            return np.arange(self.n, dtype=np.int64)
        assert self.positions is not None
        return np.asarray(self.parent.root_positions()[self.positions], dtype=np.int64)

    def subset(self, positions: np.ndarray, cluster_budget: int) -> Pool:
        """A sub-pool of these rows, clustered on its own for `cluster_budget` rows."""
        positions = np.asarray(positions, dtype=np.int64)
        return Pool(
            frame=self.frame[positions],
            score=None if self.score is None else self.score[positions],
            cost=self.cost[positions],
            embed_fn=self.embed_fn,
            cluster_fn=self.cluster_fn,
            cluster_budget=cluster_budget,
            positions=positions,
            parent=self,
        )


@dataclass
class Picks:
    """A strategy's answer: pool positions in pick order, the round of each, a reason for each, a log, and the
    rows the junk gate held back."""

    order: np.ndarray
    rounds: np.ndarray
    reasons: list[str]
    log: dict[str, Any] = field(default_factory=dict)
    held: dict[int, tuple[str, str]] = field(default_factory=dict)
    """Rows the junk gate held back in this run: position -> (kind, detail) (`qdc.select.held`)."""

    @staticmethod
    def empty() -> Picks:
        return Picks(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), [])

    def head(self, k: int) -> Picks:
        return Picks(self.order[:k], self.rounds[:k], self.reasons[:k], self.log, self.held)
