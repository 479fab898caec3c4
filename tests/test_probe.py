"""`qdc probe`: the paired gain of a selection over random subsets, on held-out labelled rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qdc.errors import ConfigError
from qdc.probe import ProbeConfig, probe, t_interval
from tests.conftest import write_jsonl


def _data(seed: int = 0, n: int = 400, d: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Three classes, one of them rare (2%), in overlapping blobs."""
    centres = np.random.default_rng(1234).normal(size=(3, d)) * 1.2  # the same classes in every sample
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.8, 0.18, 0.02])
    x = centres[y] + rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), y.astype(str).astype(object)


def test_a_balanced_selection_beats_random_and_a_one_class_one_loses() -> None:
    x, y = _data()
    xt, yt = _data(seed=1, n=300)
    balanced = np.concatenate([np.flatnonzero(y == c)[:5] for c in ("0", "1", "2")])
    good = probe(x[balanced], y[balanced], x, y, xt, yt, ProbeConfig(seeds=8, metric="balanced_accuracy"))
    assert good.gain > 0 and good.wins >= 6 and good.low <= good.gain <= good.high
    one = np.flatnonzero(y == "0")[:15]
    bad = probe(x[one], y[one], x, y, xt, yt, ProbeConfig(seeds=8, metric="balanced_accuracy"))
    assert bad.gain < 0 and bad.high < 0 and bad.wins == 0
    assert bad.selected == pytest.approx(1 / 3)  # one class only: predicts it everywhere


def test_paired_seeds_are_reproducible_and_a_random_selection_is_not_significant() -> None:
    x, y = _data(seed=2)
    xt, yt = _data(seed=3, n=300)
    idx = np.random.default_rng(99).choice(x.shape[0], size=40, replace=False)
    a = probe(x[idx], y[idx], x, y, xt, yt, ProbeConfig(seeds=10))
    b = probe(x[idx], y[idx], x, y, xt, yt, ProbeConfig(seeds=10))
    assert a.as_dict() == b.as_dict()
    assert a.low <= 0.0 <= a.high or abs(a.gain) < 0.03


def test_t_interval_matches_the_textbook() -> None:
    d = np.array([0.01, 0.03, -0.01, 0.02, 0.00])
    lo, hi = t_interval(d, 0.95)
    half = 2.7764451 * d.std(ddof=1) / np.sqrt(5)
    assert lo == pytest.approx(d.mean() - half, rel=1e-5) and hi == pytest.approx(d.mean() + half, rel=1e-5)


def test_bad_inputs_are_config_errors() -> None:
    x, y = _data()
    with pytest.raises(ConfigError, match="fewer than"):
        probe(x, y, x[:10], y[:10], x, y, ProbeConfig())
    with pytest.raises(ConfigError, match="dimensions"):
        probe(x[:5], y[:5], x, y, x[:, :4], y, ProbeConfig())


def _rows(x: np.ndarray, y: np.ndarray, prefix: str) -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}{i}", "text": f"{prefix} {i}", "label": str(lab), "qdc_embedding": v.tolist()}
        for i, (v, lab) in enumerate(zip(x, y, strict=True))
    ]


def test_cli_json_and_table(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from qdc.cli import app

    x, y = _data()
    xt, yt = _data(seed=1, n=200)
    balanced = np.concatenate([np.flatnonzero(y == c)[:5] for c in ("0", "1", "2")])
    sel = write_jsonl(tmp_path / "sel.jsonl", _rows(x[balanced], y[balanced], "s"))
    pool = write_jsonl(tmp_path / "pool.jsonl", _rows(x, y, "p"))
    test = write_jsonl(tmp_path / "test.jsonl", _rows(xt, yt, "t"))
    args = ["probe", str(sel), "--pool", str(pool), "--test", str(test), "--seeds", "5"]
    res = runner.invoke(app, [*args, "--json", "--metric", "balanced_accuracy"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["seeds"] == 5 and doc["selected_rows"] == 15 and doc["gain"] > 0 and len(doc["ci"]) == 2
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and table.stdout == "" and "gain over random" in table.stderr
    missing = runner.invoke(app, [*args, "--label-field", "nope"])
    assert missing.exit_code != 0 and "nope" in missing.stderr
    no_pool = runner.invoke(app, ["probe", str(sel), "--test", str(test)])
    assert no_pool.exit_code == 2


def test_the_interval_resamples_the_test_rows_as_well_as_the_seeds() -> None:
    # On 40 test rows the held-out sample's noise dominates: the bootstrap interval is wider than the t interval
    # over the seeds alone, and it still holds the mean gain. Before, 'ci' was the seeds-only interval.
    x, y = _data(seed=4)
    xt, yt = _data(seed=5, n=40)
    idx = np.random.default_rng(7).choice(x.shape[0], size=30, replace=False)
    res = probe(x[idx], y[idx], x, y, xt, yt, ProbeConfig(seeds=10))
    assert res.high - res.low > res.seeds_high - res.seeds_low
    assert res.low <= res.gain <= res.high
    assert probe(x[idx], y[idx], x, y, xt, yt, ProbeConfig(seeds=10)).as_dict() == res.as_dict()  # seeded


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy"])
def test_the_bootstrap_gain_is_exact_where_no_resample_can_move_it(metric: str) -> None:
    from qdc.probe import bootstrap_interval

    yt = np.array(["a", "b", "a", "c", "b", "a"], dtype=object)
    wrong = np.array(["b", "a", "c", "a", "c", "b"], dtype=object)
    cfg = ProbeConfig(metric=metric, resamples=200)
    assert bootstrap_interval(yt, yt, np.vstack([wrong, wrong, wrong]), cfg) == (1.0, 1.0)  # right vs all wrong
    assert bootstrap_interval(yt, wrong, np.vstack([wrong, wrong]), cfg) == (0.0, 0.0)  # the same predictions
    lo, hi = bootstrap_interval(yt, yt, np.vstack([yt, wrong]), cfg)  # random is right for one seed of two
    assert 0.0 <= lo < hi <= 1.0


def test_a_selection_of_test_rows_or_from_outside_the_pool_is_named() -> None:
    # Before: a 'selection' that was 300 of the test rows scored +0.389 over random without a word.
    from qdc.embed import EmbedConfig
    from qdc.probe import probe_frames
    from tests.conftest import make_frame

    x, y = _data(seed=6, n=120)
    rows = [{"id": f"r{i}", "text": f"row number {i}", "label": str(y[i])} for i in range(120)]

    def frame(idx: range) -> Any:
        return make_frame([rows[i] for i in idx]).with_columns(
            __import__("polars").Series("qdc_embedding", x[list(idx)].tolist())
        )

    cfg, ecfg = ProbeConfig(seeds=3), EmbedConfig(model="hash:8", cache=False)
    clean = probe_frames(frame(range(10)), frame(range(80)), frame(range(80, 120)), cfg, ecfg)
    assert not [n for n in clean.notes if "same text" in n]
    leaked = probe_frames(frame(range(80, 100)), frame(range(80)), frame(range(80, 120)), cfg, ecfg)
    said = " ".join(leaked.notes)
    assert "20 of the 40 rows of the test rows are also in the selection and 0 in the pool" in said
    assert "20 of the 20 rows of the selection are not in the pool" in said
