"""Helpers shared by the benchmark scripts: machine description, timing, results files, shared data."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SHARED_DATA = ROOT.parent / "shared" / "data"


def machine() -> str:
    """One line: CPU model, cores, memory, Python, date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}, {_dt.date.today().isoformat()}"


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float]]:
    """Median wall time of `repeats` calls and every time."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def read_jsonl(path: Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                return
            if line.strip():
                yield json.loads(line)


def instruction_text(row: dict[str, Any]) -> str:
    """The text qdc analyses for an Alpaca-style row (non-empty parts joined by a blank line)."""
    parts = [row.get("instruction") or "", row.get("input") or "", row.get("output") or ""]
    return "\n\n".join(p for p in parts if p.strip())


def write_results(area: str, markdown: str, data: dict[str, Any]) -> None:
    """benchmarks/results/<area>.md and .json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{area}.md").write_text(markdown.rstrip() + "\n", encoding="utf-8")
    (RESULTS / f"{area}.json").write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
