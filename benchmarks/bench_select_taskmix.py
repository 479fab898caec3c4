"""A second, many-task instruction mix for `qdc select` (a check, never used to choose a default): 36 tasks.

Tasks: six large real sources (gsm8k, GPTeacher toolformer/codegen/roleplay, code_alpaca, the LLaMA-Factory
alpaca demo), the five source subsets of AlpacaEval's 300 instructions (one answer each, gpt-3.5-turbo-0301),
and the 25 most frequent apps of self-instruct's user-oriented instructions (`motivation_app`, 4-10 rows
each: small, scattered tasks). Planted: 10% junk (bench_select's six kinds, made from real rows) and
exact or case/whitespace copies. For each strategy (seeds 0-9) at B = 100 and 200: task coverage (share of
the 36 tasks with a clean pick), junk rate and duplicate pairs among the picks; random's are the reference.

Run: nice -n 10 .venv/bin/python benchmarks/bench_select_taskmix.py [--seeds 10] [--out PATH_WITHOUT_SUFFIX]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pickle
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import SHARED_DATA, machine, read_jsonl

BIG = [
    ("gsm8k", "gsm8k/train.jsonl", 500),
    ("toolformer", "gpteacher/toolformer.jsonl", 300),
    ("codegen", "gpteacher/codegen.jsonl", 200),
    ("roleplay", "gpteacher/roleplay.jsonl", 120),
    ("code_alpaca", "code_alpaca_2k/data.jsonl", 100),
    ("alpaca_demo", "llamafactory_demo/alpaca_en_demo.jsonl", 60),
]
APPS = 25
STRATEGIES: list[tuple[str, dict[str, Any]]] = [
    ("random", {"strategy": "random"}),
    ("defaults (facility)", {}),
    ("facility pure objective (tail_share 0; gate on)", {"facility": {"tail_share": 0.0}}),
    ("kmq", {"strategy": "kmq"}),
    ("iterative", {"strategy": "iterative"}),
    ("bandit", {"strategy": "bandit"}),
    ("kcenter", {"strategy": "kcenter"}),
]
CACHE = Path("/tmp/qdc-bench-cache/select/taskmix.pkl")


def _row(task: str, key: str, r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": key,
        "instruction": r.get("instruction") or "",
        "input": r.get("input") or "",
        "output": r.get("output") or "",
        "bench_task": task,
        "bench_kind": "clean",
        "bench_group": key,
    }


def build(seed: int = 0) -> pl.DataFrame:
    from benchmarks.bench_select import JUNK, make_junk

    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for task, rel, size in BIG:
        src = list(read_jsonl(SHARED_DATA / rel))
        for i in sorted(rng.choice(len(src), size=size, replace=False).tolist()):
            rows.append(_row(task, f"{task}-{i}", src[i]))
    for r in read_jsonl(SHARED_DATA / "alpaca_eval_judged/data.jsonl"):
        if r["generator"] == "gpt-3.5-turbo-0301":
            rows.append(_row(f"alpaca_eval:{r['source_subset']}", f"ae-{r['instruction_id']}", r))
    user = list(read_jsonl(SHARED_DATA / "self_instruct/user_oriented_instructions.jsonl"))
    apps = [a for a, _ in collections.Counter(r["motivation_app"] for r in user).most_common(APPS)]
    for r in user:
        if r["motivation_app"] in apps:
            rows.append(_row(f"app:{r['motivation_app']}", r["id"], r))
    clean = list(rows)
    per_junk = len(clean) // 9 // len(JUNK)  # 10% of the pool
    for kind in JUNK:
        for j in rng.choice(len(clean), size=per_junk, replace=False).tolist():
            r = make_junk(kind, clean[j], rng)
            rows.append(dict(r, id=f"junk-{kind}-{j}", bench_kind=f"junk:{kind}", bench_group=f"junk-{kind}-{j}"))
    for n, j in enumerate(rng.choice(len(clean), size=len(clean) // 20, replace=False).tolist()):
        r = dict(clean[j], id=f"dup-{n}", bench_kind="duplicate")
        if n % 3 == 2:
            r["instruction"] = "  " + r["instruction"].upper() + " "
        rows.append(r)
    return pl.DataFrame([rows[i] for i in rng.permutation(len(rows))])


def load() -> pl.DataFrame:
    """The mix, embedded (MiniLM, qdc's cache) and quality-scored; pickled under /tmp between runs."""
    from benchmarks.bench_select import embedded
    from qdc.quality import QualityConfig, score_quality

    if CACHE.exists():
        return pickle.loads(CACHE.read_bytes())  # type: ignore[no-any-return]
    df, _ = embedded(build())
    df = score_quality(df, QualityConfig())
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_bytes(pickle.dumps(df))
    return df


def metrics(df: pl.DataFrame, picked: list[str], tasks: list[str]) -> dict[str, float]:
    sub = df.filter(pl.col("id").is_in(picked))
    kinds = sub["bench_kind"].to_list()
    clean = sub.filter(~pl.col("bench_kind").str.starts_with("junk"))
    groups = sub["bench_group"].value_counts()["count"].to_list()
    return {
        "coverage": len(set(clean["bench_task"].to_list())) / len(tasks),
        "junk_rate": sum(k.startswith("junk") for k in kinds) / max(len(kinds), 1),
        "dup_pairs": float(sum(c * (c - 1) // 2 for c in groups)),
    }


def run(seeds: list[int], budgets: list[int]) -> dict[str, Any]:
    from qdc.select import SelectConfig, select

    df = load()
    tasks = sorted(set(df.filter(pl.col("bench_kind") == "clean")["bench_task"].to_list()))
    out: dict[str, Any] = {"rows": df.height, "tasks": len(tasks), "budgets": {}}
    out["composition"] = dict(df["bench_kind"].value_counts().sort("bench_kind").iter_rows())
    for b in budgets:
        table: dict[str, Any] = {}
        for label, kw in STRATEGIES:
            ms = []
            for s in seeds:
                res = select(df, SelectConfig(budget=b, seed=s, **kw))
                ms.append(metrics(df, res.selected["id"].to_list(), tasks))
            table[label] = {k: statistics.mean(m[k] for m in ms) for k in ms[0]}
            table[label]["coverage_min"] = min(m["coverage"] for m in ms)
            print(b, label, table[label], file=sys.stderr, flush=True)
        out["budgets"][str(b)] = table
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "## Selection on a 36-task instruction mix (`benchmarks/bench_select_taskmix.py`)",
        "",
        f"Machine: {res['machine']}. Date: {res['date']}. Command: `{res['command']}`. Code: {res['commit']}. "
        f"{res['rows']} rows, {res['tasks']} tasks (6 large sources, AlpacaEval's 5 subsets, 25 user-oriented "
        f"apps of 4-10 rows), composition {res['composition']}; seeds {res['seeds']}. A check on data no "
        "default was chosen on; coverage = share of the tasks with a clean pick (mean over seeds, worst seed "
        "in brackets).",
        "",
        "| B | strategy | task coverage | junk rate | duplicate pairs |",
        "|---|---|---|---|---|",
    ]
    for b, table in res["budgets"].items():
        for label, m in table.items():
            lines.append(
                f"| {b} | {label} | {m['coverage']:.3f} ({m['coverage_min']:.3f}) | {m['junk_rate']:.1%} | "
                f"{m['dup_pairs']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budgets", default="100,200")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "select_taskmix"))
    args = ap.parse_args()
    seeds = list(range(args.seeds))
    t0 = time.time()
    res = run(seeds, [int(b) for b in args.budgets.split(",")])
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    res.update(
        machine=machine(),
        date=time.strftime("%Y-%m-%d"),
        command="nice -n 10 .venv/bin/python benchmarks/bench_select_taskmix.py " + " ".join(sys.argv[1:]),
        commit=os.environ.get("QDC_BENCH_COMMIT") or git or "a clean export",  # a git archive has no .git
        seeds=seeds,
        seconds=time.time() - t0,
    )
    base = Path(args.out)
    base.with_suffix(".json").write_text(json.dumps(res, indent=1, default=float))
    base.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
