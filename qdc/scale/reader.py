"""Batched readers: yield prepared frames of at most `batch_rows` rows, never the whole file.

Each batch has the hidden columns of `qdc.io.read_records` (ids, source, 1-based line numbers, text,
prompt, response and, with `user_columns=True`, the user's fields and the raw line), so the rows of all
batches together are the rows `read_records` returns for the same file and options. One id table spans
the batches: duplicate ids are reported (or quarantined) exactly as in the in-memory read, and identical
rows without an id get the same numbered derived ids. That table is the only per-row state of the reader
(about 100 bytes per row, see `qdc.scale.memory`).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import polars as pl

from qdc import schema
from qdc.errors import ConfigError, DataError
from qdc.io import (
    STDIO,
    ChunkStream,
    IOConfig,
    ReadReport,
    _normalise_qdc_dtypes,
    _RowBuilder,
    _user_frame,
    add_frame_rows,
    decompressed,
    detect_format,
    parse_line,
)

DEFAULT_BATCH_ROWS = 100_000


@contextmanager
def _open_lines(path: str, fmt: str) -> Iterator[IO[bytes]]:
    if path == STDIO:
        yield sys.stdin.buffer
        return
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a file") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied") from None
    try:
        if fmt == "jsonl":
            yield raw
        else:  # decompressed with the end of the stream verified, as the in-memory reader does
            yield io.BufferedReader(ChunkStream(decompressed(raw.read, fmt, path)), buffer_size=1 << 20)
    finally:
        raw.close()


def _reset(builder: _RowBuilder) -> None:
    """Forget the rows of the last batch but keep the id table and the text scheme."""
    builder.lines, builder.ids, builder.derived = [], [], []
    builder.texts, builder.prompts, builder.responses = [], [], []


def _jsonl_frame(
    builder: _RowBuilder, objs: list[dict[str, Any]], raws: list[str], good: list[bytes], user_columns: bool, path: str
) -> pl.DataFrame:
    hidden = builder.hidden_frame()
    if user_columns:
        user = _user_frame(objs, good)
        hidden = hidden.with_columns(pl.Series(schema.RAW, raws, dtype=pl.String))
        out = pl.concat([user, hidden], how="horizontal")
    else:
        out = hidden
    if any(builder.derived) and schema.ID not in out.columns:
        out = out.with_columns(pl.col(schema.ROW_ID).alias(schema.ID))
    return _normalise_qdc_dtypes(out, path) if user_columns else out


def _iter_jsonl(
    path: str, fmt: str, cfg: IOConfig, batch_rows: int, user_columns: bool, report: ReadReport
) -> Iterator[pl.DataFrame]:
    builder = _RowBuilder(path, cfg, report)
    objs: list[dict[str, Any]] = []
    raws: list[str] = []
    good: list[bytes] = []
    total = 0
    with _open_lines(path, fmt) as fh:
        for lineno, line in enumerate(fh, start=1):
            parsed = parse_line(builder, lineno, line, keep_raw=user_columns)
            if parsed is None:
                continue
            if user_columns:
                objs.append(parsed[0])
                raws.append(parsed[1])
                good.append(parsed[2])
            if len(builder.ids) >= batch_rows:
                total += len(builder.ids)
                yield _jsonl_frame(builder, objs, raws, good, user_columns, path)
                _reset(builder)
                objs, raws, good = [], [], []
    if builder.ids:
        total += len(builder.ids)
        yield _jsonl_frame(builder, objs, raws, good, user_columns, path)
    if total == 0:
        what = "no readable rows" if report.bad_rows else "empty input (no rows)"
        raise DataError(f"{path}: {what}")


def _iter_parquet(
    path: str, cfg: IOConfig, batch_rows: int, user_columns: bool, report: ReadReport
) -> Iterator[pl.DataFrame]:
    import pyarrow.parquet as pq

    if path == STDIO:
        raise ConfigError("Parquet cannot be read from stdin; pass a file")
    try:
        pf = pq.ParquetFile(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as exc:
        raise DataError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    builder = _RowBuilder(path, cfg, report)
    offset = 0
    total = 0
    for rb in pf.iter_batches(batch_size=batch_rows):
        frame = pl.from_arrow(rb)
        assert isinstance(frame, pl.DataFrame)
        user = frame.select(schema.visible_columns(frame))
        keep = add_frame_rows(builder, user, offset)
        offset += user.height
        if not keep:
            continue
        if len(keep) < user.height:
            user = user[keep]
        hidden = builder.hidden_frame()
        out = pl.concat([user, hidden], how="horizontal") if user_columns else hidden
        if any(builder.derived) and schema.ID not in out.columns:
            out = out.with_columns(pl.col(schema.ROW_ID).alias(schema.ID))
        total += out.height
        _reset(builder)
        yield _normalise_qdc_dtypes(out, path) if user_columns else out
    if total == 0:
        raise DataError(f"{path}: empty input (no rows)" if offset == 0 else f"{path}: no readable rows")


def iter_batches(
    path: str,
    cfg: IOConfig | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    *,
    user_columns: bool = True,
    report: ReadReport | None = None,
) -> Iterator[pl.DataFrame]:
    """Prepared frames of at most `batch_rows` rows, in file order.

    With `user_columns=False` a batch holds only the hidden columns (ids, source, line, text, prompt,
    response): enough for dedup's first pass, and much cheaper. Errors are those of `read_records`.
    """
    if batch_rows < 1:
        raise ConfigError(f"--batch-rows must be at least 1 (got {batch_rows})")
    cfg = cfg or IOConfig()
    report = report if report is not None else ReadReport()
    fmt = detect_format(path)
    if fmt == "parquet":
        yield from _iter_parquet(path, cfg, batch_rows, user_columns, report)
    else:
        yield from _iter_jsonl(path, fmt, cfg, batch_rows, user_columns, report)


def sample_lines(path: str, rows: int = 2000) -> tuple[int, float]:
    """(estimated rows, mean bytes per row) of a file, from its size and its first `rows` rows.

    Used for the memory estimate before a run; for compressed JSONL a 4x compression ratio is assumed, so
    the row count is rougher there.
    """
    import os

    fmt = detect_format(path)
    if path == STDIO:
        return 0, 0.0
    size = os.path.getsize(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        n = pq.ParquetFile(path).metadata.num_rows
        return n, size / max(n, 1) * 3.0  # columnar + compressed: about a third of the JSON size
    seen = 0
    nbytes = 0
    with _open_lines(path, fmt) as fh:
        for line in fh:
            if line.strip():
                seen += 1
                nbytes += len(line)
            if seen >= rows:
                break
    if seen == 0:
        return 0, 0.0
    mean = nbytes / seen
    if fmt != "jsonl":
        return int(size * 4 / mean), mean  # assumes about 4x compression
    return int(size / mean), mean
