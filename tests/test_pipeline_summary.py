"""A stage's summary is computed once: `qdc run`'s score-complexity stage and `qdc score-complexity --json` give
the same mean and 90th percentile (`qdc.complexity.summary`), equal to numpy's on the written column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from typer.testing import CliRunner

from qdc.cli import app
from qdc.io import read_records
from qdc.pipeline import parse_pipeline, run_pipeline
from tests.conftest import write_jsonl

ROWS = [
    {
        "id": f"r{i}",
        "instruction": f"Explain step {i} of the plan and list {i % 4} constraints?" * (1 + i % 3),
        "output": "First, do this. Then that." * (i % 5),
    }
    for i in range(23)
]


def test_run_and_the_command_summarise_complexity_alike(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(app, ["score-complexity", str(src), "-o", str(out), "--json"])
    assert res.exit_code == 0, res.stderr
    cli = orjson.loads(res.stdout)
    run = run_pipeline(read_records(str(src)), parse_pipeline({"stages": ["score-complexity"]}))
    stage = run.stages[0].summary
    values = read_records(str(out))["qdc_complexity"].to_numpy()
    assert cli["rows"] == stage["rows"] == len(ROWS)
    assert cli["mean"] == stage["mean"] == round(float(values.mean()), 4)
    assert cli["p90"] == stage["p90"] == round(float(np.quantile(values, 0.9)), 4)
    assert cli["scorer"] == stage["scorer"] == "heuristic"
