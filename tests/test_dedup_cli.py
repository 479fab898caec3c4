"""`qdc dedup` on the command line: outputs, ledger, --against, dry run, errors, determinism."""

from __future__ import annotations

import orjson
import pytest

from qdc.cli import app
from tests.conftest import read_jsonl, write_jsonl

TEXT = (
    "synthetic data pipelines often produce the same instruction many times with small changes in "
    "wording so a curation tool has to find those copies and remove all but one of them while keeping "
    "a record of what was removed and why it was removed in the first place for later review"
)


def rows():
    words = TEXT.split()
    sub = list(words)
    sub[10] = "phrasing"
    return [
        {"id": "1", "text": TEXT},
        {"id": "2", "text": TEXT.upper() + "  "},
        {"id": "3", "text": " ".join(sub)},
        {"id": "4", "text": "A short unrelated question about cooking rice?"},
        {"id": "5", "text": "Explain how a hash table resolves collisions."},
    ]


def test_dedup_writes_kept_rows_and_ledger(tmp_path, runner):
    src = write_jsonl(tmp_path / "in.jsonl", rows())
    out, led = tmp_path / "out.jsonl", tmp_path / "removed.jsonl"
    res = runner.invoke(app, ["dedup", str(src), "-o", str(out), "--removed", str(led)])
    assert res.exit_code == 0, res.stderr
    kept = read_jsonl(out.read_bytes())
    assert [r["id"] for r in kept] == ["1", "4", "5"]
    assert kept[0] == rows()[0]  # input fields untouched, no qdc columns on kept rows
    removed = read_jsonl(led.read_bytes())
    assert [(r["id"], r["qdc_dup_of"], r["qdc_dup_method"]) for r in removed] == [
        ("2", "1", "exact"),
        ("3", "1", "minhash"),
    ]
    assert removed[1]["qdc_dup_similarity"] >= 0.8 and removed[0]["qdc_dup_ref"] is None


def test_stdout_is_pure_jsonl(tmp_path, runner):
    src = write_jsonl(tmp_path / "in.jsonl", rows())
    res = runner.invoke(app, ["dedup", str(src), "--explain"])
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert [orjson.loads(line)["id"] for line in lines] == ["1", "4", "5"]
    assert "P(candidate)" in res.stderr


def test_dry_run_json_writes_nothing(tmp_path, runner):
    src = write_jsonl(tmp_path / "in.jsonl", rows())
    out, led = tmp_path / "out.jsonl", tmp_path / "removed.jsonl"
    res = runner.invoke(app, ["dedup", str(src), "-o", str(out), "--removed", str(led), "--dry-run", "--json"])
    assert res.exit_code == 0, res.stderr
    report = orjson.loads(res.stdout)
    assert report["dry_run"] is True and report["rows_removed"] == 2
    assert report["methods"]["exact"]["removed"] == 1 and report["methods"]["minhash"]["removed"] == 1
    assert report["group_sizes"]["3"] == 1
    assert report["largest_groups"][0]["kept_id"] == "1"
    assert report["memory_estimate_bytes"] > 0
    assert not out.exists() and not led.exists()


def test_against_decontaminates(tmp_path, runner):
    src = write_jsonl(tmp_path / "in.jsonl", rows())
    ref = write_jsonl(tmp_path / "eval.jsonl", [{"id": "e9", "text": "explain how a HASH table resolves collisions"}])
    out, led = tmp_path / "out.jsonl", tmp_path / "removed.jsonl"
    res = runner.invoke(
        app,
        ["dedup", str(src), "-o", str(out), "--removed", str(led), "--against", str(ref), "--set", "against_only=true"],
    )
    assert res.exit_code == 0, res.stderr
    assert [r["id"] for r in read_jsonl(out.read_bytes())] == ["1", "2", "3", "4"]
    removed = read_jsonl(led.read_bytes())
    assert [(r["id"], r["qdc_dup_of"], r["qdc_dup_ref"]) for r in removed] == [("5", "e9", str(ref))]
    assert "e9" not in out.read_text()


def test_semantic_with_hash_embedder(tmp_path, runner):
    src = write_jsonl(tmp_path / "in.jsonl", rows())
    out = tmp_path / "out.jsonl"
    res = runner.invoke(
        app,
        [
            "dedup",
            str(src),
            "-o",
            str(out),
            "-m",
            "semantic",
            "--model",
            "hash:64",
            "--no-cache",
            "--set",
            "eps=0.05",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.stderr
    report = orjson.loads(res.stdout)
    assert report["methods"]["semantic"]["removed"] >= 1  # the upper-cased copy embeds identically
    assert report["methods"]["semantic"]["clusters"] == 1


@pytest.mark.parametrize(
    "content,where",
    [
        (b'{"id": "1", "text": "ok"}\n{"id": "2", "text": \n', ":2:"),
        (b'{"id": "1", "text": "ok"}\n{"id": "2", "text": 5}\n', ":2:"),
    ],
)
def test_bad_input_exit_1_no_output(tmp_path, runner, content, where):
    src = tmp_path / "bad.jsonl"
    src.write_bytes(content)
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["dedup", str(src), "-o", str(out)])
    assert res.exit_code == 1
    assert f"{src}{where}" in res.stderr
    assert not out.exists()
    assert res.stdout == ""


def test_bad_options_exit_2(tmp_path, runner):
    src = write_jsonl(tmp_path / "in.jsonl", rows())
    for args in (["--keep", "worst"], ["-m", "fuzzy"], ["--threshold", "1.5"], ["--set", "against_only=true"]):
        res = runner.invoke(app, ["dedup", str(src), "-o", str(tmp_path / "o.jsonl"), *args])
        assert res.exit_code == 2, (args, res.stderr)
    assert not (tmp_path / "o.jsonl").exists()


def test_missing_best_column_exit_1(tmp_path, runner):
    src = write_jsonl(tmp_path / "in.jsonl", rows())
    res = runner.invoke(app, ["dedup", str(src), "-o", str(tmp_path / "o.jsonl"), "--keep", "best:qdc_quality"])
    assert res.exit_code == 1 and "qdc_quality" in res.stderr


def test_same_bytes_twice(tmp_path, runner):
    src = write_jsonl(
        tmp_path / "in.jsonl", rows() * 1 + [{"id": str(10 + i), "text": f"{TEXT} {i}"} for i in range(5)]
    )
    outs = []
    for k in range(2):
        out, led = tmp_path / f"out{k}.jsonl", tmp_path / f"rm{k}.jsonl"
        res = runner.invoke(app, ["dedup", str(src), "-o", str(out), "--removed", str(led)])
        assert res.exit_code == 0, res.stderr
        outs.append((out.read_bytes(), led.read_bytes()))
    assert outs[0] == outs[1]
    assert outs[0][1]  # something was removed


def test_a_mistyped_config_key_names_the_nearest_key(tmp_path, runner):
    """A --config file with a typo'd key: exit 2, the key, 'did you mean' the closest allowed one, and the
    allowed keys; a key like no other gets no guess."""
    src = tmp_path / "in.jsonl"
    write_jsonl(src, rows())
    cfg = tmp_path / "d.yaml"
    cfg.write_text("treshold: 0.7\n")
    res = runner.invoke(app, ["dedup", str(src), "-o", str(tmp_path / "o.jsonl"), "--config", str(cfg)])
    assert res.exit_code == 2
    assert "unknown key 'treshold' (did you mean 'threshold'?; allowed: " in res.stderr
    cfg.write_text("zzzz: 1\n")
    res = runner.invoke(app, ["dedup", str(src), "-o", str(tmp_path / "o.jsonl"), "--config", str(cfg)])
    assert res.exit_code == 2 and "unknown key 'zzzz' (allowed: " in res.stderr and "did you mean" not in res.stderr
