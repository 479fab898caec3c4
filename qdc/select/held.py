"""Why the junk gate held a row back: the ledger's reason and the manifest's count for each such row.

Nothing is lost silently: a row the gate kept out of the selection says which part of the gate did it (the
score's threshold, a defect signal with its value, a fragment, an outscored answer, a junk region), not
"not selected". Only rows the gate held back in the run that produced the selection are named.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from qdc import schema
from qdc.quality import JUNK_THRESHOLD, REASON
from qdc.select.pool import Pool
from qdc.select.robust import pool_junk_parts, region_share, threshold_open

GATE_REASON = "held back by the junk gate"

Held = dict[int, tuple[str, str]]
"""Pool position -> (kind, detail): the kind is what the manifest counts by (`threshold`, `signal:<name>`,
`fragment`, `outscored`, `junk_region`), the detail what the ledger says."""


def ledger_reason(detail: str) -> str:
    """The ledger's reason for a held-back row."""
    return f"{GATE_REASON} ({detail})"


def held_reasons(
    pool: Pool, row_gate: np.ndarray | None, held: np.ndarray | None, labels: np.ndarray | None = None
) -> Held:
    """(kind, detail) of every row in `held` (None: the gate held nothing back). A row of `row_gate` (what
    `robust.gate` returned) is held by the score's threshold when it is below it and the threshold part did
    not open (`threshold` kind; the scorer's qdc_q_reason is added when it wrote one), else by the part
    `robust.junk_parts` names; any other held row is in a junk region (`kmq.junk_regions`, `labels`)."""
    if held is None or not held.any():
        return {}
    parts = pool_junk_parts(pool)
    frame = pool.frame
    q = frame[schema.QUALITY].cast(pl.Float64).to_numpy() if schema.QUALITY in frame.columns else None
    why = frame[REASON].cast(pl.Utf8).to_list() if REASON in frame.columns else None
    opened = parts is None or threshold_open(parts.below)
    share = region_share(pool, labels) if labels is not None else None
    out: Held = {}
    for p in np.flatnonzero(held).tolist():
        kind, detail = parts.kind[p] if parts else None, parts.detail[p] if parts else None
        if row_gate is not None and row_gate[p] and parts is not None and parts.below[p] and not opened:
            assert q is not None
            extra = f": {why[p]}" if why is not None and why[p] else ""
            kind, detail = "threshold", f"qdc_quality {q[p]:.4g} < {JUNK_THRESHOLD:g}{extra}"
        elif row_gate is None or not row_gate[p] or kind is None or detail is None:
            c = int(labels[p]) if labels is not None else -1
            got = f": {share[c]:.0%} of its rows flagged" if share is not None else ""
            kind, detail = "junk_region", f"a junk region, cluster {c}{got}"
        out[p] = (kind, detail)
    return out


def count_kinds(held: Held, positions: list[int]) -> dict[str, int]:
    """Rows per kind among `positions` (sorted by kind)."""
    counts: dict[str, int] = {}
    for p in positions:
        kind = held[p][0]
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))
