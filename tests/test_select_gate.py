"""The junk gate on plain-text pools: defect signals that fit the data, and fragments (qdc.select.robust)."""

from __future__ import annotations

import numpy as np
import polars as pl

from qdc import schema
from qdc.quality import JUNK_THRESHOLD, QualityConfig, score_quality
from qdc.select import SelectConfig, select
from qdc.select.robust import MAX_GATED_SHARE, STYLE_SHARE, defect_mask, fragment_mask, junk_mask, signal_masks
from tests.conftest import make_frame

NOUNS = ["garden", "river", "teacher", "window", "market", "engine", "letter", "island", "doctor", "kitchen"]
VERBS = ["found", "painted", "opened", "cleaned", "moved", "fixed", "watched", "carried", "visited", "checked"]


def _sentence(i: int, end: str = ".") -> str:
    a, b, c = NOUNS[i % 10], VERBS[(i // 10) % 10], NOUNS[(i * 7 + 3) % 10]
    return f"The {a} near the {c} was {b} again by the people living there{end}"


def _soup(i: int) -> str:
    rng = np.random.default_rng(i)
    return " ".join("".join(rng.choice(list("bcdfghjklmnpqrstvwxz#$%&"), size=6)) for _ in range(12))


def _embedded(texts: list[str], seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(texts), 16))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    df = make_frame([{"id": f"r{i}", "text": t} for i, t in enumerate(texts)])
    return df.with_columns(pl.Series(schema.EMBEDDING, x, dtype=pl.Array(pl.Float32, 16)))


def test_a_signal_that_flags_a_large_share_opens_but_the_others_still_gate() -> None:
    # 50 sentences, 25 without a final full stop (the truncation signal flags them, like SMS texts: far more
    # than MAX_GATED_SHARE, so the threshold part opens), and 8 rows of consonant soup.
    texts = [_sentence(i) for i in range(50)] + [_sentence(i, "") for i in range(50, 75)]
    texts += [_soup(i) for i in range(8)]
    df = score_quality(_embedded(texts), QualityConfig())
    q = df[schema.QUALITY].to_numpy()
    assert (q < JUNK_THRESHOLD).mean() > MAX_GATED_SHARE  # the threshold does not fit this pool
    trunc = df[schema.QUALITY_SIGNAL_PREFIX + "truncation"].to_numpy() < JUNK_THRESHOLD
    assert trunc[50:75].all() and not trunc[:50].any()
    masks = signal_masks(df)
    assert masks is not None
    fit, unfit, names = masks
    assert names == ["truncation"]
    assert fit[75:].all() and not fit[:75].any()  # soup only; the truncation signal does not fit this pool
    assert unfit[50:75].all() and not unfit[:50].any() and not unfit[75:].any()
    below, other = junk_mask(df) or (None, None)
    assert below is not None and other is not None
    assert not below[50:75].any() and other[75:].all()  # what only truncation flags is not junk evidence here
    soup = {f"r{i}" for i in range(75, 83)}
    unpunctuated = {f"r{i}" for i in range(50, 75)}
    picked = set(select(df, SelectConfig(budget=40, strategy="facility", dedup="off")).selected["id"].to_list())
    assert not picked & soup and picked & unpunctuated
    opened = select(df, SelectConfig(budget=40, strategy="facility", dedup="off", junk_gate=False))
    assert soup & set(opened.selected["id"].to_list())  # without the gate facility takes the soup outliers


def test_fragments_are_held_back_in_a_pool_of_sentences_but_whole_short_rows_are_not() -> None:
    texts = [_sentence(i) for i in range(60)] + ["the garden", "was found", "", "amazing !", "why ?"]
    df = _embedded(texts, seed=3)
    found = fragment_mask(df)
    assert found is not None
    assert np.flatnonzero(found).tolist() == [60, 61, 62]  # two words without a final mark, and an empty row
    scored = score_quality(df, QualityConfig())
    _below, other = junk_mask(scored) or (None, None)
    assert other is not None and other[60:63].all() and not other[63:].any()
    res = select(scored, SelectConfig(budget=40, strategy="facility", dedup="off"))
    assert not {"r60", "r61", "r62"} & set(res.selected["id"].to_list())


def test_short_rows_are_not_fragments_where_they_are_the_data() -> None:
    short = _embedded([f"{NOUNS[i % 10]} {VERBS[i // 10 % 10]}" for i in range(40)])
    assert fragment_mask(short) is None  # the pool's median row has 2 words
    many = _embedded([_sentence(i) for i in range(30)] + [f"{NOUNS[i % 10]} {i}" for i in range(10)])
    assert fragment_mask(many) is None  # a quarter of the pool: more than MAX_GATED_SHARE
    chat = make_frame(
        [{"instruction": _sentence(i), "output": "Paris" if i % 9 == 0 else _sentence(i + 1)} for i in range(40)]
    )
    assert fragment_mask(chat) is None  # rows with a response part: a short answer is an answer


def test_select_scores_a_pool_without_quality_and_gates_with_the_signals_it_computed() -> None:
    texts = [_sentence(i) for i in range(50)] + [_sentence(i, "") for i in range(50, 75)]
    texts += [_soup(i) for i in range(8)]
    res = select(_embedded(texts), SelectConfig(budget=40, strategy="facility", dedup="off"))
    assert schema.QUALITY in res.selected.columns and schema.QUALITY_SIGNAL_PREFIX + "soup" not in res.selected.columns
    assert not {f"r{i}" for i in range(75, 83)} & set(res.selected["id"].to_list())


def test_truncation_is_style_on_plain_text_past_its_share_but_junk_on_answers() -> None:
    # 8% of the rows flagged by truncation: more than its plain-text share, less than MAX_GATED_SHARE
    assert STYLE_SHARE["truncation"] < 0.08 < MAX_GATED_SHARE
    texts = [_sentence(i) for i in range(92)] + [_sentence(i, "") for i in range(92, 100)]
    plain = score_quality(_embedded(texts), QualityConfig())
    below, other = junk_mask(plain) or (None, None)
    assert below is not None and other is not None
    assert not (below | other)[92:].any()  # a text without a final full stop is the pool's style
    rows = [{"instruction": f"Describe place {i}.", "output": _sentence(i)} for i in range(92)]
    rows += [
        {"instruction": f"Describe place {i}.", "output": _sentence(i, "").rsplit(" ", 3)[0] + " the"} for i in range(8)
    ]
    chat = score_quality(make_frame(rows), QualityConfig(scorer="heuristic"))
    below, other = junk_mask(chat) or (None, None)
    assert below is not None and other is not None
    assert (below & other)[92:].all() and not (below | other)[:92].any()  # cut answers: junk (8% fits the 15% cap)


def _chat_scored(q: list[float], signals: dict[str, list[float]], **extra: list[float | None]) -> pl.DataFrame:
    """Instruction rows carrying a given qdc_quality and qdc_q_<signal> columns (as a scorer wrote them)."""
    rows = [{"instruction": f"Describe place {i}.", "output": _sentence(i)} for i in range(len(q))]
    cols = [pl.Series(schema.QUALITY, q, dtype=pl.Float64)]
    cols += [pl.Series(schema.QUALITY_SIGNAL_PREFIX + k, v, dtype=pl.Float64) for k, v in {**signals, **extra}.items()]
    return make_frame(rows).with_columns(cols)


def test_an_unfit_signal_releases_only_what_it_alone_explains_in_the_heuristic_product() -> None:
    # truncation flags 20 of 100 answers (more than MAX_GATED_SHARE: it does not fit this pool). Row 0 has
    # truncation 0.1 alone (q 0.1: released); row 1 has soup 0.4 x repetition 0.5 x truncation 0.1 (q 0.02;
    # without truncation 0.2, still below the threshold: junk).
    n = 100
    trunc = [0.1 if i < 20 else 1.0 for i in range(n)]
    soup = [0.4 if i == 1 else 1.0 for i in range(n)]
    rep = [0.5 if i == 1 else 1.0 for i in range(n)]
    q = [t * s * r for t, s, r in zip(trunc, soup, rep, strict=True)]
    df = _chat_scored(q, {"truncation": trunc, "repetition": rep, "soup": soup})
    below, _other = junk_mask(df) or (None, None)
    assert below is not None
    assert not below[0] and not below[2:20].any()  # only the unfit signal explains these
    assert below[1]  # 0.4 x 0.5 = 0.2 < JUNK_THRESHOLD without it
    masks = signal_masks(df)
    assert masks is not None and masks[2] == ["truncation"]


def test_an_unfit_signal_never_releases_a_score_another_scorer_gave() -> None:
    # a judge scored rows 0-4 at 0.1; the heuristic truncation column it also wrote flags 20% incl. those rows
    n = 100
    trunc = [0.1 if i < 20 else 1.0 for i in range(n)]
    judge: list[float | None] = [0.1 if i < 5 else 0.9 for i in range(n)]
    q = [0.1 if i < 5 else 0.9 for i in range(n)]
    below, _ = junk_mask(_chat_scored(q, {"truncation": trunc}, judge=judge)) or (None, None)
    assert below is not None and below[:5].all() and not below[5:].any()
    # no foreign column, but a qdc_quality the columns do not reproduce (0.05, not the 0.1 they give): kept
    q2 = [0.05 if i < 5 else 0.9 for i in range(n)]
    below2, _ = junk_mask(_chat_scored(q2, {"truncation": trunc})) or (None, None)
    assert below2 is not None and below2[:5].all()
    # a judge's missing score (null) fell back to the heuristic quality: that row is released
    judge[0] = None
    below3, _ = junk_mask(_chat_scored(q, {"truncation": trunc}, judge=judge)) or (None, None)
    assert below3 is not None and not below3[0] and below3[1:5].all()


def test_defect_mask_reads_the_scorers_echo_and_soup_columns_and_scores_only_what_is_missing() -> None:
    rows = [{"instruction": f"Describe place {i}.", "output": _sentence(i)} for i in range(30)]
    rows += [{"instruction": "Describe the river in detail.", "output": "Describe the river in detail."}]
    rows += [{"instruction": "Describe the garden.", "output": _soup(1)}]
    scored = score_quality(make_frame(rows), QualityConfig(scorer="heuristic"))
    with_cols = defect_mask(scored)
    bare = defect_mask(scored.drop([schema.QUALITY_SIGNAL_PREFIX + "echo", schema.QUALITY_SIGNAL_PREFIX + "soup"]))
    assert with_cols is not None and bare is not None
    assert np.array_equal(with_cols, bare) and with_cols[30:].all() and not with_cols[:30].any()
    # the column is what is read: a low echo value the text would not give flags the row
    marked = scored.with_columns(
        pl.Series(schema.QUALITY_SIGNAL_PREFIX + "echo", [0.1] + [1.0] * 31, dtype=pl.Float64)
    ).drop(schema.QUALITY_SIGNAL_PREFIX + "soup")
    found = defect_mask(marked)
    assert found is not None and found[0] and found[31] and not found[30]
