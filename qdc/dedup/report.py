"""What a dedup run found, for `--dry-run`, `--json` and the pipeline summary: group sizes, the largest
groups with example texts, and the memory a run needs."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

SIZE_BUCKETS = ((2, 2), (3, 3), (4, 4), (5, 9), (10, 99), (100, None))

CHAIN_SHARE = 0.10  # above this share of MinHash removals below the threshold, a notice points at the chain rule


def _bucket_name(lo: int, hi: int | None) -> str:
    if hi is None:
        return f"{lo}+"
    return str(lo) if lo == hi else f"{lo}-{hi}"


def group_size_histogram(final: np.ndarray, removed: np.ndarray) -> dict[str, int]:
    """Number of duplicate groups by size (the surviving row plus every row that points at it)."""
    if not removed.any():
        return {_bucket_name(lo, hi): 0 for lo, hi in SIZE_BUCKETS}
    counts = np.bincount(final[removed]) + 1
    sizes = counts[counts >= 2]
    out = {}
    for lo, hi in SIZE_BUCKETS:
        sel = sizes >= lo if hi is None else (sizes >= lo) & (sizes <= hi)
        out[_bucket_name(lo, hi)] = int(sel.sum())
    return out


def _snippet(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def largest_groups(
    final: np.ndarray,
    removed: np.ndarray,
    ids: list[str],
    texts: pl.Series,
    methods: list[str],
    sims: np.ndarray,
    is_ref: np.ndarray,
    top: int = 5,
    examples: int = 3,
    width: int = 100,
) -> list[dict[str, Any]]:
    """The `top` largest groups (ties: the earliest survivor first) with a few removed examples each."""
    rows = np.flatnonzero(removed)
    if rows.size == 0 or top <= 0:
        return []
    counts = np.bincount(final[rows], minlength=final.shape[0])
    keepers = np.flatnonzero(counts)
    order = keepers[np.lexsort((keepers, -counts[keepers]))][:top]
    out = []
    for k in order.tolist():
        members = rows[final[rows] == k][:examples]
        out.append(
            {
                "size": int(counts[k]) + 1,
                "kept_id": ids[k],
                "kept_is_reference": bool(is_ref[k]),
                "kept_text": _snippet(texts[k], width),
                "examples": [
                    {
                        "id": ids[m],
                        "method": methods[m],
                        "similarity": round(float(sims[m]), 4),
                        "text": _snippet(texts[m], width),
                    }
                    for m in members.tolist()
                ],
            }
        )
    return out


def human_bytes(n: int) -> str:
    """1234567 -> '1.2 MiB' (`qdc.units.format_bytes`, binary units)."""
    from qdc.units import format_bytes

    return format_bytes(n)


def chain_figures(sims: np.ndarray, threshold: float) -> dict[str, Any]:
    """How many MinHash removals are below `threshold` to the row they lost to (`sims`: each removed row's
    similarity to its survivor), and the lowest similarity: rows joined to the survivor through a chain of
    pairs that each pass the threshold. A notice when they are over CHAIN_SHARE of the removals."""
    from qdc.progress import notice

    below = int(np.count_nonzero(sims < threshold - 1e-12))  # the verification's own tolerance
    low = round(float(sims.min()), 4) if sims.shape[0] else None
    if below > CHAIN_SHARE * sims.shape[0]:
        notice(
            f"minhash: {below} of {sims.shape[0]} removed rows ({100 * below / sims.shape[0]:.0f}%) are below "
            f"the threshold {threshold} to the row kept (lowest {low:.3f}): a group is a chain of pairs that each "
            "pass it (docs/dedup.md, MinHash groups); --removed lists them with qdc_dup_similarity"
        )
    return {"below_threshold": below, "min_similarity": low}
