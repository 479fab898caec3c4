"""Reading datasets: one reader, `iter_batches`, and `read_records` as the concatenation of its batches.

Each batch has qdc's hidden columns (ids, source, 1-based line numbers, text, prompt, response and, with
`user_columns=True`, the user's fields and the raw line). One id table spans the batches: duplicate ids
are reported (or quarantined) wherever they fall, and identical rows without an id get the same numbered
derived ids whatever the batch size. That table is the only per-row state kept between batches (about 100
bytes per row, see `qdc.scale.memory`).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

import polars as pl

from qdc import schema
from qdc.errors import ConfigError, DataError, opening
from qdc.io.columns import _normalise_qdc_dtypes
from qdc.io.fastjsonl import add_plain_lines
from qdc.io.finish import finish_read
from qdc.io.formats import STDIO, decompressed_reader, detect_format, stdin_jsonl
from qdc.io.inputs import InputPaths, input_files, json_rows
from qdc.io.rows import (
    IOConfig,
    ReadReport,
    _RowBuilder,
    _user_frame,
    add_frame_rows,
    parse_line,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

DEFAULT_BATCH_ROWS = 100_000
WHOLE_FILE = sys.maxsize  # batch_rows of `read_records`: one batch


@contextmanager
def _open_lines(path: str, fmt: str) -> Iterator[IO[bytes]]:
    """The file's JSONL bytes (decompressed, with the end of a compressed stream verified), line by line."""
    if path == STDIO:
        yield stdin_jsonl(sys.stdin.buffer)  # piped gzip/zstd decompressed, Parquet refused by name
        return
    with opening(path, DataError):
        raw = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed below; 1 MB: readlines' copies in big reads
    try:
        if fmt == "jsonl":
            yield raw
        else:
            yield decompressed_reader(raw.read, fmt, path)
    finally:
        raw.close()


def _reset(builder: _RowBuilder) -> None:
    """Forget the rows of the last batch but keep the id table and the text scheme."""
    builder.lines, builder.ids, builder.derived = [], [], []
    builder.texts, builder.prompts, builder.responses = [], [], []
    builder.column_texts = None


def _jsonl_frame(
    builder: _RowBuilder,
    objs: list[dict[str, Any]],
    raws: list[str] | pl.Series,
    good: list[bytes],
    user_columns: bool,
    path: str,
    parsing: Future[pl.DataFrame] | pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The batch's frame; `parsing`: the user columns already built, or polars' read of `good` already started
    (`_user_frame` redoes it, and handles the rows polars cannot type, when it failed)."""
    hidden = builder.hidden_frame()
    if not user_columns:
        if any(builder.derived):
            hidden = hidden.with_columns(pl.col(schema.ROW_ID).alias(schema.ID))
        return hidden
    if isinstance(parsing, pl.DataFrame):
        user = parsing
    else:
        try:
            user = parsing.result() if parsing is not None else _user_frame(objs, good)
        except Exception:  # what _user_frame's own read_ndjson would have met: its fallback decides
            user = _user_frame(objs, good)
    hidden = hidden.with_columns(pl.Series(schema.RAW, raws, dtype=pl.String))
    out = pl.concat([user, hidden], how="horizontal")
    if any(builder.derived):  # qdc_id is the id a row is known by: an old one is replaced
        out = out.with_columns(pl.col(schema.ROW_ID).alias(schema.ID))
    return _normalise_qdc_dtypes(out, path)


def _iter_jsonl(
    path: str, fmt: str, batch_rows: int, user_columns: bool, builder: _RowBuilder
) -> Iterator[pl.DataFrame]:
    total = 0
    with _open_lines(path, fmt) as fh:
        rows = json_rows(fh)
        offset = 0
        if rows is fh and batch_rows == WHOLE_FILE and fmt == "jsonl" and path != STDIO:
            # The whole file split in one call (on b"\n" only, as iterating it does) into the lines' bytes: no
            # copy of the file beside them (a read() then a split was 0.1 s more per 100k 200-word rows).
            rows = iter(fh.readlines())
        while block := list(itertools.islice(rows, batch_rows)):
            fast = add_plain_lines(builder, block, offset, user_columns)
            if fast is None:  # something unusual in this batch: row by row from here on, as always
                rest = itertools.chain(block, rows)
                total += yield from _jsonl_rows(rest, offset, batch_rows, user_columns, builder, path)
                break
            offset += len(block)
            total += len(builder.ids)
            yield _jsonl_frame(builder, fast.objs, fast.raws, fast.good, user_columns, path, fast.user)
            _reset(builder)
    if total == 0 and not builder.many:
        what = "no readable rows" if builder.report.bad_rows else "empty input (no rows)"
        raise DataError(f"{path}: {what}")


def _jsonl_rows(
    rows: Iterator[bytes], offset: int, batch_rows: int, user_columns: bool, builder: _RowBuilder, path: str
) -> Generator[pl.DataFrame, None, int]:
    """The per-row path: each line parsed and checked on its own (`parse_line`); returns the rows yielded."""
    objs: list[dict[str, Any]] = []
    raws: list[str] = []
    good: list[bytes] = []
    total = 0
    for lineno, line in enumerate(rows, start=offset + 1):
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
        _reset(builder)  # the next file starts a batch of its own
    return total


def _parquet_frames(path: str, batch_rows: int) -> Iterator[pl.DataFrame]:
    """The file's rows as frames of at most `batch_rows` (the whole file in one read when it fits)."""
    if path == STDIO:
        raise ConfigError("Parquet cannot be read from stdin; pass a file")
    with opening(path, DataError):  # missing, a folder or no permission: the one line every input gets
        open(path, "rb").close()
    try:
        # The row count from the footer, in polars: importing pyarrow.parquet cost more than reading a small file.
        rows = pl.scan_parquet(path, glob=False).select(pl.len()).collect().item()
        if rows <= batch_rows:
            yield _whole_parquet(path)
            return
    except Exception as exc:
        raise DataError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    import pyarrow.parquet as pq

    for rb in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        frame = pl.from_arrow(rb)
        assert isinstance(frame, pl.DataFrame)
        yield frame


def _whole_parquet(path: str) -> pl.DataFrame:
    """The whole file; qdc_embedding, when it is a plain list of float32 vectors of one length, decoded by
    `parquet_vectors.read_vectors` (the same array, without polars' nested-level decoding) and the other
    columns by polars."""
    from concurrent.futures import ThreadPoolExecutor

    from qdc.io.parquet_vectors import read_vectors

    names = pl.scan_parquet(path, glob=False).collect_schema().names()
    if schema.EMBEDDING not in names or len(names) == 1:
        return pl.read_parquet(path, glob=False)
    with ThreadPoolExecutor(1) as pool:  # the vectors decode while polars reads the rest (both free the GIL)
        vectors = pool.submit(read_vectors, path, schema.EMBEDDING)
        df = pl.read_parquet(path, columns=[c for c in names if c != schema.EMBEDDING], glob=False)
        x = vectors.result()
    if x is None:
        return pl.read_parquet(path, glob=False)
    return df.insert_column(names.index(schema.EMBEDDING), pl.Series(schema.EMBEDDING, x))


# What Python's str.strip() removes (str.isspace), for the empty-text tally of the column path.
_PY_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _frame_rows(builder: _RowBuilder, user: pl.DataFrame, offset: int) -> list[int]:
    """`add_frame_rows`, by columns when the frame allows it (`_column_rows`), else row by row."""
    if _column_rows(builder, user, offset):
        return list(range(user.height))
    return add_frame_rows(builder, user, offset)


def _column_rows(builder: _RowBuilder, user: pl.DataFrame, offset: int) -> bool:
    """Add a frame's rows in whole columns: the per-row path's result for the common case (text from one
    string column without nulls, unique non-null string or integer ids not seen before); False, adding
    nothing, for anything else, which the per-row path then handles (and reports) as always. Building a
    dict per row was 1.8 s of `qdc diversity` on 100k Parquet rows."""
    from qdc.io.rows import _row_fields
    from qdc.io.text import RowTextError, detect

    cfg, n = builder.cfg, user.height
    if n == 0 or cfg.template is not None or cfg.id_field not in user.columns:
        return False
    first: dict[str, Any] = {}
    spec = builder.spec
    if spec is None:
        first = user.select(_row_fields(user, cfg)).row(0, named=True)
        try:
            spec = detect(first, cfg.text_spec())
        except RowTextError:
            return False
    name = spec.text_field
    if not spec.scheme.startswith("field:") or name is None or name not in user.columns:
        return False
    texts, ids = user[name], user[cfg.id_field]
    if texts.dtype != pl.String or texts.null_count() or ids.null_count():
        return False
    if ids.dtype.is_integer():
        ids = ids.cast(pl.String)  # the same digits as str(int)
    elif ids.dtype != pl.String:
        return False
    if ids.is_duplicated().any():
        return False
    id_list = ids.to_list()
    if builder.seen_ids and not builder.seen_ids.keys().isdisjoint(id_list):
        return False
    builder.adopt(spec, first)
    empty = (texts.str.strip_chars(_PY_SPACE) == "").arg_true().to_list()
    builder.add_plain(id_list, texts, offset, empty)
    return True


def _iter_parquet(path: str, batch_rows: int, user_columns: bool, builder: _RowBuilder) -> Iterator[pl.DataFrame]:
    offset = 0
    total = 0
    for frame in _parquet_frames(path, batch_rows):
        user = frame.select(schema.visible_columns(frame))
        keep = _frame_rows(builder, user, offset)
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
    if total == 0 and not builder.many:
        raise DataError(f"{path}: empty input (no rows)" if offset == 0 else f"{path}: no readable rows")


def iter_batches(
    path: InputPaths,
    cfg: IOConfig | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    *,
    user_columns: bool = True,
    report: ReadReport | None = None,
) -> Iterator[pl.DataFrame]:
    """Prepared frames of at most `batch_rows` rows, in file order.

    Args:
        path: a .jsonl / .json (JSON lines, or one JSON array of rows) / .jsonl.gz / .jsonl.zst / .parquet
            file, '-' for JSONL on stdin (plain, or gzip/zstd: told by its first bytes), a folder (its data
            files, sorted) or a glob pattern ('data/*.jsonl').
            Ids must be unique across the files; each row's source column names its file.
        cfg: text, id and bad-row options.
        batch_rows: rows per frame.
        user_columns: False keeps only the hidden columns (ids, source, line, text, prompt, response):
            enough for dedup's first pass, and much cheaper.
        report: receives bad rows (with ``on_bad_rows="skip"``) and the text scheme used.

    Raises:
        DataError: a malformed line, a missing or non-string text field, a duplicate id or JSON key, an
            empty or truncated file, an unusable qdc column; the message starts with 'file:line'.
    """
    if batch_rows < 1:
        raise ConfigError(f"--batch-rows must be at least 1 (got {batch_rows})")
    cfg = cfg or IOConfig()
    report = report if report is not None else ReadReport()
    names = [str(p) for p in path] if isinstance(path, (list, tuple)) else [str(path)]
    files = [f for name in names for f in input_files(name)]
    if not files:
        raise ConfigError("no input given")
    builder = _RowBuilder(files[0], cfg, report)
    builder.many = len(files) > 1
    for spath in files:
        fmt = detect_format(spath)
        builder.start_file(spath)
        if fmt == "parquet":
            yield from _iter_parquet(spath, batch_rows, user_columns, builder)
        else:
            yield from _iter_jsonl(spath, fmt, batch_rows, user_columns, builder)
    if builder.many:
        builder.source = " ".join(names)
        if builder.n_rows == 0:
            raise DataError(f"{path}: no readable rows in {len(files)} files")
    finish_read(builder)


def read_records(
    path: InputPaths,
    cfg: IOConfig | None = None,
    report: ReadReport | None = None,
) -> pl.DataFrame:
    """Read a whole dataset into one frame with qdc's hidden columns: `iter_batches` in a single batch.

    Errors are those of `iter_batches`.
    """
    frames = list(iter_batches(path, cfg, WHOLE_FILE, report=report))
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")


def prepare(
    df: pl.DataFrame, cfg: IOConfig | None = None, *, source: str = "<memory>", report: ReadReport | None = None
) -> pl.DataFrame:
    """Add qdc's hidden columns (id, text, line) to a frame built in memory.

    Rows whose text cannot be resolved raise DataError (or are dropped into `report.bad_rows` with
    ``on_bad_rows="skip"``).
    """
    cfg = cfg or IOConfig()
    report = report if report is not None else ReadReport()
    user = df.select(schema.visible_columns(df))
    builder = _RowBuilder(source, cfg, report)
    keep = _frame_rows(builder, user, 0)
    if not keep:
        raise DataError(f"{source}: no readable rows")
    if len(keep) < user.height:
        user = user[keep]
    out = pl.concat([user, builder.hidden_frame()], how="horizontal")
    if any(builder.derived) and schema.ID not in out.columns:
        out = out.with_columns(pl.col(schema.ROW_ID).alias(schema.ID))
    return _normalise_qdc_dtypes(out, source)


def sample_lines(path: str, rows: int = 2000) -> tuple[int, float]:
    """(estimated rows, mean bytes per row) of a file, from its size and its first `rows` rows.

    Used for the memory estimate before a run; for compressed JSONL a 4x compression ratio is assumed, so
    the row count is rougher there.
    """
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
