"""Moved to `qdc.io.write` (one writer for whole frames and batches); this name stays for imports."""

from __future__ import annotations

from qdc.io.write import JsonlSink, open_sink

__all__ = ["JsonlSink", "open_sink"]
