"""Streamed scoring: heuristic quality and complexity of an input larger than memory, batch by batch.

Every row is written with the columns `qdc score-quality` adds (`qdc_quality`, one `qdc_q_<signal>` per
signal) and then those `qdc score-complexity` adds (`qdc_complexity`, `qdc_c_*`), with the same values and
bytes as running the two in-memory commands one after the other: each batch goes through the same
functions (`qdc.quality.score_quality`, `qdc.complexity.score_complexity`), whose signals are per row.

One decision of the in-memory scorers looks at the whole frame: a frame whose rows all lack a response
(plain text) is scored with the text as the response (quality), and one whose rows all lack a prompt with
the text as the instruction (complexity). A batch may lack responses while the file has some, so a first
pass over the hidden columns settles both questions for the whole file (it stops at the first row that
answers them, so instruction data pays for one batch), and every batch is then scored as the whole file
would be. Rows keep input order; the output is independent of the batch size and of the backend.

With ``backend="ray"`` the scoring of each batch runs as a Ray Data `map_batches` over slices of its
(prompt, response, text) columns (`score_ray`); reading and writing stay on the
driver. Only the heuristic scorers stream: the classifier and the judge are refused (exit 2).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from qdc import schema
from qdc.complexity import ComplexityConfig, score_complexity
from qdc.errors import ConfigError, DataError
from qdc.io import IOConfig, ReadReport
from qdc.io.read import iter_batches, sample_lines
from qdc.io.write import open_sink
from qdc.progress import progress
from qdc.quality import SIGNALS, QualityConfig, is_junk, score_quality
from qdc.scale import memory
from qdc.scale.options import RunOptions
from qdc.scale.ray import cluster_cpus, require_ray

PARTS = (schema.PROMPT, schema.RESPONSE, schema.TEXT)
"""The hidden columns the scorers read: all a Ray worker receives."""
RAY_IN_FLIGHT = 2
"""Batches on Ray at once: the next batch starts while the driver waits for (and then writes) the last."""


@dataclass(frozen=True)
class Scoring:
    """What to score, and how the whole file's rows look (see the module docstring)."""

    quality: QualityConfig | None = None
    complexity: ComplexityConfig | None = None
    has_response: bool = True
    """Some row of the file has a response: quality never falls back to the text."""
    has_prompt: bool = True
    """Some row of the file has a prompt: complexity never falls back to the text."""


def _check(quality: QualityConfig | None, complexity: ComplexityConfig | None) -> None:
    if quality is None and complexity is None:
        raise ConfigError("nothing to score: pass --quality, --complexity or both")
    if quality is not None and quality.scorer not in ("heuristic", "learned"):
        raise ConfigError(
            f"streamed scoring runs the model-free scorers; for --scorer {quality.scorer} use "
            "`qdc score-quality` on a smaller (deduplicated or selected) file"
        )
    if complexity is not None and complexity.scorer != "heuristic":
        raise ConfigError(
            "streamed scoring runs the heuristic scorers; for the complexity judge use "
            "`qdc score-complexity` on a smaller file"
        )


def score_columns(parts: pl.DataFrame, how: Scoring) -> pl.DataFrame:
    """The score columns (quality ones first, then complexity) for a frame holding the PARTS columns.

    Dropping the text column is how a batch is told that the file has responses (prompts): the in-memory
    scorers then keep the empty parts instead of falling back to the text, as they would for the whole file.
    """
    cols: list[pl.Series] = []
    if how.quality is not None:
        frame = parts.drop(schema.TEXT) if how.has_response else parts
        scored = score_quality(frame, how.quality)
        cols += [scored[c] for c in scored.columns if c not in PARTS]
    if how.complexity is not None:
        frame = parts.drop(schema.TEXT) if how.has_prompt else parts
        scored = score_complexity(frame, how.complexity)
        cols += [scored[c] for c in scored.columns if c not in PARTS]
    return pl.DataFrame(cols)


def _old_columns(columns: list[str], how: Scoring) -> list[str]:
    """Earlier score columns the new ones replace (as the in-memory scorers drop them)."""

    def replaced(c: str) -> bool:
        q = c == schema.QUALITY or c.startswith(schema.QUALITY_SIGNAL_PREFIX)
        cx = c == schema.COMPLEXITY or c.startswith(schema.COMPLEXITY_SIGNAL_PREFIX)
        return (q and how.quality is not None) or (cx and how.complexity is not None)

    return [c for c in columns if replaced(c)]


def _nonempty(batch: pl.DataFrame, column: str) -> bool:
    return bool((batch[column].fill_null("").str.len_bytes() > 0).any())


def scan_parts(
    path: str, io_cfg: IOConfig, batch_rows: int, need_response: bool = True, need_prompt: bool = True
) -> tuple[bool, bool, int | None]:
    """(file has a response, file has a prompt, rows or None) from the hidden columns.

    Stops at the first batch that answers both questions (the row count is then unknown: None). Bad lines
    raise here as in the scoring pass (on_bad_rows=error), before anything is written.
    """
    has_response, has_prompt, rows = False, False, 0
    for batch in iter_batches(path, io_cfg, batch_rows, user_columns=False, report=ReadReport()):
        has_response = has_response or _nonempty(batch, schema.RESPONSE)
        has_prompt = has_prompt or _nonempty(batch, schema.PROMPT)
        rows += batch.height
        if (has_response or not need_response) and (has_prompt or not need_prompt):
            return has_response, has_prompt, None
        progress("scale score: scan", rows, None)
    return has_response, has_prompt, rows


def _scored(
    batches: Iterator[pl.DataFrame], how: Scoring, ray: bool, workers: int
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """(batch, its score columns) in input order.

    With Ray, up to RAY_IN_FLIGHT batches are scored at once (each its own Ray Data run, started from a
    thread): a run takes a moment to bring its second worker in, and the driver reads and writes meanwhile.
    """
    if not ray:
        for batch in batches:
            yield batch, score_columns(batch.select(PARTS), how)
        return
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: deque[tuple[pl.DataFrame, Future[pl.DataFrame]]] = deque()
    with ThreadPoolExecutor(max_workers=RAY_IN_FLIGHT) as pool:
        for batch in batches:
            pending.append((batch, pool.submit(score_ray, batch.select(PARTS), how, workers)))
            if len(pending) >= RAY_IN_FLIGHT:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()


@dataclass
class _Totals:
    rows: int = 0
    quality_sum: float = 0.0
    below: int = 0
    junk: int = 0
    complexity_sum: float = 0.0

    def add(self, scores: pl.DataFrame, flagged: dict[str, int]) -> None:
        self.rows += scores.height
        if schema.QUALITY in scores.columns:
            q = scores[schema.QUALITY].to_numpy()
            self.quality_sum += float(q.sum())
            self.below += int((q < 0.5).sum())
            self.junk += int(is_junk(scores[schema.QUALITY]).sum())
            for name in flagged:  # the learned scorer writes no per-signal gates (plain-text rows do)
                if schema.QUALITY_SIGNAL_PREFIX + name in scores.columns:
                    flagged[name] += int((scores[schema.QUALITY_SIGNAL_PREFIX + name] < 1.0).sum())
        if schema.COMPLEXITY in scores.columns:
            self.complexity_sum += float(scores[schema.COMPLEXITY].to_numpy().sum())


def stream_score(
    path: str,
    io_cfg: IOConfig | None = None,
    *,
    quality: QualityConfig | None = None,
    complexity: ComplexityConfig | None = None,
    output: str | None = None,
    run: RunOptions = RunOptions(),
    report: ReadReport | None = None,
    on_estimate: memory.OnEstimate | None = None,
) -> dict[str, Any]:
    """Score every row of `path` (heuristic quality and/or complexity) and write it to `output`.

    Same columns, values and bytes as `qdc score-quality` then `qdc score-complexity` on the whole file;
    rows in input order. Bad lines follow `io_cfg.on_bad_rows` (quarantined ones land in `report`).
    Returns the run summary (rows, batches, mean scores, seconds).
    """
    _check(quality, complexity)
    io_cfg = io_cfg or IOConfig()
    rows, row_bytes = sample_lines(path)
    est, rows_per_batch = run.plan(lambda b: memory.score_estimate(rows, row_bytes, b, ray=run.ray), on_estimate)
    run.start()
    workers = cluster_cpus() if run.ray else 1
    t0 = time.perf_counter()
    has_response, has_prompt, counted = scan_parts(
        path, io_cfg, rows_per_batch, quality is not None, complexity is not None
    )
    how = Scoring(quality, complexity, has_response, has_prompt)
    total = counted or est.rows or None
    t1 = time.perf_counter()
    flagged = {name: 0 for name in (quality.signals if quality is not None else ()) if name in SIGNALS}
    batches_in = iter_batches(path, io_cfg, rows_per_batch, user_columns=True, report=report)
    totals, batches = _score_pass(path, _scored(batches_in, how, run.ray, workers), how, output, flagged, total)
    if counted is not None and counted != totals.rows:
        raise DataError(f"{path}: the input changed during the run ({counted} rows read first, {totals.rows} now)")
    t2 = time.perf_counter()
    stats = _summary(totals, batches, rows_per_batch, run.backend, how, quality, complexity, flagged)
    stats["seconds"] = {"scan": round(t1 - t0, 3), "score_and_write": round(t2 - t1, 3), "total": round(t2 - t0, 3)}
    stats["estimate"] = {"rows": est.rows, "memory_bytes": est.memory, "text": est.describe()}
    return stats


def _score_pass(
    path: str,
    scored: Iterator[tuple[pl.DataFrame, pl.DataFrame]],
    how: Scoring,
    output: str | None,
    flagged: dict[str, int],
    total: int | None,
) -> tuple[_Totals, int]:
    """Write each batch with its score columns (the old ones dropped) and add up the figures."""
    totals = _Totals()
    batches = 0
    with open_sink(output) as sink:
        for batch, scores in scored:
            if scores.height != batch.height:
                raise DataError(f"{path}: scored {scores.height} of the {batch.height} rows of a batch")
            totals.add(scores, flagged)
            if sink is not None:
                sink.write(batch.drop(_old_columns(batch.columns, how)).hstack(scores))
            batches += 1
            progress("scale score", totals.rows, max(total, totals.rows) if total else None)
    progress("scale score", totals.rows, totals.rows)
    return totals, batches


def _summary(
    totals: _Totals,
    batches: int,
    rows_per_batch: int,
    backend: str,
    how: Scoring,
    quality: QualityConfig | None,
    complexity: ComplexityConfig | None,
    flagged: dict[str, int],
) -> dict[str, Any]:
    n = max(totals.rows, 1)
    stats: dict[str, Any] = {
        "rows": totals.rows,
        "batches": batches,
        "batch_rows": rows_per_batch,
        "backend": backend,
        "text_as_response": not how.has_response,
        "text_as_prompt": not how.has_prompt,
    }
    if quality is not None:
        mean = round(totals.quality_sum / n, 4)
        stats["quality"] = {"mean": mean, "below_0.5": totals.below, "junk": totals.junk, "flagged": flagged}
    if complexity is not None:
        stats["complexity"] = {"mean": round(totals.complexity_sum / n, 4)}
    return stats


def _score_block(batch: Any, how: Any) -> Any:
    """(row, prompt, response, text) Arrow block -> (row, score columns) Arrow table, by `score_columns`."""
    from qdc import schema

    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    parts = frame.select(
        pl.col("prompt").alias(schema.PROMPT),
        pl.col("response").alias(schema.RESPONSE),
        pl.col("text").alias(schema.TEXT),
    )
    return score_columns(parts, how).with_columns(frame["row"]).to_arrow()


def score_ray(parts: pl.DataFrame, how: Any, workers: int = 2) -> pl.DataFrame:
    """`score_columns` of a batch as a Ray Data `map_batches` over `2 x workers` slices.

    Each task scores its slice with the local function (per-row signals, and the file-level `how` decides
    the text fallbacks), so the columns are the local ones; rows come back in input order.
    """
    from qdc import schema

    ray = require_ray()
    n = parts.height
    table = pl.DataFrame(
        {
            "row": np.arange(n, dtype=np.int64),
            "prompt": parts[schema.PROMPT],
            "response": parts[schema.RESPONSE],
            "text": parts[schema.TEXT],
        }
    ).to_arrow()
    step = max(1, -(-n // (2 * max(1, workers))))
    ds = ray.data.from_arrow([table.slice(s, step) for s in range(0, n, step)])
    out = ds.map_batches(_score_block, fn_kwargs={"how": how}, batch_size=None, batch_format="pyarrow")
    blocks: list[pl.DataFrame] = []
    for block in out.iter_batches(batch_format="pyarrow", batch_size=None):
        frame = pl.from_arrow(block)
        assert isinstance(frame, pl.DataFrame)
        blocks.append(frame)
    scores = pl.concat(blocks, how="vertical").sort("row")
    if scores.height != n or not np.array_equal(scores["row"].to_numpy(), np.arange(n)):
        raise RuntimeError("Ray scoring lost or repeated rows")
    return scores.drop("row")
