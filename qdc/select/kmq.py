"""kMQ ("k-means-quality", Diversify and Conquer, Yu et al. 2024; algorithms.md §1.1-1.3).

Cluster the pool with k-means, split the budget over clusters (`equal` as in the original code,
`proportional` to cluster size, or `sqrt` of it, qdc's default) with water-filling so the total lands
exactly on the budget (the original leaves small clusters' shortfall unspent), then sample inside each
cluster:

- ``softmax``: without replacement with p ∝ exp(z / T), z = the standardised score (the original uses raw
  1..36 integer scores at T=1; standardising makes T mean the same for any score scale; T=0.2 on z keeps
  the original's peakedness: raw scores with a spread of ~5 points at T=1 ≈ z/0.2);
- ``balanced`` (the default, qdc.select.robust): a uniform draw nudged by the score times its reliability,
  behind the junk gate;
- ``top``: the highest scores; ``random``: uniform (the original's KMeansRandom).

Why `sqrt` shares and a mild score by default (docs/select.md has the figures): equal shares flatten the
pool's density, which helps when a rare class spreads over clusters of its own and hurts when it is
compact (SMS spam: fewer clusters, so equal shares cut it); sqrt sits between that and proportional
(= random). A peaked softmax inside clusters follows whatever the score prefers (length, or against a
class: the quality scorer rates spam low), which cost accuracy on every planted proxy.

Sampling without replacement uses Gumbel-top-k keys (key = z/T + Gumbel noise, take the k largest per
cluster), which draws from the same distribution as numpy's sequential ``choice(replace=False, p=...)``
and is vectorised, so 1M rows take well under a second. Ties break by input order (stable sorts).

Quality-aware cluster shares (``cluster_quality``, off by default -- the junk gate already empties junk-only
clusters, and with a biased score it cuts whole classes; ours, not the paper's): each cluster's
share is multiplied by ``min(1, 2·m_c)`` where m_c is the mean percentile rank (ties averaged) of its
rows' scores in the pool. A cluster whose rows are at least typical (m_c >= 0.5) keeps its full share; a
cluster made of junk (empty answers, refusals, token soup all land together in embedding space) has
m_c near 0 and gets almost nothing. Without it the equal split hands such a cluster a full B/K share
and softmax sampling inside it can only pick among junk: on our SST-2 proxy plain kmq picked more junk
than random (6.3% against 5.0%, 10 seeds), with the factor 0.2%. Percentile ranks make it independent of
the score's scale.

`diversity_weight` w walks the quality-diversity trade-off: cluster shares blend (1-w)·(shares of the
global top-B by score) with w·(the allocation's shares), and the within-cluster temperature is T·w/(1-w).
w=0 returns exactly the top-B rows by score; w=1 is uniform sampling spread over the clusters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qdc.errors import ConfigError
from qdc.select.allocate import allocate
from qdc.select.config import SelectConfig
from qdc.select.held import Held, held_reasons
from qdc.select.pool import Picks, Pool, standardise
from qdc.select.robust import region_share, within_bias


def base_weights(sizes: np.ndarray, allocation: str) -> np.ndarray:
    """Cluster weights before any score feedback: 1 each (equal) or the cluster sizes (proportional)."""
    if allocation == "equal":
        return (sizes > 0).astype(np.float64)
    if allocation == "proportional":
        return sizes.astype(np.float64)
    if allocation == "sqrt":
        return np.sqrt(sizes.astype(np.float64))
    raise ConfigError(f"allocation {allocation!r}: expected equal, proportional or sqrt")


def percentile_rank(v: np.ndarray) -> np.ndarray:
    """Mid-rank percentile of each value in (0, 1); tied values share their average rank."""
    v = np.asarray(v, dtype=np.float64)
    if v.size == 0:
        return v
    _, inv, cnt = np.unique(v, return_inverse=True, return_counts=True)
    mid = np.cumsum(cnt) - (cnt - 1) / 2.0  # average 1-based rank of each distinct value
    return (mid[inv.reshape(-1)] - 0.5) / v.size


def quality_factors(labels: np.ndarray, k: int, score: np.ndarray) -> np.ndarray:
    """Per-cluster share multiplier min(1, 2·mean percentile rank of the cluster's scores)."""
    sums = np.bincount(labels, weights=percentile_rank(score), minlength=k)
    sizes = np.bincount(labels, minlength=k)
    return np.minimum(1.0, 2.0 * sums / np.maximum(sizes, 1))


def start_weights(
    labels: np.ndarray, k: int, score: np.ndarray | None, allocation: str, cluster_quality: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """(cluster weights before any feedback, the quality factors or None): the allocation's weights,
    scaled by `quality_factors` when `cluster_quality` is on and there is a score (kmq, iterative round 0)."""
    base = base_weights(np.bincount(labels, minlength=k), allocation)
    if not cluster_quality or score is None:
        return base, None
    factors = quality_factors(labels, k, score)
    return base * factors, factors


def within_keys(n: int, z: np.ndarray | None, within: str, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Sort keys for drawing inside clusters (larger first): Gumbel-perturbed z/T, z, or pure noise."""
    if within == "top":
        if z is None:
            raise ConfigError("within=top needs a score")
        return np.asarray(z, dtype=np.float64).copy()
    gumbel = rng.gumbel(size=n)
    if within == "random" or z is None or within == "balanced":
        return gumbel
    if within == "softmax":
        if temperature <= 0:
            return np.asarray(z, dtype=np.float64).copy()
        return np.asarray(z, dtype=np.float64) / temperature + gumbel
    raise ConfigError(f"within {within!r}: expected balanced, softmax, top or random")


def take_per_cluster(
    labels: np.ndarray, counts: np.ndarray, keys: np.ndarray, available: np.ndarray | None = None
) -> np.ndarray:
    """Positions of the `counts[c]` largest keys in each cluster c, ordered by cluster then key.

    Rows with ``available == False`` are never taken. Ties in key keep input order.
    """
    n = labels.shape[0]
    idx = np.arange(n, dtype=np.int64)
    if available is not None:
        idx = idx[available]
    if idx.size == 0:
        return idx
    lab = labels[idx]
    order = idx[np.lexsort((idx, -keys[idx], lab))]
    lab_sorted = labels[order]
    starts = np.searchsorted(lab_sorted, np.arange(counts.shape[0]), side="left")
    rank = np.arange(order.shape[0]) - starts[lab_sorted]
    return np.asarray(order[rank < counts[lab_sorted]], dtype=np.int64)


def effective_within(within: str, temperature: float, diversity_weight: float | None) -> tuple[str, float]:
    """The within-cluster rule after applying the diversity knob."""
    if diversity_weight is None:
        return within, temperature
    w = float(diversity_weight)
    if w <= 0:
        return "top", 0.0
    if w >= 1:
        return "random", float("inf")
    return "softmax", temperature * w / (1.0 - w)


def blended_weights(
    labels: np.ndarray, k: int, score: np.ndarray | None, budget: int, base: np.ndarray, w: float
) -> np.ndarray:
    """(1-w)·shares of the global top-`budget` rows by score + w·shares of `base`."""
    if score is None:
        raise ConfigError("diversity_weight needs a score")
    top = np.lexsort((np.arange(score.shape[0]), -score))[:budget]
    t = np.bincount(labels[top], minlength=k).astype(np.float64)
    t_share = t / max(t.sum(), 1.0)
    b_share = base / max(base.sum(), 1e-300)
    return (1.0 - w) * t_share + w * b_share  # type: ignore[no-any-return]


def kmq_arrays(
    labels: np.ndarray,
    score: np.ndarray | None,
    budget: int,
    *,
    allocation: str = "equal",
    within: str = "softmax",
    temperature: float = 1.0,
    diversity_weight: float | None = None,
    cluster_quality: bool = True,
    seed: int = 0,
    rng: np.random.Generator | None = None,
    bias: np.ndarray | None = None,
    available: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Array-level kMQ: positions picked (cluster order, best key first) and a log of counts and weights."""
    rng = rng if rng is not None else np.random.default_rng(seed)
    labels = np.asarray(labels, dtype=np.int64)
    k = int(labels.max()) + 1 if labels.size else 0
    sizes = np.bincount(labels, minlength=k)
    caps = sizes if available is None else np.bincount(labels[available], minlength=k)
    base, factors = start_weights(labels, k, score, allocation, cluster_quality)
    weights = base
    if diversity_weight is not None and diversity_weight < 1:
        weights = blended_weights(labels, k, score, budget, base, float(diversity_weight))
    counts = allocate(budget, weights, caps)
    mode, temp = effective_within(within, temperature, diversity_weight)
    z = None if score is None else standardise(score)
    keys = within_keys(labels.shape[0], z, mode, temp, rng)
    if bias is not None and mode == "balanced":
        keys = keys + bias
    picked = take_per_cluster(labels, counts, keys, available)
    log = {
        "k": k,
        "within": mode,
        "temperature": None if not np.isfinite(temp) else round(float(temp), 6),
        "cluster_sizes": sizes.tolist(),
        "cluster_quality": None if factors is None else [round(float(x), 6) for x in factors],
        "cluster_weights": [round(float(x), 6) for x in weights / max(weights.sum(), 1e-300)],
        "cluster_counts": counts.tolist(),
    }
    return picked, log


def junk_regions(
    pool: Pool, labels: np.ndarray, budget: int, allowed: np.ndarray | None, share: float
) -> tuple[np.ndarray | None, int]:
    """(rows allowed, clusters held back): a cluster where at least `share` of the rows are flagged as junk
    (`robust.region_share`) is a junk region, and none of its rows is taken while the rest can fill the budget.

    This holds even when the row gate has opened itself (the scorer flags too much of the pool for its
    threshold to fit): a tight cluster of garbage is flagged almost whole (0.82-0.86 of the planted garbage
    clusters), a real class the scorer dislikes only in part (SMS spam clusters: 0.41-0.58).
    """
    frac = region_share(pool, labels) if share <= 1 else None
    if frac is None:
        return allowed, 0
    region = frac >= share
    if not region.any():
        return allowed, 0
    out = (np.ones(pool.n, dtype=bool) if allowed is None else allowed) & ~region[labels]
    if int(out.sum()) < budget:
        return allowed, 0
    return out, int(region.sum())


def gated_rows(
    pool: Pool, cfg: SelectConfig, budget: int, labels: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, Any], Held]:
    """`robust.within_bias` (key bias, rows allowed, log) plus the junk regions when the junk gate is on, and
    why each row not allowed was held back (`held.held_reasons`)."""
    bias, available, info = within_bias(pool, cfg, budget, labels)
    row_gate = None if available is None else ~available
    if cfg.junk_gate:
        available, regions = junk_regions(pool, labels, budget, available, cfg.junk_region)
        if regions:
            info["junk_regions"] = regions
    return bias, available, info, held_reasons(pool, row_gate, None if available is None else ~available, labels)


def kmq(pool: Pool, budget: int, cfg: SelectConfig, rng: np.random.Generator) -> Picks:
    """kMQ over a pool; `cfg` is a SelectConfig (allocation, within, temperature, diversity_weight)."""
    score = pool.score
    if (
        score is None
        and (cfg.within not in ("random", "balanced") or cfg.diversity_weight is not None)
        and cfg.diversity_weight != 1
    ):
        pool.require_score("kmq")
    labels = pool.labels()
    bias, available, info, held = gated_rows(pool, cfg, budget, labels)
    picked, log = kmq_arrays(
        labels,
        score,
        budget,
        allocation=cfg.allocation,
        within=cfg.within,
        temperature=cfg.temperature,
        diversity_weight=cfg.diversity_weight,
        cluster_quality=cfg.cluster_quality,
        rng=rng,
        bias=bias,
        available=available,
    )
    log.update(info)
    reasons = [f"kmq cluster={int(labels[p])}" + ("" if score is None else f" score={score[p]:.4g}") for p in picked]
    return Picks(picked, np.zeros(picked.shape[0], dtype=np.int64), reasons, {"rounds": [log]}, held)
