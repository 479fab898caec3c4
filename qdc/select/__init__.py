"""The `select` stage: choose B rows that balance quality and diversity, with a reason for every row.

Strategies (one per module): `kmq` (default), `iterative`, `bandit`, `facility`, and the baselines
`random`, `top`, `deita`, `kcenter`. See docs/select.md for how each maps to its paper and what was adapted.

`select()` runs five named steps: exclusions (duplicates, the quality floor), pool (eligible rows, their
score, cost, lazily computed embeddings and clusters), strategy (per group when asked), assemble (the
selected and unselected frames and the ledger) and manifest.

Output order: selected rows keep their input order (stable and independent of the strategy's internal
pick order, which the manifest's per-round counts describe). Same input + config + seed = same bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qdc.select.defaults import STRATEGIES

if TYPE_CHECKING:
    from qdc.select.config import SelectConfig
    from qdc.select.core import SelectResult, ledger, select

__all__ = ["STRATEGIES", "SelectConfig", "SelectResult", "ledger", "select"]


def __getattr__(name: str) -> Any:
    """`SelectConfig`, `select`, `SelectResult` and `ledger` load on first use: the CLI reads the defaults
    (qdc.select.defaults) at import time, and `qdc --help` must not import pydantic, polars, faiss or the
    embedding stack."""
    if name == "SelectConfig":
        from qdc.select import config

        return config.SelectConfig
    if name in ("select", "SelectResult", "ledger"):
        from qdc.select import core

        return getattr(core, name)
    raise AttributeError(f"module 'qdc.select' has no attribute {name!r}")
