"""`qdc score-quality` and `qdc train-quality`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import State, console, print_json
from qdc.cli._stream import BATCH_ROWS, EXECUTOR, MAX_MEMORY, RAY, STREAM, refuse_unstreamed, run_stream_score

if TYPE_CHECKING:
    from qdc.quality import QualityConfig

_J = "Judge"


def _old_model(value: str) -> str:
    from qdc.progress import notice

    notice("--model here means the judge model; use --judge-model")
    return value


# The judge's options (`qdc score-quality`, `qdc score-complexity`), keyed into the stage config's `judge`.
JUDGE = (
    o.Opt(
        "--base-url",
        str,
        "http://127.0.0.1:8000/v1",
        "OpenAI-compatible API root, e.g. http://localhost:8000/v1.",
        key="judge.base_url",
        panel=_J,
    ),
    o.Opt("--judge-model", str, "", "Judge model name.", key="judge.model", panel=_J, name="model"),
    o.Opt(
        "--model",
        str | None,
        None,
        "Old name of --judge-model.",
        key="judge.model",
        panel=_J,
        convert=_old_model,
        name="old_model",
        extra={"hidden": True},
    ),
    o.Opt(
        "--api-key-env",
        str,
        "OPENAI_API_KEY",
        "Environment variable holding the API key (the key is never printed or stored).",
        key="judge.api_key_env",
        panel=_J,
    ),
    o.Opt("--concurrency", int, 8, "Requests in flight at once.", key="judge.concurrency", panel=_J),
    o.Opt("--timeout", float, 60.0, "Seconds per request.", key="judge.timeout", panel=_J),
    o.Opt(
        "--max-retries", int, 4, "Retries on 429/5xx/timeouts (exponential backoff).", key="judge.max_retries", panel=_J
    ),
    o.NO_CACHE.with_(help="Do not read or write the embedding and judge caches.", key="judge.cache", convert=o.negate),
)
# score-quality's embedding options also set the lm scorer's when given (lm.batch_size's own default is 8).
_LM_TOO = (
    o.NO_CACHE.with_(
        help="Do not read or write the embedding, judge and lm caches.", key="judge.cache,lm.cache", convert=o.negate
    ),
    o.BATCH.with_(help="Rows per model batch (embedder; --scorer lm too).", key="lm.batch_size", given_only=True),
    o.DEVICE.with_(help="auto, cpu or cuda (embedder; --scorer lm too).", key="lm.device", given_only=True),
)
EXPLAIN = o.Opt(
    "--explain",
    str | None,
    None,
    "Print one row's signals as JSON on stdout (rows are written only with -o FILE).",
    name="explain_id",
)


_STREAM_ONLY = ("batch_rows", "max_memory", "executor", "ray_address", "ray_cpus")


def show_explanation(info: dict[str, object], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("signal", "score", "details"):
        table.add_column(col, overflow="fold")
    for name, item in info["signals"].items():  # type: ignore[attr-defined]
        if isinstance(item, dict):
            score = item.get("score", "")
            rest = ", ".join(f"{k}={v}" for k, v in item.items() if k != "score")
        else:
            score, rest = item, ""
        table.add_row(name, str(score), rest)
    console.print(table)


@o.command(
    app,
    "score-quality",
    (
        o.INPUT,
        o.OUTPUT,
        *o.WRITE,
        o.Opt(
            "--scorer",
            str,
            "learned",
            "learned (default: trees shipped in qdc, no download), heuristic (v1 rules), classifier (needs "
            "--classifier), judge (needs --judge-model and --base-url) or lm (a small local language model).",
            key="scorer",
        ),
        o.Opt(
            "--signals",
            str | None,
            None,
            "Comma-separated heuristic signals to use (--scorer heuristic) [default: all].",
            key="signals",
        ),
        o.Opt("--classifier", Path | None, None, "Model file from `qdc train-quality`.", key="classifier"),
        EXPLAIN,
        o.Opt(
            "--label-field",
            str | None,
            None,
            "For labelled rows: also write qdc_label_agreement, how far each row's label agrees with its nearest "
            "neighbours' labels (low = mislabeled or ambiguous; embeds the rows unless they carry qdc_embedding).",
            key="label_field",
        ),
        o.Opt("--label-k", int, 10, "Neighbours per row for --label-field.", key="label_k"),
        o.Opt(
            "--lm-model",
            str | None,
            None,
            "--scorer lm: smollm2, a .gguf file or a local model folder [default: the config's].",
            key="lm.model",
            panel="LM",
        ),
        o.Opt(
            "--lm-max-tokens",
            int | None,
            None,
            "--scorer lm: tokens read per row [default: the config's].",
            key="lm.max_tokens",
            panel="LM",
        ),
        *JUDGE[:-1],
        *_LM_TOO,
        o.Opt(
            "--rubric",
            str,
            "quality6",
            "quality6 (DEITA-style 1-6), quality10, or a rubric file.",
            key="judge.rubric",
            panel=_J,
        ),
        *o.IO,
        STREAM.with_(
            help="A file larger than memory: read, scored and written in batches, same bytes (was `qdc scale "
            "score --no-complexity`; learned and heuristic scorers only)."
        ),
        BATCH_ROWS.with_(type=int | None, default=None, help="With --stream: rows read at a time [default: 100,000]."),
        MAX_MEMORY.with_(help="With --stream: memory limit, e.g. 16G."),
        EXECUTOR.with_(help="With --stream: local, or ray (needs qdc[ray]).", flags="--executor"),
        *RAY,
        o.JSON,
    ),
    config="qdc.quality:QualityConfig",
)
def score_quality_cmd(a: o.Args, cfg: QualityConfig) -> None:
    """Add `qdc_quality` (0-1, higher is better) and one `qdc_q_<signal>` column per signal.

    The default `learned` scorer needs no download: small tree ensembles shipped with qdc, trained on
    public judged answers and junk, read vectorised signals (Gopher/C4/FineWeb rules, completeness,
    loops, relevance, canned answers, symbol soup). Below 0.3 is junk, and `qdc_q_reason` names the
    signals that decided it. `--scorer heuristic` is the v1 rule set. `--explain ID` shows why a row got
    its score (docs/scoring.md).

    **Example:** `qdc score-quality data.jsonl -o scored.jsonl --explain row-17`
    """
    from qdc.errors import ConfigError
    from qdc.quality import explain, score_quality, summary

    refuse_unstreamed(a, _STREAM_ONLY, ("explain_id", "label_field", "label_k", "columns", "drop_qdc"))
    if a.stream:
        if a.signals is not None and cfg.scorer == "learned":
            raise ConfigError("--signals picks heuristic signals: add --scorer heuristic")
        run_stream_score(a, cfg, None)  # the engine of `qdc scale score`
        return
    o.check_output_path(a.output)
    o.rows_to_file(a)
    if a.signals is not None and cfg.scorer == "learned":
        raise ConfigError("--signals picks heuristic signals: add --scorer heuristic")
    ecfg = o.embedding(o.Args({**a, "model": "default"}))  # --model is the judge's here
    inputs = o.read_inputs(a)
    df = inputs.read(a.input)
    info: dict[str, Any] | None
    if a.explain_id is not None and cfg.scorer in ("heuristic", "learned") and a.output == "-":
        info = explain(df, a.explain_id, cfg)  # nothing else to compute: no rows are written
    else:
        df = score_quality(df, cfg, ecfg)
        info = explain(df, a.explain_id, cfg) if a.explain_id is not None else None
        if not (a.explain_id is not None and a.output == "-"):
            o.write_rows(a, df)
    inputs.finish()
    if info is not None:
        print_json(info)
        if not State.quiet and not a.json:
            why = f", judged junk by: {info['reason']}" if info.get("reason") else ""
            show_explanation(info, f"row {a.explain_id} ({info['where']}): quality {info['quality']}{why}")
        return
    result = summary(df)
    if a.json:
        print_json({"scorer": cfg.scorer, **result})
    elif not State.quiet:
        flagged = ", ".join(f"{k} {v}" for k, v in result["flagged"].items() if v) or "none"
        if "junk_reasons" in result:
            flagged = ", ".join(f"{k} {v}" for k, v in result["junk_reasons"].items()) or "none"
        console.print(
            f"scored {result['rows']} rows ({cfg.scorer}): mean quality {result['mean']}, "
            f"{result['junk']} junk (below 0.3); flagged by signal: {flagged}"
        )


@o.command(
    app,
    "train-quality",
    (
        o.Opt("--good", str, ..., "Rows of good examples (any input format)."),
        o.Opt("--bad", str, ..., "Rows of bad examples."),
        o.Opt("--output -o", str, ..., "Where to write the model (JSON)."),
        o.MODEL.with_(help="Embedding model: default (MiniLM), static, hash[:DIM], or a sentence-transformers folder."),
        o.Opt("--c", float, 1.0, "Inverse L2 regularisation strength."),
        o.SEED,
        o.BATCH,
        o.DEVICE,
        o.NO_CACHE,
        *o.TEXT,
        o.IO[4],
        o.JSON,
    ),
)
def train_quality_cmd(a: o.Args) -> None:
    """Train the `classifier` quality scorer: logistic regression on embeddings plus the heuristic signals.

    The model is saved as plain JSON (weights and settings, no pickle), so loading a model file from
    someone else cannot run code. Use it with `qdc score-quality --scorer classifier --classifier MODEL`.

    **Example:** `qdc train-quality --good kept.jsonl --bad rejected.jsonl -o quality.json`
    """
    from qdc.config import validate_config
    from qdc.errors import ConfigError
    from qdc.quality.classifier import save, train

    if a.c <= 0:
        raise ConfigError(f"--c must be positive (got {a.c})")
    if a.output == "-" or not Path(a.output).parent.exists():
        raise ConfigError(f"-o {a.output}: give a file in an existing folder")
    ecfg = o.embedding(a)
    g = o.read_inputs(a).read(a.good)
    b = o.read_inputs(a).read(a.bad)
    clf = train(g, b, validate_config(type(ecfg), ecfg.model_dump(), "options"), c=a.c, seed=a.seed)
    save(clf, a.output)
    info = {"model": a.output, "embed_model": clf.embed_model, "features": len(clf.coef), **clf.training}
    if a.json:
        print_json(info)
    elif not State.quiet:
        console.print(
            f"trained on {g.height} good / {b.height} bad rows (train accuracy "
            f"{clf.training['train_accuracy']}) -> {a.output}"
        )
