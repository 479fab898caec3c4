"""The qdc columns a file brings back, checked on read: embeddings as float32 vectors, scores as numbers."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import numpy as np
import orjson
import polars as pl

from qdc import schema
from qdc.errors import DataError


def _kind(value: Any) -> str:
    """What a value read from a file is, for messages ('a string', 'a list holding a string', ...)."""
    if isinstance(value, list):
        odd = next((v for v in value if not isinstance(v, (int, float)) or isinstance(v, bool)), None)
        return "an empty list" if not value else f"a list holding {_kind(odd)}" if odd is not None else "a list"
    names = {str: "a string", bool: "a boolean", dict: "an object", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _number_or_self(value: Any) -> Any:
    if isinstance(value, str):
        with suppress(ValueError):
            return float(value)
    return value


def _first_non_vector(col: pl.Series) -> tuple[int, str]:
    """The first row whose value is not a list of numbers, and what it is instead (error path only)."""
    for i, value in enumerate(col.to_list()):
        if isinstance(value, str) and col.dtype == pl.String:
            with suppress(orjson.JSONDecodeError):
                value = orjson.loads(value)  # mixed-type columns are kept as JSON text (see _user_frame)
        if isinstance(value, list):  # polars reads [1, "a"] and [0.5] in one column as strings: "1", "a", "0.5"
            value = [_number_or_self(v) for v in value]
        if _kind(value) != "a list":
            return i, _kind(value)
    return 0, str(col.dtype)


def _check_embeddings(df: pl.DataFrame) -> pl.DataFrame:
    """Embeddings as fixed-size float32 arrays, or DataError at the first row that is not a usable vector.

    Refused: a missing, empty, non-numeric or non-finite vector, or one whose length differs from the first
    row's (they crash faiss or the eigensolver far from where the bad row is).
    """
    name, col = schema.EMBEDDING, df[schema.EMBEDDING]
    dtype = col.dtype
    inner = dtype.inner if isinstance(dtype, (pl.List, pl.Array)) else None
    numeric = inner is not None and (inner.is_numeric() or inner == pl.Null)
    if not numeric:
        bad, what = _first_non_vector(col)
        raise DataError(f"{schema.where(df, bad)}: '{name}' is {what}, expected a list of numbers")
    if col.null_count():
        bad = int(col.is_null().arg_max() or 0)
        raise DataError(f"{schema.where(df, bad)}: '{name}' is missing on this row")
    if isinstance(dtype, pl.List):
        lengths = col.list.len()
        if lengths.min() != lengths.max():
            bad = int((lengths != lengths[0]).arg_max() or 0)
            raise DataError(
                f"{schema.where(df, bad)}: '{name}' has {lengths[bad]} values, expected {lengths[0]} like the first row"
            )
        col = col.cast(pl.Array(pl.Float32, int(lengths[0])))
    if col.dtype.size == 0:  # type: ignore[attr-defined]
        raise DataError(f"{schema.where(df, 0)}: '{name}' is an empty list, expected a vector")
    values = col.to_numpy()
    finite = np.ones(len(values), dtype=bool)
    for i in range(0, len(values), 4096):  # blocks: a bool array of the whole matrix was 38 MB of fresh memory
        finite[i : i + 4096] = np.isfinite(values[i : i + 4096]).all(axis=1)
    if not finite.all():
        bad = int(np.argmin(finite))
        raise DataError(f"{schema.where(df, bad)}: '{name}' holds NaN, Infinity or null values")
    return df.with_columns(col)


# qdc columns a later command reads as numbers: a string there is a file:line error, not an internal one.
_NUMERIC_QDC = (schema.QUALITY, schema.COMPLEXITY, schema.CLUSTER)


def _normalise_qdc_dtypes(df: pl.DataFrame, source: str) -> pl.DataFrame:
    """Check the qdc columns a file brings back: vectors (see `_check_embeddings`) and numeric scores."""
    if schema.EMBEDDING in df.columns:
        df = _check_embeddings(df)
    for name in _NUMERIC_QDC:
        if name not in df.columns or df[name].dtype == pl.Null or df[name].dtype.is_numeric():
            continue
        col = df[name]
        values = [_loads_or_str(v) if isinstance(v, str) and col.dtype == pl.String else v for v in col.to_list()]
        bad = next((i for i, v in enumerate(values) if v is not None and _kind(v) != "a number"), 0)
        raise DataError(f"{schema.where(df, bad)}: '{name}' is {_kind(values[bad])}, expected a number (or null)")
    return df


def _loads_or_str(value: str) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def embeddings_of(df: pl.DataFrame) -> np.ndarray:
    """The qdc_embedding column as a C-contiguous (n, d) float32 array."""
    schema.require_columns(df, schema.EMBEDDING)
    col = df[schema.EMBEDDING]
    if not isinstance(col.dtype, pl.Array):
        col = _normalise_qdc_dtypes(df.select(schema.EMBEDDING), "<memory>")[schema.EMBEDDING]
    return np.ascontiguousarray(col.to_numpy(), dtype=np.float32)
