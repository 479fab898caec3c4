"""`qdc score-complexity`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import State, console, print_json
from qdc.cli.quality import EXPLAIN, JUDGE, show_explanation

if TYPE_CHECKING:
    from qdc.complexity import ComplexityConfig


@o.command(
    app,
    "score-complexity",
    (
        o.INPUT,
        o.OUTPUT,
        *o.WRITE,
        o.Opt(
            "--scorer",
            str,
            "heuristic",
            "heuristic (no model) or judge (DEITA-style 1-6 complexity rubric; needs --judge-model and --base-url).",
            key="scorer",
        ),
        EXPLAIN,
        *JUDGE,
        o.Opt("--rubric", str, "complexity6", "complexity6 or a rubric file.", key="judge.rubric", panel="Judge"),
        *o.IO,
        o.JSON,
    ),
    config="qdc.complexity:ComplexityConfig",
)
def score_complexity_cmd(a: o.Args, cfg: ComplexityConfig) -> None:
    """Add `qdc_complexity` (0-1, higher is more demanding) and the `qdc_c_*` signals behind it.

    Signals: instruction tokens, explicit constraints, questions and sub-tasks, reasoning steps in the
    response, code blocks and Python AST size, and MTLD lexical diversity (docs/scoring.md).

    **Example:** `qdc score-complexity data.jsonl -o scored.jsonl`
    """
    from qdc.complexity import explain, score_complexity

    o.check_output_path(a.output)
    o.rows_to_file(a)
    inputs = o.read_inputs(a)
    df = inputs.read(a.input)
    info: dict[str, object] | None
    if a.explain_id is not None and a.output == "-" and cfg.scorer == "heuristic":
        info = explain(df, a.explain_id)
    else:
        df = score_complexity(df, cfg)
        info = explain(df, a.explain_id) if a.explain_id is not None else None
        if not (a.explain_id is not None and a.output == "-"):
            o.write_rows(a, df)
    inputs.finish()
    if info is not None:
        print_json(info)
        if not State.quiet and not a.json:
            show_explanation(info, f"row {a.explain_id} ({info['where']}): complexity {info['complexity']}")
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
    if a.json:
        print_json(result)
    elif not State.quiet:
        console.print(
            f"scored {result['rows']} rows ({cfg.scorer}): mean complexity {result['mean']}, "
            f"90th percentile {result['p90']}"
        )
