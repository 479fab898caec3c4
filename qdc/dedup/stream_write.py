"""Pass 2 of streaming dedup: read the input again and write the kept rows and the ledger of removed rows
(`qdc_dup_of` read back from the ids file of pass 1), the same columns and bytes as `qdc dedup`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from qdc import schema
from qdc.dedup.config import DedupConfig
from qdc.errors import DataError
from qdc.io import IOConfig
from qdc.io.read import iter_batches
from qdc.io.write import open_sink
from qdc.progress import progress

METHOD_CODES = {"exact": 1, "minhash": 2, "semantic": 3}
"""The per-row method codes of streaming dedup (0 = kept)."""


def _id_reader(work: Path, id_lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(id_lens.shape[0] + 1, dtype=np.int64)
    np.cumsum(id_lens, out=off[1:])
    data = np.memmap(work / "ids.bin", dtype=np.uint8, mode="r") if off[-1] > 0 else np.zeros(0, dtype=np.uint8)
    return data, off


def write_pass(
    path: str,
    io_cfg: IOConfig,
    batch_rows: int,
    cfg: DedupConfig,
    output: str | None,
    removed_path: str | None,
    method: np.ndarray,
    final: np.ndarray,
    sim: np.ndarray,
    work: Path,
    id_lens: np.ndarray,
) -> None:
    names = {code: name for name, code in METHOD_CODES.items()}
    id_data, id_off = _id_reader(work, id_lens)
    start = 0
    n = method.shape[0]
    with open_sink(output) as out, open_sink(removed_path) as ledger:
        for batch in iter_batches(path, io_cfg, batch_rows, user_columns=True):
            stop = start + batch.height
            m = method[start:stop]
            gone = m != 0
            if out is not None:
                out.write(batch.filter(pl.Series(~gone)))
            if ledger is not None and gone.any():
                rows = np.flatnonzero(gone)
                fin = final[start + rows]
                dup_of = [bytes(id_data[id_off[f] : id_off[f + 1]]).decode("utf-8") for f in fin.tolist()]
                ledger.write(
                    batch[rows].with_columns(
                        pl.Series(schema.DUP_OF, dup_of, dtype=pl.String),
                        pl.Series(schema.DUP_METHOD, [names[int(k)] for k in m[rows]], dtype=pl.String),
                        pl.Series(schema.DUP_SIMILARITY, np.round(sim[start + rows], 6), dtype=pl.Float64),
                        pl.Series(schema.DUP_REF, [None] * rows.shape[0], dtype=pl.String),
                    )
                )
            start = stop
            progress("scale dedup: write", start, n)
    if start != n:
        raise DataError(f"{path}: the input changed during the run ({n} rows read first, {start} now)")
