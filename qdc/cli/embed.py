"""`qdc embed`."""

from __future__ import annotations

import time

import typer

from qdc.cli import app
from qdc.cli._common import (
    BadRowsFileOpt,
    BatchSizeOpt,
    DeviceOpt,
    EmbedFieldOpt,
    IdFieldOpt,
    InputArg,
    Inputs,
    JsonOpt,
    ModelOpt,
    NoCacheOpt,
    OnBadRowsOpt,
    OutputOpt,
    RolesOpt,
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


@app.command("embed")
@handle_errors
def embed_cmd(
    input: InputArg = "-",
    output: OutputOpt = "-",
    model: ModelOpt = "default",
    batch_size: BatchSizeOpt = 64,
    device: DeviceOpt = "auto",
    no_cache: NoCacheOpt = False,
    embed_field: EmbedFieldOpt = "text",
    force: bool = typer.Option(False, "--force", help="Re-embed rows that already carry qdc_embedding."),
    text_field: TextFieldOpt = None,
    template: TemplateOpt = None,
    roles: RolesOpt = "user,assistant",
    id_field: IdFieldOpt = "id",
    on_bad_rows: OnBadRowsOpt = "error",
    bad_rows_file: BadRowsFileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Add `qdc_embedding`: an L2-normalised float32 vector per row.

    The default model is all-MiniLM-L6-v2, loaded offline from the installed package. Vectors are cached
    by (model, text), so a re-run embeds only rows it has not seen. Parquet output stores them as a
    fixed-size list; JSONL as a list of floats.

    **Example:** `cat data.jsonl | qdc embed - -o embedded.parquet --model static`
    """
    from qdc.embed import embed
    from qdc.io import write_records

    check_output_path(output)
    if json and output == "-":
        raise typer.BadParameter("--json prints a summary on stdout; pass -o FILE for the rows")
    cfg = embed_config(model, batch_size, device, no_cache, embed_field, force)
    inputs = Inputs(io_config(text_field, template, roles, id_field, on_bad_rows), bad_rows_file, output)
    df = inputs.read(input)
    t0 = time.perf_counter()
    out = embed(df, cfg)
    seconds = time.perf_counter() - t0
    write_records(out, output)
    inputs.finish()
    summary = {
        "rows": out.height,
        "model": cfg.model,
        "dim": int(out.schema["qdc_embedding"].size),  # type: ignore[attr-defined]
        "seconds": round(seconds, 3),
        "rows_per_second": round(out.height / max(seconds, 1e-9), 1),
    }
    if json:
        print_json(summary)
    elif not State.quiet:
        console.print(
            f"embedded {summary['rows']} rows with {cfg.model} ({summary['dim']}-d) in {seconds:.1f}s -> {output}"
        )
