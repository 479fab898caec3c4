"""Out-of-core exact + MinHash-LSH dedup: the same kept rows as `qdc.dedup.dedup`, in bounded memory.

Pass 1 reads the input in batches (`qdc.io.iter_batches`) and, per batch, computes with the functions of
`qdc.dedup` (so results match the in-memory path bit for bit):

- exact: a 128-bit hash of the normalised text (`qdc.dedup.normalize.normalise`), 16 B per row in RAM;
- MinHash: word-n-gram shingles (`shingle_hashes`), signatures (`signatures`) and band keys (`band_keys`).
  The 32-bit shingles go to a flat file on disk (read back through a memory map for verification); every
  band key goes, as a (key, row, band) record, to one of P partition files chosen by key, so all rows
  sharing a key land in the same partition.

Then exact groups come from sorting the hashes (keeper: the best row by the keep policy, ties to the earlier
row). MinHash runs on the rows exact kept: each partition is loaded alone, its records sorted by
(band, key, row), candidate pairs made exactly as `qdc.dedup.lsh.candidate_pairs` makes them (every pair in
a bucket; in buckets over cap + 1 rows, pairs at most cap apart), and verified by the true Jaccard of the
shingle sets (`qdc.dedup.jaccard`, the in-memory verification). Verified pairs are joined by union-find
(connected components) into groups; each group keeps its best row. Pass 2 reads the input again and writes
the kept rows and the ledger of removed rows (same columns and bytes as `qdc dedup`).

Semantic dedup (SemDeDup) runs last, on the rows exact and MinHash kept, over a memory-mapped embedding file
(`StreamOptions.embeddings`, one row per input row): `qdc.dedup.stream_semantic`.

Not streamed (refused with exit 2): `--against` reference sets, `--set verify=false`, and a method order other
than exact, minhash, semantic (any of them may be left out).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from qdc import schema
from qdc.dedup.config import FIELD_COLUMNS, DedupConfig
from qdc.dedup.exact import first_of_groups
from qdc.dedup.groups import batch_priority, parse_keep
from qdc.dedup.normalize import normalise
from qdc.dedup.report import chain_figures
from qdc.dedup.steps import resolve
from qdc.dedup.stream_minhash import (
    local_candidates,
    minhash_groups,
    ray_candidates,
    shingle_batch,
    sign_batch,
)
from qdc.dedup.stream_write import METHOD_CODES, write_pass
from qdc.errors import ConfigError
from qdc.io import IOConfig, ReadReport, sweep_stale
from qdc.io.read import iter_batches, sample_lines
from qdc.progress import progress
from qdc.scale import memory
from qdc.scale.options import RunOptions


@dataclass
class StreamOptions:
    """How the streaming run is organised (not what it finds)."""

    run: RunOptions = field(default_factory=RunOptions)
    """Batch rows, memory limit and executor (with ray, MinHash signatures and band grouping run as Ray Data
    operations, `qdc.scale.ray`)."""
    partitions: int | None = None
    """Band-key partition files; default: enough for about 4M records (72 MB) each, at least 16."""
    work_dir: str | None = None
    """Folder for the temporary files (default: the system temp folder); removed at the end."""
    keep_work: bool = False
    embeddings: str | None = None
    """The (n, d) float16/float32 .npy of the semantic method (row i embeds input row i), memory-mapped."""


@dataclass
class _Pass1:
    n: int = 0
    batches: int = 0
    h1: list[np.ndarray] = field(default_factory=list)
    h2: list[np.ndarray] = field(default_factory=list)
    counts: list[np.ndarray] = field(default_factory=list)
    id_lens: list[np.ndarray] = field(default_factory=list)
    prio: list[np.ndarray] = field(default_factory=list)
    records: int = 0
    texts: list[tuple[np.ndarray, list[str]]] = field(default_factory=list)
    """With the Ray backend: (rows, texts) of every batch, handed to Ray after the exact step."""


ORDER = ("exact", "minhash", "semantic")


def _check(cfg: DedupConfig, opts: StreamOptions) -> None:
    methods = tuple(cfg.methods)
    if list(methods) != [m for m in ORDER if m in methods]:
        raise ConfigError(
            "streaming dedup runs its methods in the order exact, minhash, semantic (any may be "
            "left out); e.g. --method exact,minhash,semantic"
        )
    if "semantic" in methods and opts.embeddings is None:
        raise ConfigError(
            "streaming semantic dedup needs --embeddings X.npy (one row per input row; "
            "`qdc embed --stream INPUT -o X.npy` writes it)"
        )
    if "minhash" in methods and not cfg.verify:
        raise ConfigError("streaming dedup always verifies candidates by true Jaccard; drop --set verify=false")


def default_partitions(rows: int, bands: int) -> int:
    """Enough partitions for about 4M band records each (72 MB on disk, ~250 MB to group), at least 16."""
    return max(16, -(-rows * bands // 4_000_000))


def estimate(
    path: str, cfg: DedupConfig, opts: StreamOptions, on_estimate: memory.OnEstimate | None = None
) -> tuple[memory.Estimate, int, int]:
    """(estimate, batch rows, partitions) for a run on `path`, the batch shrunk to fit --max-memory (announced
    as every stream engine does, through `RunOptions.plan`)."""
    _check(cfg, opts)
    rows, row_bytes = sample_lines(path)
    bands = cfg.minhash_params().band_rows()[0] if "minhash" in cfg.methods else 0
    parts = opts.partitions or default_partitions(rows, max(bands, 1))
    sem: tuple[int, int, int] | None = None
    if "semantic" in cfg.methods:
        from qdc.dedup.stream_semantic import clusters_for
        from qdc.scale.store import open_store

        x = open_store(opts.embeddings or "")
        params = cfg.semantic_params()
        rows = rows or x.shape[0]
        sem = (x.shape[1], clusters_for(max(rows, 1), params), params.points_per_centroid)

    def make(batch: int) -> memory.Estimate:
        return memory.dedup_estimate(
            rows,
            row_bytes,
            batch,
            cfg.num_perm,
            bands,
            parts,
            cfg.keep,
            driver_texts=opts.run.ray,
            semantic=sem,
        )

    est, batch_rows = opts.run.plan(make, on_estimate)
    return est, batch_rows, parts


def _pass1(
    path: str,
    cfg: DedupConfig,
    io_cfg: IOConfig,
    batch_rows: int,
    work: Path,
    parts_n: int,
    rows_hint: int,
    report: ReadReport,
    ray: bool = False,
) -> _Pass1:
    column = FIELD_COLUMNS[cfg.field]
    state = _Pass1()
    policy, _ = parse_keep(cfg.keep)
    use_mh = "minhash" in cfg.methods
    with ExitStack() as stack:
        parts = [
            stack.enter_context(open(work / f"band-{k:04d}.bin", "wb"))
            for k in range(parts_n if use_mh and not ray else 0)
        ]
        sh_out = stack.enter_context(open(work / "shingles.u32", "wb"))
        id_out = stack.enter_context(open(work / "ids.bin", "wb"))
        for batch in iter_batches(path, io_cfg, batch_rows, user_columns=policy == "best", report=report):
            texts = batch[column].cast(pl.String).fill_null("")
            ids = batch[schema.ROW_ID]
            id_out.write("".join(ids.to_list()).encode("utf-8"))
            state.id_lens.append(ids.str.len_bytes().to_numpy().astype(np.int64))
            if "exact" in cfg.methods:
                keys = normalise(texts, cfg.normalize)
                state.h1.append(keys.hash(seed=0x51A7).to_numpy())
                state.h2.append(keys.hash(seed=0x2C0FFEE).to_numpy())
            prio = batch_priority(batch, texts, cfg.keep)
            if prio is not None:
                state.prio.append(prio)
            if use_mh and ray:
                state.counts.append(shingle_batch(texts, cfg, sh_out))
                state.texts.append((np.arange(state.n, state.n + batch.height, dtype=np.int64), texts.to_list()))
            elif use_mh:
                cnt, nrec = sign_batch(texts, cfg, state.n, sh_out, parts)
                state.counts.append(cnt)
                state.records += nrec
            state.n += batch.height
            state.batches += 1
            progress("scale dedup: read and sign", state.n, max(rows_hint, state.n))
    return state


@dataclass
class _Run:
    """What the method steps of a streaming run share: pass 1's state and the per-row decisions."""

    cfg: DedupConfig
    opts: StreamOptions
    work: Path
    parts_n: int
    st: _Pass1
    prio: np.ndarray | None
    method: np.ndarray
    target: np.ndarray
    sim: np.ndarray

    def apply(self, name: str, rows: np.ndarray, keepers: np.ndarray, sims: np.ndarray | float) -> None:
        self.method[rows], self.target[rows], self.sim[rows] = METHOD_CODES[name], keepers, sims


def _step_exact(run: _Run) -> dict[str, Any]:
    """Exact groups from the sorted 128-bit hashes of the normalised texts."""
    n = run.st.n
    keeper = first_of_groups([np.concatenate(run.st.h1), np.concatenate(run.st.h2)], run.prio, n)
    run.st.h1, run.st.h2 = [], []
    rm = np.flatnonzero(keeper != np.arange(n))
    run.apply("exact", rm, keeper[rm], 1.0)
    return {"removed": int(rm.shape[0])}


def _step_minhash(run: _Run) -> dict[str, Any]:
    """MinHash groups among the rows exact kept (candidates from the partition files, or from Ray)."""
    cfg, st, n = run.cfg, run.st, run.st.n
    counts = np.concatenate(st.counts) if st.counts else np.zeros(0, np.int64)
    alive = run.method == 0
    if run.opts.run.ray:
        run.opts.run.start()
        cands = ray_candidates(st.texts, cfg, n, alive)
    else:
        cands = local_candidates(run.work, run.parts_n, n, alive)
    members, keepers, sims, info = minhash_groups(cfg, run.work, cands, n, counts, run.prio)
    st.texts = []
    run.apply("minhash", members, keepers, sims)
    b, r = cfg.minhash_params().band_rows()
    return {
        "threshold": cfg.threshold,
        "num_perm": cfg.num_perm,
        "ngram": cfg.ngram,
        "bands": b,
        "rows": r,
        **info,
        **chain_figures(sims, cfg.threshold),
        "removed": int(members.shape[0]),
    }


def _step_semantic(run: _Run) -> dict[str, Any]:
    """SemDeDup over the memory-mapped embeddings of the rows exact and MinHash kept."""
    from qdc.dedup.stream_semantic import stream_semantic
    from qdc.scale.store import open_store

    x = open_store(run.opts.embeddings or "", rows=run.st.n)
    members, keepers, sims, info = stream_semantic(
        x, np.flatnonzero(run.method == 0), run.prio, run.cfg.semantic_params()
    )
    del x
    run.apply("semantic", members, keepers, sims)
    return {**info, "removed": int(members.shape[0])}


STEPS: dict[str, tuple[str, Callable[[_Run], dict[str, Any]]]] = {
    "exact": ("exact_groups", _step_exact),
    "minhash": ("minhash_groups", _step_minhash),
    "semantic": ("semantic", _step_semantic),
}
"""Each method's streaming step and the name of its timing in the summary, in the only order they run."""


def stream_dedup(
    path: str,
    cfg: DedupConfig | None = None,
    io_cfg: IOConfig | None = None,
    opts: StreamOptions | None = None,
    *,
    output: str | None = None,
    removed: str | None = None,
    report: ReadReport | None = None,
    on_estimate: memory.OnEstimate | None = None,
) -> dict[str, Any]:
    """Deduplicate the file `path` in bounded memory; write kept rows to `output`, removed ones to `removed`.

    Steps: pass 1 (read, hash, sign); each method's step (`STEPS`) on the rows still alive; resolve every
    removed row to its final survivor (`qdc.dedup.steps.resolve`, as in memory); pass 2 (write).
    Returns the run summary (rows in/kept/removed, per-method counts and timings, the estimate, disk used).
    With neither output nor removed path it is a dry run (one pass over the input).
    """
    cfg = cfg or DedupConfig()
    io_cfg = io_cfg or IOConfig()
    opts = opts or StreamOptions()
    est, batch_rows, parts_n = estimate(path, cfg, opts, on_estimate)
    # The pid in the name lets a later run sweep the folders of runs that were killed (kill -9).
    sweep_stale(Path(opts.work_dir or tempfile.gettempdir()), "qdc-scale-*", 2)
    work = Path(tempfile.mkdtemp(prefix=f"qdc-scale-{os.getpid()}-", dir=opts.work_dir))
    seconds = dict.fromkeys(["read_and_sign", "exact_groups", "minhash_groups", "semantic", "write"], 0.0)
    t0 = time.perf_counter()
    try:
        st = _pass1(path, cfg, io_cfg, batch_rows, work, parts_n, est.rows, report or ReadReport(), opts.run.ray)
        seconds["read_and_sign"] = time.perf_counter() - t0
        n = st.n
        disk = sum(f.stat().st_size for f in work.iterdir())
        prio = np.concatenate(st.prio) if st.prio else None
        run = _Run(cfg, opts, work, parts_n, st, prio, np.zeros(n, np.int8), np.full(n, -1, np.int64), np.zeros(n))
        per_method: dict[str, dict[str, Any]] = {}
        for name in cfg.methods:
            label, step = STEPS[name]
            t = time.perf_counter()
            per_method[name] = step(run)
            seconds[label] = time.perf_counter() - t
        final = resolve(run.method == 0, run.target, len(cfg.methods))
        t = time.perf_counter()
        if output is not None or removed is not None:
            id_lens = np.concatenate(st.id_lens) if st.id_lens else np.zeros(0, np.int64)
            write_pass(path, io_cfg, batch_rows, cfg, output, removed, run.method, final, run.sim, work, id_lens)
        seconds["write"] = time.perf_counter() - t
    finally:
        if not opts.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    return _summary(run, per_method, batch_rows, disk, seconds, t0, est)


def _summary(
    run: _Run,
    per_method: dict[str, dict[str, Any]],
    batch_rows: int,
    disk: int,
    seconds: dict[str, float],
    t0: float,
    est: memory.Estimate,
) -> dict[str, Any]:
    """The run summary of `stream_dedup`."""
    cfg, opts, st, n = run.cfg, run.opts, run.st, run.st.n
    n_rm = int((run.method != 0).sum())
    return {
        "rows_in": n,
        "rows_kept": n - n_rm,
        "rows_removed": n_rm,
        "duplicate_rate": round(n_rm / max(n, 1), 6),
        "keep": cfg.keep,
        "methods": per_method,
        "batches": st.batches,
        "batch_rows": batch_rows,
        "backend": opts.run.backend,
        "partitions": None if opts.run.ray else run.parts_n,
        "band_records": st.records,
        "work_disk_bytes": disk,
        "seconds": {**{k: round(v, 3) for k, v in seconds.items()}, "total": round(time.perf_counter() - t0, 3)},
        "estimate": {"rows": est.rows, "memory_bytes": est.memory, "disk_bytes": est.disk, "text": est.describe()},
    }
