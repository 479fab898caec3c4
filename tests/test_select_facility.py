"""`--strategy facility`: the objective against apricot (the oracle), lazy = plain greedy, and the stage contract."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from qdc import schema
from qdc.select import SelectConfig, select
from qdc.select.facility import Coverage, facility_arrays, knn_graph, reverse_graph


def _blobs(n: int, d: int = 16, centres: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centres, d))
    x = c[rng.integers(centres, size=n)] + 0.6 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _objective(sim: np.ndarray, picks: np.ndarray) -> float:
    return float(sim[:, picks].max(axis=1).sum())


@pytest.mark.parametrize("budget", [3, 15, 50])
def test_objective_matches_apricot_within_one_percent(budget: int) -> None:
    apricot = pytest.importorskip("apricot")
    x = _blobs(240, seed=budget)
    sim = np.maximum(x @ x.T, 0.0)
    theirs = apricot.FacilityLocationSelection(budget, metric="precomputed", optimizer="lazy").fit(sim).ranking
    full, _ = facility_arrays(x, budget, neighbours=239)
    sparse, _ = facility_arrays(x, budget, neighbours=20)
    stochastic, _ = facility_arrays(x, budget, neighbours=239, epsilon=0.01, seed=1)
    ref = _objective(sim, np.asarray(theirs))
    assert _objective(sim, full) == pytest.approx(ref, rel=1e-4)
    if budget * 20 >= sim.shape[0]:  # the graph reaches every row only when B·k >= n (why the default adapts)
        assert _objective(sim, sparse) >= 0.99 * ref
    default, _ = facility_arrays(x, budget)  # neighbours clamp(3n/B, 20, 200)
    assert _objective(sim, default) >= 0.99 * ref
    assert _objective(sim, stochastic) >= 0.97 * ref
    assert len(set(full.tolist())) == budget


def test_lazy_greedy_equals_plain_greedy() -> None:
    x = _blobs(120, seed=3)
    ids, sims = knn_graph(x, 10)
    picks, _ = facility_arrays(x, 12, graph=(ids, sims))
    cov = Coverage(*reverse_graph(ids, sims), np.zeros(120))
    plain: list[int] = []
    for _ in range(12):
        gains = np.array([cov.gain(j) if j not in plain else -1.0 for j in range(120)])
        j = int(np.argmax(gains))  # ties: the lowest position, as the heap does
        plain.append(j)
        cov.take(j)
    assert picks.tolist() == plain


def test_quality_weight_moves_picks_towards_high_scores() -> None:
    x = _blobs(200, seed=4)
    q = np.random.default_rng(0).random(200)
    off, _ = facility_arrays(x, 20, quality=q, quality_weight=0.0)
    on, _ = facility_arrays(x, 20, quality=q, quality_weight=5.0)
    assert q[on].mean() > q[off].mean() + 0.1


def test_knn_graph_excludes_self_and_is_sorted() -> None:
    x = _blobs(60, seed=5)
    ids, sims = knn_graph(x, 5)
    assert ids.shape == (60, 5)
    assert not (ids == np.arange(60)[:, None]).any()
    assert (np.diff(sims, axis=1) <= 1e-6).all()


def test_cell_graph_keeps_the_objective_of_the_exact_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    from qdc.select import knn

    x = _blobs(3000, d=24, centres=40, seed=7)
    monkeypatch.setattr(knn, "CELL_ROWS", 200)  # 15 cells, as 1M rows get 1,000
    ids, sims = knn.cell_knn(x, 15, seed=0)
    assert ids.shape == (3000, 15)
    assert not (ids == np.arange(3000)[:, None]).any()
    assert (ids >= 0).all()  # every cell holds more than 16 candidates here
    assert (np.diff(sims, axis=1) <= 1e-6).all()
    assert np.allclose(sims, np.einsum("id,ikd->ik", x, x[ids]), atol=1e-5)
    assert knn.recall(x, ids, sample=300) > 0.6
    exact = knn_graph(x, 15)
    sim = np.maximum(x @ x.T, 0.0)
    on_cells, _ = facility_arrays(x, 150, graph=(ids, sims))
    on_exact, _ = facility_arrays(x, 150, graph=exact)
    assert _objective(sim, on_cells) >= 0.99 * _objective(sim, on_exact)
    again = knn.cell_knn(x, 15, seed=0)
    assert (again[0] == ids).all()


def _frame(n: int) -> pl.DataFrame:
    x = _blobs(n, seed=6)
    rows = {
        "id": [f"r{i}" for i in range(n)],
        "group": ["a" if i % 3 else "b" for i in range(n)],
        schema.TEXT: [f"row {i} " + "word " * (i % 7) for i in range(n)],
        schema.ROW_ID: [f"r{i}" for i in range(n)],
        schema.LINE: list(range(1, n + 1)),
        schema.QUALITY: np.linspace(0, 1, n).tolist(),
    }
    return pl.DataFrame(rows).with_columns(pl.Series(schema.EMBEDDING, x, dtype=pl.Array(pl.Float32, x.shape[1])))


def test_select_facility_groups_tokens_and_manifest() -> None:
    df = _frame(90)
    res = select(df, SelectConfig(budget=12, strategy="facility", group_field="group", quota="equal", dedup="off"))
    assert res.selected.height == 12
    assert res.selected.group_by("group").len().sort("group")["len"].to_list() == [6, 6]
    assert res.selected[schema.SELECT_REASON].str.starts_with("facility").all()
    tok = select(df, SelectConfig(budget_tokens=40, strategy="facility", dedup="off"))
    spent = tok.manifest["selected_tokens"]
    assert 0 < spent <= 40
    again = select(df, SelectConfig(budget=12, strategy="facility", group_field="group", quota="equal", dedup="off"))
    assert again.selected["id"].to_list() == res.selected["id"].to_list()
    assert res.manifest["strategy"] == "facility"


def test_tail_picks_are_each_the_least_covered_row() -> None:
    x = _blobs(150, seed=6)
    ids, sims = knn_graph(x, 12)
    exclude = np.zeros(150, dtype=bool)
    exclude[::10] = True
    picks, _ = facility_arrays(x, 20, graph=(ids, sims), exclude=exclude, tail_share=0.25)
    head, _ = facility_arrays(x, 15, graph=(ids, sims), exclude=exclude)
    assert picks[:15].tolist() == head.tolist()  # the first 75% are facility's own picks
    vals = reverse_graph(ids, sims)
    cov = Coverage(vals[0], vals[1], np.where(exclude[vals[1]], np.float32(0), vals[2]), np.zeros(150))
    for j in head.tolist():
        cov.take(j)
    for j in picks[15:].tolist():  # then each pick is a least-covered row the gate lets through
        free = np.ones(150, dtype=bool)
        free[picks[: list(picks).index(j)]] = False
        free &= ~exclude
        assert free[j] and cov.cover[j] == cov.cover[free].min()
        cov.take(j)
    assert len(set(picks.tolist())) == 20


def test_tail_reaches_rows_greedy_leaves_uncovered() -> None:
    rng = np.random.default_rng(1)
    dense = _blobs(300, d=32, centres=3, seed=7)
    # One-off rows between two dense rows: partly covered by the dense picks, so greedy rarely takes them.
    a, b = rng.integers(300, size=12), rng.integers(300, size=12)
    mid = dense[a] + dense[b] + 0.3 * rng.normal(size=(12, 32))
    x = np.concatenate([dense, (mid / np.linalg.norm(mid, axis=1, keepdims=True)).astype(np.float32)])
    pure, _ = facility_arrays(x, 20)
    tail, _ = facility_arrays(x, 20, tail_share=0.3)
    assert (pure >= 300).sum() + 3 <= (tail >= 300).sum()
    assert (tail[14:] >= 300).all()


def _chat_frame(n: int, echo: set[int]) -> pl.DataFrame:
    x = _blobs(n, seed=8)
    prompts = [f"Write a short note about topic number {i} for the weekly team newsletter." for i in range(n)]
    responses = [
        p if i in echo else f"Here is a note on topic {i}: it went well this week." for i, p in enumerate(prompts)
    ]
    return pl.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            schema.ROW_ID: [f"r{i}" for i in range(n)],
            schema.TEXT: [f"{p}\n{r}" for p, r in zip(prompts, responses, strict=True)],
            schema.PROMPT: prompts,
            schema.RESPONSE: responses,
            schema.QUALITY: [0.9 if i in echo else 0.6 for i in range(n)],  # echoes that the score lets through
        }
    ).with_columns(pl.Series(schema.EMBEDDING, x, dtype=pl.Array(pl.Float32, x.shape[1])))


def test_junk_gate_holds_back_echoes_the_score_passes() -> None:
    echo = set(range(0, 80, 8))
    df = _chat_frame(80, echo)
    ids = {f"r{i}" for i in echo}
    gated = select(df, SelectConfig(budget=40, strategy="facility", dedup="off"))
    assert not ids & set(gated.selected["id"].to_list())
    open_ = select(df, SelectConfig(budget=40, strategy="facility", dedup="off", junk_gate=False))
    assert ids & set(open_.selected["id"].to_list())


def test_junk_gate_keeps_only_the_best_scored_answer_to_a_prompt() -> None:
    df = _chat_frame(60, set())
    prompts = df[schema.PROMPT].to_list()
    # rows 0-9 get a second, worse-scored answer (a cut-off one) to the same prompt
    extra = df[:10].with_columns(
        pl.Series("id", [f"cut{i}" for i in range(10)]),
        pl.Series(schema.ROW_ID, [f"cut{i}" for i in range(10)]),
        pl.Series(schema.RESPONSE, ["Here is a note on"] * 10),
        pl.Series(schema.TEXT, [f"{p}\nHere is a note on" for p in prompts[:10]]),
        pl.Series(schema.QUALITY, [0.5] * 10),
        pl.Series(schema.EMBEDDING, _blobs(10, seed=9), dtype=pl.Array(pl.Float32, 16)),
    )
    both = pl.concat([df, extra])
    cut = {f"cut{i}" for i in range(10)}
    assert not cut & set(
        select(both, SelectConfig(budget=45, strategy="facility", dedup="off")).selected["id"].to_list()
    )
    opened = select(both, SelectConfig(budget=45, strategy="facility", dedup="off", junk_gate=False))
    assert cut & set(opened.selected["id"].to_list())


def test_local_scale_gives_a_compact_region_more_picks() -> None:
    # A tight region and a spread one, 60 rows each: the cosine kernel covers the tight one with a pick or two;
    # the self-tuning kernel measures each row against its own neighbourhood, so the tight region gets picks
    # nearer its share of the rows.
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=32), rng.normal(size=32)
    x = np.vstack([a + 0.15 * rng.normal(size=(60, 32)), b + 0.8 * rng.normal(size=(60, 32))]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    plain, _ = facility_arrays(x, 12, neighbours=20)
    local, _ = facility_arrays(x, 12, neighbours=20, local_scale=7)
    assert int((local < 60).sum()) > int((plain < 60).sum())
    assert np.unique(local).size == 12
