"""`qdc probe`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import show, table

if TYPE_CHECKING:
    from qdc.probe import ProbeConfig


@o.command(
    app,
    "probe",
    (
        o.INPUT,
        o.Opt("--pool", str, "", "The rows the selection was drawn from (random subsets come from here)."),
        o.Opt("--test", str, "", "Held-out labelled rows the probes are scored on (not in the pool)."),
        o.K("--label-field", str, "label_field"),
        o.K("--seeds", int, "seeds"),
        o.K("--metric", str, "metric"),
        o.K("--c", float, "c"),
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

    Prints the selection's accuracy, random's, the mean paired gain with a 95% confidence interval (a paired
    bootstrap over the test rows and the seeds: the held-out rows are a sample too) and the seeds won
    (`--json`: one JSON document on stdout). Embeddings are reused from `qdc_embedding` or
    computed with the embedding options (cached).

    **Example:** `qdc probe picked.jsonl --pool data.jsonl --test heldout.jsonl --label-field label`
    """
    from qdc.errors import ConfigError
    from qdc.probe import probe_frames

    if not a.pool or not a.test:
        raise ConfigError("qdc probe needs --pool (the rows selected from) and --test (held-out labelled rows)")
    ecfg, inputs = o.embedding(a), o.read_inputs(a, "-")
    names = (f"the selection ({a.input})", f"--pool ({a.pool})", f"--test ({a.test})")
    selection, pool, test = (inputs.read(path) for path in (a.input, a.pool, a.test))
    res = probe_frames(selection, pool, test, cfg, ecfg, names)
    inputs.finish()
    out, m, n = res.as_dict(), res.metric, len(res.random)
    rows = [
        (f"{m}, selection", f"{res.selected:.4f}"),
        (f"{m}, random (mean)", f"{out['random_mean']:.4f}"),
        ("gain over random", f"{res.gain:+.4f}"),
        (f"{cfg.confidence:.0%} interval (test rows and seeds resampled)", f"[{res.low:+.4f}, {res.high:+.4f}]"),
        ("  over the seeds alone (t)", f"[{res.seeds_low:+.4f}, {res.seeds_high:+.4f}]"),
        ("seeds won", f"{res.wins}/{n}"),
        ("rows: pool / test / classes", f"{res.pool_rows} / {res.test_rows} / {res.classes}"),
    ]
    show(a, out, table(f"probe: {res.selected_rows} selected rows vs {n} random subsets of the pool", rows), *res.notes)
