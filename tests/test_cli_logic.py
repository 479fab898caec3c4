"""Library functions the CLI calls instead of computing in the shell (one implementation each)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qdc.dedup import DedupConfig, dedup, plan
from qdc.errors import ConfigError
from qdc.scale.options import RunOptions
from tests.conftest import make_frame as frame


def _rows(n: int) -> list[dict[str, str]]:
    return [{"instruction": f"say {i % 7}", "output": f"the answer is {i % 7} and more words"} for i in range(n)]


@pytest.mark.parametrize("methods", [("exact", "minhash"), ("exact",)])
def test_dedup_plan_is_what_the_run_reports(methods: tuple[str, ...]) -> None:
    df, ref = frame(_rows(30)), frame(_rows(5))
    cfg = DedupConfig(methods=methods)
    known = plan([ref, df], cfg)
    stats = dedup(df, cfg, against=[ref]).stats
    assert known["rows"] == 35 and known["memory_estimate_bytes"] > 0
    assert stats["memory_estimate_bytes"] == known["memory_estimate_bytes"]
    assert stats["memory_estimate"] == known["memory_estimate"]
    assert ("s_curve" in stats) == ("minhash" in methods) == ("s_curve" in known)
    if "minhash" in methods:
        assert stats["s_curve"] == known["s_curve"] and known["bands"] == cfg.minhash_params().band_rows()
    assert plan([df], cfg)["memory_estimate_bytes"] < known["memory_estimate_bytes"]


def test_run_options_parse_and_refuse(tmp_path: Path) -> None:
    run = RunOptions.parse(None, "1G", "local")
    assert run == RunOptions(max_memory=1 << 30) and not run.ray
    assert RunOptions.parse(500, None, "local").batch_rows == 500
    with pytest.raises(ConfigError, match="--executor 'spark'"):
        RunOptions.parse(None, None, "spark")
    with pytest.raises(ConfigError, match="--max-memory"):
        RunOptions.parse(None, "lots", "local")
    with pytest.raises(ConfigError, match="backend 'dask'"):
        RunOptions(backend="dask")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        run.batch_rows = 3  # type: ignore[misc]  # frozen: one value for the whole run


def test_run_plan_resolves_files_as_the_run_writes_them(tmp_path: Path) -> None:
    from qdc.pipeline import load_pipeline
    from qdc.pipeline.files import side_paths
    from qdc.pipeline.report import RunPlan

    cfg = tmp_path / "p.yaml"
    cfg.write_text(
        f"input: {tmp_path / 'in.jsonl'}\noutput: {tmp_path / 'o.jsonl'}\nstages: [{{dedup: {{threshold: 0.9}}}}]\n"
    )
    pipe = load_pipeline(str(cfg))
    plan = RunPlan.resolve(pipe)
    assert (plan.input, plan.output, plan.workdir) == (
        str(tmp_path / "in.jsonl"),
        str(tmp_path / "o.jsonl"),
        ".qdc-work",
    )
    assert (plan.ledger, plan.manifest) == side_paths(plan.output)[:2]
    given = RunPlan.resolve(pipe, "a.jsonl", "-", "w", no_workdir=True, removed="r.jsonl")
    assert (given.input, given.output, given.workdir, given.ledger) == ("a.jsonl", "-", None, "r.jsonl")
    assert given.manifest == "qdc.manifest.json"
    head, stages = given.files(), given.stages()
    assert "  output:   stdout" in head and "  workdir:  none (--no-workdir)" in head
    assert stages == ["   1 dedup: threshold=0.9"]
    assert plan.embedding_cache() != "off"
    off = load_pipeline(str(cfg), ["embed.cache=false"])
    assert RunPlan.resolve(off).embedding_cache() == "off"


def test_stage_notes_read_the_same_fresh_and_cached() -> None:
    from qdc.pipeline.report import stage_notes

    fresh = stage_notes({"rows": 10, "mean": 0.96491712, "skip": {"a": 1}, "on": True, "name": "x"})
    cached = stage_notes({"name": "x", "on": True, "mean": "0.96491712", "rows": 10, "skip": [1]})
    assert fresh == cached == "mean=0.9649, name=x, on=True, rows=10"
    assert stage_notes({"id": "0012"}) == "id=0012"  # digits kept as written


def test_check_context_takes_a_pipeline_files_settings(tmp_path: Path) -> None:
    from qdc.io import IOConfig
    from qdc.pipeline.report import check_context

    io = IOConfig(on_bad_rows="skip")
    assert check_context(None, io, False)[1:] == (io, 0)
    cfg = tmp_path / "p.yaml"
    cfg.write_text("seed: 7\nembed: {model: 'hash:32'}\nio: {text_field: body}\nstages: [check]\n")
    embed, got, seed = check_context(str(cfg), IOConfig(on_bad_rows="skip"), False)
    assert (embed.model, got.text_field, got.on_bad_rows, seed) == ("hash:32", "body", "skip", 7)
    mine = IOConfig(text_field="t", on_bad_rows="skip")
    assert check_context(str(cfg), mine, True)[1].text_field == "t"


def test_envelope_counts_rows_only_where_the_command_does() -> None:
    from qdc import __version__
    from qdc.envelope import envelope

    got = envelope("dedup", {"rows_in": 9, "rows_kept": 7, "rows": 3})
    assert {k: got[k] for k in list(got)[:5]} == {
        "qdc": __version__,
        "json_version": 1,
        "command": "dedup",
        "rows_in": 9,
        "rows_out": 7,
    }
    assert list(got)[-2:] == ["rows_kept", "rows"]  # the command's own keys after the envelope's
    assert envelope("score-quality", {"rows": 4})["rows_out"] == 4  # every row read is written
    assert "rows_out" not in envelope("check", {"rows": 4}) and envelope("check", {"rows": 4})["rows_in"] == 4
    assert envelope(None, [1, 2]) == {"qdc": __version__, "json_version": 1, "result": [1, 2]}
    assert "rows_in" not in envelope("x", {"rows": True})  # a bool is not a count


def test_config_files_are_the_files_a_config_reads() -> None:
    from qdc.pipeline.fields import config_files
    from qdc.quality import QualityConfig

    cfg = QualityConfig.model_validate({"judge": {"rubric": "my-rubric.yaml"}})
    assert config_files(cfg)["judge.rubric"] == "my-rubric.yaml" and set(config_files(cfg)) <= {
        "judge.rubric",
        "lm.model",
    }
    assert config_files(object()) == {}  # a config without those sections reads no file


def test_report_options_parse_and_refuse() -> None:
    from qdc.report.inputs import options

    got = options("0.1, 400,", "random, kmq")
    assert got.budgets == (0.1, 400.0) and got.strategies == ("random", "kmq")
    for bad in ("", "0.1,-2", "a,b"):
        with pytest.raises(ConfigError, match="--budgets"):
            options(bad, "random")


def test_write_report_writes_the_page_and_refuses_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qdc.embed import EmbedConfig
    from qdc.io import IOConfig
    from qdc.report.inputs import options, write_report
    from tests.conftest import write_jsonl

    src = write_jsonl(tmp_path / "in.jsonl", _rows(12))
    ecfg = EmbedConfig(model="hash:32", cache=False)
    with pytest.raises(ConfigError, match="HTML file"):
        write_report(str(src), "-", IOConfig(), ecfg)
    opts = options("0.5", "random")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    data, rows = write_report(str(src), str(tmp_path / "r.html"), IOConfig(), ecfg, opts=opts, reproducible=True)
    assert rows == 12 and data["generated"] == ""
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!") and "<script" not in page


def test_probe_frames_is_probe_on_the_frames_vectors_and_labels() -> None:
    from qdc.embed import EmbedConfig, ensure_embeddings
    from qdc.probe import ProbeConfig, labels_of, probe, probe_frames

    def rows(n: int, start: int) -> list[dict[str, str]]:
        words = ["apple pie", "green tea", "rust code", "jazz band"]
        return [
            {"instruction": f"{words[i % 4]} note {i}", "output": f"{words[i % 4]} text", "label": str(i % 4)}
            for i in range(start, start + n)
        ]

    sel, pool, test = frame(rows(12, 100)), frame(rows(40, 100)), frame(rows(20, 500))  # sel: 12 pool rows
    cfg, ecfg = ProbeConfig(label_field="label", seeds=3), EmbedConfig(model="hash:64", cache=False)
    got = probe_frames(sel, pool, test, cfg, ecfg).as_dict()
    arrays = [(ensure_embeddings(df, ecfg)[1], labels_of(df, "label", "x")) for df in (sel, pool, test)]
    want = probe(*arrays[0], *arrays[1], *arrays[2], cfg).as_dict()
    assert got == want and got["seeds"] == 3
    with pytest.raises(Exception, match="--test"):
        probe_frames(sel, pool, test.drop("label"), cfg, ecfg, ("a", "b", "--test (t.jsonl)"))


def test_stream_embed_refuses_a_non_npy_output_and_a_bad_dtype(tmp_path: Path) -> None:
    from qdc.embed.stream import stream_embed
    from tests.conftest import write_jsonl

    src = str(write_jsonl(tmp_path / "in.jsonl", _rows(3)))
    with pytest.raises(ConfigError, match=r"writes a \.npy file"):
        stream_embed(src, tmp_path / "e.jsonl")
    with pytest.raises(ConfigError, match="--dtype 'int8'"):
        stream_embed(src, tmp_path / "e.npy", dtype="int8")
    assert not (tmp_path / "e.npy").exists()


def test_scale_score_with_nothing_to_score_is_the_engines_usage_error(tmp_path: Path, runner: Any) -> None:
    from qdc.cli import app
    from tests.conftest import write_jsonl

    src = str(write_jsonl(tmp_path / "in.jsonl", _rows(3)))
    res = runner.invoke(
        app, ["scale", "score", src, "-o", str(tmp_path / "o.jsonl"), "--no-quality", "--no-complexity"]
    )
    assert res.exit_code == 2 and "nothing to score" in res.stderr and not (tmp_path / "o.jsonl").exists()


def test_select_budget_text_is_judged_by_the_config(tmp_path: Path, runner: Any) -> None:
    """--budget only turns its text into a number; SelectConfig's one rule refuses 1.0 and 2.5 rows."""
    from qdc.cli import app
    from tests.conftest import write_jsonl

    src = str(write_jsonl(tmp_path / "in.jsonl", _rows(8)))
    said = {}
    for budget in ("1.0", "2.5", "x", "3", "3.0", "0.5"):
        res = runner.invoke(app, ["select", src, "-o", str(tmp_path / "o.jsonl"), "--budget", budget, "-s", "random"])
        said[budget] = (res.exit_code, res.stderr)
    assert said["1.0"][0] == 2 and "ambiguous" in said["1.0"][1]
    assert said["2.5"][0] == 2 and "whole number" in said["2.5"][1]
    assert said["x"][0] == 2 and "expected a row count" in said["x"][1]
    assert [said[b][0] for b in ("3", "3.0", "0.5")] == [0, 0, 0]
