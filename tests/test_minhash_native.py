"""qdc's compiled kernels (qdc/_native/*.c) against their numpy oracles and rensa: the same arrays.

Each kernel has a numpy twin that runs where the extension did not build; `monkeypatch` sets
`qdc._native.hashing` to None to run that twin in the same process. Signatures are compared with rensa's own
(`RMinHash.digest_matrix_from_flat_token_hashes`), pairs on real near-duplicates of ../shared/data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

import qdc._native as native
from qdc.dedup.lsh import band_keys
from qdc.dedup.minhash import MinHashParams, find_pairs, shingle_hashes, signatures
from qdc.dedup.normalize import word_hash_array
from qdc.dedup.rminhash import native_signatures
from tests.test_minhash_speed import _real_texts

BUILT = list((Path(native.__file__).parent).glob("_hashing*.so")) + list(
    (Path(native.__file__).parent).glob("_hashing*.pyd")
)
needs_native = pytest.mark.skipif(not native.AVAILABLE, reason="the C extension is not built here")


def _numpy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "hashing", None)


def test_the_active_path_is_the_built_one():
    """A built extension is in use (an import error must not fall back silently); QDC_NO_NATIVE=1 turns it
    off. Which path runs is printed for the test log."""
    print(f"qdc._native.AVAILABLE = {native.AVAILABLE} (built files: {[p.name for p in BUILT]})")
    forced_off = os.environ.get("QDC_NO_NATIVE", "") not in ("", "0")
    assert (bool(BUILT) and not forced_off) == native.AVAILABLE
    code = "import qdc._native as n; print(n.AVAILABLE)"
    env = {**os.environ, "QDC_NO_NATIVE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_build_of_other_calling_conventions_is_not_used():
    """A stale build (an ABI other than qdc._native.ABI, e.g. an old .so after a pull) leaves the numpy path on
    instead of failing at the first call; the build here is of the current ABI."""
    code = (
        "import sys, types\nfake = types.ModuleType('qdc._native._hashing')\nfake.ABI = 1\n"
        "sys.modules['qdc._native._hashing'] = fake\nimport qdc._native as n\nprint(n.AVAILABLE, n.hashing)"
    )
    env = {k: v for k, v in os.environ.items() if k != "QDC_NO_NATIVE"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "None"]
    if native.AVAILABLE:
        assert native.hashing is not None and native.hashing.ABI == native.ABI


@needs_native
def test_token_hashes_equal_xxhash_for_every_length():
    """One token per row, 1 to 700 bytes and a few long ones: every XXH3-64 branch, against xxhash."""
    rng = np.random.default_rng(0)
    tokens = ["".join(rng.choice(list("abcXYZ_09"), size=k)) for k in [*range(1, 700), 1024, 1025, 2049, 5000]]
    got, per_row = word_hash_array(pl.Series(tokens), ())
    assert per_row.tolist() == [1] * len(tokens)
    assert got.tolist() == [xxhash.xxh3_64_intdigest(t.encode()) for t in tokens]


TEXT = st.one_of(
    st.text(alphabet=st.sampled_from(list("aZ_9 -.,\n\t'")), max_size=80),
    st.text(alphabet=st.sampled_from(list("aAmMzZ_09@[`{ \u00e9\u00c9")), max_size=90),  # case-fold edges
    st.text(max_size=60),
    st.none(),
)


@needs_native
@settings(max_examples=60, deadline=None)
@given(st.lists(TEXT, max_size=12), st.sampled_from([("nfkc", "case"), ("case",), ()]), st.integers(1, 6))
def test_word_and_shingle_hashes_equal_the_numpy_path(rows, steps, ngram):
    texts = pl.Series(rows, dtype=pl.String)
    words_c, lens_c = word_hash_array(texts, steps)
    sh_c, off_c = shingle_hashes(texts, ngram, steps)
    with pytest.MonkeyPatch.context() as mp:
        _numpy_path(mp)
        words_n, lens_n = word_hash_array(texts, steps)
        sh_n, off_n = shingle_hashes(texts, ngram, steps)
    assert np.array_equal(words_c, words_n) and np.array_equal(lens_c, lens_n)
    assert np.array_equal(sh_c, sh_n) and np.array_equal(off_c, off_n)


@needs_native
@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=1, max_size=20),
    st.sampled_from([1, 7, 16, 24, 128, 256]),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**32),
)
def test_signatures_equal_rensa(lens, num_perm, seed, data_seed):
    """rensa's digests, bit for bit: empty rows, rows too short to fill every bucket (the fallback minima),
    any seed, power-of-two and other widths."""
    import rensa

    rng = np.random.default_rng(data_seed)
    offsets = np.zeros(len(lens) + 1, dtype=np.uint64)
    np.cumsum(lens, out=offsets[1:])
    hashes = rng.integers(0, 2**64, size=int(offsets[-1]), dtype=np.uint64)
    want = rensa.RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, num_perm, seed).to_rows()
    got = native_signatures(hashes, offsets, num_perm, seed)
    assert got.dtype == np.uint32 and got.tolist() == want


@needs_native
def test_signatures_and_band_keys_on_real_texts_equal_rensa_and_numpy(monkeypatch):
    texts = pl.Series(_real_texts(), dtype=pl.String)
    sh, off = shingle_hashes(texts, 5)
    got = signatures(sh, off, 128, 0)
    _numpy_path(monkeypatch)
    want = signatures(sh, off, 128, 0)  # rensa itself
    assert np.array_equal(got, want)
    keys_n = band_keys(want, 14, 9)
    monkeypatch.undo()
    assert np.array_equal(band_keys(want, 14, 9), keys_n)


@needs_native
@pytest.mark.parametrize("verify", [True, False])
def test_find_pairs_is_the_same_either_way_on_real_near_duplicates(monkeypatch, verify):
    texts = pl.Series(_real_texts(), dtype=pl.String)
    params = MinHashParams(threshold=0.5, ngram=3, verify=verify)
    got = find_pairs(texts, params)
    _numpy_path(monkeypatch)
    want = find_pairs(texts, params)
    assert want.i.shape[0] > 0  # alpaca_eval's answers by several models share text
    assert np.array_equal(got.i, want.i) and np.array_equal(got.j, want.j)
    assert np.array_equal(got.sim, want.sim) and got.candidates == want.candidates


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from(list('ab:"\\\n {}[]é')), max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@needs_native
@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.text(alphabet=st.sampled_from(list('k:"\\ ')), max_size=4), JSON), max_size=6))
def test_json_key_colons_equal_the_numpy_count(objs):
    """Colons outside strings per line (keys at every depth), with quotes, backslashes and colons in strings."""
    import json

    from qdc.io.fastjsonl import _colons_outside_strings

    lines = [
        json.dumps(o, separators=(",", ": ") if k % 2 else (",", ":")).encode() + b"\n" for k, o in enumerate(objs)
    ]
    buf = b"".join(lines)
    starts = np.cumsum([0, *map(len, lines)], dtype=np.int64)
    got = np.empty(len(lines), dtype=np.int64)
    assert native.hashing is not None
    native.hashing.json_key_colons(lines, got)  # the lines where they are; the numpy twin reads them joined
    assert got.tolist() == _colons_outside_strings(buf, starts, len(lines)).tolist()


@needs_native
@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 12), max_size=30), min_size=1, max_size=8), st.data())
def test_pair_jaccard_equals_the_numpy_sets(segments, data):
    """Set Jaccard of segments with repeats and empty segments, compiled and numpy (sorted unique sets)."""
    from qdc.dedup.jaccard import ShingleSets

    offsets = np.zeros(len(segments) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in segments], out=offsets[1:])
    values = np.array([v for s in segments for v in s], dtype=np.uint32)
    rows = np.arange(len(segments)) * 3  # row numbers that are not positions
    pick = st.integers(0, len(segments) - 1)
    a = rows[data.draw(st.lists(pick, max_size=20))]
    b = rows[data.draw(st.lists(pick, min_size=len(a), max_size=len(a)))]
    got = ShingleSets(rows, values, offsets).jaccard(a, b)
    with pytest.MonkeyPatch.context() as mp:
        _numpy_path(mp)
        want = ShingleSets(rows, values, offsets).jaccard(a, b)
    sets = [set(s) for s in segments]
    plain = [
        len(sets[i // 3] & sets[j // 3]) / max(1, len(sets[i // 3] | sets[j // 3])) for i, j in zip(a, b, strict=True)
    ]
    assert got.tolist() == want.tolist() == plain


@needs_native
@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.integers(1, 4), st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**32))
def test_candidate_pairs_equal_the_sorting_code(n, bands, alphabet, cap, seed):
    """Buckets of every size (few distinct keys), larger than cap + 1 too, several bands sharing pairs."""
    from qdc.dedup.lsh import candidate_pairs

    keys = np.random.default_rng(seed).integers(0, alphabet, size=(n, bands)).astype(np.uint64) * np.uint64(
        0x9E3779B97F4A7C15
    )
    gi, gj = candidate_pairs(keys, cap)
    with pytest.MonkeyPatch.context() as mp:
        _numpy_path(mp)
        wi, wj = candidate_pairs(keys, cap)
    assert gi.tolist() == wi.tolist() and gj.tolist() == wj.tolist()
