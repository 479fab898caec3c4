"""Out-of-core benchmark: synthetic rows through `qdc scale dedup` (exact + MinHash), `qdc scale select` and
`qdc scale score` (heuristic quality + complexity).

Rows: 30-60 words each from a Zipf-distributed synthetic vocabulary of 50,000 words; 10% are exact copies of
an earlier row (half with a trailing '!', which normalisation removes) and 10% near copies (one word
replaced), their sources drawn from a reservoir of earlier rows so that copies land far from their
originals (across batches). Each stage runs in its own child process, which reports its wall time and its
peak RSS (getrusage ru_maxrss: anonymous memory plus the mapped file pages it touched) and aborts if its
RSS passes --rss-limit. Select runs on the dedup output with random unit float16 embeddings (one row per
kept row) in a memory-mapped .npy, budget 10% of its rows, score = the rows' `quality` field. Score streams
the whole input (plain text rows: the text is scored as the response for quality, as the instruction for
complexity) and writes every row with the 17 score columns.

Run: .venv/bin/python benchmarks/bench_scale.py [--rows 1000000] [--quick] [--append]
(--append merges the run into an existing results/scale.json, so 1M and 10M runs share one table.)
--only-score times just `scale score` and adds it to the stored run of the same --rows (with --ray: local,
Ray 1 and 2 workers, added to the stored Ray table), leaving every other stored figure as it is.
--ray --only-embed times `scale embed` (the bundled all-MiniLM-L6-v2, embedding cache off, float16 .npy) of
--embed-rows real instruction rows (GPTeacher from the shared data, the three subsets in turn; the synthetic
input if that is missing) with the local backend and with Ray 1 and 2 workers, compares each Ray .npy with the
local one and adds the three rows to the stored Ray table, leaving every other stored figure as it is.
--only-semantic times `scale dedup --method semantic` on --rows synthetic rows with a float16 384-d embedding
file in which ~5% of rows are planted near copies (another row's vector + small noise, renormalised), and the
in-memory `qdc.dedup` semantic path against the streamed one on the first --semantic-memory-rows rows (the
embeddings handed over as the qdc_embedding column); stored under "semantic", every other figure kept.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import RESULTS, SHARED_DATA, machine, write_results

VOCAB = 50_000
BLOCK = 200_000
RESERVOIR = 200_000


def _vocab(rng: np.random.Generator) -> np.ndarray:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lens = rng.integers(3, 10, size=VOCAB)
    words = {"".join(rng.choice(letters, size=int(n))) for n in lens}
    return np.array(sorted(words))


def generate(path: Path, rows: int, seed: int = 0) -> dict[str, Any]:
    """Write `rows` JSONL rows with planted exact and near copies; returns the planted counts."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    vocab = _vocab(rng)
    vocab_arrow = pa.array(vocab.tolist(), type=pa.string())
    ranks = np.arange(1, vocab.shape[0] + 1, dtype=np.float64)
    p = 1.0 / ranks
    p /= p.sum()
    cdf = np.cumsum(p)
    lmax = 60
    res_words = np.zeros((RESERVOIR, lmax), dtype=np.int32)
    res_len = np.zeros(RESERVOIR, dtype=np.int64)
    filled = 0
    planted = {"exact": 0, "near": 0}
    with open(path, "wb") as fh:
        block = min(BLOCK, max(1_000, rows // 10))
        for start in range(0, rows, block):
            b = min(block, rows - start)
            words = np.searchsorted(cdf, rng.random((b, lmax))).astype(np.int32)
            words = np.minimum(words, vocab.shape[0] - 1)
            lens = rng.integers(30, 61, size=b)
            kind = rng.random(b)
            bang = np.zeros(b, dtype=bool)
            if filled:
                ex = np.flatnonzero(kind < 0.10)
                nr = np.flatnonzero((kind >= 0.10) & (kind < 0.20))
                for sel, name in ((ex, "exact"), (nr, "near")):
                    src = rng.integers(0, filled, size=sel.shape[0])
                    words[sel] = res_words[src]
                    lens[sel] = res_len[src]
                    planted[name] += int(sel.shape[0])
                pos = (rng.random(nr.shape[0]) * lens[nr]).astype(np.int64)
                words[nr, pos] = rng.integers(0, vocab.shape[0], size=nr.shape[0])
                bang[ex] = rng.random(ex.shape[0]) < 0.5
            # Refresh the reservoir with a random part of this block.
            take = min(b, RESERVOIR // 4)
            slots = (
                rng.integers(0, RESERVOIR, size=take)
                if filled >= RESERVOIR
                else np.arange(filled, min(RESERVOIR, filled + take))
            )
            pick = rng.choice(b, size=slots.shape[0], replace=False)
            res_words[slots], res_len[slots] = words[pick], lens[pick]
            filled = max(filled, int(slots.max()) + 1 if slots.shape[0] else filled)
            mask = np.arange(lmax)[None, :] < lens[:, None]
            flat = vocab_arrow.take(pa.array(words[mask]))
            offsets = np.zeros(b + 1, dtype=np.int32)
            np.cumsum(lens, out=offsets[1:])
            text = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), flat), " ")
            frame = pl.DataFrame(
                {
                    "id": pl.int_range(start, start + b, eager=True).cast(pl.String).str.replace(r"^", "row"),
                    "text": pl.from_arrow(text),
                    "quality": np.round(rng.random(b), 4),
                }
            ).with_columns(pl.when(pl.Series(bang)).then(pl.col("text") + " !").otherwise(pl.col("text")).alias("text"))
            frame.write_ndjson(fh)
    return planted


def embed_input(path: Path, rows: int) -> str:
    """Write `rows` real instruction rows to `path` (GPTeacher codegen, roleplay, toolformer in turn, from the
    top of each file); the synthetic input when the shared data is missing. Returns what was written."""
    files = sorted((SHARED_DATA / "gpteacher").glob("*.jsonl"))
    if not files:
        generate(path, rows, seed=2)
        return f"{rows:,} synthetic rows (the shared GPTeacher data was missing)"
    handles = [open(f, encoding="utf-8") for f in files]  # noqa: SIM115 - closed below
    taken = 0
    try:
        with open(path, "w", encoding="utf-8") as out:
            while taken < rows and handles:
                for fh in list(handles):
                    line = fh.readline()
                    if not line:
                        handles.remove(fh)
                        continue
                    if line.strip() and taken < rows:
                        out.write(line if line.endswith("\n") else line + "\n")
                        taken += 1
    finally:
        for fh in handles:
            fh.close()
    names = ", ".join(f.stem for f in files)
    return f"{taken:,} GPTeacher rows ({names} in turn, from the top of each file)"


def _watchdog(limit: int) -> None:
    import psutil

    proc = psutil.Process()

    def run() -> None:
        while True:
            if proc.memory_info().rss > limit:
                print(json.dumps({"error": f"RSS passed the limit of {limit / 2**30:.1f} GiB; aborted"}), flush=True)
                os._exit(3)
            time.sleep(0.2)

    threading.Thread(target=run, daemon=True).start()


def _peak_rss() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def child(stage: str, args: argparse.Namespace) -> None:
    """One stage in this process; prints one JSON line."""
    from qdc.scale.options import RunOptions

    _watchdog(int(args.rss_limit * 2**30))
    work = Path(args.work)
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    if stage == "gen":
        out["planted"] = generate(work / "in.jsonl", args.rows)
        out["bytes"] = (work / "in.jsonl").stat().st_size
    elif stage == "dedup":
        from qdc.dedup import DedupConfig
        from qdc.dedup.stream import StreamOptions, stream_dedup

        out["stats"] = stream_dedup(
            str(work / "in.jsonl"),
            DedupConfig(),
            opts=StreamOptions(RunOptions(args.batch_rows), work_dir=str(work)),
            output=str(work / "kept.jsonl"),
            removed=str(work / "removed.jsonl"),
        )
    elif stage.startswith("ray-"):
        from qdc.dedup import DedupConfig
        from qdc.dedup.stream import StreamOptions, stream_dedup

        workers = None if stage == "ray-local" else int(stage.split("-")[1])
        opts = StreamOptions(
            RunOptions(args.batch_rows, backend="local" if workers is None else "ray", ray_cpus=workers),
            work_dir=str(work),
        )
        out["stats"] = stream_dedup(
            str(work / "in.jsonl"), DedupConfig(), opts=opts, output=str(work / f"kept-{stage}.jsonl")
        )
        if workers is not None:
            import ray

            ray.shutdown()
        out["same_as_local"] = None
        local = work / "kept-ray-local.jsonl"
        if workers is not None and local.exists():
            out["same_as_local"] = local.read_bytes() == (work / f"kept-{stage}.jsonl").read_bytes()
    elif stage == "dedup-memory":
        from qdc.dedup import DedupConfig, dedup
        from qdc.io import read_records, write_records

        df = read_records(work / "in.jsonl")
        res = dedup(df, DedupConfig())
        write_records(res.kept, work / "kept_mem.jsonl")
        out["stats"] = {"rows_removed": res.stats["rows_removed"]}
    elif stage in ("emb", "emb-in"):
        from qdc.scale.store import create, release

        with open(work / ("kept.jsonl" if stage == "emb" else "in.jsonl"), "rb") as fh:
            n = sum(1 for _ in fh)
        x = create(work / "emb.npy", n, args.dim, "float16")
        rng = np.random.default_rng(1)
        for s in range(0, n, 262_144):
            v = rng.standard_normal((min(262_144, n - s), args.dim), dtype=np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            x[s : s + v.shape[0]] = v
            x.flush()
            release(x, s, s + v.shape[0])  # written pages leave the resident set (they stay in the page cache)
        x.flush()
        out["rows"], out["bytes"] = n, (work / "emb.npy").stat().st_size
    elif stage.startswith("rsel-"):
        from qdc.select.stream import ScaleSelectConfig, stream_select

        workers = None if stage == "rsel-local" else int(stage.split("-")[1])
        out["stats"] = stream_select(
            str(work / "in.jsonl"),
            str(work / "emb.npy"),
            ScaleSelectConfig(budget=0.1, score="quality"),
            output=str(work / f"picked-{stage}.jsonl"),
            run=RunOptions(args.batch_rows, backend="local" if workers is None else "ray", ray_cpus=workers),
        )
        local = work / "picked-rsel-local.jsonl"
        out["same_as_local"] = (
            None if workers is None else local.read_bytes() == (work / f"picked-{stage}.jsonl").read_bytes()
        )
    elif stage.startswith("score"):
        from qdc.complexity import ComplexityConfig
        from qdc.quality import QualityConfig
        from qdc.quality.stream import stream_score

        workers = None if stage in ("score", "score-local") else int(stage.split("-")[1])
        scored = work / f"scored-{stage}.jsonl"
        out["stats"] = stream_score(
            str(work / "in.jsonl"),
            quality=QualityConfig(),
            complexity=ComplexityConfig(),
            output=str(scored),
            run=RunOptions(args.batch_rows, backend="local" if workers is None else "ray", ray_cpus=workers),
        )
        out["output_bytes"] = scored.stat().st_size
        out["seconds"] = round(time.perf_counter() - t0, 2)  # before the comparison below
        local = work / "scored-score-local.jsonl"
        out["same_as_local"] = None if workers is None else local.read_bytes() == scored.read_bytes()
        if stage == "score":
            scored.unlink()  # at 10M rows the scored copy is large; nothing reads it
        if workers is not None:
            import ray

            ray.shutdown()
    elif stage.startswith("embed-"):
        from qdc.embed import EmbedConfig
        from qdc.embed.stream import stream_embed

        workers = None if stage == "embed-local" else int(stage.split("-")[1])
        npy = work / f"vec-{stage}.npy"
        # What `qdc scale embed embed-in.jsonl -o vec.npy --no-cache [--backend ray --ray-cpus N]` runs.
        cfg = EmbedConfig(model="default", cache=False, cache_dir=work / "cache")
        out["stats"] = stream_embed(
            str(work / "embed-in.jsonl"),
            npy,
            cfg,
            dtype="float16",
            run=RunOptions(args.batch_rows, backend="local" if workers is None else "ray", ray_cpus=workers or 2),
        )
        out["seconds"] = round(time.perf_counter() - t0, 2)  # before the comparison below
        if workers is not None:
            import ray

            ray.shutdown()
            ref = np.load(str(work / "vec-embed-local.npy"))
            got = np.load(str(npy))
            out["same_as_local"] = bool(ref.shape == got.shape and np.array_equal(ref, got))
            diff = np.abs(ref.astype(np.float32) - got.astype(np.float32))
            out["max_abs_diff"] = float(diff.max()) if diff.size else 0.0
            out["rows_differing"] = int((diff > 0).any(axis=1).sum())
            a, b = ref.astype(np.float32), got.astype(np.float32)
            cos = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
            out["min_row_cosine"] = float(cos.min()) if cos.size else 1.0
    elif stage == "sem-emb":
        out.update(semantic_embeddings(work, args.rows, args.dim))
    elif stage.startswith("sem-stream"):
        from qdc.dedup import DedupConfig
        from qdc.dedup.stream import StreamOptions, stream_dedup

        name = "in.jsonl" if stage == "sem-stream" else "sub.jsonl"
        emb = "sem.npy" if stage == "sem-stream" else "sub.npy"
        out["stats"] = stream_dedup(
            str(work / name),
            DedupConfig(methods="semantic"),
            opts=StreamOptions(RunOptions(args.batch_rows), work_dir=str(work), embeddings=str(work / emb)),
            output=str(work / f"kept-{stage}.jsonl"),
            removed=str(work / f"rm-{stage}.jsonl"),
        )
        out["planted_removed"] = _planted_removed(work / f"rm-{stage}.jsonl", work / "planted.npy")
    elif stage == "sem-memory":
        import polars as pl

        from qdc import schema
        from qdc.dedup import DedupConfig, dedup
        from qdc.io import read_records, write_records

        df = read_records(work / "sub.jsonl")
        x = np.load(str(work / "sub.npy"))
        df = df.with_columns(pl.Series(schema.EMBEDDING, x.astype(np.float32)))
        del x
        t_read = time.perf_counter() - t0
        res = dedup(df, DedupConfig(methods="semantic"))
        write_records(res.kept, work / "kept-sem-memory.jsonl")
        write_records(res.removed, work / "rm-sem-memory.jsonl")
        out["stats"] = {
            "rows_in": df.height,
            "rows_removed": res.stats["rows_removed"],
            "methods": res.stats["methods"],
            "read_seconds": round(t_read, 2),
        }
        out["planted_removed"] = _planted_removed(work / "rm-sem-memory.jsonl", work / "planted.npy")
    elif stage == "select":
        from qdc.select.stream import ScaleSelectConfig, stream_select

        out["stats"] = stream_select(
            str(work / "kept.jsonl"),
            str(work / "emb.npy"),
            ScaleSelectConfig(budget=0.1, score="quality"),
            output=str(work / "picked.jsonl"),
            run=RunOptions(args.batch_rows),
        )
    out.setdefault("seconds", round(time.perf_counter() - t0, 2))
    out["peak_rss_bytes"] = _peak_rss()
    print(json.dumps(out, default=str), flush=True)


PLANT_RATE = 0.05
PLANT_NOISE = 0.1
"""Noise norm relative to the unit vector: cosine ~ 1 / sqrt(1 + 0.01), about 0.995, above 1 - eps = 0.95."""


def semantic_embeddings(work: Path, n: int, dim: int, seed: int = 7) -> dict[str, Any]:
    """Random unit float16 (n, dim) vectors in work/sem.npy; ~5% of rows are near copies of an earlier row
    (that row's vector + noise of norm PLANT_NOISE, renormalised). Planted rows go to work/planted.npy."""
    from qdc.scale.store import create, release

    rng = np.random.default_rng(seed)
    x = create(work / "sem.npy", n, dim, "float16")
    step = 262_144
    planted: list[np.ndarray] = []
    for s in range(0, n, step):
        b = min(step, n - s)
        v = rng.standard_normal((b, dim), dtype=np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        local = np.flatnonzero(rng.random(b) < PLANT_RATE)
        local = local[(s + local) > 0]
        src = (rng.random(local.shape[0]) * (s + local)).astype(np.int64)  # any earlier row
        noise = rng.standard_normal((local.shape[0], dim), dtype=np.float32)
        noise *= PLANT_NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        old = np.flatnonzero(src < s)
        if old.shape[0]:
            order = old[np.argsort(src[old], kind="stable")]
            w = np.asarray(x[src[order]], dtype=np.float32) + noise[order]
            v[local[order]] = w / np.linalg.norm(w, axis=1, keepdims=True)
        for i in np.flatnonzero(src >= s).tolist():  # sources in this block, in order (copies of copies too)
            w1 = v[src[i] - s] + noise[i]
            v[local[i]] = w1 / np.linalg.norm(w1)
        x[s : s + b] = v
        x.flush()
        release(x, s, s + b)
        planted.append(np.stack([s + local, src], axis=1))
    np.save(work / "planted.npy", np.concatenate(planted))  # (copy, source) pairs
    return {
        "rows": n,
        "dim": dim,
        "planted": int(sum(p.shape[0] for p in planted)),
        "bytes": (work / "sem.npy").stat().st_size,
    }


def _planted_removed(ledger: Path, planted_path: Path) -> dict[str, int]:
    """Rows removed, and planted (copy, source) pairs within the file of which one side was removed (SemDeDup's
    order hard keeps the member farther from the centroid, which may be the copy)."""
    import polars as pl

    pairs = np.load(planted_path)
    ids = pl.read_ndjson(ledger, schema={"id": pl.String})["id"].to_list() if ledger.stat().st_size else []
    gone = np.zeros(int(pairs.max()) + 2 if pairs.size else 1, dtype=bool)
    rows = np.array([int(i[3:]) for i in ids], dtype=np.int64)
    rows = rows[rows < gone.shape[0]]
    gone[rows] = True
    with open(ledger.parent / ledger.name.replace("rm-", "kept-"), "rb") as fh:
        n = sum(1 for _ in fh) + len(ids)
    inside = pairs[pairs[:, 0] < n]
    caught = gone[inside[:, 0]] | gone[inside[:, 1]]
    return {"removed": len(ids), "planted_caught": int(caught.sum()), "planted": int(inside.shape[0])}


def _run(stage: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--stage",
        stage,
        "--rows",
        str(args.rows),
        "--work",
        args.work,
        "--semantic-memory-rows",
        str(args.semantic_memory_rows),
        "--embed-rows",
        str(args.embed_rows),
        "--dim",
        str(args.dim),
        "--batch-rows",
        str(args.batch_rows),
        "--rss-limit",
        str(args.rss_limit),
    ]
    print(f"[{time.strftime('%H:%M:%S')}] {stage} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "QDC_QUIET": "1"})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"stage {stage} failed ({proc.returncode}): {proc.stderr[-2000:]} {proc.stdout[-500:]}")
    res: dict[str, Any] = json.loads(lines[-1])
    print(f"    {stage}: {res['seconds']} s, peak RSS {res['peak_rss_bytes'] / 2**30:.2f} GiB", file=sys.stderr)
    return res


def _ray_version() -> str:
    try:
        import ray

        return str(ray.__version__)
    except ImportError:
        return ""


def _gib(b: float) -> str:
    return f"{b / 2**30:.2f}"


def render(runs: list[dict[str, Any]]) -> str:
    lines = [
        "## Out-of-core dedup and selection (`qdc scale`)",
        "",
        f"Machine: {runs[-1]['machine']}. Commands: "
        + "; ".join(f"`{r['command']}` ({r['date']})" for r in runs)
        + ". One run per size, each stage in its own process; times are single runs on a shared 2-core machine; "
        "every figure is measured, none extrapolated. Peak RSS is `getrusage` ru_maxrss of the stage's process "
        "(it also counts the file pages the process touched through memory maps).",
        "",
        "Input: synthetic JSONL, 30-60 words per row (Zipf vocabulary of 50k words), 10% planted exact copies "
        "and 10% near copies (one word replaced) of earlier rows, drawn from across the whole file. Dedup: "
        "exact then MinHash (Jaccard 0.8, 128 permutations, 3-grams, 14 x 9 bands), batches of "
        f"{runs[-1]['batch_rows']:,} rows, kept rows and ledger written. Select: kMQ, budget 10% of the kept "
        "rows, k = clamp(B/10, 2, 1024), given random unit float16 embeddings in a memory-mapped .npy."
        + (
            " Score: `qdc scale score` of the whole input (heuristic quality + complexity; plain text rows, so the "
            "text is the response for quality and the instruction for complexity), every row written with its "
            "17 score columns."
            if any("score" in r for r in runs)
            else ""
        ),
        "",
        "| rows | input | stage | seconds | rows/s | peak RSS GiB | estimate GiB | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        n = run["rows"]
        d = run["dedup"]
        st = d["stats"]
        sec = st["seconds"]
        lines.append(
            f"| {n:,} | {run['gen']['bytes'] / 2**30:.2f} GiB | dedup (exact + minhash) | {d['seconds']} | "
            f"{n / d['seconds']:,.0f} | {_gib(d['peak_rss_bytes'])} | {_gib(st['estimate']['memory_bytes'])} | "
            f"removed {st['methods']['exact']['removed']:,} exact + {st['methods']['minhash']['removed']:,} "
            f"minhash (planted {run['gen']['planted']['exact']:,} + {run['gen']['planted']['near']:,}); read+sign "
            f"{sec['read_and_sign']} s, group {sec['exact_groups'] + sec['minhash_groups']:.1f} s, write "
            f"{sec['write']} s; temp disk {st['work_disk_bytes'] / 2**30:.2f} GiB |"
        )
        s = run["select"]
        ss = s["stats"]
        lines.append(
            f"| {ss['rows_in']:,} | {run['emb']['bytes'] / 2**30:.2f} GiB emb | select (kmq) | {s['seconds']} | "
            f"{ss['rows_in'] / s['seconds']:,.0f} | {_gib(s['peak_rss_bytes'])} | "
            f"{_gib(ss['estimate']['memory_bytes'])} | {ss['selected']:,} selected, k={ss['clusters']['k']}, "
            f"{ss['embeddings']['dim']}-d; scores {ss['seconds']['read_scores']} s, train "
            f"{ss['seconds']['train']} s, assign {ss['seconds']['assign']} s, write {ss['seconds']['write']} s |"
        )
        if "score" in run:
            lines.append(_score_row(run))
        if "dedup_memory" in run:
            m = run["dedup_memory"]
            lines.append(
                f"| {n:,} | | in-memory `qdc.dedup` (for comparison) | {m['seconds']} | "
                f"{n / m['seconds']:,.0f} | {_gib(m['peak_rss_bytes'])} | | same rows removed: "
                f"{m['stats']['rows_removed'] == st['rows_removed']} |"
            )
    for run in runs:
        total = run["dedup"]["seconds"] + run["select"]["seconds"]
        peak = max(run["dedup"]["peak_rss_bytes"], run["select"]["peak_rss_bytes"])
        lines += [
            "",
            f"{run['rows']:,} rows: dedup + select {total:.0f} s ({total / 60:.1f} min), highest peak RSS "
            f"{_gib(peak)} GiB." + (f" {run['note']}" if run.get("note") else ""),
        ]
    return "\n".join(lines) + "\n"


def _score_row(run: dict[str, Any]) -> str:
    r = run["score"]
    st = r["stats"]
    when = f"; `{run['score_command']}` ({run['score_date']})" if run.get("score_command") else ""
    return (
        f"| {st['rows']:,} | {run['gen']['bytes'] / 2**30:.2f} GiB | score (quality + complexity) | "
        f"{r['seconds']} | {st['rows'] / r['seconds']:,.0f} | {_gib(r['peak_rss_bytes'])} | "
        f"{_gib(st['estimate']['memory_bytes'])} | every row written with 17 score columns "
        f"({r['output_bytes'] / 2**30:.2f} GiB); scan {st['seconds']['scan']} s, score + write "
        f"{st['seconds']['score_and_write']} s; mean quality {st['quality']['mean']}, complexity "
        f"{st['complexity']['mean']}{when} |"
    )


def _write_ray(run: dict[str, Any]) -> None:
    """The Ray comparison goes into scale.json under "ray" and into scale.md as its own table."""
    path = RESULTS / "scale.json"
    data = json.loads(path.read_text()) if path.exists() else {"runs": []}
    data["ray"] = run
    md = render(data["runs"]) if data["runs"] else "## Out-of-core dedup and selection (`qdc scale`)\n"
    write_results("scale", md + _extras(data), data)
    print(render_ray(run))


def render_ray(run: dict[str, Any]) -> str:
    n = run["rows"]
    lines = [
        "",
        "### Local backend against Ray (`--backend ray`)",
        "",
        f"{n:,} rows of the same synthetic input; `qdc scale dedup` (exact + MinHash, kept rows written) and "
        "`qdc scale select` (kmq, 10%, random 384-d float16 embeddings of all rows), "
        f"Ray {run.get('ray_version', '')} started locally with 1 or 2 worker CPUs on the same 2-core machine; "
        f"single runs, {run['date']}. Command: `{run['command']}`.",
        "",
        "| run | seconds | rows/s | peak RSS GiB (driver) | same output as local |",
        "|---|---|---|---|---|",
    ]
    for name, label in (
        ("ray-local", "dedup, local"),
        ("ray-1", "dedup, ray 1 worker"),
        ("ray-2", "dedup, ray 2 workers"),
        ("rsel-local", "select, local"),
        ("rsel-1", "select, ray 1 worker"),
        ("rsel-2", "select, ray 2 workers"),
        ("score-local", "score (quality + complexity), local"),
        ("score-1", "score (quality + complexity), ray 1 worker"),
        ("score-2", "score (quality + complexity), ray 2 workers"),
        ("embed-local", "embed (MiniLM, cache off), local"),
        ("embed-1", "embed (MiniLM, cache off), ray 1 worker"),
        ("embed-2", "embed (MiniLM, cache off), ray 2 workers"),
    ):
        r = run["ray"].get(name)
        if r is None:
            continue
        same = "—" if name.endswith("local") else str(r["same_as_local"])
        if name.startswith("embed-") and not name.endswith("local") and not r["same_as_local"]:
            same = (
                f"False: max abs diff {r['max_abs_diff']:.2g} ({r['rows_differing']:,} of "
                f"{r['stats']['rows']:,} rows differ; lowest row cosine {r['min_row_cosine']:.7f})"
            )
        extra = ""
        if name.startswith("rsel"):
            extra = f" (assign {r['stats']['seconds']['assign']} s)"
        if name.startswith("score"):
            extra = f" (run {r['stats']['seconds']['total']} s)"
        if name.startswith("embed-"):
            extra = f" (run {r['stats']['seconds']} s)"
        rows = r["stats"]["rows"] if name.startswith(("score", "embed-")) else n
        lines.append(
            f"| {label} | {r['seconds']}{extra} | {rows / r['seconds']:,.0f} | {_gib(r['peak_rss_bytes'])} | {same} |"
        )
    if run.get("score_command"):
        lines += [
            "",
            f"The three scoring rows (`qdc scale score`, heuristic quality + complexity of every row, "
            f"batches of {run['score_batch_rows']:,} rows, each batch a Ray Data `map_batches` over 2 slices "
            f"per worker CPU, two batches in flight) were measured later: `{run['score_command']}` "
            f'({run["score_date"]}). Their seconds include starting Ray; "run" is the scoring run alone.',
        ]
    if run.get("embed_command"):
        when = "in the same run" if run["embed_command"] == run["command"] else "later"
        step = run["embed_batch_rows"]
        batches = "in one batch" if step >= run["embed_rows"] else f"in batches of {step:,} rows"
        lines += [
            "",
            f"The three embedding rows were measured {when}, single runs: `{run['embed_command']}` "
            f"({run['embed_date']}; {run['embed_machine']}). Each is `qdc scale embed --model default "
            f"--no-cache` of {run['embed_input']}, {batches}: the bundled all-MiniLM-L6-v2 on the CPU, "
            "loaded offline; the embedding cache off, so every run computes every vector; a float16 .npy "
            "(the command's default). With Ray each worker loads its own copy of the model; the driver "
            "sorts the batch's texts longest first and cuts them into the chunks of 512 texts the local "
            "backend encodes, and each Ray task encodes whole chunks (Ray Data `map_batches` over "
            "`--ray-cpus` model-holding workers), so every text is padded in the same group as locally. "
            "Their seconds include "
            'loading the model and starting Ray; "run" is the `stream_embed` call without starting Ray '
            "(model load included). Peak RSS is the driver's: with Ray the model lives in the workers, which "
            'are not counted. "Same output" compares each Ray .npy with the local one element by element.',
        ]
    return "\n".join(lines) + "\n"


def render_semantic(sem: dict[str, Any]) -> str:
    """The streamed semantic dedup section of scale.md."""
    emb = sem["emb"]
    lines = [
        "",
        "### Streamed semantic dedup (`qdc scale dedup --method semantic --embeddings X.npy`)",
        "",
        f"{sem['rows']:,} synthetic rows (the generator above) with a {emb['dim']}-d float16 embedding file "
        f"({emb['bytes'] / 2**30:.2f} GiB) of random unit vectors in which {emb['planted']:,} rows "
        f"({100 * emb['planted'] / sem['rows']:.1f}%) are planted near copies: an earlier row's vector plus "
        f"noise of norm {sem['noise']}, renormalised (cosine about 0.995). SemDeDup at the defaults (eps 0.05, "
        "faithful, order hard, k = round(sqrt(n))), kept rows and ledger written, batches of "
        f"{sem['batch_rows']:,} rows. The in-memory `qdc.dedup` semantic path runs on the first "
        f"{sem['memory_rows']:,} rows (its embeddings handed over as the qdc_embedding column), beside the "
        "streamed path on the same rows. Single runs, each in its own process; "
        f"{sem['machine']}; {sem['date']}. Command: `{sem['command']}`.",
        "",
        "| rows | run | seconds | rows/s | peak RSS GiB | estimate GiB | removed / planted (pairs caught) | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, label in (
        ("stream", "scale dedup (streamed)"),
        ("stream_sub", "scale dedup (streamed)"),
        ("memory", "in-memory `qdc.dedup`"),
    ):
        r = sem.get(key)
        if r is None:
            continue
        st = r["stats"]
        n = st["rows_in"]
        planted = r["planted_removed"]["planted"]
        info = st["methods"]["semantic"]
        est = _gib(st["estimate"]["memory_bytes"]) if "estimate" in st else ""
        if key == "memory":
            notes = (
                f"k={info['clusters']}; read + embedding column {st['read_seconds']} s, semantic {info['seconds']} s"
            )
        else:
            sec = st["seconds"]
            trained = f"trained on {info['trained_on']:,}" if "trained_on" in info else "one global cluster"
            notes = (
                f"k={info['clusters']} ({trained}), largest cluster "
                f"{info['largest_cluster']:,}; read {sec['read_and_sign']} s, k-means + clusters {sec['semantic']} s, "
                f"write {sec['write']} s"
            )
        pr = r["planted_removed"]
        lines.append(
            f"| {n:,} | {label} | {r['seconds']} | {n / r['seconds']:,.0f} | {_gib(r['peak_rss_bytes'])} | "
            f"{est} | {pr['removed']:,} / {planted:,} ({pr['planted_caught']:,} caught) | {notes} |"
        )
    return "\n".join(lines) + "\n"


def _extras(data: dict[str, Any]) -> str:
    """The sections after the main table: the Ray comparison and streamed semantic dedup, when stored."""
    return (render_ray(data["ray"]) if "ray" in data else "") + (
        render_semantic(data["semantic"]) if "semantic" in data else ""
    )


def _add_semantic(run: dict[str, Any], args: argparse.Namespace) -> None:
    """--only-semantic: streamed semantic dedup at --rows and both paths at --semantic-memory-rows, stored
    under "semantic" in scale.json, every other stored figure kept."""
    work = Path(args.work)
    run["emb"] = _run("sem-emb", args)
    planted = np.load(work / "planted.npy")
    m = min(args.semantic_memory_rows, args.rows)
    with open(work / "in.jsonl", "rb") as src, open(work / "sub.jsonl", "wb") as dst:
        for i, line in enumerate(src):
            if i >= m:
                break
            dst.write(line)
    np.save(work / "sub.npy", np.load(str(work / "sem.npy"), mmap_mode="r")[:m])
    sem = {
        "rows": args.rows,
        "memory_rows": m,
        "batch_rows": args.batch_rows,
        "noise": PLANT_NOISE,
        "machine": run["machine"],
        "date": run["date"],
        "command": run["command"],
        "emb": run["emb"],
        "planted_full": int(planted.shape[0]),
        "planted_sub": int((planted[:, 0] < m).sum()),
    }
    sem["stream"] = _run("sem-stream", args)
    sem["stream_sub"] = _run("sem-stream-sub", args)
    sem["memory"] = _run("sem-memory", args)
    path = RESULTS / "scale.json"
    data = json.loads(path.read_text()) if path.exists() else {"runs": []}
    data["semantic"] = sem
    md = (render(data["runs"]) if data["runs"] else "## Out-of-core dedup and selection (`qdc scale`)\n") + _extras(
        data
    )
    write_results("scale", md, data)
    print(md)


def _add_score(run: dict[str, Any], args: argparse.Namespace) -> None:
    """--only-score: time scale score and merge it into the stored results, keeping every other figure."""
    path = RESULTS / "scale.json"
    data = json.loads(path.read_text()) if path.exists() else {"runs": []}
    stamp = {"score_command": run["command"], "score_date": run["date"], "score_batch_rows": args.batch_rows}
    if args.ray:
        stored = data.get("ray")
        if stored is None or stored["rows"] != args.rows:
            raise SystemExit(f"no stored Ray run of {args.rows:,} rows to add scoring to; run --ray first")
        stored["ray"].update({name: _run(name, args) for name in ("score-local", "score-1", "score-2")})
        stored.update(stamp)
    else:
        same = [r for r in data["runs"] if r["rows"] == args.rows]
        if not same:
            raise SystemExit(f"no stored run of {args.rows:,} rows to add scoring to; run without --only-score")
        same[0]["score"] = _run("score", args)
        same[0].update(stamp)
    md = render(data["runs"]) if data["runs"] else "## Out-of-core dedup and selection (`qdc scale`)\n"
    write_results("scale", md + _extras(data), data)
    print(md + _extras(data))


def _add_embed(run: dict[str, Any], args: argparse.Namespace) -> None:
    """--ray --only-embed: time scale embed (local, Ray 1 and 2 workers) into the stored Ray table."""
    path = RESULTS / "scale.json"
    data = json.loads(path.read_text()) if path.exists() else {"runs": []}
    stored = data.get("ray")
    if stored is None:
        raise SystemExit("no stored Ray run to add embedding to; run --ray first")
    source = embed_input(Path(args.work) / "embed-in.jsonl", args.embed_rows)
    stored["ray"].update({name: _run(name, args) for name in ("embed-local", "embed-1", "embed-2")})
    stored.update(
        {
            "embed_command": run["command"],
            "embed_date": run["date"],
            "embed_machine": run["machine"],
            "embed_rows": args.embed_rows,
            "embed_batch_rows": args.batch_rows,
            "embed_input": source,
        }
    )
    md = render(data["runs"]) if data["runs"] else "## Out-of-core dedup and selection (`qdc scale`)\n"
    write_results("scale", md + _extras(data), data)
    print(md + _extras(data))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="20,000 rows, 64-d embeddings")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--batch-rows", type=int, default=100_000)
    ap.add_argument("--work", default=None, help="folder for the data (default: a temp folder, removed after)")
    ap.add_argument("--rss-limit", type=float, default=16.0, help="GiB; a stage above it is aborted")
    ap.add_argument("--compare-in-memory", action="store_true", help="also time qdc.dedup on the whole input")
    ap.add_argument("--append", action="store_true", help="merge into the existing results/scale.json")
    ap.add_argument("--note", default="")
    ap.add_argument(
        "--ray",
        action="store_true",
        help="instead: time scale dedup with the local backend and with Ray (1 and 2 workers)",
    )
    ap.add_argument(
        "--only-score",
        action="store_true",
        help="time only scale score and add it to the stored run of the same --rows (with --ray: "
        "local, Ray 1 and 2 workers, added to the stored Ray table)",
    )
    ap.add_argument(
        "--only-embed",
        action="store_true",
        help="with --ray: time only scale embed (default model, cache off) of --embed-rows real rows, "
        "local and Ray 1 and 2 workers, and add them to the stored Ray table",
    )
    ap.add_argument("--embed-rows", type=int, default=2_000, help="rows embedded by --ray --only-embed")
    ap.add_argument(
        "--only-semantic",
        action="store_true",
        help="time only streamed semantic dedup (--rows, planted 5%% near-copy embeddings) and the "
        'in-memory path at --semantic-memory-rows; stored under "semantic", the rest kept',
    )
    ap.add_argument(
        "--semantic-memory-rows", type=int, default=200_000, help="rows of the in-memory semantic comparison"
    )
    ap.add_argument("--render-only", action="store_true", help="rewrite scale.md from scale.json")
    ap.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.render_only:
        data = json.loads((RESULTS / "scale.json").read_text())
        write_results("scale", render(data["runs"]) + _extras(data), data)
        return
    if args.quick:
        args.rows, args.dim, args.batch_rows = 20_000, 64, 5_000
        args.semantic_memory_rows = min(args.semantic_memory_rows, 5_000)
    if args.stage:
        child(args.stage, args)
        return
    own = args.work is None
    if own:
        args.work = str(Path(os.environ.get("TMPDIR", "/tmp")) / f"qdc-bench-scale-{os.getpid()}")
    Path(args.work).mkdir(parents=True, exist_ok=True)
    try:
        run: dict[str, Any] = {
            "rows": args.rows,
            "batch_rows": args.batch_rows,
            "machine": machine(),
            "ray_version": _ray_version(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": "python benchmarks/bench_scale.py " + " ".join(sys.argv[1:]),
            "note": args.note,
        }
        if args.only_embed:
            if not args.ray:
                raise SystemExit("--only-embed goes with --ray (the embedding rows live in the Ray table)")
            _add_embed(run, args)
            return
        run["gen"] = _run("gen", args)
        if args.only_semantic:
            _add_semantic(run, args)
            return
        if args.only_score:
            _add_score(run, args)
            return
        if args.ray:
            run["ray"] = {
                name: _run(name, args)
                for name in (
                    "ray-local",
                    "ray-1",
                    "ray-2",
                    "emb-in",
                    "rsel-local",
                    "rsel-1",
                    "rsel-2",
                    "score-local",
                    "score-1",
                    "score-2",
                )
            }
            run["embed_input"] = embed_input(Path(args.work) / "embed-in.jsonl", args.embed_rows)
            run["ray"].update({name: _run(name, args) for name in ("embed-local", "embed-1", "embed-2")})
            run.update(
                {
                    "embed_command": run["command"],
                    "embed_date": run["date"],
                    "embed_machine": run["machine"],
                    "embed_rows": args.embed_rows,
                    "embed_batch_rows": args.batch_rows,
                }
            )
            _write_ray(run)
            return
        run["dedup"] = _run("dedup", args)
        if args.compare_in_memory:
            run["dedup_memory"] = _run("dedup-memory", args)
        run["emb"] = _run("emb", args)
        run["select"] = _run("select", args)
        run["score"] = _run("score", args)
    finally:
        if own:
            shutil.rmtree(args.work, ignore_errors=True)
    runs = [run]
    path = RESULTS / "scale.json"
    if args.append and path.exists():
        old = json.loads(path.read_text()).get("runs", [])
        runs = sorted([r for r in old if r["rows"] != run["rows"]] + [run], key=lambda r: r["rows"])
    if args.quick and not args.append:
        print(render(runs))
        return
    write_results("scale", render(runs), {"runs": runs})
    print(render(runs))


if __name__ == "__main__":
    main()
