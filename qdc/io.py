"""Reading and writing datasets: JSONL (.jsonl, .jsonl.gz, .jsonl.zst), Parquet, and '-' for stdin/stdout.

Rows keep every input field, in order, with its value unchanged: a JSONL row is written back from its
original line (minus any old ``qdc_`` keys) with the ``qdc_`` columns appended. Outputs are atomic: data goes
to a temporary file in the target folder and is renamed into place only when complete.
"""

from __future__ import annotations

import errno
import gzip
import io as _io
import json
import os
import re
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import orjson
import polars as pl
import xxhash

from qdc import schema
from qdc.errors import ConfigError, DataError
from qdc.textsel import RowTextError, TextSpec, check_template, detect, resolve

STDIO = "-"
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
FORMATS = ("jsonl", "jsonl.gz", "jsonl.zst", "parquet")


@dataclass(frozen=True)
class IOConfig:
    """How rows are read: the text to analyse, the id field, and what to do with bad rows."""

    text_field: str | None = None
    template: str | None = None
    roles: tuple[str, ...] = ("user", "assistant")
    id_field: str = "id"
    on_bad_rows: Literal["error", "skip"] = "error"

    def __post_init__(self) -> None:
        if self.template is not None:
            check_template(self.template)  # a usage error (exit 2), before any row is read

    def text_spec(self) -> TextSpec:
        return TextSpec(self.text_field, self.template, self.roles)


@dataclass(frozen=True)
class BadRow:
    """A line that could not be read, kept verbatim for the quarantine file."""

    source: str
    line: int
    reason: str
    raw: bytes


@dataclass
class ReadReport:
    """What a read saw besides the good rows."""

    bad_rows: list[BadRow] = field(default_factory=list)
    text_scheme: str = ""


def detect_format(path: str | os.PathLike[str]) -> str:
    """'jsonl', 'jsonl.gz', 'jsonl.zst' or 'parquet', from the file name ('-' is JSONL)."""
    name = str(path).lower()
    if name == STDIO:
        return "jsonl"
    if name.endswith(".parquet") or name.endswith(".pq"):
        return "parquet"
    for suffix in JSONL_SUFFIXES:
        if name.endswith(suffix + ".gz"):
            return "jsonl.gz"
        if name.endswith(suffix + ".zst") or name.endswith(suffix + ".zstd"):
            return "jsonl.zst"
        if name.endswith(suffix):
            return "jsonl"
    raise ConfigError(f"{path}: unknown format; use a name ending in .jsonl, .jsonl.gz, .jsonl.zst or .parquet, or '-'")


# ------------------------------------------------------------------------------------------- reading


_CHUNK = 1 << 20
BOM = b"\xef\xbb\xbf"


def _zstd_chunks(read: Callable[[int], bytes], path: str) -> Iterator[bytes]:
    """Decompressed chunks of a zstd stream of one or more frames; DataError unless the last frame ends.

    A frame written without a content size (as `zstd` writes from a pipe) and cut short decompresses
    without any error from the library: only the decoder's end-of-frame flag tells a whole file from a cut.
    """
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    dobj, fed = dctx.decompressobj(), False
    try:
        while chunk := read(_CHUNK):
            while chunk:
                fed = True
                if out := dobj.decompress(chunk):
                    yield out
                if not dobj.eof:
                    break
                chunk = dobj.unused_data  # the next frame starts here
                dobj, fed = dctx.decompressobj(), False
    except zstandard.ZstdError as exc:
        raise DataError(f"{path}: not a valid zstd file ({exc})") from None
    if fed:
        raise DataError(f"{path}: truncated zstd file (the last frame ends before its end)")


def _gzip_chunks(read: Callable[[int], bytes], path: str) -> Iterator[bytes]:
    """Decompressed chunks of a gzip stream (all members); DataError for a cut or damaged file."""
    with gzip.GzipFile(fileobj=_ReadOnly(read), mode="rb") as gz:
        try:
            while out := gz.read(_CHUNK):
                yield out
        except EOFError:
            raise DataError(f"{path}: truncated gzip file (the stream ends before its end marker)") from None
        except (gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise DataError(f"{path}: not a valid gzip file ({exc})") from None


class _ReadOnly(_io.RawIOBase):
    """A file object over a read function (what GzipFile needs)."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self._read(len(buf))
        buf[: len(data)] = data
        return len(data)


class ChunkStream(_io.RawIOBase):
    """A readable file over an iterator of byte chunks (wrap in io.BufferedReader to iterate lines)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._left = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        while not self._left:
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._left = nxt
        n = min(len(buf), len(self._left))
        buf[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


def decompressed(read: Callable[[int], bytes], fmt: str, path: str) -> Iterator[bytes]:
    """The JSONL bytes of a 'jsonl', 'jsonl.gz' or 'jsonl.zst' stream, in chunks, with its end verified."""
    if fmt == "jsonl.gz":
        return _gzip_chunks(read, path)
    if fmt == "jsonl.zst":
        return _zstd_chunks(read, path)
    return iter(lambda: read(_CHUNK), b"")


def _read_bytes(path: str, fmt: str) -> bytes:
    try:
        data = sys.stdin.buffer.read() if path == STDIO else Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a file") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied") from None
    if fmt == "jsonl":
        return data
    return b"".join(decompressed(_io.BytesIO(data).read, fmt, path))


def _loads(line: bytes) -> Any:
    """Parse one JSON line; integers beyond 64 bits (which orjson refuses) go through the stdlib parser."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if "64-bit" not in str(exc):
            raise
        try:
            return json.loads(line)
        except ValueError as exc2:
            raise orjson.JSONDecodeError(str(exc2), "", 0) from None


# A key's closing quote: a '"' after an even number of backslashes, then ':'. (A string value that starts
# with ':' also matches; that only sends the row to the exact check.)
_KEY_END = re.compile(rb'(\\*)"\s*:')


def _count_keys(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_count_keys(v) for v in value.values() if isinstance(v, (dict, list)))
    if isinstance(value, list):
        return sum(_count_keys(v) for v in value if isinstance(v, (dict, list)))
    return 0


def duplicate_key(line: bytes, obj: Any) -> str | None:
    """The first key that appears twice in one object of a JSON line, or None.

    Fast path: the keys counted in the text equal the keys of the parsed objects (a parser keeps one of two
    equal keys, so a duplicate makes the text count larger). Only rows where they differ are parsed again
    with the pairs kept.
    """
    slashes = _KEY_END.findall(line)
    in_text = sum(1 for g in slashes if len(g) % 2 == 0) if any(slashes) else len(slashes)
    # Every key of the text is counted (plus rare false matches), so equal counts mean no key was merged.
    if in_text == len(obj) or in_text == _count_keys(obj):
        return None
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        if not found and len(set(keys)) < len(keys):
            found.append(next(k for i, k in enumerate(keys) if k in keys[:i]))
        return dict(items)

    try:
        json.loads(line, object_pairs_hook=pairs)
    except ValueError:
        return None
    return found[0] if found else None


def _dumps(obj: Any, sort_keys: bool = False) -> bytes:
    """Compact JSON; falls back to the stdlib for integers beyond 64 bits."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS if sort_keys else 0, default=str)
    except TypeError:
        return json.dumps(obj, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"), default=str).encode(
            "utf-8"
        )


def _derived_id(obj: dict[str, Any]) -> str:
    """A content id: xxh3-64 of the row's canonical JSON (keys sorted, qdc_ keys ignored)."""
    core = {k: v for k, v in obj.items() if not k.startswith(schema.PREFIX)}
    return xxhash.xxh3_64_hexdigest(_dumps(core, sort_keys=True))


# A bad row's verbatim bytes, or a function that builds them (only called for bad rows: re-serialising every
# good Parquet row cost 1.4 s per 100k rows of 384-d embeddings).
RawBytes = bytes | Callable[[], bytes]


class _RowBuilder:
    """Collects the hidden columns of good rows and the verbatim bytes of bad ones."""

    def __init__(self, source: str, cfg: IOConfig, report: ReadReport) -> None:
        self.source, self.cfg, self.report = source, cfg, report
        self.spec: TextSpec | None = None
        self.lines: list[int] = []
        self.ids: list[str] = []
        self.derived: list[bool] = []
        self.texts: list[str] = []
        self.prompts: list[str] = []
        self.responses: list[str] = []
        self.seen_ids: dict[str, int] = {}

    def bad(self, line: int, reason: str, raw: RawBytes) -> None:
        if self.cfg.on_bad_rows == "error":
            raise DataError(f"{self.source}:{line}: {reason}")
        self.report.bad_rows.append(BadRow(self.source, line, reason, raw if isinstance(raw, bytes) else raw()))

    def add(self, line: int, obj: Any, raw: RawBytes) -> bool:
        """Resolve a row's text and id; `raw` (or a function giving it) is kept only if the row is bad."""
        if not isinstance(obj, dict):
            self.bad(line, f"expected a JSON object, got {type(obj).__name__}", raw)
            return False
        try:
            if self.spec is None:
                self.spec = detect(obj, self.cfg.text_spec())
                self.report.text_scheme = self.spec.describe()
            text, prompt, response = resolve(obj, self.spec)
        except RowTextError as exc:
            if self.spec is None:  # the scheme itself cannot be found: every row would fail the same way
                raise DataError(f"{self.source}:{line}: {exc}") from None
            self.bad(line, str(exc), raw)
            return False
        value = obj.get(self.cfg.id_field)
        if value is None or isinstance(value, (dict, list)):
            rid, derived = _derived_id(obj), True
        else:
            rid, derived = str(value), False
        if rid in self.seen_ids:
            if not derived:
                self.bad(
                    line,
                    f"duplicate id {rid!r} (first seen at line {self.seen_ids[rid]}); ids in "
                    f"'{self.cfg.id_field}' must be unique (use --id-field to pick another field)",
                    raw,
                )
                return False
            base, k = rid, 2
            while f"{base}-{k}" in self.seen_ids:  # identical rows: same hash, so number the repeats
                k += 1
            rid = f"{base}-{k}"
        self.seen_ids[rid] = line
        self.lines.append(line)
        self.ids.append(rid)
        self.derived.append(derived)
        self.texts.append(text)
        self.prompts.append(prompt)
        self.responses.append(response)
        return True

    def hidden_frame(self) -> pl.DataFrame:
        cols: dict[str, Any] = {
            schema.ROW_ID: pl.Series(schema.ROW_ID, self.ids, dtype=pl.String),
            schema.SRC: pl.Series(schema.SRC, [self.source] * len(self.ids), dtype=pl.Categorical),
            schema.LINE: pl.Series(schema.LINE, self.lines, dtype=pl.Int64),
            schema.TEXT: pl.Series(schema.TEXT, self.texts, dtype=pl.String),
            schema.PROMPT: pl.Series(schema.PROMPT, self.prompts, dtype=pl.String),
            schema.RESPONSE: pl.Series(schema.RESPONSE, self.responses, dtype=pl.String),
        }
        return pl.DataFrame(cols)


def _user_frame(objs: list[dict[str, Any]], good_lines: list[bytes]) -> pl.DataFrame:
    """The rows' own fields as typed polars columns (for expressions and Parquet output).

    Values that polars cannot type consistently (a field that is a number in one row and a string in
    another) become JSON strings here; JSONL output is written from the original lines either way.
    """
    try:
        return pl.read_ndjson(_io.BytesIO(b"\n".join(good_lines)), infer_schema_length=None)
    except Exception:
        pass
    keys: dict[str, None] = {}
    for obj in objs:
        keys.update(dict.fromkeys(obj))
    cols = {}
    for key in keys:
        values = [obj.get(key) for obj in objs]
        try:
            cols[key] = pl.Series(key, values, strict=True)
        except Exception:
            cols[key] = pl.Series(key, [None if v is None else _dumps(v).decode() for v in values], dtype=pl.String)
    return pl.DataFrame(cols)


def parse_line(
    builder: _RowBuilder, lineno: int, line: bytes, keep_raw: bool = True
) -> tuple[dict[str, Any], str, bytes] | None:
    """One JSONL line -> (object, raw line, line bytes), or None for a blank or bad line.

    With ``keep_raw=False`` the raw line is not built ("" instead): for readers that need only ids and text.
    The raw line may still hold old ``qdc_`` keys: `to_jsonl_lines` leaves them out when it writes the row.
    Bad lines go to `builder.bad` (an error, or the quarantine with on_bad_rows="skip"). Shared by the
    in-memory reader and the streaming one (`qdc.scale.reader`), so both read rows the same way.
    """
    line = line.rstrip(b"\r\n")
    if lineno == 1 and line.startswith(BOM):
        line = line[len(BOM) :]  # a UTF-8 byte order mark (Windows editors write one): not part of the row
    if not line.strip():
        return None
    try:
        obj = _loads(line)
    except orjson.JSONDecodeError as exc:
        msg = str(exc).split(":", 1)[0] if "utf-8" not in str(exc).lower() else "invalid UTF-8"
        builder.bad(lineno, f"malformed JSON ({msg})", line)
        return None
    if (dup := duplicate_key(line, obj)) is not None:
        # The parser keeps the last value, the raw line (written back) both: the row would be scored on one
        # text and handed on with another.
        builder.bad(lineno, f"duplicate JSON key {dup!r} (a key may appear once per object)", line)
        return None
    if not builder.add(lineno, obj, line):
        return None
    if not keep_raw:
        return obj, "", line
    # The line as read: old qdc_ keys in it are dropped when (and only when) it is written as JSONL.
    return obj, line.decode("utf-8").strip(), line


def _read_jsonl(path: str, fmt: str, cfg: IOConfig, report: ReadReport) -> pl.DataFrame:
    data = _read_bytes(path, fmt)
    builder = _RowBuilder(path, cfg, report)
    objs: list[dict[str, Any]] = []
    raws: list[str] = []
    good_lines: list[bytes] = []
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        parsed = parse_line(builder, lineno, line)
        if parsed is None:
            continue
        objs.append(parsed[0])
        raws.append(parsed[1])
        good_lines.append(parsed[2])
    if not objs:
        what = "no readable rows" if report.bad_rows else "empty input (no rows)"
        raise DataError(f"{path}: {what}")
    user = _user_frame(objs, good_lines)
    hidden = builder.hidden_frame().with_columns(pl.Series(schema.RAW, raws, dtype=pl.String))
    out = pl.concat([user, hidden], how="horizontal")
    if any(builder.derived):
        out = out.with_columns(pl.col(schema.ROW_ID).alias(schema.ID))
    return _normalise_qdc_dtypes(out, path)


def _read_parquet(path: str, cfg: IOConfig, report: ReadReport) -> pl.DataFrame:
    try:
        if path == STDIO:
            raise ConfigError("Parquet cannot be read from stdin; pass a file")
        df = pl.read_parquet(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except ConfigError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    if df.height == 0:
        raise DataError(f"{path}: empty input (no rows)")
    return prepare(df, cfg, source=path, report=report)


def prepare(
    df: pl.DataFrame, cfg: IOConfig | None = None, *, source: str = "<memory>", report: ReadReport | None = None
) -> pl.DataFrame:
    """Add qdc's hidden columns (id, text, line) to a frame built in memory or read from Parquet.

    Rows whose text cannot be resolved raise DataError (or are dropped into `report.bad_rows` with
    ``on_bad_rows="skip"``).
    """
    cfg = cfg or IOConfig()
    report = report if report is not None else ReadReport()
    user = df.select(schema.visible_columns(df))
    builder = _RowBuilder(source, cfg, report)
    keep = add_frame_rows(builder, user, 0)
    if not keep:
        raise DataError(f"{source}: no readable rows")
    if len(keep) < user.height:
        user = user[keep]
    out = pl.concat([user, builder.hidden_frame()], how="horizontal")
    if any(builder.derived) and schema.ID not in out.columns:
        out = out.with_columns(pl.col(schema.ROW_ID).alias(schema.ID))
    return _normalise_qdc_dtypes(out, source)


def _row_fields(user: pl.DataFrame, cfg: IOConfig) -> list[str]:
    """The columns a row's text and id can come from: every field but qdc's own (embeddings, scores), unless
    the options name one. Turning a 384-float embedding into a Python list per row was most of a read."""
    named = {cfg.text_field, cfg.id_field}
    return [
        c
        for c in user.columns
        if not c.startswith(schema.PREFIX) or c in named or (cfg.template is not None and c in cfg.template)
    ]


def add_frame_rows(builder: _RowBuilder, user: pl.DataFrame, offset: int) -> list[int]:
    """Add the rows of a frame of user fields (Parquet, or built in memory) to `builder`; the positions kept.

    Line numbers are ``offset + position + 1``. A bad row's bytes (its JSON) are built only when it is bad.
    """
    fields = user.select(_row_fields(user, builder.cfg))
    keep: list[int] = []
    for i, row in enumerate(fields.iter_rows(named=True)):

        def raw(i: int = i) -> bytes:
            return _dumps(user.row(i, named=True))

        if builder.add(offset + i + 1, row, raw):
            keep.append(i)
    return keep


def _kind(value: Any) -> str:
    """What a value read from a file is, for messages ('a string', 'a list holding a string', ...)."""
    if isinstance(value, list):
        odd = next((v for v in value if not isinstance(v, (int, float)) or isinstance(v, bool)), None)
        return "an empty list" if not value else f"a list holding {_kind(odd)}" if odd is not None else "a list"
    names = {str: "a string", bool: "a boolean", dict: "an object", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _number_or_self(value: Any) -> Any:
    if isinstance(value, str):
        with suppress(ValueError):
            return float(value)
    return value


def _first_non_vector(col: pl.Series) -> tuple[int, str]:
    """The first row whose value is not a list of numbers, and what it is instead (error path only)."""
    for i, value in enumerate(col.to_list()):
        if isinstance(value, str) and col.dtype == pl.String:
            with suppress(orjson.JSONDecodeError):
                value = orjson.loads(value)  # mixed-type columns are kept as JSON text (see _user_frame)
        if isinstance(value, list):  # polars reads [1, "a"] and [0.5] in one column as strings: "1", "a", "0.5"
            value = [_number_or_self(v) for v in value]
        if _kind(value) != "a list":
            return i, _kind(value)
    return 0, str(col.dtype)


def _check_embeddings(df: pl.DataFrame) -> pl.DataFrame:
    """Embeddings as fixed-size float32 arrays, or DataError at the first row that is not a usable vector.

    Refused: a missing, empty, non-numeric or non-finite vector, or one whose length differs from the first
    row's (they crash faiss or the eigensolver far from where the bad row is).
    """
    name, col = schema.EMBEDDING, df[schema.EMBEDDING]
    dtype = col.dtype
    inner = dtype.inner if isinstance(dtype, (pl.List, pl.Array)) else None
    numeric = inner is not None and (inner.is_numeric() or inner == pl.Null)
    if not numeric:
        bad, what = _first_non_vector(col)
        raise DataError(f"{schema.where(df, bad)}: '{name}' is {what}, expected a list of numbers")
    if col.null_count():
        bad = int(col.is_null().arg_max() or 0)
        raise DataError(f"{schema.where(df, bad)}: '{name}' is missing on this row")
    if isinstance(dtype, pl.List):
        lengths = col.list.len()
        if lengths.min() != lengths.max():
            bad = int((lengths != lengths[0]).arg_max() or 0)
            raise DataError(
                f"{schema.where(df, bad)}: '{name}' has {lengths[bad]} values, expected {lengths[0]} like the first row"
            )
        col = col.cast(pl.Array(pl.Float32, int(lengths[0])))
    if col.dtype.size == 0:  # type: ignore[attr-defined]
        raise DataError(f"{schema.where(df, 0)}: '{name}' is an empty list, expected a vector")
    values = col.to_numpy()
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        bad = int(np.argmin(finite))
        raise DataError(f"{schema.where(df, bad)}: '{name}' holds NaN, Infinity or null values")
    return df.with_columns(col)


# qdc columns a later command reads as numbers: a string there is a file:line error, not an internal one.
_NUMERIC_QDC = (schema.QUALITY, schema.COMPLEXITY, schema.CLUSTER)


def _normalise_qdc_dtypes(df: pl.DataFrame, source: str) -> pl.DataFrame:
    """Check the qdc columns a file brings back: vectors (see `_check_embeddings`) and numeric scores."""
    if schema.EMBEDDING in df.columns:
        df = _check_embeddings(df)
    for name in _NUMERIC_QDC:
        if name not in df.columns or df[name].dtype == pl.Null or df[name].dtype.is_numeric():
            continue
        col = df[name]
        values = [_loads_or_str(v) if isinstance(v, str) and col.dtype == pl.String else v for v in col.to_list()]
        bad = next((i for i, v in enumerate(values) if v is not None and _kind(v) != "a number"), 0)
        raise DataError(f"{schema.where(df, bad)}: '{name}' is {_kind(values[bad])}, expected a number (or null)")
    return df


def _loads_or_str(value: str) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def read_records(
    path: str | os.PathLike[str],
    cfg: IOConfig | None = None,
    report: ReadReport | None = None,
) -> pl.DataFrame:
    """Read a dataset into a frame with qdc's hidden columns.

    Args:
        path: a .jsonl / .jsonl.gz / .jsonl.zst / .parquet file, or '-' for JSONL on stdin.
        cfg: text, id and bad-row options.
        report: receives bad rows (with ``on_bad_rows="skip"``) and the text scheme used.

    Raises:
        DataError: a malformed line, a missing or non-string text field, an empty or truncated file;
            the message starts with 'file:line'.
    """
    cfg = cfg or IOConfig()
    report = report if report is not None else ReadReport()
    spath = str(path)
    fmt = detect_format(spath)
    if fmt == "parquet":
        return _read_parquet(spath, cfg, report)
    return _read_jsonl(spath, fmt, cfg, report)


def read_many(paths: Sequence[str | os.PathLike[str]], cfg: IOConfig | None = None) -> pl.DataFrame:
    """Read several files into one frame (e.g. the reference sets of `dedup --against`)."""
    frames = [read_records(p, cfg) for p in paths]
    return pl.concat(frames, how="diagonal_relaxed")


# ------------------------------------------------------------------------------------------- writing

PathGroup = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


def _same_file(a: str, b: str) -> bool:
    """True when two names reach one file: equal after resolving links and '..', or one inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def _flat(group: PathGroup) -> list[str]:
    if group is None:
        return []
    if isinstance(group, (str, os.PathLike)):
        return [str(group)]
    return [str(p) for p in group]


def check_distinct_paths(inputs: dict[str, PathGroup], outputs: dict[str, PathGroup]) -> None:
    """Refuse (ConfigError, exit 2) an output that is one of the inputs or another output.

    Keys are the names shown to the user ('-o', '--removed', 'the input'); '-' (stdin/stdout) never clashes.
    Writing over an input loses the rows nobody selected; two outputs on one file keep only the last.
    """
    seen: list[tuple[str, str]] = [(name, p) for name, g in inputs.items() for p in _flat(g) if p != STDIO]
    n_inputs = len(seen)
    for name, group in outputs.items():
        for path in _flat(group):
            if path == STDIO:
                continue
            for k, (other, prev) in enumerate(seen):
                if _same_file(path, prev):
                    what = "the same file as" if k < n_inputs else "also the path of"
                    kind = "input" if k < n_inputs else "output"
                    raise ConfigError(
                        f"{name} {path}: is {what} {other} {prev}; writing it would lose that {kind}. "
                        "Write to another path"
                    )
            seen.append((name, path))


def _lean(b: bytes) -> bytes:
    """A right-sized copy: each orjson.dumps result keeps its ~4 KB working buffer (measured with orjson 3.13),
    which made the fragments of a frame's score columns cost ~70 KB per row until written."""
    return bytes(memoryview(b))


def _json_fragments(col: pl.Series) -> list[bytes]:
    """Each value of a column as JSON bytes."""
    opt = orjson.OPT_SERIALIZE_NUMPY
    if isinstance(col.dtype, pl.Array) and col.null_count() == 0:
        arr = col.to_numpy()
        return [_lean(orjson.dumps(arr[i], option=opt)) for i in range(arr.shape[0])]
    if col.dtype.is_float() or col.dtype.is_integer() or col.dtype == pl.Boolean:
        # One array for the whole column, split at the commas (numbers hold none): the values' bytes are
        # those of one-by-one dumps, NaN/inf included (null, as polars and pandas write them).
        return orjson.dumps(col.to_list())[1:-1].split(b",") if col.len() else []
    return [_lean(orjson.dumps(v, option=opt, default=str)) for v in col.to_list()]


def _without_qdc_keys(raw: bytes) -> bytes:
    """An original line without its old top-level qdc_ keys (they come back as frame columns).

    Only lines that mention '"qdc_' are parsed; a line whose object has no such key is kept byte for byte.
    """
    if b'"' + schema.PREFIX.encode() not in raw:
        return raw
    obj = _loads(raw)
    if not any(k.startswith(schema.PREFIX) for k in obj):
        return raw
    return _dumps({k: v for k, v in obj.items() if not k.startswith(schema.PREFIX)})


def to_jsonl_lines(df: pl.DataFrame) -> Iterator[bytes]:
    """JSONL lines for a frame: original lines with qdc_ columns appended, or all visible columns."""
    visible = schema.visible_columns(df)
    if schema.RAW in df.columns:
        extra = schema.qdc_columns(visible)
        raws = df[schema.RAW].to_list()
    else:
        extra, raws = visible, None
    keys = [orjson.dumps(name) + b":" for name in extra]
    frags = [_json_fragments(df[name]) for name in extra]
    for i in range(df.height):
        parts = b",".join(k + f[i] for k, f in zip(keys, frags, strict=True))
        if raws is None:
            yield b"{" + parts + b"}"
            continue
        raw = _without_qdc_keys(raws[i].encode("utf-8"))
        if not parts:
            yield raw
            continue
        body = raw[:-1].rstrip()  # the original object without its closing brace
        sep = b"" if body.endswith(b"{") else b","
        yield body + sep + parts + b"}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


TMP_SUFFIX = ".qdc-tmp"
# Errors of writing that are about the place, not about qdc: said with the user's path, not the temporary's.
_WRITE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists (ours, or another user's)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def sweep_stale(folder: Path, pattern: str, pid_at: int) -> int:
    """Delete the entries of `folder` matching `pattern` whose pid (field `pid_at` of the name split on '.'
    or '-') belongs to no running process: temporaries left by a killed qdc. Returns how many were removed."""
    removed = 0
    for entry in folder.glob(pattern):
        fields = re.split(r"[.-]", entry.name)
        try:
            pid = int(fields[pid_at])
        except (IndexError, ValueError):
            continue
        if pid_alive(pid):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                import shutil

                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
        except OSError:
            continue  # not ours to remove (permissions): leave it
    return removed


def write_error(path: str | os.PathLike[str], exc: OSError) -> DataError:
    """A DataError for a failed write that names the user's path and the reason ('No space left on device')."""
    return DataError(f"{path}: cannot write it ({exc.strerror or exc})")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it into place only if the block succeeds.

    The temporary is named `.NAME.PID.XXXXXX.qdc-tmp`; those of dead processes (a kill -9) are swept here,
    the next time the same target is written. A read-only folder or a full disk is a DataError naming `path`.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.exists():
        raise DataError(f"{path}: folder {folder} does not exist")
    sweep_stale(folder, f".{glob_escape(target.name)}.*{TMP_SUFFIX}", -4)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise write_error(path, exc) from None
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates the file private (0600); give it the mode a plain open() would have.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.errno in _WRITE_ERRNOS or isinstance(exc, IsADirectoryError):
            raise write_error(path, exc) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def glob_escape(name: str) -> str:
    """A file name with glob metacharacters taken literally."""
    import glob

    return glob.escape(name)


def _write_jsonl_stream(df: pl.DataFrame, out: IO[bytes]) -> None:
    for line in to_jsonl_lines(df):
        out.write(line)
        out.write(b"\n")


def write_records(df: pl.DataFrame, path: str | os.PathLike[str], fmt: str | None = None) -> None:
    """Write a frame (hidden columns dropped) atomically; '-' writes JSONL to stdout.

    The same frame always gives the same bytes (gzip headers carry no timestamp).
    """
    spath = str(path)
    fmt = fmt or detect_format(spath)
    if spath == STDIO:
        if fmt == "parquet":
            raise ConfigError("Parquet cannot be written to stdout; pass -o FILE.parquet")
        _write_jsonl_stream(df, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    with atomic_path(spath) as tmp:
        if fmt == "parquet":
            schema.drop_hidden(df).write_parquet(tmp, compression="zstd", statistics=False)
        elif fmt == "jsonl.gz":
            with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                _write_jsonl_stream(df, gz)  # type: ignore[arg-type]
        elif fmt == "jsonl.zst":
            import zstandard

            with open(tmp, "wb") as raw, zstandard.ZstdCompressor(level=3).stream_writer(raw) as zw:
                _write_jsonl_stream(df, zw)
        else:
            with open(tmp, "wb") as fh:
                _write_jsonl_stream(df, fh)


def write_bad_rows(bad: Sequence[BadRow], path: str | os.PathLike[str]) -> None:
    """Write quarantined lines verbatim, one per line, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        for row in bad:
            fh.write(row.raw.rstrip(b"\r\n"))
            fh.write(b"\n")


def write_json(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write a JSON document (manifests, summaries) atomically; '-' writes to stdout."""
    data = orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY, default=str) + b"\n"
    if str(path) == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def embeddings_of(df: pl.DataFrame) -> np.ndarray:
    """The qdc_embedding column as a C-contiguous (n, d) float32 array."""
    schema.require_columns(df, schema.EMBEDDING)
    col = df[schema.EMBEDDING]
    if not isinstance(col.dtype, pl.Array):
        col = _normalise_qdc_dtypes(df.select(schema.EMBEDDING), "<memory>")[schema.EMBEDDING]
    return np.ascontiguousarray(col.to_numpy(), dtype=np.float32)
