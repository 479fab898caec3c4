"""Downstream proxies for `qdc select`: every labelled set in ../shared/data, paired by seed against random.

For each proxy (sst2, sst5, sms_spam, ag_news_test, subj, mr, cr) a seeded sample of its training rows
(2,600) and of its test rows (1,000) is embedded once with the bundled MiniLM (qdc's embedding cache, and an
.npz under /tmp/qdc-bench-cache/select/ so later runs embed nothing). Three pools per proxy:

- planted: the classes made imbalanced (geometric sizes, largest : smallest = 6 : 1, about 1,200 clean
  rows), 10% junk with random labels (half made-up garbage text, half real sentences of the set whose
  label was redrawn), and 5% exact copies;
- clean: 1,000 rows, every class equal, nothing planted;
- junk: as planted, but all of the junk is made-up garbage of the five kinds in issue 13's own recipe
  (empty, consonant soup, a phrase repeated, a refusal, a row's first two words), random labels: the kind
  of pool the issue's held-out check uses.

Each strategy selects B rows with `qdc select`'s defaults (plus the strategy); a logistic regression
(sklearn defaults) trained on the picks' embeddings is scored on the test rows. Differences are paired by
seed against `random` (the same seed), wins counted. `defaults (qdc run)` is the select stage as
configs/default.yaml runs it (qdc_cluster from the cluster stage, its select section).

Tuning split: defaults were chosen on sst2, sms_spam and subj (TUNE); sst5, mr, cr and ag_news_test
(REPORT) were only run after the defaults were fixed, and are reported separately.

On-the-fly dedup is seed-independent, so it runs once per pool (select's own `dedup_duplicates`) and its
answer rides along as `qdc_dup_of` (select then excludes exactly the same rows).

Run: .venv/bin/python benchmarks/bench_select_proxies.py [--quick] [--seeds 10] [--budget 150]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import SHARED_DATA, machine

CACHE = Path("/tmp/qdc-bench-cache/select")
SETS = {
    "sst2": ("sst2/train.jsonl", "sst2/test.jsonl"),
    "sms_spam": ("sms_spam/data.jsonl", None),
    "subj": ("subj/all.jsonl", None),
    "sst5": ("sst5/train.jsonl", "sst5/test.jsonl"),
    "mr": ("mr/all.jsonl", None),
    "cr": ("cr/all.jsonl", None),
    "ag_news_test": ("ag_news_test/test.jsonl", None),
}
TUNE = ("sst2", "sms_spam", "subj")
REPORT = ("sst5", "mr", "cr", "ag_news_test")
POOL_ROWS, TEST_ROWS = 2600, 1000
REFUSALS = [
    "I'm sorry, but as an AI language model I cannot help with that request.",
    "As an AI language model, I am unable to provide that information.",
    "I apologize, but I can't assist with this.",
]

STRATEGIES: list[tuple[str, dict[str, Any]]] = [
    ("random", {"strategy": "random"}),
    ("defaults (qdc select)", {}),
    ("kmq", {"strategy": "kmq"}),
    ("iterative", {"strategy": "iterative"}),
    ("bandit", {"strategy": "bandit"}),
    ("facility pure objective (tail_share 0; gate off)", {"facility": {"tail_share": 0.0}, "junk_gate": False}),
    ("kcenter", {"strategy": "kcenter"}),
    ("deita", {"strategy": "deita"}),
    ("kmq (papers' settings)", {"strategy": "kmq", "preset": "paper"}),
]


def _rows(rel: str) -> list[dict[str, Any]]:
    with open(SHARED_DATA / rel, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _embed(texts: list[str]) -> np.ndarray:
    from qdc.embed import EmbedConfig, embed
    from qdc.io import IOConfig, prepare

    df = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    out = embed(prepare(df, IOConfig()), EmbedConfig(model="default", cache=True))
    return np.asarray(out["qdc_embedding"].to_list(), dtype=np.float32)


def load_proxy(name: str) -> dict[str, np.ndarray]:
    """Train/test sample of a proxy with MiniLM embeddings (embedded once, then read from the .npz)."""
    path = CACHE / f"{name}.npz"
    if not path.exists():
        tr, te = SETS[name]
        rng = np.random.default_rng(0)
        a = _rows(tr)
        if te is None:
            perm = rng.permutation(len(a))
            test, train = [a[i] for i in perm[:TEST_ROWS]], [a[i] for i in perm[TEST_ROWS:]]
        else:
            t = _rows(te)
            test, train = [t[i] for i in rng.permutation(len(t))[:TEST_ROWS]], a
        train = [train[i] for i in rng.permutation(len(train))[:POOL_ROWS]]
        out: dict[str, np.ndarray] = {}
        for part, rs in (("train", train), ("test", test)):
            out[f"{part}_x"] = _embed([r["text"] for r in rs])
            out[f"{part}_y"] = np.asarray([int(r["label"]) for r in rs])
            out[f"{part}_text"] = np.asarray([r["text"] for r in rs], dtype=object)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(path, **out)
    z = np.load(path, allow_pickle=True)
    return {k: z[k] for k in z.files}


def _garbage(rng: np.random.Generator, text: str, j: int, kinds: int = 4) -> str:
    """Made-up junk text, kind j % kinds: consonant soup, a phrase repeated 8 times, a refusal, the first two
    words of a row, and (kinds = 5, the issue's recipe) an empty row."""
    words = text.split()
    kind = j % kinds
    if kind == 4:
        return ""
    if kind == 0:
        chars = list("bcdfghjklmnpqrstvwxz#$%&*@")
        return " ".join("".join(rng.choice(chars, size=int(rng.integers(2, 8)))) for _ in range(12))
    if kind == 1:
        return " ".join([" ".join(words[:3])] * 8)
    if kind == 2:
        return REFUSALS[j % len(REFUSALS)]
    return " ".join(words[:2])


def planted_pool(p: dict[str, np.ndarray], seed: int = 1, garbage_only: bool = False) -> dict[str, Any]:
    """Imbalanced classes (6:1 geometric), 10% junk with random labels, 5% exact copies. The junk is half
    garbage (four kinds) and half real rows relabelled; with `garbage_only` all of it is garbage of the
    issue's five kinds (empty, soup, a repeated phrase, a refusal, two words): the `junk` pool."""
    rng = np.random.default_rng(seed)
    y = p["train_y"]
    labels = sorted(set(y.tolist()))
    by = {c: rng.permutation(np.flatnonzero(y == c)) for c in labels}
    order = sorted(labels, key=lambda c: (-by[c].size, c))
    c = len(order)
    ratio = 6.0 ** (1.0 / max(c - 1, 1))
    sizes = [round(600 / ratio**i) if c > 1 else 600 for i in range(c)]
    sizes = [min(s, by[lab].size - 40) for s, lab in zip(sizes, order, strict=True)]
    idx = np.concatenate([by[lab][:s] for s, lab in zip(sizes, order, strict=True)])
    spare = np.concatenate([by[lab][s:] for s, lab in zip(sizes, order, strict=True)])
    n_clean = idx.size
    n_junk = n_clean // 9  # 10% of the pool
    texts = [str(t) for t in p["train_text"][idx]]
    xs = [p["train_x"][idx]]
    ys = y[idx].tolist()
    kinds = ["clean"] * n_clean
    n_garbage = n_junk if garbage_only else n_junk // 2
    garbage = [_garbage(rng, texts[int(rng.integers(n_clean))], j, 5 if garbage_only else 4) for j in range(n_garbage)]
    xs.append(_embed(garbage))
    texts += garbage
    kinds += ["junk:garbage"] * len(garbage)
    real = rng.choice(spare, size=n_junk - len(garbage), replace=False)
    xs.append(p["train_x"][real])
    texts += [str(t) for t in p["train_text"][real]]
    kinds += ["junk:relabelled"] * real.size
    ys += rng.choice(labels, size=n_junk).tolist()
    copies = rng.choice(n_clean, size=n_clean // 20, replace=False)
    x = np.concatenate(xs)
    xs2 = [x, x[copies]]
    texts += [texts[i] for i in copies]
    ys += [ys[i] for i in copies]
    kinds += ["copy"] * copies.size
    x = np.concatenate(xs2)
    perm = rng.permutation(len(texts))
    return {
        "x": x[perm],
        "y": np.asarray(ys)[perm],
        "text": [texts[i] for i in perm],
        "kind": [kinds[i] for i in perm],
        "sizes": dict(zip([str(o) for o in order], sizes, strict=True)),
    }


def clean_pool(p: dict[str, np.ndarray], seed: int = 2) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    y = p["train_y"]
    labels = sorted(set(y.tolist()))
    per = min(1000 // len(labels), min(int((y == c).sum()) for c in labels))
    idx = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per] for c in labels]))
    return {
        "x": p["train_x"][idx],
        "y": y[idx],
        "text": [str(t) for t in p["train_text"][idx]],
        "kind": ["clean"] * idx.size,
        "sizes": {str(c): per for c in labels},
    }


def make_pool(p: dict[str, np.ndarray], kind: str, draw: int | None = None) -> dict[str, Any]:
    """The pool of a kind (planted, clean, junk): the table's pool (draw None: seeds 1 / 2 / 3) or pool
    draw d (seeds 1000+d / 2000+d / 3000+d)."""
    base = {"planted": 1, "clean": 2, "junk": 3}[kind]
    seed = base if draw is None else 1000 * base + draw
    if kind == "clean":
        return clean_pool(p, seed=seed)
    return planted_pool(p, seed=seed, garbage_only=kind == "junk")


def frame(pool: dict[str, Any]) -> pl.DataFrame:
    """A prepared frame with embeddings, qdc_quality (the default scorer) and the dedup answer."""
    from qdc import schema
    from qdc.io import IOConfig, prepare
    from qdc.quality import QualityConfig, score_quality
    from qdc.select.eligible import dedup_duplicates

    n = len(pool["text"])
    df = prepare(pl.DataFrame({"id": [f"r{i}" for i in range(n)], "text": pool["text"]}), IOConfig())
    x = pool["x"]
    df = df.with_columns(
        pl.Series(schema.EMBEDDING, x, dtype=pl.Array(pl.Float32, x.shape[1])), pl.Series("bench_i", np.arange(n))
    )
    df = score_quality(df, QualityConfig())
    dups, _ = dedup_duplicates(df, [None] * n, "auto")
    dup_col = [dups.get(i) for i in range(n)]
    return df.with_columns(pl.Series(schema.DUP_OF, dup_col, dtype=pl.Utf8))


def run_config(df: pl.DataFrame, budget: int, seed: int, kw: dict[str, Any]) -> np.ndarray:
    from qdc.select import SelectConfig, select

    kw = dict(kw)
    preset = kw.pop("preset", None)
    if preset == "paper":  # the papers' behaviour: T=0.2 softmax on the score, no representativeness
        kw.update(PAPER)
    if preset == "run":
        kw.update(RUN_SELECT)
    res = select(df, SelectConfig(budget=budget, seed=seed, dedup="off", **kw))
    return np.asarray(res.selected["bench_i"].to_list(), dtype=np.int64)


PAPER: dict[str, Any] = {}  # filled from qdc.select.config.PAPER_KMQ when it exists
RUN_SELECT: dict[str, Any] = {}


def _load_presets() -> None:
    import yaml

    from qdc.select import config as sc

    PAPER.update(getattr(sc, "PAPER_KMQ", {}))
    doc = yaml.safe_load((Path(__file__).resolve().parent.parent / "configs" / "default.yaml").read_text())
    for st in doc["stages"]:
        if isinstance(st, dict) and "select" in st:
            RUN_SELECT.update({k: v for k, v in st["select"].items() if k != "budget"})


def with_run_clusters(df: pl.DataFrame, seed: int) -> pl.DataFrame:
    """qdc_cluster as configs/default.yaml's cluster stage makes it (k-means, its default k)."""
    from qdc import schema
    from qdc.cluster import ClusterConfig, cluster

    live = df.filter(pl.col(schema.DUP_OF).is_null())
    out = cluster(live, ClusterConfig(seed=seed))
    lab = dict(zip(out["bench_i"].to_list(), out[schema.CLUSTER].to_list(), strict=True))
    return df.with_columns(pl.Series(schema.CLUSTER, [lab.get(i, -1) for i in df["bench_i"].to_list()]))


def evaluate(pool: dict[str, Any], test_x: np.ndarray, test_y: np.ndarray, idx: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression

    y = pool["y"][idx]
    if len(set(y.tolist())) < 2:
        return float(np.mean(test_y == y[0]))
    clf = LogisticRegression(max_iter=2000, C=10.0).fit(pool["x"][idx], y)
    return float((clf.predict(test_x) == test_y).mean())


def bench_pool(
    name: str, pool: dict[str, Any], p: dict[str, np.ndarray], budget: int, seeds: list[int], names: list[str]
) -> dict[str, Any]:
    df = frame(pool)
    run_df = with_run_clusters(df, 13)
    table: dict[str, Any] = {}
    kinds = np.asarray(pool["kind"])
    for label, kw in [*STRATEGIES, ("defaults (qdc run configs/default.yaml)", {"preset": "run"})]:
        if names and label not in names and label != "random":
            continue
        accs, junk, secs = [], [], []
        for seed in seeds:
            t0 = time.perf_counter()
            idx = run_config(run_df if kw.get("preset") == "run" else df, budget, seed, kw)
            secs.append(time.perf_counter() - t0)
            accs.append(evaluate(pool, p["test_x"], p["test_y"], idx))
            junk.append(float(np.char.startswith(kinds[idx].astype(str), "junk").mean()))
        table[label] = {"accs": accs, "junk": statistics.mean(junk), "seconds": statistics.mean(secs)}
    for m in table.values():
        base = table["random"]["accs"]
        d = [a - b for a, b in zip(m["accs"], base, strict=True)]
        m["acc"] = statistics.mean(m["accs"])
        m["diff"] = statistics.mean(d)
        m["diff_sd"] = statistics.pstdev(d)
        m["wins"] = sum(x > 0 for x in d)
    ap = apricot_row(pool, p, budget, seeds)
    if ap is not None:
        table["apricot facility location"] = ap
    return {"proxy": name, "rows": len(pool["text"]), "sizes": pool["sizes"], "table": table}


def draws_row(
    name: str, kind: str, p: dict[str, np.ndarray], budget: int, draws: int, labels: list[str]
) -> dict[str, Any]:
    """Expected gain over pool draws: draw d builds its own pool (seed 1000+d planted, 2000+d clean, 3000+d junk) and runs
    random and each strategy with seed d; one accuracy each, paired by draw. A deterministic strategy
    (facility) gives one selection per pool, so on a single pool its gain is one draw of luck; this averages
    that luck out."""
    table: dict[str, list[float]] = {label: [] for label in labels}
    for d in range(draws):
        pool = make_pool(p, kind, d)
        df = frame(pool)
        run_df = (
            with_run_clusters(df, 13) if any(dict(STRATEGIES_ALL)[lb].get("preset") == "run" for lb in labels) else df
        )
        base = evaluate(pool, p["test_x"], p["test_y"], run_config(df, budget, d, {"strategy": "random"}))
        for label in labels:
            kw = dict(STRATEGIES_ALL)[label]
            idx = run_config(run_df if kw.get("preset") == "run" else df, budget, d, kw)
            table[label].append(evaluate(pool, p["test_x"], p["test_y"], idx) - base)
    out = {}
    for label, diffs in table.items():
        se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
        out[label] = {"diffs": diffs, "mean": statistics.mean(diffs), "se": se, "wins": sum(x > 0 for x in diffs)}
    return {"proxy": f"{name} {kind}", "draws": draws, "table": out}


def draws_markdown(res: dict[str, Any]) -> str:
    labels = list(res["results"][0]["table"]) if res["results"] else []
    lines = [
        "## Selection vs random over pool draws (`benchmarks/bench_select_proxies.py --pool-draws`)",
        "",
        f"Machine: {res['machine']}. Date: {res['date']}. Command: `{res['command']}`. Code: "
        f"{res.get('commit', 'not recorded')}. Budget {res['budget']}; "
        f"each of {res['draws']} draws builds its own pool of the proxy (the recipe of select_proxies.md, pool "
        "seed 1000+d planted, 2000+d clean, 3000+d junk) and runs random and the strategy with seed d; mean paired gain "
        "over random ± its standard error, wins = draws above random. The main table uses one pool per "
        "proxy, where a deterministic strategy (facility) is one draw of luck per pool.",
        "",
        "| pool | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for r in res["results"]:
        cells = [f"{m['mean']:+.4f} ± {m['se']:.4f} ({m['wins']}/{r['draws']})" for m in r["table"].values()]
        lines.append(f"| {r['proxy']} | " + " | ".join(cells) + " |")
    for title, group in (("tuning", TUNE), ("held-out", REPORT), ("all", tuple(SETS))):
        rows = [r for r in res["results"] if r["proxy"].split(" ")[0] in group]
        if rows:
            means = [statistics.mean(r["table"][lb]["mean"] for r in rows) for lb in labels]
            worst = [min(r["table"][lb]["mean"] for r in rows) for lb in labels]
            cells = [f"{m:+.4f} (worst {w:+.4f})" for m, w in zip(means, worst, strict=True)]
            lines.append(f"| **mean, {title}** | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def apricot_row(pool: dict[str, Any], p: dict[str, np.ndarray], budget: int, seeds: list[int]) -> dict[str, Any]:
    """apricot's FacilityLocationSelection (cosine, lazy greedy) on the whole pool: deterministic."""
    from apricot import FacilityLocationSelection

    x = pool["x"].astype(np.float64)
    idx = np.asarray(FacilityLocationSelection(budget, metric="cosine", optimizer="lazy").fit(x).ranking)
    acc = evaluate(pool, p["test_x"], p["test_y"], idx)
    kinds = np.asarray(pool["kind"])
    return {"acc": acc, "junk": float(np.char.startswith(kinds[idx].astype(str), "junk").mean())}


def summarise(results: list[dict[str, Any]], group: tuple[str, ...]) -> dict[str, dict[str, float]]:
    rows = [r for r in results if r["proxy"].split(" ")[0] in group]
    out: dict[str, dict[str, float]] = {}
    for label in rows[0]["table"] if rows else []:
        diffs = [r["table"][label]["acc"] - r["table"]["random"]["acc"] for r in rows if label in r["table"]]
        out[label] = {"mean_diff": statistics.mean(diffs), "min_diff": min(diffs), "n": len(diffs)}
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "## Selection on downstream proxies (`benchmarks/bench_select_proxies.py`)",
        "",
        f"Machine: {res['machine']}. Date: {res['date']}. Command: `{res['command']}`. Code: "
        f"{res.get('commit', 'not recorded')}. Budget {res['budget']} "
        f"rows; seeds {res['seeds']}; logistic regression (C = 10) on the picks' MiniLM embeddings, "
        "accuracy on 1,000 held-out test rows; 'vs random' = mean of per-seed differences (same seed), wins = "
        "seeds above random. Pools: 'planted' = classes 6:1 geometric, 10% junk with random labels (half "
        "garbage text, half real rows relabelled), 5% copies; 'clean' = balanced, nothing planted; 'junk' = "
        "as planted, but all the junk is garbage of the issue's five kinds (empty, soup, a repeated phrase, "
        "a refusal, two words). Defaults "
        f"were chosen on {', '.join(TUNE)}; {', '.join(REPORT)} were run only after.",
        "",
    ]
    for r in res["results"]:
        lines += [f"### {r['proxy']} ({r['rows']} rows; class sizes {r['sizes']})", ""]
        lines += ["| strategy | accuracy | vs random | wins | junk picked |", "|---|---|---|---|---|"]
        for label, m in r["table"].items():
            if "accs" in m:
                lines.append(
                    f"| {label} | {m['acc']:.4f} | {m['diff']:+.4f} ± {m['diff_sd']:.4f} | "
                    f"{m['wins']}/{len(m['accs'])} | {m['junk']:.1%} |"
                )
            else:
                base = r["table"]["random"]["acc"]
                lines.append(
                    f"| {label} (deterministic) | {m['acc']:.4f} | {m['acc'] - base:+.4f} | — | {m['junk']:.1%} |"
                )
        lines.append("")
    for title, key in (("tuning proxies", "tune"), ("held-out proxies", "report"), ("all proxies", "all")):
        s = res["summary"][key]
        if not s:
            continue
        lines += [f"### Average over the {title} (pools of both kinds)", ""]
        lines += ["| strategy | mean vs random | worst pool vs random |", "|---|---|---|"]
        for label, m in s.items():
            lines.append(f"| {label} | {m['mean_diff']:+.4f} | {m['min_diff']:+.4f} |")
        lines.append("")
    return "\n".join(lines)


STRATEGIES_ALL: list[tuple[str, dict[str, Any]]] = []


def code_commit() -> str:
    """The measured commit: $QDC_BENCH_COMMIT (a clean export, `git archive`, has no .git), else git's HEAD."""
    import os
    import subprocess

    env = os.environ.get("QDC_BENCH_COMMIT")
    if env:
        return f"commit {env}, run from a clean export of it (`git archive`)"
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return f"the working tree at {git.stdout.strip()} (uncommitted edits included)" if git.stdout.strip() else "?"


def pool_draws_main(args: argparse.Namespace) -> None:
    labels = [s for s in args.only.split(",") if s and s != "random"] or ["defaults (qdc select)"]
    names = [s for s in args.proxies.split(",") if s] or list(SETS)
    results = []
    for name in names:
        p = load_proxy(name)
        for kind in args.pools.split(","):
            t0 = time.perf_counter()
            results.append(draws_row(name, kind, p, args.budget, args.pool_draws, labels))
            cells = {lb: f"{m['mean']:+.4f} ± {m['se']:.4f}" for lb, m in results[-1]["table"].items()}
            print(f"{name} {kind}: {time.perf_counter() - t0:.0f}s {cells}", file=sys.stderr, flush=True)
    res = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "command": "nice -n 10 .venv/bin/python benchmarks/bench_select_proxies.py " + " ".join(sys.argv[1:]),
        "commit": code_commit(),
        "budget": args.budget,
        "draws": args.pool_draws,
        "results": results,
    }
    if args.out:
        base = Path(args.out)
        base.with_suffix(".json").write_text(json.dumps(res, indent=1, default=float))
        base.with_suffix(".md").write_text(draws_markdown(res))
    print(draws_markdown(res))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two proxies, 3 seeds")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=150)
    ap.add_argument("--proxies", default="", help="comma-separated subset")
    ap.add_argument("--only", default="", help="comma-separated strategy labels (random always runs)")
    ap.add_argument("--pools", default="planted,clean,junk")
    ap.add_argument("--out", default="")
    ap.add_argument("--variant", action="append", default=[], help="LABEL=JSON: an extra select config to run")
    ap.add_argument("--pool-draws", type=int, default=0, help="expected gain over N pool draws (see draws_row)")
    args = ap.parse_args()
    for v in args.variant:
        label, _, js = v.partition("=")
        STRATEGIES.append((label, json.loads(js)))
    STRATEGIES_ALL.extend([*STRATEGIES, ("defaults (qdc run configs/default.yaml)", {"preset": "run"})])
    _load_presets()
    if args.pool_draws:
        pool_draws_main(args)
        return
    names = [s for s in args.proxies.split(",") if s] or (["sst2", "sms_spam"] if args.quick else list(SETS))
    seeds = list(range(3 if args.quick else args.seeds))
    only = [s for s in args.only.split(",") if s]
    results = []
    for name in names:
        p = load_proxy(name)
        for kind in args.pools.split(","):
            pool = make_pool(p, kind)
            t0 = time.perf_counter()
            r = bench_pool(f"{name} {kind}", pool, p, args.budget, seeds, only)
            print(f"{name} {kind}: {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
            for label, m in r["table"].items():
                extra = f" {m['diff']:+.4f} ({m['wins']}/{len(m['accs'])})" if "accs" in m else ""
                print(f"  {label:42s} {m['acc']:.4f}{extra} junk {m['junk']:.1%}", file=sys.stderr, flush=True)
            results.append(r)
    res = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "command": "nice -n 10 .venv/bin/python benchmarks/bench_select_proxies.py " + " ".join(sys.argv[1:]),
        "commit": code_commit(),
        "budget": args.budget,
        "seeds": seeds,
        "results": results,
        "summary": {
            "tune": summarise(results, TUNE),
            "report": summarise(results, REPORT),
            "all": summarise(results, tuple(SETS)),
        },
    }
    if args.out:
        base = Path(args.out)
        base.with_suffix(".json").write_text(json.dumps(res, indent=1, default=float))
        base.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
