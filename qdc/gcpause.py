"""Pausing Python's cyclic garbage collector around work that makes many objects and no cycles.

A full collection walks every live object; on a batch of ~1M fresh rows or n-gram keys it cost 0.05-0.12 s
and found nothing, since reference counting frees them. Imports nothing of qdc's.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector paused, and left as it was afterwards; reference counting still frees."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
