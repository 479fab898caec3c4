"""The default `heuristic` quality scorer: model-free signals made for instruction/response pairs.

Every signal maps a row to a score in [0, 1] (1 = no problem found) and a dict of measurements (shown by
`--explain`). Combination into `qdc_quality`:

    gate    = product of the defect signals (empty, truncation, refusal, repetition, echo, soup, placeholder)
    quality = gate * (BASE + (1 - BASE) * length)          BASE = 0.4

The defect signals act as gates: one clear defect sends a row to the bottom whatever its length. The
length fit grades the rest, relative to what the instruction asks for, so a short correct answer to a short
question keeps a high score and a long answer earns nothing beyond the task's scale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from qdc.quality import echo, empty, length, placeholder, refusal, repetition, soup, truncation
from qdc.quality._row import RowText

Measure = Callable[[RowText], tuple[float, dict[str, object]]]

GATES: dict[str, Measure] = {
    "empty": empty.measure,
    "truncation": truncation.measure,
    "refusal": refusal.measure,
    "repetition": repetition.measure,
    "echo": echo.measure,
    "soup": soup.measure,
    "placeholder": placeholder.measure,
}
GRADED: dict[str, Measure] = {"length": length.measure}
SIGNALS: tuple[str, ...] = (*GATES, *GRADED)
BASE = 0.4


def combine(scores: Mapping[str, Any]) -> Any:
    """qdc_quality from the signal scores present in `scores` (absent signals count as 1): floats for one row,
    or arrays for many (the junk gate rebuilds the product from the scorer's columns with it)."""
    gate: Any = 1.0
    for name in GATES:
        gate *= scores.get(name, 1.0)
    fit = scores.get("length", 1.0)
    return gate * (BASE + (1.0 - BASE) * fit)


def score_rows(
    prompts: Sequence[str], responses: Sequence[str], signals: Sequence[str] = SIGNALS
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(qdc_quality, {signal: scores}) for parallel lists of prompts and responses."""
    fns = {name: {**GATES, **GRADED}[name] for name in signals}
    n = len(responses)
    cols = {name: np.ones(n, dtype=np.float64) for name in fns}
    quality = np.empty(n, dtype=np.float64)
    for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        row = RowText(p or "", r or "")
        scores = {}
        for name, fn in fns.items():
            s = fn(row)[0]
            scores[name] = s
            cols[name][i] = s
            if name == "empty" and s == 0.0:
                break  # nothing else to learn about an empty response
        quality[i] = combine(scores) if scores.get("empty", 1.0) > 0 else 0.0
    return np.clip(quality, 0.0, 1.0), cols


def explain_row(prompt: str, response: str, signals: Sequence[str] = SIGNALS) -> dict[str, object]:
    """Every signal's score and measurements for one row, plus the combined quality."""
    row = RowText(prompt or "", response or "")
    out: dict[str, object] = {}
    scores: dict[str, float] = {}
    for name in signals:
        s, details = {**GATES, **GRADED}[name](row)
        scores[name] = s
        out[name] = {"score": round(s, 4), **details}
    q = combine(scores) if scores.get("empty", 1.0) > 0 else 0.0
    return {"quality": round(q, 4), "signals": out}
