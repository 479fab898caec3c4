"""`qdc probe`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

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
    RolesOpt,
    SeedOpt,
    State,
    TemplateOpt,
    TextFieldOpt,
    console,
    embed_config,
    handle_errors,
    io_config,
    print_json,
)


@app.command("probe")
@handle_errors
def probe_cmd(
    input: InputArg = "-",
    pool: Annotated[
        str,
        typer.Option("--pool", help="The rows the selection was drawn from (random subsets come from here)."),
    ] = "",
    test: Annotated[
        str, typer.Option("--test", help="Held-out labelled rows the probes are scored on (not in the pool).")
    ] = "",
    label_field: Annotated[str, typer.Option("--label-field", help="Column holding each row's class.")] = "label",
    seeds: Annotated[int, typer.Option("--seeds", help="Random subsets to compare with (paired seeds).")] = 10,
    metric: Annotated[str, typer.Option("--metric", help="accuracy or balanced_accuracy.")] = "accuracy",
    c: Annotated[float, typer.Option("--c", help="Inverse regularisation of the logistic regression.")] = 10.0,
    seed: SeedOpt = 0,
    model: ModelOpt = "default",
    batch_size: BatchSizeOpt = 64,
    device: DeviceOpt = "auto",
    no_cache: NoCacheOpt = False,
    embed_field: EmbedFieldOpt = "text",
    text_field: TextFieldOpt = None,
    template: TemplateOpt = None,
    roles: RolesOpt = "user,assistant",
    id_field: IdFieldOpt = "id",
    on_bad_rows: OnBadRowsOpt = "error",
    bad_rows_file: BadRowsFileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Check a selection on your own labelled data: a linear probe trained on the selected rows against
    random subsets of the pool of the same size (paired seeds), scored on held-out rows.

    Prints the selection's accuracy, random's, the mean paired gain with a 95% confidence interval and the
    seeds won (`--json`: one JSON document on stdout). Embeddings are reused from `qdc_embedding` or
    computed with the embedding options (cached).

    **Example:** `qdc probe picked.jsonl --pool data.jsonl --test heldout.jsonl --label-field label`
    """
    from qdc.config import validate_config
    from qdc.embed import ensure_embeddings
    from qdc.errors import ConfigError
    from qdc.probe import ProbeConfig, labels_of, probe

    if not pool or not test:
        raise ConfigError("qdc probe needs --pool (the rows selected from) and --test (held-out labelled rows)")
    cfg = validate_config(
        ProbeConfig, {"label_field": label_field, "seeds": seeds, "seed": seed, "c": c, "metric": metric}, "options"
    )
    ecfg = embed_config(model, batch_size, device, no_cache, embed_field)
    inputs = Inputs(io_config(text_field, template, roles, id_field, on_bad_rows), bad_rows_file, "-")
    parts = {}
    for what, path in (("the selection", input), ("--pool", pool), ("--test", test)):
        df = inputs.read(path)
        df, x = ensure_embeddings(df, ecfg)
        parts[what] = (x, labels_of(df, cfg.label_field, f"{what} ({path})"))
    res = probe(*parts["the selection"], *parts["--pool"], *parts["--test"], cfg)
    inputs.finish()
    out = res.as_dict()
    if json:
        print_json(out)
        return
    if State.quiet:
        return
    table = Table(
        title=f"probe: {res.selected_rows} selected rows vs {len(res.random)} random subsets of the pool",
        title_justify="left",
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"{res.metric}, selection", f"{res.selected:.4f}")
    table.add_row(f"{res.metric}, random (mean)", f"{out['random_mean']:.4f}")
    table.add_row("gain over random", f"{res.gain:+.4f}")
    table.add_row("95% interval", f"[{res.low:+.4f}, {res.high:+.4f}]")
    table.add_row("seeds won", f"{res.wins}/{len(res.random)}")
    table.add_row("rows: pool / test / classes", f"{res.pool_rows} / {res.test_rows} / {res.classes}")
    console.print(table)
    for note in res.notes:
        console.print(note)
