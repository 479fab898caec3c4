"""From JSON objects to rows: parsing a line, the text/id of a row, bad rows, and the user's columns."""

from __future__ import annotations

import io as _io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import polars as pl
import xxhash

from qdc import schema
from qdc.errors import DataError, quote
from qdc.io.formats import BOM
from qdc.io.text import (
    RowTextError,
    TextSpec,
    canonical_roles,
    check_template,
    detect,
    resolve,
    unescape_template,
)


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
            object.__setattr__(self, "template", unescape_template(self.template))
            check_template(self.template)  # a usage error (exit 2), before any row is read

    def text_spec(self) -> TextSpec:
        return TextSpec(self.text_field, self.template, canonical_roles(self.roles))


@dataclass(frozen=True)
class BadRow:
    """A line that could not be read, kept verbatim for the quarantine file."""

    source: str
    line: int
    reason: str
    raw: bytes

    @property
    def place(self) -> str:
        """'file:line: reason', as every message that names a bad line says it."""
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass
class ReadReport:
    """What a read saw besides the good rows."""

    bad_rows: list[BadRow] = field(default_factory=list)
    text_scheme: str = ""


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


def _dumps(obj: Any, sort_keys: bool = False) -> bytes:
    """Compact JSON; falls back to the stdlib for integers beyond 64 bits."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS if sort_keys else 0, default=str)
    except TypeError:
        return json.dumps(obj, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"), default=str).encode(
            "utf-8"
        )


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
    if not isinstance(obj, (dict, list)):
        return None  # a scalar has no keys (the reader then says it is not an object)
    if b" :" not in line and b"\t:" not in line and b"\r:" not in line:
        # No whitespace before any colon, so every key is written '"k":' and counts once in '":' (besides
        # escaped quotes in values, '\\":', which only make the count larger): a plain byte count will do.
        # It is ~20x cheaper than the regex below (0.43 s of a 20k-document minhash run before).
        n = line.count(b'":')
        if n == len(obj) or n == _count_keys(obj):
            return None
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
        self.column_texts: pl.Series | None = None  # a batch's texts added whole by add_plain (prompt = text)
        self.responses: list[str] = []
        # id -> where it was first seen: (file number << 40) + line, so a duplicate from an earlier file names
        # that file; one addition per row (`line_base` is the current file's part).
        self.seen_ids: dict[str, int] = {}
        self.files: list[str] = [source]
        self.line_base = 0
        self.many = False  # one of several input files: an empty one is not an error by itself
        # Tallies over the whole read (every batch and file), for `finish_read`'s checks.
        self.n_rows = 0
        self.n_derived = 0
        self.n_empty = 0
        self.first_empty = ""
        self.roles_seen: set[str] = set()
        self.first_fields: list[str] = []

    def start_file(self, source: str) -> None:
        """Rows from here on come from `source` (ids stay unique across files; each file's scheme its own)."""
        if source != self.files[-1] or self.seen_ids:
            self.files.append(source)
        self.source, self.spec, self.line_base = source, None, (len(self.files) - 1) << 40

    def first_seen(self, rid: str) -> str:
        """Where id `rid` was first seen: 'line N' in the current file, else 'file:N'."""
        file_no, line = divmod(self.seen_ids[rid], 1 << 40)
        return f"line {line}" if file_no == len(self.files) - 1 else f"{self.files[file_no]}:{line}"

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
            spec = self.spec
            if spec is None:
                spec = detect(obj, self.cfg.text_spec())
                self.adopt(spec, obj)
            text, prompt, response = resolve(obj, spec, self.roles_seen)
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
                    f"duplicate id {quote(rid)} (first seen at {self.first_seen(rid)}); ids in "
                    f"'{self.cfg.id_field}' must be unique (use --id-field to pick another field)",
                    raw,
                )
                return False
            base, k = rid, 2
            while f"{base}-{k}" in self.seen_ids:  # identical rows: same hash, so number the repeats
                k += 1
            rid = f"{base}-{k}"
        self.seen_ids[rid] = self.line_base + line
        self.n_rows += 1
        self.n_derived += derived
        if not text.strip():
            self.n_empty += 1
            self.first_empty = self.first_empty or f"{self.source}:{line}"
        self.lines.append(line)
        self.ids.append(rid)
        self.derived.append(derived)
        self.texts.append(text)
        self.prompts.append(prompt)
        self.responses.append(response)
        return True

    def adopt(self, spec: TextSpec, first: Mapping[str, Any]) -> None:
        """Take the text scheme found on the first row (`first`), unless one is already set."""
        if self.spec is None:
            self.spec = spec
            self.report.text_scheme = spec.describe()
            self.first_fields = self.first_fields or list(first)

    def add_plain(self, ids: list[str], texts: list[str] | pl.Series, offset: int, empty: Sequence[int]) -> None:
        """Rows whose text is one string field and whose ids are unique, new and given, a batch at once.

        The rows sit on lines offset+1 .. offset+n; `empty` holds the positions of blank texts. The
        tallies end as `add` would leave them row by row (no derived ids, prompt = text, no response).
        """
        n = len(ids)
        if isinstance(texts, pl.Series):  # kept whole for hidden_frame (100k str in a list: 0.07 s) when first
            first = not self.ids and self.column_texts is None
            self.column_texts, texts = (texts, []) if first else (self.column_texts, texts.to_list())
        lines = list(range(offset + 1, offset + n + 1))
        base = self.line_base + offset  # the first file's values are its lines: the same int objects, no new ones
        where = lines if not self.line_base else range(base + 1, base + n + 1)
        self.seen_ids.update(zip(ids, where, strict=True))
        if len(empty):
            self.n_empty += len(empty)
            self.first_empty = self.first_empty or f"{self.source}:{offset + int(empty[0]) + 1}"
        self.n_rows += n
        self.lines += lines
        self.ids += ids
        self.derived += [False] * n
        self.texts += texts
        self.prompts += texts
        self.responses += [""] * n

    def hidden_frame(self) -> pl.DataFrame:
        texts = pl.Series(schema.TEXT, self.texts, dtype=pl.String)
        prompts = (
            texts.alias(schema.PROMPT)  # text = prompt for text from one field: one column built, not two
            if self.prompts == self.texts
            else pl.Series(schema.PROMPT, self.prompts, dtype=pl.String)
        )
        if (head := self.column_texts) is not None:  # the batch's first rows, whose prompt is their text
            texts, prompts = ((pl.concat([head, p]) if len(p) else head).alias(p.name) for p in (texts, prompts))
        cols: dict[str, Any] = {
            schema.ROW_ID: pl.Series(schema.ROW_ID, self.ids, dtype=pl.String),
            schema.SRC: pl.Series(schema.SRC, [self.source] * len(self.ids), dtype=pl.Categorical),
            schema.LINE: pl.Series(schema.LINE, self.lines, dtype=pl.Int64),
            schema.TEXT: texts,
            schema.PROMPT: prompts,
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
    reader (`qdc.io.read.iter_batches`) at every batch size, so every read gives the same rows.
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
        builder.bad(lineno, f"duplicate JSON key {quote(dup)} (a key may appear once per object)", line)
        return None
    if not builder.add(lineno, obj, line):
        return None
    if not keep_raw:
        return obj, "", line
    # The line as read: old qdc_ keys in it are dropped when (and only when) it is written as JSONL.
    return obj, line.decode("utf-8").strip(), line


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
