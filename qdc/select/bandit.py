"""Quality bandit over clusters (after Quad, Zhang et al. ICLR 2025; algorithms.md §2.2).

Clusters are arms. Each pull scores a small probe (b rows) from a cluster with the expensive scorer; the
reward is the probe's mean normalised score minus a threshold tau. A positive reward accepts the probe's
rows that clear tau plus, in `block` mode, a block of m-b further *unscored* rows from the same cluster
(this is what makes it cheap: each accepted row costs about b/m scorer calls). Arms are chosen by UCB:
``CS_c = mean_c + alpha·sqrt(2·ln N / (T_c + 1))`` (Quad's +1 form). The scorer is never called more
than `max_scored` times (enforced by the feedback source, which raises rather than overspend).

Adapted from Quad: a warm-up pull of every cluster (or a random subset when that would spend more than
half the scorer budget) replaces the index-order sweep; tau defaults to the median warm-up score; probe
rows below tau are not accepted even in `block` mode; `scored_only` accepts only scored rows above tau;
when the loop ends under budget, a backfill takes unscored rows from the clusters with the best mean
reward (then the others), so the output has exactly the budget. Optional neighbour sharing (Quad's
radius 0.2 on centroid cosine distance) is off by default.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qdc.select.config import SelectConfig
from qdc.select.pool import FeedbackSource, Picks, Pool


def ucb(mean: float, pulls: int, total: int, alpha: float) -> float:
    """Quad's confidence score: mean + alpha·sqrt(2·ln(max(N,1)) / (T + 1))."""
    return mean + alpha * math.sqrt(2.0 * math.log(max(total, 1)) / (pulls + 1))


def _centroid_distances(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    cent = np.zeros((k, x.shape[1]), dtype=np.float64)
    np.add.at(cent, labels, x)
    cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
    return np.asarray(1.0 - cent @ cent.T)


def bandit(pool: Pool, budget: int, cfg: SelectConfig, rng: np.random.Generator, feedback: FeedbackSource) -> Picks:
    """UCB over clusters with a hard scorer budget; see the module docstring."""
    bc = cfg.bandit
    labels = pool.labels()
    k = int(labels.max()) + 1 if labels.size else 0
    root = pool.root_positions()
    n = pool.n
    max_scored = int(bc.max_scored) if bc.max_scored is not None else max(1, math.ceil(0.2 * budget))
    max_scored = min(max_scored, feedback.limit if feedback.limit is not None else max_scored)
    start_calls = feedback.calls
    b = max(1, int(bc.probe))
    m = int(bc.block) if bc.block is not None else max(b, math.ceil(b * budget / max(max_scored, 1)))
    per_round = min(int(bc.pulls_per_round), k) if k else 0
    # Seeded shuffle of each cluster's rows: the order probes and blocks are popped in.
    perm = rng.permutation(n)
    queues: list[list[int]] = [[] for _ in range(k)]
    for p in perm[np.argsort(labels[perm], kind="stable")].tolist():
        queues[labels[p]].append(p)
    heads = [0] * k
    lo_hi = feedback.value_range
    pulls = np.zeros(k, dtype=np.int64)
    rsum = np.zeros(k)
    accepted_blocks = np.zeros(k, dtype=np.int64)
    total = 0
    selected: list[int] = []
    passed: list[tuple[float, int]] = []  # scored rows not accepted: last resort of the backfill
    why: list[str] = []
    rnd: list[int] = []
    history: list[dict[str, Any]] = []
    neighbours = None
    if bc.neighbour_radius and bc.neighbour_radius > 0 and k > 1:
        neighbours = _centroid_distances(pool.embeddings(), labels, k)

    def left(c: int) -> int:
        return len(queues[c]) - heads[c]

    def pop(c: int, count: int) -> list[int]:
        got = queues[c][heads[c] : heads[c] + count]
        heads[c] += len(got)
        return got

    def calls_left() -> int:
        return max_scored - (feedback.calls - start_calls)

    def norm(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
        return np.clip((v - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.full_like(v, 0.5)

    # --- warm-up: one probe per cluster (a random subset when that would spend > half the budget)
    arms = [c for c in range(k) if left(c) > 0]
    if k * b > max_scored / 2:
        cap = max(1, (max_scored // 2) // b)
        arms = sorted(rng.permutation(arms)[:cap].tolist()) if len(arms) > cap else arms
    warm: dict[int, tuple[list[int], np.ndarray]] = {}
    for c in arms:
        size = min(b, left(c), calls_left())
        if size <= 0:
            break
        probe = pop(c, size)
        warm[c] = (probe, feedback.score(root[np.asarray(probe)]))
    all_warm = np.concatenate([v for _, v in warm.values()]) if warm else np.zeros(0)
    if lo_hi is None:
        lo_hi = (float(all_warm.min()), float(all_warm.max())) if all_warm.size else (0.0, 1.0)
    lo, hi = lo_hi
    warm_median = float(np.median(norm(all_warm, lo, hi))) if all_warm.size else 0.5
    tau = float(bc.tau) if bc.tau is not None else warm_median

    def update(c: int, probe: list[int], raw: np.ndarray, rnd_no: int) -> None:
        nonlocal total
        r = norm(raw, lo, hi)
        reward = float(r.mean()) - tau
        targets = [(c, 1.0)]
        if neighbours is not None:
            targets = [
                (j, 1.0 - float(neighbours[c, j]) / bc.neighbour_radius)
                for j in range(k)
                if neighbours[c, j] < bc.neighbour_radius or j == c
            ]
        for j, wgt in targets:
            rsum[j] += reward * wgt
            pulls[j] += 1
            total += 1
        history.append({"round": rnd_no, "cluster": c, "probe": len(probe), "reward": round(reward, 6)})
        if not (reward > 0 and len(selected) < budget):
            passed.extend((v, p) for p, v in zip(probe, r.tolist(), strict=True))
        else:
            accepted_blocks[c] += 1
            good = [p for p, v in zip(probe, r.tolist(), strict=True) if v >= tau]
            for p, v in zip(probe, r.tolist(), strict=True):
                if v >= tau and len(selected) < budget:
                    selected.append(p)
                    why.append(f"bandit round={rnd_no} cluster={c} scored={v:.4g}")
                    rnd.append(rnd_no)
                else:
                    passed.append((v, p))
            if bc.accept == "block":
                room = budget - len(selected)
                for p in pop(c, min(m - len(good), room)):
                    selected.append(p)
                    why.append(f"bandit round={rnd_no} cluster={c} block reward={reward:.4g}")
                    rnd.append(rnd_no)

    for c, (probe, raw) in warm.items():
        update(c, probe, raw, 0)
    ucb_log: list[dict[str, float]] = []
    rounds_run = 0
    for rnd_no in range(1, int(bc.max_rounds) + 1):
        if len(selected) >= budget or calls_left() <= 0:
            break
        active = [c for c in range(k) if left(c) > 0]
        if not active:
            break
        cs = {c: ucb(rsum[c] / pulls[c] if pulls[c] else 0.0, int(pulls[c]), total, bc.alpha) for c in active}
        chosen = sorted(active, key=lambda c: (-cs[c], int(pulls[c]), c))[:per_round]
        ucb_log.append({str(c): round(cs[c], 6) for c in chosen})
        rounds_run = rnd_no
        for c in chosen:
            size = min(b, left(c), calls_left())
            if size <= 0 or len(selected) >= budget:
                break
            probe = pop(c, size)
            update(c, probe, feedback.score(root[np.asarray(probe)]), rnd_no)
    # --- backfill: unscored rows from the best clusters first (mean reward, then id)
    backfill = 0
    if bc.backfill and len(selected) < budget:
        means = np.where(pulls > 0, rsum / np.maximum(pulls, 1), -np.inf)
        for c in sorted(range(k), key=lambda c: (-means[c], c)):
            if len(selected) >= budget:
                break
            for p in pop(c, budget - len(selected)):
                selected.append(p)
                why.append(f"bandit backfill cluster={c}")
                rnd.append(rounds_run + 1)
                backfill += 1
        # Only when the unscored rows ran out: scored rows that were passed over, best first.
        for v, p in sorted(passed, key=lambda t: (-t[0], t[1]))[: max(0, budget - len(selected))]:
            selected.append(p)
            why.append(f"bandit backfill scored={v:.4g}")
            rnd.append(rounds_run + 1)
            backfill += 1
    log = {
        "k": k,
        "probe": b,
        "block": m,
        "tau": round(tau, 6),
        "score_range": [lo, hi],
        "max_scored": max_scored,
        "scorer_calls": feedback.calls - start_calls,
        "rounds_run": rounds_run,
        "backfilled": backfill,
        "arms": {
            str(c): {
                "pulls": int(pulls[c]),
                "mean_reward": round(float(rsum[c] / pulls[c]), 6),
                "accepted_blocks": int(accepted_blocks[c]),
            }
            for c in range(k)
            if pulls[c]
        },
        "pulls": history,
        "ucb": ucb_log,
    }
    return Picks(np.asarray(selected, dtype=np.int64), np.asarray(rnd, dtype=np.int64), why, log)
