"""A batch of plain JSON lines added to the reader by whole lists: the per-row path's rows, cheaper.

`add_plain_lines` takes the raw lines of one batch and either adds them all (and returns the pieces of the
batch's frame) or adds nothing and returns None, and the caller reads the same lines row by row as always
(`qdc.io.rows.parse_line`), which finds and reports whatever made the batch unusual. The batch is taken only
when the per-row path would give the same rows without a word to say: every line one JSON object (orjson),
no blank line, no byte order mark, no CRLF line end, no key written twice (proved from counts, as
`qdc.io.rows.duplicate_key` does per row), no ``--template``, text from one string field in every row and a
string or integer id in every row, unique and not seen before. Parsing and checking one line at a time was
~2 s of the ~3 s JSONL read of 100k documents in `qdc dedup`.
"""

from __future__ import annotations

import io
import itertools
import operator
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
import polars as pl

from qdc.io.formats import BOM
from qdc.io.rows import _count_keys, _RowBuilder, duplicate_key
from qdc.io.text import RowTextError, detect

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    import numpy as np


def _objects(lines: list[bytes], first: bool) -> list[dict[str, Any]] | None:
    """The lines' objects, or None when any line is not a plain JSON object line (keys written twice are
    `_keys_unique`'s)."""
    if not lines or (first and lines[0].startswith(BOM)):
        return None
    if len(lines) > 1 and not lines[0].endswith(b"\n"):
        return None  # the rows of a JSON array: not lines of the file
    if lines[-1].endswith(b"\r") or any(map(bytes.endswith, lines, itertools.repeat(b"\r\n"))):
        return None  # CRLF: the per-row path strips the CR from what it hands polars
    try:
        objs = list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        return None  # malformed, or an integer beyond 64 bits: the per-row path says which
    if not _all_of_type(objs, dict):
        return None
    return objs


def _line_starts(lines: list[bytes]) -> np.ndarray:
    """int64, len(lines) + 1: where each line starts in the lines' bytes joined, then the total length."""
    import numpy as np

    starts = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, lines), dtype=np.int64, count=len(lines)), out=starts[1:])
    return starts


def _keys_unique(lines: list[bytes], objs: list[dict[str, Any]]) -> bool:
    """No line writes a key twice (a count proves most lines; the others are checked one by one)."""
    return all(duplicate_key(lines[i], objs[i]) is None for i in _unproved_lines(lines, objs))


def _unproved_lines(lines: list[bytes], objs: list[dict[str, Any]]) -> list[int]:
    """The lines whose keys a count does not prove unique; each is then checked alone (`duplicate_key`).

    In a valid JSON line every colon outside a string separates a key from its value, so the colons outside
    strings count the keys written, at every depth; a parser keeps one of two equal keys, so a duplicate
    makes that count larger than the parsed object's. Strings are told by the quotes that no odd run of
    backslashes escapes (every line parsed, so each holds an even number of them). A colon inside a string
    (code, times, ' : ' in prose) no longer sends its line to the per-line check.
    """
    import numpy as np

    from qdc._native import hashing

    if hashing is not None:  # the same count by the compiled kernel, over the lines where they are
        counts = np.empty(len(lines), dtype=np.int64)
        hashing.json_key_colons(lines, counts)
    else:
        counts = _colons_outside_strings(b"".join(lines), _line_starts(lines), len(lines))
    keys = np.fromiter(map(len, objs), dtype=np.int64, count=len(objs))
    # A nested object's keys are written too: such a line is proved when they are all in the parsed object.
    return [i for i in np.flatnonzero(counts != keys).tolist() if counts[i] != _count_keys(objs[i])]


def _colons_outside_strings(buf: bytes, starts: np.ndarray, lines: int) -> np.ndarray:
    """Colons outside strings in each line (numpy; `qdc._native`'s json_key_colons when it is built)."""
    import numpy as np

    data = np.frombuffer(buf, dtype=np.uint8)
    quotes = np.flatnonzero(data == ord('"'))
    after_slash = quotes[(quotes > 0) & (data[quotes - 1] == ord("\\"))]
    if after_slash.size:  # escaped when the run of backslashes before it is odd
        run = np.zeros(after_slash.shape[0], dtype=np.int64)
        live = np.ones(after_slash.shape[0], dtype=bool)
        k = 1
        while live.any():
            pos = after_slash - k
            live &= pos >= 0
            live[live] = data[pos[live]] == ord("\\")
            run += live
            k += 1
        quotes = np.setdiff1d(quotes, after_slash[run % 2 == 1], assume_unique=True)
    colons = np.flatnonzero(data == ord(":"))
    outside = colons[np.searchsorted(quotes, colons) % 2 == 0]  # an even number of quotes before it
    return np.bincount(np.searchsorted(starts, outside, side="right") - 1, minlength=lines)


def _all_of_type(values: list[Any], kind: type) -> bool:
    """Every value is exactly of type `kind` (no subclass), checked by C-level maps, not a Python loop."""
    return set(map(type, values)) <= {kind}


def _field(objs: list[dict[str, Any]], name: str) -> list[Any]:
    """Each object's `name` (None where it is missing)."""
    return list(map(dict.get, objs, itertools.repeat(name)))


def _blank(texts: list[str]) -> list[int]:
    """Positions of the texts that `str.strip()` leaves empty: empty or all whitespace."""
    rows = range(len(texts))
    empty = itertools.compress(rows, map(operator.not_, texts))
    spaces = itertools.compress(rows, map(str.isspace, texts))
    return sorted([*empty, *spaces])


def _ids(objs: list[dict[str, Any]], field: str) -> list[str] | None:
    values = _field(objs, field)
    if _all_of_type(values, str):
        return values
    if _all_of_type(values, int):
        return list(map(str, values))
    return None  # missing (content ids), null, nested, float, bool or mixed: the per-row path


# polars' type for a JSON field whose every value is exactly one of these Python types (read_ndjson's inference).
# Not float: orjson reads an integer past 64 bits as a float, where polars reads an Int128.
_SCALARS = {str: pl.String, int: pl.Int64, bool: pl.Boolean}
_I64 = 1 << 63


def typed_columns(objs: list[dict[str, Any]], known: dict[str, pl.Series]) -> pl.DataFrame | None:
    """The frame `pl.read_ndjson` gives for these rows, built from the parsed objects, when they form a plain
    table: every row has the first row's keys and no other, and each key's values are all of one scalar type
    (str, int within 64 bits or bool; no float, no null). None otherwise: polars parses the lines then.

    Columns keep the first row's key order (polars' order of first appearance). `known`: columns already
    built from the same values (the text field's), reused instead of a second copy. polars' parse of the
    lines cost ~4x the CPU of these columns (it reads every value again), and the reader waited on it.
    """
    width = len(objs[0])
    if set(map(len, objs)) != {width}:
        return None
    cols = []
    for key in objs[0]:
        if key in known:
            cols.append(known[key].alias(key))
            continue
        values = _field(objs, key)
        kinds = set(map(type, values))
        dtype = _SCALARS.get(kinds.pop()) if len(kinds) == 1 else None
        if dtype is None or (dtype == pl.Int64 and not -_I64 <= min(values) <= max(values) < _I64):
            return None
        cols.append(pl.Series(key, values, dtype=dtype))
    return pl.DataFrame(cols)


class PlainBatch(NamedTuple):
    """What `qdc.io.read._jsonl_frame` needs of a batch taken whole."""

    objs: list[dict[str, Any]]
    raws: list[str] | pl.Series
    good: list[bytes]
    """[the lines' bytes joined] when `user` is polars' parse of them (its fallback reads them again), else []."""
    user: Future[pl.DataFrame] | pl.DataFrame | None
    """The user columns: built from the objects (`typed_columns`), or else polars' parse of `good`, started on
    a second thread (it releases the GIL) while this thread checks keys and builds the other columns; None
    without user columns."""


_POOL: list[ThreadPoolExecutor] = []


def _parse_user(buf: bytes) -> Future[pl.DataFrame]:
    from concurrent.futures import ThreadPoolExecutor

    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdc-jsonl"))
    return _POOL[0].submit(pl.read_ndjson, io.BytesIO(buf), infer_schema_length=None)


def add_plain_lines(builder: _RowBuilder, lines: list[bytes], offset: int, user_columns: bool) -> PlainBatch | None:
    """Add one batch of JSONL lines (line numbers ``offset + 1 ...``) as `parse_line` would, or nothing.

    Returns the batch's pieces for `qdc.io.read._jsonl_frame`, or None when the batch needs the per-row path
    (the builder is then untouched). The cyclic garbage collector is paused meanwhile: the batch makes ~10
    objects per row, none in a cycle, and its full collections over them were ~0.05 s per 100k rows.
    """
    from qdc.gcpause import no_gc

    with no_gc():
        return _add_plain_lines(builder, lines, offset, user_columns)


def _add_plain_lines(builder: _RowBuilder, lines: list[bytes], offset: int, user_columns: bool) -> PlainBatch | None:
    cfg = builder.cfg
    if cfg.template is not None:
        return None
    objs = _objects(lines, first=offset == 0)
    if objs is None:
        return None
    spec = builder.spec
    if spec is None:
        try:
            spec = detect(objs[0], cfg.text_spec())
        except RowTextError:
            return None  # the per-row path raises it at the first row
    kind, _, name = spec.scheme.partition(":")
    if kind != "field":
        return None
    texts = _field(objs, name)
    ids = _ids(objs, cfg.id_field)
    if ids is None or not _all_of_type(texts, str) or len(set(ids)) != len(ids):
        return None
    if builder.seen_ids and not builder.seen_ids.keys().isdisjoint(ids):
        return None
    column = pl.Series(name, texts, dtype=pl.String)
    user: Future[pl.DataFrame] | pl.DataFrame | None = None
    good: list[bytes] = []  # the lines joined: only polars' parse reads them (no copy of the file otherwise)
    if user_columns:
        user = typed_columns(objs, {name: column})
        if user is None:
            good = [b"".join(lines)]
            user = _parse_user(good[0])
    if not _keys_unique(lines, objs):
        return None  # (a duplicate key: rare; a parse started above is dropped)
    builder.adopt(spec, objs[0])
    # The column is the hidden text too when it starts the builder's batch (it does: each batch is reset).
    whole = not builder.ids and builder.column_texts is None
    builder.add_plain(ids, column if whole else texts, offset, _blank(texts))
    return PlainBatch(objs, _raw_lines(lines) if user_columns else [], good, user)


def _raw_lines(lines: list[bytes]) -> pl.Series:
    """The lines as the per-row path keeps them (`str.strip()`), decoded by polars all at once.

    Each line parsed, so it is UTF-8 and only JSON whitespace can surround its object. When every line is
    '{...}' and a newline, dropping the last character is a view of the same bytes (no copy, where stripping
    copied all of them again; `str.strip()` line by line was 0.35 s of a 100k-row read).
    """
    binary = pl.Series(lines, dtype=pl.Binary)
    raws = binary.cast(pl.String)
    last = lines[-1]
    tight = (
        bool(binary.bin.starts_with(b"{").all())
        and bool(binary.head(len(lines) - 1).bin.ends_with(b"}\n").all())
        and last.endswith((b"}\n", b"}"))
    )
    if not tight:
        return raws.str.strip_chars(" \t\r\n")
    if last.endswith(b"\n"):
        return raws.str.head(-1)
    return pl.concat([raws.head(len(lines) - 1).str.head(-1), raws.tail(1)])
