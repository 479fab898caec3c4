"""The vectorised byte-level tokens and XXH3 of qdc._native.tokens against their per-string references."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from qdc._native.tokens import spans, text_buffer, xxh3_spans
from qdc.dedup.normalize import word_hash_array, word_hashes, word_tokens

TRICKY = [
    "The quick brown fox, jumps_over 42 lazy dogs!",
    "",
    None,
    "   leading and trailing   ",
    "Ünïcode ＡＢＣ straße x",
    "ℌello İstanbul ﬁne",
    "東京は 晴れ です 2024年",
    "emoji 🙂 between\u00a0words\u3000and\ttabs\nnew",
    "a",
    "__init__ x_y z9 9z",
    "word" * 40 + " " + "long" * 50,  # 160- and 200-byte tokens: the xxhash fallback
    "end_of_row",
    "start_of_next",
]


def test_xxh3_spans_equal_xxhash_for_every_length():
    rng = np.random.default_rng(0)
    tokens = [bytes(rng.integers(0, 256, size=k).astype(np.uint8)) for k in list(range(1, 140)) * 3]
    data = b"".join(tokens)
    buf = np.zeros(len(data) + 8, dtype=np.uint8)
    buf[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    lens = np.array([len(t) for t in tokens])
    ends = np.cumsum(lens)
    got = xxh3_spans(buf, ends - lens, ends)
    assert got.tolist() == [xxhash.xxh3_64_intdigest(t) for t in tokens]


def test_spans_never_cross_rows_and_count_per_row():
    texts = pl.Series(["ab", "cd", "", "e f", "gh"])
    buf, off = text_buffer(texts)
    token_byte = np.zeros(256, dtype=bool)
    token_byte[ord("a") : ord("z") + 1] = True
    starts, ends, per_row = spans(buf, off, token_byte)
    words = [bytes(buf[a:b]).decode() for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    assert words == ["ab", "cd", "e", "f", "gh"]
    assert per_row.tolist() == [1, 1, 0, 2, 1]


@pytest.mark.parametrize("steps", [("nfkc", "case"), ("case",), ("nfkc",), ()])
def test_word_hash_array_equals_string_tokens(steps):
    s = pl.Series(TRICKY, dtype=pl.String)
    words, lens = word_tokens(s, steps)
    got, per_row = word_hash_array(s, steps)
    assert per_row.tolist() == lens.tolist()
    assert got.tolist() == word_hashes(words).tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=60)), max_size=8))
def test_word_hash_array_equals_string_tokens_any_text(texts):
    s = pl.Series(texts, dtype=pl.String)
    words, lens = word_tokens(s, ("nfkc", "case"))
    got, per_row = word_hash_array(s, ("nfkc", "case"))
    assert per_row.tolist() == lens.tolist()
    assert got.tolist() == word_hashes(words).tolist()


def test_hash_tokens_in_small_blocks_equals_one_block():
    from qdc._native.tokens import hash_tokens
    from qdc.dedup.normalize import _WORD_BYTE

    s = pl.Series([t or "" for t in TRICKY] * 3).str.to_lowercase()
    whole = hash_tokens(s, _WORD_BYTE)
    for block in (1, 7, 64):
        parts = hash_tokens(s, _WORD_BYTE, block_bytes=block)
        assert parts[0].tolist() == whole[0].tolist() and parts[1].tolist() == whole[1].tolist()
    assert whole[1].sum() == whole[0].shape[0] > 0


def test_unique_sets_in_blocks_equal_one_block(monkeypatch):
    from qdc.dedup import jaccard

    rng = np.random.default_rng(2)
    lens = rng.integers(0, 30, size=40)
    values = rng.integers(0, 25, size=int(lens.sum())).astype(np.uint32)
    offsets = np.concatenate([[0], np.cumsum(lens)])
    whole = jaccard.unique_sets(values, offsets)
    for block in (1, 17, 100):
        monkeypatch.setattr(jaccard, "PAIR_BATCH_VALUES", block)
        got = jaccard.unique_sets(values, offsets)
        assert got[0].tolist() == whole[0].tolist() and got[1].tolist() == whole[1].tolist()
    for k in range(40):  # each segment: its distinct values, sorted
        seg = whole[0][whole[1][k] : whole[1][k + 1]].tolist()
        assert seg == sorted(set(values[offsets[k] : offsets[k + 1]].tolist()))
