"""A new user's run on real-looking rows: what the help and the messages promise is what qdc does.

Each test fails on the code before its fix (noted per test).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qdc.cli import app
from qdc.cli._common import State

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


def test_a_stage_flag_given_to_run_names_the_set_item_that_works(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Before: `qdc run cfg data --budget 4` was "No such option: --budget (Possible options: --set)": the
    # newcomer who just used --budget with `qdc select` was not told the key (select.budget).
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", **row} for i, row in enumerate(ALPACA)])
    cfg = tmp_path / "p.yaml"
    cfg.write_text("embed: {model: 'hash:64'}\nstages:\n  - embed\n  - cluster: {k: 2}\n  - select: {budget: 3}\n")
    out = tmp_path / "o.jsonl"
    cases = {
        "--budget": ["--set select.budget=VALUE"],
        "--text-field": ["--set io.text_field=VALUE"],
        "--on-bad-rows": ["--set io.on_bad_rows=VALUE"],
        "--model": ["--set embed.model=VALUE"],
        "--k": ["--set cluster.k=VALUE", "--set select.k=VALUE"],
    }
    for flag, items in cases.items():
        result = runner.invoke(app, ["run", str(cfg), str(src), "-o", str(out), flag, "4"])
        line = result.stderr.strip()
        assert result.exit_code == 2 and "\n" not in line, (flag, line)
        assert all(item in line for item in items), (flag, line)
        assert not out.exists()
    ok = runner.invoke(app, ["run", str(cfg), str(src), "-o", str(out), "--set", "select.budget=4", "-q"])
    assert ok.exit_code == 0, ok.stderr
    assert len(read_jsonl(out.read_bytes())) == 4
    typo = runner.invoke(app, ["run", str(cfg), str(src), "-o", str(out), "--budgett", "4"])
    assert typo.exit_code == 2 and "No such option: --budgett" in typo.stderr  # no key: click's own message


def test_a_judge_that_scores_no_row_fails_the_command(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Before: with the judge unreachable (a wrong --base-url), every row fell back to the heuristic score and
    # the command printed "scored 5 rows (judge): mean quality 0.79", exit 0, writing the file.
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = write_jsonl(tmp_path / "in.jsonl", ALPACA)
    out = tmp_path / "o.jsonl"
    args = ["score-quality", str(src), "-o", str(out), "--scorer", "judge", "--judge-model", "m"]
    args += ["--base-url", f"http://127.0.0.1:{port}/v1", "--set", "judge.max_retries=0", "--no-cache"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert f"127.0.0.1:{port}" in line and "none of the 6 rows" in line, line
    assert not out.exists()


def test_embed_does_not_credit_a_model_it_did_not_run(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Before: rows embedded with hash:64, then `qdc embed --model hash:32` kept the 64-d vectors (with a
    # notice) but its summary said "embedded 6 rows with hash:32 (64-d)" and --json gave model "hash:32".
    src = write_jsonl(tmp_path / "in.jsonl", ALPACA)
    first = tmp_path / "e.parquet"
    assert runner.invoke(app, ["embed", str(src), "-o", str(first), "--model", "hash:64", "-q"]).exit_code == 0
    again = runner.invoke(app, ["embed", str(first), "-o", str(tmp_path / "e2.parquet"), "--model", "hash:32"])
    assert again.exit_code == 0, again.stderr
    assert "with hash:32" not in again.stderr and "--force" in again.stderr, again.stderr
    doc = runner.invoke(app, ["embed", str(first), "-o", str(tmp_path / "e3.parquet"), "--model", "hash:32", "--json"])
    info = json.loads(doc.stdout)
    assert info["model"] is None and info["reused"] is True and info["dim"] == 64
    fresh = runner.invoke(app, ["embed", str(src), "-o", str(tmp_path / "e4.parquet"), "--model", "hash:32", "--json"])
    assert json.loads(fresh.stdout)["model"] == "hash:32" and json.loads(fresh.stdout)["reused"] is False


def test_train_quality_reports_a_cross_validated_accuracy(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Before: only "train accuracy 1.0", which a newcomer reads as the scorer's accuracy; on kto_en_demo
    # (200 rows) it said 1.0 while the held-out AUC was 0.57. Labels here are unrelated to the text.
    rows = [
        {
            "id": f"r{i}",
            "instruction": f"Describe item {i}.",
            "output": f"Item {i} is {'red' if i % 3 else 'a blue thing'}.",
        }
        for i in range(40)
    ]
    good = write_jsonl(tmp_path / "good.jsonl", rows[::2])
    bad = write_jsonl(tmp_path / "bad.jsonl", rows[1::2])
    args = [
        "train-quality",
        "--good",
        str(good),
        "--bad",
        str(bad),
        "-o",
        str(tmp_path / "m.json"),
        "--model",
        "hash:64",
    ]
    result = runner.invoke(app, [*args, "--json", "--no-cache"])
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert 0.0 <= info["cv_accuracy"] <= 1.0 and info["cv_folds"] == 5
    assert info["cv_accuracy"] < info["train_accuracy"]  # fit to noise: the held-out figure says so
    text = runner.invoke(app, [*args, "--no-cache"]).stderr
    assert "cross-validated" in text, text


def test_log_json_keeps_every_stderr_line_json(runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for flag in ("log_json", "quiet"):  # --log-json sets the CLI's global State: restore it afterwards
        monkeypatch.setattr(State, flag, getattr(State, flag))
    # Before: --log-json ("notices and errors on stderr as JSON lines, for CI logs") still printed each
    # command's summary table (select: 21 lines of box drawing) among the JSON lines.
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", **row} for i, row in enumerate(ALPACA)])
    cfg = tmp_path / "p.yaml"
    cfg.write_text("embed: {model: 'hash:64'}\nstages:\n  - embed\n  - select: {budget: 3}\n")
    runs = {
        "select": ["select", str(src), "-o", str(tmp_path / "s.jsonl"), "--budget", "3", "--model", "hash:64"],
        "run": ["run", str(cfg), str(src), "-o", str(tmp_path / "r.jsonl"), "--no-workdir"],
    }
    for name, args in runs.items():
        result = runner.invoke(app, ["--log-json", *args])
        assert result.exit_code == 0, result.stderr
        lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]  # each one JSON
        summaries = [d for d in lines if d["level"] == "summary"]
        assert len(summaries) == 1 and summaries[0]["command"] == name, lines
        assert summaries[0]["rows_out"] == 3
    doc = json.loads(runner.invoke(app, [*runs["run"], "--json", "-q"]).stdout)  # README: every --json envelope
    both = runner.invoke(app, ["--log-json", *runs["run"], "--json"])  # the manifest once: on stdout
    assert json.loads(both.stdout)["command"] == "run"
    assert not [line for line in both.stderr.splitlines() if line.strip() and '"summary"' in line], both.stderr
    assert (doc["command"], doc["rows_in"], doc["rows_out"]) == ("run", 6, 3)  # before: run had neither count
    checked = runner.invoke(app, ["--log-json", "check", str(src), "--min-rows", "9"])  # before: {"result": null}
    assert checked.exit_code == 3
    check_lines = [json.loads(line) for line in checked.stderr.splitlines() if line.strip()]
    summary = next(d for d in check_lines if d["level"] == "summary")
    assert summary["rows_in"] == 6 and summary["failed"] == 1 and summary["checks"][0]["name"]
    quiet = runner.invoke(app, ["--log-json", "-q", *runs["select"]])
    assert quiet.exit_code == 0 and quiet.stderr.strip() == ""


def test_an_explicit_model_that_stored_vectors_make_moot_is_a_notice(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Before: rows embedded with hash:64, then `qdc dedup --method semantic --model hash:32` (or cluster,
    # select, diversity) used the stored 64-d vectors and said nothing about the --model it ignored.
    src = write_jsonl(tmp_path / "in.jsonl", ALPACA)
    emb = tmp_path / "e.parquet"
    assert runner.invoke(app, ["embed", str(src), "-o", str(emb), "--model", "hash:64", "-q"]).exit_code == 0
    out = str(tmp_path / "o.jsonl")
    for args in (
        ["dedup", str(emb), "--method", "semantic", "-o", out],
        ["cluster", str(emb), "--k", "2", "-o", out],
        ["select", str(emb), "--budget", "2", "-o", out],
        ["diversity", str(emb)],
    ):
        noted = runner.invoke(app, [*args, "--model", "hash:32"])
        assert noted.exit_code == 0, (args, noted.stderr)
        assert "--model hash:32 is not run" in noted.stderr and "64-d" in noted.stderr, (args, noted.stderr)
        plain = runner.invoke(app, args)  # no --model on the line: nothing to say
        assert plain.exit_code == 0 and "is not run" not in plain.stderr, (args, plain.stderr)
    fresh = runner.invoke(app, ["cluster", str(src), "--k", "2", "-o", out, "--model", "hash:32"])
    assert fresh.exit_code == 0 and "is not run" not in fresh.stderr  # rows without vectors: --model is used


def test_a_typo_in_a_set_key_suggests_the_key(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Before: "--set facilty.k=3: unknown key 'facilty' (allowed: allocation, bandit, ... 31 names)".
    src = write_jsonl(tmp_path / "in.jsonl", ALPACA)
    result = runner.invoke(app, ["select", str(src), "--set", "facilty.k=3", "--budget", "2", "-o", "-"])
    assert result.exit_code == 2 and "did you mean 'facility'?" in result.stderr, result.stderr
    cfg = tmp_path / "p.yaml"
    cfg.write_text("embed: {model: 'hash:64'}\nstages:\n  - embed\n  - select: {budget: 3}\n")
    typo = runner.invoke(app, ["run", str(cfg), str(src), "-o", "-", "--set", "select.budgt=2"])
    assert typo.exit_code == 2 and "did you mean 'budget'?" in typo.stderr, typo.stderr


def test_roles_on_rows_read_as_instruction_output_is_a_notice(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Before: KTO-style rows carry instruction/output AND messages; the instruction/output pair is read, and an
    # explicit `--roles system` (matching no message) was ignored without a word, exit 0.
    rows = [
        {**row, "messages": [{"role": "user", "content": row["instruction"]}, {"role": "assistant", "content": "ok"}]}
        for row in ALPACA
    ]
    src = write_jsonl(tmp_path / "kto.jsonl", rows)
    out = str(tmp_path / "o.jsonl")
    noted = runner.invoke(app, ["score-complexity", str(src), "--roles", "system", "-o", out])
    assert noted.exit_code == 0, noted.stderr
    assert "--roles system" in noted.stderr and "--text-field messages" in noted.stderr, noted.stderr
    chat = runner.invoke(app, ["score-complexity", str(src), "--roles", "user", "--text-field", "messages", "-o", out])
    assert chat.exit_code == 0 and "--roles" not in chat.stderr, chat.stderr  # read as chat: roles apply
    plain = runner.invoke(app, ["score-complexity", str(src), "-o", out])
    assert plain.exit_code == 0 and "--roles" not in plain.stderr


def test_chat_rows_without_an_answer_are_a_notice(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Before: DPO rows (the chat ends on the user's turn; the answers are in chosen/rejected) were read with an
    # empty response and scored junk 'empty' without a word: 126 of llamafactory's first 200 dpo_en_demo rows.
    rows = [
        {"id": f"d{i}", "conversations": [{"from": "human", "value": f"Question {i}?"}], "chosen": f"Answer {i}."}
        for i in range(4)
    ]
    rows.append({"id": "full", "conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hi."}]})
    src = write_jsonl(tmp_path / "dpo.jsonl", rows)
    result = runner.invoke(app, ["score-quality", str(src), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 0, result.stderr
    assert "4 of 5 rows" in result.stderr and "no assistant turn" in result.stderr, result.stderr
    ok = write_jsonl(tmp_path / "ok.jsonl", rows[-1:])
    clean = runner.invoke(app, ["score-quality", str(ok), "-o", str(tmp_path / "o2.jsonl")])
    assert clean.exit_code == 0 and "assistant turn" not in clean.stderr


def test_streamed_select_names_the_commands_as_typed(runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for flag in ("log_json", "quiet"):  # --log-json sets the CLI's global State: restore it afterwards
        monkeypatch.setattr(State, flag, getattr(State, flag))
    # Before: `qdc select --stream` printed "qdc scale select expects about ..." (the old name, as plain text
    # even under --log-json), and without -e it pointed at `qdc scale embed` (kept for one release only).
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", **row} for i, row in enumerate(ALPACA)])
    npy = tmp_path / "e.npy"
    assert (
        runner.invoke(app, ["embed", "--stream", str(src), "-o", str(npy), "--model", "hash:16", "-q"]).exit_code == 0
    )
    out = str(tmp_path / "s.jsonl")
    missing = runner.invoke(app, ["select", "--stream", str(src), "--budget", "2", "-o", out])
    assert missing.exit_code == 2 and "qdc embed --stream" in missing.stderr, missing.stderr
    ok = runner.invoke(
        app, ["select", "--stream", str(src), "-e", str(npy), "--budget", "2", "-o", out, "--set", "within=random"]
    )
    assert ok.exit_code == 0 and "expects about" in ok.stderr and "scale select" not in ok.stderr, ok.stderr
    logged = runner.invoke(
        app,
        [
            "--log-json",
            "select",
            "--stream",
            str(src),
            "-e",
            str(npy),
            "--budget",
            "2",
            "-o",
            out,
            "--set",
            "within=random",
        ],
    )
    assert logged.exit_code == 0
    notes = [json.loads(line) for line in logged.stderr.splitlines() if line.strip()]  # every line is JSON
    assert any("expects about" in d.get("message", "") for d in notes), notes
