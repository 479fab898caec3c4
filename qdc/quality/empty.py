"""Signal `empty`: the response is empty, whitespace, or has no letter or digit at all.

Threshold: any such response scores 0 (it can only hurt training); otherwise 1.
"""

from __future__ import annotations

from qdc.quality._row import RowText


def measure(row: RowText) -> tuple[float, dict[str, object]]:
    text = row.stripped
    if not text:
        return 0.0, {"reason": "empty or whitespace response"}
    if not any(ch.isalnum() for ch in text):
        return 0.0, {"reason": "no letters or digits"}
    return 1.0, {"chars": len(text)}
