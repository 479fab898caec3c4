"""`qdc run`: an ordered list of stages in one process, resumable, with a manifest and a removal ledger.

- Config format, registry and `--set` overrides: `qdc.pipeline.config`.
- Each stage gets only its own typed config and a `StageContext` (seed, embedding settings, one shared
  embedder that loads on first use).
- After each stage its rows, removed rows and a record are stored in the work directory under a key chained
  from the input's content hash and every stage config so far (`qdc.pipeline.workdir`): a re-run skips the
  finished prefix, a killed run resumes after the last finished stage.
- Rows a stage removes are collected with `qdc_removed_by` (the stage) into a ledger; rows that vanish
  without being returned as removed are added to it too, so nothing is lost silently.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from qdc import schema
from qdc.embed import EmbedConfig, Embedder
from qdc.errors import QdcError
from qdc.pipeline.config import Pipeline, PipelineStage
from qdc.pipeline.manifest import StageMeter
from qdc.pipeline.stage import StageContext, StageResult
from qdc.pipeline.workdir import WorkDir, chain_key, hash_bytes_of_file, hash_json, hash_lines
from qdc.progress import notice, progress

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DEFAULT_WORKDIR", "RunResult", "StageRun", "input_hash", "run_pipeline", "stage_keys"]

DEFAULT_WORKDIR = ".qdc-work"
# Settings that change where vectors are cached, not what they are: left out of the cache keys.
_EMBED_KEY_EXCLUDE = ("cache", "cache_dir", "batch_size", "device")


class LazyEmbedder:
    """The pipeline's one embedder: built on first use, so pipelines that never embed never load a model."""

    def __init__(self, cfg: EmbedConfig) -> None:
        self.cfg = cfg
        self._model: Embedder | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _get(self) -> Embedder:
        if self._model is None:
            from qdc.embed import load_embedder
            from qdc.embed.cache import default_cache_dir

            cache_dir = self.cfg.cache_dir or default_cache_dir()
            self._model = load_embedder(self.cfg.model, self.cfg.device, cache_dir)
        return self._model

    @property
    def identity(self) -> str:
        return self._get().identity

    @property
    def dim(self) -> int:
        return self._get().dim

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        return self._get().encode(texts, batch_size)


@dataclass
class StageRun:
    """What one stage did (or what its cached record says it did)."""

    position: int
    name: str
    key: str
    status: str  # "ran" or "cached"
    rows_in: int
    rows_out: int
    removed: int
    seconds: float
    peak_rss: int
    summary: dict[str, Any] = field(default_factory=dict)
    model_identity: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "stage": self.name,
            "key": self.key,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "removed": self.removed,
            "seconds": round(self.seconds, 4),
            "peak_rss_mb": round(self.peak_rss / 2**20, 1),
            "summary": self.summary,
            "model_identity": self.model_identity,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any], position: int) -> StageRun:
        return cls(
            position,
            rec["stage"],
            rec["key"],
            "cached",
            rec["rows_in"],
            rec["rows_out"],
            rec["removed"],
            float(rec["seconds"]),
            int(rec["peak_rss_mb"] * 2**20),
            rec.get("summary") or {},
            rec.get("model_identity"),
        )


@dataclass
class RunResult:
    df: pl.DataFrame
    removed: pl.DataFrame | None
    stages: list[StageRun]
    input_hash: str
    model: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def removed_count(self) -> int:
        return 0 if self.removed is None else self.removed.height


def input_hash(path: str, df: pl.DataFrame) -> str:
    """The content hash of the input: its bytes for a file, its rows as JSONL for stdin or memory."""
    if path not in ("-", "") and Path(path).is_file():
        return hash_bytes_of_file(Path(path))
    from qdc.io import to_jsonl_lines

    return hash_lines(to_jsonl_lines(df))


def _base_key(pipeline: Pipeline, in_hash: str) -> str:
    from qdc import __version__

    embed = {k: v for k, v in pipeline.resolved["embed"].items() if k not in _EMBED_KEY_EXCLUDE}
    return hash_json(
        {"qdc": __version__, "input": in_hash, "io": pipeline.resolved["io"], "seed": pipeline.seed, "embed": embed}
    )


def stage_keys(pipeline: Pipeline, in_hash: str) -> list[str]:
    """The chained cache key of every stage."""
    keys, prev = [], _base_key(pipeline, in_hash)
    for entry in pipeline.resolved["stages"]:
        ((name, cfg),) = entry.items()
        if name == "embed":
            cfg = {k: v for k, v in cfg.items() if k not in _EMBED_KEY_EXCLUDE}
        prev = chain_key(prev, name, cfg)
        keys.append(prev)
    return keys


@contextmanager
def _stage_bar(label: str, after: float = 1.0) -> Iterator[None]:
    """Show an open-ended progress bar for a stage once it has run `after` seconds."""
    progress(label, 0, None)
    stop = threading.Event()
    ctx = contextvars.copy_context()  # the reporter lives in a ContextVar: carry it into the thread

    def tick() -> None:
        if not stop.wait(after):
            ctx.run(progress, label, 0, None)

    thread = threading.Thread(target=tick, name="qdc-stage-bar", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    progress(label, 1, 1)


def _account(
    stage: PipelineStage, df_in: pl.DataFrame, out: pl.DataFrame, removed: pl.DataFrame | None
) -> pl.DataFrame | None:
    """Check that rows in = rows out + removed; rows that vanished unreported join the removed frame."""
    ids_in = set(df_in[schema.ROW_ID].to_list())
    ids_out = out[schema.ROW_ID].to_list()
    extra = [i for i in ids_out if i not in ids_in]
    if extra:
        raise QdcError(
            f"stage {stage.position} '{stage.name}' returned rows that were not in its input (first id: {extra[0]})"
        )
    kept = set(ids_out)
    if removed is not None:
        removed = removed.filter(~pl.col(schema.ROW_ID).is_in(list(kept)))
    reported = set() if removed is None else set(removed[schema.ROW_ID].to_list())
    lost = ids_in - kept - reported
    if lost:
        notice(f"stage '{stage.name}' dropped {len(lost)} row(s) without saying why; they go to the ledger")
        silent = df_in.filter(pl.col(schema.ROW_ID).is_in(list(lost)))
        removed = silent if removed is None else pl.concat([removed, silent], how="diagonal_relaxed")
    if removed is None or removed.height == 0:
        return None
    return removed.with_columns(pl.lit(stage.name).alias(schema.REMOVED_BY))


def _resume(
    wd: WorkDir, keys: list[str], pipeline: Pipeline
) -> tuple[int, pl.DataFrame | None, list[StageRun], list[pl.DataFrame]]:
    """(finished stages, rows after the last one, their runs, their removed rows) from the work directory.

    The finished prefix ends at the first stage whose record is missing or whose files do not match it.
    """
    start = 0
    while start < len(keys) and wd.has(keys[start]):
        start += 1
    if not start:
        return 0, None, [], []
    runs = [StageRun.from_record(wd.record(keys[i]), pipeline.stages[i].position) for i in range(start)]
    parts = [part for i in range(start) if (part := wd.removed(keys[i])) is not None]
    if start == len(keys):
        notice(
            f"all {start} stages already done for this input and config (in {wd.root}); pass --force to run them again"
        )
    else:
        notice(f"resuming after stage {start} '{pipeline.stages[start - 1].name}' (finished stages found in {wd.root})")
    return start, wd.frame(keys[start - 1]), runs, parts


def _run_stage(
    stage: PipelineStage, df: pl.DataFrame, ctx: StageContext, total: int
) -> tuple[StageResult, pl.DataFrame | None, StageMeter]:
    """Run one stage, check its result, and account for every row (removed rows get qdc_removed_by)."""
    schema.require_columns(df, schema.ROW_ID, schema.TEXT)
    with StageMeter() as meter, _stage_bar(f"[{stage.position}/{total}] {stage.name}"):
        try:
            res = stage.run(df, stage.config, ctx)
        except QdcError as exc:
            named = type(exc)(f"stage {stage.position} '{stage.name}': {exc}")
            named.__dict__.update(exc.__dict__)  # what the error carries (a check's figures) stays with it
            raise named from exc
    if not isinstance(res, StageResult):
        raise QdcError(f"stage '{stage.name}' returned {type(res).__name__}, expected StageResult")
    return res, _account(stage, df, res.df, res.removed), meter


def run_pipeline(
    df: pl.DataFrame,
    pipeline: Pipeline,
    *,
    in_hash: str | None = None,
    workdir: str | Path | None = None,
    force: bool = False,
    embedder: Embedder | None = None,
) -> RunResult:
    """Run every stage of `pipeline` on a prepared frame, reusing finished stages found in `workdir`.

    Args:
        df: rows read with `qdc.io.read_records` (or built with `qdc.io.prepare`).
        in_hash: the input's content hash (default: hashed from the rows).
        workdir: where stage artifacts live (locked for the run: a second run on it exits 2); None keeps
            nothing and resumes nothing.
        force: run every stage again (and replace its artifacts).
        embedder: a ready embedder (tests pass a fake one); default: `pipeline.embed.model`, loaded lazily.
    """
    in_hash = in_hash or input_hash("-", df)
    wd = WorkDir(workdir) if workdir is not None else None
    try:
        return _run_locked(df, pipeline, in_hash, wd, force, embedder)
    finally:
        if wd is not None:
            wd.close()


def _run_locked(
    df: pl.DataFrame,
    pipeline: Pipeline,
    in_hash: str,
    wd: WorkDir | None,
    force: bool,
    embedder: Embedder | None,
) -> RunResult:
    keys = stage_keys(pipeline, in_hash)
    lazy = LazyEmbedder(pipeline.embed) if embedder is None else None
    ctx = StageContext(
        seed=pipeline.seed,
        embed=pipeline.embed,
        embedder=cast("Embedder", lazy) if lazy is not None else embedder,
        workdir=wd.root if wd is not None else None,
    )
    start, resumed, runs, removed_parts = (
        _resume(wd, keys, pipeline) if wd is not None and not force else (0, None, [], [])
    )
    df = resumed if resumed is not None else df
    n = len(pipeline.stages)
    for i in range(start, n):
        stage = pipeline.stages[i]
        res, removed, meter = _run_stage(stage, df, ctx, n)
        run = StageRun(
            stage.position,
            stage.name,
            keys[i],
            "ran",
            df.height,
            res.df.height,
            0 if removed is None else removed.height,
            meter.seconds,
            meter.peak_rss,
            dict(res.summary),
            lazy.identity if lazy is not None and lazy.loaded else None,
        )
        if wd is not None:
            wd.save(keys[i], res.df, removed, run.record())
        runs.append(run)
        if removed is not None:
            removed_parts.append(removed)
        df = res.df
    ledger = pl.concat(removed_parts, how="diagonal_relaxed") if removed_parts else None
    identity = next((r.model_identity for r in reversed(runs) if r.model_identity), None)
    if identity is None and embedder is not None:
        identity = embedder.identity
    model = {"name": pipeline.embed.model, "identity": identity, "field": pipeline.embed.field}
    return RunResult(df, ledger, runs, in_hash, model)
