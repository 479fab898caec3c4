"""The defaults of `SelectConfig` as plain data: the one source that the config and the CLI both read.

Pydantic-free on purpose: `qdc.cli.select` reads these at import time, and every `qdc` command (`--help`
included) imports it, so importing pydantic here would cost each command ~0.13 s.
"""

from __future__ import annotations

from typing import Any

STRATEGIES = ("kmq", "iterative", "bandit", "facility", "random", "top", "deita", "kcenter")
STRATEGY_SUMMARIES = {
    "facility": "facility location on a kNN graph: cover the pool, optionally weighted by a score (default)",
    "kmq": "k-means clusters, a per-cluster budget, score-weighted draws inside each cluster",
    "iterative": "kmq in rounds; each round's feedback on selected rows reweights the clusters",
    "bandit": "clusters as bandit arms: score probes, spend at most bandit.max_scored scorer calls",
    "random": "a seeded random sample (baseline)",
    "top": "highest score first, ties by a seeded draw (baseline: quality only)",
    "deita": "highest score first, skipping rows too similar to one already taken",
    "kcenter": "farthest-first traversal: pure coverage (baseline)",
}
"""One line per strategy for `qdc strategies`; the full table (sources, deviations, figures) is docs/select.md."""

# Top-level options of SelectConfig that have a default.
TOP: dict[str, Any] = {
    "budget": None,
    "budget_tokens": None,
    "strategy": "facility",
    "seed": 0,
    "score": None,
    "weights": None,
    "min_quality": None,
    "dedup": "auto",
    "dedup_eps": 0.05,
    "cost_field": None,
    "group_field": None,
    "quota": "proportional",
    "k": None,
    "rows_per_cluster": None,
    "niter": 25,
    "allocation": "sqrt",
    "within": "balanced",
    "temperature": 0.2,
    "representative": 0.0,
    "score_weight": 0.25,
    "junk_gate": True,
    "junk_region": 0.75,
    "cluster_quality": False,
    "diversity_weight": None,
    "feedback": None,
    "gap": None,
    "scorer": None,
}

# Per-strategy sections (SelectConfig.iterative, .bandit, .deita, .facility).
SECTIONS: dict[str, dict[str, Any]] = {
    "iterative": {
        "rounds": 3,
        "cluster_temperature": 4.0,
        "explore": 0.1,
        "feedback_portion": 1.0,
        "effect_size": True,
    },
    "bandit": {
        "max_scored": None,
        "probe": 10,
        "block": None,
        "pulls_per_round": 50,
        "alpha": 1.0,
        "tau": None,
        "neighbour_radius": 0.0,
        "max_rounds": 200,
        "accept": "block",
        "backfill": True,
        "cluster_cap": 1.0,
        "tau_rule": "gate",
        "coverage": 0.5,
        "share": "sqrt",
    },
    "deita": {"ceiling": 0.9},
    "facility": {"neighbours": None, "quality_weight": 0.0, "epsilon": 0.0, "tail_share": 0.2, "local_scale": 0},
}


def default_of(name: str) -> Any:
    """The default of a flat option name (a top-level option first, then a section field)."""
    if name in TOP:
        return TOP[name]
    for section in SECTIONS.values():
        if name in section:
            return section[name]
    raise KeyError(name)
