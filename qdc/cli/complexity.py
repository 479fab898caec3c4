"""`qdc score-complexity`."""

from __future__ import annotations

from typing import Annotated

import typer

from qdc.cli import app
from qdc.cli._common import (
    BadRowsFileOpt,
    IdFieldOpt,
    InputArg,
    Inputs,
    JsonOpt,
    NoCacheOpt,
    OnBadRowsOpt,
    OutputOpt,
    RolesOpt,
    State,
    TemplateOpt,
    TextFieldOpt,
    check_output_path,
    console,
    handle_errors,
    io_config,
    print_json,
)
from qdc.cli.quality import (
    ApiKeyEnvOpt,
    ConcurrencyOpt,
    JudgeModelOpt,
    JudgeUrlOpt,
    RetriesOpt,
    TimeoutOpt,
    judge_options,
    show_explanation,
)


@app.command("score-complexity")
@handle_errors
def score_complexity_cmd(
    input: InputArg = "-",
    output: OutputOpt = "-",
    scorer: Annotated[
        str,
        typer.Option(
            "--scorer",
            help="heuristic (no model) or judge (DEITA-style 1-6 complexity rubric; needs --model and --base-url).",
        ),
    ] = "heuristic",
    explain_id: Annotated[
        str | None,
        typer.Option(
            "--explain", help="Print one row's signals as JSON on stdout (rows are written only with -o FILE)."
        ),
    ] = None,
    base_url: JudgeUrlOpt = "http://127.0.0.1:8000/v1",
    model: JudgeModelOpt = "",
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    rubric: Annotated[
        str, typer.Option("--rubric", help="complexity6 or a rubric file.", rich_help_panel="Judge")
    ] = "complexity6",
    concurrency: ConcurrencyOpt = 8,
    timeout: TimeoutOpt = 60.0,
    max_retries: RetriesOpt = 4,
    no_cache: NoCacheOpt = False,
    text_field: TextFieldOpt = None,
    template: TemplateOpt = None,
    roles: RolesOpt = "user,assistant",
    id_field: IdFieldOpt = "id",
    on_bad_rows: OnBadRowsOpt = "error",
    bad_rows_file: BadRowsFileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Add `qdc_complexity` (0-1, higher is more demanding) and the `qdc_c_*` signals behind it.

    Signals: instruction tokens, explicit constraints, questions and sub-tasks, reasoning steps in the
    response, code blocks and Python AST size, and MTLD lexical diversity (docs/scoring.md).

    **Example:** `qdc score-complexity data.jsonl -o scored.jsonl`
    """
    from qdc.complexity import ComplexityConfig, explain, score_complexity
    from qdc.config import validate_config
    from qdc.io import write_records

    check_output_path(output)
    if json and output == "-":
        raise typer.BadParameter("--json prints a summary on stdout; pass -o FILE for the rows")
    cfg = validate_config(
        ComplexityConfig,
        {
            "scorer": scorer,
            "judge": judge_options(base_url, model, api_key_env, rubric, concurrency, timeout, max_retries, no_cache),
        },
        "options",
    )
    inputs = Inputs(io_config(text_field, template, roles, id_field, on_bad_rows), bad_rows_file, output)
    df = inputs.read(input)
    info: dict[str, object] | None
    if explain_id is not None and output == "-" and cfg.scorer == "heuristic":
        info = explain(df, explain_id)
    else:
        df = score_complexity(df, cfg)
        info = explain(df, explain_id) if explain_id is not None else None
        if not (explain_id is not None and output == "-"):
            write_records(df, output)
    inputs.finish()
    if info is not None:
        print_json(info)
        if not State.quiet and not json:
            show_explanation(info, f"row {explain_id} ({info['where']}): complexity {info['complexity']}")
        return
    import numpy as np  # lazily: `qdc --help` must not pay for numpy

    c = df["qdc_complexity"]
    values = c.to_numpy()
    result = {
        "rows": df.height,
        "scorer": cfg.scorer,
        "mean": round(float(values.mean()), 4) if values.size else None,
        "p90": round(float(np.quantile(values, 0.9)), 4) if values.size else None,
    }
    if json:
        print_json(result)
    elif not State.quiet:
        console.print(
            f"scored {result['rows']} rows ({cfg.scorer}): mean complexity {result['mean']}, "
            f"90th percentile {result['p90']}"
        )
