"""`qdc select`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import State, console, print_json
from qdc.cli._stream import BATCH_ROWS, EXECUTOR, MAX_MEMORY, RAY, STREAM, refuse_unstreamed, run_stream_select
from qdc.errors import ConfigError
from qdc.progress import notice
from qdc.select.defaults import default_of as _d

if TYPE_CHECKING:
    from qdc.select import SelectConfig
    from qdc.select.stream import ScaleSelectConfig

_S = "Strategy"
_Q = "Score and eligibility"


def _budget(text: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--budget {text!r}: expected a row count (400) or a fraction (0.1)") from None
    if value == 1 and text.strip() != "1":
        raise ConfigError(f"--budget {text!r} is ambiguous: give 1 for one row, or a fraction below 1 (e.g. 0.5)")
    if value >= 1 and value.is_integer():
        return int(value)
    return value


def _gap(text: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) != 2:
        raise ConfigError(f"--gap {text!r}: expected two columns, REF,CAND")
    return parts[0], parts[1]


def _weights(text: str) -> dict[str, float]:
    from qdc.select.score import parse_weights

    return parse_weights(text)


def _dashes(value: str) -> str:
    return value.replace("-", "_")


def _o(flags: str, type_: object, key: str, help: str, panel: str | None, **kw: object) -> o.Opt:
    """A select option whose default is SelectConfig's (read from the pydantic-free qdc.select.defaults)."""
    return o.Opt(flags, type_, _d(key.split(".")[-1]), help, key=key, panel=panel, **kw)  # type: ignore[arg-type]


SELECT = (
    o.Opt(
        "--budget -b",
        str | None,
        None,
        "Rows to select (e.g. 400) or a fraction of the input rows (e.g. 0.1).",
        key="budget",
        convert=_budget,
    ),
    o.Opt(
        "--budget-tokens",
        int | None,
        None,
        "Select up to this many tokens instead (each row costs its token count).",
        key="budget_tokens",
    ),
    o.SEED,
    _o("--strategy -s", str, "strategy", "kmq, iterative, bandit, facility, random, top, deita or kcenter.", None),
    _o(
        "--score",
        str | None,
        "score",
        "Score expression over columns, e.g. 'qdc_quality * qdc_complexity' [default: qdc_quality, computed "
        "when missing].",
        _Q,
    ),
    _o(
        "--weights",
        str | None,
        "weights",
        "Score as a weighted sum, e.g. quality=1,complexity=0.5.",
        _Q,
        convert=_weights,
    ),
    _o("--min-quality", float | None, "min_quality", "Never select rows with qdc_quality below this.", _Q),
    _o(
        "--dedup",
        str,
        "dedup",
        "Duplicates are never selected twice: auto (qdc dedup exact+minhash), semantic (exact+minhash, then "
        "SemDeDup on the embeddings: near-paraphrases too), exact, or off (trust the input).",
        _Q,
    ),
    _o(
        "--dedup-eps",
        float,
        "dedup_eps",
        "--dedup semantic: rows with cosine > 1 - eps to an earlier row are duplicates.",
        _Q,
    ),
    _o(
        "--cost-field",
        str | None,
        "cost_field",
        "Numeric field with each row's cost for --budget-tokens [default: tokens of the text].",
        _Q,
    ),
    _o("--group-field", str | None, "group_field", "Field whose groups each get a share of the budget.", _Q),
    _o("--quota", str, "quota", "Group shares: equal, proportional or min:N.", _Q),
    _o(
        "--junk-gate/--no-junk-gate",
        bool,
        "junk_gate",
        "Take rows with qdc_quality below the junk threshold only when nothing else fills the budget (opens "
        "itself when more than 15% of the rows are below it).",
        _Q,
    ),
    _o(
        "--k",
        int | None,
        "k",
        "Clusters [default: reuse qdc_cluster, else clamp(B / --rows-per-cluster, 2, 1024)].",
        _S,
    ),
    _o("--allocation", str, "allocation", "Budget per cluster: equal or proportional.", _S),
    _o(
        "--within",
        str,
        "within",
        "Inside a cluster: balanced (representative rows first, the score as a mild preference scaled by its "
        "reliability), softmax (the paper's), top or random.",
        _S,
    ),
    _o(
        "--representative", float, "representative", "--within balanced: weight of closeness to the cluster centre.", _S
    ),
    _o(
        "--score-weight",
        float,
        "score_weight",
        "--within balanced: weight of the score (times its reliability: 1 - |rank corr. with length|).",
        _S,
    ),
    _o("--rows-per-cluster", float, "rows_per_cluster", "Budget rows per cluster when --k is not given.", _S),
    _o(
        "--cluster-quality/--no-cluster-quality",
        bool,
        "cluster_quality",
        "kmq/iterative: scale each cluster's share by min(1, 2 x its mean score percentile), so clusters of "
        "junk get almost nothing; off = the paper's plain split.",
        _S,
    ),
    _o("--temperature", float, "temperature", "Softmax temperature on the standardised score.", _S),
    _o(
        "--diversity-weight",
        float | None,
        "diversity_weight",
        "kmq/iterative: 0 = pure score (top-B) .. 1 = pure coverage.",
        _S,
    ),
    _o("--rounds", int, "iterative.rounds", "iterative: rounds.", _S),
    _o("--explore", float, "iterative.explore", "iterative: exploration floor on cluster weights.", _S),
    _o("--feedback", str | None, "feedback", "iterative/bandit: feedback expression [default: the score].", _S),
    _o(
        "--gap",
        str | None,
        "gap",
        "iterative/bandit: REF,CAND columns; feedback = REF - CAND (the paper's reward gap).",
        _S,
        convert=_gap,
    ),
    _o(
        "--scorer",
        str | None,
        "scorer",
        "iterative/bandit: a qdc score-quality scorer (e.g. judge) as feedback; called only on selected or "
        "probed rows.",
        _S,
    ),
    _o("--max-scored", int | None, "bandit.max_scored", "bandit: hard cap on scorer calls [default: ceil(0.2·B)].", _S),
    _o("--probe", int, "bandit.probe", "bandit: rows scored per pull.", _S),
    _o("--alpha", float, "bandit.alpha", "bandit: UCB exploration.", _S),
    _o(
        "--tau",
        float | None,
        "bandit.tau",
        "bandit: acceptance threshold on the normalised score [default: qdc_quality's junk threshold 0.3 when "
        "the feedback is qdc_quality, else the warm-up median].",
        _S,
    ),
    _o("--accept", str, "bandit.accept", "bandit: block (probe + unscored block) or scored-only.", _S, convert=_dashes),
    _o(
        "--cluster-cap",
        float | None,
        "bandit.cluster_cap",
        "bandit: no cluster takes more than this many times its proportional share of the budget.",
        _S,
    ),
    _o("--coverage", float, "bandit.coverage", "bandit: weight of the coverage term in the arm score.", _S),
    _o("--ceiling", float, "deita.ceiling", "deita: maximum cosine similarity between selected rows.", _S),
    _o(
        "--neighbours",
        int | None,
        "facility.neighbours",
        "facility: neighbours per row in the similarity graph [default: clamp(3n/B, 20, 200)].",
        _S,
    ),
    _o(
        "--quality-weight",
        float,
        "facility.quality_weight",
        "facility: weight of the picks' score percentiles against coverage (0 = coverage only).",
        _S,
    ),
)


_STREAM_ONLY = ("embeddings", "points_per_centroid", "batch_rows", "max_memory", "executor", "ray_address", "ray_cpus")
_EMBEDDER = ("model", "batch_size", "device", "no_cache", "embed_field")
_STREAMED = ("budget", "seed", "strategy", "score", "k", "allocation", "within", "temperature", "cluster_quality")
# The options `--stream` (kmq over a memory map, `qdc.select.stream`) has no use for.
_IN_MEMORY_ONLY = tuple(
    p
    for p in (*(opt.param for opt in SELECT), "manifest", "ledger", "columns", "drop_qdc", "bad_rows_file", *_EMBEDDER)
    if p not in (*_STREAMED, "diversity_weight")
)


def _streamed(a: o.Args, cfg: SelectConfig) -> ScaleSelectConfig:
    """The streaming kmq config of `qdc select --stream` (the same as `qdc scale select`'s)."""
    from qdc.config import validate_config
    from qdc.select.stream import ScaleSelectConfig

    if cfg.strategy != "kmq" and ("strategy" in a.given or cfg.strategy != _d("strategy")):
        raise ConfigError(f"--stream runs kmq; --strategy {cfg.strategy} needs the rows in memory")
    within = cfg.within if "within" in a.given or cfg.within != _d("within") else "softmax"
    keys = {k: getattr(cfg, k) for k in ("budget", "score", "k", "allocation", "temperature", "cluster_quality")}
    extra = {} if a.points_per_centroid is None else {"points_per_centroid": a.points_per_centroid}
    data = {**keys, "within": within, "diversity_weight": cfg.diversity_weight, "seed": cfg.seed, **extra}
    return validate_config(ScaleSelectConfig, data, "--stream")


def _select_streamed(a: o.Args, cfg: SelectConfig) -> None:
    """`qdc select --stream`: the engine of `qdc scale select`, saying when the in-memory choice was swapped."""
    streamed = _streamed(a, cfg)
    run_stream_select(a, streamed, o.read_inputs(a).io)
    if cfg.strategy != "kmq" or streamed.within != cfg.within:
        # Said, not silent: a config file that spells out the in-memory defaults cannot be told from them.
        notice(
            f"--stream selected with kmq, within {streamed.within} (in memory: {cfg.strategy}, within "
            f"{cfg.within}; that needs the rows in memory)"
        )


@o.command(
    app,
    "select",
    (
        o.INPUT,
        o.OUTPUT,
        *o.WRITE,
        *SELECT,
        o.Opt(
            "--manifest",
            str | None,
            None,
            "Write a JSON manifest (parameters, per-cluster counts and weights, scorer calls).",
        ),
        o.Opt(
            "--ledger", str | None, None, "Write a JSONL ledger: every input row with selected/not, round and reason."
        ),
        *o.EMBED,
        *o.IO,
        STREAM.with_(
            help="A file larger than memory: kmq over a memory-mapped --embeddings .npy, read in batches (was "
            "`qdc scale select`; no dedup, token budgets, groups or other strategies)."
        ),
        o.Opt(
            "--embeddings -e",
            str | None,
            None,
            "With --stream: (n, d) float16/float32 .npy, row i embeds input row i (`qdc scale embed` writes it).",
            panel="Streaming",
        ),
        o.Opt(
            "--points-per-centroid",
            int | None,
            None,
            "With --stream: k-means trains on this many sampled rows per centroid [default: 64].",
            panel="Streaming",
        ),
        BATCH_ROWS.with_(type=int | None, default=None, help="With --stream: rows read at a time [default: 100,000]."),
        MAX_MEMORY.with_(help="With --stream: memory limit, e.g. 16G."),
        EXECUTOR.with_(help="With --stream: local, or ray (needs qdc[ray]).", flags="--executor"),
        *RAY,
        o.JSON,
    ),
    config="qdc.select:SelectConfig",
)
def select_cmd(a: o.Args, cfg: SelectConfig) -> None:
    """Select a subset under a budget that balances quality and diversity.

    Strategies: `kmq` (k-means clusters, budget water-filled over clusters, softmax of the score inside each),
    `iterative` (rounds that re-weight clusters by the feedback of their selected rows; a scorer only sees
    selected rows), `bandit` (UCB over clusters with a hard scorer budget), and the baselines `random`, `top`,
    `deita` (score-first with a cosine ceiling) and `kcenter`; `facility` (facility location: every row
    close to some pick, on a sparse nearest-neighbour graph; optional --quality-weight). Duplicates are
    never selected twice. The selected rows are written in input order with `qdc_select_round` and
    `qdc_select_reason`; the same input and seed give identical bytes.

    **Example:** `qdc select scored.jsonl -o picked.jsonl --budget 400 --seed 1 --manifest m.json`
    """
    from qdc.io import write_json, write_records
    from qdc.select import select

    refuse_unstreamed(a, _STREAM_ONLY, _IN_MEMORY_ONLY)
    if a.stream:
        _select_streamed(a, cfg)
        return
    o.check_output_path(a.output)
    o.rows_to_file(a)
    inputs = o.read_inputs(a)
    res = select(inputs.read(a.input), cfg, o.embedding(a))
    o.write_rows(a, res.selected)
    if a.manifest:
        write_json(res.manifest, a.manifest)
    if a.ledger and res.ledger is not None:
        write_records(res.ledger, a.ledger)
    inputs.finish()
    m = res.manifest
    keys = (
        "strategy",
        "rows_in",
        "dedup",
        "eligible",
        "excluded",
        "budget",
        "selected",
        "selected_tokens",
        "scorer_calls",
        "mean_score_selected",
        "mean_score_eligible",
    )
    summary = {key: m[key] for key in keys}
    if a.json:
        print_json(summary)
    elif not State.quiet:
        table = Table(title=f"select ({cfg.strategy}): {m['selected']} of {m['rows_in']} rows", title_justify="left")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for key, value in summary.items():
            table.add_row(key, str(value))
        groups = m.get("groups")
        if groups:
            for g in groups["per_group"]:
                table.add_row(f"group {g['group']}", f"{g['selected']} / quota {g['quota']} of {g['eligible']}")
        console.print(table)
