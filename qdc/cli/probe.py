"""`qdc probe`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import State, console, print_json

if TYPE_CHECKING:
    from qdc.probe import ProbeConfig


@o.command(
    app,
    "probe",
    (
        o.INPUT,
        o.Opt("--pool", str, "", "The rows the selection was drawn from (random subsets come from here)."),
        o.Opt("--test", str, "", "Held-out labelled rows the probes are scored on (not in the pool)."),
        o.Opt("--label-field", str, "label", "Column holding each row's class.", key="label_field"),
        o.Opt("--seeds", int, 10, "Random subsets to compare with (paired seeds).", key="seeds"),
        o.Opt("--metric", str, "accuracy", "accuracy or balanced_accuracy.", key="metric"),
        o.Opt("--c", float, 10.0, "Inverse regularisation of the logistic regression.", key="c"),
        o.SEED,
        *o.EMBED,
        *o.IO,
        o.JSON,
    ),
    config="qdc.probe:ProbeConfig",
)
def probe_cmd(a: o.Args, cfg: ProbeConfig) -> None:
    """Check a selection on your own labelled data: a linear probe trained on the selected rows against
    random subsets of the pool of the same size (paired seeds), scored on held-out rows.

    Prints the selection's accuracy, random's, the mean paired gain with a 95% confidence interval and the
    seeds won (`--json`: one JSON document on stdout). Embeddings are reused from `qdc_embedding` or
    computed with the embedding options (cached).

    **Example:** `qdc probe picked.jsonl --pool data.jsonl --test heldout.jsonl --label-field label`
    """
    from qdc.embed import ensure_embeddings
    from qdc.errors import ConfigError
    from qdc.probe import labels_of, probe

    if not a.pool or not a.test:
        raise ConfigError("qdc probe needs --pool (the rows selected from) and --test (held-out labelled rows)")
    ecfg = o.embedding(a)
    inputs = o.read_inputs(a, "-")
    parts = {}
    for what, path in (("the selection", a.input), ("--pool", a.pool), ("--test", a.test)):
        df = inputs.read(path)
        df, x = ensure_embeddings(df, ecfg)
        parts[what] = (x, labels_of(df, cfg.label_field, f"{what} ({path})"))
    res = probe(*parts["the selection"], *parts["--pool"], *parts["--test"], cfg)
    inputs.finish()
    out = res.as_dict()
    if a.json:
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
