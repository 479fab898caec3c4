"""`qdc run` on files: read the input, run the pipeline, and commit the output, ledger, bad-rows file and
manifest together (written under staging names, renamed into place last)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from qdc import schema
from qdc.embed import Embedder
from qdc.io import bad_rows_path, detect_format, sweep_stale
from qdc.io.quarantine import skipped
from qdc.pipeline.config import Pipeline
from qdc.pipeline.manifest import StageMeter, build_manifest, utc_now
from qdc.pipeline.run import DEFAULT_WORKDIR, RunResult, input_hash, run_pipeline
from qdc.progress import notice

__all__ = ["STAGE_PREFIX", "RunFiles", "run_file", "side_paths"]


LEDGER_DROPS = (schema.EMBEDDING,)
"""Columns the ledger leaves out: it keeps ids, fields and reasons; a 384-float vector per row made a ledger
5.7x the size of its input. The work folder keeps the embeddings for resume."""


def _write_ledger(removed: pl.DataFrame | None, path: str) -> None:
    from qdc.io import atomic_path, atomic_write_bytes, detect_format, to_jsonl_lines, write_records
    from qdc.io.write import is_json_array_name

    if removed is not None:
        removed = removed.drop([c for c in LEDGER_DROPS if c in removed.columns])
    if removed is not None and (detect_format(path) != "jsonl" or is_json_array_name(path)):
        write_records(removed, path)
        return
    if is_json_array_name(path):
        atomic_write_bytes(path, b"[]\n")  # no row removed: still a JSON document
        return
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        if removed is not None:
            for line in to_jsonl_lines(removed):
                fh.write(line + b"\n")


STAGE_PREFIX = ".qdc-stage-"
"""Files of a run not yet committed: STAGE_PREFIX + pid + '-' + the target's name, beside the target."""


class RunFiles:
    """A run's output files, written to staging names first and renamed into place together, last.

    `path(target)` gives the staging name (same folder and suffix, so the format is kept); `commit()` renames
    every staged file over its target; leaving the block without committing (an error, a kill signal)
    deletes the staged files, so the previous output, ledger and manifest stay as they were, together.
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def path(self, target: str) -> str:
        t = Path(target)
        sweep_stale(t.parent, f"{STAGE_PREFIX}*", 3)  # staged files of a killed run ('.qdc-stage-PID-...')
        staged = t.with_name(f"{STAGE_PREFIX}{os.getpid()}-{t.name}")
        self._staged.append((staged, t))
        return str(staged)

    def commit(self) -> None:
        for staged, target in self._staged:
            os.replace(staged, target)
        self._staged = []

    def __enter__(self) -> RunFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        for staged, _ in self._staged:
            staged.unlink(missing_ok=True)


def side_paths(output: str, removed: str | None = None, manifest: str | None = None) -> tuple[str, str, str]:
    """(ledger, manifest, bad-rows file) of a run writing `output`: the given ones, else beside OUTPUT
    (OUTPUT.removed.jsonl, ...), or qdc.removed.jsonl, ... in the current folder for stdout."""
    stem = "qdc" if output == "-" else output
    return removed or f"{stem}.removed.jsonl", manifest or f"{stem}.manifest.json", bad_rows_path(output)


def run_file(
    pipeline: Pipeline,
    input: str,
    output: str,
    *,
    workdir: str | Path | None = DEFAULT_WORKDIR,
    removed_path: str | None = None,
    manifest_path: str | None = None,
    force: bool = False,
    embedder: Embedder | None = None,
    columns: Sequence[str] | None = None,
    drop_qdc: bool = False,
) -> RunResult:
    """Read `input`, run the pipeline, write the rows to `output`, the ledger and the manifest.

    The ledger (every removed row with `qdc_removed_by` and the stage's reason columns) defaults to
    OUTPUT.removed.jsonl, the manifest to OUTPUT.manifest.json (qdc.removed.jsonl / qdc.manifest.json for
    stdout). Both are always written, the ledger possibly empty. The files are written under staging names
    and renamed into place together at the end (`RunFiles`): a run that fails or is killed before then
    leaves the previous set untouched. Rows for stdout are written after the files are committed.
    `columns` / `drop_qdc` trim the qdc_ columns of the output (`qdc.io.output_columns`); the work folder
    keeps them all.
    """
    from qdc import io as qio  # its writers looked up at call time: tests replace them to simulate a full disk

    removed_path, manifest_path, bad_path = side_paths(output, removed_path, manifest_path)
    qio.check_distinct_paths(
        {"the input": input},
        {"-o": output, "--removed": removed_path, "--manifest": manifest_path, "the bad-rows file": bad_path},
    )
    started, t0 = utc_now(), time.perf_counter()
    meter = StageMeter()
    with meter:
        report = qio.ReadReport()
        df = qio.read_records(input, pipeline.io, report)
        in_hash = input_hash(input, df)
        result = run_pipeline(df, pipeline, in_hash=in_hash, workdir=workdir, force=force, embedder=embedder)
    rows = qio.output_columns(result.df, columns, drop_qdc)
    with RunFiles() as files:
        if output != "-":
            qio.write_records(rows, files.path(output), fmt=detect_format(output))
        _write_ledger(result.removed, files.path(removed_path))
        if report.bad_rows:
            qio.write_bad_rows(report.bad_rows, files.path(bad_path))
        result.manifest = _manifest(
            pipeline, result, input, output, removed_path, workdir, df.height, started, t0, meter
        )
        result.manifest["input"]["bad_rows"] = len(report.bad_rows)
        qio.write_json(result.manifest, files.path(manifest_path))
        files.commit()
    if report.bad_rows:
        notice(skipped(report.bad_rows, bad_path))
    if output == "-":
        qio.write_records(rows, output)
    return result


def _manifest(
    pipeline: Pipeline,
    result: RunResult,
    input: str,
    output: str,
    removed_path: str,
    workdir: str | Path | None,
    rows_in: int,
    started: str,
    t0: float,
    meter: StageMeter,
) -> dict[str, Any]:
    return build_manifest(
        config_path=pipeline.source,
        config=pipeline.resolved,
        config_hash=pipeline.hash,
        overrides=list(pipeline.overrides),
        input_path=input,
        input_hash=result.input_hash,
        output_path=output,
        seed=pipeline.seed,
        model=result.model,
        stages=[r.record() | {"status": r.status} for r in result.stages],
        rows_in=rows_in,
        rows_out=result.df.height,
        removed=result.removed_count,
        ledger=removed_path,
        workdir=None if workdir is None else str(workdir),
        started=started,
        seconds=time.perf_counter() - t0,
        peak_rss=meter.peak_rss,
    )
