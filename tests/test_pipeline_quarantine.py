"""Bad lines read with on_bad_rows=skip land in one place whichever way the rows were read: `qdc run` and a
stage command put them at `qdc.io.bad_rows_path(OUTPUT)` (qdc.bad-rows.jsonl for stdout), verbatim, and say
the same notice naming the first bad line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qdc.cli import app
from qdc.io import bad_rows_path

BAD = b'{"id": "b", oops\n'
LINES = b'{"id": "a", "text": "a first row of text"}\n' + BAD + b'{"id": "c", "text": "another row of text"}\n'


def _invoke(cmd: list[str]) -> str:
    result = CliRunner().invoke(app, cmd)
    assert result.exit_code == 0, result.stderr
    return result.stderr


@pytest.mark.parametrize("to_stdout", [False, True])
def test_run_and_a_stage_command_quarantine_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, to_stdout: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_bytes(LINES)
    (tmp_path / "p.yaml").write_text("io: {on_bad_rows: skip}\nstages:\n  - score-complexity\n")
    said = {}
    for name, cmd in {
        "run": ["run", "p.yaml", "in.jsonl", "--no-workdir"],
        "stage": ["score-complexity", "in.jsonl", "--on-bad-rows", "skip"],
    }.items():
        out = "-" if to_stdout else f"{name}.jsonl"
        target = tmp_path / bad_rows_path(out)
        target.unlink(missing_ok=True)
        stderr = _invoke([*cmd, "-o", out])
        assert target.read_bytes() == BAD, name
        said[name] = " ".join(line for line in stderr.splitlines() if "skipped" in line)
        assert f"skipped 1 bad line(s), written verbatim to {bad_rows_path(out)} (first: in.jsonl:2: " in said[name]
    assert said["run"] == said["stage"].replace("stage.jsonl", "run.jsonl")
