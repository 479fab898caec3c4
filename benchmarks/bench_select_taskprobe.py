"""Task probe on the instruction mix (benchmarks/bench_select.py's section 4) with select's current strategies:
the mix of 8 real sources (imbalanced) with 10% planted junk and 150 copies; a logistic regression on the
picks' MiniLM embeddings predicts the source task of 200 held-out rows (balanced accuracy); 10 seeds, paired
against random. Writes benchmarks/results/select_taskprobe.json.

Run: nice -n 10 .venv/bin/python benchmarks/bench_select_taskprobe.py
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import benchmarks.bench_select as bs

bs.PROBE_STRATEGIES[:] = [
    ("random", {"strategy": "random"}),
    ("defaults (facility)", {}),
    ("kmq", {"strategy": "kmq"}),
    ("kmq, paper's settings", {"strategy": "kmq", "within": "softmax", "temperature": 0.2, "junk_gate": False}),
    ("iterative", {"strategy": "iterative"}),
    ("bandit", {"strategy": "bandit"}),
    ("kcenter", {"strategy": "kcenter"}),
]
t0 = time.time()
out = bs.task_probe_benchmark(1.0, [40, 100, 200], list(range(10)))
out["seconds"] = time.time() - t0
dest = Path(__file__).resolve().parent / "results" / "select_taskprobe.json"
dest.write_text(json.dumps(out, indent=1, default=float))
for b, table in out["budgets"].items():
    for name, m in table.items():
        print(
            b,
            f"{name:28s} cov {m['coverage']:.3f} ent {m['task_entropy']:.3f} junk {m['junk_rate']:.1%} acc {m['acc_mean']:.4f} diff {m['diff_mean']:+.4f} ± {m['diff_sd']:.4f}",
            flush=True,
        )
