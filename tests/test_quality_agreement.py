"""Label agreement (score-quality --label-field): the k-NN vector, nulls, copies, invariants, stage and CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from qdc import schema
from qdc.cli import app
from qdc.errors import MissingColumnError
from qdc.quality import QualityConfig, score_quality
from qdc.quality.agreement import label_agreement, neighbour_index
from tests.conftest import make_frame, read_jsonl, write_jsonl


def two_blobs(seed: int = 0, size: int = 6, d: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2, d))
    x = np.vstack([c + 0.05 * rng.normal(size=(size, d)) for c in centres]).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)  # type: ignore[no-any-return]


def test_vector_with_one_flipped_label() -> None:
    # Blob A: five rows labelled 0 and one labelled 1; blob B: six rows labelled 1. k = 5 stays in the blob.
    # A label-0 row sees four 0s (weight 1/5 each) and the flipped row (weight 1/7): 0.8 / (0.8 + 1/7).
    got = label_agreement(two_blobs(), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1], k=5)
    np.testing.assert_allclose(got[:5], 0.8 / (0.8 + 1 / 7))
    assert got[5] == 0.0
    np.testing.assert_allclose(got[6:], 1.0)


def test_null_labels_are_skipped_and_k_is_clamped() -> None:
    x = two_blobs(size=3)
    got = label_agreement(x, ["a", None, "a", "b", "b", "b"], k=50)
    assert np.isnan(got[1])
    assert np.isfinite(np.delete(got, 1)).all()
    assert np.isnan(label_agreement(x[:2], [None, "a"])).all()  # fewer than two labelled rows


def test_exact_copies_see_each_other() -> None:
    x = np.repeat(two_blobs(size=1), 2, axis=0)  # rows 0,1 identical; rows 2,3 identical
    got = label_agreement(x, [0, 1, 1, 1], k=1)
    assert got[0] == 0.0 and got[1] == 0.0  # each copy's nearest other row is its twin, with another label
    assert got[2] == 1.0 and got[3] == 1.0


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.integers(0, 2), min_size=12, max_size=12))
def test_permutation_and_renaming_invariance(seed: int, labels: list[int]) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(12, 6)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    base = label_agreement(x, labels, k=4)
    perm = rng.permutation(12)
    moved = label_agreement(x[perm], [labels[i] for i in perm], k=4)
    np.testing.assert_allclose(moved, base[perm], atol=1e-12)
    renamed = label_agreement(x, [f"class-{2 - v}" for v in labels], k=4)
    np.testing.assert_allclose(renamed, base, atol=1e-12)
    assert ((base >= 0) & (base <= 1)).all()


def test_ivf_index_above_the_exact_limit_finds_nearly_the_same_neighbours() -> None:
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(40, 32))
    which = rng.integers(0, 40, 3000)
    x = (centres[which] + 0.5 * rng.normal(size=(3000, 32))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = np.where(rng.random(3000) < 0.8, which % 3, (which + 1) % 3).tolist()
    assert type(neighbour_index(x, 500)).__name__ == "IndexIVFFlat"
    exact = label_agreement(x, labels, k=10)
    ivf = label_agreement(x, labels, k=10, exact_max_rows=500)  # 76 lists (39 rows each at least), 16 probed
    assert np.array_equal(ivf, label_agreement(x, labels, k=10, exact_max_rows=500))  # repeatable
    assert np.abs(ivf - exact).mean() < 0.02 and np.corrcoef(ivf, exact)[0, 1] > 0.95


def labelled_rows() -> list[dict[str, Any]]:
    x = two_blobs()
    return [
        {"id": f"r{i}", "text": f"row {i} words here", "label": lab, "qdc_embedding": x[i].tolist()}
        for i, lab in enumerate([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, None])
    ]


def test_stage_writes_the_column_and_keeps_quality() -> None:
    df = make_frame(labelled_rows())
    out = score_quality(df, QualityConfig(label_field="label", label_k=5))
    got = out[schema.LABEL_AGREEMENT].to_list()
    assert got[5] == 0.0 and got[11] is None and out[schema.QUALITY].null_count() == 0
    again = score_quality(out, QualityConfig())  # rescoring without the option drops the stale column
    assert schema.LABEL_AGREEMENT not in again.columns
    with pytest.raises(MissingColumnError, match="'tag'"):
        score_quality(df, QualityConfig(label_field="tag"))


def test_cli_label_field(tmp_path: Path, runner: CliRunner) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", labelled_rows())
    res = runner.invoke(
        app,
        [
            "-q",
            "score-quality",
            str(src),
            "-o",
            str(tmp_path / "o.jsonl"),
            "--label-field",
            "label",
            "--set",
            "label_k=5",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = read_jsonl((tmp_path / "o.jsonl").read_bytes())
    assert [r["id"] for r in rows if r[schema.LABEL_AGREEMENT] == 0.0] == ["r5"]
    assert pl.DataFrame(rows)[schema.LABEL_AGREEMENT].null_count() == 1
