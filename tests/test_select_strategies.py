"""Selection strategies: exact budgets, determinism, each strategy's defining property, invariants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdc import schema
from qdc.errors import ConfigError
from qdc.pipeline.stage import StageContext
from qdc.pipeline.stages import select_stage as run_stage
from qdc.quality import JUNK_THRESHOLD
from qdc.select import SelectConfig, select
from tests.conftest import Notes, make_frame

SIZES = (60, 30, 15, 5)


def task_rows(seed: int = 0, sizes: tuple[int, ...] = SIZES, d: int = 16, dups: int = 4) -> list[dict[str, Any]]:
    """Blobs = tasks, a quality per row, and `dups` exact copies (same text, new id) at the end."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), d))
    rows = []
    for t, size in enumerate(sizes):
        for j in range(size):
            v = centres[t] + 0.15 * rng.normal(size=d)
            v /= np.linalg.norm(v)
            rows.append(
                {
                    "id": f"t{t}-{j}",
                    "text": f"task {t} item {j} {rng.integers(1_000_000)}",
                    "task": f"task{t}",
                    "qdc_quality": round(float(rng.random()), 4),
                    "qdc_embedding": v.astype(np.float32).tolist(),
                }
            )
    for j in range(dups):
        rows.append(dict(rows[j * 7], id=f"dup{j}"))
    return rows


@pytest.fixture(scope="module")
def df() -> pl.DataFrame:
    return make_frame(task_rows())


ALL = ("kmq", "iterative", "bandit", "random", "top", "deita", "kcenter")


def cfg(**kw: Any) -> SelectConfig:
    kw.setdefault("dedup", "exact")
    return SelectConfig(**kw)


@pytest.mark.parametrize("strategy", ALL)
def test_exact_budget_and_determinism(df: pl.DataFrame, strategy: str) -> None:
    c = cfg(budget=25, strategy=strategy, seed=3, ceiling=0.99)
    a, b = select(df, c), select(df, c)
    assert a.selected.height == 25
    assert a.selected.height + a.unselected.height == df.height
    assert a.selected.equals(b.selected) and a.manifest == b.manifest
    ids = a.selected["id"].to_list()
    assert len(set(ids)) == len(ids)
    assert not any(i.startswith("dup") for i in ids)  # duplicates are never selected
    # Output keeps input order.
    pos = {i: n for n, i in enumerate(df["id"].to_list())}
    assert [pos[i] for i in ids] == sorted(pos[i] for i in ids)
    assert a.selected[schema.SELECT_REASON].str.starts_with(strategy.replace("random", "random")).all()


def test_fraction_budget(df: pl.DataFrame) -> None:
    res = select(df, cfg(budget=0.1))
    assert res.selected.height == round(0.1 * df.height)


@pytest.mark.parametrize("strategy", ["kmq", "random", "top", "kcenter", "iterative"])
def test_token_budget_fits_and_is_tight(df: pl.DataFrame, strategy: str) -> None:
    res = select(df, cfg(budget_tokens=120, strategy=strategy))
    used = res.manifest["selected_tokens"]
    assert 0 < used <= 120
    cheapest_left = min(len(t.split()) for t in res.unselected[schema.TEXT].to_list())
    assert used + cheapest_left > 120 - 10  # no big slack left


def test_cost_field(df: pl.DataFrame) -> None:
    d2 = df.with_columns(pl.lit(3).alias("ntok"))
    res = select(d2, cfg(budget_tokens=30, cost_field="ntok", strategy="random"))
    assert res.selected.height == 10 and res.manifest["selected_tokens"] == 30


def test_seed_changes_random_choice(df: pl.DataFrame) -> None:
    a = select(df, cfg(budget=20, strategy="random", seed=1)).selected["id"].to_list()
    b = select(df, cfg(budget=20, strategy="random", seed=2)).selected["id"].to_list()
    assert a != b


def test_top_takes_the_best(df: pl.DataFrame) -> None:
    res = select(df, cfg(budget=10, strategy="top"))
    live = df.filter(~pl.col("id").str.starts_with("dup"))
    assert res.selected["qdc_quality"].min() >= live["qdc_quality"].sort(descending=True)[9]


def with_task_clusters(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.col("task").str.slice(4).cast(pl.Int64).alias(schema.CLUSTER))


def test_kmq_covers_every_cluster_and_prefers_quality(df: pl.DataFrame) -> None:
    df = with_task_clusters(df)
    res = select(df, cfg(budget=24, strategy="kmq"))
    assert res.selected["task"].n_unique() == 4
    # default sqrt shares (sizes 60/30/15/5): between equal and proportional
    c = [dict(res.selected.group_by("task").len().iter_rows())[f"task{t}"] for t in range(4)]
    assert c[0] > c[1] > c[2] > c[3] >= 2 and c[0] / c[3] < 60 / 5
    # equal allocation with water-filling: the 5-row task gives all it has, the rest is split (30% of these
    # uniform scores are below the junk threshold: too many to be junk, so the gate stays open).
    eq = select(df, cfg(budget=24, strategy="kmq", allocation="equal"))
    counts = dict(eq.selected.group_by("task").len().iter_rows())
    assert counts["task3"] == 5
    top = select(df, cfg(budget=24, strategy="kmq", within="top"))
    assert top.selected["qdc_quality"].mean() > res.selected["qdc_quality"].mean() - 0.05
    assert res.selected["qdc_quality"].mean() > df["qdc_quality"].mean()


def test_kmq_default_keeps_a_cluster_the_score_dislikes_but_does_not_call_junk() -> None:
    # Two equal clusters; the score rates one lower (like the quality scorer on SMS spam), above the junk
    # threshold. The default keeps its share; the old quality factor on cluster shares cut it.
    rows = task_rows(sizes=(40, 40), dups=0)
    for i, r in enumerate(rows):
        r["qdc_quality"] = (0.85 if r["task"] == "task0" else 0.4) + 0.001 * (i % 7)
    d = with_task_clusters(make_frame(rows))
    counts = dict(select(d, cfg(budget=20, strategy="kmq")).selected.group_by("task").len().iter_rows())
    assert counts == {"task0": 10, "task1": 10}
    cut = dict(
        select(d, cfg(budget=20, strategy="kmq", cluster_quality=True)).selected.group_by("task").len().iter_rows()
    )
    assert cut.get("task1", 0) < 10


def test_diversity_weight_endpoints(df: pl.DataFrame) -> None:
    df = with_task_clusters(df)
    pure_score = select(df, cfg(budget=15, strategy="kmq", diversity_weight=0.0))
    top = select(df, cfg(budget=15, strategy="top"))
    assert sorted(pure_score.selected["id"].to_list()) == sorted(top.selected["id"].to_list())
    cover = select(df, cfg(budget=15, strategy="kmq", diversity_weight=1.0))
    assert cover.selected["task"].n_unique() == 4
    assert cover.manifest["strategy_log"]["rounds"][0]["within"] == "random"


def test_reuses_qdc_cluster(df: pl.DataFrame) -> None:
    res = select(with_task_clusters(df), cfg(budget=20, strategy="kmq"))
    assert res.manifest["clusters"]["source"] == "qdc_cluster column"
    assert res.selected["task"].n_unique() == 4


def test_deita_respects_the_ceiling(df: pl.DataFrame) -> None:
    res = select(df, cfg(budget=40, strategy="deita", ceiling=0.9))
    x = np.asarray(res.selected[schema.EMBEDDING].to_list(), dtype=np.float32)
    sims = x @ x.T
    np.fill_diagonal(sims, -1)
    assert sims.max() <= 0.9 + 1e-6
    assert res.manifest["strategy_log"]["rejected_by_ceiling"] > 0


def test_kcenter_spreads(df: pl.DataFrame) -> None:
    res = select(df, cfg(budget=4, strategy="kcenter"))
    assert res.selected["task"].n_unique() == 4


class CountingScorer:
    """Records every row it is asked to score."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, rows: pl.DataFrame) -> np.ndarray:
        self.seen.extend(rows["id"].to_list())
        return rows["qdc_quality"].to_numpy()


def test_iterative_scores_only_selected_rows(df: pl.DataFrame) -> None:
    scorer = CountingScorer()
    res = select(df, cfg(budget=30, strategy="iterative", rounds=3), scorer=scorer)
    chosen = set(res.selected["id"].to_list())
    assert scorer.seen and set(scorer.seen) <= chosen
    assert len(scorer.seen) == len(set(scorer.seen))  # each row once
    assert res.manifest["scorer_calls"] == len(scorer.seen) <= 30
    rounds = res.selected[schema.SELECT_ROUND].to_list()
    assert sorted(set(rounds)) == [0, 1, 2] and rounds.count(2) == 10


def test_iterative_starves_bad_clusters() -> None:
    rows = task_rows(sizes=(40, 40), dups=0)
    for r in rows:
        r["qdc_quality"] = 0.05 if r["task"] == "task1" else 0.9
    d = with_task_clusters(make_frame(rows))
    res = select(d, cfg(budget=30, strategy="iterative", within="random", explore=0.0))
    counts = dict(res.selected.group_by("task").len().iter_rows())
    assert counts["task0"] > counts.get("task1", 0)  # half the pool is below the threshold: the gate stays open
    # the feedback rounds alone move the budget away from the bad cluster
    res = select(d, cfg(budget=30, strategy="iterative", within="random", explore=0.0, junk_gate=False))
    counts = dict(res.selected.group_by("task").len().iter_rows())
    assert counts["task0"] > counts["task1"]


def test_iterative_cluster_weights_in_effect_size_units() -> None:
    from qdc.select.iterative import cluster_weights

    means = np.asarray([0.50, 0.52, 0.48, 0.51])  # differences far below the rows' own spread
    has, left = np.ones(4, dtype=bool), np.full(4, 10)
    relative = cluster_weights(means, has, left, 1.0, 0.0)  # the original: standardised among themselves
    effect = cluster_weights(means, has, left, 1.0, 0.0, spread=0.2)
    assert relative.max() / relative.min() > 10  # noise spans ~±1.5 sd: a 10x preference
    assert effect.max() / effect.min() < 1.25  # 0.04 / 0.2 = 0.2 sd apart: nearly even
    assert np.argmax(effect) == 1 and np.argmin(effect) == 2  # same order
    strong = cluster_weights(np.asarray([0.1, 0.9, 0.5, 0.5]), has, left, 1.0, 0.0, spread=0.2)
    assert strong[1] / strong[0] > 50  # a real gap (4 sd) still moves the budget
    assert cluster_weights(means, has, left, 1.0, 0.0, spread=0.0).tolist() == [0.25] * 4


def test_iterative_later_rounds_keep_the_allocation_shares() -> None:
    rows = task_rows(sizes=(80, 20), dups=0)
    for r in rows:
        r["qdc_quality"] = 0.8  # equal feedback everywhere
    d = with_task_clusters(make_frame(rows))
    res = select(d, cfg(budget=40, strategy="iterative", allocation="proportional", explore=0.0))
    for rnd in res.manifest["strategy_log"]["rounds"]:
        w = rnd["cluster_weights"]
        assert w["0"] == pytest.approx(0.8, abs=0.01) and w["1"] == pytest.approx(0.2, abs=0.01)


def test_iterative_gap_mode(df: pl.DataFrame) -> None:
    d2 = df.with_columns((pl.col("qdc_quality") * 2).alias("ref"), pl.col("qdc_quality").alias("cand"))
    res = select(d2, cfg(budget=20, strategy="iterative", gap=("ref", "cand")))
    assert res.manifest["feedback"] == "`ref` - `cand`" and res.selected.height == 20


@pytest.mark.parametrize("accept", ["block", "scored_only"])
def test_bandit_never_exceeds_scorer_budget(df: pl.DataFrame, accept: str) -> None:
    scorer = CountingScorer()
    res = select(df, cfg(budget=40, strategy="bandit", max_scored=12, probe=3, k=4, accept=accept), scorer=scorer)
    assert len(scorer.seen) <= 12 and res.manifest["scorer_calls"] == len(scorer.seen)
    assert res.selected.height == 40
    log = res.manifest["strategy_log"]
    assert log["scorer_calls"] <= 12 and log["arms"]


def test_bandit_tau_is_the_junk_threshold_on_qdc_quality_and_the_median_otherwise(df: pl.DataFrame) -> None:
    from qdc.quality import JUNK_THRESHOLD

    on_quality = select(df, cfg(budget=40, strategy="bandit", k=4))
    assert on_quality.manifest["strategy_log"]["tau"] == pytest.approx(JUNK_THRESHOLD)
    on_expr = select(df, cfg(budget=40, strategy="bandit", k=4, feedback="qdc_quality * 2"))
    tau = on_expr.manifest["strategy_log"]["tau"]
    assert tau != pytest.approx(JUNK_THRESHOLD) and 0.0 < tau < 1.0  # the warm-up median, min-max normalised
    quad = select(df, cfg(budget=40, strategy="bandit", k=4, bandit={"tau_rule": "median"}))
    assert quad.manifest["strategy_log"]["tau"] != pytest.approx(JUNK_THRESHOLD)
    fixed = select(df, cfg(budget=40, strategy="bandit", k=4, tau=0.6))
    assert fixed.manifest["strategy_log"]["tau"] == pytest.approx(0.6)
    # cap 1 x the fair share: no cluster takes more than ceil(40 * size / n) before the uncapped backfill
    log = on_quality.manifest["strategy_log"]
    sizes = np.asarray(log["cluster_cap"])
    taken = np.asarray([log["arms"].get(str(c), {}).get("taken", 0) for c in range(sizes.size)])
    assert (taken <= sizes).all()


@pytest.mark.parametrize("share", ["equal", "sqrt", "proportional"])
def test_bandit_fair_share_sets_the_caps(df: pl.DataFrame, share: str) -> None:
    d = with_task_clusters(df)
    res = select(d, cfg(budget=40, strategy="bandit", bandit={"share": share}))
    caps = res.manifest["strategy_log"]["cluster_cap"]  # ceil(1 x the fair share) per cluster; sizes 60/30/15/5
    if share == "equal":
        assert caps == [10, 10, 10, 10]
    elif share == "sqrt":
        assert caps[0] > caps[1] > caps[2] > caps[3] and caps[0] < 2 * caps[2]
    else:
        assert caps[0] >= 2 * caps[1] - 1 and caps[1] >= 2 * caps[2] - 1 and caps[3] <= 2
    counts = [dict(res.selected.group_by("task").len().iter_rows()).get(f"task{t}", 0) for t in range(4)]
    assert sum(counts) == 40
    if share == "equal":  # the 5-row cluster gives all it has; the uncapped backfill spreads its shortfall
        assert counts[3] == 5 and min(counts[:3]) >= 10
    else:  # the caps hold 40 rows: the capped backfill fills the budget
        assert all(c <= cap for c, cap in zip(counts, caps, strict=True))


def test_bandit_without_backfill_may_stop_short(df: pl.DataFrame) -> None:
    res = select(
        df,
        cfg(budget=40, strategy="bandit", max_scored=6, probe=3, k=4, accept="scored_only", backfill=False),
        scorer=CountingScorer(),
    )
    assert res.selected.height <= 6


@pytest.mark.parametrize(
    "quota,expected",
    [("equal", {"task0": 5, "task1": 5, "task2": 5, "task3": 5}), ("min:5", None), ("proportional", None)],
)
def test_group_quotas(df: pl.DataFrame, quota: str, expected: dict[str, int] | None) -> None:
    res = select(df, cfg(budget=20, strategy="kmq", group_field="task", quota=quota))
    counts = dict(res.selected.group_by("task").len().iter_rows())
    assert res.selected.height == 20
    if expected:
        assert counts == expected
    if quota == "min:5":
        assert min(counts.values()) >= 5
    if quota == "proportional":
        assert counts["task0"] > counts["task1"] > counts["task2"]
    per = res.manifest["groups"]["per_group"]
    assert sum(g["quota"] for g in per) == 20


def test_groups_are_clustered_on_their_own_rows(df: pl.DataFrame) -> None:
    # K per group is sized for the group's share (clamp(round(share/3), 2, rows)); clusters drawn for the whole
    # pool would cut the 5-row group into fragments of clusters sized for the whole budget.
    res = select(df, cfg(budget=80, strategy="kmq", group_field="task", quota="proportional"))
    per = {g["group"]: g for g in res.manifest["groups"]["per_group"]}
    for g in per.values():
        assert g["k"] == max(2, min(g["eligible"], round(g["quota"] / 3)))
        assert g["log"]["rounds"][0]["k"] == g["k"]
        assert sum(g["log"]["rounds"][0]["cluster_sizes"]) == g["eligible"]
    assert res.manifest["clusters"]["k"] == sum(g["k"] for g in per.values())


def test_reused_cluster_column_is_restricted_to_each_group(df: pl.DataFrame) -> None:
    d2 = df.with_columns((pl.col("qdc_quality") * 6).floor().cast(pl.Int64).alias(schema.CLUSTER))
    res = select(d2, cfg(budget=20, strategy="kmq", group_field="task", quota="equal"))
    for g in res.manifest["groups"]["per_group"]:
        rows = d2.filter((pl.col("task") == g["group"]) & ~pl.col("id").str.starts_with("dup"))
        assert g["k"] == rows[schema.CLUSTER].n_unique()


def paraphrase_rows(n_topics: int = 12, copies: int = 5, d: int = 16) -> list[dict[str, Any]]:
    """Each topic written `copies` times in different words (MinHash sees no overlap) on one embedding."""
    rng = np.random.default_rng(4)
    rows = []
    for t in range(n_topics):
        centre = rng.normal(size=d)
        for c in range(copies):
            v = centre + 0.01 * rng.normal(size=d)
            words = " ".join(f"w{t}x{c}y{j}" for j in range(8))
            rows.append(
                {
                    "id": f"p{t}-{c}",
                    "text": words,
                    "qdc_quality": round(float(rng.random()), 4),
                    "qdc_embedding": (v / np.linalg.norm(v)).astype(np.float32).tolist(),
                }
            )
    return rows


def test_semantic_dedup_never_selects_two_paraphrases() -> None:
    d = make_frame(paraphrase_rows())
    res = select(d, cfg(budget=30, strategy="random", dedup="semantic"))
    topics = [i.split("-")[0] for i in res.selected["id"].to_list()]
    assert sorted(topics) == sorted(set(topics)) and len(topics) == 12  # one per topic, budget capped
    assert res.manifest["dedup"].endswith("+semantic (eps 0.05)")
    assert res.manifest["excluded"]["duplicate"] == 12 * 4
    # The earlier row of each group stays eligible; the others name it.
    later = res.unselected.filter(pl.col("id").str.ends_with("-3"))
    assert later[schema.SELECT_REASON].to_list() == [f"duplicate of p{t}-0" for t in range(12)]
    # Without it, MinHash sees different words: nothing is flagged, and 30 picks repeat topics.
    plain = select(d, cfg(budget=30, strategy="random", dedup="auto"))
    assert plain.manifest["excluded"]["duplicate"] == 0 and plain.selected.height == 30


def test_semantic_dedup_embeds_each_row_once(fake_embed_cfg: Any) -> None:
    calls: list[int] = []

    class Counting:
        dim, identity = 64, "counting-hash:64"

        def __init__(self) -> None:
            from qdc.embed import HashingEmbedder

            self.inner = HashingEmbedder(64)

        def encode(self, texts: Any, batch_size: int = 0) -> np.ndarray:
            calls.append(len(texts))
            return self.inner.encode(texts)

    rows = [{k: v for k, v in r.items() if k != "qdc_embedding"} for r in task_rows(dups=0)]
    res = select(make_frame(rows), cfg(budget=20, strategy="kmq", dedup="semantic"), fake_embed_cfg, Counting())
    assert res.selected.height == 20
    assert sum(calls) == len(rows)


def test_min_quality_floor(df: pl.DataFrame) -> None:
    res = select(df, cfg(budget=200, strategy="random", min_quality=0.5))
    assert res.selected["qdc_quality"].min() >= 0.5
    assert res.manifest["excluded"]["below_min_quality"] > 0
    low = res.unselected.filter((pl.col("qdc_quality") < 0.5) & ~pl.col("id").str.starts_with("dup"))
    assert low[schema.SELECT_REASON].str.contains("min-quality").all()


def test_dup_of_column_is_respected(df: pl.DataFrame) -> None:
    dup_of = pl.when(pl.col("id") == "t0-1").then(pl.lit("t0-0")).otherwise(None)
    d2 = df.with_columns(dup_of.alias(schema.DUP_OF))
    res = select(d2, cfg(budget=200, strategy="random", dedup="off"))
    assert "t0-1" not in res.selected["id"].to_list()
    assert res.manifest["excluded"]["duplicate"] == 1


def test_score_expression_and_weights(df: pl.DataFrame) -> None:
    d2 = df.with_columns((1 - pl.col("qdc_quality")).alias("qdc_complexity"))
    a = select(d2, cfg(budget=10, strategy="top", score="-quality"))
    assert a.selected["qdc_quality"].max() < 0.3
    b = select(d2, cfg(budget=10, strategy="top", weights={"quality": 0.0, "complexity": 1.0}))
    assert sorted(a.selected["id"].to_list()) == sorted(b.selected["id"].to_list())


def test_bad_configs() -> None:
    with pytest.raises(ValueError):
        SelectConfig()
    with pytest.raises(ValueError):
        SelectConfig(budget=10, budget_tokens=5)
    with pytest.raises(ValueError):
        SelectConfig(budget=10, strategy="top", diversity_weight=0.5)
    with pytest.raises(ValueError):
        SelectConfig(budget=1.5)


def test_missing_score_column_is_explained() -> None:
    d = make_frame([{"id": "a", "text": "x"}, {"id": "b", "text": "y"}])
    try:
        import qdc.quality as q

        has_quality = hasattr(q, "score_quality")
    except ImportError:
        has_quality = False
    if has_quality:
        assert select(d, cfg(budget=1, strategy="top")).selected.height == 1
    else:
        with pytest.raises(ConfigError.__mro__[1]):
            select(d, cfg(budget=1, strategy="top"))


def test_run_stage_keeps_every_row(df: pl.DataFrame) -> None:
    out = run_stage(df, cfg(budget=10, strategy="kmq"), StageContext(seed=5))
    assert out.df.height == 10 and out.removed is not None
    assert out.df.height + out.removed.height == df.height
    assert out.removed[schema.SELECT_REASON].null_count() == 0


def test_ledger_lists_every_row(df: pl.DataFrame) -> None:
    res = select(df, cfg(budget=10))
    led = res.ledger
    assert led is not None and led.height == df.height and int(led["selected"].sum()) == 10
    assert led.filter(pl.col("id").str.starts_with("dup"))["reason"].str.starts_with("duplicate of").all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.integers(1, 140), strategy=st.sampled_from(ALL), seed=st.integers(0, 5))
def test_invariants(df: pl.DataFrame, budget: int, strategy: str, seed: int) -> None:
    res = select(df, cfg(budget=budget, strategy=strategy, seed=seed, ceiling=0.999))
    ids = res.selected["id"].to_list()
    eligible = res.manifest["eligible"]
    assert set(ids) <= set(df["id"].to_list())
    assert len(ids) == len(set(ids))
    if strategy == "deita":
        assert len(ids) <= min(budget, eligible)
    else:
        assert len(ids) == min(budget, eligible)


@pytest.mark.parametrize("strategy", ["top", "deita"])
def test_ties_break_by_a_seeded_draw_not_input_order(strategy: str) -> None:
    rows = task_rows(sizes=(40, 40), dups=0)
    for r in rows:
        r["qdc_quality"] = 1.0  # every row ties
    d = make_frame(rows)
    picks = {s: select(d, cfg(budget=20, strategy=strategy, seed=s, ceiling=0.9999)).selected for s in (0, 1)}
    ids = {s: p["id"].to_list() for s, p in picks.items()}
    assert ids[0] != ids[1]  # the seed decides
    assert ids[0] != [r["id"] for r in rows[:20]]  # not the first rows of the input
    assert picks[0]["task"].n_unique() == 2  # both halves of the input are represented
    assert select(d, cfg(budget=20, strategy=strategy, seed=0, ceiling=0.9999)).selected["id"].to_list() == ids[0]


def test_junk_gate_holds_back_a_few_low_rows_but_not_a_third_of_the_pool(df: pl.DataFrame) -> None:
    df = with_task_clusters(df)
    q = df["qdc_quality"].to_numpy()
    few = df.with_columns(pl.Series("qdc_quality", np.where(q < 0.1, q, np.maximum(q, JUNK_THRESHOLD))))
    low = set(few.filter(pl.col("qdc_quality") < JUNK_THRESHOLD)["id"].to_list())
    assert 0 < len(low) <= 0.15 * few.height
    for strategy in ("kmq", "iterative", "facility"):
        picked = set(select(few, cfg(budget=60, strategy=strategy)).selected["id"].to_list())
        assert not picked & low, strategy
        opened = set(select(few, cfg(budget=60, strategy=strategy, junk_gate=False, seed=1)).selected["id"].to_list())
        assert opened & low, strategy
    # bandit keeps them out of its queues: never probed, never in an unscored block, not backfilled
    scorer = CountingScorer()
    gated = [
        len(set(select(few, cfg(budget=60, strategy="bandit", seed=s), scorer=scorer).selected["id"].to_list()) & low)
        for s in range(4)
    ]
    opened_b = [
        len(set(select(few, cfg(budget=60, strategy="bandit", seed=s, junk_gate=False)).selected["id"].to_list()) & low)
        for s in range(4)
    ]
    assert gated == [0, 0, 0, 0] and not set(scorer.seen) & low
    assert sum(opened_b) > 0
    many = set(df.filter(pl.col("qdc_quality") < JUNK_THRESHOLD)["id"].to_list())  # ~30%: gate stays open
    assert set(select(df, cfg(budget=60, strategy="facility")).selected["id"].to_list()) & many


def test_a_cluster_flagged_almost_whole_is_held_back_even_when_the_row_gate_opens() -> None:
    rows = task_rows(sizes=(40, 40, 40, 20), dups=0)
    for r in rows:
        t = int(r["task"][4:])
        # tasks 0-2: a third flagged (the row gate opens: far more than 15% of the pool); task 3: junk region
        r["qdc_quality"] = (0.1 if int(r["id"].split("-")[1]) % 3 == 0 else 0.8) if t < 3 else 0.05
    d = with_task_clusters(make_frame(rows))
    for strategy in ("kmq", "iterative", "bandit"):
        res = select(d, cfg(budget=40, strategy=strategy))
        assert "task3" not in res.selected["task"].to_list(), strategy
        flagged_picked = (res.selected["qdc_quality"] < JUNK_THRESHOLD).sum()
        assert flagged_picked > 0, strategy  # the row gate is open: flagged rows of tasks 0-2 stay eligible
        off = select(d, cfg(budget=40, strategy=strategy, junk_region=1.5, seed=1))
        assert "task3" in off.selected["task"].to_list(), strategy
    log = select(d, cfg(budget=40, strategy="kmq")).manifest["strategy_log"]["rounds"][0]
    assert log["junk_regions"] == 1
    # when the other 120 rows cannot fill the budget, the region is used
    assert select(d, cfg(budget=125, strategy="kmq")).selected["task"].to_list().count("task3") > 0


def test_oversized_budget_and_k_give_notices(df: pl.DataFrame) -> None:
    from qdc.progress import use_reporter

    notes = Notes()
    with use_reporter(notes):
        res = select(df, cfg(budget=10_000, strategy="random"))
        select(df, cfg(budget=5, strategy="kmq", k=500))
    assert res.selected.height == res.manifest["eligible"]
    assert any("--budget 10000 is more than" in m for m in notes.messages)
    assert any("--k 500 is more than" in m for m in notes.messages)
    with use_reporter(notes):  # a token budget no row fits: said (it was an empty output without a word)
        none = select(df, cfg(budget_tokens=1, strategy="random"))
    assert none.selected.height == 0
    assert any("budget_tokens=1: no eligible row fits" in m for m in notes.messages)


def test_quality_select_computed_is_written_out() -> None:
    rows = [{"id": f"r{i}", "text": f"answer number {i} " + "word " * (i % 9)} for i in range(30)]
    d = make_frame(rows)
    assert schema.QUALITY not in d.columns
    res = select(d, cfg(budget=5, strategy="top", dedup="off"))
    assert schema.QUALITY in res.selected.columns and schema.QUALITY in res.unselected.columns
    assert res.selected[schema.QUALITY].null_count() == 0


def test_scale_select_says_when_the_budget_is_above_the_rows(tmp_path: Path) -> None:
    from qdc.progress import use_reporter
    from qdc.scale.options import RunOptions
    from qdc.scale.store import create
    from qdc.select.stream import ScaleSelectConfig, stream_select

    rows = task_rows(dups=0)
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(orjson.dumps({k: v for k, v in r.items() if k != "qdc_embedding"}).decode() + "\n" for r in rows)
    )
    x = create(tmp_path / "e.npy", len(rows), 16, "float32")
    x[:] = np.asarray([r["qdc_embedding"] for r in rows], dtype=np.float32)
    x.flush()
    notes = Notes()
    with use_reporter(notes):
        big = stream_select(
            str(src), str(tmp_path / "e.npy"), ScaleSelectConfig(budget=1_000), run=RunOptions(batch_rows=50)
        )
        fits = stream_select(
            str(src), str(tmp_path / "e.npy"), ScaleSelectConfig(budget=20), run=RunOptions(batch_rows=50)
        )
    assert big["selected"] == len(rows) and fits["selected"] == 20
    assert [m for m in notes.messages if "--budget" in m] == [
        f"--budget 1000 is more than the {len(rows)} rows: all of them are selected"
    ]


@pytest.mark.parametrize(
    ("strategy", "rows_per_cluster", "per"),
    [("kmq", None, 3), ("iterative", None, 3), ("bandit", None, 10), ("kmq", 10.0, 10), ("bandit", 5.0, 5)],
)
def test_k_rule_is_budget_over_the_strategys_rows_per_cluster(
    df: pl.DataFrame, strategy: str, rows_per_cluster: float | None, per: int
) -> None:
    # K = round(B / rows_per_cluster); unset, kmq and iterative take 3 rows per cluster, bandit 10 (its probes).
    res = select(df, cfg(budget=60, strategy=strategy, rows_per_cluster=rows_per_cluster))
    assert res.manifest["clusters"]["k"] == round(60 / per)
