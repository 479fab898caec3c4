"""`--strategy facility` at scale: wall time and peak memory on N x 384 unit vectors (goal: 1M in < 5 min,
peak RSS < 3x the matrix). Each size runs in a fresh subprocess so peak RSS is its own.

Data: 2,000 noisy centres in 384 dimensions (like clustered embeddings), float32 unit rows, budget = N/10.
Run: nice -n 10 .venv/bin/python benchmarks/bench_select_facility.py --rows 1000000 [--rows 100000 ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
import numpy as np
from qdc.select.facility import facility_arrays, knn_graph, default_neighbours
n, d = {n}, 384
rng = np.random.default_rng(0)
x = np.empty((n, d), dtype=np.float32)
centres = rng.normal(size=(2000, d)).astype(np.float32)
for lo in range(0, n, 10_000):
    hi = min(n, lo + 10_000)
    x[lo:hi] = centres[rng.integers(2000, size=hi - lo)] + 0.5 * rng.standard_normal(size=(hi - lo, d), dtype=np.float32)
    x[lo:hi] /= np.linalg.norm(x[lo:hi], axis=1, keepdims=True)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
b = n // 10
k = default_neighbours(n, b)
c0 = time.process_time()
t0 = time.perf_counter(); g = knn_graph(x, k); t1 = time.perf_counter()
picks, log = facility_arrays(x, b, graph=g); t2 = time.perf_counter()
cpu = time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"rows": n, "budget": b, "neighbours": k, "graph_s": t1 - t0, "greedy_s": t2 - t1,
    "total_s": t2 - t0, "cpu_s": cpu, "matrix_bytes": x.nbytes, "peak_rss": peak, "rss_before": base,
    "picked": int(picks.size), "unique": int(np.unique(picks).size), "coverage": log["coverage"]}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rows", type=int, action="append", default=[])
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    root = Path(__file__).resolve().parent.parent
    runs = []
    for n in args.rows or [100_000]:
        out = subprocess.run([sys.executable, "-c", CHILD.format(n=n)], capture_output=True, text=True, cwd=root)
        if out.returncode:
            raise SystemExit(out.stderr[-2000:])
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["peak_over_matrix"] = r["peak_rss"] / r["matrix_bytes"]
        runs.append(r)
        print(json.dumps(r), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
