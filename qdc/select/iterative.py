"""Iterative refinement (Diversify and Conquer, Yu et al. 2024; algorithms.md §1.3), without training.

The budget is split over R rounds (floor(B/R) each, the remainder in the last). Round 0 spreads over the
clusters (equal or proportional water-filling, scaled by kmq's quality factor when on). After each
round, the rows selected so far that have no feedback yet are scored (a score column, a `gap` of two
columns, or an external scorer such as an LLM judge); each cluster's weight for the next round is the
softmax of the standardised mean feedback of its selected rows, mixed with an exploration floor
``eps/|active clusters|``, and zero for exhausted clusters.

The scorer only ever sees rows that are already selected, and each row at most once, so an expensive
scorer runs fewer than B times (the last round's picks are never scored: nothing follows them).

Adapted from the original: no fine-tuning between rounds, so the signal is the rows' own quality (or the
faithful reward gap in `gap` mode); the original's bugs (draw count divided by K twice, missing weights
for unscored clusters) are not reproduced; clusters without feedback get the mean of the others.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qdc.select.allocate import allocate, equal_split
from qdc.select.config import IterativeConfig, SelectConfig
from qdc.select.kmq import base_weights, effective_within, gated_rows, start_weights, take_per_cluster, within_keys
from qdc.select.pool import FeedbackSource, Picks, Pool, softmax, standardise


def cluster_weights(
    means: np.ndarray,
    has: np.ndarray,
    remaining: np.ndarray,
    temperature: float,
    eps: float,
    spread: float | None = None,
) -> np.ndarray:
    """Softmax of the cluster means + exploration floor; 0 for clusters with nothing left.

    With `spread` (the feedback's row-level standard deviation) a mean enters as its distance from the
    mean of the means in units of `spread` (an effect size: ten rows of noise move a mean ~0.3); without
    it the means are standardised among themselves (the original: any difference, even noise, spans ~±1.5).
    """
    s = means.astype(np.float64).copy()
    if has.any():
        s[~has] = float(s[has].mean())
    else:
        s[:] = 0.0
    active = remaining > 0
    w = np.zeros_like(s)
    if not active.any():
        return w
    if spread is None:
        z = standardise(s[active])
    else:
        # a constant feedback (its sd only float noise) carries no preference
        z = (s[active] - s[active].mean()) / spread if spread > 1e-9 else np.zeros(int(active.sum()))
    w[active] = softmax(z, temperature)
    w[active] = (1.0 - eps) * w[active] + eps / int(active.sum())
    return w / w.sum()  # type: ignore[no-any-return]


class _Feedback:
    """Feedback per cluster so far: sums, counts and every value seen (for the row-level spread)."""

    def __init__(
        self, labels: np.ndarray, k: int, root: np.ndarray, source: FeedbackSource, cfg: IterativeConfig
    ) -> None:
        self.labels, self.root, self.source, self.cfg = labels, root, source, cfg
        self.sum = np.zeros(k)
        self.cnt = np.zeros(k, dtype=np.int64)
        self.seen: list[np.ndarray] = []

    def collect(self, new: np.ndarray, rng: np.random.Generator) -> None:
        """Score the rows picked since the last round (a seeded `feedback_portion` of them)."""
        if self.cfg.feedback_portion < 1.0 and new.size:
            new = new[rng.random(new.size) < self.cfg.feedback_portion]
        if new.size:
            vals = np.asarray(self.source.score(self.root[new]), dtype=np.float64)
            np.add.at(self.sum, self.labels[new], vals)
            np.add.at(self.cnt, self.labels[new], 1)
            self.seen.append(vals)

    def weights(self, remaining: np.ndarray, entry: dict[str, Any]) -> np.ndarray:
        """`cluster_weights` of the means so far (logged in `entry`)."""
        has = self.cnt > 0
        means = np.where(has, self.sum / np.maximum(self.cnt, 1), 0.0)
        spread = None
        if self.cfg.effect_size:
            spread = float(np.std(np.concatenate(self.seen))) if self.seen else 0.0
            entry["feedback_sd"] = round(spread, 6)
        entry["feedback_mean"] = {str(c): round(float(means[c]), 6) for c in np.flatnonzero(has)}
        return cluster_weights(means, has, remaining, self.cfg.cluster_temperature, self.cfg.explore, spread)


def iterative(pool: Pool, budget: int, cfg: SelectConfig, rng: np.random.Generator, feedback: FeedbackSource) -> Picks:
    """Rounds of cluster-reweighted sampling; `feedback` is scored only on already-selected rows."""
    labels = pool.labels()
    k = int(labels.max()) + 1 if labels.size else 0
    root = pool.root_positions()
    z = None if pool.score is None else standardise(pool.score)
    mode, temp = effective_within(cfg.within, cfg.temperature, cfg.diversity_weight)
    rounds = max(1, int(cfg.iterative.rounds))
    per_round = equal_split(budget, rounds)
    bias, gate, _, held = gated_rows(pool, cfg, budget, labels)
    available = np.ones(pool.n, dtype=bool) if gate is None else gate.copy()
    order: list[np.ndarray] = []
    round_of: list[np.ndarray] = []
    reasons: list[str] = []
    log: list[dict[str, Any]] = []
    fb = _Feedback(labels, k, root, feedback, cfg.iterative)
    unscored: list[np.ndarray] = []
    # Later rounds scale the allocation's weights (1 each for `equal`, as in the original) by the feedback.
    alloc = base_weights(np.bincount(labels, minlength=k), cfg.allocation)
    for r in range(rounds):
        remaining = np.bincount(labels[available], minlength=k)
        entry: dict[str, Any] = {"round": r, "budget": per_round[r]}
        if r == 0:
            weights = start_weights(labels, k, pool.score, cfg.allocation, cfg.cluster_quality)[0]
        else:
            fb.collect(np.concatenate(unscored) if unscored else np.zeros(0, dtype=np.int64), rng)
            unscored = []
            weights = alloc * fb.weights(remaining, entry)
        counts = allocate(per_round[r], weights, remaining)
        keys = within_keys(pool.n, z, mode, temp, rng)
        if bias is not None and mode == "balanced":
            keys = keys + bias
        got = take_per_cluster(labels, counts, keys, available)
        available[got] = False
        unscored.append(got)
        order.append(got)
        round_of.append(np.full(got.shape[0], r, dtype=np.int64))
        wsum = max(float(weights.sum()), 1e-300)
        reasons.extend(
            f"iterative round={r} cluster={int(labels[p])} weight={weights[labels[p]] / wsum:.4g}" for p in got
        )
        entry["cluster_weights"] = {str(c): round(float(weights[c] / wsum), 6) for c in np.flatnonzero(weights)}
        entry["cluster_counts"] = {str(c): int(counts[c]) for c in np.flatnonzero(counts)}
        log.append(entry)
    picked = np.concatenate(order) if order else np.zeros(0, dtype=np.int64)
    return Picks(
        picked,
        np.concatenate(round_of) if round_of else picked.copy(),
        reasons,
        {"k": k, "within": mode, "rounds": log},
        held,
    )
