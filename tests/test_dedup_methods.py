"""qdc.dedup library: each method on hand-made cases, keep policies, chains, --against, SemDeDup vectors."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from qdc import schema
from qdc.dedup import DedupConfig, dedup
from qdc.dedup.exact import exact_labels
from qdc.dedup.groups import components, group_keepers, priority
from qdc.dedup.jaccard import ShingleSets
from qdc.dedup.lsh import band_params, candidate_pairs, candidate_probability
from qdc.dedup.minhash import MinHashParams, find_pairs, shingle_hashes
from qdc.dedup.normalize import normalise
from qdc.dedup.semantic import SemanticParams, cluster_dedup, order_members, semantic_matches
from qdc.errors import ConfigError, MissingColumnError
from tests.conftest import make_frame

BASE = (
    "the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat near the door "
    "and the bird sings a long song about the summer rain falling on the old stone bridge where "
    "children used to play games until the sun went down behind the hills and their parents called "
    "them home for a dinner of bread soup and apples picked that morning from the orchard behind "
    "the mill"
)  # 80 words: one substituted word leaves Jaccard about 0.88 over 5-grams


def ids_of(df: pl.DataFrame) -> list[str]:
    return df[schema.ROW_ID].to_list()


def ledger(res) -> dict[str, tuple[str, str, float]]:
    r = res.removed
    return {
        i: (o, m, s)
        for i, o, m, s in zip(
            r[schema.ROW_ID], r[schema.DUP_OF], r[schema.DUP_METHOD], r[schema.DUP_SIMILARITY], strict=True
        )
    }


# ------------------------------------------------------------------------------------------ exact


def test_normalise_steps():
    s = pl.Series(["  Hello,\tWORLD!! ", "ｆｕｌｌ　ｗｉｄｔｈ", "a+b = c"])
    assert normalise(s).to_list() == ["hello world", "full width", "a+b = c"]
    assert normalise(s, ("whitespace",)).to_list() == ["Hello, WORLD!!", "ｆｕｌｌ ｗｉｄｔｈ", "a+b = c"]
    assert normalise(s, ()).to_list() == s.to_list()


def test_exact_groups_case_whitespace_punctuation():
    texts = pl.Series(["Hello world", "hello   WORLD!", "hello world.", "goodbye", "Hello world"])
    assert exact_labels(texts).tolist() == [0, 0, 0, 3, 0]
    assert exact_labels(texts, ()).tolist() == [0, 1, 2, 3, 0]


def test_exact_dedup_removes_and_points_to_first():
    df = make_frame([{"id": "a", "text": "Same text."}, {"id": "b", "text": "other"}, {"id": "c", "text": "same TEXT"}])
    res = dedup(df, DedupConfig(methods=["exact"]))
    assert ids_of(res.kept) == ["a", "b"]
    assert ledger(res) == {"c": ("a", "exact", 1.0)}


# ------------------------------------------------------------------------------------------ minhash


def test_default_three_grams_survive_one_substitution_in_short_rows():
    words = BASE.split()[:40]
    a = " ".join(words)
    words[20] = "zebra"
    df = make_frame([{"id": "a", "text": a}, {"id": "b", "text": " ".join(words)}])
    assert DedupConfig().ngram == 3
    assert dedup(df, DedupConfig()).removed.height == 1  # 3-grams: J = 35/41 = 0.85
    assert dedup(df, DedupConfig(ngram=5)).removed.height == 0  # 5-grams: J = 31/41 = 0.76


def test_shingles_short_rows_and_empty_rows():
    sh, off = shingle_hashes(pl.Series(["one two three four five six", "tiny row", "", "!!!"]), 5)
    counts = np.diff(off.astype(np.int64)).tolist()
    assert counts == [2, 1, 0, 0]  # 6 words -> 2 five-grams; 2 words -> one shingle; no words -> none
    assert sh.shape[0] == 3


def _reference_shingles(text: str, n: int) -> list[int]:
    """The shingle hashes of one row, word by word in plain Python (the rule shingle_hashes vectorises)."""
    import re
    import unicodedata

    import xxhash

    from qdc.dedup.minhash import _M1, _mix

    words = re.findall(r"\w+", unicodedata.normalize("NFKC", text).lower())
    hashes = [xxhash.xxh3_64_intdigest(w.encode("utf-8")) for w in words]
    mask = (1 << 64) - 1
    m1 = int(_M1)
    spans = [hashes[i : i + n] for i in range(len(hashes) - n + 1)] if len(hashes) >= n else [hashes]
    out = []
    for span in spans if hashes else []:
        h = m1
        for w in span:
            h = ((h * m1) & mask) ^ w
        out.append(int(_mix(np.array([h], dtype=np.uint64))[0]))
    return out


@pytest.mark.parametrize("n", [1, 3, 5])
def test_vectorised_shingles_equal_per_row_reference(n):
    texts = [BASE, "tiny row", "", "!!!", "Ünïcode ＡＢＣ straße x", "one two three four", BASE[:200], None, "a b"]
    sh, off = shingle_hashes(pl.Series(texts, dtype=pl.String), n)
    bounds = off.astype(np.int64)
    for i, text in enumerate(texts):
        assert sh[bounds[i] : bounds[i + 1]].tolist() == _reference_shingles(text or "", n), (i, n)


def test_band_params_and_s_curve():
    b, r = band_params(0.8, 128)
    assert b * r <= 128
    p = candidate_probability(np.array([0.5, 0.8, 0.95]), b, r)
    assert p[0] < 0.1 < p[1] and p[2] > 0.99
    assert np.all(np.diff(candidate_probability(np.linspace(0, 1, 11), b, r)) >= 0)


def test_candidate_pairs_all_pairs_in_bucket():
    keys = np.array([[1, 9], [2, 9], [1, 7], [1, 5]], dtype=np.uint64)
    i, j = candidate_pairs(keys)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (0, 2), (0, 3), (2, 3)]


def test_jaccard_vectorised_matches_python_sets():
    rng = np.random.default_rng(3)
    sets = [rng.integers(0, 50, size=rng.integers(0, 40)).astype(np.uint64) for _ in range(12)]
    values = np.concatenate(sets)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])])
    ss = ShingleSets(np.arange(12), values, offsets)
    a = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    b = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0])
    got = ss.jaccard(a, b)
    for k in range(12):
        sa, sb = set(sets[a[k]].tolist()), set(sets[b[k]].tolist())
        want = len(sa & sb) / len(sa | sb) if sa | sb else 0.0
        assert got[k] == pytest.approx(want)


def test_minhash_finds_word_substitution_and_not_unrelated():
    variant = BASE.replace("warm", "cold")
    other = "a completely different sentence about databases indexes and the query planner of postgres"
    df = make_frame([{"id": "a", "text": BASE}, {"id": "b", "text": other}, {"id": "c", "text": variant}])
    res = dedup(df, DedupConfig(methods=["minhash"]))
    assert ids_of(res.kept) == ["a", "b"]
    of, method, sim = ledger(res)["c"]
    assert (of, method) == ("a", "minhash") and 0.8 <= sim < 1.0


def test_minhash_backends_agree():
    texts = pl.Series([BASE, BASE.replace("warm", "cold"), "unrelated words entirely here now", BASE + " end"])
    a = find_pairs(texts, MinHashParams(backend="rensa"))
    b = find_pairs(texts, MinHashParams(backend="datasketch"))
    assert sorted(zip(a.i.tolist(), a.j.tolist(), strict=True)) == sorted(zip(b.i.tolist(), b.j.tolist(), strict=True))
    assert a.i.shape[0] >= 2


def test_minhash_no_verify_uses_estimate():
    texts = pl.Series([BASE, BASE.replace("warm", "cold"), "unrelated words entirely here now"])
    m = find_pairs(texts, MinHashParams(verify=False))
    assert m.i.tolist() == [0] and m.j.tolist() == [1]
    assert 0.6 < m.sim[0] <= 1.0


def test_minhash_chain_is_one_group():
    words = BASE.split()
    a = " ".join(words)
    words[20] = "zebra"
    b = " ".join(words)  # J(a, b) = 71/81 = 0.88
    words[60] = "giraffe"
    c = " ".join(words)  # J(b, c) = 0.88, J(a, c) = 66/86 = 0.77
    pa = find_pairs(pl.Series([a, c]), MinHashParams(threshold=0.8, ngram=5))
    assert pa.i.shape[0] == 0  # a and c alone are not duplicates
    df = make_frame([{"id": "a", "text": a}, {"id": "b", "text": b}, {"id": "c", "text": c}])
    res = dedup(df, DedupConfig(methods=["minhash"], threshold=0.8, ngram=5))
    assert ids_of(res.kept) == ["a"]
    led = ledger(res)
    assert led["b"][0] == "a" and led["c"][0] == "a"
    assert led["c"][2] < 0.8  # similarity is to the survivor, reported honestly


# ------------------------------------------------------------------------------------------ groups / keep


def test_union_find_and_components():
    chained = components(5, np.array([0, 3, 1]), np.array([1, 4, 4]))
    assert len(set(chained.tolist())) == 2 and chained[0] == chained[3] != chained[2]
    labels = components(4, np.array([0, 2]), np.array([1, 3]))
    assert labels[0] == labels[1] != labels[2] == labels[3]


@pytest.mark.parametrize("seed", range(6))
def test_components_equal_scipy_connected_components(seed):
    """The numpy union-find groups items exactly as scipy's connected components do (random sparse graphs,
    long chains in scrambled order, self-loops, repeated edges)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    m = int(rng.integers(0, 2 * n))
    i, j = rng.integers(0, n, m), rng.integers(0, n, m)
    if seed % 2:  # a chain through a random permutation: the worst case for naive label propagation
        perm = rng.permutation(n)
        i, j = np.concatenate([i, perm[:-1]]), np.concatenate([j, perm[1:]])
    got = components(n, i, j)
    _, want = connected_components(coo_matrix((np.ones(i.shape[0]), (i, j)), shape=(n, n)), directed=False)
    # Same partition: a bijection between the two labelings.
    pairs = set(zip(got.tolist(), want.tolist(), strict=True))
    assert len(pairs) == len(set(got.tolist())) == len(set(want.tolist()))
    assert all(got[k] <= k for k in range(n))  # a label is the smallest item of its component


def test_keep_policies():
    rows = [
        {"id": "a", "text": "Hello there", "q": 0.2},
        {"id": "b", "text": "hello there!!!", "q": 0.9},
        {"id": "c", "text": "HELLO THERE", "q": 0.9},
        {"id": "d", "text": "unique", "q": 1.0},
    ]
    df = make_frame(rows)
    first = dedup(df, DedupConfig(methods=["exact"], keep="first"))
    assert ids_of(first.kept) == ["a", "d"]
    longest = dedup(df, DedupConfig(methods=["exact"], keep="longest"))
    assert ids_of(longest.kept) == ["b", "d"]
    best = dedup(df, DedupConfig(methods=["exact"], keep="best:q"))
    assert ids_of(best.kept) == ["b", "d"]  # b and c tie on q=0.9: the earlier row wins
    assert ledger(best)["a"][0] == "b"


def test_keep_best_missing_values_rank_last():
    df = make_frame([{"id": "a", "text": "x y", "q": None}, {"id": "b", "text": "X Y", "q": 0.1}])
    assert ids_of(dedup(df, DedupConfig(methods=["exact"], keep="best:q")).kept) == ["b"]


def test_keep_best_errors():
    df = make_frame([{"id": "a", "text": "x", "s": "high"}])
    with pytest.raises(MissingColumnError):
        dedup(df, DedupConfig(methods=["exact"], keep="best:nope"))
    with pytest.raises(Exception, match="expected numbers"):
        dedup(df, DedupConfig(methods=["exact"], keep="best:s"))
    with pytest.raises(ConfigError):
        priority(df, df[schema.TEXT], "worst")


def test_group_keepers_lowest_rank():
    labels = np.array([5, 5, 7, 5, 7])
    rank = np.array([3, 1, 0, 2, 4])
    assert group_keepers(labels, rank).tolist() == [1, 1, 2, 1, 2]


# ------------------------------------------------------------------------------------------ semantic


def _vector_case():
    x = np.array([(1, 0.05), (1, 0), (0.9, 0.45), (0.88, 0.47), (0.5, 0.86)], dtype=np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    c = x.mean(axis=0)
    c /= np.linalg.norm(c)
    return x.astype(np.float32), (1 - x @ c)


def test_semdedup_reference_vectors():
    x, dist = _vector_case()
    np.testing.assert_allclose(dist, [0.06229, 0.08081, 0.00173, 0.00368, 0.19754], atol=1e-4)
    order = order_members(dist, np.arange(5), np.zeros(5, bool), "hard")
    assert order.tolist() == [4, 1, 0, 3, 2]
    expected = {0.001: {2}, 0.01: {0, 2}, 0.05: {0, 2}, 0.1: {0, 2, 3}, 0.6: {0, 1, 2, 3}}
    for eps, removed in expected.items():
        res = cluster_dedup(x, order, eps)
        np.testing.assert_allclose(res.m, [0, 0.50262, 0.99875, 0.9045, 0.99964], atol=1e-4)
        assert set(order[res.removed].tolist()) == removed, eps


def test_semdedup_greedy_keeps_chain_end():
    x, dist = _vector_case()
    order = order_members(dist, np.arange(5), np.zeros(5, bool), "hard")
    res = cluster_dedup(x, order, 0.1, mode="greedy")
    assert set(order[res.removed].tolist()) == {0, 2}  # x3 matched only the removed x0


def test_semantic_global_matches_one_cluster_rule():
    x, _ = _vector_case()
    m = semantic_matches(x, np.arange(5), np.zeros(5, bool), SemanticParams(eps=0.05))
    assert set(np.flatnonzero(m.removed).tolist()) == {0, 2}
    assert m.clusters == 1


def test_semantic_clustered_finds_planted_copies():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(300, 32)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    copies = base[:30] + 0.01 * rng.normal(size=(30, 32)).astype(np.float32)
    copies /= np.linalg.norm(copies, axis=1, keepdims=True)
    x = np.concatenate([base, copies])
    m = semantic_matches(x, np.arange(330), np.zeros(330, bool), SemanticParams(eps=0.05, clusters=8))
    assert m.clusters == 8
    assert set(np.flatnonzero(m.removed).tolist()) <= set(range(30)) | set(range(300, 330))
    assert m.removed.sum() == 30


def test_semantic_via_dedup_with_hash_embedder(fake_embed_cfg):
    df = make_frame(
        [
            {"id": "a", "text": BASE},
            {"id": "b", "text": BASE + " indeed"},
            {"id": "c", "text": "entirely unrelated content about tax law in spain"},
        ]
    )
    res = dedup(df, DedupConfig(methods=["semantic"], eps=0.1), fake_embed_cfg)
    assert res.removed.height == 1
    assert res.removed[schema.DUP_METHOD][0] == "semantic"
    assert res.removed[schema.DUP_SIMILARITY][0] > 0.9
    assert schema.EMBEDDING not in res.kept.columns


# ------------------------------------------------------------------------------------------ against


def test_against_removes_contaminated_rows_and_never_returns_refs():
    ref = make_frame(
        [{"id": "e1", "text": "What is the capital of France?"}],
    )
    df = make_frame(
        [
            {"id": "a", "text": "what is the capital of france"},
            {"id": "b", "text": "train row"},
            {"id": "c", "text": "train row!"},
        ]
    )
    res = dedup(df, DedupConfig(), against=[ref])
    assert ids_of(res.kept) == ["b"]
    led = res.removed.select(schema.ROW_ID, schema.DUP_OF, schema.DUP_REF).rows()
    assert led == [("a", "e1", "<memory>"), ("c", "b", None)]
    only = dedup(df, DedupConfig(against_only=True), against=ref)
    assert ids_of(only.kept) == ["b", "c"]
    assert res.stats["against"]["removed"] == 1


def test_against_semantic_and_minhash(fake_embed_cfg):
    ref = make_frame([{"id": "e1", "text": BASE}])
    df = make_frame([{"id": "a", "text": BASE.replace("warm", "cold")}, {"id": "b", "text": "unrelated row"}])
    for methods in (["minhash"], ["semantic"]):
        res = dedup(df, DedupConfig(methods=methods, eps=0.2, against_only=True), fake_embed_cfg, against=ref)
        assert ids_of(res.kept) == ["b"], methods
        assert res.removed[schema.DUP_OF].to_list() == ["e1"]


def test_sequential_methods_repoint_to_final_survivor():
    longer = BASE.replace("warm", "freezing")
    df = make_frame([{"id": "a", "text": BASE}, {"id": "b", "text": longer}, {"id": "c", "text": longer.upper()}])
    res = dedup(df, DedupConfig(methods=["exact", "minhash"], keep="longest"))
    # exact: c (same length as b, later) -> b; minhash: the {a, b} group keeps the longer b.
    assert ids_of(res.kept) == ["b"]
    assert {k: v[0] for k, v in ledger(res).items()} == {"a": "b", "c": "b"}


def test_stats_report():
    df = make_frame([{"id": str(i), "text": "same text" if i < 4 else f"row {i} text"} for i in range(8)])
    st = dedup(df, DedupConfig()).stats
    assert st["rows_in"] == 8 and st["rows_removed"] == 3 and st["group_sizes"]["4"] == 1
    assert st["largest_groups"][0]["size"] == 4 and st["largest_groups"][0]["kept_id"] == "0"
    assert st["memory_estimate_bytes"] > 0 and st["s_curve"][0]["jaccard"] == 0.5


def test_config_accepts_strings_and_rejects_bad():
    assert DedupConfig(methods="exact, semantic").methods == ("exact", "semantic")  # type: ignore[arg-type]
    assert DedupConfig(normalize="none").normalize == ()  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DedupConfig(methods=["exact", "exact"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        DedupConfig(keep="worst")
    with pytest.raises(ValueError):
        DedupConfig(threshold=1.5)
    assert DedupConfig(keep="best:q").semantic_params().order == "keep"
    assert DedupConfig().semantic_params().order == "hard"


def test_run_stage_returns_removed_rows(fake_embedder):
    from qdc.pipeline.stage import StageContext
    from qdc.pipeline.stages import dedup_stage as run_stage

    df = make_frame([{"id": "a", "text": "x y z"}, {"id": "b", "text": "X Y Z"}, {"id": "c", "text": "other"}])
    out = run_stage(df, DedupConfig(), StageContext(embedder=fake_embedder))
    assert ids_of(out.df) == ["a", "c"]
    assert out.removed is not None and out.removed[schema.DUP_OF].to_list() == ["a"]
    assert out.summary["rows_removed"] == 1
