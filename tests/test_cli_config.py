"""Config-first CLI (issue 16 item 5): every stage command takes `--config FILE` and `--set KEY=VALUE`.

Precedence: option defaults < --config < --set < flags given on the command line. Most tests stop the command
right after its config is built (validate_config is wrapped to record the config and raise), so they check the
layering of every command without running it; one test runs dedup end to end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from qdc.cli import app
from qdc.errors import ConfigError

from .conftest import write_jsonl

# command -> (config key, value in --config, value in --set, flag, flag value); the values differ from the default
CASES: dict[str, tuple[str, Any, Any, str, Any]] = {
    "dedup": ("threshold", 0.5, 0.6, "--threshold", 0.7),
    "select": ("k", 5, 6, "--k", 7),
    "score-quality": ("judge.model", "m1", "m2", "--judge-model", "m3"),
    "score-complexity": ("judge.model", "m1", "m2", "--judge-model", "m3"),
    "cluster": ("k", 5, 6, "--k", 7),
    "embed": ("batch_size", 8, 9, "--batch-size", 10),
    "diversity": ("group_field", "g1", "g2", "--group-field", "g3"),
    "check": ("min_rows", 1, 2, "--min-rows", 3),
    "probe": ("seeds", 2, 3, "--seeds", 4),
    "scale dedup": ("threshold", 0.5, 0.6, "--threshold", 0.7),
    "scale select": ("k", 5, 6, "--k", 7),
}
ROWS = [{"id": f"r{i}", "text": f"row number {i} says {w}"} for i, w in enumerate(["a", "b", "b", "c"])]


class Stop(ConfigError):
    """Raised right after the command's config is built."""


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The configs the command builds (the command stops at the first one)."""
    import qdc.config
    import qdc.measure
    import qdc.pipeline.config  # imported now: a module that binds validate_config must keep the real one

    seen: list[Any] = []
    real = qdc.config.validate_config

    def record(cls: Any, data: dict[str, Any], where: str) -> Any:
        seen.append(real(cls, data, where))
        raise Stop("stopped after the config")

    monkeypatch.setattr(qdc.config, "validate_config", record)
    return seen


def _get(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _section(key: str, value: Any) -> bytes:
    """A YAML section setting the dotted `key` (flow style, one line)."""
    *outer, last = key.split(".")
    text = f"{{{last}: {value}}}"
    for part in reversed(outer):
        text = f"{{{part}: {text}}}"
    return text.encode()


def _invoke(runner: Any, tmp_path: Path, command: str, *extra: str, budget: bool = True) -> Any:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    args = [*command.split(), str(src)]
    if command == "scale select":
        args += ["--embeddings", str(tmp_path / "x.npy")]
    if command == "select" and budget:
        args += ["--budget", "2"]
    return runner.invoke(app, [*args, *extra])


@pytest.mark.parametrize("command", sorted(CASES))
def test_layers_defaults_config_set_flags(runner: Any, tmp_path: Path, built: list[Any], command: str) -> None:
    key, in_file, in_set, flag, in_flag = CASES[command]
    cfg_file = tmp_path / "section.yaml"
    cfg_file.write_bytes(_section(key, in_file))
    layers = {
        "default": [],
        "file": ["--config", str(cfg_file)],
        "set": ["--config", str(cfg_file), "--set", f"{key}={in_set}"],
        "flag": ["--config", str(cfg_file), "--set", f"{key}={in_set}", flag, str(in_flag)],
        "flag before set": [flag, str(in_flag), "--set", f"{key}={in_set}"],
    }
    got = {}
    for name, extra in layers.items():
        built.clear()
        res = _invoke(runner, tmp_path, command, *extra)
        assert res.exit_code == 2 and "stopped after the config" in res.stderr, (name, res.stderr)
        got[name] = _get(built[-1], key)
    assert got["default"] not in (in_file, in_set, in_flag)
    assert got == {
        "default": got["default"],
        "file": in_file,
        "set": in_set,
        "flag": in_flag,
        "flag before set": in_flag,  # a flag given wins wherever it stands
    }


@pytest.mark.parametrize("command", sorted(CASES))
def test_unknown_keys_and_bad_values_are_one_line_exit_2(runner: Any, tmp_path: Path, command: str) -> None:
    key = CASES[command][0]
    res = _invoke(runner, tmp_path, command, "--set", "no_such_key=1")
    assert res.exit_code == 2
    assert "'no_such_key'" in res.stderr and res.stderr.count("\n") == 1, res.stderr
    cfg_file = tmp_path / "bad.yaml"
    cfg_file.write_bytes(b"bogus_key: 1\n")
    res = _invoke(runner, tmp_path, command, "--config", str(cfg_file))
    assert res.exit_code == 2 and "'bogus_key'" in res.stderr and res.stderr.count("\n") == 1, res.stderr
    res = _invoke(runner, tmp_path, command, "--set", f"{key}=[1, 2]")  # a list: no key takes one
    assert res.exit_code == 2 and key.split(".")[-1] in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert "Traceback" not in res.stderr


def test_a_value_is_not_a_section(runner: Any, tmp_path: Path) -> None:
    res = _invoke(runner, tmp_path, "select", "--set", "strategy.x=1")
    assert res.exit_code == 2 and "'strategy' is a value, not a section" in res.stderr


def test_a_pipeline_file_gives_its_stage_section_and_seed(runner: Any, tmp_path: Path, built: list[Any]) -> None:
    pipe = tmp_path / "pipe.yaml"
    pipe.write_bytes(b"seed: 13\nstages:\n  - embed\n  - select: {budget: 0.25, strategy: kmq}\n")
    res = _invoke(runner, tmp_path, "select", "--config", str(pipe), budget=False)
    assert res.exit_code == 2, res.stderr
    cfg = built[-1]
    assert (cfg.budget, cfg.strategy, cfg.seed) == (0.25, "kmq", 13)
    built.clear()
    _invoke(runner, tmp_path, "select", "--config", str(pipe), "--set", "select.budget=7", "--seed", "2", budget=False)
    assert (built[-1].budget, built[-1].seed) == (7, 2)  # 'select.' may prefix the key, as in `qdc run --set`
    res = _invoke(runner, tmp_path, "dedup", "--config", str(pipe))
    assert res.exit_code == 2 and "has no `dedup` stage" in res.stderr


def test_a_file_with_the_section_under_its_stage_name(runner: Any, tmp_path: Path, built: list[Any]) -> None:
    """`select: {...}` (copied from a pipeline) reads as the section; other top-level keys stay errors."""
    f = tmp_path / "s.yaml"
    f.write_bytes(b"seed: 5\nselect: {budget: 0.25, strategy: random}\n")
    _invoke(runner, tmp_path, "select", "--config", str(f), budget=False)
    assert (built[-1].budget, built[-1].strategy, built[-1].seed) == (0.25, "random", 5)
    f.write_bytes(b"select: {budget: 0.25}\nembed: {batch_size: 8}\n")
    res = _invoke(runner, tmp_path, "select", "--config", str(f), budget=False)
    assert res.exit_code == 2 and "unknown key" in res.stderr


def test_flag_names_read_as_fields_in_a_config_file(runner: Any, tmp_path: Path, built: list[Any]) -> None:
    cfg_file = tmp_path / "d.yaml"
    cfg_file.write_bytes(b"method: exact\nnum-perm: 64\n")
    _invoke(runner, tmp_path, "dedup", "--config", str(cfg_file))
    assert (built[-1].methods, built[-1].num_perm) == (("exact",), 64)


def test_config_changes_what_dedup_does(runner: Any, tmp_path: Path) -> None:
    rows = [
        {"id": "a", "text": "the cat sat on the mat and looked at the garden today"},
        {"id": "b", "text": "the cat sat on the mat and looked at the garden today too"},
        {"id": "c", "text": "something else entirely, about rust compilers and borrow checking"},
    ]
    src = write_jsonl(tmp_path / "rows.jsonl", rows)
    out = tmp_path / "out.jsonl"

    def removed(*extra: str) -> int:
        res = runner.invoke(app, ["dedup", str(src), "-o", str(out), "--json", *extra])
        assert res.exit_code == 0, res.stderr
        return int(orjson.loads(res.stdout)["rows_removed"])

    cfg_file = tmp_path / "exact.yaml"
    cfg_file.write_bytes(b"methods: exact\n")
    assert removed() == 1  # minhash finds the near-duplicate
    assert removed("--config", str(cfg_file)) == 0  # exact only
    assert removed("--config", str(cfg_file), "--method", "exact,minhash") == 1  # the flag wins


def test_every_pipeline_stage_command_takes_config_and_set() -> None:
    import typer

    from qdc.pipeline.config import available_stages

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for stage in available_stages():
        params = {p.name for p in commands[stage].params}
        assert {"config", "set_"} <= params, stage
    assert set(CASES) >= set(available_stages())  # and each is covered by the layering test above


def test_score_quality_embedding_flags_set_the_lm_scorer_only_when_given(
    runner: Any, tmp_path: Path, built: list[Any]
) -> None:
    _invoke(runner, tmp_path, "score-quality", "--scorer", "lm")
    lm = built[-1].lm
    assert lm.batch_size != 64 and lm.cache is True  # the lm section's own defaults, not the embedder's 64
    built.clear()
    _invoke(runner, tmp_path, "score-quality", "--scorer", "lm", "--batch-size", "3", "--device", "cpu", "--no-cache")
    cfg = built[-1]
    assert (cfg.lm.batch_size, cfg.lm.device, cfg.lm.cache, cfg.judge.cache) == (3, "cpu", False, False)
    built.clear()
    _invoke(
        runner,
        tmp_path,
        "score-quality",
        "--judge-model",
        "m1",
        "--set",
        "lm.model=x.gguf",
        "--set",
        "lm.max_tokens=64",
    )
    assert (built[-1].judge.model, built[-1].lm.model, built[-1].lm.max_tokens) == ("m1", "x.gguf", 64)


def test_a_flag_that_became_a_key_says_the_set_item(runner: Any, tmp_path: Path, built: list[Any]) -> None:
    """A removed strategy knob is a one-line usage error (exit 2) naming its --set item, sections included."""
    cases = {
        ("select", "--alpha", "1"): "--alpha is a config key now: use --set bandit.alpha=VALUE",
        ("select", "--within", "top"): "--within is a config key now: use --set within=VALUE",
        ("select", "--no-junk-gate"): "--no-junk-gate is a config key now: use --set junk_gate=false",
        ("dedup", "--num-perm", "64"): "--num-perm is a config key now: use --set num_perm=VALUE",
        ("score-complexity", "--model", "m2"): "--model is a config key now: use --set judge.model=VALUE",
        ("scale select", "--within", "top"): "--within is a config key now: use --set within=VALUE",
    }
    for (command, *extra), says in cases.items():
        res = _invoke(runner, tmp_path, command, *extra)
        assert res.exit_code == 2 and says in res.stderr and res.stderr.count("\n") == 1, res.stderr
        assert not built  # refused before any config was built
    res = _invoke(runner, tmp_path, "select", "--no-such-knob", "1")
    assert res.exit_code == 2 and "No such option: --no-such-knob" in res.stderr and "config key" not in res.stderr


def test_an_output_over_a_file_named_by_set_is_refused(runner: Any, tmp_path: Path) -> None:
    """A file the config reads (judge.rubric, lm.model), given by --set, a section-prefixed --set or --config,
    is an input: -o on it exits 2 and the file is kept."""
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    for key in ("judge.rubric", "lm.model"):
        target = tmp_path / f"{key}.yaml"
        config = tmp_path / f"{key}.config.yaml"
        section, field = key.split(".")
        config.write_text(f"{section}:\n  {field}: {target}\n")
        for how in (
            ["--set", f"{key}={target}"],
            ["--set", f"score-quality.{key}={target}"],
            ["--config", str(config)],
        ):
            target.write_text("kept\n")
            res = runner.invoke(app, ["score-quality", str(src), "-o", str(target), *how])
            assert res.exit_code == 2, (how, res.output)
            assert f"is the same file as {key}" in res.stderr, (how, res.stderr)
            assert target.read_text() == "kept\n"
    ok = runner.invoke(
        app, ["score-quality", str(src), "-o", str(tmp_path / "out.jsonl"), "--set", "judge.rubric=quality6"]
    )
    assert ok.exit_code == 0, ok.output


def test_paths_are_checked_once_and_before_a_config_error(runner: Any, tmp_path: Path, monkeypatch: Any) -> None:
    """check_paths runs once per command with a config (the parameters' files and the config's together); when
    the config is bad too, an output over the input is still what is said."""
    import qdc.cli._options as options

    calls: list[int] = []
    real = options.check_paths
    monkeypatch.setattr(options, "check_paths", lambda *args: (calls.append(len(args)), real(*args))[1])
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    config = tmp_path / "c.yaml"
    config.write_text("scorer: heuristic\n")
    res = runner.invoke(app, ["score-quality", str(src), "-o", str(tmp_path / "o.jsonl"), "--config", str(config)])
    assert res.exit_code == 0, res.stderr
    assert calls == [2]  # one call, with the built config
    config.write_text("no_such_key: 1\n")
    res = runner.invoke(app, ["score-quality", str(src), "-o", str(src), "--config", str(config)])
    assert res.exit_code == 2 and "is the same file as the input" in res.stderr, res.stderr
