"""`qdc score-complexity`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import show
from qdc.cli._stream import STREAM, STREAMING
from qdc.cli.quality import EXPLAIN, JUDGE, NO_CACHE, score_rows, show_explanation, stream_score

_STREAM_HELP = (
    "A file larger than memory: scored in batches, same bytes (heuristic scorer; was `qdc scale score --no-quality`)."
)
if TYPE_CHECKING:
    from qdc.complexity import ComplexityConfig


@o.command(
    app,
    "score-complexity",
    (o.K("--scorer", str, "scorer"), EXPLAIN, *JUDGE, NO_CACHE, STREAM.with_(help=_STREAM_HELP), *STREAMING),
    config="qdc.complexity:ComplexityConfig",
    rows=True,
)
def score_complexity_cmd(a: o.Args, cfg: ComplexityConfig) -> None:
    """Add `qdc_complexity` (0-1, higher is more demanding) and the `qdc_c_*` signals behind it.

    Signals: instruction tokens, explicit constraints, questions and sub-tasks, reasoning steps in the
    response, code blocks and Python AST size, and MTLD lexical diversity (docs/scoring.md).

    **Example:** `qdc score-complexity data.jsonl -o scored.jsonl`
    """
    from qdc.complexity import explain, score_complexity, summary

    if a.stream:
        return stream_score(a, None, cfg)  # the heuristic scorer only (the engine refuses the judge)
    cheap = cfg.scorer == "heuristic"
    df, info = score_rows(a, cheap, lambda d: score_complexity(d, cfg), lambda d: explain(d, a.explain_id))
    if info is not None:
        return show_explanation(a, info, f"row {a.explain_id} ({info['where']}): complexity {info['complexity']}")
    res = {"rows": df.height, "scorer": cfg.scorer, **summary(df)}  # the keys in the order they always had
    show(a, res, f"scored {df.height} rows ({cfg.scorer}): mean complexity {res['mean']}, 90th percentile {res['p90']}")
