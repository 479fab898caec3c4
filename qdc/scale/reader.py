"""Moved to `qdc.io.read` (one reader for files in memory and in batches); this name stays for imports."""

from __future__ import annotations

from qdc.io.read import DEFAULT_BATCH_ROWS, iter_batches, sample_lines

__all__ = ["DEFAULT_BATCH_ROWS", "iter_batches", "sample_lines"]
