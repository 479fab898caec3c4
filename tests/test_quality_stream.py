"""score-quality --stream's summary counts junk by the same rule as the in-memory summary (`is_junk`)."""

from __future__ import annotations

from pathlib import Path

from conftest import write_jsonl

from qdc.io import IOConfig, read_records
from qdc.quality import QualityConfig, score_quality, summary
from qdc.quality.stream import stream_score
from qdc.scale.options import RunOptions

ASK = "Explain how photosynthesis works in plants."
GOOD = (
    "Photosynthesis is the process by which plants turn light into chemical energy. Chlorophyll in the "
    "leaves absorbs sunlight, which drives the conversion of carbon dioxide and water into glucose."
)


def test_stream_summary_counts_the_same_junk_rows(tmp_path: Path) -> None:
    rows = [{"id": f"g{i}", "instruction": f"{ASK} ({i})", "output": GOOD} for i in range(6)]
    rows += [
        {"id": "r", "instruction": ASK, "output": "I'm sorry, but I can't help with that."},
        {"id": "e", "instruction": ASK, "output": "   "},
        {"id": "s", "instruction": ASK, "output": "q#$ @k&* z@% p%%& b&@ t$# x*@ c%& w@$ h$$ n*& g#@"},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    heuristic = QualityConfig(scorer="heuristic")
    want = summary(score_quality(read_records(src, IOConfig()), heuristic))
    stats = stream_score(
        str(src), IOConfig(), quality=heuristic, output=str(tmp_path / "out.jsonl"), run=RunOptions(batch_rows=4)
    )
    assert want["junk"] >= 2 and stats["quality"]["junk"] == want["junk"]
