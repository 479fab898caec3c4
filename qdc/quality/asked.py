"""What the instruction asks for: the expected answer size, against which the response size is read.

The instruction's scale `lo` (words) comes from `qdc.quality.length.expected` (an explicit ask such as
"in 50 words", a short-answer task such as classification or a yes/no question, a request for brevity, an
open-ended task, or the default). A one-word answer is complete for "Is this review positive?" and junk
for "Write an essay": the learned scorer reads `log(words / lo)`, not words alone. Only the first
paragraph of the prompt is read (qdc joins instruction and input with a blank line): an article pasted
as input must not make "Which topic is this about?" an open-ended task.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qdc.quality.length import expected


def asked(prompts: Sequence[str], words: np.ndarray) -> dict[str, np.ndarray]:
    """`log_expected` (log lo) and `size_vs_asked` (log((words + 1) / (lo + 1))) per row."""
    cache: dict[str, float] = {}
    lo = np.empty(len(prompts), dtype=np.float64)
    for i, p in enumerate(prompts):
        p = p or ""
        if p not in cache:
            task = p.strip().split("\n\n", 1)[0]  # the instruction, not a pasted input after it
            cache[p] = expected(task)[0] if task else 15.0
        lo[i] = cache[p]
    return {"log_expected": np.log1p(lo), "size_vs_asked": np.log1p(words) - np.log1p(lo)}
