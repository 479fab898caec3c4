"""Task probe on the instruction mix (benchmarks/bench_select.py's section 4) with select's current strategies:
the mix of 8 real sources (imbalanced) with 10% planted junk and 150 copies; a logistic regression on the
picks' MiniLM embeddings predicts the source task of 200 held-out rows (balanced accuracy); 10 seeds, paired
against random. Writes benchmarks/results/select_taskprobe.json.

`--only LABEL,...` reruns some strategies (random always runs) and merges them into the existing JSON; it
refuses to merge when random's accuracies differ from the stored ones (then the stored rows would not be
paired with the new ones), and records which rows were rerun, when, on which commit.

Run: nice -n 10 .venv/bin/python benchmarks/bench_select_taskprobe.py [--only "defaults (facility),bandit"]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import benchmarks.bench_select as bs
from qdc.select.config import PAPER_KMQ

ALL = [
    ("random", {"strategy": "random"}),
    ("defaults (facility)", {}),
    ("facility pure objective (tail_share 0; gate off)", {"facility": {"tail_share": 0.0}, "junk_gate": False}),
    ("kmq", {"strategy": "kmq"}),
    ("kmq, paper's settings", {"strategy": "kmq", **PAPER_KMQ}),
    ("iterative", {"strategy": "iterative"}),
    ("bandit", {"strategy": "bandit"}),
    ("kcenter", {"strategy": "kcenter"}),
]
DEST = Path(__file__).resolve().parent / "results" / "select_taskprobe.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--only", default="", help="comma-separated labels to rerun and merge (random always runs)")
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s]
    bs.PROBE_STRATEGIES[:] = [(n, kw) for n, kw in ALL if not only or n == "random" or n in only]
    t0 = time.time()
    out = bs.task_probe_benchmark(1.0, [40, 100, 200], list(range(10)), apricot=not only)
    out["seconds"] = time.time() - t0
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    commit = os.environ.get("QDC_BENCH_COMMIT") or git  # a clean export (git archive) has no .git
    if only and DEST.exists():
        old = json.loads(DEST.read_text())
        for b, table in out["budgets"].items():
            if old["budgets"][b]["random"]["accs"] != table["random"]["accs"]:
                raise SystemExit(f"B={b}: random differs from the stored run; rerun everything (no --only)")
            old["budgets"][b].update({k: v for k, v in table.items() if k != "random"})
        old.setdefault("reruns", []).append({"labels": only, "date": time.strftime("%Y-%m-%d"), "commit": commit})
        out = old
    else:
        out["commit"] = commit
    DEST.write_text(json.dumps(out, indent=1, default=float))
    for b, table in out["budgets"].items():
        for name, m in table.items():
            print(
                b,
                f"{name:28s} cov {m['coverage']:.3f} ent {m['task_entropy']:.3f} junk {m['junk_rate']:.1%} "
                f"acc {m['acc_mean']:.4f} diff {m['diff_mean']:+.4f} ± {m['diff_sd']:.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
