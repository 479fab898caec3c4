"""`qdc score-quality` and `qdc train-quality`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import State, console, print_json, show, table
from qdc.cli._stream import STREAM, STREAMING, run_options, streamed

if TYPE_CHECKING:
    from qdc.complexity import ComplexityConfig
    from qdc.quality import QualityConfig

_J, K = "Judge", o.K


# The judge's everyday options (`qdc score-quality`, `qdc score-complexity`); its other keys (judge.api_key_env,
# judge.concurrency, judge.rubric, ...: `qdc stages --keys`) through --set.
JUDGE = (
    K("--base-url", str, "judge.base_url", panel=_J),
    K("--judge-model", str, "judge.model", panel=_J, name="model"),
)
_NO_CACHE = "Do not read or write the embedding and judge caches."
NO_CACHE = o.NO_CACHE.with_(help=_NO_CACHE, key="judge.cache", convert=o.negate)
EXPLAIN = o.M("--explain", str | None, None, "Print one row's signals as JSON on stdout.", name="explain_id")


def show_explanation(a: o.Args, info: dict[str, Any], title: str) -> None:
    """--explain ID: the row's signals as JSON on stdout and as a table on stderr."""
    print_json(info)
    rows = []
    for name, item in info["signals"].items():
        if not isinstance(item, dict):
            rows.append((name, item, ""))
            continue
        rows.append((name, item.get("score", ""), ", ".join(f"{k}={v}" for k, v in item.items() if k != "score")))
    if not State.quiet and not a.json:
        console.print(table(title, rows, ("signal", "score", "details")))


def score_rows(a: o.Args, cheap: bool, score: Callable[[Any], Any], explain: Callable[[Any], Any]) -> tuple[Any, Any]:
    """(rows, --explain's dict or None) of score-quality and score-complexity: score and write the rows; with
    --explain ID and no -o only the row's explanation, without scoring every row when the scorer is `cheap`."""
    o.check_outputs(a)
    inputs = o.read_inputs(a)
    df = inputs.read(a.input)
    only = a.explain_id is not None and a.output == "-"
    if not (only and cheap):
        df = score(df)
    info = explain(df) if a.explain_id is not None else None  # an unknown id fails before anything is written
    if not only:
        o.write_rows(a, df)
    inputs.finish()
    return df, info


def stream_score(a: o.Args, quality: QualityConfig | None, complexity: ComplexityConfig | None) -> None:
    """Streamed model-free scoring: `qdc score-quality --stream` and `qdc scale score`."""
    from qdc.quality.stream import stream_score as engine

    io, run = o.read_inputs(a).io, run_options(a)
    means = ("quality", "complexity")
    streamed(
        a,
        "score",
        lambda r, est: engine(
            a.input, io, quality=quality, complexity=complexity, output=a.output, run=run, report=r, on_estimate=est
        ),
        lambda s: (
            f"scored {s['rows']} rows in {s['seconds']['total']} s ("
            + ", ".join(f"mean {k} {s[k]['mean']}" for k in means if k in s)
            + ")"
        ),
    )


@o.command(
    app,
    "score-quality",
    (
        K("--scorer", str, "scorer"),
        K("--classifier", Path, "classifier"),
        EXPLAIN,
        K("--label-field", str, "label_field", stream=False),
        *JUDGE,
        NO_CACHE.with_(help="Do not read or write the embedding, judge and lm caches.", key="judge.cache,lm.cache"),
        o.BATCH.with_(help="Rows per model batch (embedder; --scorer lm too).", key="lm.batch_size", given_only=True),
        o.DEVICE.with_(help="auto, cpu or cuda (embedder; --scorer lm too).", key="lm.device", given_only=True),
        STREAM.with_(help="A file larger than memory: scored in batches, same bytes (learned, heuristic)."),
        *STREAMING,
    ),
    config="qdc.quality:QualityConfig",
    rows=True,
)
def score_quality_cmd(a: o.Args, cfg: QualityConfig) -> None:
    """Add `qdc_quality` (0-1, higher is better) and the `qdc_q_*` columns behind it.

    The default `learned` scorer needs no download: small tree ensembles shipped with qdc, trained on
    public judged answers and junk, read vectorised signals (Gopher/C4/FineWeb rules, completeness,
    loops, relevance, canned answers, symbol soup). It writes `qdc_q_junk` (the probability that the row
    is NOT junk), `qdc_q_grade` (the judge-trained grade) and `qdc_q_reason`. Below 0.3 is junk, and
    `qdc_q_reason` names the signals that decided it. `--scorer heuristic` is the v1 rule set (one
    `qdc_q_<signal>` column per signal). `--explain ID` shows why a row got its score (docs/scoring.md).

    **Example:** `qdc score-quality data.jsonl -o scored.jsonl --explain row-17`
    """
    from qdc.errors import ConfigError
    from qdc.quality import explain, score_quality, summary

    if cfg.signals != type(cfg).model_fields["signals"].default and cfg.scorer == "learned":
        raise ConfigError("signals picks heuristic signals: add --scorer heuristic")
    if a.stream:
        return stream_score(a, cfg, None)
    ecfg = o.embedding(o.Args({**a, "model": "default"}))  # --model is the judge's here
    cheap = cfg.scorer in ("heuristic", "learned")
    df, info = score_rows(a, cheap, lambda d: score_quality(d, cfg, ecfg), lambda d: explain(d, a.explain_id, cfg))
    if info is not None:
        why = f", judged junk by: {info['reason']}" if info.get("reason") else ""
        return show_explanation(a, info, f"row {a.explain_id} ({info['where']}): quality {info['quality']}{why}")
    result = summary(df)
    flagged = result.get("junk_reasons", {k: v for k, v in result["flagged"].items() if v})
    flags = ", ".join(f"{k} {v}" for k, v in flagged.items()) or "none"
    show(
        a,
        {"scorer": cfg.scorer, **result},
        f"scored {result['rows']} rows ({cfg.scorer}): mean quality {result['mean']}, {result['junk']} junk (below "
        f"0.3); flagged by signal: {flags}",
    )


@o.command(
    app,
    "train-quality",
    (
        o.Opt("--good", str, ..., "Rows of good examples (any input format)."),
        o.Opt("--bad", str, ..., "Rows of bad examples."),
        o.Opt("--output -o", str, ..., "Where to write the model (JSON)."),
        o.MODEL,
        o.Opt("--c", float, 1.0, "Inverse L2 regularisation strength."),
        o.SEED,
        o.BATCH,
        o.DEVICE,
        o.NO_CACHE,
        *o.TEXT,
        o.ON_BAD,
        o.JSON,
    ),
)
def train_quality_cmd(a: o.Args) -> None:
    """Train the `classifier` quality scorer: logistic regression on embeddings plus the heuristic signals.

    The model is saved as plain JSON (weights and settings, no pickle), so loading a model file from
    someone else cannot run code. Use it with `qdc score-quality --scorer classifier --classifier MODEL`.

    **Example:** `qdc train-quality --good kept.jsonl --bad rejected.jsonl -o quality.json`
    """
    from qdc.errors import ConfigError
    from qdc.quality.classifier import save, train

    if a.c <= 0:
        raise ConfigError(f"--c must be positive (got {a.c})")
    if a.output == "-" or not Path(a.output).parent.exists():
        raise ConfigError(f"-o {a.output}: give a file in an existing folder")
    g, b = (o.read_inputs(a).read(path) for path in (a.good, a.bad))
    clf = train(g, b, o.embedding(a), c=a.c, seed=a.seed)
    save(clf, a.output)
    info = {"model": a.output, "embed_model": clf.embed_model, "features": len(clf.coef), **clf.training}
    acc, cv, k = (clf.training[key] for key in ("train_accuracy", "cv_accuracy", "cv_folds"))
    held = f"{k}-fold cross-validated {cv}, expect about this on new rows; " if cv is not None else ""
    show(a, info, f"trained on {g.height} good / {b.height} bad rows ({held}train accuracy {acc}) -> {a.output}")
