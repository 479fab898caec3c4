"""The JSONL batch path (qdc.io.fastjsonl) gives exactly the per-row path's frames, reports and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qdc.io.read as read_mod
from qdc import schema
from qdc.errors import QdcError
from qdc.io import IOConfig, ReadReport
from qdc.io.read import iter_batches

PLAIN = [{"id": f"r{i}", "text": f'row {i} says "hi": {"x" * i}', "n": i} for i in range(7)]

CASES: dict[str, bytes] = {
    "plain": b"".join(json.dumps(r).encode() + b"\n" for r in PLAIN),
    "compact_no_final_newline": b"\n".join(json.dumps(r, separators=(",", ":")).encode() for r in PLAIN),
    "int_ids": b"".join(json.dumps({"id": i, "text": f"t{i}"}).encode() + b"\n" for i in range(5)),
    "key_like_values": b'{"id": "a", "text": "k\\": v", "x": "\\"y\\" : 1"}\n{"id": "b", "text": "q :", "y": 2}\n',
    "nested": b'{"id": "a", "text": "t", "meta": {"k": 1, "j": [{"z": 2}]}}\n{"id": "b", "text": "u", "meta": {}}\n',
    "duplicate_key": b'{"id": "a", "text": "t"}\n{"id": "b", "text": "u", "text": "v"}\n',
    "duplicate_key_spaced": b'{"id": "a", "text": "t"}\n{"id": "b", "text" : "u", "text" : "v"}\n',
    "duplicate_nested_key": b'{"id": "a", "text": "t", "m": {"k": 1, "k": 2}}\n',
    "bad_json": b'{"id": "a", "text": "t"}\n{"id": "b", "text": \n{"id": "c", "text": "w"}\n',
    "blank_line": b'{"id": "a", "text": "t"}\n\n{"id": "c", "text": "w"}\n',
    "space_line": b'{"id": "a", "text": "t"}\n   \n{"id": "c", "text": "w"}\n',
    "crlf": b'{"id": "a", "text": "t"}\r\n{"id": "c", "text": "w"}\r\n',
    "cr_last_line": b'{"id": "a", "text": "t"}\n{"id": "c", "text": "w"}\r',
    "duplicate_key_tab": b'{"id": "a", "text"\t: "t", "text"\t: "u"}\n',
    "duplicate_key_cr": b'{"id": "a", "text"\r: "t", "text"\r: "u"}\n',
    "leading_space": b'  {"id": "a", "text": "t"}  \n\t{"id": "c", "text": "w"}\n',
    "bom": b'\xef\xbb\xbf{"id": "a", "text": "t"}\n{"id": "c", "text": "w"}\n',
    "not_object": b'{"id": "a", "text": "t"}\n[1, 2]\n',
    "no_ids": b'{"text": "t"}\n{"text": "t"}\n{"text": "u"}\n',
    "some_ids": b'{"id": "a", "text": "t"}\n{"text": "u"}\n',
    "mixed_ids": b'{"id": "1", "text": "t"}\n{"id": 2, "text": "u"}\n',
    "duplicate_ids": b'{"id": "a", "text": "t"}\n{"id": "b", "text": "u"}\n{"id": "a", "text": "w"}\n',
    "text_not_string": b'{"id": "a", "text": "t"}\n{"id": "b", "text": 5}\n',
    "text_null": b'{"id": "a", "text": "t"}\n{"id": "b", "text": null}\n',
    "text_missing": b'{"id": "a", "text": "t"}\n{"id": "b", "other": "x"}\n',
    "empty_texts": b'{"id": "a", "text": " "}\n{"id": "b", "text": "u"}\n{"id": "c", "text": "\\n"}\n',
    "big_int": b'{"id": "a", "text": "t", "n": 123456789012345678901234567890}\n',
    "invalid_utf8": b'{"id": "a", "text": "t\xff"}\n',
    "unicode": '{"id": "a", "text": "caf\u00e9 \u2028 \U0001f600"}\n{"id": "b", "text": "\\ud83d\\ude00"}\n'.encode(),
    "chat": b'{"id": "a", "messages": [{"role": "user", "content": "hi"}]}\n',
    "json_array": b'[{"id": "a", "text": "t"}, {"id": "b", "text": "u"}]',
    "colons_in_strings": b'{"id": "a", "text": "a : b \\" : c \\\\ : d", "k": "x:"}\n{"id": "b:", "text": ":"}\n',
    "duplicate_after_escapes": b'{"id": "a\\\\", "text": "x\\\\\\": y", "text": "z"}\n',
    "duplicate_after_colon_text": b'{"id": "a", "text": "q : r", "x": 1, "x": 2}\n',
}


def _read(path: Path, fast: bool, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[Any, ...]:
    calls: list[bool] = []
    real = read_mod.add_plain_lines

    def spy(*a: Any, **k: Any) -> Any:
        got = real(*a, **k) if fast else None
        calls.append(got is not None)
        return got

    monkeypatch.setattr(read_mod, "add_plain_lines", spy)
    report = ReadReport()
    try:
        frames = list(iter_batches(str(path), report=report, **kw))
    except QdcError as exc:
        return ("error", type(exc).__name__, str(exc)), calls
    bad = [(b.line, b.reason, b.raw) for b in report.bad_rows]
    return (frames, bad, report.text_scheme), calls


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    if a[0] == "error" or b[0] == "error":
        assert a == b
        return
    assert len(a[0]) == len(b[0])
    for fa, fb in zip(a[0], b[0], strict=True):
        assert fa.columns == fb.columns
        assert fa.schema == fb.schema
        assert fa.equals(fb), (fa, fb)
    assert a[1:] == b[1:]


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("batch_rows", [1, 2, 100_000])
@pytest.mark.parametrize("on_bad_rows", ["error", "skip"])
def test_batch_path_equals_row_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, batch_rows: int, on_bad_rows: str
) -> None:
    path = tmp_path / ("data.json" if name == "json_array" else "data.jsonl")
    path.write_bytes(CASES[name])
    cfg = IOConfig(on_bad_rows=on_bad_rows)  # type: ignore[arg-type]
    for user_columns in (True, False):
        kw = {"cfg": cfg, "batch_rows": batch_rows, "user_columns": user_columns}
        fast, _ = _read(path, True, monkeypatch, **kw)
        slow, _ = _read(path, False, monkeypatch, **kw)
        _same(fast, slow)


@pytest.mark.parametrize(
    "name", ["plain", "compact_no_final_newline", "int_ids", "key_like_values", "nested", "colons_in_strings"]
)
def test_plain_files_take_the_batch_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(CASES[name])
    _, calls = _read(path, True, monkeypatch)
    assert calls == [True]
    _, calls = _read(path, True, monkeypatch, batch_rows=2)
    assert calls and all(calls)


def test_unusual_batch_falls_back_for_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(CASES["plain"] + b'{"id": "dup", "text": "a", "text": "b"}\n' + CASES["plain"].replace(b"r", b"s"))
    fast, calls = _read(path, True, monkeypatch, batch_rows=3, cfg=IOConfig(on_bad_rows="skip"))
    slow, _ = _read(path, False, monkeypatch, batch_rows=3, cfg=IOConfig(on_bad_rows="skip"))
    _same(fast, slow)
    assert calls[:2] == [True, True] and calls[2] is False  # the 3rd batch holds the bad line
    assert [b[0] for b in fast[1]] == [8]


def test_several_files_and_ids_across_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.jsonl").write_bytes(CASES["plain"])
    (tmp_path / "b.jsonl").write_bytes(CASES["plain"][: CASES["plain"].index(b"\n") + 1])  # r0 again
    fast, _ = _read(tmp_path, True, monkeypatch)
    slow, _ = _read(tmp_path, False, monkeypatch)
    assert fast[0] == "error" and "duplicate id" in fast[2]
    _same(fast, slow)
    df = pl.concat(_read(tmp_path / "a.jsonl", True, monkeypatch)[0][0])
    assert df[schema.LINE].to_list() == list(range(1, 8))


@pytest.mark.parametrize("chunk", [1, 3, 8192])
def test_raw_line_writer_equals_row_writer(tmp_path: Path, chunk: int) -> None:
    import io

    from qdc.io.read import read_records
    from qdc.io.write import _write_raw_lines, to_jsonl_lines

    rows = [{"id": f"r{i}", "text": f"t {i} \u00e9"} for i in range(7)]
    rows[4]["qdc_quality"] = 0.5  # an old qdc_ key: left out when written back
    rows[5]["note"] = 'says "qdc_x": 1'  # mentions one in a value only: kept
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    df = read_records(str(path)).drop("qdc_quality")
    out = io.BytesIO()
    _write_raw_lines(df[schema.RAW], out, chunk=chunk)
    expected = b"".join(line + b"\n" for line in to_jsonl_lines(df))
    assert out.getvalue() == expected
    assert b"qdc_quality" not in expected and expected.count(b"\n") == 7
    none = io.BytesIO()
    _write_raw_lines(df[schema.RAW].head(0), none, chunk=chunk)
    assert none.getvalue() == b""


def test_key_counts_prove_lines_with_colons_in_strings() -> None:
    """Colons inside strings (escaped quotes and backslashes around them) leave a line proved by the count;
    a duplicate key, even behind such strings, does not."""
    import orjson

    from qdc.io.fastjsonl import _unproved_lines

    lines = [
        b'{"id": "a", "text": "f(x) : y \\" : \\\\", "m": {"k": "1 : 2"}}\n',
        b'{"id": "b\\\\", "text": "int x : xs"}\n',
        b'{"id": "c", "text": "a \\": b", "text": "c"}\n',
        b'{"id": "d", "m": {"k": 1, "k": 2}, "text": ":"}\n',
        b'{"id" : "e", "text" : "spaced keys, no duplicate"}\n',
    ]
    objs = [orjson.loads(line) for line in lines]
    assert _unproved_lines(lines, objs) == [2, 3]


_SCALAR = st.one_of(
    st.text(max_size=6),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from("ab"), st.integers(0, 3), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["id", "text", "n", "x y", "é"]), _SCALAR, min_size=1, max_size=5),
        min_size=1,
        max_size=6,
    )
)
def test_typed_columns_equal_polars_parse(rows: list[dict[str, Any]]) -> None:
    """Columns built from the parsed objects are polars' own parse of the lines (names, order, types,
    values), or None; a plain table of strings, bools or 64-bit ints (one type per key) is always built."""
    import io

    import orjson

    from qdc.io.fastjsonl import typed_columns

    lines = [json.dumps(r).encode() + b"\n" for r in rows]  # ints past 64 bits too (orjson reads them as floats)
    objs = [orjson.loads(line) for line in lines]
    got = typed_columns(objs, {})
    keys = list(rows[0])
    plain = all(list(r) == keys or set(r) == set(keys) for r in rows) and all(
        len({type(r[k]) for r in rows}) == 1
        and type(rows[0][k]) in (str, bool, int)
        and (type(rows[0][k]) is not int or all(-(1 << 63) <= r[k] < 1 << 63 for r in rows))
        for k in keys
    )
    assert (got is not None) == plain
    if got is not None:
        want = pl.read_ndjson(io.BytesIO(b"".join(lines)), infer_schema_length=None)
        assert got.schema == want.schema
        assert got.equals(want)


def test_plain_table_is_not_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain table's user columns come from the objects (no second parse by polars) and its text column is
    the hidden text's data; a nested field still goes through polars' parse."""
    import qdc.io.fastjsonl as fj

    parses: list[int] = []
    real = fj._parse_user
    monkeypatch.setattr(fj, "_parse_user", lambda buf: parses.append(len(buf)) or real(buf))
    path = tmp_path / "data.jsonl"
    path.write_bytes(CASES["plain"])
    df = pl.concat(iter_batches(str(path)))
    assert parses == []
    assert df["text"].to_list() == df[schema.TEXT].to_list() == [r["text"] for r in PLAIN]
    assert df["n"].dtype == pl.Int64 and df["n"].to_list() == list(range(7))
    path.write_bytes(CASES["nested"])
    df = pl.concat(iter_batches(str(path)))
    assert len(parses) == 1 and df["meta"].dtype == pl.Struct
