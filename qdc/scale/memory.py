"""What a streaming run expects to need, and the `--max-memory` check.

Every figure is bytes. Per-row state stays resident for the whole run; the batch working set is paid
once (one batch at a time); the disk figures are the temporary files in the work folder. When the
estimate exceeds `--max-memory`, `fit_batch_rows` shrinks the batch until it fits, and `check` refuses
(ConfigError, exit 2) when even a small batch would not fit, because the per-row state alone is too big.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from qdc import units
from qdc.errors import ConfigError
from qdc.progress import notice

BASE_BYTES = 300 << 20
"""The interpreter with polars, numpy, pyarrow and faiss loaded (measured: about 250-300 MB)."""
DEDUP_EXTRA_BYTES = 180 << 20
"""Dedup's fixed part beyond BASE_BYTES (rensa, scipy, the write pass's frames): at 1M and 10M rows the peak RSS
was 0.18 GB above an estimate without it, with the same per-row slope (about 200 B/row)."""
ID_TABLE_BYTES = 110
"""The reader's id table (a Python dict of id strings): measured about 100-120 B per row."""
MIN_BATCH_ROWS = 1_000
SCORE_BATCH_FACTOR = 8.5
"""Streamed scoring: batch bytes per JSON byte of a row (see `score_estimate`)."""
SCORE_BATCH_ROW_BYTES = 1_500
"""Streamed scoring: batch bytes per row beyond its text (score columns, signal dicts, Python objects)."""
RAY_DRIVER_BYTES = 200 << 20
"""Ray's client side in a driver process, beyond BASE_BYTES (a streamed scoring driver measured ~300 MB above
the local one at the same batch; BASE_BYTES already has ~150 MB of slack there)."""


def parse_size(text: str) -> int:
    """'16G', '800MB', '1.5g', '123456' -> bytes (binary units: 1G = 2^30), for --max-memory."""
    size = units.parse_size(text)
    if size is None:
        raise ConfigError(f"--max-memory {text!r}: expected a size such as 16G, 800M or 2.5GB")
    return size


human = units.format_bytes


@dataclass
class Estimate:
    """Resident memory (per-row state + one batch + fixed) and temporary disk of a run."""

    rows: int
    per_row: int
    batch: int
    fixed: int
    disk: int
    parts: dict[str, int] = field(default_factory=dict)

    @property
    def memory(self) -> int:
        return self.per_row * self.rows + self.batch + self.fixed

    def describe(self) -> str:
        detail = ", ".join(f"{k} {human(v)}" for k, v in self.parts.items())
        return (
            f"expects about {human(self.memory)} of memory for ~{self.rows:,} rows "
            f"({self.per_row} B/row = {human(self.per_row * self.rows)}; one batch {human(self.batch)}; "
            f"fixed {human(self.fixed)}) and {human(self.disk)} of temporary disk" + (f" [{detail}]" if detail else "")
        )


def dedup_estimate(
    rows: int,
    row_bytes: float,
    batch_rows: int,
    num_perm: int = 128,
    bands: int = 14,
    partitions: int = 64,
    keep: str = "first",
    driver_texts: bool = False,
    semantic: tuple[int, int, int] | None = None,
) -> Estimate:
    """Streaming exact + MinHash dedup.

    Per row: id table 110, exact-key hashes 16 (+16 while sorted), shingle offsets 8, id offsets 8,
    keep priority 8 (not for keep=first), state (alive, target, method, similarity) 14; total about
    170-180 B. One batch: the frame (about 3x the JSON bytes: text, prompt, response), the word tokens and
    64-bit shingle hashes (about 40 B per word), signatures (4 x num_perm B/row) and band keys
    (8 x bands B/row), doubled for the sort into partitions. Grouping holds one partition of band records
    (18 B per record, plus 40 B of sort work) and the shingle sets of its candidate rows. Disk: 32-bit
    shingles (4 B per word), band records (18 B x bands per row), ids (their bytes + 8 B offsets).
    With the Ray backend (`driver_texts`) the driver also holds every text until Ray has it (about 2x the
    JSON bytes as Python strings) and there are no band-record files.
    `semantic` = (dim, k, points per centroid) adds the streamed SemDeDup (`semantic_parts`).
    """
    words = max(row_bytes / 6.0, 1.0)
    per_row = ID_TABLE_BYTES + 32 + 8 + 8 + 14 + (0 if keep == "first" else 8) + int(2 * row_bytes * driver_texts)
    batch_per_row = 3 * row_bytes + 40 * words + 4 * num_perm + 2 * 8 * bands + 64
    batch = int(batch_rows * batch_per_row)
    part_records = rows * bands / max(partitions, 1)
    grouping = int(part_records * (18 + 40) * 1.5)
    disk = int(rows * (4 * words + (0 if driver_texts else 18 * bands) + 24))
    fixed = BASE_BYTES + DEDUP_EXTRA_BYTES + grouping
    parts = {"per-row state": per_row * rows, "batch": batch, "partition grouping": grouping}
    if semantic is not None:
        sem_row, sem_parts = semantic_parts(rows, *semantic)
        per_row += sem_row
        parts["per-row state"] = per_row * rows
        parts.update(sem_parts)
        fixed += sum(sem_parts.values())
    return Estimate(rows, per_row, batch, fixed, disk, parts)


SEMANTIC_ROW_BYTES = 64
"""Streamed SemDeDup per row: label 8 + distance 4 for every row, and for the alive rows their index 8, a
copy of label and distance 12, the sort by label 8, the keep rank 8 and the result (flag, match, cosine) 13."""
CLUSTER_SKEW = 4
"""The largest k-means cluster is assumed this many times the mean size (k-means clusters are uneven)."""


def semantic_parts(rows: int, dim: int, k: int, points_per_centroid: int = 64) -> tuple[int, dict[str, int]]:
    """(bytes per row, fixed parts) of streamed SemDeDup over an (n, dim) embedding memmap with k clusters.

    Fixed: the largest cluster's gathered block, twice (the float32 rows and their copy in processing order)
    plus one similarity block (at most 64 MB); with k > 1 also the k-means sample (k x points_per_centroid
    rows x dim x 4 B) and one 65,536-row assignment block (65,536 x (k + dim) x 4 B). One cluster (k = 1) is
    every alive row in one block.
    """
    from qdc.dedup.semantic import BLOCK_FLOATS

    largest = rows if k <= 1 else min(rows, CLUSTER_SKEW * -(-rows // k))
    parts = {"largest cluster block": 2 * largest * dim * 4 + 4 * min(BLOCK_FLOATS, largest * largest)}
    if k > 1:
        parts.update(kmeans_parts(rows, dim, k, points_per_centroid))
    return SEMANTIC_ROW_BYTES, parts


def kmeans_parts(rows: int, dim: int, k: int, points_per_centroid: int = 64) -> dict[str, int]:
    """k-means on a sample with block assignment (`qdc.select.stream`): the training sample
    (k x points_per_centroid rows x dim x 4 B) and one 65,536-row assignment block (65,536 x (k + dim) x 4 B)."""
    return {"k-means sample": min(rows, k * points_per_centroid) * dim * 4, "assignment block": 65_536 * (k + dim) * 4}


def select_estimate(rows: int, dim: int, k: int, batch_rows: int, points_per_centroid: int = 64) -> Estimate:
    """Streaming kMQ over memory-mapped embeddings.

    Per row: id table 110, score 8, labels 8, keys 8 and the sort in `take_per_cluster` (about 40 B).
    Fixed: the k-means training sample (k x points_per_centroid x dim x 4 B) and the faiss distance block
    for one 65,536-row assignment block (65,536 x (k + dim) x 4 B). One batch: the frame for writing
    (about 1 KB/row assumed). The embedding file is mapped, not loaded, and released block by block.
    """
    per_row = ID_TABLE_BYTES + 8 + 8 + 8 + 40
    km = kmeans_parts(rows, dim, k, points_per_centroid)
    batch = batch_rows * 1024
    return Estimate(rows, per_row, batch, BASE_BYTES + sum(km.values()), 0, {"per-row state": per_row * rows, **km})


def score_estimate(rows: int, row_bytes: float, batch_rows: int, ray: bool = False) -> Estimate:
    """Streamed heuristic scoring (quality and complexity).

    Per row: only the reader's id table (110 B); the scores are written batch by batch. One batch: the
    frame with the user columns, the raw line and the text, prompt and response (about 4x the JSON bytes),
    the scorers' Python strings and per-row signal dicts, the score columns and the output lines. Measured
    (peak RSS at two batch sizes, quality + complexity): 4.4 KB per batch row for 354-byte rows, 22.2 KB for
    2.5 KB rows, i.e. about 8.2 x the JSON bytes + 1.5 KB; the estimate uses SCORE_BATCH_FACTOR x the JSON
    bytes + SCORE_BATCH_ROW_BYTES, and the measured fixed part was about 150 MB (BASE_BYTES is 300).
    With the Ray backend the driver holds two batches in flight with their (prompt, response, text) Arrow
    tables and the scores coming back, and Ray's own client libraries: measured 7.5 KB per batch row for
    354-byte rows (3.1 KB more than local, taken as 6 x the JSON bytes + 1 KB) and about 300 MB more fixed
    (RAY_DRIVER_BYTES on top of BASE_BYTES). The Ray workers' memory is their own and not counted.
    """
    per_row = ID_TABLE_BYTES
    batch_per_row = SCORE_BATCH_FACTOR * row_bytes + SCORE_BATCH_ROW_BYTES + (6 * row_bytes + 1_000 if ray else 0)
    batch = int(batch_rows * batch_per_row)
    fixed = BASE_BYTES + (RAY_DRIVER_BYTES if ray else 0)
    return Estimate(rows, per_row, batch, fixed, 0, {"per-row state": per_row * rows, "batch": batch})


MODEL_BYTES = {"default": 950 << 20, "static": 250 << 20, "hash": 0}
"""Resident model (and its libraries) beyond BASE_BYTES: torch + MiniLM measured ~0.95 GB (a 2,000-row
`scale embed` peaked at 1.25 GiB); the model2vec static model and its tokenizer ~0.25 GB; hashing none."""
OTHER_MODEL_BYTES = 2 << 30
"""A user's sentence-transformers model: unknown size, so a base-sized transformer's worth is assumed."""


def model_shape(model: str) -> tuple[int, int]:
    """(resident bytes, embedding dim) expected of an embedding model name (see MODEL_BYTES)."""
    if model.startswith("hash"):
        dim = model.partition(":")[2]
        return 0, int(dim) if dim.isdigit() else 256
    if model in MODEL_BYTES:
        return MODEL_BYTES[model], 384 if model == "default" else 256
    return OTHER_MODEL_BYTES, 1024


def embed_estimate(
    rows: int, row_bytes: float, batch_rows: int, model: str, dtype_bytes: int, ray: bool = False
) -> Estimate:
    """Streamed embedding into a memory-mapped .npy.

    Per row: the reader's id table (110 B). One batch: the frame (about 4x the JSON bytes with the hidden
    columns), the texts as Python strings and their cache keys (about 4x the JSON bytes + 200 B), and the
    batch's vectors as they pass from the model to the file (per-text arrays, the stacked float32 matrix,
    its normalised copy, the float16 cast): 16 x dim B. Measured with the hashing embedder (384-d, 285-byte
    rows): 8.6 KB per batch row (peak RSS 0.35 GiB at 20,000-row batches, 1.00 GiB at 100,000), which
    this formula gives; the fixed part measured ~0.19 GB (BASE_BYTES is 0.29). Fixed: the model
    (MODEL_BYTES, in the driver unless Ray workers hold it). The .npy itself is mapped and its written
    pages released, so it costs disk (rows x dim x dtype bytes, written beside the target and renamed),
    not memory.
    """
    model_bytes, dim = model_shape(model)
    batch = int(batch_rows * (8 * row_bytes + 200 + 16 * dim))
    fixed = BASE_BYTES + (RAY_DRIVER_BYTES if ray else model_bytes)
    return Estimate(
        rows,
        ID_TABLE_BYTES,
        batch,
        fixed,
        rows * dim * dtype_bytes,
        {"per-row state": ID_TABLE_BYTES * rows, "batch": batch, "model": 0 if ray else model_bytes},
    )


def plan(make: Callable[[int], Estimate], batch_rows: int, limit: int | None) -> tuple[Estimate, int]:
    """The estimate for `batch_rows`, or for a smaller batch that fits `limit` (halving, down to 1,000).

    Raises ConfigError (exit 2) when even the smallest batch does not fit: the per-row state and the
    fixed part cannot be batched away.
    """
    est = make(batch_rows)
    if 0 < est.rows < batch_rows:  # a batch never holds more rows than the input (~est.rows)
        est = make(est.rows)
    if limit is None or est.memory <= limit:
        return est, batch_rows
    rows = min(batch_rows, est.rows or batch_rows)
    while rows > MIN_BATCH_ROWS:
        rows = max(MIN_BATCH_ROWS, rows // 2)
        smaller = make(rows)
        if smaller.memory <= limit:
            return smaller, rows
    raise ConfigError(
        f"--max-memory {human(limit)} is too small: this run {est.describe()}; even with "
        f"--batch-rows {MIN_BATCH_ROWS} it needs {human(make(MIN_BATCH_ROWS).memory)}. "
        "Raise --max-memory (the per-row state and the fixed part cannot be batched away)"
    )


OnEstimate = Callable[[Estimate], None]
"""Called with a run's estimate before any work starts (the CLI prints it)."""


def announce(est: Estimate, fitted: int, asked: int, limit: int | None, on_estimate: OnEstimate | None) -> None:
    """Hand the estimate to `on_estimate`, and say when the batches were shrunk to fit --max-memory."""
    if on_estimate is not None:
        on_estimate(est)
    if fitted != asked:
        notice(f"batches of {fitted:,} rows (not {asked:,}) to stay under --max-memory {human(limit or 0)}")
