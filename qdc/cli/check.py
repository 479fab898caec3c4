"""`qdc check`."""

from __future__ import annotations

from typing import Annotated, Any, List

import typer
from rich.table import Table
from rich.text import Text

from qdc.cli import app
from qdc.cli._common import (
    IdFieldOpt,
    InputArg,
    JsonOpt,
    RolesOpt,
    State,
    TemplateOpt,
    TextFieldOpt,
    console,
    handle_errors,
    print_json,
)

_P = "Thresholds"


def _float(name: str, help: str) -> Any:
    return typer.Option(name, help=help, rich_help_panel=_P)


@app.command("check")
@handle_errors
def check_cmd(
    input: InputArg = "-",
    min_rows: Annotated[int | None, _float("--min-rows", "At least this many rows.")] = None,
    max_rows: Annotated[int | None, _float("--max-rows", "At most this many rows.")] = None,
    required_fields: Annotated[
        str | None, _float("--required-fields", "Comma-separated fields every row must have (non-null).")
    ] = None,
    field_type: Annotated[
        List[str] | None,
        _float("--field-type", "FIELD=TYPE (string, integer, number, boolean, list, object); repeatable."),
    ] = None,
    max_bad_rows: Annotated[
        int | None, _float("--max-bad-rows", "At most this many unreadable lines [default: 0].")
    ] = None,
    max_empty_rate: Annotated[
        float | None, _float("--max-empty-rate", "At most this fraction of rows with empty text [default: 0].")
    ] = None,
    max_dup_rate: Annotated[
        float | None, _float("--max-dup-rate", "At most this fraction of rows removed by dedup (its default methods).")
    ] = None,
    min_vendi: Annotated[
        float | None, _float("--min-vendi", "Vendi score (effective number of distinct rows) at least this.")
    ] = None,
    min_mean_quality: Annotated[
        float | None, _float("--min-mean-quality", "Mean qdc_quality at least this (scored when missing).")
    ] = None,
    max_junk_rate: Annotated[
        float | None, _float("--max-junk-rate", "At most this fraction of rows with qdc_quality below --junk-below.")
    ] = None,
    junk_below: Annotated[
        float | None, _float("--junk-below", "Quality under which a row is junk [default: the scorer's, else 0.3].")
    ] = None,
    max_mean_length: Annotated[
        float | None, _float("--max-mean-length", "Mean text length (characters) at most this.")
    ] = None,
    min_mean_complexity: Annotated[
        float | None, _float("--min-mean-complexity", "Mean qdc_complexity at least this (scored when missing).")
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="Pipeline file whose `check` stage gives thresholds (and io/embed settings); "
            "flags override it, e.g. configs/ci.yaml.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Embedding model for --min-vendi [default: the config's, else default].",
            rich_help_panel="Embedding",
        ),
    ] = None,
    text_field: TextFieldOpt = None,
    template: TemplateOpt = None,
    roles: RolesOpt = "user,assistant",
    id_field: IdFieldOpt = "id",
    json: JsonOpt = False,
) -> None:
    """Check a dataset against schema rules and policy thresholds: exit 0 when all hold, 3 when one fails.

    Schema checks always run (unreadable lines, empty text; required fields and types when named); each
    threshold runs when given. A table of every check (value, threshold, pass/fail) goes to stderr; `--json`
    prints the same on stdout. Use it as a CI gate or a Makefile target (see docs/pipeline.md).

    **Example:** `qdc check data.jsonl --min-rows 1000 --max-dup-rate 0.02 --min-mean-quality 0.6`
    """
    from qdc.check import CheckConfig, failure_message, run_checks
    from qdc.config import validate_config
    from qdc.errors import CheckFailed
    from qdc.io import ReadReport, read_records
    from qdc.pipeline.stage import StageContext

    base, embed_cfg, io, seed = _from_config(config, text_field, template, roles, id_field)
    flags: dict[str, Any] = {
        "min_rows": min_rows,
        "max_rows": max_rows,
        "max_bad_rows": max_bad_rows,
        "max_empty_rate": max_empty_rate,
        "max_dup_rate": max_dup_rate,
        "min_vendi": min_vendi,
        "min_mean_quality": min_mean_quality,
        "max_junk_rate": max_junk_rate,
        "junk_below": junk_below,
        "max_mean_length": max_mean_length,
        "min_mean_complexity": min_mean_complexity,
        "required_fields": [f.strip() for f in required_fields.split(",") if f.strip()]
        if required_fields is not None
        else None,
    }
    types = _field_types(dict(base.get("field_types", {})), field_type or [])
    merged = {**base, **{k: v for k, v in flags.items() if v is not None}, "field_types": types}
    cfg = validate_config(CheckConfig, merged, "options")
    if model is not None:
        embed_cfg = embed_cfg.model_copy(update={"model": model})
    report = ReadReport()
    df = read_records(input, io, report)
    checks = run_checks(df, cfg, StageContext(seed=seed, embed=embed_cfg), bad_rows=len(report.bad_rows))
    _show(input, df.height, checks, json)
    if not all(c.passed for c in checks):
        raise CheckFailed(failure_message(checks))


def _from_config(
    config: str | None, text_field: str | None, template: str | None, roles: str, id_field: str
) -> tuple[dict[str, Any], Any, Any, int]:
    """(thresholds, embed config, io config, seed) from `--config`'s check stage, or the defaults."""
    from qdc.cli._common import io_config
    from qdc.embed import EmbedConfig
    from qdc.errors import ConfigError

    io = io_config(text_field, template, roles, id_field, "skip")
    if config is None:
        return {}, EmbedConfig(), io, 0
    from qdc.pipeline import load_pipeline

    pipe = load_pipeline(config)
    stage = pipe.stage("check")
    if stage is None:
        raise ConfigError(f"{config}: has no `check` stage to read thresholds from")
    io = pipe.io if (text_field, template, id_field) == (None, None, "id") else io
    io = type(io)(io.text_field, io.template, io.roles, io.id_field, "skip")
    return stage.model_dump(exclude_unset=True), pipe.embed, io, pipe.seed


def _field_types(types: dict[str, str], items: list[str]) -> dict[str, str]:
    """The config's field types updated by each `--field-type FIELD=TYPE`."""
    from qdc.errors import ConfigError

    for item in items:
        name, sep, kind = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--field-type {item!r}: expected FIELD=TYPE, e.g. id=string")
        types[name.strip()] = kind.strip()
    return types


def _show(input: str, rows: int, checks: list[Any], json: bool) -> None:
    """The checks as JSON on stdout (--json) and as a table on stderr (unless -q)."""
    passed = all(c.passed for c in checks)
    if json:
        print_json(
            {
                "input": input,
                "rows": rows,
                "passed": passed,
                "failed": sum(not c.passed for c in checks),
                "checks": [c.as_dict() for c in checks],
            }
        )
    if not State.quiet:
        table = Table(title=f"qdc check {input}: {rows} rows", title_justify="left")
        for col in ("check", "value", "threshold", "result", "detail"):
            table.add_column(col, overflow="fold")
        for c in checks:
            value = f"{c.value:.4g}" if isinstance(c.value, float) else str(c.value)
            result = Text("pass", style="green") if c.passed else Text("FAIL", style="bold red")  # no markup
            table.add_row(c.name, value, f"{c.op} {c.threshold}", result, c.detail)
        console.print(table)
