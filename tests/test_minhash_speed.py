"""The fast MinHash path against plain references on real texts of ../shared/data (texts we did not make).

- word hashes: the byte-level path (`word_hash_array`) against the string path (regex words, xxh3 of each);
- the index: the same for any number of threads;
- the pairs: `find_pairs` against a plain pipeline (rensa signatures of every row as Python lists, band keys,
  all candidate pairs, Jaccard of Python sets), so the kept rows of `qdc dedup --method minhash` stay those of
  the straightforward algorithm.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from qdc.dedup.lsh import band_keys, candidate_pairs
from qdc.dedup.minhash import MinHashParams, build_index, find_pairs, shingle_hashes
from qdc.dedup.normalize import word_hash_array, word_hashes, word_tokens
from tests.conftest import SHARED_DATA

FILES = ["alpaca_eval_judged/data.jsonl", "code_alpaca_2k/data.jsonl", "gpteacher/roleplay.jsonl"]


def _real_texts(per_file: int = 400) -> list[str]:
    """Instruction + answer texts from three real sets; alpaca_eval holds several models' answers to one
    instruction, so near-duplicates are real, not planted. Then some rows in upper case and with
    non-ASCII punctuation, to reach every tokenising branch."""
    out: list[str] = []
    for name in FILES:
        path = SHARED_DATA / name
        if not path.exists():
            continue
        with path.open() as fh:
            for k, line in enumerate(fh):
                if k >= per_file:
                    break
                row = json.loads(line)
                out.append(f"{row.get('instruction', '')}\n{row.get('input', '')}\n{row.get('output', '')}")
    if not out:
        pytest.skip("../shared/data is not here")
    out += [t.upper() for t in out[:40]] + [t.replace(" ", " \u2014 ") + " \u00e9t\u00e9" for t in out[40:80]]
    return out


@pytest.fixture(scope="module")
def texts() -> pl.Series:
    return pl.Series(_real_texts(), dtype=pl.String)


@pytest.mark.parametrize("steps", [("nfkc", "case"), ("case",), ()])
def test_word_hashes_equal_the_string_path_on_real_texts(texts, steps):
    got, per_row = word_hash_array(texts, steps)
    words, lens = word_tokens(texts, steps)
    assert per_row.tolist() == lens.tolist()
    assert np.array_equal(got, word_hashes(words))


def test_index_is_the_same_for_any_number_of_threads(texts, monkeypatch):
    from qdc.dedup import minhash

    monkeypatch.setattr(minhash, "CHUNK_ROWS", 97)  # many chunks from a small input
    params = MinHashParams(ngram=5)
    one = build_index(texts, params, threads=1)
    for threads in (2, 3):
        other = build_index(texts, params, threads=threads)
        assert np.array_equal(one.sig, other.sig) and np.array_equal(one.keys, other.keys)
        assert np.array_equal(one.counts, other.counts)
        assert one.shingles is not None and other.shingles is not None
        assert np.array_equal(one.shingles, other.shingles)


def _plain_pairs(texts: pl.Series, params: MinHashParams) -> set[tuple[int, int]]:
    """Verified pairs by the straightforward pipeline, whole input at once."""
    import rensa

    sh, off = shingle_hashes(texts, params.ngram, params.steps)
    mat = rensa.RMinHash.digest_matrix_from_flat_token_hashes(sh, off, params.num_perm, params.seed)
    sig = np.array(mat.to_rows(), dtype=np.uint32)
    bands, rows = params.band_rows()
    counts = np.diff(off.astype(np.int64))
    valid = np.flatnonzero(counts > 0)
    ci, cj = candidate_pairs(band_keys(sig, bands, rows)[valid])
    bounds = off.astype(np.int64)
    sets = [set((sh[bounds[r] : bounds[r + 1]] & 0xFFFFFFFF).tolist()) for r in range(counts.shape[0])]
    out = set()
    for a, b in zip(valid[ci].tolist(), valid[cj].tolist(), strict=True):
        if len(sets[a] & sets[b]) / len(sets[a] | sets[b]) >= params.threshold - 1e-12:
            out.add((a, b))
    return out


@pytest.mark.parametrize("ngram", [3, 5])
def test_find_pairs_equal_the_plain_pipeline_on_real_texts(texts, ngram, monkeypatch):
    from qdc.dedup import minhash

    monkeypatch.setattr(minhash, "CHUNK_ROWS", 250)
    params = MinHashParams(ngram=ngram)
    got = find_pairs(texts, params)
    want = _plain_pairs(texts, params)
    assert set(zip(got.i.tolist(), got.j.tolist(), strict=True)) == want
    assert len(want) >= 20  # real near-duplicates (several models answering one instruction) are found
