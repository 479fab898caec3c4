"""Nothing is lost silently: every unselected row's ledger reason says why, the junk gate's included."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

from qdc import schema
from qdc.select import SelectConfig, select
from qdc.select.core import GATED
from qdc.select.held import GATE_REASON
from tests.conftest import make_frame

TOPICS = ["garden", "river", "teacher", "window", "market", "engine", "letter", "island", "doctor", "kitchen"]
ACTIONS = ["describe", "explain", "compare", "list uses of", "summarise", "criticise"]
JUNK = {52: 0.05, 55: 0.12, 58: 0.2, 61: 0.25, 64: 0.08, 67: 0.15}  # planted rows: their qdc_quality


def _pool(n: int = 70, extra: dict[str, list[Any]] | None = None) -> pl.DataFrame:
    """Instruction rows with a qdc_quality column (clean 0.5-0.9; the JUNK rows below the threshold) and a
    fixed random embedding, so no model runs."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(n):
        topic, action = TOPICS[i % 10], ACTIONS[(i // 10) % 6]
        answer = f"The {topic} answer number {i} talks about {TOPICS[(i * 3 + 1) % 10]} and {i * 17 % 101} facts."
        quality = JUNK.get(i, round(0.5 + 0.4 * float(rng.random()), 4))
        rows.append({"id": f"r{i}", "instruction": f"Please {action} the {topic} ({i}).", "output": answer})
        rows[-1][schema.QUALITY] = quality
    df = make_frame(rows)
    x = rng.normal(size=(n, 16))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    df = df.with_columns(pl.Series(schema.EMBEDDING, x, dtype=pl.Array(pl.Float32, 16)))
    return df.with_columns(*[pl.Series(k, v) for k, v in (extra or {}).items()])


def _gated(led: pl.DataFrame) -> dict[str, str]:
    return {r["id"]: r["reason"] for r in led.iter_rows(named=True) if r["reason"].startswith(GATE_REASON)}


def _category(reason: str) -> str:
    if reason.startswith("duplicate of"):
        return "duplicate"
    if "below --min-quality" in reason:
        return "below_min_quality"
    if reason.startswith(GATE_REASON):
        return "junk_gate"
    assert reason.startswith("not selected by"), reason
    return "outranked"


def _check_counts(manifest: dict[str, Any], led: pl.DataFrame) -> None:
    """Every ledger row has one reason; the manifest's counts are the ledger's, and add up to rows_in."""
    assert led.height == manifest["rows_in"] and led["reason"].null_count() == 0
    assert all(r for r in led["reason"].to_list())
    unselected = led.filter(~pl.col("selected"))["reason"].to_list()
    counts: dict[str, int] = {}
    for r in unselected:
        counts[_category(r)] = counts.get(_category(r), 0) + 1
    assert {k: v for k, v in manifest["not_selected"].items() if v} == counts
    assert manifest["rows_in"] == manifest["selected"] + sum(manifest["not_selected"].values())
    gate = manifest["junk_gate"]
    if gate is not None:
        assert gate["held_back"] == counts.get("junk_gate", 0) == sum(gate["reasons"].values())


@pytest.mark.parametrize("strategy", GATED)
def test_the_ledger_names_the_gate_for_exactly_the_held_back_rows(strategy: str) -> None:
    df = _pool()
    res = select(df, SelectConfig(budget=20, strategy=strategy, dedup="off", seed=3))
    assert res.ledger is not None
    gated = _gated(res.ledger)
    planted = {f"r{i}" for i in JUNK}
    assert planted <= set(gated)  # the non-junk rows fill the budget: every planted row is held back
    for i, q in JUNK.items():
        assert gated[f"r{i}"] == f"{GATE_REASON} (qdc_quality {q:g} < 0.3)"
    # kmq, iterative and bandit also hold back junk regions: a cluster mostly made of flagged rows
    for rid in set(gated) - planted:
        assert "junk region, cluster" in gated[rid], gated[rid]
    assert res.manifest["junk_gate"]["reasons"]["threshold"] == len(JUNK)
    _check_counts(res.manifest, res.ledger)
    # the unselected frame carries the same reason as the ledger
    un = dict(zip(res.unselected["id"].to_list(), res.unselected[schema.SELECT_REASON].to_list(), strict=True))
    assert all(un[rid] == why for rid, why in gated.items())


def test_the_defect_part_names_its_signal_and_other_exclusions_keep_their_reasons() -> None:
    n = 70
    trunc = [1.0] * n
    trunc[10] = 0.1  # a fitting defect signal on a row the score likes
    dup = [None] * n
    dup[20] = "r3"
    df = _pool(n, {schema.QUALITY_SIGNAL_PREFIX + "truncation": trunc, schema.DUP_OF: dup})
    echo = pl.when(pl.col("id") == "r30").then(pl.col(schema.PROMPT)).otherwise(pl.col(schema.RESPONSE))
    df = df.with_columns(echo.alias(schema.RESPONSE))  # an answer that repeats its instruction, well scored
    res = select(df, SelectConfig(budget=20, strategy="facility", dedup="off", min_quality=0.1))
    assert res.ledger is not None
    reasons = dict(zip(res.ledger["id"].to_list(), res.ledger["reason"].to_list(), strict=True))
    assert reasons["r10"] == f"{GATE_REASON} (defect signal: truncation 0.1 < 0.3)"
    assert reasons["r30"].startswith(f"{GATE_REASON} (defect signal: echo ")
    assert reasons["r20"] == "duplicate of r3"
    for i, q in JUNK.items():  # below --min-quality: excluded before the gate, with that reason
        want = f"quality {q:.4g} below --min-quality 0.1" if q < 0.1 else f"{GATE_REASON} (qdc_quality {q:g} < 0.3)"
        assert reasons[f"r{i}"] == want
    gate = res.manifest["junk_gate"]
    assert gate["reasons"] == {"signal:echo": 1, "signal:truncation": 1, "threshold": 4}
    assert res.manifest["not_selected"]["below_min_quality"] == 2
    _check_counts(res.manifest, res.ledger)


def test_groups_and_token_budgets_keep_the_gate_reasons() -> None:
    df = _pool(extra={"lang": ["a", "b"] * 35})
    tokens = select(df, SelectConfig(budget_tokens=400, strategy="kmq", dedup="off", seed=1))
    grouped = select(df, SelectConfig(budget=20, strategy="facility", dedup="off", group_field="lang"))
    for res in (tokens, grouped):
        assert res.ledger is not None
        assert {f"r{i}" for i in JUNK} <= set(_gated(res.ledger))
        _check_counts(res.manifest, res.ledger)


def test_a_strategy_without_the_gate_names_none_and_the_gate_off_names_none() -> None:
    df = _pool()
    for cfg in (
        SelectConfig(budget=20, strategy="random", dedup="off"),
        SelectConfig(budget=20, strategy="facility", dedup="off", junk_gate=False),
    ):
        res = select(df, cfg)
        assert res.ledger is not None
        assert not _gated(res.ledger)
        assert res.manifest["junk_gate"] is None
        _check_counts(res.manifest, res.ledger)
