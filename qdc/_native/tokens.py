"""Tokens of many texts at once as byte spans of one buffer, and XXH3-64 of every span.

Shared by MinHash (word tokens, `qdc.dedup.normalize.word_hash_array`) and the diversity n-gram statistics
(whitespace tokens); it lives here, outside the qdc.dedup package, so that importing it costs neither of them
the other's modules. The texts are joined into one UTF-8 buffer; a token is a maximal run of bytes of a byte
class inside one row; its hash is XXH3-64 (seed 0) of its bytes. With the compiled kernel
(`qdc._native.hashing.hash_words`) that is one C pass per block; without it, spans of 1-128 bytes are hashed
with 64-bit numpy arithmetic (the algorithm's short-input branches) and longer ones by the `xxhash` package.
Either way every value equals ``xxhash.xxh3_64_intdigest(token_bytes)`` (tested against it).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from qdc._native.blocks import cost_blocks

_U = np.uint64
_M32 = _U(0xFFFFFFFF)
_P64_1 = _U(0x9E3779B185EBCA87)
_P64_2 = _U(0xC2B2AE3D27D4EB4F)
_P64_3 = _U(0x165667B19E3779F9)
_MX1 = _U(0x165667919E3779F9)
_MX2 = _U(0x9FB21C651E98DF25)
# The first 128 bytes of XXH3's default secret (kSecret), all the short-input branches read.
_SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
    "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
    "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
)


def _s64(offset: int) -> np.uint64:
    return _U(int.from_bytes(_SECRET[offset : offset + 8], "little"))


def _s32(offset: int) -> int:
    return int.from_bytes(_SECRET[offset : offset + 4], "little")


def joined_text(texts: pl.Series) -> tuple[bytes, np.ndarray]:
    """(every row's UTF-8 bytes, each but the last followed by one space; int64 row offsets, n + 1): row i is
    joined[offsets[i] : offsets[i + 1] - 1]. The space keeps tokens inside rows."""
    s = texts.cast(pl.String).fill_null("")
    offsets = np.zeros(s.len() + 1, dtype=np.int64)
    np.cumsum(s.str.len_bytes().to_numpy() + 1, out=offsets[1:])
    joined: bytes = s.str.join(" ").cast(pl.Binary).item() if s.len() else b""
    return joined, offsets


def text_buffer(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 buffer of every row's UTF-8 bytes, each followed by one space, then 8 zero bytes; int64 row
    offsets, n + 1): `joined_text` with the last row's space and the padding `xxh3_spans` reads past a span."""
    joined, offsets = joined_text(texts)
    buf = np.zeros(len(joined) + 9, dtype=np.uint8)  # the last row's space, then 8 bytes of padding
    buf[: len(joined)] = np.frombuffer(joined, dtype=np.uint8)
    buf[len(joined) : len(joined) + 1] = 0x20
    return buf, offsets


def spans(buf: np.ndarray, offsets: np.ndarray, token_byte: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, tokens per row): maximal runs of bytes b with token_byte[b] (never a space) in a
    `text_buffer`, in order."""
    assert not token_byte[0x20], "the row separator must not be a token byte"
    size = int(offsets[-1])
    m = np.zeros(size + 2, dtype=bool)
    m[1:-1] = token_byte[buf[:size]]
    edges = np.flatnonzero(m[1:] != m[:-1])  # alternately a run's start and its end
    starts, ends = edges[0::2], edges[1::2]
    per_row = np.diff(np.searchsorted(starts, offsets)).astype(np.int64)
    return starts, ends, per_row


def _read64(buf: np.ndarray) -> np.ndarray:
    """A view giving the little-endian uint64 that starts at every byte offset of `buf` (8 bytes of padding)."""
    return np.ndarray((buf.shape[0] - 7,), dtype="<u8", buffer=buf, strides=(1,))


def _avalanche64(h: np.ndarray) -> np.ndarray:  # XXH64_avalanche
    h ^= h >> _U(33)
    h *= _P64_2
    h ^= h >> _U(29)
    h *= _P64_3
    h ^= h >> _U(32)
    return h


def _avalanche3(h: np.ndarray) -> np.ndarray:  # XXH3_avalanche
    h ^= h >> _U(37)
    h *= _MX1
    h ^= h >> _U(32)
    return h


def _fold128(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Low 64 bits XOR high 64 bits of the 128-bit product a * b (XXH3_mul128_fold64), in 32-bit limbs."""
    a0, a1, b0, b1 = a & _M32, a >> _U(32), b & _M32, b >> _U(32)
    lo, mid1, mid2, hi = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    cross = (lo >> _U(32)) + (mid1 & _M32) + (mid2 & _M32)
    low64 = (cross << _U(32)) | (lo & _M32)
    high64 = hi + (mid1 >> _U(32)) + (mid2 >> _U(32)) + (cross >> _U(32))
    out: np.ndarray = low64 ^ high64
    return out


def _len1to3(buf: np.ndarray, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    c1 = buf[s].astype(np.uint64)
    c2 = buf[s + (n >> 1)].astype(np.uint64)
    c3 = buf[s + n - 1].astype(np.uint64)
    combined = (c1 << _U(16)) | (c2 << _U(24)) | c3 | (n.astype(np.uint64) << _U(8))
    return _avalanche64(combined ^ _U(_s32(0) ^ _s32(4)))


def _len4to8(v: np.ndarray, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    lo32 = v[s] & _M32
    hi32 = v[s + n - 4] & _M32
    h: np.ndarray = (hi32 + (lo32 << _U(32))) ^ (_s64(8) ^ _s64(16))
    rot49 = (h << _U(49)) | (h >> _U(15))
    rot24 = (h << _U(24)) | (h >> _U(40))
    h ^= rot49 ^ rot24
    h *= _MX2
    h ^= (h >> _U(35)) + n.astype(np.uint64)
    h *= _MX2
    h ^= h >> _U(28)
    return h


def _len9to16(v: np.ndarray, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    lo = v[s] ^ (_s64(24) ^ _s64(32))
    hi = v[s + n - 8] ^ (_s64(40) ^ _s64(48))
    swapped = lo.byteswap()
    acc = n.astype(np.uint64) + swapped + hi + _fold128(lo, hi)
    return _avalanche3(acc)


def _mix16(v: np.ndarray, at: np.ndarray, secret: int) -> np.ndarray:
    return _fold128(v[at] ^ _s64(secret), v[at + 8] ^ _s64(secret + 8))


def _len17to128(v: np.ndarray, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    acc = n.astype(np.uint64) * _P64_1
    for above, k in ((96, 3), (64, 2), (32, 1), (0, 0)):
        sel = np.flatnonzero(n > above) if above else np.arange(n.shape[0])
        ss, nn = s[sel], n[sel]
        acc[sel] += _mix16(v, ss + 16 * k, 32 * k) + _mix16(v, ss + nn - 16 * (k + 1), 32 * k + 16)
    return _avalanche3(acc)


BLOCK_TOKENS = 1 << 18
"""Tokens hashed per numpy pass: 2 MB temporaries stay in malloc's heap and are reused, where whole-corpus
arrays were fresh mappings whose page faults cost more system time than the hashing (0.59 s vs 0.004 s of
sys for 5.4M tokens on the 2-core VM)."""


def xxh3_spans(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """XXH3-64 (seed 0) of buf[starts[k]:ends[k]] for every k; `buf` needs 8 bytes of padding past its data."""
    out = np.empty(starts.shape[0], dtype=np.uint64)
    v = _read64(buf)
    for lo in range(0, starts.shape[0], BLOCK_TOKENS):
        hi = lo + BLOCK_TOKENS
        out[lo:hi] = _xxh3_block(buf, v, starts[lo:hi], ends[lo:hi])
    return out


def _xxh3_block(buf: np.ndarray, v: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    n = (ends - starts).astype(np.int64)
    out = np.empty(n.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for lo, hi, fn in ((1, 3, None), (4, 8, _len4to8), (9, 16, _len9to16), (17, 128, _len17to128)):
            sel = np.flatnonzero((n >= lo) & (n <= hi))
            if not sel.size:
                continue
            out[sel] = _len1to3(buf, starts[sel], n[sel]) if fn is None else fn(v, starts[sel], n[sel])
    rest = np.flatnonzero((n == 0) | (n > 128))
    if rest.size:
        import xxhash

        out[rest] = np.fromiter(
            (
                xxhash.xxh3_64_intdigest(buf[a:b].tobytes())
                for a, b in zip(starts[rest].tolist(), ends[rest].tolist(), strict=True)
            ),
            dtype=np.uint64,
            count=rest.size,
        )
    return out


ASCII_LOWER = np.arange(256, dtype=np.uint8)
ASCII_LOWER[ord("A") : ord("Z") + 1] += 32
"""A byte map that lower-cases ASCII letters: for ASCII text the same as ``str.lower`` (polars'
`to_lowercase`), at a fraction of its cost (one table look-up per byte of the block)."""


def kernel_tables(token_byte: np.ndarray, byte_map: np.ndarray | None) -> tuple[bytes, bytes]:
    """(token_byte, byte_map) as the compiled kernels take them: 256 bytes each, b"" for no byte map."""
    table = np.asarray(token_byte, dtype=np.uint8).tobytes()
    return table, (np.asarray(byte_map, dtype=np.uint8).tobytes() if byte_map is not None else b"")


def hash_tokens(
    texts: pl.Series, token_byte: np.ndarray, block_bytes: int = 4 << 20, byte_map: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(XXH3-64 of every token of every row, flat; tokens per row), `spans` of `token_byte` runs, a few MB
    of text at a time (see BLOCK_TOKENS for why). `byte_map` (256 bytes, e.g. ASCII_LOWER) rewrites every
    byte of the text first. Uses the compiled kernel (`qdc._native`) when it is built: the same arrays."""
    from qdc._native import hashing

    s = texts.cast(pl.String).fill_null("")
    ends = np.cumsum(s.str.len_bytes().to_numpy().astype(np.int64) + 1)
    hashes: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    table, mapping = kernel_tables(token_byte, byte_map)  # once, not per block
    for a, b in cost_blocks(ends, block_bytes):
        if hashing is not None:
            joined, offsets = joined_text(s.slice(a, b - a))
            out = np.empty(len(joined) // 2 + (b - a) + 1, dtype=np.uint64)
            per_row = np.empty(b - a, dtype=np.int64)
            hashes.append(out[: hashing.hash_words(joined, offsets, table, mapping, out, per_row)])
            counts.append(per_row)
            continue
        buf, offsets = text_buffer(s.slice(a, b - a))
        if byte_map is not None:
            np.take(byte_map, buf, out=buf)
        starts, stops, per_row = spans(buf, offsets, token_byte)
        hashes.append(xxh3_spans(buf, starts, stops))
        counts.append(per_row)
    if not hashes:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.concatenate(hashes), np.concatenate(counts)
