"""Reading and writing datasets: JSONL (.jsonl, .jsonl.gz, .jsonl.zst), Parquet, and '-' for stdin/stdout.

One reader (`iter_batches`; `read_records` is its single-batch concatenation), one writer (`write_records`,
and `open_sink` for batches), one atomic write (`atomic_path`), one bad-rows writer (`write_bad_rows`) and
reading with quarantine (`Quarantine`, with the one default bad-rows file name `bad_rows_path`).

    formats   which format a name means; compressed streams read with their end verified, and written
    text      which text of a row is analysed (a field, a template, chat turns)
    rows      a JSON line or a frame row -> ids, text and bad rows
    columns   the qdc columns a file brings back, checked (embeddings, scores)
    inputs    what an INPUT names (files, folders, globs, several), rows of a JSON-array file
    read      iter_batches, read_records, prepare
    write     JSONL lines from the original bytes, Parquet, bad rows, JSON documents, sinks
    quarantine  reading that sets bad lines aside and writes them once the work succeeded
    files     atomic replacement, temporaries of killed runs, unwritable places, output aliasing
"""

from __future__ import annotations

from qdc.io.columns import _normalise_qdc_dtypes, embeddings_of
from qdc.io.files import (
    TMP_SUFFIX,
    atomic_path,
    atomic_write_bytes,
    check_distinct_paths,
    pid_alive,
    sweep_stale,
    write_error,
)
from qdc.io.formats import (
    BOM,
    FORMATS,
    JSONL_SUFFIXES,
    STDIO,
    ChunkStream,
    compressed_writer,
    decompressed,
    detect_format,
)
from qdc.io.inputs import input_files
from qdc.io.quarantine import Quarantine, bad_rows_path
from qdc.io.read import DEFAULT_BATCH_ROWS, iter_batches, prepare, read_records, sample_lines
from qdc.io.rows import (
    BadRow,
    IOConfig,
    ReadReport,
    _dumps,
    _loads,
    _RowBuilder,
    _user_frame,
    add_frame_rows,
    duplicate_key,
    parse_line,
)
from qdc.io.write import (
    JsonlSink,
    _json_fragments,
    open_sink,
    output_columns,
    to_jsonl_lines,
    write_bad_rows,
    write_json,
    write_records,
)

__all__ = [
    "BOM",
    "DEFAULT_BATCH_ROWS",
    "FORMATS",
    "JSONL_SUFFIXES",
    "STDIO",
    "TMP_SUFFIX",
    "BadRow",
    "ChunkStream",
    "IOConfig",
    "JsonlSink",
    "Quarantine",
    "ReadReport",
    "_RowBuilder",
    "_dumps",
    "_json_fragments",
    "_loads",
    "_normalise_qdc_dtypes",
    "_user_frame",
    "add_frame_rows",
    "atomic_path",
    "atomic_write_bytes",
    "bad_rows_path",
    "check_distinct_paths",
    "compressed_writer",
    "decompressed",
    "detect_format",
    "duplicate_key",
    "embeddings_of",
    "input_files",
    "iter_batches",
    "open_sink",
    "output_columns",
    "parse_line",
    "pid_alive",
    "prepare",
    "read_records",
    "sample_lines",
    "sweep_stale",
    "to_jsonl_lines",
    "write_bad_rows",
    "write_error",
    "write_json",
    "write_records",
]
