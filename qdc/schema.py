"""Column names shared by every stage.

Visible columns start with ``qdc_`` and are written to outputs. Hidden columns start with ``__qdc_``:
they carry per-row bookkeeping (source line, the resolved text, the original JSON line) through a run
and are never written.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from qdc.errors import MissingColumnError

PREFIX = "qdc_"
HIDDEN_PREFIX = "__qdc_"

# --- visible columns -------------------------------------------------------------------------------
ID = "qdc_id"  # written only when rows had no id field: the derived, content-based id
EMBEDDING = "qdc_embedding"
CLUSTER = "qdc_cluster"
CLUSTER_DISTANCE = "qdc_cluster_distance"  # cosine distance to the cluster centroid
DUP_OF = "qdc_dup_of"
DUP_METHOD = "qdc_dup_method"
DUP_SIMILARITY = "qdc_dup_similarity"
DUP_REF = "qdc_dup_ref"  # dedup --against: the reference file of the matching row (null within the input)
QUALITY = "qdc_quality"
QUALITY_SIGNAL_PREFIX = "qdc_q_"
LABEL_AGREEMENT = "qdc_label_agreement"  # score-quality --label-field: k-NN agreement with the row's label
COMPLEXITY = "qdc_complexity"
COMPLEXITY_SIGNAL_PREFIX = "qdc_c_"
SELECT_ROUND = "qdc_select_round"
SELECT_REASON = "qdc_select_reason"
REMOVED_BY = "qdc_removed_by"  # in `qdc run` ledgers: the stage that removed the row

# --- hidden columns --------------------------------------------------------------------------------
ROW_ID = "__qdc_id"  # string id of every row: the id field's value, or the derived id
SRC = "__qdc_src"  # the file a row came from
LINE = "__qdc_line"  # 1-based line (JSONL) or row (Parquet) number in SRC
RAW = "__qdc_raw"  # the original JSON line without qdc_ keys, so user fields are written back untouched
TEXT = "__qdc_text"  # the text to analyse (from --text-field, --template or chat messages)
PROMPT = "__qdc_prompt"  # the instruction part (user turns / instruction + input)
RESPONSE = "__qdc_response"  # the response part (assistant turns / output); "" for plain text rows

HIDDEN = (ROW_ID, SRC, LINE, RAW, TEXT, PROMPT, RESPONSE)
# The hidden column behind each `field` option value (embed, dedup, ...: which part of a row to use).
PART_COLUMNS = {"text": TEXT, "prompt": PROMPT, "response": RESPONSE}


def is_hidden(name: str) -> bool:
    """True for bookkeeping columns that are never written."""
    return name.startswith(HIDDEN_PREFIX)


def visible_columns(df: pl.DataFrame) -> list[str]:
    """The columns written to outputs, in order."""
    return [c for c in df.columns if not is_hidden(c)]


def require_columns(df: pl.DataFrame, *names: str, hint: str | None = None) -> None:
    """Raise MissingColumnError naming the first missing column and the command that adds it."""
    adders = {
        EMBEDDING: "qdc embed",
        CLUSTER: "qdc cluster",
        QUALITY: "qdc score-quality",
        COMPLEXITY: "qdc score-complexity",
        TEXT: "qdc.io.prepare (or read with qdc.io.read_records)",
        ROW_ID: "qdc.io.prepare (or read with qdc.io.read_records)",
    }
    for name in names:
        if name not in df.columns:
            how = hint or (f"run `{adders[name]}` first" if name in adders else "add it first")
            raise MissingColumnError(f"missing column '{name}': {how}")


def where(df: pl.DataFrame, row: int) -> str:
    """'file:line' for row `row` of a frame read by qdc (or 'row N' for frames built in memory)."""
    if SRC in df.columns and LINE in df.columns:
        return f"{df[SRC][row]}:{df[LINE][row]}"
    return f"row {row + 1}"


def stored_dim(df: pl.DataFrame) -> int | None:
    """The width of the rows' own qdc_embedding, which every command uses as it is (no model runs for them,
    whatever --model says); None when the rows carry none."""
    if EMBEDDING not in df.columns or df.height == 0:
        return None
    dtype = df.schema[EMBEDDING]
    return dtype.size if isinstance(dtype, pl.Array) else len(df[EMBEDDING][0])


def ids(df: pl.DataFrame) -> list[str]:
    """Row ids as strings."""
    require_columns(df, ROW_ID)
    return df[ROW_ID].to_list()


def drop_hidden(df: pl.DataFrame) -> pl.DataFrame:
    """The frame without bookkeeping columns."""
    return df.select(visible_columns(df))


def qdc_columns(names: Iterable[str]) -> list[str]:
    """The qdc-added visible columns among `names`."""
    return [n for n in names if n.startswith(PREFIX)]
