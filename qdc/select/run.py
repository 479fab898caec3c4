"""Dispatch a strategy over the pool: per-group quotas, row or token budgets, seeds per run.

Groups: the budget is split over the groups of `group_field` with `allocate` (equal, proportional to the
eligible rows, or min:N first and the rest proportional), then the strategy runs inside each group with
its share. Each group is clustered on its own rows, with K sized for its share (or the `qdc_cluster`
column restricted to the group): clusters drawn for the whole pool would cut a small group into fragments,
and equal shares over fragments let odd rows (junk that happens to carry the group's value) in. Each group
gets its own seeded generator ``default_rng([seed, group_index])``; without groups it is
``default_rng(seed)``.

Token budgets: strategies that call no external scorer are rerun with a binary search for the largest row
count whose picks fit the token budget (deterministic: every trial uses the same seed). Strategies with
an external scorer run once with B = budget / mean row cost and the picks are trimmed in pick order, so
the scorer never sees a row that is then thrown away by a retry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from qdc.errors import ConfigError
from qdc.progress import notice
from qdc.select.allocate import allocate
from qdc.select.bandit import bandit
from qdc.select.config import SelectConfig
from qdc.select.deita import deita
from qdc.select.facility import facility
from qdc.select.iterative import iterative
from qdc.select.kcenter import kcenter
from qdc.select.kmq import kmq
from qdc.select.pool import FeedbackSource, Picks, Pool
from qdc.select.top import top
from qdc.select.uniform import uniform

Strategy = Callable[[Pool, int, SelectConfig, np.random.Generator], Picks]


def strategy_fn(cfg: SelectConfig, feedback: FeedbackSource | None) -> Strategy:
    simple: dict[str, Strategy] = {
        "kmq": kmq,
        "random": uniform,
        "top": top,
        "deita": deita,
        "kcenter": kcenter,
        "facility": facility,
    }
    if cfg.strategy in simple:
        return simple[cfg.strategy]
    assert feedback is not None
    if cfg.strategy == "iterative":
        return lambda pool, b, c, rng: iterative(pool, b, c, rng, feedback)
    if cfg.strategy == "bandit":
        return lambda pool, b, c, rng: bandit(pool, b, c, rng, feedback)
    raise ConfigError(f"unknown strategy {cfg.strategy!r}")


def quota_counts(sizes: np.ndarray, total: int, quota: str) -> np.ndarray:
    """Per-group budget: equal, proportional to size, or min:N (N each first, the rest proportional)."""
    if quota == "equal":
        return allocate(total, np.ones(sizes.shape[0]), sizes)
    if quota == "proportional":
        return allocate(total, sizes.astype(np.float64), sizes)
    n_min = int(quota.split(":", 1)[1])
    floor = np.minimum(sizes, n_min)
    if floor.sum() >= total:
        return allocate(total, np.ones(sizes.shape[0]), floor)
    rest = allocate(total - int(floor.sum()), sizes.astype(np.float64), sizes - floor)
    return floor + rest  # type: ignore[no-any-return]


def _rows_run(fn: Strategy, pool: Pool, budget: int, cfg: SelectConfig, seed: Any) -> Picks:
    return fn(pool, min(budget, pool.n), cfg, np.random.default_rng(seed))


def _tokens_run(fn: Strategy, pool: Pool, tokens: int, cfg: SelectConfig, seed: Any, external: bool) -> Picks:
    """The picks of the largest row budget whose total cost fits `tokens`."""
    cost = pool.cost
    if pool.n == 0 or tokens <= 0:
        return Picks.empty()
    if external:
        est = int(min(pool.n, max(1, tokens // max(float(cost.mean()), 1.0))))
        picks = _rows_run(fn, pool, est, cfg, seed)
        keep = np.cumsum(cost[picks.order]) <= tokens
        stop = int(np.argmin(keep)) if not keep.all() else keep.size
        return picks.head(stop)
    # Upper bound: as many of the cheapest rows as fit.
    hi = int(np.searchsorted(np.cumsum(np.sort(cost)), tokens, side="right"))
    lo = 0
    best = Picks.empty()
    cache: dict[int, Picks] = {}

    def trial(b: int) -> Picks:
        if b not in cache:
            cache[b] = _rows_run(fn, pool, b, cfg, seed)
        return cache[b]

    while lo < hi:
        mid = (lo + hi + 1) // 2
        if int(cost[trial(mid).order].sum()) <= tokens:
            lo = mid
        else:
            hi = mid - 1
    if lo > 0:
        best = trial(lo)
        if int(cost[best.order].sum()) > tokens:  # non-monotone corner: fall back to a prefix that fits
            keep = np.cumsum(cost[best.order]) <= tokens
            best = best.head(int(np.argmin(keep)) if not keep.all() else keep.size)
    return best


def group_ids(pool: Pool, field: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(sorted group names, each row's group index, group sizes); a null value is the group '<null>'."""
    if field not in pool.frame.columns:
        raise ConfigError(f"group_field {field!r}: no such column")
    values = ["<null>" if v is None else str(v) for v in pool.frame[field].to_list()]
    names = sorted(set(values))
    index = {g: i for i, g in enumerate(names)}
    gid = np.asarray([index[v] for v in values], dtype=np.int64)
    return names, gid, np.bincount(gid, minlength=len(names))


def group_shares(
    pool: Pool, cfg: SelectConfig, gid: np.ndarray, sizes: np.ndarray, budget_rows: int | None
) -> np.ndarray:
    """Each group's budget: rows by `quota_counts`, or tokens (proportional to the group's tokens, else equal)."""
    if budget_rows is not None:
        return quota_counts(sizes, budget_rows, cfg.quota)
    tok = np.bincount(gid, weights=pool.cost, minlength=sizes.shape[0]).astype(np.int64)
    if cfg.quota == "proportional":
        return allocate(int(cfg.budget_tokens or 0), tok.astype(np.float64), tok)
    if cfg.quota.startswith("min:"):
        notice("quota=min:N with budget_tokens splits the tokens equally over the groups")
    return quota_counts(tok, int(cfg.budget_tokens or 0), "equal")


def group_configs(cfg: SelectConfig, shares: np.ndarray) -> list[SelectConfig]:
    """The config each group runs with: bandit.max_scored is split over the groups like the budget."""
    if cfg.strategy != "bandit" or cfg.bandit.max_scored is None:
        return [cfg] * shares.shape[0]
    total = int(cfg.bandit.max_scored)
    split = allocate(total, np.maximum(shares, 1).astype(np.float64), np.full(shares.shape[0], total))
    return [
        cfg.model_copy(update={"bandit": cfg.bandit.model_copy(update={"max_scored": max(1, int(m))})}) for m in split
    ]


def run_groups(
    pool: Pool, cfg: SelectConfig, feedback: FeedbackSource | None, budget_rows: int | None
) -> tuple[Picks, dict[str, Any]]:
    """Run the strategy (per group when asked); picks are positions in `pool`."""
    fn = strategy_fn(cfg, feedback)
    external = feedback is not None and feedback.scorer is not None
    if (budget_rows is not None and budget_rows == 0) or pool.n == 0:
        return Picks.empty(), {}
    if budget_rows is None and float(pool.cost.min()) > (cfg.budget_tokens or 0):  # said, not an empty output
        cheapest = f"{pool.cost.min():g} tokens"
        notice(f"budget_tokens={cfg.budget_tokens}: no eligible row fits (the cheapest costs {cheapest})")
    if cfg.group_field is None:
        seed: Any = cfg.seed
        picks = (
            _rows_run(fn, pool, budget_rows, cfg, seed)
            if budget_rows is not None
            else _tokens_run(fn, pool, int(cfg.budget_tokens or 0), cfg, seed, external)
        )
        return picks, {"strategy_log": picks.log}
    names, gid, sizes = group_ids(pool, cfg.group_field)
    shares = group_shares(pool, cfg, gid, sizes, budget_rows)
    configs = group_configs(cfg, shares)
    orders: list[np.ndarray] = []
    rounds: list[np.ndarray] = []
    reasons: list[str] = []
    held: dict[int, tuple[str, str]] = {}
    groups: list[dict[str, Any]] = []
    for g, name in enumerate(names):
        members = np.flatnonzero(gid == g)
        share = int(shares[g])
        mean_cost = float(pool.cost[members].mean()) if members.size else 1.0
        sub = pool.subset(members, share if budget_rows is not None else int(share // max(mean_cost, 1.0)))
        if share == 0:
            picks = Picks.empty()
        elif budget_rows is not None:
            picks = _rows_run(fn, sub, share, configs[g], [cfg.seed, g])
        else:
            picks = _tokens_run(fn, sub, share, configs[g], [cfg.seed, g], external)
        orders.append(members[picks.order])
        rounds.append(picks.rounds)
        reasons.extend(f"{r} group={name}" for r in picks.reasons)
        held.update({int(members[p]): why for p, why in picks.held.items()})
        groups.append(
            {
                "group": name,
                "eligible": int(sizes[g]),
                "quota": share,
                "selected": int(picks.order.size),
                "k": sub.cluster_count(),
                "log": picks.log,
            }
        )
    merged = Picks(np.concatenate(orders).astype(np.int64), np.concatenate(rounds).astype(np.int64), reasons, held=held)
    unit = "rows" if budget_rows is not None else "tokens"
    return merged, {"groups": {"field": cfg.group_field, "quota": cfg.quota, "unit": unit, "per_group": groups}}
