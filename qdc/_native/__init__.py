"""qdc's optional compiled kernels (`hashing.c` and the other C files here), and whether they are in use.

`AVAILABLE` is True when the extension built and imports; callers then use `hashing` (the module) and
otherwise their numpy code, which gives the same arrays (tests/test_minhash_native.py checks both ways).
Setting the environment variable QDC_NO_NATIVE=1 forces the numpy path (for comparisons and tests).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

ABI = 2
"""The calling conventions this code expects of the build (hashing.c's QDC_NATIVE_ABI); a build of another
(an old .so left in a source tree after a pull) is not used: the numpy path runs until it is rebuilt."""

hashing: ModuleType | None
try:
    if os.environ.get("QDC_NO_NATIVE", "") not in ("", "0"):
        raise ImportError("QDC_NO_NATIVE is set")
    hashing = importlib.import_module("qdc._native._hashing")
    if getattr(hashing, "ABI", 1) != ABI:
        hashing = None
except ImportError:
    hashing = None

AVAILABLE = hashing is not None
"""True when the compiled kernels are in use."""
