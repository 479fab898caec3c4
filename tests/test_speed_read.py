"""Parquet and in-memory frames read by whole columns give exactly what the per-row path gives."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from qdc import schema
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


def test_column_path_equals_row_path_over_batches(tmp_path, monkeypatch):
    """Batch after batch (each one's texts kept as a Series, then forgotten), the same frames as row by row."""
    from qdc.io import iter_batches

    path = tmp_path / "rows.parquet"
    pl.DataFrame({"id": [f"r{i}" for i in range(10)], "text": [f"text {i}" for i in range(10)]}).write_parquet(path)
    fast = list(iter_batches(str(path), IOConfig(), batch_rows=4))
    monkeypatch.setattr(read_mod, "_column_rows", lambda *a: False)
    slow = list(iter_batches(str(path), IOConfig(), batch_rows=4))
    assert [f.height for f in fast] == [4, 4, 2]
    for a, b in zip(fast, slow, strict=True):
        assert_frame_equal(a, b)


def test_hidden_frame_keeps_the_order_of_series_and_list_rows():
    """A batch's first rows added as a Series and later ones as lists (or the other way round) come out in
    the order they were added, with prompt = text."""
    from qdc.io.rows import _RowBuilder

    for first_series in (True, False):
        b = _RowBuilder("f.parquet", IOConfig(), ReadReport())
        head = ["a", "b"] if not first_series else pl.Series("text", ["a", "b"])
        b.add_plain(["1", "2"], head, 0, [])
        b.add_plain(["3"], pl.Series("text", ["c"]) if not first_series else ["c"], 2, [])
        frame = b.hidden_frame()
        assert frame[schema.TEXT].to_list() == ["a", "b", "c"]
        assert frame[schema.PROMPT].to_list() == ["a", "b", "c"]
        assert frame[schema.ROW_ID].to_list() == ["1", "2", "3"]


def test_column_path_equals_row_path_over_files(tmp_path, monkeypatch):
    """A folder of Parquet files: each file's batch keeps its own texts, ids stay unique across files."""
    folder = tmp_path / "parts"
    folder.mkdir()
    for k in range(3):
        rows = {"id": [f"f{k}-{i}" for i in range(4)], "text": [f"file {k} row {i}" for i in range(4)]}
        pl.DataFrame(rows).write_parquet(folder / f"part{k}.parquet")
    fast = read_records(str(folder))
    monkeypatch.setattr(read_mod, "_column_rows", lambda *a: False)
    slow = read_records(str(folder))
    assert fast.height == 12 and fast[schema.TEXT].to_list()[4] == "file 1 row 0"
    assert_frame_equal(fast, slow)


@pytest.mark.parametrize("bad", [0, 4095, 4096, 9000])
def test_first_non_finite_vector_is_reported_in_any_block(tmp_path, bad):
    """The finite check runs over 4096-row blocks and still names the first bad row, wherever it falls."""
    import numpy as np

    x = np.ones((9001, 2), dtype=np.float32)
    x[bad, 1] = np.inf
    x[-1, 0] = np.nan  # a later bad row: the first one is reported
    path = tmp_path / "in.parquet"
    ids = [str(i) for i in range(len(x))]
    pl.DataFrame({"id": ids, "text": ids, "qdc_embedding": pl.Series(x)}).write_parquet(path)
    with pytest.raises(DataError, match=rf"in\.parquet:{bad + 1}: 'qdc_embedding' holds NaN"):
        read_records(str(path))
