"""A fast path for one Parquet column: a list of float32 vectors of one length (qdc_embedding), decoded
straight from the file's pages into one (n, d) numpy array.

Both Parquet readers (polars, pyarrow) turn the nested column's 38.4 million repetition and definition
levels (100k x 384) into list offsets and validity first, and their fresh buffers page-fault. Measured on
the 150 MB bench_cli file (100k x 384, zstd; 2 shared cores, loaded), CPU to get the (n, d) float32 array:
polars `read_parquet(columns=[...])` 0.61-0.71 s; pyarrow `read_table(memory_map=True)` + combine_chunks +
values 1.6-1.7 s (pyarrow `ParquetFile(memory_map=True).read(use_threads=False)` 0.33-0.39 s alone, but not
cheaper than polars once both libraries were loaded); this module 0.21 s in isolation, 0.38-0.51 s in a
loaded process. Most of the readers' work is for levels that say nothing but "every row holds d values".
Here the pages are decompressed one at a time into the output array, and the levels are checked, not
decoded: a page is taken only when (a) its values fill every level slot (no null row or element, no empty
list) and (b) its repetition levels are one row's [0, 1 x (d - 1)] repeated: byte for byte the first row's
encoding repeated (what Arrow and polars write for d a multiple of 8), else decoded run by run and compared.
Anything else (another codec or encoding, a dictionary page, nulls, rows of other lengths, a damaged page or
footer) returns None and the caller reads the file as before, so the result is the same array or no result,
never a different one.
"""

from __future__ import annotations

import mmap
import struct
from typing import Any

import numpy as np

_FLOAT = 4  # Parquet physical type
_PLAIN = 0  # value encoding
_UNCOMPRESSED, _ZSTD = 0, 6  # codecs handled
_DATA_PAGE, _DATA_PAGE_V2 = 0, 3
_REPEATED, _OPTIONAL = 2, 1


# ------------------------------------------------------------------------------------------ thrift (compact)


def _varint(b: Any, i: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        x = b[i]
        i += 1
        out |= (x & 0x7F) << shift
        if x < 0x80:
            return out, i
        shift += 7


def _value(b: Any, i: int, kind: int) -> tuple[Any, int]:
    """One value of thrift compact type `kind` at b[i:]; lists as lists, structs as {field id: value}."""
    if kind in (1, 2):
        return kind == 1, i
    if kind == 3:
        return b[i], i + 1
    if kind in (4, 5, 6):
        v, i = _varint(b, i)
        return (v >> 1) ^ -(v & 1), i
    if kind == 7:
        return struct.unpack_from("<d", b, i)[0], i + 8
    if kind == 8:
        n, i = _varint(b, i)
        return bytes(b[i : i + n]), i + n
    if kind in (9, 10):
        return _list(b, i)
    if kind == 11:
        return _map(b, i)
    if kind == 12:
        return _struct(b, i)
    raise ValueError(f"thrift type {kind}")


def _list(b: Any, i: int) -> tuple[list[Any], int]:
    n, elem = b[i] >> 4, b[i] & 15
    i += 1
    if n == 15:
        n, i = _varint(b, i)
    items = []
    for _ in range(n):
        if elem in (1, 2):  # booleans in a list: one byte each
            items.append(b[i] == 1)
            i += 1
        else:
            v, i = _value(b, i, elem)
            items.append(v)
    return items, i


def _map(b: Any, i: int) -> tuple[dict[Any, Any], int]:
    n, i = _varint(b, i)
    if n == 0:
        return {}, i
    kk, vk = b[i] >> 4, b[i] & 15
    i += 1
    out = {}
    for _ in range(n):
        key, i = _value(b, i, kk)
        out[key], i = _value(b, i, vk)
    return out, i


def _struct(b: Any, i: int) -> tuple[dict[int, Any], int]:
    out: dict[int, Any] = {}
    field = 0
    while True:
        head = b[i]
        i += 1
        if head == 0:
            return out, i
        if head >> 4:
            field += head >> 4
        else:
            v, i = _varint(b, i)
            field = (v >> 1) ^ -(v & 1)
        out[field], i = _value(b, i, head & 15)


# ------------------------------------------------------------------------------------------ levels


def _levels(rep: bytes, n: int) -> np.ndarray | None:
    """The first n levels of a bit-width-1 RLE/bit-packed hybrid run sequence (None if it holds fewer)."""
    parts: list[np.ndarray] = []
    i = have = 0
    while have < n and i < len(rep):
        head, i = _varint(rep, i)
        if head & 1:  # bit-packed: (head >> 1) groups of 8 values, one byte per group at bit width 1
            part = np.unpackbits(np.frombuffer(rep, np.uint8, head >> 1, i), bitorder="little")
            i += head >> 1
        else:  # a run: (head >> 1) copies of the next byte
            part = np.full(head >> 1, rep[i], dtype=np.uint8)
            i += 1
        parts.append(part)
        have += part.size
    return np.concatenate(parts)[:n] if have >= n else None


def _rows_of(rep: bytes, n: int, d: int) -> bool:
    """Whether n repetition levels are [0, 1 x (d - 1)] repeated: each list holds exactly d values."""
    levels = _levels(rep, n)
    if levels is None:
        return False
    want = np.ones(n, dtype=np.uint8)
    want[::d] = 0
    return bool(np.array_equal(levels, want))


def _row_unit(rep: bytes, d: int) -> bytes | None:
    """The bytes encoding the first row's levels, when its runs end exactly at the row's end (as Arrow and
    polars write them for d a multiple of 8); a page equal to this unit repeated needs no decoding."""
    i = have = 0
    while have < d and i < len(rep):
        head, i = _varint(rep, i)
        have += 8 * (head >> 1) if head & 1 else head >> 1
        i += head >> 1 if head & 1 else 1
    return rep[:i] if have == d and _rows_of(rep[:i], d, d) else None


# ------------------------------------------------------------------------------------------ the column


def _is_float_list(meta: dict[int, Any], column: str) -> bool:
    """Whether top-level `column` is a list of floats: a group with one repeated group holding one float."""
    elements = meta.get(2, [])
    for k, el in enumerate(elements):
        if el.get(4) == column.encode() and el.get(5) == 1 and k + 2 < len(elements):
            group, leaf = elements[k + 1], elements[k + 2]
            return group.get(3) == _REPEATED and group.get(5) == 1 and leaf.get(1) == _FLOAT and not leaf.get(5)
    return False


def _footer(mm: mmap.mmap) -> dict[int, Any] | None:
    if len(mm) < 12 or mm[-4:] != b"PAR1":
        return None
    n = struct.unpack_from("<I", mm, len(mm) - 8)[0]
    if n + 8 > len(mm):
        return None
    return _struct(mm, len(mm) - 8 - n)[0]


def read_vectors(path: str, column: str) -> np.ndarray | None:
    """The column as a C-contiguous (rows, d) float32 array, or None when the fast path does not apply
    (see the module docstring). Raises nothing for an unusual file: the caller's reader reports it."""
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return _read(mm, column)
    except Exception:  # any damage (zstd errors, odd thrift, huge sizes): polars reads the file and reports it
        return None


_Page = tuple[dict[int, Any], int, int, bool]  # (page header, offset of its body, first value, zstd)


def _read(mm: mmap.mmap, column: str) -> np.ndarray | None:
    meta = _footer(mm)
    rows = meta.get(3, 0) if meta else 0
    if not meta or rows <= 0 or not _is_float_list(meta, column):
        return None
    pages: list[_Page] = []
    total = declared = 0
    for group in meta.get(4, []):
        found = [c.get(3, {}) for c in group.get(1, []) if c.get(3, {}).get(3, [b""])[:1] == [column.encode()]]
        if len(found) != 1 or found[0].get(1) != _FLOAT or found[0].get(4) not in (_UNCOMPRESSED, _ZSTD):
            return None
        chunk = found[0]
        if chunk.get(11) is not None or len(chunk.get(3, [])) != 3:
            return None  # a dictionary page, or not the list's leaf
        declared += chunk.get(5, 0)
        pos, end = chunk[9], chunk[9] + chunk[7]
        while pos < end:
            head, pos = _struct(mm, pos)
            page = head.get(5 if head.get(1) == _DATA_PAGE else 8)
            if head.get(1) not in (_DATA_PAGE, _DATA_PAGE_V2) or page is None:
                return None  # a dictionary or index page: not this path
            pages.append((head, pos, total, chunk[4] == _ZSTD))
            total += page[1]
            pos += head[3]
    if not pages or total != declared or total % rows:
        return None
    d = total // rows
    first = _page(mm, pages[0])
    unit = None if first is None else _row_unit(first[1], d)
    flat = np.empty(total, dtype=np.float32)
    if not _decode_pages(mm, pages, d, flat, unit):
        return None
    return flat.reshape(rows, d)


def _page(mm: mmap.mmap, item: _Page, dctx: Any = None) -> tuple[dict[int, Any], bytes, Any, int, int] | None:
    """(data page header, repetition level bytes, values buffer, offset of the values in it, value encoding)
    of a v1 or v2 data page."""
    head, pos, _, zstd = item
    if zstd and dctx is None:
        import zstandard

        dctx = zstandard.ZstdDecompressor()
    with memoryview(mm) as view:
        body = view[pos : pos + head[3]]
        if head.get(1) == _DATA_PAGE:
            page = head[5]
            raw = dctx.decompress(body, max_output_size=head[2]) if zstd else bytes(body)
            rep_len = struct.unpack_from("<I", raw, 0)[0]
            def_len = struct.unpack_from("<I", raw, 4 + rep_len)[0]
            return page, raw[4 : 4 + rep_len], raw, 8 + rep_len + def_len, page.get(2, -1)
        page = head[8]
        rep_len, def_len = page[6], page[5]
        values = bytes(body[rep_len + def_len :])
        if zstd and page.get(7, True):
            values = dctx.decompress(values, max_output_size=head[2] - rep_len - def_len)
        return page, bytes(body[:rep_len]), values, 0, page.get(4, -1)


def _decode_pages(mm: mmap.mmap, pages: list[_Page], d: int, flat: np.ndarray, unit: bytes | None) -> bool:
    """Decode every page into its slice of `flat`, on two threads (zstd and the copies release the GIL);
    False when a page is not what this path reads."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()

    def one(item: _Page) -> bool:
        if item[3] and not hasattr(local, "dctx"):
            import zstandard

            local.dctx = zstandard.ZstdDecompressor()
        parsed = _page(mm, item, getattr(local, "dctx", None))
        if parsed is None:
            return False
        page, rep, values, start, encoding = parsed
        n, done = page[1], item[2]
        if encoding != _PLAIN or len(values) - start != 4 * n or n % d:
            return False  # another encoding, or a slot without a value (a null, an empty list)
        if (unit is None or rep != unit * (n // d)) and not _rows_of(rep, n, d):
            return False  # lists of other lengths
        flat[done : done + n] = np.frombuffer(values, dtype="<f4", count=n, offset=start)
        return True

    with ThreadPoolExecutor(min(2, len(pages))) as pool:
        decoded = pool.map(one, pages)
        # While the pages decode this thread would only wait: it imports numpy.ma, which the caller's
        # pl.Series(array) imports on first use (15-25 ms of the main thread's time after the read).
        import numpy.ma  # noqa: F401

        return all(decoded)
