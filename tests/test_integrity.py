"""The integrity battery: nothing is lost silently and odd input never crashes qdc.

Built so that new commands and flags are covered by construction: the aliasing cases are generated from
the CLI itself (every command, every output parameter), and a path parameter that is not classified fails
`test_every_path_parameter_is_classified`.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from qdc.cli import app
from qdc.cli._common import INPUT_PARAMS, OUTPUT_PARAMS

# String parameters that are not file paths (names, expressions, choices, folders).
NOT_PATHS = {
    "allocation",
    "api_key_env",
    "backend",
    "base_url",
    "budget",
    "budgets",
    "cost_field",
    "dedup",
    "device",
    "dtype",
    "embed_field",
    "explain",
    "explain_id",
    "feedback",
    "gap",
    "accept",
    "field",
    "field_type",
    "group_field",
    "id_field",
    "keep",
    "label_field",
    "lexical_field",
    "max_memory",
    "method",
    "model",
    "normalize",
    "on_bad_rows",
    "quota",
    "ray_address",
    "required_fields",
    "roles",
    "score",
    "scorer",
    "semantic_mode",
    "semantic_order",
    "set_",
    "signals",
    "strategies",
    "strategy",
    "template",
    "text_field",
    "weights",
    "within",
    "work_dir",  # folders of temporaries, not outputs
    "workdir",
}


def _commands() -> Iterator[tuple[list[str], Any]]:
    def walk(cmd: Any, words: list[str]) -> Iterator[tuple[list[str], Any]]:
        if hasattr(cmd, "commands"):
            for name, sub in sorted(cmd.commands.items()):
                yield from walk(sub, [*words, name])
        else:
            yield words, cmd

    yield from walk(typer.main.get_command(app), [])


COMMANDS = list(_commands())


def _is_path_like(param: Any) -> bool:
    """A parameter typed str or Path (also inside Optional or List)."""
    ann = param.type_descriptor.annotation
    kinds = set(typing.get_args(ann)) | {ann}
    return bool(kinds & {str, Path})


def test_every_path_parameter_is_classified() -> None:
    unknown = [
        f"{' '.join(words)} {p.name}"
        for words, cmd in COMMANDS
        for p in cmd.params
        if _is_path_like(p) and p.name not in OUTPUT_PARAMS | INPUT_PARAMS and p.name not in NOT_PATHS
    ]
    assert not unknown, f"classify these in qdc.cli._common (INPUT_PARAMS/OUTPUT_PARAMS) or NOT_PATHS: {unknown}"


def _argv(words: list[str], cmd: Any, src: Path, overrides: dict[str, str]) -> list[str]:
    """A command line: the input as every input, required options filled, `overrides` for output params."""
    argv = list(words)
    for p in cmd.params:
        value = overrides.get(p.name)
        if value is None and p.name in INPUT_PARAMS and (p.required or p.param_type_name == "argument"):
            value = str(src)
        if value is None and p.required:
            value = str(src.parent / f"req-{p.name}.jsonl") if p.name in OUTPUT_PARAMS else "1"
        if value is None:
            continue
        if p.param_type_name == "argument":
            argv.append(value)
        else:
            argv += [p.opts[0], value]
    return argv


ALIAS_CASES = [
    pytest.param(words, p.name, id=f"{'-'.join(words)}:{p.name}")
    for words, cmd in COMMANDS
    for p in cmd.params
    if p.name in OUTPUT_PARAMS
]


def _cmd(words: list[str]) -> Any:
    return {tuple(w): c for w, c in COMMANDS}[tuple(words)]


@pytest.mark.parametrize(("words", "param"), ALIAS_CASES)
@pytest.mark.parametrize("spelling", ["same", "dot-slash", "symlink", "hardlink"])
def test_output_equal_to_the_input_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, words: list[str], param: str, spelling: str
) -> None:
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "in.jsonl"
    original = b'{"id":"a","text":"hello"}\n{"id":"b","text":"world"}\n'
    src.write_bytes(original)
    target = {"same": str(src), "dot-slash": "./in.jsonl", "symlink": "link.jsonl", "hardlink": "hard.jsonl"}[spelling]
    if spelling == "symlink":
        os.symlink(src, tmp_path / "link.jsonl")
    if spelling == "hardlink":
        os.link(src, tmp_path / "hard.jsonl")
    result = CliRunner().invoke(app, _argv(words, _cmd(words), src, {param: target}))
    assert result.exit_code == 2, result.output
    assert "same file as" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert src.read_bytes() == original


def _output_names(cmd: Any) -> list[str]:
    return [p.name for p in cmd.params if p.name in OUTPUT_PARAMS]


OUTPUT_PAIRS = [
    pytest.param(words, a, b, id=f"{'-'.join(words)}:{a}={b}")
    for words, cmd in COMMANDS
    for i, a in enumerate(_output_names(cmd))
    for b in _output_names(cmd)[i + 1 :]
]


@pytest.mark.parametrize(("words", "first", "second"), OUTPUT_PAIRS)
def test_two_outputs_on_one_file_are_refused(tmp_path: Path, words: list[str], first: str, second: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"id":"a","text":"hello"}\n')
    out = str(tmp_path / "out.jsonl")
    result = CliRunner().invoke(app, _argv(words, _cmd(words), src, {first: out, second: out}))
    assert result.exit_code == 2, result.output
    assert "also the path of" in result.stderr
    assert not Path(out).exists()


def test_alias_battery_covers_every_command_with_an_output() -> None:
    covered = {tuple(c.values[0]) for c in ALIAS_CASES}
    with_output = {tuple(w) for w, cmd in COMMANDS if any(p.name in OUTPUT_PARAMS for p in cmd.params)}
    assert covered == with_output
    assert len(with_output) >= 12  # every command but diversity and check writes a file


def test_default_bad_rows_file_equal_to_the_input_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "o.jsonl.bad-rows.jsonl"
    src.write_bytes(b'{"id":"a","text":"hello"}\n')
    result = CliRunner().invoke(
        app, ["embed", str(src), "-o", str(tmp_path / "o.jsonl"), "--model", "hash:8", "--on-bad-rows", "skip"]
    )
    assert result.exit_code == 2
    assert "the bad-rows file" in result.stderr


def test_distinct_outputs_still_run(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"id":"a","text":"hello"}\n{"id":"b","text":"hello"}\n')
    result = CliRunner().invoke(
        app, ["dedup", str(src), "-o", str(tmp_path / "kept.jsonl"), "--removed", str(tmp_path / "gone.jsonl")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "kept.jsonl").read_bytes().count(b"\n") + (tmp_path / "gone.jsonl").read_bytes().count(
        b"\n"
    ) == 2
