"""Append-only JSONL outputs for streaming runs, atomic like `qdc.io.write_records`.

Batches are appended with `qdc.io.to_jsonl_lines`, so a row is written with the same bytes as the
in-memory writer gives it. A file output goes to a temporary file beside the target and is renamed into
place only when the run completes; '-' streams to stdout.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import IO

import polars as pl

from qdc.errors import ConfigError
from qdc.io import STDIO, atomic_path, detect_format, to_jsonl_lines


class JsonlSink:
    """Writes prepared frames batch by batch."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.rows = 0

    def write(self, df: pl.DataFrame) -> None:
        for line in to_jsonl_lines(df):
            self.fh.write(line)
            self.fh.write(b"\n")
        self.rows += df.height


@contextmanager
def open_sink(path: str | None) -> Iterator[JsonlSink | None]:
    """A sink for `path` (JSONL, .jsonl.gz, .jsonl.zst or '-'), or None when `path` is None."""
    if path is None:
        yield None
        return
    fmt = detect_format(path)
    if fmt == "parquet":
        raise ConfigError(f"{path}: streaming runs write JSONL (.jsonl, .jsonl.gz, .jsonl.zst or '-')")
    if path == STDIO:
        sink = JsonlSink(sys.stdout.buffer)
        yield sink
        sys.stdout.buffer.flush()
        return
    with ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(path))
        raw = stack.enter_context(open(tmp, "wb"))
        fh: IO[bytes]
        if fmt == "jsonl.gz":
            fh = stack.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0))  # type: ignore[arg-type]
        elif fmt == "jsonl.zst":
            import zstandard

            fh = stack.enter_context(zstandard.ZstdCompressor(level=3).stream_writer(raw))
        else:
            fh = raw
        yield JsonlSink(fh)
