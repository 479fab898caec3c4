"""The envelope of every `--json` document: qdc's version, the envelope's version, the command, and the rows
read and written where the command's own keys count them."""

from __future__ import annotations

from typing import Any

VERSION = 1  # bump when a key of the envelope changes meaning

# The command's own keys that already count the rows read and the rows written, first match wins; `rows` is
# also the rows written only where every row read is written (`qdc check` reads `rows` and writes none).
_ROWS_IN = ("rows_in", "rows", "n")
_ROWS_OUT = ("rows_out", "rows_kept", "selected")
_EVERY_ROW_WRITTEN = frozenset({"embed", "cluster", "score-quality", "score-complexity"})


def _row_counts(command: str | None, body: dict[str, Any]) -> dict[str, int]:
    """{"rows_in": ..., "rows_out": ...} as far as the command's keys say (none invented)."""
    counts = {}
    rows_in = next((body[k] for k in _ROWS_IN if type(body.get(k)) is int), None)
    rows_out = next((body[k] for k in _ROWS_OUT if type(body.get(k)) is int), None)
    if rows_out is None and command in _EVERY_ROW_WRITTEN and type(body.get("rows")) is int:
        rows_out = body["rows"]
    rows_in = rows_in if rows_in is not None else _nested_rows(body, "input")  # a run manifest: input.rows
    rows_out = rows_out if rows_out is not None else _nested_rows(body, "output")
    if rows_in is not None:
        counts["rows_in"] = rows_in
    if rows_out is not None:
        counts["rows_out"] = rows_out
    return counts


def _nested_rows(body: dict[str, Any], key: str) -> int | None:
    """`body[key]["rows"]` when it is a count (`qdc run`'s manifest: {"input": {"rows": 5}, "output": ...})."""
    part = body.get(key)
    rows = part.get("rows") if isinstance(part, dict) else None
    return rows if type(rows) is int else None


def envelope(command: str | None, obj: Any) -> dict[str, Any]:
    """{"qdc": version, "json_version": 1, "command": name, "rows_in": n, "rows_out": m, ...the command's keys}.

    `rows_in` (rows read) and `rows_out` (rows written) appear where the command counts them; its own keys
    (`rows`, `n`, `rows_kept`, `selected`, ...) are kept as they were; a non-object is under "result".
    """
    from qdc import __version__

    head: dict[str, Any] = {"qdc": __version__, "json_version": VERSION}
    if command:
        head["command"] = command
    body = obj if isinstance(obj, dict) else {"result": obj}
    head.update(_row_counts(command or None, body))
    return {**head, **{k: v for k, v in body.items() if k not in head}}
