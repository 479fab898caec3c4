"""qdc.io.parquet_vectors: the page decoder gives polars' array or nothing, for files written many ways."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from qdc import schema
from qdc.errors import DataError
from qdc.io import read_records
from qdc.io.parquet_vectors import read_vectors

E = schema.EMBEDDING


def _table(x: np.ndarray, fixed: bool, texts: list[str] | None = None) -> pa.Table:
    n, d = x.shape
    values = pa.array(x.reshape(-1), type=pa.float32())
    vec = (
        pa.FixedSizeListArray.from_arrays(values, d)
        if fixed
        else pa.ListArray.from_arrays(pa.array(np.arange(0, n * d + 1, d, dtype=np.int32)), values)
    )
    texts = texts or [f"text {i}" for i in range(n)]
    return pa.table({"id": [f"r{i}" for i in range(n)], "text": texts, E: vec})


def _polars_array(path: str) -> np.ndarray:
    col = pl.read_parquet(path, columns=[E])[E]
    if isinstance(col.dtype, pl.List):
        col = col.cast(pl.Array(pl.Float32, int(col.list.len()[0])))
    return np.asarray(col.to_numpy(), dtype=np.float32)


WRITERS = {
    "polars": lambda t, p: pl.from_arrow(t).write_parquet(p),  # type: ignore[union-attr]
    "polars-small-pages": lambda t, p: pl.from_arrow(t).write_parquet(p, data_page_size=4096, row_group_size=70),  # type: ignore[union-attr]
    "arrow-zstd-v1": lambda t, p: pq.write_table(t, p, compression="zstd", use_dictionary=["id", "text"]),
    "arrow-zstd-v2": lambda t, p: pq.write_table(
        t, p, compression="zstd", data_page_version="2.0", use_dictionary=False, data_page_size=2048
    ),
    "arrow-none-v1": lambda t, p: pq.write_table(t, p, compression="none", use_dictionary=False),
    "arrow-none-v2-groups": lambda t, p: pq.write_table(
        t, p, compression="none", data_page_version="2.0", row_group_size=33, use_dictionary=False
    ),
}


@pytest.mark.parametrize("fixed", [True, False])
@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("d", [8, 5, 384])
def test_fast_path_equals_polars(tmp_path, writer, fixed, d):
    rng = np.random.default_rng(d)
    x = rng.standard_normal((257, d)).astype(np.float32)
    path = str(tmp_path / "v.parquet")
    WRITERS[writer](_table(x, fixed), path)
    got = read_vectors(path, E)
    want = _polars_array(path)
    assert np.array_equal(want, x)
    assert got is not None
    assert got.dtype == np.float32 and got.flags["C_CONTIGUOUS"]
    assert np.array_equal(got, want)


def _write_rows(path, vectors) -> None:
    pl.DataFrame(
        {"id": [f"r{i}" for i in range(len(vectors))], "text": ["t"] * len(vectors), E: vectors}
    ).write_parquet(path)


@pytest.mark.parametrize(
    "vectors",
    [
        [[1.0, 2.0], None, [3.0, 4.0]],  # a null row
        [[1.0, 2.0], [3.0], [3.0, 4.0, 5.0]],  # ragged rows with the right total
        [[1.0, 2.0], [], [3.0, 4.0]],  # an empty list
        [[1.0, None], [3.0, 4.0]],  # a null element
    ],
)
def test_odd_rows_give_no_fast_result_and_the_reader_reports_them(tmp_path, vectors):
    path = str(tmp_path / "odd.parquet")
    _write_rows(path, vectors)
    assert read_vectors(path, E) is None
    with pytest.raises(DataError):
        read_records(path)


def test_no_fast_result_for_other_types_codecs_and_files(tmp_path):
    x = np.random.default_rng(1).standard_normal((50, 16))
    doubles = str(tmp_path / "f64.parquet")
    pl.DataFrame({"text": ["t"] * 50, E: x}).write_parquet(doubles)
    assert read_vectors(doubles, E) is None  # float64 leaf
    snappy = str(tmp_path / "snappy.parquet")
    pq.write_table(_table(x.astype(np.float32), True), snappy, compression="snappy")
    assert read_vectors(snappy, E) is None
    dictionary = str(tmp_path / "dict.parquet")
    pq.write_table(_table(np.ones((50, 16), np.float32), True), dictionary, use_dictionary=True)
    got = read_vectors(dictionary, E)
    assert got is None or np.array_equal(got, np.ones((50, 16), np.float32))
    assert read_vectors(str(tmp_path / "missing.parquet"), E) is None
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1" + bytes(range(200)) + b"\x10\x00\x00\x00PAR1")
    assert read_vectors(str(junk), E) is None
    assert read_vectors(snappy, "text") is None  # not a list column
    truncated = tmp_path / "cut.parquet"
    truncated.write_bytes((tmp_path / "f64.parquet").read_bytes()[:-100])
    assert read_vectors(str(truncated), E) is None


def test_read_records_frame_is_the_same_either_way(tmp_path, monkeypatch):
    x = np.random.default_rng(2).standard_normal((300, 32)).astype(np.float32)
    x[7, 3] = np.nan
    path = str(tmp_path / "e.parquet")
    WRITERS["polars"](_table(x[:, :], True, [f"row {i} text" for i in range(300)]), path)
    with pytest.raises(DataError, match=r"e\.parquet:8: 'qdc_embedding' holds NaN"):
        read_records(path)  # the fast path keeps the reader's checks
    x[7, 3] = 0.5
    WRITERS["polars"](_table(x, True, [f"row {i} text" for i in range(300)]), path)
    fast = read_records(path)
    import qdc.io.parquet_vectors as pv

    monkeypatch.setattr(pv, "read_vectors", lambda *a: None)
    slow = read_records(path)
    assert fast.columns == slow.columns
    assert fast.schema == slow.schema
    assert fast.equals(slow)


def test_a_damaged_page_gives_no_fast_result_and_the_reader_reports_it(tmp_path):
    x = np.random.default_rng(3).standard_normal((2000, 64)).astype(np.float32)
    path = tmp_path / "bad.parquet"
    WRITERS["polars"](_table(x, True), str(path))
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2  # inside the embedding column's compressed pages
    raw[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(raw))
    assert read_vectors(str(path), E) is None
    with pytest.raises(DataError):
        read_records(str(path))
