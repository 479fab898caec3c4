"""MinHash chains in the dedup summary: removals below the threshold to their survivor are counted, the
lowest similarity given, and a notice raised when they are many; the same in memory and streamed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from qdc import schema
from qdc.dedup import DedupConfig, dedup
from qdc.dedup.stream import StreamOptions, stream_dedup
from qdc.io import read_records
from qdc.scale.options import RunOptions
from tests.conftest import write_jsonl


def _notices(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The notices so far: with no reporter installed, `qdc.progress.notice` logs them to 'qdc' at INFO."""
    return [r.getMessage() for r in caplog.records if r.name == "qdc"]


def _chain_rows(chains: int, singles: int = 0) -> list[dict[str, Any]]:
    """`chains` groups a~b~...~f: each step swaps one more of 100 words (3-gram Jaccard ~0.94 to the next
    row), so e and f are ~0.78 and ~0.73 from a (below 0.8); `singles` unrelated rows."""
    rows = []
    for g in range(chains):
        words = [f"w{g}x{k}" for k in range(100)]
        for step, at in enumerate((None, 10, 30, 50, 70, 90)):
            if at is not None:
                words[at] = f"new{g}x{at}"
            rows.append({"id": f"c{g}-{step}", "text": " ".join(words)})
    rows += [{"id": f"s{k}", "text": " ".join(f"u{k}y{j}" for j in range(40))} for k in range(singles)]
    return rows


@pytest.mark.parametrize(("chains", "singles", "noticed"), [(3, 0, True), (0, 4, False)])
def test_minhash_chain_removals_below_threshold_are_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, chains: int, singles: int, noticed: bool
) -> None:
    caplog.set_level(logging.INFO, logger="qdc")
    src = write_jsonl(tmp_path / "in.jsonl", _chain_rows(chains, singles))
    cfg = DedupConfig(methods=["minhash"])
    res = dedup(read_records(src), cfg)
    info = res.stats["methods"]["minhash"]
    sims = res.removed[schema.DUP_SIMILARITY]
    # What the ledger shows, counted: in each chain e and f are removed below 0.8 to a (b, c, d above).
    assert info["removed"] == 5 * chains == res.removed.height
    assert info["below_threshold"] == int((sims < cfg.threshold).sum()) == 2 * chains
    assert info["min_similarity"] == (round(float(sims.min()), 4) if chains else None)
    if chains:
        assert 0.7 < info["min_similarity"] < 0.75
    assert any("below the threshold 0.8" in n for n in _notices(caplog)) is noticed
    streamed = stream_dedup(
        str(src), cfg, opts=StreamOptions(RunOptions(batch_rows=4), partitions=3), output=str(tmp_path / "s.jsonl")
    )
    got = streamed["methods"]["minhash"]
    assert (got["below_threshold"], got["min_similarity"]) == (info["below_threshold"], info["min_similarity"])


def test_chain_notice_only_above_the_share(caplog: pytest.LogCaptureFixture) -> None:
    import numpy as np

    from qdc.dedup.report import CHAIN_SHARE, chain_figures

    caplog.set_level(logging.INFO, logger="qdc")
    few = chain_figures(np.array([0.7] + [0.9] * 19), 0.8)  # 5%
    many = chain_figures(np.array([0.7, 0.75] + [0.9] * 8), 0.8)  # 20%
    none = chain_figures(np.zeros(0), 0.8)
    notes = _notices(caplog)
    assert CHAIN_SHARE == 0.10 and len(notes) == 1 and "2 of 10 removed rows (20%)" in notes[0]
    assert few == {"below_threshold": 1, "min_similarity": 0.7} and many["below_threshold"] == 2
    assert none == {"below_threshold": 0, "min_similarity": None}
    assert chain_figures(np.array([0.8 - 1e-13]), 0.8)["below_threshold"] == 0
