"""Invariants of qdc.dedup, checked with hypothesis: nothing lost, ids unchanged, idempotent."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdc import schema
from qdc.dedup import DedupConfig, dedup
from qdc.embed import EmbedConfig
from tests.conftest import make_frame

WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa", "Alpha", "BETA"]

# Rows drawn from a tiny vocabulary, with forced copies and near-copies so groups actually form.
texts = st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=14).map(" ".join), min_size=1, max_size=25)


def with_copies(base: list[str], data: st.DataObject) -> list[str]:
    out = list(base)
    for _ in range(data.draw(st.integers(0, 6))):
        src = data.draw(st.sampled_from(base))
        kind = data.draw(st.sampled_from(["same", "upper", "append", "prefix"]))
        out.append(
            {"same": src, "upper": src.upper() + " !", "append": src + " omega", "prefix": "please " + src}[kind]
        )
    return out


CONFIGS = [
    DedupConfig(),
    DedupConfig(methods=["exact"], keep="longest"),
    DedupConfig(methods=["minhash"], threshold=0.5, ngram=2, keep="best:q"),
    DedupConfig(methods=["exact", "minhash", "semantic"], threshold=0.6, ngram=3, eps=0.1),
    DedupConfig(methods=["semantic"], eps=0.2, semantic_mode="greedy"),
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=texts, data=st.data(), cfg_i=st.integers(0, len(CONFIGS) - 1))
def test_rows_conserved_ids_unchanged_and_idempotent(base, data, cfg_i):
    rows_text = with_copies(base, data)
    qs = data.draw(st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=len(rows_text), max_size=len(rows_text)))
    df = make_frame([{"id": f"r{i}", "text": t, "q": q} for i, (t, q) in enumerate(zip(rows_text, qs, strict=True))])
    cfg = CONFIGS[cfg_i]
    ecfg = EmbedConfig(model="hash:64", cache=False)
    res = dedup(df, cfg, ecfg)
    kept_ids = res.kept[schema.ROW_ID].to_list()
    removed_ids = res.removed[schema.ROW_ID].to_list()
    # rows in = rows kept + rows removed; ids unchanged; nothing both kept and removed
    assert len(kept_ids) + len(removed_ids) == df.height
    assert sorted(kept_ids + removed_ids) == sorted(df[schema.ROW_ID].to_list())
    assert kept_ids == [i for i in df[schema.ROW_ID].to_list() if i in set(kept_ids)]  # input order kept
    # every removed row points at a kept row
    assert set(res.removed[schema.DUP_OF].to_list()) <= set(kept_ids)
    assert res.removed[schema.DUP_METHOD].is_in(list(cfg.methods)).all()
    # user columns of kept rows are untouched
    assert res.kept.select("id", "text").equals(df.filter(pl.col("id").is_in(kept_ids)).select("id", "text"))
    # idempotence: deduplicating the kept rows again removes nothing
    again = dedup(res.kept, cfg, ecfg)
    assert again.removed.height == 0
    assert again.kept[schema.ROW_ID].to_list() == kept_ids


@settings(max_examples=15, deadline=None)
@given(base=texts, data=st.data())
def test_against_never_returns_reference_rows(base, data):
    rows_text = with_copies(base, data)
    ref_text = data.draw(st.lists(st.sampled_from(rows_text), min_size=1, max_size=3))
    df = make_frame([{"id": f"r{i}", "text": t} for i, t in enumerate(rows_text)])
    ref = make_frame([{"id": f"e{i}", "text": t} for i, t in enumerate(ref_text)])
    res = dedup(df, DedupConfig(against_only=True), against=ref)
    assert res.kept.height + res.removed.height == df.height
    kept_norm = {" ".join(t.lower().split()) for t in res.kept[schema.TEXT].to_list()}
    assert not kept_norm & {" ".join(t.lower().split()) for t in ref_text}
    assert res.removed[schema.DUP_OF].is_in([f"e{i}" for i in range(len(ref_text))]).all()
    assert not any(i.startswith("e") for i in res.kept[schema.ROW_ID].to_list())
