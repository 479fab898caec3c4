"""Reading with quarantine: with `on_bad_rows="skip"` the lines that cannot be read are set aside while reading
and written verbatim, once the work succeeded, to one file: OUTPUT.bad-rows.jsonl beside the output, or
qdc.bad-rows.jsonl in the current folder when the rows go to stdout (`bad_rows_path`, the only place that
default is written)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from qdc.io.formats import STDIO
from qdc.io.inputs import InputPaths
from qdc.io.read import read_records
from qdc.io.rows import BadRow, IOConfig, ReadReport
from qdc.io.write import write_bad_rows
from qdc.progress import notice

if TYPE_CHECKING:
    import polars as pl


def bad_rows_path(output: str | None, given: str | None = None) -> str:
    """Where quarantined lines go: `given`, else beside `output` (qdc.bad-rows.jsonl for stdout or none)."""
    if given is not None:
        return given
    return "qdc.bad-rows.jsonl" if output in (None, STDIO) else f"{output}.bad-rows.jsonl"


def skipped(bad: Sequence[BadRow], target: str) -> str:
    """The notice of quarantined lines: how many, where they went, and the first one's place and reason."""
    first = bad[0]
    return f"skipped {len(bad)} bad line(s), written verbatim to {target} (first: {first.place})"


class Quarantine:
    """Reads inputs with `io`, keeps every read's bad lines, writes them with `finish` (after the output)."""

    def __init__(self, io: IOConfig, output: str | None = None, path: str | None = None) -> None:
        self.io = io
        self.target = bad_rows_path(output, path)
        self.reports: list[ReadReport] = []

    def report(self) -> ReadReport:
        """A read report whose bad lines `finish` writes (`read` takes one; so may a stream engine)."""
        self.reports.append(ReadReport())
        return self.reports[-1]

    def read(self, path: InputPaths) -> pl.DataFrame:
        return read_records(path, self.io, self.report())

    def finish(self) -> None:
        """Write the quarantined lines, if any, and say so."""
        bad = [b for r in self.reports for b in r.bad_rows]
        if bad:
            write_bad_rows(bad, self.target)
            notice(skipped(bad, self.target))
