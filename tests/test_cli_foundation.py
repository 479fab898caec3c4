"""CLI conventions for embed and cluster: pure stdout, exit codes, one-line errors, no partial output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import polars as pl

from qdc.cli import app

from .conftest import read_jsonl, write_jsonl

ROWS = [
    {"id": f"r{i}", "instruction": f"Question number {i} about {topic}?", "output": f"Answer {i}."}
    for i, topic in enumerate(["cats", "dogs", "cats", "rust", "python", "rust", "cats", "dogs"])
]


def test_embed_stdin_to_stdout_is_pure_jsonl(runner) -> None:  # type: ignore[no-untyped-def]
    data = b"".join(orjson.dumps(r) + b"\n" for r in ROWS)
    result = runner.invoke(app, ["embed", "-", "-o", "-", "--model", "hash:16"], input=data)
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(result.stdout)
    assert [r["id"] for r in rows] == [r["id"] for r in ROWS]
    assert all(len(r["qdc_embedding"]) == 16 for r in rows)
    assert "embedded 8 rows" in result.stderr


def test_embed_then_cluster_parquet_pipeline(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write_jsonl(tmp_path / "x.jsonl", ROWS)
    r1 = runner.invoke(app, ["embed", str(src), "-o", str(tmp_path / "e.parquet"), "--model", "hash:32"])
    assert r1.exit_code == 0, r1.stderr
    assert pl.read_parquet(tmp_path / "e.parquet").schema["qdc_embedding"] == pl.Array(pl.Float32, 32)
    r2 = runner.invoke(
        app, ["cluster", str(tmp_path / "e.parquet"), "-o", str(tmp_path / "c.parquet"), "--k", "3", "--json"]
    )
    assert r2.exit_code == 0, r2.stderr
    summary = orjson.loads(r2.stdout)
    assert summary["k"] == 3 and sum(c["size"] for c in summary["clusters"]) == 8
    out = pl.read_parquet(tmp_path / "c.parquet")
    assert out.columns[:3] == ["id", "instruction", "output"]
    assert {"qdc_embedding", "qdc_cluster", "qdc_cluster_distance"} <= set(out.columns)


def test_cluster_output_is_byte_identical_for_same_seed(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write_jsonl(tmp_path / "x.jsonl", ROWS)
    for name in ("a", "b"):
        res = runner.invoke(
            app,
            [
                "cluster",
                str(src),
                "-o",
                str(tmp_path / f"{name}.jsonl"),
                "--k",
                "3",
                "--seed",
                "5",
                "--model",
                "hash:32",
            ],
        )
        assert res.exit_code == 0, res.stderr
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_malformed_line_gives_file_line_exit_1_and_no_output(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "bad.jsonl"
    src.write_text('{"text": "fine"}\n{"text": "oops"\n')
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["embed", str(src), "-o", str(out), "--model", "hash"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{src}:2: malformed JSON" in lines[0]
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_skip_bad_rows_writes_quarantine(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "bad.jsonl"
    src.write_text('{"text": "fine"}\n{"text": "oops"\n{"text": "also fine"}\n')
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["embed", str(src), "-o", str(out), "--model", "hash", "--on-bad-rows", "skip"])
    assert result.exit_code == 0, result.stderr
    assert len(read_jsonl(out.read_bytes())) == 2
    assert (tmp_path / "out.jsonl.bad-rows.jsonl").read_text() == '{"text": "oops"\n'
    assert "skipped 1 bad line" in result.stderr


def test_usage_errors_exit_2(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write_jsonl(tmp_path / "x.jsonl", ROWS)
    assert runner.invoke(app, ["embed", str(src), "-o", str(tmp_path / "o.csv")]).exit_code == 2
    assert runner.invoke(app, ["embed", str(src), "--on-bad-rows", "ignore"]).exit_code == 2
    assert runner.invoke(app, ["cluster", str(src), "--k", "zero"]).exit_code == 2
    assert runner.invoke(app, ["embed", str(src), "-o", str(tmp_path / "no" / "o.jsonl")]).exit_code == 2


def test_missing_input_file_exit_1(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["embed", str(tmp_path / "nope.jsonl"), "-o", "-", "--model", "hash"])
    assert result.exit_code == 1 and "no such file" in result.stderr


def _leaf_commands(group, prefix=()):  # type: ignore[no-untyped-def]
    """Every runnable command path, e.g. ('embed',) or ('scale', 'dedup')."""
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _leaf_commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_command_has_help_with_an_example(runner) -> None:  # type: ignore[no-untyped-def]
    import typer.main

    for path in _leaf_commands(typer.main.get_command(app)):
        res = runner.invoke(app, [*path, "--help"])
        assert res.exit_code == 0, path
        assert "Example" in res.stdout, f"`qdc {' '.join(path)} --help` has no example"


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from qdc.cli import app; from typer.testing import CliRunner; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; "
        "heavy = [m for m in ('torch', 'sentence_transformers', 'faiss', 'datasketch', 'polars', 'sklearn') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_importing_the_cli_does_not_import_pydantic() -> None:
    # Every command (--help included) imports qdc.cli: option defaults come from pydantic-free modules
    # (qdc.select.defaults), which saves ~0.13 s a call. The probe shows the check can fail.
    code = (
        "import sys, qdc.cli; before = 'pydantic' in sys.modules; "
        "import pydantic; print(before, 'pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_version(runner) -> None:  # type: ignore[no-untyped-def]
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.startswith("qdc ")


def test_bad_parameter_inside_a_command_is_a_usage_error(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write_jsonl(tmp_path / "x.jsonl", ROWS)
    result = runner.invoke(app, ["embed", str(src), "-o", "-", "--json", "--model", "hash"])
    assert result.exit_code == 2
    assert "internal error" not in result.stderr and "--json" in result.stderr


def test_several_inputs_read_in_order_as_one_dataset(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = write_jsonl(tmp_path / "a.jsonl", ROWS[:3])
    b = write_jsonl(tmp_path / "b.jsonl", ROWS[3:])
    out = tmp_path / "ab.jsonl"
    res = runner.invoke(app, ["embed", str(a), str(b), "-o", str(out), "--model", "hash:8"])
    assert res.exit_code == 0, res.stderr
    assert [r["id"] for r in read_jsonl(out.read_text())] == [r["id"] for r in ROWS]
    res = runner.invoke(app, ["embed", "-o", "-", "--model", "hash:8"], input=a.read_bytes())  # no INPUT: stdin
    assert res.exit_code == 0 and len(read_jsonl(res.stdout)) == 3, res.stderr
    res = runner.invoke(app, ["dedup", "--stream", str(a), str(b), "-o", str(tmp_path / "d.jsonl")])
    assert res.exit_code == 2 and "one INPUT file" in res.stderr


def test_stages_documents_every_key_with_the_help_the_flags_show(runner) -> None:  # type: ignore[no-untyped-def]
    """`qdc stages --json`: each key (sections flattened) with the config's default and the docstring
    that `qdc select --help` shows for its flag."""
    import json

    from qdc.select import SelectConfig

    res = runner.invoke(app, ["stages", "--json"])
    assert res.exit_code == 0, res.stderr
    (stage,) = [s for s in json.loads(res.stdout)["stages"] if s["name"] == "select"]
    keys = {k["key"]: k for k in stage["keys"]}
    assert keys["bandit.alpha"]["default"] == SelectConfig.model_fields["bandit"].default.alpha
    assert keys["budget"]["help"].startswith("Rows to select")
    assert "--alpha" not in runner.invoke(app, ["select", "--help"]).stdout  # a key (--set bandit.alpha=...)
    alpha = SelectConfig.model_fields["bandit"].default.alpha
    assert f"bandit.alpha = {alpha!r}: UCB" in runner.invoke(app, ["stages", "--keys"]).stdout
    assert "bandit.alpha" not in runner.invoke(app, ["stages"]).stdout  # the short list without --keys
