"""`qdc check`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import State, print_json, show, table

if TYPE_CHECKING:
    from qdc.check import CheckConfig

_P = "Thresholds"


def _field_types(items: list[str]) -> dict[str, str]:
    """`--field-type FIELD=TYPE` items as a dict (merged into the config's field_types)."""
    from qdc.errors import ConfigError

    types = {}
    for item in items:
        name, sep, kind = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--field-type {item!r}: expected FIELD=TYPE, e.g. id=string")
        types[name.strip()] = kind.strip()
    return types


def _names(text: str) -> list[str]:
    return [f.strip() for f in text.split(",") if f.strip()]


def _t(flags: str, type_: Any, **kw: Any) -> o.Opt:
    """A threshold: its help is CheckConfig's; not given (None) leaves the config's value."""
    return o.K(flags, type_, flags[2:].replace("-", "_"), panel=_P, **kw)


@o.command(
    app,
    "check",
    (
        o.INPUT,
        _t("--min-rows", int),
        _t("--max-rows", int),
        _t("--required-fields", str, convert=_names),
        o.Opt(
            "--field-type",
            list[str] | None,
            None,
            "FIELD=TYPE (string, integer, number, boolean, list, object); repeatable.",
            key="field_types",
            convert=_field_types,
            panel=_P,
        ),
        _t("--max-bad-rows", int),
        _t("--max-empty-rate", float),
        _t("--max-dup-rate", float),
        _t("--min-vendi", float),
        _t("--min-mean-quality", float),
        _t("--max-junk-rate", float),
        _t("--junk-below", float),
        _t("--max-mean-length", float),
        _t("--min-mean-complexity", float),
        o.Opt(
            "--model",
            str | None,
            None,
            "Embedding model for --min-vendi [default: the config's, else default].",
            panel="Embedding",
        ),
        *o.TEXT,
        o.JSON,
    ),
    config="qdc.check:CheckConfig",
)
def check_cmd(a: o.Args, cfg: CheckConfig) -> None:
    """Check a dataset against schema rules and policy thresholds: exit 0 when all hold, 3 when one fails.

    Schema checks always run (unreadable lines, empty text; required fields and types when named); each
    threshold runs when given. A table of every check (value, threshold, pass/fail) goes to stderr; `--json`
    prints the same on stdout. Use it as a CI gate or a Makefile target (see docs/pipeline.md).

    **Example:** `qdc check data.jsonl --min-rows 1000 --max-dup-rate 0.02 --min-mean-quality 0.6`
    """
    from qdc.check import failure_message, run_checks
    from qdc.cli._read_notes import noting
    from qdc.errors import CheckFailed
    from qdc.io import Quarantine
    from qdc.pipeline.report import check_context
    from qdc.pipeline.stage import StageContext

    io = o.io_config(a.text_field, a.template, a.roles, a.id_field, "skip")
    io_given = (a.text_field, a.template, a.id_field) != (None, None, "id")
    embed_cfg, io, seed = check_context(a.config, io, io_given)
    if a.model is not None:
        embed_cfg = embed_cfg.model_copy(update={"model": a.model})
    reader = Quarantine(io)  # bad lines are counted, not written (no finish)
    noting(reader, a)  # the notices other commands give after reading (chats without answers, a moot --model)
    df = reader.read(a.input)
    checks = run_checks(df, cfg, StageContext(seed=seed, embed=embed_cfg), reader.reports[-1].bad_rows)
    _show(a, df.height, checks)
    if not all(c.passed for c in checks):
        raise CheckFailed(failure_message(checks))


def _show(a: o.Args, rows: int, checks: list[Any]) -> None:
    """The checks as JSON on stdout (--json) and as a table on stderr (unless -q)."""
    shown, passed = o.shown(a.input), all(c.passed for c in checks)
    body = {"input": shown, "rows": rows, "passed": passed, "failed": sum(not c.passed for c in checks)}
    body["checks"] = [c.as_dict() for c in checks]
    if a.json:
        print_json(body)
    if State.quiet:
        return
    from rich.text import Text

    lines = []
    for c in checks:
        value = f"{c.value:.4g}" if isinstance(c.value, float) else str(c.value)
        result = Text("pass", style="green") if c.passed else Text("FAIL", style="bold red")  # no markup
        lines.append((c.name, value, f"{c.op} {c.threshold}", result, c.detail))
    show({}, body, table(f"qdc check {shown}: {rows} rows", lines, ("check", "value", "threshold", "result", "detail")))
