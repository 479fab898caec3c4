"""`qdc run` bookkeeping cost: a first run and a resume (every stage cached) on real data, with the work-dir
lock, the artifact hashes checked on resume and the output/ledger/manifest committed together.

    .venv/bin/python benchmarks/bench_pipeline.py [--quick] [--baseline DIR]

`--baseline DIR` runs the same measurement with the qdc package found in DIR (e.g. `git archive d9535f4 |
tar -x -C DIR`) in a subprocess, alternating with this tree, so both figures come from one session.
Writes benchmarks/results/pipeline.md and pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import RESULTS, ROOT, SHARED_DATA, machine

DATA = SHARED_DATA / "gpteacher" / "toolformer.jsonl"  # 7,673 real rows (GPTeacher Toolformer)
DOC = {
    "seed": 0,
    "embed": {"model": "hash:64", "cache": False},
    "stages": ["embed", {"dedup": {}}, {"score-complexity": {}}, {"cluster": {"k": 16}}],
}
CHILD = """
import json, shutil, sys, tempfile, time
from pathlib import Path
from qdc.pipeline import parse_pipeline, run_file
p = parse_pipeline(json.loads(sys.argv[1]))
tmp = Path(tempfile.mkdtemp())
t = time.perf_counter(); run_file(p, sys.argv[2], str(tmp / "o.jsonl"), workdir=tmp / "wd"); first = time.perf_counter() - t
t = time.perf_counter(); res = run_file(p, sys.argv[2], str(tmp / "o.jsonl"), workdir=tmp / "wd"); again = time.perf_counter() - t
assert all(s.status == "cached" for s in res.stages)
print(json.dumps({"first": first, "resume": again, "rows_out": res.df.height}))
shutil.rmtree(tmp)
"""


def _once(root: Path, rows: int | None) -> dict[str, float]:
    src = DATA
    if rows is not None:
        tmp = Path(tempfile.mkdtemp())
        src = tmp / "in.jsonl"
        src.write_text("".join(DATA.read_text(encoding="utf-8").splitlines(keepends=True)[:rows]), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(DOC), str(src)],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    if rows is not None:
        shutil.rmtree(src.parent)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 rows, 1 repeat")
    ap.add_argument("--baseline", type=Path, default=None, help="a checkout of another qdc to compare with")
    ap.add_argument("--baseline-name", default="baseline", help="its label in the table, e.g. the commit")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows, repeats = (1000, 1) if args.quick else (None, args.repeats)
    roots = {"this tree": ROOT} | ({args.baseline_name: args.baseline.resolve()} if args.baseline else {})
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in roots}
    t0 = time.perf_counter()
    for _ in range(repeats):  # alternate, so load on the shared machine hits both alike
        for name, root in roots.items():
            runs[name].append(_once(root, rows))
    table = {
        name: {
            "first_s": round(statistics.median(r["first"] for r in rs), 3),
            "resume_s": round(statistics.median(r["resume"] for r in rs), 3),
            "rows_out": int(rs[-1]["rows_out"]),
        }
        for name, rs in runs.items()
    }
    command = (
        "benchmarks/bench_pipeline.py"
        + (" --quick" if args.quick else "")
        + (f" --baseline {args.baseline} --baseline-name '{args.baseline_name}'" if args.baseline else "")
    )
    lines = [
        "## qdc run: first run and resume",
        "",
        f"{DATA.parent.name}/{DATA.name}, {'1,000' if rows else '7,673'} rows; stages embed (hash:64), dedup, "
        f"score-complexity, cluster (k 16); median of {repeats}; machine: {machine()}; `{command}`.",
        "",
        "| qdc | first run (s) | resume, all cached (s) | rows out |",
        "|---|---|---|---|",
        *[f"| {name} | {v['first_s']} | {v['resume_s']} | {v['rows_out']:,} |" for name, v in table.items()],
        "",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pipeline.md").write_text("\n".join(lines), encoding="utf-8")
    doc = {"table": table, "repeats": repeats, "rows": rows, "command": command, "machine": machine()}
    (RESULTS / "pipeline.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
