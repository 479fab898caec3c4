"""Quality bandit over clusters (after Quad, Zhang et al. ICLR 2025; algorithms.md §2.2).

Clusters are arms. Each pull scores a small probe (b rows) from a cluster with the expensive scorer; the
reward is the probe's mean normalised score minus a threshold tau. A positive reward accepts the probe's
rows that clear tau plus, in `block` mode, a block of m-b further *unscored* rows from the same cluster
(this is what makes it cheap: each accepted row costs about b/m scorer calls). Arms are chosen by
``CS_c = mean_c + alpha·sqrt(2·ln N / (T_c + 1)) + coverage·(1 - taken_c / fair_c)``: Quad's UCB (+1 form)
plus a coverage term (ours) that favours arms holding less than their fair share fair_c (B·n_c/n by default). The
scorer is never called more than `max_scored` times (enforced by the feedback source).

Diversity (ours, not Quad's): no cluster takes more than ``cluster_cap``·fair_c rows (Quad's block
acceptance otherwise piles the budget into the few clusters that won early), and the backfill spreads the
rows still missing over the clusters in proportion to their fair share (weighted by their mean reward
when it is known), not cluster after cluster. With `junk_gate`, rows the gate holds back (qdc_quality below
the junk threshold) are never probed and are taken only when nothing else fills the budget. The fair share
is ``share``: proportional to the cluster's size (Quad), sqrt or equal. `cluster_cap: null`, `coverage: 0`,
`junk_gate: false`, `share: proportional` and `tau_rule: median` restore Quad's behaviour.

Adapted from Quad: a warm-up pull of every cluster (or a random subset when that would spend more than
half the scorer budget) replaces the index-order sweep; tau defaults to the score's junk threshold when the
feedback is qdc_quality (``qdc.quality.JUNK_THRESHOLD``: a cluster is accepted unless its probe looks like
junk, so quality acts as a gate and the coverage term decides the rest), else to the median warm-up score; probe
rows below tau are not accepted even in `block` mode; `scored_only` accepts only scored rows above tau.
Optional neighbour sharing (Quad's radius 0.2 on centroid cosine distance) is off by default.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qdc.select.allocate import allocate
from qdc.select.config import SelectConfig
from qdc.select.held import held_reasons
from qdc.select.kmq import base_weights, junk_regions
from qdc.select.pool import FeedbackSource, Picks, Pool
from qdc.select.robust import gate


def ucb(mean: float, pulls: int, total: int, alpha: float) -> float:
    """Quad's confidence score: mean + alpha·sqrt(2·ln(max(N,1)) / (T + 1))."""
    return mean + alpha * math.sqrt(2.0 * math.log(max(total, 1)) / (pulls + 1))


def _centroid_distances(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    cent = np.zeros((k, x.shape[1]), dtype=np.float64)
    np.add.at(cent, labels, x)
    cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
    return np.asarray(1.0 - cent @ cent.T)


class Bandit:
    """One run: warm_up, then pull rounds (each pull updates the arm), then backfill; `picks()` answers."""

    def __init__(
        self, pool: Pool, budget: int, cfg: SelectConfig, rng: np.random.Generator, feedback: FeedbackSource
    ) -> None:
        bc = cfg.bandit
        self.bc, self.budget, self.feedback, self.rng = bc, budget, feedback, rng
        self.labels = pool.labels()
        self.k = k = int(self.labels.max()) + 1 if self.labels.size else 0
        self.root = pool.root_positions()
        cap = int(bc.max_scored) if bc.max_scored is not None else max(1, math.ceil(0.2 * budget))
        self.max_scored = min(cap, feedback.limit if feedback.limit is not None else cap)
        self.start_calls = feedback.calls
        self.b = max(1, int(bc.probe))
        self.m = int(bc.block) if bc.block is not None else max(self.b, math.ceil(self.b * budget / self.max_scored))
        sizes = np.bincount(self.labels, minlength=k)
        share = base_weights(sizes, bc.share)
        self.fair = budget * share / max(float(share.sum()), 1e-300)
        self.cap = (
            np.maximum(np.ceil(bc.cluster_cap * self.fair), 1).astype(np.int64)
            if bc.cluster_cap is not None
            else sizes.astype(np.int64)
        )
        # Seeded shuffle of each cluster's rows: the order probes and blocks pop in. Rows the junk gate holds
        # back are in no queue (a junk-only cluster is never an arm): they are the backfill's last resort.
        perm = rng.permutation(pool.n)
        row_gate = junk = gate(pool, budget) if cfg.junk_gate else None
        if cfg.junk_gate:
            allowed, _ = junk_regions(pool, self.labels, budget, None if junk is None else ~junk, cfg.junk_region)
            junk = None if allowed is None else ~allowed
        self.held_why = held_reasons(pool, row_gate, junk, self.labels)
        held = junk[perm] if junk is not None else np.zeros(pool.n, dtype=bool)
        self.held: list[int] = perm[held].tolist()
        perm = perm[~held]
        perm = perm[np.argsort(self.labels[perm], kind="stable")]
        self.queues: list[list[int]] = [[] for _ in range(k)]
        for p in perm.tolist():
            self.queues[self.labels[p]].append(p)
        self.heads = [0] * k
        self.pulls = np.zeros(k, dtype=np.int64)
        self.rsum = np.zeros(k)
        self.taken = np.zeros(k, dtype=np.int64)
        self.accepted_blocks = np.zeros(k, dtype=np.int64)
        self.total = 0
        self.selected: list[int] = []
        self.why: list[str] = []
        self.rnd: list[int] = []
        self.passed: list[tuple[float, int]] = []  # scored rows not accepted: last resort of the backfill
        self.history: list[dict[str, Any]] = []
        self.ucb_log: list[dict[str, float]] = []
        self.rounds_run = 0
        self.backfilled = 0
        self.lo, self.hi, self.tau = 0.0, 1.0, 0.5
        self.neighbours = None
        if bc.neighbour_radius > 0 and k > 1:
            self.neighbours = _centroid_distances(pool.embeddings(), self.labels, k)

    # --- small helpers
    def left(self, c: int) -> int:
        return len(self.queues[c]) - self.heads[c]

    def room(self, c: int) -> int:
        return int(self.cap[c] - self.taken[c])

    def pop(self, c: int, count: int) -> list[int]:
        got = self.queues[c][self.heads[c] : self.heads[c] + max(count, 0)]
        self.heads[c] += len(got)
        return got

    def calls_left(self) -> int:
        return self.max_scored - (self.feedback.calls - self.start_calls)

    def full(self) -> bool:
        return len(self.selected) >= self.budget

    def norm(self, v: np.ndarray) -> np.ndarray:
        if self.hi > self.lo:
            return np.asarray(np.clip((v - self.lo) / (self.hi - self.lo), 0.0, 1.0))
        return np.full_like(v, 0.5)

    def add(self, p: int, c: int, why: str, rnd: int) -> None:
        self.selected.append(p)
        self.why.append(why)
        self.rnd.append(rnd)
        self.taken[c] += 1

    def score(self, probe: list[int]) -> np.ndarray:
        return self.feedback.score(self.root[np.asarray(probe)])

    # --- the four phases
    def warm_up(self) -> None:
        """One probe per cluster (a random subset when that would spend more than half the scorer budget)."""
        arms = [c for c in range(self.k) if self.left(c) > 0]
        if self.k * self.b > self.max_scored / 2:
            cap = max(1, (self.max_scored // 2) // self.b)
            arms = sorted(self.rng.permutation(arms)[:cap].tolist()) if len(arms) > cap else arms
        warm: dict[int, tuple[list[int], np.ndarray]] = {}
        for c in arms:
            size = min(self.b, self.left(c), self.calls_left())
            if size <= 0:
                break
            probe = self.pop(c, size)
            warm[c] = (probe, self.score(probe))
        raw = np.concatenate([v for _, v in warm.values()]) if warm else np.zeros(0)
        declared = self.feedback.value_range
        if declared is not None:
            self.lo, self.hi = declared
        elif raw.size:
            self.lo, self.hi = float(raw.min()), float(raw.max())
        median = float(np.median(self.norm(raw))) if raw.size else 0.5
        floor = self.feedback.floor if self.bc.tau_rule == "gate" else None
        # τ: as configured; else the score's own junk threshold (qdc_quality: a gate, not a ranking); else
        # Quad's relative rule, the warm-up median.
        self.tau = float(self.bc.tau) if self.bc.tau is not None else (float(floor) if floor is not None else median)
        for c, (probe, vals) in warm.items():
            self.update(c, probe, vals, 0)

    def arm_score(self, c: int) -> float:
        mean = self.rsum[c] / self.pulls[c] if self.pulls[c] else 0.0
        under = 1.0 - self.taken[c] / max(self.fair[c], 1e-9)
        return float(ucb(mean, int(self.pulls[c]), self.total, self.bc.alpha) + self.bc.coverage * max(under, -1.0))

    def pull(self, rnd: int) -> bool:
        """One round: the best `pulls_per_round` arms by score each get a probe. False when nothing is left."""
        if self.full() or self.calls_left() <= 0:
            return False
        active = [c for c in range(self.k) if self.left(c) > 0 and self.room(c) > 0]
        if not active:
            return False
        cs = {c: self.arm_score(c) for c in active}
        chosen = sorted(active, key=lambda c: (-cs[c], int(self.pulls[c]), c))[: self.bc.pulls_per_round]
        self.ucb_log.append({str(c): round(cs[c], 6) for c in chosen})
        self.rounds_run = rnd
        for c in chosen:
            size = min(self.b, self.left(c), self.calls_left())
            if size <= 0 or self.full():
                break
            probe = self.pop(c, size)
            self.update(c, probe, self.score(probe), rnd)
        return True

    def update(self, c: int, probe: list[int], raw: np.ndarray, rnd: int) -> None:
        """Reward the arm (and its neighbours); accept the probe's good rows and, in block mode, a block."""
        r = self.norm(raw)
        reward = float(r.mean()) - self.tau
        targets = [(c, 1.0)]
        if self.neighbours is not None:
            radius = self.bc.neighbour_radius
            targets = [
                (j, 1.0 - float(self.neighbours[c, j]) / radius)
                for j in range(self.k)
                if self.neighbours[c, j] < radius or j == c
            ]
        for j, wgt in targets:
            self.rsum[j] += reward * wgt
            self.pulls[j] += 1
            self.total += 1
        self.history.append({"round": rnd, "cluster": c, "probe": len(probe), "reward": round(reward, 6)})
        scored = list(zip(probe, r.tolist(), strict=True))
        if not (reward > 0 and not self.full()):
            self.passed.extend((v, p) for p, v in scored)
            return
        self.accepted_blocks[c] += 1
        good = 0
        for p, v in scored:
            if v >= self.tau and not self.full() and self.room(c) > 0:
                self.add(p, c, f"bandit round={rnd} cluster={c} scored={v:.4g}", rnd)
                good += 1
            else:
                self.passed.append((v, p))
        if self.bc.accept == "block":
            count = min(self.m - good, self.budget - len(self.selected), self.room(c))
            for p in self.pop(c, count):
                self.add(p, c, f"bandit round={rnd} cluster={c} block reward={reward:.4g}", rnd)

    def backfill(self) -> None:
        """Fill the budget over the clusters by fair share (times the reward when known), within their caps;
        then without caps; scored rows that were passed over come last, best first."""
        rnd = self.rounds_run + 1
        means = np.where(self.pulls > 0, self.rsum / np.maximum(self.pulls, 1), 0.0)
        weight = self.fair * np.clip(1.0 + means, 0.25, 2.0)
        for capped in (True, False):
            missing = self.budget - len(self.selected)
            if missing <= 0:
                return
            limit = [min(self.left(c), self.room(c)) if capped else self.left(c) for c in range(self.k)]
            counts = allocate(missing, np.where(np.asarray(limit) > 0, weight + 1e-12, 0.0), limit)
            for c in range(self.k):
                for p in self.pop(c, int(counts[c])):
                    self.add(p, c, f"bandit backfill cluster={c}", rnd)
                    self.backfilled += 1
        for v, p in sorted(self.passed, key=lambda t: (-t[0], t[1]))[: max(0, self.budget - len(self.selected))]:
            self.add(p, int(self.labels[p]), f"bandit backfill scored={v:.4g}", rnd)
            self.backfilled += 1
        for p in self.held[: max(0, self.budget - len(self.selected))]:
            self.add(p, int(self.labels[p]), "bandit backfill below the junk gate", rnd)
            self.backfilled += 1

    def picks(self) -> Picks:
        log = {
            "k": self.k,
            "probe": self.b,
            "block": self.m,
            "tau": round(self.tau, 6),
            "score_range": [self.lo, self.hi],
            "max_scored": self.max_scored,
            "scorer_calls": self.feedback.calls - self.start_calls,
            "rounds_run": self.rounds_run,
            "backfilled": self.backfilled,
            "cluster_cap": None if self.bc.cluster_cap is None else self.cap.tolist(),
            "arms": {
                str(c): {
                    "pulls": int(self.pulls[c]),
                    "mean_reward": round(float(self.rsum[c] / self.pulls[c]), 6),
                    "accepted_blocks": int(self.accepted_blocks[c]),
                    "taken": int(self.taken[c]),
                }
                for c in range(self.k)
                if self.pulls[c]
            },
            "pulls": self.history,
            "ucb": self.ucb_log,
        }
        return Picks(
            np.asarray(self.selected, dtype=np.int64),
            np.asarray(self.rnd, dtype=np.int64),
            self.why,
            log,
            self.held_why,
        )


def bandit(pool: Pool, budget: int, cfg: SelectConfig, rng: np.random.Generator, feedback: FeedbackSource) -> Picks:
    """UCB over clusters with a hard scorer budget, per-cluster caps and a coverage term; see the module doc."""
    run = Bandit(pool, budget, cfg, rng, feedback)
    run.warm_up()
    for rnd in range(1, cfg.bandit.max_rounds + 1):
        if not run.pull(rnd):
            break
    if cfg.bandit.backfill:
        run.backfill()
    return run.picks()
