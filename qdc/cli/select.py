"""`qdc select`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import show, table
from qdc.cli._stream import EMBEDDINGS, STREAM, STREAMING, _s, run_options, streamed
from qdc.errors import ConfigError
from qdc.progress import notice

if TYPE_CHECKING:
    from qdc.select import SelectConfig


def _budget(text: str) -> int | float:
    """--budget's text as a number; SelectConfig judges it (1.0 is ambiguous, 2.5 rows is not a count)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    raise ConfigError(f"--budget {text!r}: expected a row count (400) or a fraction (0.1)")


_S, _Q, K = "Strategy", "Score and eligibility", o.K
# Help and defaults come from SelectConfig (--help reads them); every other key (allocation, within,
# bandit.alpha, ...: `qdc stages --keys`) through --set.
SELECT = (
    K("--budget -b", str, "budget", convert=_budget),
    o.SEED,
    K("--strategy -s", str, "strategy"),
    K("--score", str, "score", panel=_Q),
    K("--min-quality", float, "min_quality", panel=_Q, stream=False),
    K("--dedup", str, "dedup", panel=_Q, stream=False),
    K("--k", int, "k", panel=_S),
    K("--scorer", str, "scorer", panel=_S, stream=False),
)


def _select_streamed(a: o.Args, cfg: SelectConfig) -> None:
    """`qdc select --stream`: streaming kmq over --embeddings, saying when the in-memory choice was swapped."""
    from qdc.pipeline.layers import set_keys
    from qdc.select.stream import stream_config, stream_select

    named = set_keys(type(cfg), "select", a.set_ or ())  # keys set by --set, as the config was built from them
    scfg = stream_config(cfg, named, "strategy" in a.given, a.points_per_centroid)
    io = o.read_inputs(a).io
    if a.embeddings is None:
        raise ConfigError(
            "--stream selects over a memory-mapped --embeddings FILE.npy (`qdc embed --stream` writes it)"
        )
    run = run_options(a)

    def engine(_: object, est: Any) -> dict[str, Any]:
        return stream_select(a.input, a.embeddings, scfg, io, output=a.output, run=run, on_estimate=est)

    streamed(
        a,
        "select",
        engine,
        lambda s: (
            f"selected {s['selected']} of {s['rows_in']} rows (k={s['clusters']['k']}) in {s['seconds']['total']} s"
        ),
    )
    if cfg.strategy != "kmq" or scfg.within != cfg.within:
        # Said, not silent: a config file that spells out the in-memory defaults cannot be told from them.
        notice(
            f"--stream selected with kmq, within {scfg.within} (in memory: {cfg.strategy}, within "
            f"{cfg.within}; that needs the rows in memory)"
        )


@o.command(
    app,
    "select",
    (
        *SELECT,
        o.M("--manifest", str | None, None, "Write a JSON manifest (parameters, per-cluster counts, scorer calls)."),
        o.M("--ledger", str | None, None, "Write a JSONL ledger: every input row with selected/not and reason."),
        *(opt.with_(stream=False) for opt in (*o.EMBED, o.BAD_FILE)),
        STREAM.with_(help="kmq over a memory-mapped --embeddings .npy, read in batches (no dedup, groups, tokens)."),
        EMBEDDINGS,
        _s("--points-per-centroid", int | None, "With --stream: k-means sample per centroid [default: 64]."),
        *STREAMING,
    ),
    config="qdc.select:SelectConfig",
    rows=True,
)
def select_cmd(a: o.Args, cfg: SelectConfig) -> None:
    """Select a subset under a budget that balances quality and diversity.

    Strategies: `kmq` (k-means clusters, budget water-filled over clusters, softmax of the score inside each),
    `iterative` (rounds that re-weight clusters by the feedback of their selected rows; a scorer only sees
    selected rows), `bandit` (UCB over clusters with a hard scorer budget), and the baselines `random`, `top`,
    `deita` (score-first with a cosine ceiling) and `kcenter`; `facility` (facility location: every row
    close to some pick, on a sparse nearest-neighbour graph; optional `--set facility.quality_weight=...`).
    Duplicates are never selected twice. The selected rows are written in input order with `qdc_select_round` and
    `qdc_select_reason`; the same input and seed give identical bytes.

    **Example:** `qdc select scored.jsonl -o picked.jsonl --budget 400 --seed 1 --manifest m.json`
    """
    from qdc.io import write_json, write_records
    from qdc.select import select

    if a.stream:
        _select_streamed(a, cfg)
        return
    o.check_outputs(a)
    inputs = o.read_inputs(a)
    res = select(inputs.read(a.input), cfg, o.embedding(a))
    o.write_rows(a, res.selected)
    if a.manifest:
        write_json(res.manifest, a.manifest)
    if a.ledger and res.ledger is not None:
        write_records(res.ledger, a.ledger)
    inputs.finish()
    m = res.manifest
    keys = ("strategy", "rows_in", "dedup", "eligible", "excluded", "budget", "selected", "selected_tokens")
    more = ("scorer_calls", "mean_score_selected", "mean_score_eligible", "not_selected")
    summary = {key: m[key] for key in (*keys, *more)}
    why = ", ".join(f"{n} {reason}" for reason, n in m["not_selected"].items() if n)  # reason: the ledger's
    groups = [
        (f"group {g['group']}", f"{g['selected']} / quota {g['quota']} of {g['eligible']}")
        for g in (m.get("groups") or {}).get("per_group", [])
    ]
    rows = [*((k, v) for k, v in summary.items() if k != "not_selected"), ("not selected", why or "0"), *groups]
    show(a, summary, table(f"select ({cfg.strategy}): {m['selected']} of {m['rows_in']} rows", rows))
