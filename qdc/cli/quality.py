"""`qdc score-quality` and `qdc train-quality`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qdc.cli import app
from qdc.cli._common import (
    BadRowsFileOpt,
    BatchSizeOpt,
    DeviceOpt,
    IdFieldOpt,
    InputArg,
    Inputs,
    JsonOpt,
    NoCacheOpt,
    OnBadRowsOpt,
    OutputOpt,
    RolesOpt,
    SeedOpt,
    State,
    TemplateOpt,
    TextFieldOpt,
    check_output_path,
    console,
    embed_config,
    handle_errors,
    io_config,
    print_json,
)

JudgeUrlOpt = Annotated[
    str,
    typer.Option(
        "--base-url", help="OpenAI-compatible API root, e.g. http://localhost:8000/v1.", rich_help_panel="Judge"
    ),
]
JudgeModelOpt = Annotated[
    str, typer.Option("--model", "--judge-model", help="Judge model name.", rich_help_panel="Judge")
]
ApiKeyEnvOpt = Annotated[
    str,
    typer.Option(
        "--api-key-env",
        help="Environment variable holding the API key (the key is never printed or stored).",
        rich_help_panel="Judge",
    ),
]
ConcurrencyOpt = Annotated[
    int, typer.Option("--concurrency", help="Requests in flight at once.", rich_help_panel="Judge")
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds per request.", rich_help_panel="Judge")]
RetriesOpt = Annotated[
    int,
    typer.Option("--max-retries", help="Retries on 429/5xx/timeouts (exponential backoff).", rich_help_panel="Judge"),
]


def judge_options(
    base_url: str,
    model: str,
    api_key_env: str,
    rubric: str,
    concurrency: int,
    timeout: float,
    max_retries: int,
    no_cache: bool,
) -> dict[str, object]:
    return {
        "base_url": base_url,
        "model": model,
        "api_key_env": api_key_env,
        "rubric": rubric,
        "concurrency": concurrency,
        "timeout": timeout,
        "max_retries": max_retries,
        "cache": not no_cache,
    }


def show_explanation(info: dict[str, object], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("signal", "score", "details"):
        table.add_column(col, overflow="fold")
    for name, item in info["signals"].items():  # type: ignore[attr-defined]
        if isinstance(item, dict):
            score = item.get("score", "")
            rest = ", ".join(f"{k}={v}" for k, v in item.items() if k != "score")
        else:
            score, rest = item, ""
        table.add_row(name, str(score), rest)
    console.print(table)


@app.command("score-quality")
@handle_errors
def score_quality_cmd(
    input: InputArg = "-",
    output: OutputOpt = "-",
    scorer: Annotated[
        str,
        typer.Option(
            "--scorer",
            help="learned (default: trees shipped in qdc, no download), heuristic (v1 rules), classifier "
            "(needs --classifier) or judge (needs --model and --base-url).",
        ),
    ] = "learned",
    signals: Annotated[
        str | None,
        typer.Option("--signals", help="Comma-separated heuristic signals to use (--scorer heuristic) [default: all]."),
    ] = None,
    classifier: Annotated[
        Path | None, typer.Option("--classifier", help="Model file from `qdc train-quality`.")
    ] = None,
    explain_id: Annotated[
        str | None,
        typer.Option(
            "--explain", help="Print one row's signals as JSON on stdout (rows are written only with -o FILE)."
        ),
    ] = None,
    label_field: Annotated[
        str | None,
        typer.Option(
            "--label-field",
            help="For labelled rows: also write qdc_label_agreement, how far each row's label "
            "agrees with its nearest neighbours' labels (low = mislabeled or ambiguous; embeds the rows unless they "
            "carry qdc_embedding).",
        ),
    ] = None,
    label_k: Annotated[int, typer.Option("--label-k", help="Neighbours per row for --label-field.")] = 10,
    base_url: JudgeUrlOpt = "http://127.0.0.1:8000/v1",
    model: JudgeModelOpt = "",
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    rubric: Annotated[
        str,
        typer.Option(
            "--rubric", help="quality6 (DEITA-style 1-6), quality10, or a rubric file.", rich_help_panel="Judge"
        ),
    ] = "quality6",
    concurrency: ConcurrencyOpt = 8,
    timeout: TimeoutOpt = 60.0,
    max_retries: RetriesOpt = 4,
    batch_size: BatchSizeOpt = 64,
    device: DeviceOpt = "auto",
    no_cache: NoCacheOpt = False,
    text_field: TextFieldOpt = None,
    template: TemplateOpt = None,
    roles: RolesOpt = "user,assistant",
    id_field: IdFieldOpt = "id",
    on_bad_rows: OnBadRowsOpt = "error",
    bad_rows_file: BadRowsFileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Add `qdc_quality` (0-1, higher is better) and one `qdc_q_<signal>` column per signal.

    The default `learned` scorer needs no download: small tree ensembles shipped with qdc, trained on
    public judged answers and junk, read vectorised signals (Gopher/C4/FineWeb rules, completeness,
    loops, relevance, canned answers, symbol soup). Below 0.3 is junk, and `qdc_q_reason` names the
    signals that decided it. `--scorer heuristic` is the v1 rule set. `--explain ID` shows why a row got
    its score (docs/scoring.md).

    **Example:** `qdc score-quality data.jsonl -o scored.jsonl --explain row-17`
    """
    from qdc.config import validate_config
    from qdc.io import write_records
    from qdc.quality import QualityConfig, explain, score_quality, summary

    check_output_path(output)
    if json and output == "-":
        raise typer.BadParameter("--json prints a summary on stdout; pass -o FILE for the rows")
    judge = judge_options(base_url, model, api_key_env, rubric, concurrency, timeout, max_retries, no_cache)
    data: dict[str, object] = {
        "scorer": scorer,
        "classifier": classifier,
        "judge": judge,
        "label_field": label_field,
        "label_k": label_k,
    }
    if signals is not None:
        if scorer == "learned":
            from qdc.errors import ConfigError

            raise ConfigError("--signals picks heuristic signals: add --scorer heuristic")
        data["signals"] = signals
    cfg = validate_config(QualityConfig, data, "options")
    ecfg = embed_config("default", batch_size, device, no_cache)
    inputs = Inputs(io_config(text_field, template, roles, id_field, on_bad_rows), bad_rows_file, output)
    df = inputs.read(input)
    info: dict[str, object] | None
    if explain_id is not None and cfg.scorer in ("heuristic", "learned") and output == "-":
        info = explain(df, explain_id, cfg)  # nothing else to compute: no rows are written
    else:
        df = score_quality(df, cfg, ecfg)
        info = explain(df, explain_id, cfg) if explain_id is not None else None
        if not (explain_id is not None and output == "-"):
            write_records(df, output)
    inputs.finish()
    if info is not None:
        print_json(info)
        if not State.quiet and not json:
            why = f", judged junk by: {info['reason']}" if info.get("reason") else ""
            show_explanation(info, f"row {explain_id} ({info['where']}): quality {info['quality']}{why}")
        return
    result = summary(df)
    if json:
        print_json({"scorer": cfg.scorer, **result})
    elif not State.quiet:
        flagged = ", ".join(f"{k} {v}" for k, v in result["flagged"].items() if v) or "none"
        if "junk_reasons" in result:
            flagged = ", ".join(f"{k} {v}" for k, v in result["junk_reasons"].items()) or "none"
        console.print(
            f"scored {result['rows']} rows ({cfg.scorer}): mean quality {result['mean']}, "
            f"{result['junk']} junk (below 0.3); flagged by signal: {flagged}"
        )


@app.command("train-quality")
@handle_errors
def train_quality_cmd(
    good: Annotated[str, typer.Option("--good", help="Rows of good examples (any input format).")],
    bad: Annotated[str, typer.Option("--bad", help="Rows of bad examples.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Where to write the model (JSON).")],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Embedding model: default (MiniLM), static, hash[:DIM], or a sentence-transformers folder.",
            rich_help_panel="Embedding",
        ),
    ] = "default",
    c: Annotated[float, typer.Option("--c", help="Inverse L2 regularisation strength.")] = 1.0,
    seed: SeedOpt = 0,
    batch_size: BatchSizeOpt = 64,
    device: DeviceOpt = "auto",
    no_cache: NoCacheOpt = False,
    text_field: TextFieldOpt = None,
    template: TemplateOpt = None,
    roles: RolesOpt = "user,assistant",
    id_field: IdFieldOpt = "id",
    on_bad_rows: OnBadRowsOpt = "error",
    json: JsonOpt = False,
) -> None:
    """Train the `classifier` quality scorer: logistic regression on embeddings plus the heuristic signals.

    The model is saved as plain JSON (weights and settings, no pickle), so loading a model file from
    someone else cannot run code. Use it with `qdc score-quality --scorer classifier --classifier MODEL`.

    **Example:** `qdc train-quality --good kept.jsonl --bad rejected.jsonl -o quality.json`
    """
    from qdc.config import validate_config
    from qdc.errors import ConfigError
    from qdc.quality.classifier import save, train

    if c <= 0:
        raise ConfigError(f"--c must be positive (got {c})")
    if output == "-" or not Path(output).parent.exists():
        raise ConfigError(f"-o {output}: give a file in an existing folder")
    ecfg = embed_config(model, batch_size, device, no_cache)
    io = io_config(text_field, template, roles, id_field, on_bad_rows)
    g = Inputs(io, None, output).read(good)
    b = Inputs(io, None, output).read(bad)
    clf = train(g, b, validate_config(type(ecfg), ecfg.model_dump(), "options"), c=c, seed=seed)
    save(clf, output)
    info = {"model": output, "embed_model": clf.embed_model, "features": len(clf.coef), **clf.training}
    if json:
        print_json(info)
    elif not State.quiet:
        console.print(
            f"trained on {g.height} good / {b.height} bad rows (train accuracy "
            f"{clf.training['train_accuracy']}) -> {output}"
        )
