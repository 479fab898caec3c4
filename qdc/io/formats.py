"""File formats: which format a name means, and reading/writing compressed JSONL with its end verified."""

from __future__ import annotations

import gzip
import io as _io
import itertools
import os
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from qdc.errors import ConfigError, DataError

STDIO = "-"


JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


FORMATS = ("jsonl", "jsonl.gz", "jsonl.zst", "parquet")


BOM = b"\xef\xbb\xbf"


_CHUNK = 1 << 20


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
    if name == os.devnull:  # outputs are written beside their name and renamed over it: not into /dev
        raise ConfigError(f"{path}: to discard the rows write them to stdout and redirect it (-o - > {os.devnull})")
    raise ConfigError(f"{path}: unknown format; use a name ending in .jsonl, .jsonl.gz, .jsonl.zst or .parquet, or '-'")


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


# The first bytes of what may be piped into '-': compressed JSONL is read as such, Parquet is refused by name.
_STDIN_MAGIC = ((b"\x1f\x8b", "jsonl.gz"), (b"\x28\xb5\x2f\xfd", "jsonl.zst"), (b"PAR1", "parquet"))


def stdin_jsonl(buf: IO[bytes]) -> IO[bytes]:
    """The JSONL bytes of stdin: `buf` itself, or its gzip/zstd stream decompressed (`decompressed`, as for a
    .jsonl.gz/.zst file), told by the first bytes; DataError for Parquet, which needs a file.

    The first bytes are peeked (a buffered stdin: nothing is consumed), or read and put back in front.
    """
    peek = getattr(buf, "peek", None)
    if callable(peek):
        head = peek(4)[:4]
    else:  # an unbuffered stream (e.g. a test's BytesIO): read the head and chain it back in front
        head, read = buf.read(4), buf.read
        buf = _io.BufferedReader(ChunkStream(itertools.chain([head], iter(lambda: read(_CHUNK), b""))), _CHUNK)
    fmt = next((f for magic, f in _STDIN_MAGIC if head.startswith(magic)), "jsonl")
    if fmt == "parquet":
        raise DataError(
            f"{STDIO}: stdin looks like Parquet (it starts with PAR1); Parquet cannot be read from a pipe: "
            "pass the file name"
        )
    if fmt == "jsonl":
        return buf
    return decompressed_reader(buf.read, fmt, STDIO)


def decompressed_reader(read: Callable[[int], bytes], fmt: str, path: str) -> _io.BufferedReader:
    """A buffered binary stream of the decompressed bytes of a gzip or zstd stream read with `read`."""
    return _io.BufferedReader(ChunkStream(decompressed(read, fmt, path)), buffer_size=_CHUNK)


@contextmanager
def compressed_writer(raw: IO[bytes], fmt: str) -> Iterator[IO[bytes]]:
    """A writer of JSONL bytes into `raw` for 'jsonl', 'jsonl.gz' (no time stamp: same bytes every run) or
    'jsonl.zst'; closing it finishes the compressed stream (not `raw`)."""
    if fmt == "jsonl.gz":
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            yield gz  # type: ignore[misc]
    elif fmt == "jsonl.zst":
        import zstandard

        with zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False) as zw:
            yield zw
    else:
        yield raw
