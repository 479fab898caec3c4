"""`qdc select` on the command line: byte-identical output, manifest, ledger, errors, help."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from qdc.cli import app
from tests.conftest import read_jsonl, write_jsonl
from tests.test_select_strategies import task_rows

HASH = ["--model", "hash:64", "--no-cache"]


def rows() -> list[dict[str, object]]:
    out = []
    for r in task_rows(dups=3):
        r = dict(r)
        r.pop("qdc_embedding")
        out.append(r)
    return out


def test_select_is_byte_identical_and_writes_manifest_and_ledger(tmp_path: Path, runner: CliRunner) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rows())
    outs = []
    for name in ("a", "b"):
        res = runner.invoke(
            app,
            [
                "select",
                str(src),
                "-o",
                str(tmp_path / f"{name}.jsonl"),
                "--budget",
                "20",
                "--seed",
                "4",
                "--manifest",
                str(tmp_path / f"{name}.json"),
                "--ledger",
                str(tmp_path / f"{name}.ledger.jsonl"),
                *HASH,
            ],
        )
        assert res.exit_code == 0, res.output
        outs.append((tmp_path / f"{name}.jsonl").read_bytes())
    assert outs[0] == outs[1]
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    picked = read_jsonl(outs[0])
    assert len(picked) == 20 and all("qdc_select_reason" in r and r["qdc_select_round"] == 0 for r in picked)
    assert "qdc_embedding" not in picked[0]
    manifest = orjson.loads((tmp_path / "a.json").read_bytes())
    assert manifest["strategy"] == "facility" and manifest["seed"] == 4 and manifest["selected"] == 20
    assert manifest["strategy_log"]["objective"] > 0 and manifest["strategy_log"]["neighbours"] >= 1
    ledger = read_jsonl((tmp_path / "a.ledger.jsonl").read_bytes())
    assert len(ledger) == 113 and sum(r["selected"] for r in ledger) == 20
    assert {r["reason"].split(" ")[0] for r in ledger if not r["selected"]} >= {"duplicate", "not"}


def test_select_to_stdout_with_fraction_and_group_quota(tmp_path: Path, runner: CliRunner) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rows())
    res = runner.invoke(
        app,
        [
            "-q",
            "select",
            str(src),
            "--budget",
            "0.1",
            "--strategy",
            "random",
            "--set",
            "group_field=task",
            "--set",
            "quota=equal",
            *HASH,
        ],
    )
    assert res.exit_code == 0, res.output
    picked = read_jsonl(res.stdout)
    assert len(picked) == 11
    tasks = [r["task"] for r in picked]
    assert min(tasks.count(t) for t in set(tasks)) >= 2 and len(set(tasks)) == 4


def test_select_semantic_dedup_option(tmp_path: Path, runner: CliRunner) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rows())
    res = runner.invoke(
        app,
        [
            "-q",
            "select",
            str(src),
            "-o",
            str(tmp_path / "o.jsonl"),
            "--budget",
            "20",
            "--dedup",
            "semantic",
            "--set",
            "dedup_eps=0.3",
            "--manifest",
            str(tmp_path / "m.json"),
            *HASH,
        ],
    )
    assert res.exit_code == 0, res.output
    manifest = orjson.loads((tmp_path / "m.json").read_bytes())
    assert manifest["dedup"] == "qdc.dedup exact+minhash+semantic (eps 0.3)"
    assert manifest["config"]["dedup_eps"] == 0.3 and manifest["selected"] == 20
    bad = runner.invoke(app, ["select", str(src), "--budget", "5", "--set", "dedup_eps=1.5", *HASH])
    assert bad.exit_code == 2 and "dedup_eps" in bad.output


def test_select_json_summary_and_score_expression(tmp_path: Path, runner: CliRunner) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rows())
    res = runner.invoke(
        app,
        [
            "select",
            str(src),
            "-o",
            str(tmp_path / "o.jsonl"),
            "--budget",
            "5",
            "--strategy",
            "top",
            "--score",
            "1 - qdc_quality",
            "--json",
            *HASH,
        ],
    )
    assert res.exit_code == 0, res.output
    summary = orjson.loads(res.stdout)
    assert summary["selected"] == 5 and summary["mean_score_selected"] > 0.8
    # Every row not selected is counted under its ledger reason, in the summary as in the manifest.
    assert sum(summary["not_selected"].values()) == summary["rows_in"] - 5


def test_select_usage_errors(tmp_path: Path, runner: CliRunner) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rows())
    bad = [
        ["--budget", "ten"],
        ["--strategy", "magic", "--budget", "3"],
        ["--budget", "3", "--score", "qdc_quality +"],
        ["--budget", "3", "--strategy", "top", "--score", "__import__('os')"],
        [],
    ]
    for extra in bad:
        res = runner.invoke(app, ["select", str(src), "-o", str(tmp_path / "o.jsonl"), *extra, *HASH])
        assert res.exit_code == 2, (extra, res.output)
        assert "Traceback" not in res.output
    assert not (tmp_path / "o.jsonl").exists()


def test_select_help_has_example(runner: CliRunner) -> None:
    res = runner.invoke(app, ["select", "--help"])
    assert res.exit_code == 0 and "Example" in res.stdout and "--min-quality" in res.stdout
