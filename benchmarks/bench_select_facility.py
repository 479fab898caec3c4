"""`--strategy facility` at scale: wall time, CPU time and peak memory on N x 384 unit vectors (goal: 1M in
< 5 min, peak RSS < 3x the matrix). Each size runs in a fresh subprocess (`--child N`) so peak RSS is its own.

Data: 2,000 noisy centres in 384 dimensions (like clustered embeddings), float32 unit rows, budget = N/10,
neighbours = facility's default clamp(3n/B, 20, 200) = 30. Above 20,000 rows the graph is built inside
k-means cells (qdc.select.knn); `recall` is the share of 500 sampled rows' true 30 nearest neighbours it holds.
Run: nice -n 10 .venv/bin/python benchmarks/bench_select_facility.py --rows 1000000 [--rows 100000 ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def child(n: int, d: int = 384) -> dict[str, float]:
    """One measurement in this process: build the graph, run the greedy, report times and peak RSS."""
    from qdc.select.config import FacilityConfig
    from qdc.select.facility import default_neighbours, facility_arrays
    from qdc.select.knn import knn_graph, recall

    rng = np.random.default_rng(0)
    x = np.empty((n, d), dtype=np.float32)
    centres = rng.normal(size=(2000, d)).astype(np.float32)
    for lo in range(0, n, 10_000):
        hi = min(n, lo + 10_000)
        block = centres[rng.integers(2000, size=hi - lo)]
        x[lo:hi] = block + 0.5 * rng.standard_normal(size=(hi - lo, d), dtype=np.float32)
        x[lo:hi] /= np.linalg.norm(x[lo:hi], axis=1, keepdims=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    b = n // 10
    k = default_neighbours(n, b)
    c0, t0 = time.process_time(), time.perf_counter()
    graph = knn_graph(x, k)
    t1 = time.perf_counter()
    picks, log = facility_arrays(x, b, graph=graph, tail_share=FacilityConfig().tail_share)  # the default
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "rows": n,
        "budget": b,
        "neighbours": k,
        "graph_s": t1 - t0,
        "greedy_s": t2 - t1,
        "total_s": t2 - t0,
        "cpu_s": time.process_time() - c0,
        "matrix_bytes": x.nbytes,
        "rss_before": before,
        "peak_rss": peak,
        "peak_over_matrix": peak / x.nbytes,
        "picked": int(picks.size),
        "unique": int(np.unique(picks).size),
        "coverage": log["coverage"],
        "recall": recall(x, graph[0], sample=500),  # after the timings: exact search of 500 rows
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rows", type=int, action="append", default=[])
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    runs = []
    for n in args.rows or [100_000]:
        out = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr[-2000:])
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(runs[-1]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
