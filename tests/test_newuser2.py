"""Fixes from the second newcomer audit (real-data runs of check, report, probe, run): each test fails
without its fix."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from conftest import make_frame
from typer.testing import CliRunner

from qdc.cli import app
from qdc.embed import EmbedConfig
from qdc.pipeline.stage import StageContext
from qdc.report import ReportOptions, build_report, render_html


def test_check_bad_rows_names_the_first_bad_line(tmp_path: Path) -> None:
    """The bad_rows check said 'unreadable lines (quarantined)' although qdc check writes no quarantine file."""
    src = tmp_path / "d.jsonl"
    good = [json.dumps({"id": f"r{i}", "text": f"row number {i} here"}) for i in range(4)]
    src.write_text("\n".join([*good[:2], '{"id": "x", "text": ', *good[2:], "[1, 2]"]) + "\n")
    res = CliRunner().invoke(app, ["check", str(src), "--json"])
    assert res.exit_code == 3
    bad = json.loads(res.stdout)["checks"][0]
    assert bad["name"] == "bad_rows" and bad["value"] == 2 and not bad["passed"]
    assert bad["detail"].startswith(f"first at {src}:3: ") and "JSON" in bad["detail"]
    assert "quarantined" not in bad["detail"]
    assert not list(tmp_path.glob("*bad-rows*"))


def test_report_tradeoff_cell_says_when_a_strategy_picked_fewer_rows() -> None:
    """DEITA can stop below the budget; the table showed its figures under 'N rows' as if it had N."""
    rows = [
        {"id": f"r{i}", "instruction": f"Explain topic {i % 5} case {i}.", "output": f"Answer {i}."} for i in range(24)
    ]
    ctx = StageContext(seed=1, embed=EmbedConfig(model="hash:64", cache=False))
    report = build_report(make_frame(rows), ctx, None, ReportOptions(budgets=(0.5,), strategies=("random",)))
    point = report["tradeoff"]["curves"]["random"][0]
    assert point["rows"] == point["budget"] == 12
    assert "(12 rows)" not in render_html(report)
    short = copy.deepcopy(report)
    short["tradeoff"]["curves"]["random"][0]["rows"] = 7
    assert "(7 rows)</td>" in render_html(short)


def test_probe_dimension_mismatch_names_each_input_and_the_fix() -> None:
    """The message said only 'different dimensions': not which file, which size, or what to do."""
    import pytest

    from qdc.embed import ensure_embeddings
    from qdc.errors import ConfigError
    from qdc.probe import ProbeConfig, probe_frames

    rows = [{"id": f"r{i}", "text": f"sample text {i} about topic {i % 3}", "label": i % 2} for i in range(12)]
    pool, _ = ensure_embeddings(make_frame(rows), EmbedConfig(model="hash:64", cache=False))
    test = make_frame([{**r, "id": f"t{i}"} for i, r in enumerate(rows)])
    names = ("sel.jsonl", "pool.parquet", "test.jsonl")
    with pytest.raises(ConfigError) as err:
        probe_frames(pool.head(4), pool, test, ProbeConfig(seeds=2), EmbedConfig(model="hash:32", cache=False), names)
    msg = str(err.value)
    assert "pool.parquet: 64-d stored qdc_embedding" in msg and "test.jsonl: 32-d --model hash:32" in msg
    assert "--model that made" in msg


def test_config_errors_name_the_key_written_and_the_nested_section_keys() -> None:
    """'select.facility.tail_shar' listed select's top-level keys; a bad budget was reported as 'budget.int'."""
    import pytest

    from qdc.config import validate_config
    from qdc.errors import ConfigError
    from qdc.select import SelectConfig

    with pytest.raises(ConfigError) as err:
        validate_config(SelectConfig, {"facility": {"tail_shar": 0.3}}, "c.yaml")
    msg = str(err.value)
    assert "did you mean 'tail_share'?" in msg and "allowed: epsilon," in msg and "budget_tokens" not in msg
    with pytest.raises(ConfigError) as err:
        validate_config(SelectConfig, {"budget": "abc"}, "c.yaml")
    assert "'budget': Input should be a valid integer or a valid number (got 'abc')" in str(err.value)
    with pytest.raises(ConfigError) as err:
        validate_config(SelectConfig, {"weights": {"quality": "x"}}, "c.yaml")
    assert "'weights.quality': Input should be a valid number" in str(err.value)


def test_stream_estimate_batch_is_capped_at_the_input_rows() -> None:
    """2,000 rows were estimated with a 100,000-row batch (851 MiB), so --max-memory refused small inputs."""
    from qdc.scale import memory

    def make(b: int) -> memory.Estimate:
        return memory.embed_estimate(2_000, 110.0, b, "hash:64", 2)

    est, fitted = memory.plan(make, 100_000, None)
    assert est.batch == make(2_000).batch < make(100_000).batch // 10
    assert fitted == 100_000  # the batch the run asks for is unchanged; the input simply has fewer rows
    est, fitted = memory.plan(make, 100_000, make(2_000).memory)
    assert fitted == 100_000 and est.memory == make(2_000).memory


def test_select_says_why_nothing_is_eligible(tmp_path: Path) -> None:
    """--min-quality above every row said '--budget 3 is more than the 0 eligible rows: all of them are selected'."""
    src = tmp_path / "d.jsonl"
    src.write_text(
        "".join(json.dumps({"id": f"r{i}", "text": f"A plain sentence number {i}."}) + "\n" for i in range(8))
    )
    out = tmp_path / "s.jsonl"
    base = ["select", str(src), "--model", "hash:64", "--no-cache", "--budget", "3", "-o", str(out)]
    res = CliRunner().invoke(app, [*base, "--min-quality", "1.5"])
    assert res.exit_code == 0 and out.read_text() == ""
    assert "no row is eligible (8 below min quality; highest qdc_quality" in res.stderr
    assert res.stderr.count("no row is eligible") == 1 and "all of them are selected" not in res.stderr
    ok = CliRunner().invoke(app, base)
    assert ok.exit_code == 0 and "no row is eligible" not in ok.stderr


def test_score_expression_errors_suggest_and_stay_short() -> None:
    """A typo got no suggestion; a text column dumped every row's text into the error."""
    import polars as pl
    import pytest

    from qdc.errors import ConfigError
    from qdc.select.eligible import evaluate

    df = pl.DataFrame({"qdc_quality": [0.2, 0.9], "label": [1, 0], "text": ["x" * 500, "y" * 500]})
    for expr, want in (("qdc_qualty", "did you mean 'qdc_quality'?"), ("qualty", "did you mean 'quality'?")):
        with pytest.raises(ConfigError) as err:
            evaluate(df, expr, "--score")
        assert want in str(err.value)
    with pytest.raises(ConfigError) as err:
        evaluate(df, "text + 1", "--score")
    assert str(err.value) == "--score 'text + 1': column 'text' holds String values, not numbers"
    assert evaluate(df, "quality + label", "--score")[1].tolist() == [1.2, 0.9]


def test_check_vendi_detail_names_stored_vectors(tmp_path: Path) -> None:
    """Rows carrying qdc_embedding are measured with those vectors; the detail said 'model <--model>'."""
    from qdc.embed import ensure_embeddings
    from qdc.io import write_records

    rows = [{"id": f"r{i}", "text": f"sample text {i} about topic {i % 4}"} for i in range(10)]
    df, _ = ensure_embeddings(make_frame(rows), EmbedConfig(model="hash:64", cache=False))
    src = tmp_path / "e.parquet"
    write_records(df, str(src))
    res = CliRunner().invoke(app, ["check", str(src), "--min-vendi", "1", "--model", "hash:32", "--json"])
    vendi = next(c for c in json.loads(res.stdout)["checks"] if c["name"] == "vendi")
    assert vendi["detail"] == "stored qdc_embedding (64-d)"
    plain = tmp_path / "p.jsonl"
    plain.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = CliRunner().invoke(app, ["check", str(plain), "--min-vendi", "1", "--model", "hash:32", "--json"])
    assert next(c for c in json.loads(res.stdout)["checks"] if c["name"] == "vendi")["detail"] == "model hash:32"


def test_config_with_two_stages_of_a_section_is_refused(tmp_path: Path) -> None:
    """`qdc check --config` silently used the first of two check stages (the second's max_rows was dropped)."""
    cfg = tmp_path / "two.yaml"
    cfg.write_text("stages:\n  - check: {min_rows: 1}\n  - check: {max_rows: 2}\n")
    src = tmp_path / "d.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "text": f"row {i}"}) + "\n" for i in range(5)))
    res = CliRunner().invoke(app, ["check", str(src), "--config", str(cfg)])
    assert res.exit_code == 2 and "has 2 `check` stages (stages 1, 2)" in res.stderr
    cfg.write_text("stages:\n  - dedup: {}\n  - check: {max_rows: 2}\n")
    assert CliRunner().invoke(app, ["check", str(src), "--config", str(cfg)]).exit_code == 3


def test_run_json_reports_the_failed_check(tmp_path: Path) -> None:
    """`qdc run ci.yaml data -o x --json > check.json` left check.json empty when a gate failed."""
    cfg = tmp_path / "ci.yaml"
    cfg.write_text("stages:\n  - check: {min_rows: 100, max_mean_length: 1000}\n")
    src = tmp_path / "d.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "text": f"row {i}"}) + "\n" for i in range(5)))
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(app, ["run", str(cfg), str(src), "-o", str(out), "--no-workdir", "--json"])
    assert res.exit_code == 3 and not out.exists()
    doc = json.loads(res.stdout)
    assert doc["command"] == "run" and doc["passed"] is False and "stage 1 'check'" in doc["error"]
    by_name = {c["name"]: c for c in doc["checks"]}
    assert by_name["rows"]["value"] == 5 and not by_name["rows"]["passed"] and by_name["mean_length"]["passed"]


def test_check_dup_rate_detail_points_at_a_duplicate(tmp_path: Path) -> None:
    """The dup_rate check gave a count only; a CI log now shows one duplicate to look at."""
    src = tmp_path / "d.jsonl"
    texts = ["alpha beta gamma delta", "one two three four five", "alpha beta gamma delta", "six seven eight"]
    src.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    res = CliRunner().invoke(app, ["check", str(src), "--max-dup-rate", "0", "--json"])
    assert res.exit_code == 3
    dup = next(c for c in json.loads(res.stdout)["checks"] if c["name"] == "dup_rate")
    assert dup["value"] == 0.25 and dup["detail"].endswith(f"first: {src}:3 repeats r0")


def test_check_score_details_say_stored_or_scored_now(tmp_path: Path) -> None:
    """mean_quality / mean_complexity had no detail: a CI log could not tell upstream scores from fresh ones."""
    src = tmp_path / "d.jsonl"
    rows = [{"id": f"r{i}", "text": f"A full sentence about item {i}.", "qdc_quality": 0.5} for i in range(4)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = CliRunner().invoke(
        app, ["check", str(src), "--min-mean-quality", "0.4", "--min-mean-complexity", "0", "--json"]
    )
    by_name = {c["name"]: c for c in json.loads(res.stdout)["checks"]}
    assert by_name["mean_quality"]["detail"] == "stored qdc_quality" and by_name["mean_quality"]["value"] == 0.5
    assert by_name["mean_complexity"]["detail"] == "scored now (score-complexity defaults)"


def test_check_gives_the_read_notices(tmp_path: Path) -> None:
    """qdc check read rows without the notices other commands give (dpo_en_demo: chats with no answer)."""
    src = tmp_path / "c.jsonl"
    rows = [{"id": f"r{i}", "messages": [{"role": "user", "content": f"Question number {i}?"}]} for i in range(3)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = CliRunner().invoke(app, ["check", str(src), "--min-rows", "1"])
    assert res.exit_code == 0 and "3 of 3 rows have no assistant turn" in res.stderr


def test_dry_run_plan_shows_io_settings(tmp_path: Path) -> None:
    """`--set io.text_field=...` changed how rows are read but the --dry-run plan did not show it."""
    cfg = tmp_path / "p.yaml"
    cfg.write_text("stages:\n  - check: {min_rows: 1}\n")
    src = tmp_path / "d.jsonl"
    src.write_text(json.dumps({"id": "a", "text": "x", "body": "y"}) + "\n")
    base = ["run", str(cfg), str(src), "-o", str(tmp_path / "o.jsonl"), "--dry-run"]
    res = CliRunner().invoke(app, [*base, "--set", "io.text_field=body", "--set", "io.roles=[user]"])
    assert res.exit_code == 0 and "io:       text_field=body, roles=user" in res.stderr
    assert "io:" not in CliRunner().invoke(app, base).stderr


def test_report_unknown_strategy_is_a_usage_error() -> None:
    """--strategies with a typo was 'internal error: ValidationError' (exit 1) after the report was computed."""
    import pytest

    from qdc.errors import ConfigError
    from qdc.report.inputs import options

    with pytest.raises(ConfigError) as err:
        options("0.5", "random,nosuch")
    assert "expected some of" in str(err.value) and "kcenter" in str(err.value)
    assert options("0.5", "random, kmq").strategies == ("random", "kmq")


def test_report_model_names_stored_vectors() -> None:
    """Rows that carry qdc_embedding are measured with it; the page header said 'model default' (the setting)."""
    from qdc.embed import ensure_embeddings

    rows = [
        {"id": f"r{i}", "instruction": f"Explain topic {i % 5} case {i}.", "output": f"Answer {i}."} for i in range(16)
    ]
    opts = ReportOptions(budgets=(0.5,), strategies=("random",))
    carried, _ = ensure_embeddings(make_frame(rows), EmbedConfig(model="hash:64", cache=False))
    ctx = StageContext(seed=1, embed=EmbedConfig(model="hash:32", cache=False))
    report = build_report(carried, ctx, None, opts)
    assert report["model"] == {"name": "stored qdc_embedding (64-d)", "identity": None}
    assert "model stored qdc_embedding (64-d)" in render_html(report)
    assert build_report(make_frame(rows), ctx, None, opts)["model"]["name"] == "hash:32"


def test_check_nested_options_are_checked_with_the_config(tmp_path: Path) -> None:
    """check {dedup: {method: ...}} passed --dry-run ('config valid') and failed only after the data was read."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stages:\n  - check: {max_dup_rate: 0.1, dedup: {method: [exact]}}\n")
    src = tmp_path / "d.jsonl"
    src.write_text(json.dumps({"id": "a", "text": "x"}) + "\n")
    res = CliRunner().invoke(app, ["run", str(cfg), str(src), "-o", str(tmp_path / "o.jsonl"), "--dry-run"])
    assert res.exit_code == 2
    assert "stage 1 'check': dedup options: unknown key 'method' (did you mean 'methods'?" in res.stderr


def test_run_set_errors_do_not_blame_the_file_alone(tmp_path: Path) -> None:
    """A bad --set value in qdc run was reported as 'p.yaml: stage 1 ...', though the file's value was fine."""
    cfg = tmp_path / "p.yaml"
    cfg.write_text("stages:\n  - select: {budget: 4}\n")
    src = tmp_path / "d.jsonl"
    src.write_text(json.dumps({"id": "a", "text": "x"}) + "\n")
    base = ["run", str(cfg), str(src), "-o", str(tmp_path / "o.jsonl"), "--dry-run"]
    res = CliRunner().invoke(app, [*base, "--set", "select.budget=abc"])
    assert res.exit_code == 2 and f"{cfg} + --set: stage 1 'select': 'budget':" in res.stderr
    cfg.write_text("stages:\n  - select: {budget: abc}\n")
    res = CliRunner().invoke(app, base)
    assert res.exit_code == 2 and f"{cfg}: stage 1 'select': 'budget':" in res.stderr
