"""The I/O layer: formats, field preservation, ids, text selection, bad input, atomic writes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdc import schema
from qdc.errors import ConfigError, DataError
from qdc.io import IOConfig, ReadReport, atomic_path, detect_format, read_records, write_records

from .conftest import write_jsonl

ROWS = [
    {"id": "a", "instruction": "Say hi", "input": "", "output": "Hi!", "meta": {"k": 1}},
    {"id": "b", "instruction": "Add 2 and 3", "input": "", "output": "5", "meta": {"other": [1, 2]}},
    {"id": "c", "instruction": "Name a colour", "output": "Blue", "extra": None},
]


@pytest.mark.parametrize("name", ["x.jsonl", "x.jsonl.gz", "x.jsonl.zst", "x.parquet"])
def test_round_trip_every_format(tmp_path: Path, name: str) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    df = read_records(src)
    write_records(df, tmp_path / name)
    back = read_records(tmp_path / name)
    assert back[schema.ROW_ID].to_list() == ["a", "b", "c"]
    assert back[schema.TEXT].to_list() == df[schema.TEXT].to_list()


@pytest.mark.parametrize("name", ["x.jsonl", "x.jsonl.gz", "x.jsonl.zst"])
def test_jsonl_keeps_every_field_in_order_unchanged(tmp_path: Path, name: str) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    df = read_records(src).with_columns(pl.lit(1).alias("qdc_flag"))
    write_records(df, tmp_path / name)
    raw = (tmp_path / name).read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    if name.endswith(".zst"):
        import zstandard

        raw = zstandard.ZstdDecompressor().stream_reader(raw).read()
    out = [orjson.loads(line) for line in raw.splitlines()]
    for original, written in zip(ROWS, out, strict=True):
        assert list(written)[: len(original)] == list(original)  # same keys, same order
        assert {k: written[k] for k in original} == original  # same values (no nulls added to structs)
        assert written["qdc_flag"] == 1


def test_old_qdc_columns_are_replaced_not_duplicated(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": "x", "qdc_cluster": 4}])
    df = read_records(src).with_columns(pl.lit(7).alias(schema.CLUSTER))
    write_records(df, tmp_path / "o.jsonl")
    line = (tmp_path / "o.jsonl").read_text().strip()
    assert line.count("qdc_cluster") == 1
    assert json.loads(line) == {"id": 1, "text": "x", "qdc_cluster": 7}


def test_same_frame_same_bytes_including_gzip(tmp_path: Path) -> None:
    df = read_records(write_jsonl(tmp_path / "in.jsonl", ROWS))
    write_records(df, tmp_path / "a.jsonl.gz")
    write_records(df, tmp_path / "b.jsonl.gz")
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()


def test_text_from_alpaca_fields_skips_empty_input(tmp_path: Path) -> None:
    df = read_records(write_jsonl(tmp_path / "in.jsonl", ROWS))
    assert df[schema.TEXT][0] == "Say hi\n\nHi!"
    assert df[schema.PROMPT][0] == "Say hi"
    assert df[schema.RESPONSE][1] == "5"


def test_text_field_and_template(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [{"q": "Why?", "a": "Because."}])
    assert read_records(path, IOConfig(text_field="q"))[schema.TEXT][0] == "Why?"
    df = read_records(path, IOConfig(template="Q: {q}\nA: {a}"))
    assert df[schema.TEXT][0] == "Q: Why?\nA: Because."


def test_chat_messages_with_role_choice(tmp_path: Path) -> None:
    row = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
        ]
    }
    path = write_jsonl(tmp_path / "in.jsonl", [row])
    df = read_records(path)
    assert df[schema.TEXT][0] == "Hi\n\nHello"
    assert df[schema.PROMPT][0] == "Be brief.\n\nHi"
    assert df[schema.RESPONSE][0] == "Hello"
    assert read_records(path, IOConfig(roles=("user",)))[schema.TEXT][0] == "Hi"


def test_sharegpt_conversations(tmp_path: Path) -> None:
    row = {"conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]}
    df = read_records(write_jsonl(tmp_path / "in.jsonl", [row]))
    assert (df[schema.PROMPT][0], df[schema.RESPONSE][0]) == ("2+2?", "4")


def test_derived_ids_are_stable_and_unique(tmp_path: Path) -> None:
    rows = [{"text": "same"}, {"text": "same"}, {"text": "other"}]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    a, b = read_records(path), read_records(path)
    ids = a[schema.ROW_ID].to_list()
    assert ids == b[schema.ROW_ID].to_list()
    assert len(set(ids)) == 3 and ids[1] == ids[0] + "-2"
    assert a[schema.ID].to_list() == ids  # written so later steps can refer to them


def test_duplicate_explicit_ids_name_both_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": "a"}, {"id": 1, "text": "b"}])
    with pytest.raises(DataError, match=r"in.jsonl:2: duplicate id '1' \(first seen at line 1\)"):
        read_records(path)


@pytest.mark.parametrize("second", ["a2.jsonl", "a2.parquet"])
@pytest.mark.parametrize("rows", [[{"id": f"r{i}", "text": f"t{i}"} for i in range(3)], ROWS])
def test_duplicate_id_across_files_names_the_first_file(tmp_path: Path, rows: list[dict], second: str) -> None:
    # Plain text rows (the batch path) and instruction rows (row by row); the first sighting is a1's line 3.
    a1 = write_jsonl(tmp_path / "a1.jsonl", rows)
    a2 = write_jsonl(tmp_path / "a2.jsonl", [{**rows[1], "id": "new"}, rows[2]])
    if second.endswith(".parquet"):
        a2 = tmp_path / second
        pl.read_ndjson(tmp_path / "a2.jsonl").write_parquet(a2)
    rid = rows[2]["id"]
    with pytest.raises(DataError, match=rf"{second}:2: duplicate id '{rid}' \(first seen at \S*a1.jsonl:3\)"):
        read_records([a1, a2])
    # A repeat inside the second file still says 'line N' of that file; skip mode keeps the first sighting.
    a3 = write_jsonl(tmp_path / "a3.jsonl", [{**rows[0], "id": "x"}, {**rows[1], "id": "x"}])
    with pytest.raises(DataError, match=r"a3.jsonl:2: duplicate id 'x' \(first seen at line 1\)"):
        read_records([a1, a3])
    report = ReadReport()
    df = read_records([a1, a2], IOConfig(on_bad_rows="skip"), report=report)
    assert df.height == 4 and [b.reason.split(" (")[0] for b in report.bad_rows] == [f"duplicate id '{rid}'"]
    assert "a1.jsonl:3)" in report.bad_rows[0].reason


@pytest.mark.parametrize("buffered", [True, False])
def test_stdin_gzip_and_zstd_are_decompressed_and_parquet_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, buffered: bool
) -> None:
    import io
    import sys

    import zstandard

    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    plain = src.read_bytes()
    pl.read_ndjson(src).write_parquet(tmp_path / "in.parquet")

    def from_stdin(data: bytes) -> pl.DataFrame:
        raw = io.BytesIO(data)  # no peek: the head is read and chained back; buffered: peeked
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(raw) if buffered else raw))
        return read_records("-")

    want = from_stdin(plain).drop(schema.SRC)
    assert want.height == len(ROWS)
    for data in (gzip.compress(plain, mtime=0), zstandard.ZstdCompressor().compress(plain)):
        assert from_stdin(data).drop(schema.SRC).equals(want)
    with pytest.raises(DataError, match=r"^-: truncated gzip file"):
        from_stdin(gzip.compress(plain)[:-9])
    with pytest.raises(DataError, match=r"^-: stdin looks like Parquet .*pass the file name"):
        from_stdin((tmp_path / "in.parquet").read_bytes())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"text": "ok"}\n{"text": "broken"\n', r"in.jsonl:2: malformed JSON"),
        (b'{"text": "ok"}\n[1, 2]\n', r"in.jsonl:2: expected a JSON object"),
        (b'{"text": "ok"}\n{"txt": "x"}\n', r"in.jsonl:2: missing text field 'text'"),
        (b'{"text": "ok"}\n\n{"text": 5}\n', r"in.jsonl:3: field 'text' is a number, expected a string"),
        (b"", r"in.jsonl: empty input"),
        (b"\n\n", r"in.jsonl: empty input"),
        (b'{"id": 1, "text": "ok"}\n{"text": "\xff"}\n', r"in.jsonl:2: malformed JSON"),
        (b'{"foo": 1}\n', r"in.jsonl:1: no text to analyse"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_records(path)


def test_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "hello"}\n' * 50)[:-12])
    with pytest.raises(DataError, match="truncated gzip"):
        read_records(path)


def test_skip_mode_quarantines_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "a"}\n{"text": \n{"text": 3}\n{"text": "b"}\n')
    report = ReadReport()
    df = read_records(path, IOConfig(on_bad_rows="skip"), report)
    assert df[schema.TEXT].to_list() == ["a", "b"]
    assert df[schema.LINE].to_list() == [1, 4]
    assert [(b.line, b.raw) for b in report.bad_rows] == [(2, b'{"text": '), (3, b'{"text": 3}')]


def test_outputs_get_ordinary_file_permissions(tmp_path: Path) -> None:
    import os

    df = read_records(write_jsonl(tmp_path / "in.jsonl", ROWS))
    write_records(df, tmp_path / "o.jsonl")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "o.jsonl").stat().st_mode & 0o777 == 0o666 & ~mask


def test_unknown_extension_is_a_usage_error() -> None:
    with pytest.raises(ConfigError):
        detect_format("data.csv")
    with pytest.raises(ConfigError, match="redirect"):  # the way to discard rows is said
        detect_format("/dev/null")


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_integers_beyond_64_bits_survive(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "a", "big": 123456789012345678901234567890}\n{"text": "b", "big": 1}\n')
    df = read_records(path)
    write_records(df.with_columns(pl.lit(1).alias("qdc_x")), tmp_path / "o.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert rows[0]["big"] == 123456789012345678901234567890 and rows[1]["big"] == 1


def test_mixed_types_in_a_field_survive(tmp_path: Path) -> None:
    rows = [{"id": 1, "text": "a", "score": 1}, {"id": 2, "text": "b", "score": "high"}]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    df = read_records(path)
    write_records(df, tmp_path / "o.jsonl")
    assert [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()] == rows


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False, width=64),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
rows_strategy = st.lists(
    st.fixed_dictionaries({"text": st.text(max_size=40)}, optional={"meta": json_values, "n": st.integers()}),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy)
def test_hypothesis_jsonl_round_trip_preserves_values(tmp_path: Path, rows: list[dict]) -> None:
    src = tmp_path / "h.jsonl"
    src.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    df = read_records(src)
    write_records(df, tmp_path / "h_out.jsonl")
    back = [json.loads(x) for x in (tmp_path / "h_out.jsonl").read_bytes().splitlines()]
    stripped = [{k: v for k, v in r.items() if not k.startswith("qdc_")} for r in back]
    assert stripped == rows
    assert df[schema.TEXT].to_list() == [r["text"] for r in rows]


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.floats(width=64), st.integers(-(2**63), 2**63 - 1)), max_size=30))
def test_number_fragments_are_the_one_by_one_json(values: list[float | int | None]) -> None:
    from qdc.io import _json_fragments

    floats = pl.Series([None if v is None else float(v) for v in values], dtype=pl.Float64)
    want = [
        b"null" if v is None or v != v or v in (float("inf"), float("-inf")) else orjson.dumps(v)
        for v in floats.to_list()
    ]
    assert _json_fragments(floats) == want
    ints = pl.Series([v if isinstance(v, int) else None for v in values], dtype=pl.Int64)
    assert _json_fragments(ints) == [orjson.dumps(v) for v in ints.to_list()]
    flags = pl.Series([None if v is None else bool(v) for v in values], dtype=pl.Boolean)
    assert _json_fragments(flags) == [orjson.dumps(v) for v in flags.to_list()]
    assert _json_fragments(pl.Series(["a,b", None, "c"])) == [b'"a,b"', b"null", b'"c"']


def test_raw_lines_keep_bytes_and_drop_only_top_level_qdc_keys(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [
        b'{"id": 1, "text": "a",   "k": 1.50, "note": "mentions \\"qdc_x\\" in a value"}',
        b'{"id": 2, "text": "b", "qdc_old": 3, "nested": {"qdc_in": 1}}',
    ]
    src.write_bytes(b"\n".join(lines) + b"\n")
    write_records(read_records(src), tmp_path / "o.jsonl")
    out = (tmp_path / "o.jsonl").read_bytes().splitlines()
    assert out[0] == lines[0][:-1] + b',"qdc_old":null}'  # untouched, spacing and number spelling included
    assert orjson.loads(out[1]) == {"id": 2, "text": "b", "nested": {"qdc_in": 1}, "qdc_old": 3}


def test_parquet_bad_row_is_quarantined_with_its_whole_row(tmp_path: Path) -> None:
    pl.DataFrame({"id": ["a", "b"], "text": ["ok", None], "qdc_embedding": [[1.0, 0.0], [0.0, 1.0]]}).write_parquet(
        tmp_path / "in.parquet"
    )
    report = ReadReport()
    df = read_records(tmp_path / "in.parquet", IOConfig(on_bad_rows="skip"), report)
    assert df[schema.ROW_ID].to_list() == ["a"]
    assert [b.line for b in report.bad_rows] == [2]
    assert orjson.loads(report.bad_rows[0].raw) == {"id": "b", "text": None, "qdc_embedding": [0.0, 1.0]}


def test_parquet_that_cannot_be_opened_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing Parquet file, a folder named .parquet and one without read permission get the one-line
    messages of every input (`qdc.errors.opening`); a file that opens but is not Parquet says so."""
    import qdc.io.read as read_mod

    with pytest.raises(DataError, match=r"^\S*nope\.parquet: no such file$"):
        read_records(tmp_path / "nope.parquet")
    (tmp_path / "dir.parquet").mkdir()
    with pytest.raises(DataError, match=r"^\S*dir\.parquet: is a folder, expected a file$"):
        list(read_mod._parquet_frames(str(tmp_path / "dir.parquet"), 10))
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"junk\.parquet: not a readable Parquet file \("):
        read_records(tmp_path / "junk.parquet")
    good = tmp_path / "ok.parquet"
    pl.DataFrame({"id": ["a"], "text": ["t"]}).write_parquet(good)

    def denied(path: str, mode: str = "r") -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(read_mod, "open", denied, raising=False)  # root reads any file: the error is simulated
    with pytest.raises(DataError, match=r"^\S*ok\.parquet: permission denied$"):
        read_records(good)
