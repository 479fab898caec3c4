"""`--stream` on `qdc select` and `qdc score-quality`: the engines of `qdc scale select` / `qdc scale score`,
reached from the in-memory commands, with the flags of each path refused on the other."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from qdc.cli import app
from tests.conftest import select_input, write_jsonl


def _select_input(tmp_path: Path, n: int = 240, dim: int = 8) -> tuple[str, str]:
    src, emb = select_input(tmp_path, n, dim, seed=4)
    return str(src), str(emb)


def _invoke(runner: Any, args: list[str]) -> Any:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.stderr
    return res


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--seed", "3", "--set", "within=top", "--set", "allocation=proportional", "--k", "5"],
        [
            "--set",
            "temperature=0.7",
            "--set",
            "cluster_quality=false",
            "--batch-rows",
            "50",
            "--points-per-centroid",
            "8",
        ],
    ],
)
def test_select_stream_writes_what_scale_select_writes(tmp_path: Path, runner: Any, extra: list[str]) -> None:
    src, emb = _select_input(tmp_path)
    outs = {}
    for name, cmd in {"stream": ["select", "--stream"], "scale": ["scale", "select"]}.items():
        out = tmp_path / f"{name}.jsonl"
        res = _invoke(runner, [*cmd, src, "-e", emb, "--budget", "30", "-o", str(out), "--json", *extra])
        outs[name] = out.read_bytes()
        stats = orjson.loads(res.stdout)
        assert stats["selected"] == 30
    assert outs["stream"] == outs["scale"]
    assert len(outs["stream"].splitlines()) == 30


def test_select_stream_reads_config_layers(tmp_path: Path, runner: Any) -> None:
    """--set reaches the streamed config: --set within=top (also spelt select.within) differs from the default."""
    src, emb = _select_input(tmp_path)
    outs = {}
    for name, extra in {
        "set": ["--set", "within=top"],
        "prefixed": ["--set", "select.within=top"],
        "default": [],
    }.items():
        out = tmp_path / f"{name}.jsonl"
        _invoke(runner, ["select", "--stream", src, "-e", emb, "--budget", "30", "-o", str(out), *extra])
        outs[name] = out.read_bytes()
    assert outs["set"] == outs["prefixed"] != outs["default"]


def test_select_stream_takes_a_set_key_spelt_as_its_flag(tmp_path: Path, runner: Any) -> None:
    """--set cluster-quality=... names the key cluster_quality, as the config is built (it was refused as a key
    --stream does not take)."""
    src, emb = _select_input(tmp_path)
    outs = []
    for key in ("cluster-quality", "cluster_quality", "select.cluster-quality"):
        out = tmp_path / f"{key}.jsonl"
        args = ["select", "--stream", src, "-e", emb, "--budget", "30", "-o", str(out), "--set", f"{key}=true"]
        _invoke(runner, args)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2] != b""


def test_select_stream_says_it_runs_kmq(tmp_path: Path, runner: Any) -> None:
    """The in-memory default (facility) cannot stream: the swap to kmq is a notice, not silent."""
    src, emb = _select_input(tmp_path)
    out = tmp_path / "o.jsonl"
    res = _invoke(runner, ["select", "--stream", src, "-e", emb, "--budget", "30", "-o", str(out)])
    assert "--stream selected with kmq, within softmax (in memory: facility, within balanced" in res.stderr
    res = _invoke(
        runner,
        ["select", "--stream", src, "-e", emb, "--budget", "30", "-o", str(out), "-s", "kmq", "--set", "within=top"],
    )
    assert "--stream selected with kmq" not in res.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-e", "EMB"], "only with --stream"),
        (["--max-memory", "1G"], "only with --stream"),
        (["--executor", "ray"], "only with --stream"),
        (["--batch-rows", "10"], "only with --stream"),
        (["--points-per-centroid", "8"], "only with --stream"),  # was silently ignored without --stream
        (["--stream", "--manifest", "m.json", "-e", "EMB"], "does not take --manifest"),
        (["--stream", "--dedup", "exact", "-e", "EMB"], "does not take --dedup"),
        (["--stream", "--model", "hash", "-e", "EMB"], "does not take --model"),
        (["--stream", "--strategy", "facility", "-e", "EMB"], "--stream runs kmq"),
        (["--stream", "--set", "within=balanced", "-e", "EMB"], "within"),
        (["--stream", "--set", "quota=equal", "-e", "EMB"], "does not take --set quota"),
        (["--stream"], "--embeddings"),
    ],
)
def test_select_refuses_the_other_paths_flags(tmp_path: Path, runner: Any, args: list[str], says: str) -> None:
    src, emb = _select_input(tmp_path, n=40)
    out = tmp_path / "o.jsonl"
    args = [emb if x == "EMB" else x for x in args]
    res = runner.invoke(app, ["select", src, "--budget", "5", "-o", str(out), *args])
    assert res.exit_code == 2, res.output
    assert says in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()


def _score_input(tmp_path: Path, n: int = 120) -> str:
    rng = random.Random(2)
    words = ["alpha", "beta", "gamma", "delta", "the", "and", "of", "model", "data", "loop"]
    rows = []
    for i in range(n):
        answer = " ".join(rng.choice(words) for _ in range(rng.randint(0, 40)))
        rows.append({"id": f"q{i}", "instruction": f"Explain item {i}.", "output": answer + rng.choice([".", ""])})
    return str(write_jsonl(tmp_path / "score.jsonl", rows))


@pytest.mark.parametrize("scorer", ["learned", "heuristic"])
def test_score_quality_stream_writes_what_scale_score_and_memory_write(
    tmp_path: Path, runner: Any, scorer: str
) -> None:
    src = _score_input(tmp_path)
    outs = {}
    for name, cmd in {
        "stream": ["score-quality", "--stream", "--scorer", scorer, "--batch-rows", "25"],
        "memory": ["score-quality", "--scorer", scorer],
    }.items():
        out = tmp_path / f"{name}.jsonl"
        _invoke(runner, [*cmd, src, "-o", str(out)])
        outs[name] = out.read_bytes()
    assert outs["stream"] == outs["memory"]
    assert b"qdc_quality" in outs["stream"] and b"qdc_complexity" not in outs["stream"]
    if scorer == "learned":  # `qdc scale score` scores with QualityConfig() defaults: the learned scorer
        out = tmp_path / "scale.jsonl"
        _invoke(runner, ["scale", "score", "--no-complexity", src, "-o", str(out)])
        assert out.read_bytes() == outs["stream"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--batch-rows", "10"], "only with --stream"),
        (["--executor", "ray"], "only with --stream"),
        (["--max-memory", "1G"], "only with --stream"),
        (["--stream", "--explain", "q1"], "does not take --explain;"),
        (["--stream", "--label-field", "label"], "does not take --label-field"),
        (["--stream", "--scorer", "judge", "--judge-model", "m"], "model-free scorers"),
    ],
)
def test_score_quality_refuses_the_other_paths_flags(tmp_path: Path, runner: Any, args: list[str], says: str) -> None:
    src = _score_input(tmp_path, n=10)
    out = tmp_path / "o.jsonl"
    res = runner.invoke(app, ["score-quality", src, "-o", str(out), *args])
    assert res.exit_code == 2, res.output
    assert says in res.stderr
    assert not out.exists()


def test_scale_alias_keeps_the_global_flags(tmp_path: Path, runner: Any) -> None:
    """`qdc scale dedup` runs `qdc dedup --stream` as a new command line: -q and --log-json reach it."""
    src = _score_input(tmp_path, n=20)
    quiet = runner.invoke(app, ["scale", "dedup", src, "-o", str(tmp_path / "q.jsonl"), "-q"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    logged = runner.invoke(app, ["--log-json", "scale", "dedup", src, "-o", str(tmp_path / "j.jsonl")])
    assert logged.exit_code == 0
    notice = orjson.loads(logged.stderr.splitlines()[0])
    assert notice["level"] == "notice" and "qdc dedup --stream" in notice["message"]
    assert (tmp_path / "q.jsonl").read_bytes() == (tmp_path / "j.jsonl").read_bytes()


def test_score_complexity_stream_writes_what_memory_writes(tmp_path: Path, runner: Any) -> None:
    """`qdc score-complexity --stream` (was `qdc scale score --no-quality`): the same bytes as in memory, and
    the streaming flags refused without --stream."""
    src = _score_input(tmp_path)
    outs = {}
    for name, cmd in {
        "stream": ["score-complexity", "--stream", "--batch-rows", "25"],
        "memory": ["score-complexity"],
        "scale": ["scale", "score", "--no-quality"],
    }.items():
        out = tmp_path / f"{name}.jsonl"
        _invoke(runner, [*cmd, src, "-o", str(out)])
        outs[name] = out.read_bytes()
    assert outs["stream"] == outs["memory"] == outs["scale"] and b"qdc_complexity" in outs["stream"]
    res = runner.invoke(app, ["score-complexity", src, "-o", str(tmp_path / "x.jsonl"), "--batch-rows", "9"])
    assert res.exit_code == 2 and "only with --stream" in res.stderr
    res = runner.invoke(
        app, ["score-complexity", "--stream", src, "-o", str(tmp_path / "y.jsonl"), "--scorer", "judge"]
    )
    assert res.exit_code == 2 and "heuristic scorers" in res.stderr


def _tagged_options() -> list[tuple[str, Any, str | None]]:
    """(command, option, config spec) of every option that one path of a command with --stream does not take."""
    import typer

    group = typer.main.get_command(app)
    out = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        options, spec = getattr(cmd.callback, "qdc_options", ((), None)) if cmd.callback else ((), None)
        if any(o.param == "stream" for o in options):
            out += [(name, o, spec) for o in options if o.stream is not None]
    return out


def _value(opt: Any, spec: str | None) -> list[str]:
    """A value the option takes (its config default where it sets a key, so the config builds), or none."""
    from qdc.pipeline.fields import option_help

    if opt.type is bool:
        return []
    default = option_help(spec, opt.key)[1] if opt.key and spec else None
    return [str(default) if default not in (None, "", []) else {"embed_field": "text"}.get(opt.param, "8")]


@pytest.mark.parametrize(("command", "opt", "spec"), _tagged_options(), ids=lambda x: getattr(x, "param", x))
def test_every_flag_of_the_other_path_is_refused(
    tmp_path: Path, runner: Any, command: str, opt: Any, spec: str | None
) -> None:
    """Each option tagged for one path (`Opt.stream`) is refused on the other, in one line, exit 2."""
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "one row"}])
    flag = opt.flags.split()[0].split("/")[0]
    needs = ["--budget", "1"] if command == "select" else []
    args = [command, str(src), "-o", str(tmp_path / "out.jsonl"), *needs, flag, *_value(opt, spec)]
    res = runner.invoke(app, args if opt.stream else [*args, "--stream"])
    assert res.exit_code == 2, (args, res.output)
    says = f"{flag}: only with --stream" if opt.stream else f"--stream does not take {flag};"
    assert says in res.stderr and len(res.stderr.strip().splitlines()) == 1
