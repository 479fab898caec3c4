"""Selection quality, downstream proxy, and kmq speed/memory (`qdc select`).

1. Instruction mix from ../shared/data: real sources are the ground-truth tasks (imbalanced sizes), plus
   planted junk (empty, truncated, refusal, repetitive, echo, token soup — made here from real rows) and
   duplicates (exact copies and case/whitespace variants). At one budget, every strategy and apricot's
   facility location: junk rate, duplicate pairs, task coverage and entropy, Vendi, mean quality.
2. Real redundancy: GPTeacher Toolformer as its authors published it (7,673 rows, exact copies removed,
   rewordings not): near-duplicate pairs among the picks with and without `--dedup semantic`, the share of
   picks the authors' own <0.9 similarity filter dropped, Vendi and mean quality.
3. Downstream proxy on binary labelled sets (SST-2, SMS Spam; `--proxy NAME=PATH` for others): the rarer
   class cut to 1:4, planted junk (random labels) and copies; select B rows, train a logistic regression on
   their MiniLM embeddings, test on held-out rows; mean and sd over seeds, the per-seed (paired) difference
   against random, and two oracle rows (random over the clean rows) that bound what cleaning can buy.
4. Task probe on the mix at several budgets: a logistic regression trained on the selected rows' embeddings
   to tell the 8 source tasks apart, tested on held-out rows (25 per task, none in the pool), scored by
   balanced accuracy; with task coverage and entropy of the selection at each budget. This is where the
   pool's imbalance lies along the embedding geometry, unlike SST-2's label imbalance.
5. kmq on N x 384 unit vectors (1,000,000 in the full run): wall time and peak RSS vs the matrix size,
   in a fresh subprocess.

Embeddings: the real all-MiniLM-L6-v2 (bundled), cached by qdc's embedding cache. Quality: qdc's heuristic
`score_quality`. Duplicates: qdc select's default on-the-fly dedup (qdc.dedup exact + MinHash).
"""

from __future__ import annotations

import argparse
import json
import math
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

SOURCES = [  # (task, file, rows in the full mix) — imbalanced on purpose
    ("gsm8k", "gsm8k/train.jsonl", 640),
    ("toolformer", "gpteacher/toolformer.jsonl", 420),
    ("codegen", "gpteacher/codegen.jsonl", 280),
    ("roleplay", "gpteacher/roleplay.jsonl", 150),
    ("code_alpaca", "code_alpaca_2k/data.jsonl", 110),
    ("alpaca_demo", "llamafactory_demo/alpaca_en_demo.jsonl", 70),
    ("self_instruct", "self_instruct/user_oriented_instructions.jsonl", 45),
    ("seed_tasks", "self_instruct/seed_tasks.jsonl", 25),
]
JUNK = ("empty", "truncated", "refusal", "repetitive", "echo", "soup")
REFUSALS = [
    "I'm sorry, but as an AI language model I cannot help with that request.",
    "As an AI language model, I am unable to provide that information.",
    "I apologize, but I can't assist with this.",
    "Sorry, I cannot comply with this request as it goes against my guidelines.",
]


def _soup(rng: np.random.Generator, n: int) -> str:
    chars = list("bcdfghjklmnpqrstvwxz#$%&*@!?~^")
    return " ".join("".join(rng.choice(chars, size=int(rng.integers(2, 9)))) for _ in range(n))


def make_junk(kind: str, row: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    out = dict(row)
    words = (row.get("output") or "").split()
    if kind == "empty":
        out["output"] = ""
    elif kind == "truncated":
        cut = max(3, len(words) // 3)
        out["output"] = " ".join(words[:cut])[:-2] if len(words) > 3 else (row.get("output") or "")[:5]
    elif kind == "refusal":
        out["output"] = REFUSALS[int(rng.integers(len(REFUSALS)))]
    elif kind == "repetitive":
        head = " ".join(words[:6]) or "the answer is"
        out["output"] = " ".join([head] * int(rng.integers(8, 15)))
    elif kind == "echo":
        out["output"] = row.get("instruction") or ""
    elif kind == "soup":
        out["output"] = _soup(rng, int(rng.integers(20, 60)))
    return out


def build_mix(scale: float, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for task, rel, size in SOURCES:
        src = list(read_jsonl(SHARED_DATA / rel))
        take = rng.choice(len(src), size=max(5, int(size * scale)), replace=False)
        for i in sorted(take.tolist()):
            r = src[i]
            rows.append(
                {
                    "id": f"{task}-{i}",
                    "instruction": r.get("instruction") or "",
                    "input": r.get("input") or "",
                    "output": r.get("output") or "",
                    "bench_task": task,
                    "bench_kind": "clean",
                    "bench_group": f"{task}-{i}",
                }
            )
    clean = list(rows)
    per_junk = max(4, int(35 * scale))
    for kind in JUNK:
        for j in rng.choice(len(clean), size=per_junk, replace=False).tolist():
            r = make_junk(kind, clean[j], rng)
            rows.append(dict(r, id=f"junk-{kind}-{j}", bench_kind=f"junk:{kind}", bench_group=f"junk-{kind}-{j}"))
    n_dup = max(6, int(150 * scale))
    for n, j in enumerate(rng.choice(len(clean), size=n_dup, replace=False).tolist()):
        r = dict(clean[j], id=f"dup-{n}", bench_kind="duplicate")
        if n % 3 == 2:  # a near copy: case and whitespace changed
            r["instruction"] = "  " + r["instruction"].upper() + " "
        rows.append(r)
    order = rng.permutation(len(rows))
    return pl.DataFrame([rows[i] for i in order])


def vendi(x: np.ndarray) -> float:
    """Vendi score (q=1, cosine kernel): the library's `qdc.measure.vendi_of` (rows normalised there)."""
    from qdc.measure import vendi_of

    return vendi_of(x)


def subset_metrics(df: pl.DataFrame, idx: np.ndarray, x: np.ndarray, tasks: list[str]) -> dict[str, float]:
    sub = df[idx]
    kinds = sub["bench_kind"].to_list()
    junk = sum(k.startswith("junk") for k in kinds) / max(len(kinds), 1)
    groups = sub["bench_group"].value_counts()
    dup_pairs = int(sum(c * (c - 1) // 2 for c in groups["count"].to_list()))
    clean = sub.filter(~pl.col("bench_kind").str.starts_with("junk"))
    counts = np.array([clean.filter(pl.col("bench_task") == t).height for t in tasks], dtype=np.float64)
    p = counts[counts > 0] / max(counts.sum(), 1)
    entropy = float(-(p * np.log(p)).sum() / math.log(len(tasks))) if p.size else 0.0
    return {
        "junk_rate": junk,
        "dup_pairs": dup_pairs,
        "dup_rate": dup_pairs / max(len(kinds), 1),
        "coverage": float((counts > 0).mean()),
        "task_entropy": entropy,
        "vendi": vendi(x[idx]),
        "mean_quality": float(sub["qdc_quality"].mean() or 0.0),
    }  # type: ignore[arg-type]


def apricot_fl(x: np.ndarray, budget: int, seed: int) -> np.ndarray:
    from apricot import FacilityLocationSelection

    sel = FacilityLocationSelection(budget, metric="cosine", optimizer="lazy", random_state=seed, verbose=False)
    sel.fit(x.astype(np.float64))
    return np.asarray(sel.ranking[:budget], dtype=np.int64)


STRATEGIES: list[tuple[str, dict[str, Any]]] = [
    ("random", {"strategy": "random"}),
    ("top", {"strategy": "top"}),
    ("deita", {"strategy": "deita"}),
    ("kcenter", {"strategy": "kcenter"}),
    ("kmq", {"strategy": "kmq"}),
    ("kmq, the paper's plain split (--no-cluster-quality)", {"strategy": "kmq", "cluster_quality": False}),
    ("kmq proportional", {"strategy": "kmq", "allocation": "proportional"}),
    ("kmq + min-quality 0.3 (the presets)", {"strategy": "kmq", "min_quality": 0.3}),
    ("kmq + min-quality 0.5", {"strategy": "kmq", "min_quality": 0.5}),
    ("iterative", {"strategy": "iterative"}),
    ("bandit (max-scored 0.2B)", {"strategy": "bandit"}),
]


def run_selection(
    df: pl.DataFrame,
    x: np.ndarray,
    budget: int,
    seeds: list[int],
    strategies: list[tuple[str, dict[str, Any]]],
    tasks: list[str] | None,
    apricot: bool = True,
) -> dict[str, Any]:
    from qdc.select import SelectConfig, select

    idx_of = {rid: i for i, rid in enumerate(df["id"].to_list())}
    out: dict[str, Any] = {}
    for name, kw in [*strategies, *([("apricot facility location", {})] if apricot else [])]:
        runs = []
        for seed in seeds:
            t0 = time.perf_counter()
            if name.startswith("apricot"):
                idx = apricot_fl(x, budget, seed)
                calls = 0
            else:
                res = select(df, SelectConfig(budget=budget, seed=seed, **kw))
                idx = np.asarray([idx_of[r] for r in res.selected["id"].to_list()], dtype=np.int64)
                calls = res.manifest["scorer_calls"]
            runs.append({"idx": idx, "seconds": time.perf_counter() - t0, "scorer_calls": calls})
        out[name] = runs
    return out


def embedded(rows: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """Rows prepared and embedded with the bundled MiniLM (cached), and their embedding matrix."""
    from qdc.embed import EmbedConfig, embed
    from qdc.io import IOConfig, prepare

    df = embed(prepare(rows, IOConfig()), EmbedConfig(model="default", cache=True))
    return df, np.asarray(df["qdc_embedding"].to_list(), dtype=np.float32)


def load_mix(scale: float) -> tuple[pl.DataFrame, np.ndarray, float]:
    """The mix, embedded and quality-scored, its embeddings, and the embedding seconds."""
    from qdc.quality import QualityConfig, score_quality

    t0 = time.perf_counter()
    df, x = embedded(build_mix(scale))
    return score_quality(df, QualityConfig()), x, time.perf_counter() - t0


def mix_benchmark(scale: float, budget: int, seeds: list[int]) -> dict[str, Any]:
    df, x, embed_s = load_mix(scale)
    tasks = [t for t, _, _ in SOURCES]
    runs = run_selection(df, x, budget, seeds, STRATEGIES, tasks)
    table: dict[str, Any] = {}
    for name, rs in runs.items():
        ms = [subset_metrics(df, r["idx"], x, tasks) for r in rs]
        table[name] = {k: statistics.mean(m[k] for m in ms) for k in ms[0]}
        table[name]["seconds"] = statistics.median(r["seconds"] for r in rs)
        table[name]["scorer_calls"] = statistics.mean(r["scorer_calls"] for r in rs)
    pool = subset_metrics(df, np.arange(df.height), x, tasks)
    kinds = df["bench_kind"].value_counts().sort("bench_kind")
    return {
        "rows": df.height,
        "budget": budget,
        "seeds": seeds,
        "embed_seconds": embed_s,
        "composition": dict(kinds.iter_rows()),
        "pool": pool,
        "table": table,
    }


PROBE_STRATEGIES: list[tuple[str, dict[str, Any]]] = [
    ("random", {"strategy": "random"}),
    ("kmq", {"strategy": "kmq"}),
    ("kmq, the paper's plain split", {"strategy": "kmq", "cluster_quality": False}),
    ("kmq + min-quality 0.3", {"strategy": "kmq", "min_quality": 0.3}),
    ("iterative", {"strategy": "iterative"}),
    ("top", {"strategy": "top"}),
    ("deita", {"strategy": "deita"}),
    ("kcenter", {"strategy": "kcenter"}),
]


def held_out_tasks(used: set[str], per_task: int, seed: int = 7) -> pl.DataFrame:
    """`per_task` rows of every source that are not in the pool (a balanced test set)."""
    rng = np.random.default_rng(seed)
    rows = []
    for task, rel, _ in SOURCES:
        src = list(read_jsonl(SHARED_DATA / rel))
        free = [i for i in range(len(src)) if f"{task}-{i}" not in used]
        for i in sorted(rng.choice(free, size=min(per_task, len(free)), replace=False).tolist()):
            r = src[i]
            rows.append(
                {
                    "id": f"test-{task}-{i}",
                    "instruction": r.get("instruction") or "",
                    "input": r.get("input") or "",
                    "output": r.get("output") or "",
                    "bench_task": task,
                }
            )
    return pl.DataFrame(rows)


def paired(accs: list[float], base: list[float]) -> tuple[float, float]:
    """Mean and sd of the per-seed differences against the baseline run with the same seed."""
    d = [a - b for a, b in zip(accs, base, strict=True)]
    return statistics.mean(d), statistics.pstdev(d)


REDUNDANCY: list[tuple[str, dict[str, Any]]] = [
    ("random", {"strategy": "random"}),
    ("random --dedup semantic", {"strategy": "random", "dedup": "semantic"}),
    ("kmq", {"strategy": "kmq"}),
    ("kmq --dedup semantic", {"strategy": "kmq", "dedup": "semantic"}),
    ("kmq --dedup semantic --dedup-eps 0.1", {"strategy": "kmq", "dedup": "semantic", "dedup_eps": 0.1}),
    ("deita", {"strategy": "deita"}),
    ("kcenter", {"strategy": "kcenter"}),
]


def redundancy_benchmark(limit: int | None, budget: int, seeds: list[int]) -> dict[str, Any]:
    """Real synthetic redundancy: GPTeacher Toolformer as published (exact copies removed by its authors,
    rewordings not). Near-duplicate pairs among the picks, the share of picks the authors' own <0.9
    similarity filter dropped (their metric is undocumented: a weak outside reference), Vendi, quality."""
    from qdc.quality import QualityConfig, score_quality
    from qdc.select import SelectConfig, select

    src = SHARED_DATA / "gpteacher_toolformer_dedup" / "data.jsonl"
    rows = [
        {
            "id": f"tf-{i}",
            "instruction": r.get("instruction") or "",
            "input": r.get("input") or "",
            "output": r.get("output") or "",
            "bench_dropped_09": not r["kept_sim_lt_0.9"],
        }
        for i, r in enumerate(read_jsonl(src, limit))
    ]
    t0 = time.perf_counter()
    df, x = embedded(pl.DataFrame(rows))
    embed_s = time.perf_counter() - t0
    df = score_quality(df, QualityConfig())
    dropped = df["bench_dropped_09"].to_numpy()
    quality = df["qdc_quality"].to_numpy()
    idx_of = {rid: i for i, rid in enumerate(df["id"].to_list())}
    table: dict[str, Any] = {}
    for name, kw in REDUNDANCY:
        runs = []
        for seed in seeds:
            res = select(df, SelectConfig(budget=budget, seed=seed, **kw))
            idx = np.asarray([idx_of[r] for r in res.selected["id"].to_list()], dtype=np.int64)
            sims = (x[idx] @ x[idx].T)[np.triu_indices(idx.size, 1)]
            runs.append(
                {
                    "pairs_095": int((sims > 0.95).sum()),
                    "pairs_090": int((sims > 0.9).sum()),
                    "authors_dropped": float(dropped[idx].mean()),
                    "vendi": vendi(x[idx]),
                    "mean_quality": float(quality[idx].mean()),
                    "duplicates_excluded": int(res.manifest["excluded"]["duplicate"]),
                }
            )
        table[name] = {k: statistics.mean(r[k] for r in runs) for k in runs[0]}
    return {
        "rows": df.height,
        "source": shown_path(src),
        "budget": budget,
        "seeds": seeds,
        "embed_seconds": embed_s,
        "pool_authors_dropped": float(dropped.mean()),
        "table": table,
    }


def task_probe_benchmark(scale: float, budgets: list[int], seeds: list[int], apricot: bool = True) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    df, x, _ = load_mix(scale)
    test, xt = embedded(held_out_tasks(set(df["id"].to_list()), 25))
    yt = np.asarray(test["bench_task"].to_list())
    y = np.asarray(df["bench_task"].to_list())
    tasks = [t for t, _, _ in SOURCES]
    out: dict[str, Any] = {"rows": df.height, "test_rows": test.height, "seeds": seeds, "budgets": {}}
    for budget in budgets:
        runs = run_selection(df, x, budget, seeds, PROBE_STRATEGIES, tasks, apricot)
        table: dict[str, Any] = {}
        for name, rs in runs.items():
            accs = []
            for r in rs:
                clf = LogisticRegression(max_iter=2000, C=10.0).fit(x[r["idx"]], y[r["idx"]])
                accs.append(float(balanced_accuracy_score(yt, clf.predict(xt))))
            ms = [subset_metrics(df, r["idx"], x, tasks) for r in rs]
            table[name] = {
                "acc_mean": statistics.mean(accs),
                "acc_sd": statistics.pstdev(accs),
                "accs": accs,
                **{k: statistics.mean(m[k] for m in ms) for k in ("coverage", "task_entropy", "junk_rate")},
            }
        for m in table.values():
            m["diff_mean"], m["diff_sd"] = paired(m["accs"], table["random"]["accs"])
        out["budgets"][str(budget)] = table
    return out


def proxy_split(
    source: Path, test_per_class: int = 300, seed: int = 11
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train pool, test rows) of a binary labelled set: `train.jsonl` + `test.jsonl` in a folder, or one
    JSONL file from which `test_per_class` rows of each class are held out (seeded)."""
    if source.is_dir():
        return list(read_jsonl(source / "train.jsonl")), list(read_jsonl(source / "test.jsonl"))
    rows = list(read_jsonl(source))
    rng = np.random.default_rng(seed)
    train: list[dict[str, Any]] = []
    test: list[dict[str, Any]] = []
    for label in sorted({int(r["label"]) for r in rows}):
        cls = [r for r in rows if int(r["label"]) == label]
        order = rng.permutation(len(cls)).tolist()
        n_test = min(test_per_class, len(cls) // 3)
        test += [cls[i] for i in order[:n_test]]
        train += [cls[i] for i in order[n_test:]]
    return train, test


def proxy_pool(
    train: list[dict[str, Any]], n_major: int, n_minor: int, n_junk: int, seed: int = 1, ratio: int = 4
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Planted pool: the rarer class cut to 1:`ratio` against the other, junk with random labels (made from
    real rows), and exact copies; sizes shrink (keeping the ratio) when the source is smaller."""
    rng = np.random.default_rng(seed)
    by = {lab: [r for r in train if int(r["label"]) == lab] for lab in sorted({int(r["label"]) for r in train})}
    if len(by) != 2:
        raise SystemExit(f"the downstream proxy needs exactly two labels, got {sorted(by)}")
    minor, major = sorted(by, key=lambda lab: (len(by[lab]), lab))
    n_minor = min(n_minor, len(by[minor]), len(by[major]) // ratio)
    n_major = min(n_major, ratio * n_minor)
    rows = [dict(by[major][i], bench_kind="clean") for i in rng.choice(len(by[major]), n_major, replace=False)] + [
        dict(by[minor][i], bench_kind="clean") for i in rng.choice(len(by[minor]), n_minor, replace=False)
    ]
    n_clean = len(rows)
    for j in range(n_junk):  # junk with random labels, made from real sentences
        r = rows[int(rng.integers(n_clean))]
        kind = ("empty", "soup", "repetitive", "refusal", "truncated")[j % 5]
        words = r["text"].split()
        text = {
            "empty": " ",
            "soup": _soup(rng, 15),
            "repetitive": " ".join([" ".join(words[:3])] * 10),
            "refusal": REFUSALS[j % len(REFUSALS)],
            "truncated": " ".join(words[:2]),
        }[kind]
        rows.append(
            {"id": f"junk-{j}", "text": text, "label": int(rng.choice([minor, major])), "bench_kind": f"junk:{kind}"}
        )
    for j in range(n_junk // 2):  # duplicates
        r = rows[int(rng.integers(n_clean))]
        rows.append(dict(r, id=f"dup-{j}", bench_kind="duplicate"))
    order = rng.permutation(len(rows))
    keep = ("id", "text", "label", "bench_kind")
    frame = pl.DataFrame([{k: rows[i][k] for k in keep} for i in order])
    return frame, {
        "major_label": major,
        "minor_label": minor,
        "major": n_major,
        "minor": n_minor,
        "junk": n_junk,
        "duplicates": n_junk // 2,
    }


PROXIES = [("SST-2", str(SHARED_DATA / "sst2")), ("SMS Spam", str(SHARED_DATA / "sms_spam" / "data.jsonl"))]
# Curating a labelled set, a user can also give every class its share (--group-field label --quota equal);
# shown for random and kmq alike so the comparison stays like for like.
BALANCED: list[tuple[str, dict[str, Any]]] = [
    ("random, classes balanced", {"strategy": "random", "group_field": "label", "quota": "equal"}),
    ("kmq, classes balanced", {"strategy": "kmq", "group_field": "label", "quota": "equal"}),
    (
        "kmq + min-quality 0.3, classes balanced",
        {"strategy": "kmq", "min_quality": 0.3, "group_field": "label", "quota": "equal"},
    ),
    # Label agreement (score-quality --label-field): the one quality signal here that looks at the labels.
    (
        "kmq --score qdc_label_agreement, classes balanced",
        {"strategy": "kmq", "score": "qdc_label_agreement", "group_field": "label", "quota": "equal"},
    ),
    (
        "kmq --score 'qdc_quality * qdc_label_agreement', classes balanced",
        {"strategy": "kmq", "score": "qdc_quality * qdc_label_agreement", "group_field": "label", "quota": "equal"},
    ),
    (
        "kmq --score qdc_label_agreement --min-quality 0.1, classes balanced (configs/labelled.yaml)",
        {
            "strategy": "kmq",
            "score": "qdc_label_agreement",
            "min_quality": 0.1,
            "group_field": "label",
            "quota": "equal",
        },
    ),
]
# Headroom: random over the clean rows only (it knows the planted junk and copies, no selector does).
ORACLES: list[tuple[str, dict[str, Any]]] = [
    ("oracle: random over clean rows", {"strategy": "random"}),
    (
        "oracle: random over clean rows, classes balanced",
        {"strategy": "random", "group_field": "label", "quota": "equal"},
    ),
]


def probe_data(
    pool: pl.DataFrame, test_rows: list[dict[str, Any]]
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """The pool embedded and scored (quality, and label agreement with k = 10), and the embeddings of pool
    and test with the test labels."""
    from qdc.embed import EmbedConfig, embed
    from qdc.io import IOConfig, prepare
    from qdc.quality import QualityConfig, score_quality

    ecfg = EmbedConfig(model="default", cache=True)
    df = score_quality(embed(prepare(pool, IOConfig()), ecfg), QualityConfig(label_field="label"))
    test = embed(
        prepare(pl.DataFrame([{"text": r["text"], "label": int(r["label"])} for r in test_rows]), IOConfig()), ecfg
    )
    return (
        df,
        np.asarray(df["qdc_embedding"].to_list(), dtype=np.float32),
        np.asarray(test["qdc_embedding"].to_list(), dtype=np.float32),
        test["label"].to_numpy(),
    )


def probe_runs(
    df: pl.DataFrame,
    x: np.ndarray,
    xt: np.ndarray,
    yt: np.ndarray,
    minor: int,
    budget: int,
    seeds: list[int],
    strategies: list[tuple[str, dict[str, Any]]],
) -> dict[str, Any]:
    """Per strategy and seed: select, fit a logistic regression on the picks, test accuracy; with the
    junk rate, minority share and mean words of the picks, and the per-seed difference against random."""
    from sklearn.linear_model import LogisticRegression

    from qdc.select import SelectConfig, select

    y = df["label"].to_numpy()
    words = np.asarray([len(t.split()) for t in df["text"].to_list()], dtype=np.float64)
    idx_of = {rid: i for i, rid in enumerate(df["id"].to_list())}
    clean = df.filter(pl.col("bench_kind") == "clean")
    results: dict[str, Any] = {}
    for label, kw in strategies:
        accs, junk, minor_share, mean_words = [], [], [], []
        for seed in seeds:
            if label.startswith("apricot"):
                idx = apricot_fl(x, budget, seed)
            else:
                res = select(clean if label.startswith("oracle") else df, SelectConfig(budget=budget, seed=seed, **kw))
                idx = np.asarray([idx_of[r] for r in res.selected["id"].to_list()], dtype=np.int64)
            junk.append(float(np.mean([k.startswith("junk") for k in df["bench_kind"][idx].to_list()])))
            minor_share.append(float(np.mean(y[idx] == minor)))
            mean_words.append(float(words[idx].mean()))
            if len(set(y[idx].tolist())) < 2:
                accs.append(float(np.mean(yt == y[idx][0])))  # a one-class probe predicts that class
                continue
            clf = LogisticRegression(max_iter=2000, C=10.0).fit(x[idx], y[idx])
            accs.append(float((clf.predict(xt) == yt).mean()))
        results[label] = {
            "acc_mean": statistics.mean(accs),
            "acc_sd": statistics.pstdev(accs),
            "accs": accs,
            "junk_rate": statistics.mean(junk),
            "minor_share": statistics.mean(minor_share),
            "minor_shares": minor_share,
            "mean_words": statistics.mean(mean_words),
        }
    for m in results.values():
        m["diff_mean"], m["diff_sd"] = paired(m["accs"], results["random"]["accs"])
        m["wins"] = sum(a > b for a, b in zip(m["accs"], results["random"]["accs"], strict=True))
    return results


def shown_path(source: Path) -> str:
    return (
        f"../shared/{source.relative_to(SHARED_DATA.parent)}"
        if source.is_relative_to(SHARED_DATA.parent)
        else str(source)
    )


def proxy_benchmark(
    name: str, source: Path, n_major: int, n_minor: int, n_junk: int, budget: int, seeds: list[int]
) -> dict[str, Any]:
    """Downstream proxy on one binary labelled set: select, fit a linear probe, test accuracy per seed."""
    train, test_rows = proxy_split(source)
    pool, planted = proxy_pool(train, n_major, n_minor, n_junk)
    df, x, xt, yt = probe_data(pool, test_rows)
    minor = planted["minor_label"]
    results = probe_runs(
        df, x, xt, yt, minor, budget, seeds, [*STRATEGIES, *BALANCED, ("apricot facility location", {}), *ORACLES]
    )
    # How much of the label-blind rows' accuracy the minority share alone explains (every run, every seed).
    blind = [m for lab, m in results.items() if "balanced" not in lab]
    share_acc_r = float(
        np.corrcoef([s for m in blind for s in m["minor_shares"]], [a for m in blind for a in m["accs"]])[0, 1]
    )
    return {
        "name": name,
        "source": shown_path(source),
        "pool_rows": df.height,
        **planted,
        "budget": budget,
        "seeds": seeds,
        "test_rows": len(yt),
        "test_minor_share": float(np.mean(yt == minor)),
        "share_acc_r": share_acc_r,
        "results": results,
    }


# Where kmq's in-distribution cost comes from: clean rows, classes balanced, nothing planted.
ATTRIBUTION: list[tuple[str, dict[str, Any]]] = [
    ("random", {"strategy": "random"}),
    ("kmq", {"strategy": "kmq"}),
    ("kmq --within random (clusters only, no score inside them)", {"strategy": "kmq", "within": "random"}),
    (
        "kmq --allocation proportional --within random (stratified random)",
        {"strategy": "kmq", "within": "random", "allocation": "proportional"},
    ),
    ("top (score only)", {"strategy": "top"}),
    (
        "kmq --score qdc_label_agreement, classes balanced",
        {"strategy": "kmq", "score": "qdc_label_agreement", "group_field": "label", "quota": "equal"},
    ),
]


def attribution_benchmark(name: str, source: Path, per_class: int, budget: int, seeds: list[int]) -> dict[str, Any]:
    """The proxy on a clean, balanced pool: the part of kmq's result due to clusters vs the score."""
    train, test_rows = proxy_split(source)
    pool, planted = proxy_pool(train, per_class, per_class, 0, ratio=1)
    df, x, xt, yt = probe_data(pool, test_rows)
    results = probe_runs(df, x, xt, yt, planted["minor_label"], budget, seeds, ATTRIBUTION)
    test_words = float(np.mean([len(r["text"].split()) for r in test_rows]))
    return {
        "name": name,
        "source": shown_path(source),
        "pool_rows": df.height,
        "budget": budget,
        "seeds": seeds,
        "test_rows": len(yt),
        "test_mean_words": test_words,
        "results": results,
    }


SPEED_CODE = r"""
import sys, time, json, threading
import numpy as np, psutil
n, d, seed = int(sys.argv[1]), 384, 0
proc = psutil.Process()
base = proc.memory_info().rss
from qdc.select.clusters import compute_labels, default_k
from qdc.select.kmq import kmq_arrays
import faiss  # noqa: imported before the measurement so library load is not counted as data memory
rng = np.random.default_rng(seed)
x = np.empty((n, d), dtype=np.float32)
centres = rng.standard_normal((2000, d), dtype=np.float32)
for s in range(0, n, 100_000):
    m = min(100_000, n - s)
    block = centres[rng.integers(2000, size=m)] + 0.5 * rng.standard_normal((m, d), dtype=np.float32)
    block /= np.linalg.norm(block, axis=1, keepdims=True)
    x[s:s + m] = block
del block
score = rng.random(n)
peak = [proc.memory_info().rss]
stop = threading.Event()
def sample():
    while not stop.wait(0.05):
        peak[0] = max(peak[0], proc.memory_info().rss)
t = threading.Thread(target=sample, daemon=True); t.start()
before = proc.memory_info().rss
budget = n // 10
k = default_k(budget, n)
t0 = time.perf_counter()
labels = compute_labels(x, k, seed, 25)
t1 = time.perf_counter()
picked, log = kmq_arrays(labels, score, budget, seed=seed)
t2 = time.perf_counter()
stop.set(); t.join()
peak[0] = max(peak[0], proc.memory_info().rss)
print(json.dumps({"n": n, "d": d, "k": k, "budget": budget, "selected": int(picked.size),
                  "cluster_seconds": t1 - t0, "select_seconds": t2 - t1, "total_seconds": t2 - t0,
                  "matrix_bytes": int(x.nbytes), "rss_before_bytes": int(before), "rss_start_bytes": int(base),
                  "peak_rss_bytes": int(peak[0])}))
"""


def speed_benchmark(n: int) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", SPEED_CODE, str(n)], capture_output=True, text=True, cwd=root, check=True
    )
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    res["peak_over_matrix"] = res["peak_rss_bytes"] / res["matrix_bytes"]
    res["extra_over_matrix"] = (res["peak_rss_bytes"] - res["rss_before_bytes"]) / res["matrix_bytes"]
    return res


AGREEMENT_CODE = r"""
import sys, time, json, resource
import numpy as np
from qdc.quality.agreement import label_agreement
import faiss  # noqa: loaded before the clock starts
n = int(sys.argv[1])
rng = np.random.default_rng(0)
x = rng.standard_normal((n, 384), dtype=np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True)
labels = rng.integers(0, 2, n).tolist()
t0 = time.perf_counter()
label_agreement(x, labels, 10)
print(json.dumps({"n": n, "seconds": time.perf_counter() - t0,
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def agreement_speed(ns: list[int]) -> list[dict[str, Any]]:
    """score-quality --label-field cost: k = 10 exact neighbours on n x 384 unit vectors, fresh process each."""
    root = Path(__file__).resolve().parent.parent
    return [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", AGREEMENT_CODE, str(n)], capture_output=True, text=True, cwd=root, check=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        for n in ns
    ]


def fmt(v: float, pct: bool = False) -> str:
    return f"{100 * v:.1f}%" if pct else f"{v:.3f}"


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table: header, separator, one line a row, then a blank line."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
    ]


def render_proxy(px: dict[str, Any]) -> list[str]:
    """Markdown lines for one downstream proxy."""
    r = px["results"]
    rnd, oracle = r["random"], r["oracle: random over clean rows"]
    lines = [
        f"Downstream proxy ({px['name']}, `{px['source']}`): pool {px['pool_rows']} rows ({px['major']} of label "
        f"{px['major_label']}, {px['minor']} of label {px['minor_label']}, {px['junk']} junk with random labels, "
        f"{px['duplicates']} exact copies); logistic regression on MiniLM embeddings of the {px['budget']} "
        f"selected rows; accuracy on {px['test_rows']} test rows (label {px['minor_label']} share "
        f"{px['test_minor_share']:.2f}), mean ± sd over seeds {px['seeds']}; wins = seeds where the strategy "
        "beats random. The oracle rows sample only the clean rows, which no selector can know: they bound "
        "what removing the planted junk and copies can buy.",
        "",
    ]
    lines += md_table(
        ["strategy", "test accuracy", "vs random, paired by seed", "wins", "junk rate", "minority share"],
        [
            [
                name,
                f"{m['acc_mean']:.4f} ± {m['acc_sd']:.4f}",
                f"{m['diff_mean']:+.4f} ± {m['diff_sd']:.4f}",
                f"{m['wins']}/{len(m['accs'])}",
                fmt(m["junk_rate"], True),
                fmt(m["minor_share"]),
            ]
            for name, m in r.items()
        ],
    )
    lines += [
        f"Headroom without labels: the clean-rows oracle is {oracle['acc_mean'] - rnd['acc_mean']:+.4f} "
        "over random; with classes balanced, "
        f"{r['oracle: random over clean rows, classes balanced']['acc_mean'] - rnd['acc_mean']:+.4f}. "
        "Across the label-blind rows (every seed), the correlation between the selection's minority share "
        f"and test accuracy is r = {px['share_acc_r']:.2f}."
    ]
    base = r["random, classes balanced"]["accs"]
    against = [
        (name, *paired(m["accs"], base), sum(a > b for a, b in zip(m["accs"], base, strict=True)))
        for name, m in r.items()
        if "classes balanced" in name and not name.startswith(("random", "oracle"))
    ]
    lines += [
        "Against random with classes balanced, paired by seed: "
        + "; ".join(f"{name} {d:+.4f} ± {sd:.4f} ({w}/{len(base)})" for name, d, sd, w in against)
        + ".",
        "",
    ]
    return lines


def render_attribution(at: dict[str, Any]) -> list[str]:
    """Markdown lines for the clean, balanced pool."""
    lines = [
        f"Where kmq's in-distribution result comes from ({at['name']}, clean and balanced: {at['pool_rows']} rows, "
        f"nothing planted; B = {at['budget']}, seeds {at['seeds']}; test rows average "
        f"{at['test_mean_words']:.1f} words):",
        "",
    ]
    return lines + md_table(
        ["strategy", "test accuracy", "vs random, paired by seed", "wins", "mean words of the picks"],
        [
            [
                name,
                f"{m['acc_mean']:.4f} ± {m['acc_sd']:.4f}",
                f"{m['diff_mean']:+.4f} ± {m['diff_sd']:.4f}",
                f"{m['wins']}/{len(m['accs'])}",
                f"{m['mean_words']:.1f}",
            ]
            for name, m in at["results"].items()
        ],
    )


def render_redundancy(rd: dict[str, Any]) -> list[str]:
    """Markdown lines for the real-redundancy run."""
    lines = [
        f"Real redundancy (GPTeacher Toolformer as published, `{rd['source']}`, {rd['rows']} rows; its authors' "
        f"<0.9 similarity filter drops {fmt(rd['pool_authors_dropped'], True)} of them): budget {rd['budget']}, "
        f"mean over seeds {rd['seeds']}. Pairs = pairs of picks with MiniLM cosine above 0.95 / 0.9; "
        "'authors dropped' = share of picks that filter removed (its metric is undocumented, so this is a weak "
        "outside reference); 'flagged' = rows the on-the-fly dedup excluded.",
        "",
    ]
    return lines + md_table(
        ["strategy", "pairs > 0.95", "pairs > 0.9", "authors dropped", "Vendi", "mean quality", "flagged"],
        [
            [
                name,
                f"{m['pairs_095']:.1f}",
                f"{m['pairs_090']:.1f}",
                fmt(m["authors_dropped"], True),
                f"{m['vendi']:.1f}",
                fmt(m["mean_quality"]),
                f"{m['duplicates_excluded']:.0f}",
            ]
            for name, m in rd["table"].items()
        ],
    )


def render(
    mix: dict[str, Any],
    redundancy: dict[str, Any],
    proxies: list[dict[str, Any]],
    attribution: list[dict[str, Any]],
    probe: dict[str, Any],
    speed: dict[str, Any],
    agreement: list[dict[str, Any]],
    command: str,
) -> str:
    t = mix["table"]
    rnd = t["random"]
    lines = [
        "## Selection (`qdc select`)",
        "",
        f"Machine: {machine()}. Command: `{command}`.",
        f"Mix: {mix['rows']} rows from ../shared/data ({', '.join(f'{k} {v}' for k, v in mix['composition'].items())});"
        f" tasks = sources {', '.join(t for t, _, _ in SOURCES)} (imbalanced). Junk is made here from real rows; "
        "duplicates are exact copies and upper-cased/whitespace variants. Embeddings: all-MiniLM-L6-v2 "
        f"(bundled, real; {mix['embed_seconds']:.0f} s incl. cache). Quality: qdc heuristic `score_quality`. "
        f"Budget {mix['budget']} rows; mean over seeds {mix['seeds']}. Pool itself: junk "
        f"{fmt(mix['pool']['junk_rate'], True)}, task entropy {fmt(mix['pool']['task_entropy'])}.",
        "",
        "| strategy | junk rate | dup pairs | task coverage | task entropy | Vendi | mean quality | scorer calls | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in t.items():
        lines.append(
            f"| {name} | {fmt(m['junk_rate'], True)} | {m['dup_pairs']:.1f} | {fmt(m['coverage'])} | "
            f"{fmt(m['task_entropy'])} | {m['vendi']:.1f} | {fmt(m['mean_quality'])} | "
            f"{m['scorer_calls']:.0f} | {m['seconds']:.2f} |"
        )
    lines += [
        "",
        "Goals vs random (kmq, the default): "
        f"junk {fmt(t['kmq']['junk_rate'], True)} vs {fmt(rnd['junk_rate'], True)} "
        f"(goal <= {fmt(rnd['junk_rate'] / 5, True)}); dup pairs {t['kmq']['dup_pairs']:.1f} (goal 0); "
        f"coverage {fmt(t['kmq']['coverage'])} vs {fmt(rnd['coverage'])}; entropy "
        f"{fmt(t['kmq']['task_entropy'])} vs {fmt(rnd['task_entropy'])}.",
        "",
    ]
    lines += render_redundancy(redundancy)
    for px in proxies:
        lines += render_proxy(px)
    for at in attribution:
        lines += render_attribution(at)
    lines += [
        "",
        f"Task probe on the mix ({probe['rows']} rows): logistic regression on the selected rows' MiniLM "
        "embeddings, predicting the source task; balanced accuracy on "
        f"{probe['test_rows']} held-out rows (25 per task, none in the pool); mean ± sd over seeds "
        f"{probe['seeds']}, and the per-seed difference against random.",
        "",
        "| budget | strategy | task coverage | task entropy | junk rate | balanced accuracy | vs random, paired |",
        "|---|---|---|---|---|---|---|",
    ]
    for budget, table in probe["budgets"].items():
        for name, m in table.items():
            lines.append(
                f"| {budget} | {name} | {fmt(m['coverage'])} | {fmt(m['task_entropy'])} | "
                f"{fmt(m['junk_rate'], True)} | {m['acc_mean']:.4f} ± {m['acc_sd']:.4f} | "
                f"{m['diff_mean']:+.4f} ± {m['diff_sd']:.4f} |"
            )
    lines += [
        "",
        f"kmq speed and memory: {speed['n']:,} x {speed['d']} float32 unit vectors (2,000 noisy centres), "
        f"budget {speed['budget']:,}, K={speed['k']}: clustering {speed['cluster_seconds']:.1f} s + "
        f"selection {speed['select_seconds']:.2f} s = **{speed['total_seconds']:.1f} s** (goal < 60 s); peak RSS "
        f"{speed['peak_rss_bytes'] / 2**30:.2f} GiB = **{speed['peak_over_matrix']:.2f}x** the "
        f"{speed['matrix_bytes'] / 2**30:.2f} GiB matrix (goal < 2x; includes the interpreter and libraries); "
        f"growth during kmq {speed['extra_over_matrix']:.2f}x. One run in a fresh process.",
        "",
        "Label agreement (`score-quality --label-field`, k = 10; exact search up to 100,000 rows, IVF above) "
        "on n x 384 random unit vectors (no structure: the hardest case for IVF), one fresh process each: "
        + "; ".join(
            f"{a['n']:,} rows {a['seconds']:.1f} s, peak RSS {a['peak_rss_bytes'] / 2**30:.2f} GiB" for a in agreement
        )
        + ".",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument(
        "--proxy",
        action="append",
        metavar="NAME=PATH",
        help="a binary labelled set (JSONL with text and label, or a folder with train.jsonl and "
        "test.jsonl) for the downstream proxy; repeatable [default: SST-2 and SMS Spam]",
    )
    args = ap.parse_args()
    sources = [tuple(p.split("=", 1)) for p in args.proxy] if args.proxy else list(PROXIES)
    if args.quick:
        mix = mix_benchmark(0.25, 80, [0])
        redundancy = redundancy_benchmark(1500, 100, [0])
        proxies = [proxy_benchmark(n, Path(p), 400, 100, 50, 80, [0, 1]) for n, p in sources]
        attribution = [attribution_benchmark(n, Path(p), 250, 80, [0, 1]) for n, p in sources]
        probe = task_probe_benchmark(0.25, [40], [0, 1])
        speed = speed_benchmark(100_000)
        agreement = agreement_speed([20_000])
    else:
        mix = mix_benchmark(1.0, 300, [0, 1, 2])
        redundancy = redundancy_benchmark(None, 500, [0, 1, 2])
        proxies = [proxy_benchmark(n, Path(p), 1600, 400, 200, 200, list(range(10))) for n, p in sources]
        attribution = [attribution_benchmark(n, Path(p), 1000, 200, list(range(10))) for n, p in sources]
        probe = task_probe_benchmark(1.0, [40, 100, 300], list(range(10)))
        speed = speed_benchmark(1_000_000)
        agreement = agreement_speed([20_000, 100_000, 1_000_000])
    command = ".venv/bin/python benchmarks/bench_select.py" + (" --quick" if args.quick else "")
    md = render(mix, redundancy, proxies, attribution, probe, speed, agreement, command)
    write_results(
        "select",
        md,
        {
            "mix": mix,
            "redundancy": redundancy,
            "proxies": proxies,
            "attribution": attribution,
            "task_probe": probe,
            "speed": speed,
            "agreement_speed": agreement,
            "command": command,
            "machine": machine(),
        },
    )
    print(md)


if __name__ == "__main__":
    main()
