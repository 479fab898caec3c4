"""A new user's run on real-looking rows: what the help and the messages promise is what qdc does.

Each test fails on the code before its fix (noted per test).
"""

from __future__ import annotations

import re
from pathlib import Path

from qdc.cli import app

from .conftest import read_jsonl, write_jsonl

ALPACA = [
    {"instruction": f"Explain step {i} of making tea.", "input": "", "output": f"Step {i}: boil the water, then wait."}
    for i in range(6)
]


def test_score_quality_help_names_the_columns_the_default_scorer_writes(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Before: the help promised "one qdc_q_<signal> column per signal", which only --scorer heuristic
    # writes; the default (learned) scorer's qdc_q_junk, qdc_q_grade and qdc_q_reason were not named.
    src = write_jsonl(tmp_path / "in.jsonl", ALPACA)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score-quality", str(src), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.stderr
    written = {k for k in read_jsonl(out.read_bytes())[0] if k.startswith("qdc_q_")}
    assert written  # the learned scorer writes columns beside qdc_quality
    help_text = re.sub(r"[\s│]+", " ", runner.invoke(app, ["score-quality", "--help"]).stdout)
    for column in sorted(written):
        assert column in help_text, column


def test_explain_an_id_no_row_has_is_a_usage_error_naming_the_input(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Before: `Error: no row with id 'nosuch'`, exit 1 (bad data), naming neither the flag nor the input,
    # unlike `--id-field NAME` that no row has (exit 2). The data is fine; the argument is wrong.
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", **row} for i, row in enumerate(ALPACA)])
    for command in ("score-quality", "score-complexity"):
        out = tmp_path / f"{command}.jsonl"
        result = runner.invoke(app, [command, str(src), "--explain", "nosuch", "-o", str(out)])
        assert result.exit_code == 2, (command, result.stderr)
        line = result.stderr.strip()
        assert "\n" not in line
        assert "--explain 'nosuch'" in line and "in.jsonl" in line and "'r0'" in line, line
        assert not out.exists()
        ok = runner.invoke(app, [command, str(src), "--explain", "r3", "-o", str(out)])
        assert ok.exit_code == 0, ok.stderr
