"""The MinHash part of streaming dedup: band records on disk, candidate pairs one partition at a time (or
from Ray), verification by true Jaccard over memory-mapped shingles, and groups by connected components.

Candidates are made exactly as `qdc.dedup.lsh.candidate_pairs` makes them and verified with
`qdc.dedup.jaccard`, so the groups are the in-memory ones (`qdc.dedup.dedup`, method minhash).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl

from qdc.dedup.config import DedupConfig
from qdc.dedup.groups import components, group_keepers
from qdc.dedup.jaccard import ShingleSets
from qdc.dedup.lsh import PAIR_CAP, band_keys, run_pairs
from qdc.dedup.minhash import CHUNK_ROWS, MinHashParams, shingle_hashes, signatures
from qdc.progress import progress
from qdc.scale.ray import require_ray
from qdc.scale.store import ragged_gather

RECORD = np.dtype([("key", "<u8"), ("row", "<i8"), ("band", "<u2")])
"""One LSH band key of one row, as stored in the partition files (18 bytes)."""
SIM_PAIRS = 500_000
"""Member-to-keeper similarities are computed this many pairs at a time."""


def sign_batch(
    texts: pl.Series, cfg: DedupConfig, base: int, sh_out: IO[bytes], parts: Sequence[IO[bytes]]
) -> tuple[np.ndarray, int]:
    """Shingles to disk, band records to their partitions; returns the shingle counts and records written."""
    params = cfg.minhash_params()
    bands, rows = params.band_rows()
    counts: list[np.ndarray] = []
    recs: list[np.ndarray] = []
    for start in range(0, texts.len(), CHUNK_ROWS):
        sh, off = shingle_hashes(texts.slice(start, CHUNK_ROWS), params.ngram, params.steps)
        sig = signatures(sh, off, params.num_perm, params.seed, params.backend)
        keys = band_keys(sig, bands, rows)
        cnt = np.diff(off.astype(np.int64))
        sh_out.write(sh.astype(np.uint32).tobytes())
        counts.append(cnt)
        valid = np.flatnonzero(cnt > 0)
        rec = np.empty(valid.shape[0] * bands, dtype=RECORD)
        rec["key"] = keys[valid].ravel()
        rec["row"] = np.repeat(base + start + valid, bands)
        rec["band"] = np.tile(np.arange(bands, dtype=np.uint16), valid.shape[0])
        recs.append(rec)
    allrec = np.concatenate(recs) if recs else np.zeros(0, dtype=RECORD)
    p = (allrec["key"] % np.uint64(len(parts))).astype(np.int64)
    order = np.argsort(p, kind="stable")
    allrec, p = allrec[order], p[order]
    bounds = np.searchsorted(p, np.arange(len(parts) + 1))
    for k, fh in enumerate(parts):
        if bounds[k + 1] > bounds[k]:
            fh.write(allrec[bounds[k] : bounds[k + 1]].tobytes())
    return (np.concatenate(counts) if counts else np.zeros(0, np.int64)), int(allrec.shape[0])


def shingle_batch(texts: pl.Series, cfg: DedupConfig, sh_out: IO[bytes]) -> np.ndarray:
    """Shingles to disk only (the Ray backend signs elsewhere); returns the shingle counts."""
    params = cfg.minhash_params()
    counts: list[np.ndarray] = []
    for start in range(0, texts.len(), CHUNK_ROWS):
        sh, off = shingle_hashes(texts.slice(start, CHUNK_ROWS), params.ngram, params.steps)
        sh_out.write(sh.astype(np.uint32).tobytes())
        counts.append(np.diff(off.astype(np.int64)))
    return np.concatenate(counts) if counts else np.zeros(0, np.int64)


def _bucket_pairs(rec: np.ndarray, n: int) -> np.ndarray:
    """Unique pair codes i * n + j (i < j) of rows sharing a (band, key) bucket, as candidate_pairs does."""
    order = np.lexsort((rec["row"], rec["key"], rec["band"]))
    key, band, row = rec["key"][order], rec["band"][order], rec["row"][order]
    new = np.ones(row.shape[0], dtype=bool)
    new[1:] = (key[1:] != key[:-1]) | (band[1:] != band[:-1])
    run = np.cumsum(new) - 1
    sizes = np.bincount(run)
    dup = sizes[run] >= 2
    out_i, out_j = run_pairs(row[dup], run[dup], PAIR_CAP)
    out = [i.astype(np.uint64) * np.uint64(n) + j.astype(np.uint64) for i, j in zip(out_i, out_j, strict=True)]
    return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.uint64)


def _sets(shingles: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> ShingleSets:
    rows = np.unique(rows)
    values, off = ragged_gather(shingles, offsets, rows)
    return ShingleSets(rows, values, off)


def local_candidates(work: Path, parts_n: int, n: int, alive: np.ndarray) -> Iterator[np.ndarray]:
    """Candidate pair codes, one partition file at a time (each deleted once read)."""
    for k in range(parts_n):
        part = work / f"band-{k:04d}.bin"
        rec = np.fromfile(part, dtype=RECORD)
        rec = rec[alive[rec["row"]]]
        if rec.shape[0] >= 2:
            yield _bucket_pairs(rec, n)
        del rec
        part.unlink()
        progress("scale dedup: group partitions", k + 1, parts_n)


def ray_candidates(
    texts: list[tuple[np.ndarray, list[str]]], cfg: DedupConfig, n: int, alive: np.ndarray
) -> Iterator[np.ndarray]:
    """Candidate pair codes of the alive rows, computed by Ray workers (the driver must have started Ray)."""
    live = []
    for rows, part in texts:
        keep = alive[rows]
        live.append((rows[keep], [t for t, k in zip(part, keep.tolist(), strict=True) if k]))
    codes = candidate_codes(live, cfg.minhash_params(), n)
    for s in range(0, codes.shape[0], 1 << 22):
        yield codes[s : s + (1 << 22)]


def minhash_groups(
    cfg: DedupConfig, work: Path, candidates: Iterator[np.ndarray], n: int, counts: np.ndarray, prio: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """(removed rows, their keepers, their Jaccard to the keeper, info) from batches of candidate codes."""
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    sh_path = work / "shingles.u32"
    shingles: np.ndarray = (
        np.memmap(sh_path, dtype=np.uint32, mode="r") if offsets[-1] > 0 else np.zeros(0, dtype=np.uint32)
    )
    checks = 0
    verified: list[np.ndarray] = []
    for codes in candidates:
        checks += int(codes.shape[0])
        if codes.shape[0]:
            ci = (codes // np.uint64(n)).astype(np.int64)
            cj = (codes % np.uint64(n)).astype(np.int64)
            sim = _sets(shingles, offsets, np.concatenate([ci, cj])).jaccard(ci, cj)
            verified.append(codes[sim >= cfg.threshold - 1e-12])
    codes = np.unique(np.concatenate(verified)) if verified else np.zeros(0, dtype=np.uint64)
    # A pair whose rows share keys in several partitions is checked once in each of them.
    info: dict[str, Any] = {"candidate_checks": checks, "duplicate_pairs": int(codes.shape[0])}
    empty = np.zeros(0, dtype=np.int64)
    if codes.shape[0] == 0:
        return empty, empty, np.zeros(0), info
    ei = (codes // np.uint64(n)).astype(np.int64)
    ej = (codes % np.uint64(n)).astype(np.int64)
    nodes = np.unique(np.concatenate([ei, ej]))
    labels = components(nodes.shape[0], np.searchsorted(nodes, ei), np.searchsorted(nodes, ej))
    order = np.lexsort((nodes,) if prio is None else (nodes, prio[nodes]))
    rank = np.empty(nodes.shape[0], dtype=np.int64)
    rank[order] = np.arange(nodes.shape[0])
    keeper = nodes[group_keepers(labels, rank)]
    hit = keeper != nodes
    members, keepers = nodes[hit], keeper[hit]
    sims = np.empty(members.shape[0], dtype=np.float64)
    for s in range(0, members.shape[0], SIM_PAIRS):
        a, b = members[s : s + SIM_PAIRS], keepers[s : s + SIM_PAIRS]
        sims[s : s + SIM_PAIRS] = _sets(shingles, offsets, np.concatenate([a, b])).jaccard(a, b)
    return members, keepers, sims, info


def _sign(batch: dict[str, np.ndarray], params: MinHashParams) -> dict[str, np.ndarray]:
    """(row, text) -> one (band, key, row) record per band of each row that has shingles."""
    from qdc.dedup.lsh import band_keys
    from qdc.dedup.minhash import shingle_hashes, signatures

    bands, rows = params.band_rows()
    texts = pl.Series([str(t) for t in batch["text"]], dtype=pl.String)
    row = np.asarray(batch["row"], dtype=np.int64)
    sh, off = shingle_hashes(texts, params.ngram, params.steps)
    sig = signatures(sh, off, params.num_perm, params.seed, params.backend)
    keys = band_keys(sig, bands, rows)
    valid = np.flatnonzero(np.diff(off.astype(np.int64)) > 0)
    return {
        "band": np.tile(np.arange(bands, dtype=np.int64), valid.shape[0]),
        "key": keys[valid].ravel().view(np.int64),  # Arrow sorts int64 everywhere; the bits are the key
        "row": np.repeat(row[valid], bands),
    }


def _pairs(group: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """All pairs (i < j) of one bucket; in buckets over PAIR_CAP + 1 rows only pairs at most PAIR_CAP apart."""
    rows = np.sort(np.asarray(group["row"], dtype=np.int64))
    out_i, out_j = run_pairs(rows, np.zeros(rows.shape[0], dtype=np.int64), PAIR_CAP)
    if not out_i:
        empty = np.zeros(0, dtype=np.int64)
        return {"i": empty, "j": empty}
    return {"i": np.concatenate(out_i), "j": np.concatenate(out_j)}


def candidate_codes(
    texts: list[tuple[np.ndarray, list[str]]], params: MinHashParams, n: int, blocks: int | None = None
) -> np.ndarray:
    """Unique candidate pair codes i * n + j (i < j) of the given (rows, texts) parts, computed by Ray Data."""
    ray = require_ray()
    import pyarrow as pa

    tables = [
        pa.table({"row": pa.array(r, pa.int64()), "text": pa.array(t, pa.string())}) for r, t in texts if r.shape[0]
    ]
    if not tables:
        return np.zeros(0, dtype=np.uint64)
    ds = ray.data.from_arrow(tables)
    if blocks:
        ds = ds.repartition(blocks)
    records = ds.map_batches(_sign, fn_kwargs={"params": params}, batch_format="numpy")
    pairs = records.groupby(["band", "key"]).map_groups(_pairs, batch_format="numpy")
    parts: list[np.ndarray] = []
    for batch in pairs.iter_batches(batch_format="numpy", batch_size=1 << 20):
        if "i" not in batch:
            continue
        i = np.asarray(batch["i"], dtype=np.uint64)
        j = np.asarray(batch["j"], dtype=np.uint64)
        if i.shape[0]:
            parts.append(np.unique(i * np.uint64(n) + j))
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)
