"""Run manifests: what produced an output (versions, seeds, model, hashes) and what each stage did.

Also the per-stage resource meter (`StageMeter`): wall seconds and the peak resident memory of the process
while the stage ran, sampled by a background thread (psutil) because the OS only keeps a lifetime peak.
"""

from __future__ import annotations

import platform
import sys
import threading
import time
from datetime import datetime, timezone
from importlib import metadata
from types import TracebackType
from typing import Any

MANIFEST_VERSION = 1
_PACKAGES = (
    "polars",
    "numpy",
    "faiss-cpu",
    "datasketch",
    "rensa",
    "sentence-transformers",
    "torch",
    "model2vec",
    "scikit-learn",
    "pydantic",
)


def package_versions() -> dict[str, str | None]:
    """qdc's version and those of the libraries that shape its results (None: not installed)."""
    from qdc import __version__

    out: dict[str, str | None] = {"qdc": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _rss() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # psutil missing or the platform refuses: fall back to the lifetime peak
        import resource

        scale = 1 if sys.platform == "darwin" else 1024
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


class StageMeter:
    """Context manager measuring wall seconds and peak RSS (bytes) of the block."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.seconds = 0.0
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_rss = max(self.peak_rss, _rss())

    def __enter__(self) -> StageMeter:
        self.peak_rss = _rss()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._sample, name="qdc-meter", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.seconds = time.perf_counter() - self._t0
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_rss = max(self.peak_rss, _rss())


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_manifest(
    *,
    config_path: str,
    config: dict[str, Any],
    config_hash: str,
    overrides: list[str],
    input_path: str,
    input_hash: str,
    output_path: str,
    seed: int,
    model: dict[str, Any],
    stages: list[dict[str, Any]],
    rows_in: int,
    rows_out: int,
    removed: int,
    ledger: str | None,
    workdir: str | None,
    started: str,
    seconds: float,
    peak_rss: int,
) -> dict[str, Any]:
    """The manifest document (JSON-able); see docs/pipeline.md for every key."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "started": started,
        "finished": utc_now(),
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(peak_rss / 2**20, 1),
        "versions": package_versions(),
        "platform": {"system": platform.system(), "machine": platform.machine()},
        "config": {"path": config_path, "hash": config_hash, "overrides": overrides, "resolved": config},
        "input": {"path": input_path, "hash": input_hash, "rows": rows_in},
        "output": {"path": output_path, "rows": rows_out},
        "removed": {"rows": removed, "ledger": ledger},
        "seed": seed,
        "model": model,
        "workdir": workdir,
        "stages": stages,
    }
