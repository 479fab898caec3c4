"""One junk rule (`qdc.quality.is_junk`) for the report's junk section, its junk-rate card, `qdc check` and the
score-quality summary: below the threshold or unscored (null qdc_quality)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from conftest import make_frame

from qdc import schema
from qdc.check import CheckConfig, run_checks
from qdc.embed import EmbedConfig
from qdc.pipeline.stage import StageContext
from qdc.quality import JUNK_THRESHOLD, is_junk, summary
from qdc.report.data import metrics
from qdc.report.junk import junk_section, render_junk

QUALITY = [0.9, None, 0.1, 0.8, float("nan"), JUNK_THRESHOLD, 0.7, 0.29]
JUNK = [False, True, True, False, True, False, False, True]


@pytest.fixture
def scored() -> pl.DataFrame:
    rows = [{"id": f"r{i}", "instruction": f"Say {i}.", "output": f"Answer number {i}."} for i in range(len(QUALITY))]
    df = make_frame(rows)
    return df.with_columns(pl.Series(schema.QUALITY, QUALITY, dtype=pl.Float64, strict=False))


def test_is_junk_counts_below_threshold_null_and_nan():
    assert is_junk(pl.Series(QUALITY, dtype=pl.Float64, strict=False)).tolist() == JUNK
    assert is_junk(pl.Series([0.5, None]), below=0.6).tolist() == [True, True]


def test_report_section_card_check_and_summary_count_the_same_rows(scored):
    share = sum(JUNK) / len(JUNK)
    section = junk_section(scored)
    assert section is not None and section["rows"] == sum(JUNK)
    assert section["lowest"][0]["quality"] is None and section["lowest"][0]["reason"] == "unscored"
    assert [r["id"] for r in section["lowest"]] == ["r1", "r4", "r2", "r7"]
    card = metrics(scored, np.zeros((scored.height, 2)), None, np.zeros(0, dtype=np.int64))
    assert card["junk_rate"] == pytest.approx(share, abs=1e-4)
    ctx = StageContext(seed=0, embed=EmbedConfig(model="hash:64", cache=False))
    (check,) = [c for c in run_checks(scored, CheckConfig(max_junk_rate=1.0), ctx) if c.name == "junk_rate"]
    assert check.value == pytest.approx(share, abs=1e-4)
    assert summary(scored)["junk"] == sum(JUNK)
    page = render_junk(section)
    assert "unscored" in page and "nan" not in page.lower()
