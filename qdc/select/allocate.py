"""Split an integer budget over buckets (clusters, groups, rounds) so the total lands exactly on it.

`allocate` is the water-filling of algorithms.md §1.3: each pass hands every active bucket its share of
what is left, floored and capped; when a bucket hits its cap the leftover is re-split among the others;
when nobody is capped the remaining units go to the largest fractional parts (ties: lower bucket id).
The result sums to exactly ``min(total, sum(caps over buckets with positive weight))``.
"""

from __future__ import annotations

import numpy as np

from qdc.errors import ConfigError


def allocate(total: int, weights: np.ndarray | list[float], caps: np.ndarray | list[int]) -> np.ndarray:
    """Integer counts per bucket: proportional to `weights`, each at most its cap, summing exactly.

    Buckets with weight 0 or cap 0 get nothing. Deterministic: ties go to the lower bucket id.
    """
    w = np.asarray(weights, dtype=np.float64)
    cap = np.asarray(caps, dtype=np.int64)
    if w.shape != cap.shape or w.ndim != 1:
        raise ConfigError("allocate: weights and caps must be 1-d arrays of the same length")
    if total < 0:
        raise ConfigError(f"allocate: negative total {total}")
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ConfigError("allocate: weights must be finite and non-negative")
    out = np.zeros(w.shape[0], dtype=np.int64)
    active = (w > 0) & (cap > 0)
    left = int(min(total, int(cap[active].sum())))
    while left > 0 and active.any():
        wa = np.where(active, w, 0.0)
        ideal = left * wa / wa.sum()
        room = cap - out
        floor = np.floor(ideal + 1e-9).astype(np.int64)
        give = np.minimum(floor, room)
        capped = active & (floor >= room)
        if capped.any():
            out += np.where(active, give, 0)
            left -= int(give[active].sum())
            active &= ~capped
            continue
        out += np.where(active, give, 0)
        left -= int(give[active].sum())
        if left <= 0:
            break
        frac = np.where(active, ideal - floor, -1.0)
        # Largest fractional part first; a stable sort on -frac keeps lower ids first among ties.
        order = np.argsort(-np.round(frac, 12), kind="stable")
        for b in order[:left]:
            if frac[b] < 0:
                break
            out[b] += 1
        left = 0
    return out


def equal_split(total: int, parts: int) -> list[int]:
    """`total` split into `parts` integers: floor(total/parts) each, the remainder on the last part."""
    if parts < 1:
        raise ConfigError("equal_split: parts must be at least 1")
    base = [total // parts] * parts
    base[-1] += total - sum(base)
    return base
