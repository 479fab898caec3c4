"""`qdc select`."""

from __future__ import annotations

from typing import Annotated, Any

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
from qdc.errors import ConfigError
from qdc.select.defaults import default_of as _d

_S = "Strategy"
_Q = "Score and eligibility"


def _budget(text: str | None) -> int | float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--budget {text!r}: expected a row count (400) or a fraction (0.1)") from None
    if value == 1 and text.strip() != "1":
        raise ConfigError(f"--budget {text!r} is ambiguous: give 1 for one row, or a fraction below 1 (e.g. 0.5)")
    if value >= 1 and value.is_integer():
        return int(value)
    return value


@app.command("select")
@handle_errors
def select_cmd(
    input: InputArg = "-",
    output: OutputOpt = "-",
    budget: Annotated[
        str | None,
        typer.Option("--budget", "-b", help="Rows to select (e.g. 400) or a fraction of the input rows (e.g. 0.1)."),
    ] = None,
    budget_tokens: Annotated[
        int | None,
        typer.Option("--budget-tokens", help="Select up to this many tokens instead (each row costs its token count)."),
    ] = None,
    strategy: Annotated[
        str, typer.Option("--strategy", "-s", help="kmq, iterative, bandit, facility, random, top, deita or kcenter.")
    ] = _d("strategy"),
    seed: SeedOpt = 0,
    manifest: Annotated[
        str | None,
        typer.Option(
            "--manifest", help="Write a JSON manifest (parameters, per-cluster counts and weights, scorer calls)."
        ),
    ] = None,
    ledger: Annotated[
        str | None,
        typer.Option("--ledger", help="Write a JSONL ledger: every input row with selected/not, round and reason."),
    ] = None,
    score: Annotated[
        str | None,
        typer.Option(
            "--score",
            help="Score expression over columns, e.g. 'qdc_quality * qdc_complexity' "
            "[default: qdc_quality, computed when missing].",
            rich_help_panel=_Q,
        ),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="Score as a weighted sum, e.g. quality=1,complexity=0.5.", rich_help_panel=_Q),
    ] = None,
    min_quality: Annotated[
        float | None,
        typer.Option("--min-quality", help="Never select rows with qdc_quality below this.", rich_help_panel=_Q),
    ] = None,
    dedup: Annotated[
        str,
        typer.Option(
            "--dedup",
            help="Duplicates are never selected twice: auto (qdc dedup exact+minhash), "
            "semantic (exact+minhash, then SemDeDup on the embeddings: near-paraphrases too), "
            "exact, or off (trust the input).",
            rich_help_panel=_Q,
        ),
    ] = _d("dedup"),
    dedup_eps: Annotated[
        float,
        typer.Option(
            "--dedup-eps",
            help="--dedup semantic: rows with cosine > 1 - eps to an earlier row are duplicates.",
            rich_help_panel=_Q,
        ),
    ] = _d("dedup_eps"),
    cost_field: Annotated[
        str | None,
        typer.Option(
            "--cost-field",
            help="Numeric field with each row's cost for --budget-tokens [default: tokens of the text].",
            rich_help_panel=_Q,
        ),
    ] = None,
    group_field: Annotated[
        str | None,
        typer.Option("--group-field", help="Field whose groups each get a share of the budget.", rich_help_panel=_Q),
    ] = None,
    quota: Annotated[
        str, typer.Option("--quota", help="Group shares: equal, proportional or min:N.", rich_help_panel=_Q)
    ] = _d("quota"),
    k: Annotated[
        int | None,
        typer.Option(
            "--k",
            help="Clusters [default: reuse qdc_cluster, else clamp(B / --rows-per-cluster, 2, 1024)].",
            rich_help_panel=_S,
        ),
    ] = None,
    allocation: Annotated[
        str, typer.Option("--allocation", help="Budget per cluster: equal or proportional.", rich_help_panel=_S)
    ] = _d("allocation"),
    within: Annotated[
        str,
        typer.Option(
            "--within",
            help="Inside a cluster: balanced (representative rows first, the score as a mild preference "
            "scaled by its reliability), softmax (the paper's), top or random.",
            rich_help_panel=_S,
        ),
    ] = _d("within"),
    representative: Annotated[
        float,
        typer.Option(
            "--representative", help="--within balanced: weight of closeness to the cluster centre.", rich_help_panel=_S
        ),
    ] = _d("representative"),
    score_weight: Annotated[
        float,
        typer.Option(
            "--score-weight",
            help="--within balanced: weight of the score (times its reliability: 1 - |rank corr. with length|).",
            rich_help_panel=_S,
        ),
    ] = _d("score_weight"),
    junk_gate: Annotated[
        bool,
        typer.Option(
            "--junk-gate/--no-junk-gate",
            help="Take rows with qdc_quality below the junk threshold only when nothing else fills the budget "
            "(opens itself when more than 15% of the rows are below it).",
            rich_help_panel=_Q,
        ),
    ] = _d("junk_gate"),
    rows_per_cluster: Annotated[
        float,
        typer.Option("--rows-per-cluster", help="Budget rows per cluster when --k is not given.", rich_help_panel=_S),
    ] = _d("rows_per_cluster"),
    cluster_quality: Annotated[
        bool,
        typer.Option(
            "--cluster-quality/--no-cluster-quality",
            help="kmq/iterative: scale each cluster's share by "
            "min(1, 2 x its mean score percentile), so clusters of junk get almost nothing; off = the paper's "
            "plain split.",
            rich_help_panel=_S,
        ),
    ] = _d("cluster_quality"),
    temperature: Annotated[
        float, typer.Option("--temperature", help="Softmax temperature on the standardised score.", rich_help_panel=_S)
    ] = _d("temperature"),
    diversity_weight: Annotated[
        float | None,
        typer.Option(
            "--diversity-weight", help="kmq/iterative: 0 = pure score (top-B) .. 1 = pure coverage.", rich_help_panel=_S
        ),
    ] = None,
    rounds: Annotated[int, typer.Option("--rounds", help="iterative: rounds.", rich_help_panel=_S)] = _d("rounds"),
    explore: Annotated[
        float, typer.Option("--explore", help="iterative: exploration floor on cluster weights.", rich_help_panel=_S)
    ] = _d("explore"),
    feedback: Annotated[
        str | None,
        typer.Option(
            "--feedback", help="iterative/bandit: feedback expression [default: the score].", rich_help_panel=_S
        ),
    ] = None,
    gap: Annotated[
        str | None,
        typer.Option(
            "--gap",
            help="iterative/bandit: REF,CAND columns; feedback = REF - CAND (the paper's reward gap).",
            rich_help_panel=_S,
        ),
    ] = None,
    scorer: Annotated[
        str | None,
        typer.Option(
            "--scorer",
            help="iterative/bandit: a qdc score-quality scorer (e.g. judge) as feedback; called only "
            "on selected or probed rows.",
            rich_help_panel=_S,
        ),
    ] = None,
    max_scored: Annotated[
        int | None,
        typer.Option(
            "--max-scored", help="bandit: hard cap on scorer calls [default: ceil(0.2·B)].", rich_help_panel=_S
        ),
    ] = None,
    probe: Annotated[int, typer.Option("--probe", help="bandit: rows scored per pull.", rich_help_panel=_S)] = _d(
        "probe"
    ),
    alpha: Annotated[float, typer.Option("--alpha", help="bandit: UCB exploration.", rich_help_panel=_S)] = _d("alpha"),
    tau: Annotated[
        float | None,
        typer.Option(
            "--tau",
            help="bandit: acceptance threshold on the normalised score [default: warm-up median].",
            rich_help_panel=_S,
        ),
    ] = None,
    accept: Annotated[
        str, typer.Option("--accept", help="bandit: block (probe + unscored block) or scored-only.", rich_help_panel=_S)
    ] = _d("accept"),
    ceiling: Annotated[
        float,
        typer.Option("--ceiling", help="deita: maximum cosine similarity between selected rows.", rich_help_panel=_S),
    ] = _d("ceiling"),
    neighbours: Annotated[
        int | None,
        typer.Option(
            "--neighbours",
            help="facility: neighbours per row in the similarity graph [default: clamp(3n/B, 20, 200)].",
            rich_help_panel=_S,
        ),
    ] = _d("neighbours"),
    quality_weight: Annotated[
        float,
        typer.Option(
            "--quality-weight",
            help="facility: weight of the picks' score percentiles against coverage (0 = coverage only).",
            rich_help_panel=_S,
        ),
    ] = _d("quality_weight"),
    cluster_cap: Annotated[
        float | None,
        typer.Option(
            "--cluster-cap",
            help="bandit: no cluster takes more than this many times its proportional share of the budget.",
            rich_help_panel=_S,
        ),
    ] = _d("cluster_cap"),
    coverage: Annotated[
        float,
        typer.Option("--coverage", help="bandit: weight of the coverage term in the arm score.", rich_help_panel=_S),
    ] = _d("coverage"),
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
    from qdc.config import validate_config
    from qdc.io import write_json, write_records
    from qdc.select import SelectConfig, select
    from qdc.select.score import parse_weights

    check_output_path(output)
    if json and output == "-":
        raise typer.BadParameter("--json prints a summary on stdout; pass -o FILE for the rows")
    gap_pair = None
    if gap is not None:
        parts = [p.strip() for p in gap.split(",") if p.strip()]
        if len(parts) != 2:
            raise ConfigError(f"--gap {gap!r}: expected two columns, REF,CAND")
        gap_pair = (parts[0], parts[1])
    data: dict[str, Any] = {
        "budget": _budget(budget),
        "budget_tokens": budget_tokens,
        "strategy": strategy,
        "seed": seed,
        "score": score,
        "weights": parse_weights(weights) if weights else None,
        "min_quality": min_quality,
        "dedup": dedup,
        "dedup_eps": dedup_eps,
        "cost_field": cost_field,
        "group_field": group_field,
        "quota": quota,
        "k": k,
        "allocation": allocation,
        "within": within,
        "representative": representative,
        "score_weight": score_weight,
        "junk_gate": junk_gate,
        "rows_per_cluster": rows_per_cluster,
        "temperature": temperature,
        "cluster_quality": cluster_quality,
        "diversity_weight": diversity_weight,
        "iterative": {"rounds": rounds, "explore": explore},
        "feedback": feedback,
        "gap": gap_pair,
        "scorer": scorer,
        "bandit": {
            "max_scored": max_scored,
            "probe": probe,
            "alpha": alpha,
            "tau": tau,
            "accept": accept.replace("-", "_"),
            "cluster_cap": cluster_cap,
            "coverage": coverage,
        },
        "deita": {"ceiling": ceiling},
        "facility": {"neighbours": neighbours, "quality_weight": quality_weight},
    }
    cfg = validate_config(SelectConfig, data, "options")
    ecfg = embed_config(model, batch_size, device, no_cache, embed_field)
    inputs = Inputs(io_config(text_field, template, roles, id_field, on_bad_rows), bad_rows_file, output)
    res = select(inputs.read(input), cfg, ecfg)
    write_records(res.selected, output)
    if manifest:
        write_json(res.manifest, manifest)
    if ledger and res.ledger is not None:
        write_records(res.ledger, ledger)
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
    if json:
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
