"""Parquet and in-memory frames read by whole columns give exactly what the per-row path gives."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from qdc.errors import DataError
from qdc.io import ReadReport, prepare, read_records
from qdc.io import read as read_mod
from qdc.io.rows import IOConfig

CASES = {
    "string ids": {"id": ["a", "b", "c"], "text": ["one", " ", "three"], "extra": [1, 2, 3]},
    "int ids": {"id": [3, 1, 2], "text": ["x y", "\u3000", "z"]},
    "no id field": {"text": ["p", "q", "p"]},
    "null text": {"id": ["a", "b"], "text": ["ok", None]},
    "null id": {"id": ["a", None], "text": ["ok", "fine"]},
    "float ids": {"id": [1.0, 2.0], "text": ["ok", "fine"]},
    "pair scheme": {"id": ["a", "b"], "instruction": ["do", "go"], "output": ["done", "gone"]},
    "text not a string": {"id": ["a", "b"], "text": [1, 2]},
    "embedding column": {"id": ["a", "b"], "text": ["u", "v"], "qdc_embedding": [[0.6, 0.8], [1.0, 0.0]]},
}


def _read_both(tmp_path, data, monkeypatch, cfg=None):
    path = tmp_path / "rows.parquet"
    pl.DataFrame(data).write_parquet(path)
    results = []
    for column_path in (True, False):
        if not column_path:
            monkeypatch.setattr(read_mod, "_column_rows", lambda *a: False)
        report = ReadReport()
        try:
            results.append((read_records(str(path), cfg or IOConfig(on_bad_rows="skip"), report), report))
        except DataError as exc:
            results.append((str(exc), report))
        monkeypatch.undo()
    return results


@pytest.mark.parametrize("case", sorted(CASES))
def test_column_path_equals_row_path(tmp_path, monkeypatch, case):
    (fast, rf), (slow, rs) = _read_both(tmp_path, CASES[case], monkeypatch)
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert isinstance(fast, pl.DataFrame)
        assert_frame_equal(fast, slow)
    assert rf.text_scheme == rs.text_scheme
    assert [(b.line, b.reason) for b in rf.bad_rows] == [(b.line, b.reason) for b in rs.bad_rows]


def test_duplicate_ids_fall_back_and_fail_as_before(tmp_path, monkeypatch):
    data = {"id": ["a", "b", "a"], "text": ["1", "2", "3"]}
    (fast, _), (slow, _) = _read_both(tmp_path, data, monkeypatch, IOConfig())
    assert isinstance(slow, str) and "duplicate id" in slow and fast == slow


def test_the_column_path_is_taken_for_plain_rows(monkeypatch):
    calls = []
    real = read_mod._column_rows

    def spy(*args):
        calls.append(real(*args))
        return calls[-1]

    monkeypatch.setattr(read_mod, "_column_rows", spy)
    df = prepare(pl.DataFrame({"id": ["a", "b"], "text": ["x", "y"]}))
    assert calls == [True] and df.height == 2
