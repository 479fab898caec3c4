"""`qdc check`: every threshold passes (exit 0) and fails (exit 3); schema checks; --json; --config."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT, make_frame, write_jsonl

from qdc.check import CheckConfig, run_checks
from qdc.cli import app
from qdc.embed import EmbedConfig
from qdc.io import read_records
from qdc.pipeline.stage import StageContext

TOPICS = [
    "prime numbers",
    "sorting lists",
    "french cooking",
    "tax forms",
    "bird migration",
    "jazz chords",
    "tide tables",
    "soil acidity",
    "river deltas",
    "chess openings",
]


def dataset() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(40):
        t = TOPICS[i % len(TOPICS)]
        out.append(
            {
                "id": f"r{i:03d}",
                "instruction": f"Explain {t} briefly for case {i}.",
                "input": "",
                "output": f"{t.capitalize()} matter because of reason {i}: they follow rule "
                f"{i * 7 % 13}, which explains most of what people observe about {t}.",
            }
        )
    out[5] = {**out[1], "id": "r005"}  # one exact duplicate
    out[9]["output"] = "As an AI language model, I cannot help with that request."  # one junk row
    return out


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "d.jsonl", dataset())


def check(runner, path: Path, *args: str):
    return runner.invoke(app, ["check", str(path), "--model", "hash:64", *args])


@pytest.mark.parametrize(
    ("passing", "failing"),
    [
        (["--min-rows", "40"], ["--min-rows", "41"]),
        (["--max-rows", "40"], ["--max-rows", "39"]),
        (["--required-fields", "id,instruction"], ["--required-fields", "id,missing_field"]),
        (["--field-type", "id=string"], ["--field-type", "id=integer"]),
        (["--max-dup-rate", "0.05"], ["--max-dup-rate", "0"]),
        (["--min-vendi", "2"], ["--min-vendi", "1000"]),
        (["--min-mean-quality", "0.2"], ["--min-mean-quality", "0.999"]),
        (["--max-junk-rate", "0.05"], ["--max-junk-rate", "0"]),
        (["--max-mean-length", "100000"], ["--max-mean-length", "10"]),
        (["--min-mean-complexity", "0.0"], ["--min-mean-complexity", "0.999"]),
    ],
    ids=["min-rows", "max-rows", "required", "types", "dup-rate", "vendi", "quality", "junk", "length", "complexity"],
)
def test_each_threshold_both_ways(runner, data: Path, passing: list[str], failing: list[str]) -> None:
    ok = check(runner, data, *passing)
    assert ok.exit_code == 0, ok.stderr
    assert "pass" in ok.stderr and "FAIL" not in ok.stderr
    bad = check(runner, data, *failing)
    assert bad.exit_code == 3, bad.stderr
    assert "FAIL" in bad.stderr and "1 of" in bad.stderr


def test_bad_rows_are_counted_not_fatal(runner, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"id": "a", "text": "fine row"}\nnot json\n{"id": "b", "text": "another row"}\n')
    bad = check(runner, path)
    assert bad.exit_code == 3 and "bad_rows" in bad.stderr
    assert check(runner, path, "--max-bad-rows", "1").exit_code == 0


def test_empty_text_fails_by_default(runner, tmp_path: Path) -> None:
    rows = dataset()
    rows[3] = {"id": "r003", "instruction": " ", "input": "", "output": ""}
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    res = check(runner, path)
    assert res.exit_code == 3 and "empty_rate" in res.stderr and ":4" in res.stderr  # names file:line
    assert check(runner, path, "--max-empty-rate", "0.05").exit_code == 0


def test_field_type_mismatch_names_the_row(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"id": "a", "text": "x", "n": 1}, {"id": "b", "text": "y", "n": "two"}])
    df = read_records(path)
    checks = run_checks(df, CheckConfig(field_types={"n": "integer"}, required_fields=["n"]))
    by = {c.name: c for c in checks}
    assert by["required:n"].passed
    assert by["type:n=integer"].value == 1
    assert not by["type:n=integer"].passed and "t.jsonl:2: string" in by["type:n=integer"].detail
    assert not run_checks(df, CheckConfig(required_fields=["m"]))[1].passed
    assert run_checks(df, CheckConfig(field_types={"id": "string"}))[-1].passed


def test_json_output_has_every_check(runner, data: Path) -> None:
    res = check(runner, data, "--min-rows", "10", "--max-dup-rate", "0", "--json")
    assert res.exit_code == 3
    doc = json.loads(res.stdout)
    assert doc["rows"] == 40 and doc["passed"] is False and doc["failed"] == 1
    names = [c["name"] for c in doc["checks"]]
    assert names == ["bad_rows", "empty_rate", "rows", "dup_rate"]
    dup = doc["checks"][-1]
    assert dup["value"] == pytest.approx(1 / 40) and dup["threshold"] == 0 and dup["op"] == "<="


def test_config_thresholds_and_flag_precedence(runner, data: Path) -> None:
    ci = ROOT / "configs" / "ci.yaml"
    res = check(runner, data, "--config", str(ci))
    assert res.exit_code == 3 and "rows" in res.stderr  # ci.yaml wants 100 rows
    res = check(runner, data, "--config", str(ci), "--min-rows", "10", "--min-vendi", "2", "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    names = {c["name"] for c in doc["checks"]}
    assert {"vendi", "dup_rate", "junk_rate", "mean_length", "required:id"} <= names
    assert next(c for c in doc["checks"] if c["name"] == "rows")["threshold"] == 10


def test_check_stage_passes_rows_through(data: Path) -> None:
    df = make_frame(dataset())
    ctx = StageContext(embed=EmbedConfig(model="hash:64", cache=False))
    from qdc.errors import CheckFailed
    from qdc.pipeline.stages import check_stage as run_stage

    res = run_stage(df, CheckConfig(min_rows=10), ctx)
    assert res.df.equals(df) and res.summary["failed"] == 0
    with pytest.raises(CheckFailed, match="rows = 40"):
        run_stage(df, CheckConfig(min_rows=100), ctx)
    assert isinstance(res.df, pl.DataFrame)


def test_bad_field_type_option_is_a_usage_error(runner, data: Path) -> None:
    assert check(runner, data, "--field-type", "id").exit_code == 2
    assert check(runner, data, "--field-type", "id=str").exit_code == 2
