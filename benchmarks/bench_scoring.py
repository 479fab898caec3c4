"""Benchmark the QDC measures: Vendi speed against the vendi-score package, heuristic quality and complexity
throughput on one core, and how well the default quality scorer agrees with real good/bad labels.

Run: .venv/bin/python benchmarks/bench_scoring.py [--quick]
Writes benchmarks/results/scoring.md and scoring.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import SHARED_DATA, machine, read_jsonl, write_results

INF = float("inf")
# Self-Instruct paper (Wang et al. 2023, human evaluation of the 252 user-oriented tasks): share of
# acceptable answers rises in this order; used as a graded label (0 = worst).
GENERATOR_RANK = {
    "davinci": 0,
    "davinci-t0-ft": 1,
    "davinci-superni-ft": 2,
    "davinci-self-instruct": 3,
    "davinci-self-instruct-and-superni-ft": 4,
    "text-davinci-001": 5,
    "text-davinci-002": 6,
    "text-davinci-003": 7,
}
REFUSALS = [
    "I'm sorry, but I can't help with that request.",
    "As an AI language model, I am unable to provide an answer to this question.",
    "I apologize, but I cannot assist with that. Is there anything else I can help you with?",
]


def prompt_of(row: dict[str, Any]) -> str:
    parts = [row.get("instruction") or "", row.get("input") or ""]
    return "\n\n".join(p for p in parts if p.strip())


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def n_words(texts: list[str]) -> np.ndarray:
    return np.array([len(t.split()) for t in texts], dtype=np.float64)


# ---------------------------------------------------------------------------------------------- Vendi


def bench_vendi(quick: bool) -> dict[str, Any]:
    import vendi_score.vendi as vs

    from qdc.diversity.vendi import vendi_embeddings

    rng = np.random.default_rng(0)
    n_big = 20_000 if quick else 100_000
    x = rng.normal(size=(n_big, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    walls, cpus = [], []
    for _ in range(3):
        w0, c0 = time.perf_counter(), time.process_time()
        big = vendi_embeddings(x)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    out: dict[str, Any] = {
        "n": n_big,
        "d": 384,
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
        "wall_all": walls,
        "vendi_q": {str(k): v for k, v in big.items()},
        "side_by_side": [],
    }
    for n in (2_000, 5_000) if quick else (5_000, 10_000):
        sub = x[:n]
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            ours = vendi_embeddings(sub, (1.0,))[1.0]
            times.append(time.perf_counter() - t0)
        t_ours = statistics.median(times)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            theirs = float(vs.score_X(sub))  # float32 input, as embeddings come
            t_theirs = time.perf_counter() - t0
        out["side_by_side"].append(
            {
                "n": n,
                "qdc_s": t_ours,
                "package_s": t_theirs,
                "ratio": t_theirs / t_ours,
                "qdc_vendi": ours,
                "package_vendi": theirs,
                "rel_diff": abs(ours - theirs) / theirs,
            }
        )
    return out


# ------------------------------------------------------------------------------------------ throughput


def throughput_rows() -> list[tuple[str, list[str], list[str]]]:
    """(name, prompts, responses) of real datasets."""
    sets = []
    for rel in (
        "llamafactory_demo/alpaca_en_demo.jsonl",
        "llamafactory_demo/kto_en_demo.jsonl",
        "gpteacher/roleplay.jsonl",
        "code_alpaca_2k/data.jsonl",
        "gsm8k/train.jsonl",
        "self_instruct/user_oriented_predictions.jsonl",
    ):
        rows = list(read_jsonl(SHARED_DATA / rel, limit=2000))
        sets.append(
            (
                rel.split("/")[0] + "/" + Path(rel).stem,
                [prompt_of(r) for r in rows],
                [r.get("output") or "" for r in rows],
            )
        )
    return sets


def bench_throughput(quick: bool) -> dict[str, Any]:
    from qdc.complexity import combine
    from qdc.complexity.signals import measure
    from qdc.quality.heuristic import score_rows

    repeats = 1 if quick else 3
    out: dict[str, Any] = {"datasets": []}
    tot_rows = tot_q = tot_c = 0.0
    for name, prompts, responses in throughput_rows():
        if quick:
            prompts, responses = prompts[:300], responses[:300]
        tq, tc = [], []
        for _ in range(repeats):
            c0 = time.process_time()
            score_rows(prompts, responses)
            tq.append(time.process_time() - c0)
            c0 = time.process_time()
            for p, r in zip(prompts, responses, strict=True):
                combine(measure(p, r))
            tc.append(time.process_time() - c0)
        q_s, c_s = statistics.median(tq), statistics.median(tc)
        n = len(responses)
        out["datasets"].append(
            {
                "name": name,
                "rows": n,
                "mean_chars": round(sum(map(len, responses)) / n),
                "quality_rows_s": n / q_s,
                "complexity_rows_s": n / c_s,
            }
        )
        tot_rows, tot_q, tot_c = tot_rows + n, tot_q + q_s, tot_c + c_s
    out["all"] = {"rows": int(tot_rows), "quality_rows_s": tot_rows / tot_q, "complexity_rows_s": tot_rows / tot_c}
    return out


# --------------------------------------------------------------------------------------------- accuracy


def make_junk(prompts: list[str], responses: list[str], rng: np.random.Generator) -> dict[str, list[str]]:
    """Judge-gaming junk built from real rows: every kind keeps the length of a real answer."""
    vocab = [w for r in responses for w in r.split()]
    out: dict[str, list[str]] = {k: [] for k in ("word_salad", "token_soup", "truncated", "refusal", "echo", "loop")}
    for p, r in zip(prompts, responses, strict=True):
        words = r.split()
        shuffled = list(words)
        rng.shuffle(shuffled)
        out["word_salad"].append(" ".join(shuffled))
        out["token_soup"].append(" ".join(vocab[int(i)] for i in rng.integers(len(vocab), size=max(len(words), 20))))
        cut = int(len(r) * rng.uniform(0.3, 0.7))
        out["truncated"].append(r[:cut].rstrip())
        out["refusal"].append(REFUSALS[int(rng.integers(len(REFUSALS)))])
        out["echo"].append(p)
        first = r.split(". ")[0].strip().rstrip(".") + "."
        out["loop"].append(" ".join([first] * max(4, len(words) // max(len(first.split()), 1))))
    return out


def bench_accuracy(quick: bool) -> dict[str, Any]:
    from qdc.quality.heuristic import score_rows

    rng = np.random.default_rng(0)
    res: dict[str, Any] = {}

    # 1. KTO: desirable vs undesirable responses (preference-derived labels).
    kto = list(read_jsonl(SHARED_DATA / "llamafactory_demo/kto_en_demo.jsonl"))
    kp, kr = [prompt_of(r) for r in kto], [r["output"] for r in kto]
    ky = np.array([int(r["label"]) for r in kto])
    kq, _ = score_rows(kp, kr)
    res["kto"] = {"rows": len(kto), "auc_quality": auc(ky, kq), "auc_length": auc(ky, n_words(kr))}

    # 2. DPO: chosen vs rejected answers to the same prompts.
    dpo = list(read_jsonl(SHARED_DATA / "llamafactory_demo/dpo_en_demo.jsonl"))
    dp = [r["instruction"] for r in dpo]
    qc, _ = score_rows(dp, [r["chosen"] for r in dpo])
    qr, _ = score_rows(dp, [r["rejected"] for r in dpo])
    lc, lr = n_words([r["chosen"] for r in dpo]), n_words([r["rejected"] for r in dpo])
    y2 = np.r_[np.ones(len(dpo)), np.zeros(len(dpo))]
    res["dpo"] = {
        "pairs": len(dpo),
        "auc_quality": auc(y2, np.r_[qc, qr]),
        "auc_length": auc(y2, np.r_[lc, lr]),
        "pair_acc_quality": float(np.mean((qc > qr) + 0.5 * (qc == qr))),
        "pair_acc_length": float(np.mean((lc > lr) + 0.5 * (lc == lr))),
    }

    # 3. Planted junk against honest real answers (Alpaca-GPT4 demo + KTO desirable answers).
    alp = list(read_jsonl(SHARED_DATA / "llamafactory_demo/alpaca_en_demo.jsonl"))
    idx = rng.choice(len(alp), size=150 if quick else 400, replace=False)
    hp = [prompt_of(alp[i]) for i in idx] + [p for p, y in zip(kp, ky, strict=True) if y]
    hr = [alp[i]["output"] for i in idx] + [r for r, y in zip(kr, ky, strict=True) if y]
    hq, _ = score_rows(hp, hr)
    junk = make_junk(hp, hr, rng)
    res["junk"] = {"honest_rows": len(hr), "kinds": {}}
    all_jq, all_jl = [], []
    for kind, texts in junk.items():
        jq, _ = score_rows(hp, texts)
        jl = n_words(texts)
        y = np.r_[np.ones(len(hr)), np.zeros(len(texts))]
        res["junk"]["kinds"][kind] = {
            "auc_quality": auc(y, np.r_[hq, jq]),
            "auc_length": auc(y, np.r_[n_words(hr), jl]),
            "mean_quality": float(jq.mean()),
        }
        all_jq.append(jq)
        all_jl.append(jl)
    jq_all, jl_all = np.concatenate(all_jq), np.concatenate(all_jl)
    y = np.r_[np.ones(len(hr)), np.zeros(len(jq_all))]
    res["junk"]["all"] = {
        "auc_quality": auc(y, np.r_[hq, jq_all]),
        "auc_length": auc(y, np.r_[n_words(hr), jl_all]),
        "honest_mean": float(hq.mean()),
        "junk_mean": float(jq_all.mean()),
        "junk_below_0.3": float(np.mean(jq_all < 0.3)),
        "honest_below_0.3": float(np.mean(hq < 0.3)),
    }

    # 4. KTO labels with the judge-gaming kinds mixed in as extra bad rows (a judge rated them well).
    sal = junk["word_salad"][: len(kr) // 4] + junk["token_soup"][: len(kr) // 4] + junk["truncated"][: len(kr) // 4]
    salp = hp[: len(kr) // 4] * 3
    sq, _ = score_rows(salp, sal)
    ymix = np.r_[ky, np.zeros(len(sal))]
    res["kto_plus_junk"] = {
        "rows": len(ymix),
        "auc_quality": auc(ymix, np.r_[kq, sq]),
        "auc_length": auc(ymix, np.r_[n_words(kr), n_words(sal)]),
    }

    # 5. Graded: Self-Instruct answers of 8 GPT-3 models, ranked by the paper's human evaluation.
    si = list(read_jsonl(SHARED_DATA / "self_instruct/user_oriented_predictions.jsonl"))
    sp, sr = [prompt_of(r) for r in si], [r["output"] for r in si]
    g = np.array([GENERATOR_RANK[r["generator"]] for r in si], dtype=np.float64)
    sq2, _ = score_rows(sp, sr)
    res["self_instruct"] = {
        "rows": len(si),
        "spearman_quality": spearman(g, sq2),
        "spearman_length": spearman(g, n_words(sr)),
        "mean_quality_by_model": {k: float(sq2[g == v].mean()) for k, v in GENERATOR_RANK.items()},
    }

    # 6. Classifier (logistic regression on embeddings + signals): train on DPO, test on KTO.
    res["classifier"] = bench_classifier(dpo, kto, ky, quick)
    return res


def bench_classifier(
    dpo: list[dict[str, Any]], kto: list[dict[str, Any]], ky: np.ndarray, quick: bool
) -> dict[str, Any]:
    import polars as pl

    from qdc.embed import EmbedConfig
    from qdc.io import IOConfig, prepare
    from qdc.quality import classifier

    model = "hash:256" if quick else "default"
    ecfg = EmbedConfig(model=model, cache=True)
    io = IOConfig()
    good = prepare(pl.DataFrame([{"instruction": r["instruction"], "output": r["chosen"]} for r in dpo]), io)
    bad = prepare(pl.DataFrame([{"instruction": r["instruction"], "output": r["rejected"]} for r in dpo]), io)
    t0 = time.perf_counter()
    m = classifier.train(good, bad, ecfg)
    test = prepare(pl.DataFrame([{"instruction": prompt_of(r), "output": r["output"]} for r in kto]), io)
    p = classifier.predict(m, test, ecfg)
    return {
        "embed_model": model,
        "train": "dpo chosen/rejected",
        "test": "kto",
        "auc": auc(ky, p),
        "seconds": time.perf_counter() - t0,
    }


# -------------------------------------------------------------------------------------------- report


def render(r: dict[str, Any], cmd: str) -> str:
    v, t, a = r["vendi"], r["throughput"], r["accuracy"]
    lines = [
        "## Scoring (`qdc score-quality`, `qdc score-complexity`, `qdc diversity`)",
        "",
        f"Machine: {r['machine']}. Command: `{cmd}`. The machine is shared and noisy: medians of repeated runs,",
        "ratios measured side by side in one run.",
        "",
        f"### Vendi score (cosine kernel, d x d route), n = {v['n']:,}, d = 384",
        "",
        "| measure | value | goal |",
        "|---|---|---|",
        f"| qdc, all five orders, median of 3 | {v['wall_s']:.2f} s wall, {v['cpu_s']:.2f} s CPU (runs: "
        f"{', '.join(f'{w:.2f}' for w in v['wall_all'])}) | < 2 s |",
        "",
        "| n | qdc (d x d) | vendi-score `score_X` (n x n) | ratio | Vendi qdc / package |",
        "|---|---|---|---|---|",
    ]
    for s in v["side_by_side"]:
        lines.append(
            f"| {s['n']:,} | {s['qdc_s']:.3f} s | {s['package_s']:.1f} s | {s['ratio']:,.0f}x | "
            f"{s['qdc_vendi']:.6f} / {s['package_vendi']:.6f} |"
        )
    lines += [
        "",
        "### Throughput on one core (CPU time, real data)",
        "",
        "| data | rows | mean response chars | quality rows/s | complexity rows/s |",
        "|---|---|---|---|---|",
    ]
    for d in t["datasets"]:
        lines.append(
            f"| {d['name']} | {d['rows']:,} | {d['mean_chars']:,} | {d['quality_rows_s']:,.0f} | "
            f"{d['complexity_rows_s']:,.0f} |"
        )
    lines.append(
        f"| **all** | {t['all']['rows']:,} | | **{t['all']['quality_rows_s']:,.0f}** | "
        f"**{t['all']['complexity_rows_s']:,.0f}** |"
    )
    j = a["junk"]
    lines += [
        "",
        "### Quality accuracy (default heuristic scorer vs response length alone)",
        "",
        "| test | rows | heuristic | length alone |",
        "|---|---|---|---|",
        f"| KTO desirable vs undesirable, ROC-AUC | {a['kto']['rows']} | {a['kto']['auc_quality']:.3f} | "
        f"{a['kto']['auc_length']:.3f} |",
        f"| DPO chosen vs rejected, ROC-AUC | {2 * a['dpo']['pairs']} | {a['dpo']['auc_quality']:.3f} | "
        f"{a['dpo']['auc_length']:.3f} |",
        f"| DPO pairs ordered right (ties 1/2) | {a['dpo']['pairs']} | {a['dpo']['pair_acc_quality']:.3f} | "
        f"{a['dpo']['pair_acc_length']:.3f} |",
        f"| honest answers vs planted junk (all kinds), ROC-AUC | {j['honest_rows']} + junk | "
        f"{j['all']['auc_quality']:.3f} | {j['all']['auc_length']:.3f} |",
        f"| KTO + judge-gaming junk (salad, soup, truncated) as bad, ROC-AUC | {a['kto_plus_junk']['rows']} | "
        f"{a['kto_plus_junk']['auc_quality']:.3f} | {a['kto_plus_junk']['auc_length']:.3f} |",
        f"| Self-Instruct, 8 GPT-3 models ranked by the paper's human eval, Spearman | "
        f"{a['self_instruct']['rows']} | {a['self_instruct']['spearman_quality']:.3f} | "
        f"{a['self_instruct']['spearman_length']:.3f} |",
        f"| classifier ({a['classifier']['embed_model']}; trained on DPO, tested on KTO), ROC-AUC | "
        f"{a['kto']['rows']} | {a['classifier']['auc']:.3f} | |",
        "",
        "Planted junk, one kind at a time (ROC-AUC honest vs that kind; mean qdc_quality of the junk):",
        "",
        "| kind | heuristic | length alone | mean quality |",
        "|---|---|---|---|",
    ]
    for kind, s in j["kinds"].items():
        lines.append(f"| {kind} | {s['auc_quality']:.3f} | {s['auc_length']:.3f} | {s['mean_quality']:.3f} |")
    lines += [
        "",
        f"Honest answers: mean quality {j['all']['honest_mean']:.3f}, {j['all']['honest_below_0.3']:.1%} "
        f"below 0.3; junk: mean {j['all']['junk_mean']:.3f}, {j['all']['junk_below_0.3']:.1%} below 0.3.",
        "",
        "Mean quality by Self-Instruct model (worst to best by the paper's human evaluation): "
        + ", ".join(f"{k} {x:.3f}" for k, x in a["self_instruct"]["mean_quality_by_model"].items())
        + ".",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat, hashing embedder")
    args = ap.parse_args()
    cmd = ".venv/bin/python benchmarks/bench_scoring.py" + (" --quick" if args.quick else "")
    r: dict[str, Any] = {"machine": machine(), "command": cmd, "threads": os.cpu_count()}
    r["throughput"] = bench_throughput(args.quick)
    r["accuracy"] = bench_accuracy(args.quick)
    r["vendi"] = bench_vendi(args.quick)
    md = render(r, cmd)
    write_results("scoring", md, r)
    print(md)


if __name__ == "__main__":
    main()
