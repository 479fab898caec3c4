"""Issue 17, a newcomer's day: traps that were silent are errors or notices; the CLI's people-facing output.

Each test fails on the code before the fix (noted per test).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import orjson
import pytest

from qdc.cli import app, hoist_global_flags
from qdc.errors import ConfigError
from qdc.io import IOConfig, read_records

from .conftest import read_jsonl, write_jsonl

SHAREGPT = [
    {"conversations": [{"from": "human", "value": f"question {i}"}, {"from": "gpt", "value": f"answer {i} here"}]}
    for i in range(6)
]
ALPACA = [{"instruction": f"Do task {i}", "input": "", "output": f"Done with task {i}."} for i in range(5)]


# ------------------------------------------------------------------------------------------ silent traps


def test_roles_matching_no_message_is_an_error(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: every text empty, then dedup 'removed 5 of 6', exit 0."""
    src = write_jsonl(tmp_path / "sg.jsonl", SHAREGPT)
    res = runner.invoke(app, ["embed", str(src), "--roles", "bot,person", "--model", "hash:8"])
    assert res.exit_code == 2
    assert "matched no message" in res.stderr and "assistant, user" in res.stderr
    assert res.stdout == ""


def test_sharegpt_role_names_pick_the_turns_they_name(tmp_path: Path) -> None:
    """Before: `--roles human,gpt` matched nothing (rows' roles are read as user/assistant)."""
    src = write_jsonl(tmp_path / "sg.jsonl", SHAREGPT)
    df = read_records(src, IOConfig(roles=("human", "gpt")))
    assert df["__qdc_text"].to_list()[0] == "question 0\n\nanswer 0 here"
    only_gpt = read_records(src, IOConfig(roles=("gpt",)))
    assert only_gpt["__qdc_text"].to_list()[2] == "answer 2 here"


def test_a_role_that_matches_nothing_beside_one_that_does_is_a_notice(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write_jsonl(tmp_path / "sg.jsonl", SHAREGPT)
    res = runner.invoke(app, ["embed", str(src), "--roles", "system,user", "--model", "hash:8", "-o", "-"])
    assert res.exit_code == 0, res.stderr
    assert "system matched no message" in res.stderr
    assert len(read_jsonl(res.stdout)) == 6


def test_all_empty_text_from_an_option_is_an_error(tmp_path: Path) -> None:
    rows = [{"id": i, "text": f"t{i}", "note": ""} for i in range(4)]
    src = write_jsonl(tmp_path / "e.jsonl", rows)
    with pytest.raises(Exception, match="text of every row"):
        read_records(src, IOConfig(text_field="note"))


def test_id_field_in_no_row_is_an_error_and_in_some_rows_a_notice(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: both silently hashed ids."""
    rows = [{"uid": f"u{i}", "text": f"row {i}"} if i % 2 else {"text": f"row {i}"} for i in range(6)]
    src = write_jsonl(tmp_path / "m.jsonl", rows)
    res = runner.invoke(app, ["embed", str(src), "--id-field", "key", "--model", "hash:8"])
    assert res.exit_code == 2 and "--id-field key: no row has this field" in res.stderr
    res = runner.invoke(app, ["embed", str(src), "--id-field", "uid", "--model", "hash:8", "-o", "-"])
    assert res.exit_code == 0, res.stderr
    assert "3 of 6 rows have no 'uid' field" in res.stderr
    ids = [r.get("uid", r.get("qdc_id")) for r in read_jsonl(res.stdout)]
    assert len(set(ids)) == 6


# --------------------------------------------------------------------------------------- inputs


def test_a_json_array_file_reads_like_jsonl(tmp_path: Path) -> None:
    """Before: 'malformed JSON' at line 1 (how Alpaca ships: one JSON array, indented)."""
    arr = tmp_path / "alpaca.json"
    arr.write_text(json.dumps(ALPACA, indent=2))
    lines = write_jsonl(tmp_path / "alpaca.jsonl", ALPACA)
    a, b = read_records(arr), read_records(lines)
    assert a["__qdc_text"].to_list() == b["__qdc_text"].to_list()
    assert a["__qdc_id"].to_list() == b["__qdc_id"].to_list()
    assert a["__qdc_line"].to_list() == [1, 2, 3, 4, 5]


def test_a_json_array_of_non_objects_names_the_element(tmp_path: Path) -> None:
    arr = tmp_path / "bad.json"
    arr.write_text(json.dumps([{"text": "a"}, 5]))
    with pytest.raises(Exception, match=r"bad.json:2: expected a JSON object"):
        read_records(arr)


def test_a_folder_and_a_glob_read_every_data_file(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: 'is a folder, expected a file' / 'no such file'."""
    d = tmp_path / "d"
    d.mkdir()
    write_jsonl(d / "a.jsonl", SHAREGPT)
    (d / "b.json").write_text(json.dumps(ALPACA))
    (d / "notes.txt").write_text("not data")
    df = read_records(d)
    assert df.height == len(SHAREGPT) + len(ALPACA)
    assert set(df["__qdc_src"].cast(str).to_list()) == {str(d / "a.jsonl"), str(d / "b.json")}
    res = runner.invoke(app, ["embed", str(d / "*.json*"), "--model", "hash:8", "-o", "-"])
    assert res.exit_code == 0, res.stderr
    assert len(read_jsonl(res.stdout)) == 11
    res = runner.invoke(app, ["embed", str(tmp_path / "zz*.jsonl"), "--model", "hash:8"])
    assert res.exit_code == 1 and "no data file matches" in res.stderr


def test_ids_must_be_unique_across_the_files_of_a_folder(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    write_jsonl(d / "a.jsonl", [{"id": "x", "text": "one"}])
    write_jsonl(d / "b.jsonl", [{"id": "x", "text": "two"}])
    with pytest.raises(Exception, match="duplicate id 'x'"):
        read_records(d)


def test_template_accepts_backslash_escapes_typed_literally(tmp_path: Path) -> None:
    r"""Before: `--template '{instruction}\n\n{output}'` (single-quoted) put a backslash and an n in the text."""
    src = write_jsonl(tmp_path / "a.jsonl", ALPACA)
    df = read_records(src, IOConfig(template="{instruction}\\n\\n{output}\\t!"))
    assert df["__qdc_text"][0] == "Do task 0\n\nDone with task 0.\t!"
    assert IOConfig(template="{a}\\\\n").template == "{a}\\n"


# ---------------------------------------------------------------------------------- the command line


def test_quiet_after_the_command_silences_the_summary(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: 'No such option: -q' (exit 2)."""
    src = write_jsonl(tmp_path / "a.jsonl", ALPACA)
    out = tmp_path / "o.jsonl"
    loud = runner.invoke(app, ["embed", str(src), "-o", str(out), "--model", "hash:8"])
    assert loud.exit_code == 0 and "embedded 5 rows" in loud.stderr
    quiet = runner.invoke(app, ["embed", str(src), "-o", str(out), "--model", "hash:8", "-q"])
    assert quiet.exit_code == 0, quiet.stderr
    assert quiet.stderr == ""


def test_hoisting_stops_at_double_dash_and_leaves_other_commands_alone() -> None:
    cmds = {"embed": type("C", (), {"params": []})()}
    assert hoist_global_flags(["embed", "x", "-q"], cmds) == ["-q", "embed", "x"]
    assert hoist_global_flags(["embed", "--", "-q"], cmds) == ["embed", "--", "-q"]
    assert hoist_global_flags(["nosuch", "-q"], cmds) == ["nosuch", "-q"]


def test_usage_errors_are_one_line(runner) -> None:  # type: ignore[no-untyped-def]
    """Before: a multi-line box."""
    res = runner.invoke(app, ["embed", "--nosuch"])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: No such option: --nosuch")
    assert "qdc embed -h" in lines[0]
    res = runner.invoke(app, ["embedd"])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1 and "embed" in res.stderr


def test_help_shows_no_bool_type_for_flags(runner) -> None:  # type: ignore[no-untyped-def]
    res = runner.invoke(app, ["embed", "--help"])
    assert res.exit_code == 0
    assert "--no-cache" in res.stdout and "<bool>" not in res.stdout
    assert "<int>" in res.stdout or "INTEGER" in res.stdout  # options with values keep their type


def test_log_json_writes_errors_as_json_lines(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = runner.invoke(app, ["--log-json", "embed", str(tmp_path / "missing.jsonl"), "--model", "hash:8"])
    assert res.exit_code == 1
    line = json.loads(res.stderr.strip())
    assert line["level"] == "error" and "no such file" in line["message"]


def test_every_json_summary_has_the_envelope(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: `rows` here, `n` there, no version."""
    from qdc import __version__

    src = write_jsonl(tmp_path / "a.jsonl", ALPACA)
    res = runner.invoke(app, ["embed", str(src), "-o", str(tmp_path / "o.jsonl"), "--model", "hash:8", "--json"])
    doc = json.loads(res.stdout)
    assert doc["qdc"] == __version__ and doc["json_version"] == 1 and doc["command"] == "embed"
    assert doc["rows"] == 5  # the command's own keys are kept
    res = runner.invoke(app, ["strategies", "--json"])
    doc = json.loads(res.stdout)
    assert doc["command"] == "strategies" and any(s["default"] for s in doc["strategies"])


def test_json_envelope_counts_rows_in_and_out(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: rows read/written were `rows_in`/`rows_kept` in dedup, `rows_in`/`selected` in select, `rows` in
    embed, `n` in diversity; now every document also has `rows_in` and, where rows are written, `rows_out`."""
    rows = [{"id": str(i), "text": f"row number {i % 6} of the set"} for i in range(9)]  # 3 exact repeats
    src = write_jsonl(tmp_path / "a.jsonl", rows)
    cases = {
        "dedup": (["dedup", str(src), "--method", "exact"], 9, 6),
        "select": (["select", str(src), "-s", "random", "-b", "4", "--seed", "1"], 9, 4),
        "embed": (["embed", str(src), "--model", "hash:8"], 9, 9),
        "score-complexity": (["score-complexity", str(src)], 9, 9),
        "check": (["check", str(src)], 9, None),
        "diversity": (["diversity", str(src), "--model", "hash:8"], 9, None),
    }
    for command, (argv, rows_in, rows_out) in cases.items():
        out = tmp_path / f"{command}.jsonl"
        writes = rows_out is not None
        res = runner.invoke(app, [*argv, *(["-o", str(out)] if writes else []), "--json"])
        assert res.exit_code == 0, (command, res.output)
        doc = json.loads(res.stdout)
        assert doc["command"] == command
        assert doc["rows_in"] == rows_in, (command, doc)
        if writes:
            assert doc["rows_out"] == rows_out == len(read_jsonl(out.read_bytes())), (command, doc)
        else:
            assert "rows_out" not in doc, (command, doc)
        if command == "dedup":
            assert doc["rows_kept"] == 6 and doc["rows_removed"] == 3  # the old keys stay
        if command == "diversity":
            assert doc["n"] == 9


# ------------------------------------------------------------------------------------------ qdc run


def _pipeline(tmp_path: Path, body: str) -> Path:
    cfg = tmp_path / "p.yaml"
    cfg.write_text('embed: {model: "hash:16"}\n' + body)
    return cfg


def test_config_keys_accept_the_flag_names(tmp_path: Path) -> None:
    """Before: `dedup: {method: exact}` -> unknown key 'method' (the key was `methods`)."""
    from qdc.pipeline import load_pipeline

    cfg = _pipeline(tmp_path, "stages:\n  - dedup: {method: exact}\n  - select: {budget-tokens: 100}\n")
    p = load_pipeline(cfg)
    assert p.stages[0].config.methods == ("exact",)  # type: ignore[attr-defined]
    assert p.stages[1].config.budget_tokens == 100  # type: ignore[attr-defined]
    both = _pipeline(tmp_path, "stages:\n  - dedup: {method: exact, methods: [minhash]}\n")
    with pytest.raises(ConfigError, match="name the same option"):
        load_pipeline(both)


def test_run_dry_run_prints_the_plan_and_writes_nothing(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write_jsonl(tmp_path / "a.jsonl", ALPACA)
    cfg = _pipeline(tmp_path, "stages:\n  - embed\n  - select: {budget: 2, strategy: random}\n")
    out = tmp_path / "o.jsonl"
    res = runner.invoke(app, ["run", str(cfg), str(src), "-o", str(out), "--dry-run", "--workdir", str(tmp_path / "w")])
    assert res.exit_code == 0, res.stderr
    assert "2 select: budget=2, strategy=random" in res.stderr and f"{out}.removed.jsonl" in res.stderr
    assert res.stdout == "" and not out.exists() and not (tmp_path / "w").exists()
    bad = _pipeline(tmp_path, "stages:\n  - select: {budgett: 2}\n")
    assert runner.invoke(app, ["run", str(bad), str(src), "--dry-run"]).exit_code == 2


def test_run_table_fits_80_columns_notes_sorted_ledger_without_embeddings(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write_jsonl(tmp_path / "a.jsonl", ALPACA * 2)  # 5 exact duplicates
    src.write_bytes(b"".join(orjson.dumps({**r, "id": i}) + b"\n" for i, r in enumerate(ALPACA * 2)))
    cfg = _pipeline(tmp_path, "stages:\n  - embed\n  - dedup: {method: exact}\n  - score-complexity\n")
    out = tmp_path / "o.jsonl"
    args = ["run", str(cfg), str(src), "-o", str(out), "--workdir", str(tmp_path / "w")]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    table = [line for line in first.stderr.splitlines() if " ran " in line or "removed " in line]
    assert len(table) == 4 and all(len(line) <= 80 for line in table), table
    notes = [line for line in first.stderr.splitlines() if line.strip().startswith("3 score-complexity:")]
    assert notes and notes[0].index("mean=") < notes[0].index("scorer=")
    again = runner.invoke(app, args)
    notes_again = [line for line in again.stderr.splitlines() if line.strip().startswith("3 score-complexity:")]
    assert "cached" in again.stderr and notes_again == notes
    ledger = read_jsonl((tmp_path / "o.jsonl.removed.jsonl").read_bytes())
    assert len(ledger) == 5 and all("qdc_embedding" not in r and r["qdc_removed_by"] for r in ledger)
    assert all("qdc_embedding" in r for r in read_jsonl(out.read_bytes()))


def test_run_to_stdout_says_where_side_files_go(runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    src = write_jsonl(tmp_path / "a.jsonl", ALPACA)
    cfg = _pipeline(tmp_path, "stages:\n  - embed\n")
    res = runner.invoke(app, ["run", str(cfg), str(src), "--no-workdir"])
    assert res.exit_code == 0, res.stderr
    assert "ledger to qdc.removed.jsonl" in res.stderr and (tmp_path / "qdc.removed.jsonl").exists()
    assert len(read_jsonl(res.stdout)) == 5


def test_clean_removes_a_work_dir_and_refuses_other_folders(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write_jsonl(tmp_path / "a.jsonl", ALPACA)
    cfg = _pipeline(tmp_path, "stages:\n  - embed\n")
    wd = tmp_path / "w"
    res = runner.invoke(app, ["run", str(cfg), str(src), "-o", str(tmp_path / "o.jsonl"), "--workdir", str(wd)])
    assert res.exit_code == 0 and (wd / "stages").is_dir()
    res = runner.invoke(app, ["clean", str(wd)])
    assert res.exit_code == 0 and "removed" in res.stderr and not wd.exists()
    assert re.search(r"\d+ files, [\d.]+ (?:B|KiB|MiB)", res.stderr)  # one byte format: qdc.units.format_bytes
    other = tmp_path / "data"
    other.mkdir()
    (other / "keep.jsonl").write_text("{}\n")
    res = runner.invoke(app, ["clean", str(other)])
    assert res.exit_code == 2 and (other / "keep.jsonl").exists()


def test_stages_and_strategies_list_what_configs_accept(runner) -> None:  # type: ignore[no-untyped-def]
    from qdc.pipeline import STAGES
    from qdc.select.defaults import STRATEGIES

    res = runner.invoke(app, ["stages"])
    assert res.exit_code == 0 and all(name in res.stdout for name in STAGES)
    assert "diversity" in res.stdout
    res = runner.invoke(app, ["strategies"])
    listed = [line.split(maxsplit=1) for line in res.stdout.splitlines() if line.strip()]
    assert [name for name, _ in listed] == list(STRATEGIES) and all(summary.strip() for _, summary in listed)


def test_run_drop_qdc_and_columns_trim_the_output_only(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write_jsonl(tmp_path / "a.jsonl", ALPACA)
    cfg = _pipeline(tmp_path, "stages:\n  - embed\n  - score-complexity\n")
    out = tmp_path / "o.jsonl"
    base = ["run", str(cfg), str(src), "-o", str(out), "--workdir", str(tmp_path / "w")]
    res = runner.invoke(app, [*base, "--drop-qdc"])
    assert res.exit_code == 0, res.stderr
    rows = read_jsonl(out.read_bytes())
    assert rows == ALPACA  # the input rows as they were
    res = runner.invoke(app, [*base, "--columns", "qdc_complexity"])
    assert res.exit_code == 0, res.stderr
    assert {k for r in read_jsonl(out.read_bytes()) for k in r if k.startswith("qdc_")} == {"qdc_complexity"}
    res = runner.invoke(app, [*base, "--columns", "qdc_nosuch"])
    assert res.exit_code == 2 and "qdc_complexity" in res.stderr


def test_chart_ticks_are_round_and_legends_sit_outside_the_plot() -> None:
    import re

    from qdc.report import svg

    assert svg.nice_ticks(-0.05, 1.05) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(0, 847) == [0.0, 200.0, 400.0, 600.0, 800.0]
    chart = svg.lines([("random", [(0.173, 0.5, "a"), (3.46, 0.61, "b")])], "t", "x", "y")
    ticks = re.findall(r'class="tick"[^>]*text-anchor="end">([^<]+)</text>', chart)  # the y axis
    values = [float(t) for t in ticks]
    steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
    assert len(steps) == 1 and len(values) >= 3  # evenly spaced
    (step,) = steps
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5) and all(abs(v / step - round(v / step)) < 1e-6 for v in values)
    assert "0.173" not in chart  # the old first x tick: the data's own minimum
    xs = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', chart)]
    legend_x = [float(x) for x in re.findall(r'<rect x="([\d.]+)"[^>]*width="10"', chart)]
    assert legend_x and min(legend_x) > max(xs)  # right of every point
    assert f'viewBox="0 0 {svg.W + svg.LEGEND_W} {svg.H}"' in chart


def test_report_shows_progress_from_its_first_step_and_quiet_silences_it(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from qdc.embed import EmbedConfig
    from qdc.pipeline.stage import StageContext
    from qdc.progress import use_reporter
    from qdc.report import ReportOptions, build_report

    seen: list[tuple[int, int | None]] = []

    class Rec:
        def progress(self, task: str, done: int, total: int | None) -> None:
            if task == "report":
                seen.append((done, total))

        def notice(self, message: str) -> None:
            pass

    rows = [{"id": i, "text": f"row {i} about topic {i % 5} with words"} for i in range(40)]
    df = read_records(write_jsonl(tmp_path / "a.jsonl", rows))
    ctx = StageContext(seed=0, embed=EmbedConfig(model="hash:16", cache=False))
    with use_reporter(Rec()):
        build_report(df, ctx, None, ReportOptions(budgets=(0.5,), strategies=("random", "top")))
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1] and len(seen) >= 7
    res = runner.invoke(
        app, ["report", str(tmp_path / "a.jsonl"), "-o", str(tmp_path / "r.html"), "--model", "hash:16", "-q"]
    )
    assert res.exit_code == 0, res.stderr
    assert res.stderr == "" and (tmp_path / "r.html").exists()


def test_heartbeat_says_a_silent_command_works_and_stops_at_close(capsys: pytest.CaptureFixture[str]) -> None:
    """Before: score-quality on 14,131 rows ran 15 s with nothing on stderr."""
    from qdc.cli._common import RichReporter

    r = RichReporter(quiet=False)
    r.beat_name = "score-quality"
    r.beat()  # what the timer calls after HEARTBEAT_S (stderr is not a terminal here: a plain line)
    assert "qdc: score-quality: working" in capsys.readouterr().err
    r.beat()  # within 30 s of the last line: nothing more
    assert capsys.readouterr().err == ""
    r.close()
    r.last_line = -100.0
    r.beat()  # after close: silent
    assert capsys.readouterr().err == ""
    quiet = RichReporter(quiet=True)
    quiet.start_heartbeat("x")
    assert quiet.timer is None


def test_a_json_output_is_one_json_array_that_reads_back(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: `-o picked.json` wrote JSON lines into a .json file, which `json.load` refuses."""
    import gzip

    src = tmp_path / "alpaca.json"
    src.write_text(json.dumps(ALPACA))
    out = tmp_path / "o.json"
    res = runner.invoke(app, ["embed", str(src), "-o", str(out), "--model", "hash:8"])
    assert res.exit_code == 0, res.stderr
    rows = json.loads(out.read_text())
    assert [{k: v for k, v in r.items() if not k.startswith("qdc_")} for r in rows] == ALPACA
    assert read_records(out).height == len(ALPACA)
    gz = tmp_path / "o.json.gz"
    assert runner.invoke(app, ["embed", str(src), "-o", str(gz), "--model", "hash:8"]).exit_code == 0
    assert len(json.loads(gzip.decompress(gz.read_bytes()))) == len(ALPACA)
    cfg = _pipeline(tmp_path, "stages:\n  - embed\n")
    res = runner.invoke(app, ["run", str(cfg), str(src), "-o", str(out), "--removed", str(tmp_path / "l.json")])
    assert res.exit_code == 0, res.stderr
    assert json.loads((tmp_path / "l.json").read_text()) == []
    assert len(json.loads(out.read_text())) == len(ALPACA)


def test_report_names_the_signal_behind_junk_scores(tmp_path: Path) -> None:
    """Issue 12 item 4 (asked of the report): the report never read qdc_q_reason."""
    from qdc.embed import EmbedConfig
    from qdc.pipeline.stage import StageContext
    from qdc.report import ReportOptions, build_report, render_html

    good = [
        {"instruction": f"Explain topic {i} in two sentences.", "output": f"Topic {i} is a field of study. " * 3}
        for i in range(20)
    ]
    bad = [{"instruction": f"Explain topic {i}.", "output": ""} for i in range(20, 26)]
    df = read_records(write_jsonl(tmp_path / "a.jsonl", good + bad))
    ctx = StageContext(seed=0, embed=EmbedConfig(model="hash:16", cache=False))
    data = build_report(df, ctx, None, ReportOptions(budgets=(0.5,), strategies=("random",)))
    junk = data["junk"]
    assert junk["rows"] >= 6 and junk["reasons"] and sum(junk["reasons"].values()) == junk["rows"]
    assert junk["reasons"].get("empty", 0) >= 6
    assert junk["lowest"][0]["where"].startswith(str(tmp_path / "a.jsonl") + ":")
    assert junk["lowest"][0]["quality"] <= min(r["quality"] for r in junk["lowest"])
    page = render_html(data)
    assert 'id="junk"' in page and "empty" in page


def test_several_inputs_read_as_one_dataset_in_order(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": "a1", "text": "one"}, {"id": "a2", "text": "two"}])
    b = tmp_path / "b.json"
    b.write_text(json.dumps([{"id": "b1", "text": "three"}]))
    df = read_records([a, b])
    assert df["__qdc_id"].to_list() == ["a1", "a2", "b1"]
    write_jsonl(tmp_path / "c.jsonl", [{"id": "a1", "text": "again"}])
    with pytest.raises(Exception, match="duplicate id 'a1'"):
        read_records([a, tmp_path / "c.jsonl"])


def test_text_field_naming_chat_turns_reads_them_as_chat(tmp_path: Path) -> None:
    """Before: '--text-field conversations' was 'field is a list, expected a string' on line 1."""
    rows = [{"id": i, "dialog": r["conversations"]} for i, r in enumerate(SHAREGPT)]
    src = write_jsonl(tmp_path / "d.jsonl", rows)
    df = read_records(src, IOConfig(text_field="dialog", roles=("gpt",)))
    assert df["__qdc_text"].to_list()[1] == "answer 1 here"
    with pytest.raises(Exception, match="expected a string"):
        read_records(write_jsonl(tmp_path / "n.jsonl", [{"id": 1, "dialog": [1, 2]}]), IOConfig(text_field="dialog"))


def test_run_notes_read_the_same_fresh_and_cached() -> None:
    from qdc.pipeline.report import stage_notes as _notes

    fresh = {"mean": 0.964917, "model": "hash:256", "rows": 7, "ok": True, "size": "3.4 MiB", "more": {"a": 1}}
    cached = {**fresh, "mean": "0.964917"}  # a record may keep a number as text
    assert _notes(fresh) == _notes(cached) == "mean=0.9649, model=hash:256, ok=True, rows=7, size=3.4 MiB"
