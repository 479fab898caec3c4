"""`qdc scale dedup | select | embed | score`: out-of-core dedup, kmq selection, embedding into a memmap and
heuristic scoring."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import State, console, print_json
from qdc.cli._stream import (
    _RUN,
    _SEM,
    BATCH_ROWS,
    EXECUTOR,
    MAX_MEMORY,
    RAY,
    RAY_ADDRESS,
    WORK_DIR,
    announce,
    executor_name,
    file_input,
    memory_limit,
    run_stream_dedup,
    run_stream_score,
    run_stream_select,
    stream_options,
)
from qdc.cli.dedup import DEDUP, DRY_RUN, REMOVED

if TYPE_CHECKING:
    from qdc.dedup import DedupConfig
    from qdc.select.stream import ScaleSelectConfig

scale_app = typer.Typer(
    name="scale",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="Out-of-core dedup, selection, embedding and scoring for inputs larger than memory (streamed in "
    "batches, temporary files on disk, memory-mapped embeddings).",
)
app.add_typer(scale_app, name="scale")
_IN_FILE = o.ONE_INPUT
_READ = (*o.TEXT, o.IO[4])  # no --bad-rows-file: the rows are not written


@o.command(
    scale_app,
    "dedup",
    (
        _IN_FILE,
        o.OUTPUT,
        *DEDUP,
        o.Opt(
            "--embeddings -e",
            str | None,
            None,
            "Semantic: (n, d) float16/float32 .npy, row i embeds input row i (memory-mapped; `qdc scale embed` "
            "writes it).",
            panel=_SEM,
        ),
        REMOVED,
        DRY_RUN,
        BATCH_ROWS,
        o.Opt("--partitions", int | None, None, "Band-key partition files [default: ~4M records each].", panel=_RUN),
        MAX_MEMORY,
        WORK_DIR,
        EXECUTOR,
        *RAY,
        *o.IO,
        o.JSON,
    ),
    config="qdc.dedup:DedupConfig",
)
def scale_dedup_cmd(a: o.Args, cfg: DedupConfig) -> None:
    """Exact + MinHash (+ semantic) dedup of a file larger than memory, with the ledger of `qdc dedup`.

    Reads the input twice in batches; shingles and LSH band keys go to temporary files (partitioned by key,
    grouped one partition at a time). Semantic (SemDeDup, last) reads a memory-mapped `--embeddings` .npy:
    k-means on a seeded sample, rows assigned in blocks, one cluster gathered at a time. Prints the memory
    and disk it expects first; `--max-memory` shrinks the batches to fit or refuses (exit 2).

    The same as `qdc dedup --stream`; this alias stays for one release.

    **Example:** `qdc scale dedup big.jsonl -o unique.jsonl --removed dups.jsonl --max-memory 8G`
    """
    from qdc.progress import notice

    notice(
        "this command is now `qdc dedup --stream` (--backend is --executor there); the `scale dedup` alias stays "
        "for one release"
    )
    run_stream_dedup(a, cfg, o.read_inputs(a).io, stream_options(a, cfg))


def _budget(value: float) -> int | float:
    from qdc.errors import ConfigError

    if value >= 1 and not float(value).is_integer():
        raise ConfigError("--budget: a budget >= 1 must be a whole number of rows")
    return int(value) if value >= 1 else value


@o.command(
    scale_app,
    "select",
    (
        _IN_FILE,
        o.Opt(
            "--embeddings -e", str, ..., "(n, d) float16/float32 .npy file; row i embeds input row i (memory-mapped)."
        ),
        o.OUTPUT,
        o.Opt("--budget", float, 0.1, "Rows to select, or a fraction (0 < f < 1).", key="budget", convert=_budget),
        o.Opt("--score", str | None, None, "Score expression [default: qdc_quality when present].", key="score"),
        o.Opt("--k", int | None, None, "Clusters [default: clamp(B/10, 2, 1024)].", key="k"),
        o.Opt("--allocation", str, "equal", "equal or proportional.", key="allocation"),
        o.Opt("--within", str, "softmax", "softmax, top or random.", key="within"),
        o.Opt("--temperature", float, 0.2, "Softmax temperature on z-scores.", key="temperature"),
        o.Opt(
            "--cluster-quality/--no-cluster-quality",
            bool,
            True,
            "Scale cluster shares by min(1, 2 x mean score percentile), as qdc select does.",
            key="cluster_quality",
        ),
        o.Opt(
            "--points-per-centroid",
            int,
            64,
            "k-means trains on this many sampled rows per centroid.",
            key="points_per_centroid",
        ),
        BATCH_ROWS,
        MAX_MEMORY,
        EXECUTOR,
        *RAY,
        o.SEED,
        *_READ,
        o.JSON,
    ),
    config="qdc.select.stream:ScaleSelectConfig",
    section="select",
)
def scale_select_cmd(a: o.Args, cfg: ScaleSelectConfig) -> None:
    """kMQ selection over memory-mapped embeddings: k-means on a seeded sample, assignment in blocks.

    Selects exactly min(budget, rows) rows with the allocation and sampling of `qdc select --strategy kmq`;
    writes them in input order with qdc_select_round and qdc_select_reason.

    **Example:** `qdc scale select big.jsonl --embeddings big.npy --budget 100000 -o picked.jsonl`
    """
    run_stream_select(a, cfg, o.read_inputs(a).io)


@o.command(
    scale_app,
    "embed",
    (
        _IN_FILE,
        o.Opt("--out -o", str, ..., "The .npy file to write: row i embeds input row i."),
        o.Opt("--dtype", str, "float16", "float16 (half the disk) or float32."),
        *o.EMBED,
        BATCH_ROWS,
        MAX_MEMORY,
        EXECUTOR.with_(help="local, or ray (needs qdc[ray]): each batch is embedded by model-holding Ray workers."),
        RAY_ADDRESS,
        o.Opt("--ray-cpus", int, 2, "Ray embedding workers (and local Ray CPUs).", panel=_RUN),
        *_READ,
        o.JSON,
    ),
)
def scale_embed_cmd(a: o.Args) -> None:
    """Embed a large input into a memory-mapped .npy (the --embeddings of `qdc scale select`).

    Streams the input in batches; rows with qdc_embedding are copied, the others embedded (with the cache).
    Prints the memory and disk it expects first; `--max-memory` shrinks the batches to fit or refuses
    (exit 2).

    **Example:** `qdc scale embed big.jsonl -o big.npy --dtype float16 --max-memory 4G`
    """
    from qdc.embed.stream import stream_embed
    from qdc.errors import ConfigError

    file_input(a.input)
    if not a.out.endswith(".npy"):
        raise ConfigError(f"--out {a.out}: expected a .npy file name")
    if a.dtype not in ("float16", "float32"):
        raise ConfigError(f"--dtype {a.dtype!r}: expected float16 or float32")
    ecfg = o.embedding(a)
    stats = stream_embed(
        a.input,
        a.out,
        ecfg,
        o.read_inputs(a, a.out).io,
        dtype=a.dtype,
        batch_rows=a.batch_rows,
        backend=executor_name(a.executor),
        ray_workers=a.ray_cpus,
        ray_address=a.ray_address,
        max_memory=memory_limit(a.max_memory),
        on_estimate=announce("embed"),
    )
    if a.json:
        print_json(stats)
    elif not State.quiet:
        console.print(
            f"embedded {stats['rows']} rows ({stats['dim']}-d {a.dtype}) into {a.out} in {stats['seconds']} s",
            markup=False,
        )


@o.command(
    scale_app,
    "score",
    (
        _IN_FILE,
        o.OUTPUT,
        o.Opt(
            "--quality/--no-quality",
            bool,
            True,
            "Add qdc_quality and the qdc_q_* signals (heuristic scorer, as `qdc score-quality`).",
        ),
        o.Opt(
            "--complexity/--no-complexity",
            bool,
            True,
            "Add qdc_complexity and the qdc_c_* signals (as `qdc score-complexity`).",
        ),
        o.Opt("--signals", str | None, None, "Comma-separated quality signals to use [default: all]."),
        BATCH_ROWS,
        MAX_MEMORY,
        EXECUTOR.with_(
            help="local, or ray (needs qdc[ray]): each batch is scored as a Ray Data map_batches over slices of "
            "its rows."
        ),
        *RAY,
        *o.IO,
        o.JSON,
    ),
)
def scale_score_cmd(a: o.Args) -> None:
    """Heuristic quality and complexity scores of a file larger than memory, streamed in batches.

    Writes every row with the columns and values of `qdc score-quality` followed by `qdc score-complexity`
    (same bytes), in input order, whatever the batch size or backend. Prints the memory it expects first;
    `--max-memory` shrinks the batches to fit or refuses (exit 2).

    **Example:** `qdc scale score big.jsonl -o scored.jsonl --max-memory 4G`
    """
    from qdc.complexity import ComplexityConfig
    from qdc.config import validate_config
    from qdc.errors import ConfigError
    from qdc.quality import QualityConfig

    if not a.quality and not a.complexity:
        raise ConfigError("nothing to score: --no-quality and --no-complexity together leave nothing")
    if a.signals is not None and not a.quality:
        raise ConfigError("--signals chooses quality signals; drop it or drop --no-quality")
    qcfg = None
    if a.quality:
        qcfg = validate_config(QualityConfig, {} if a.signals is None else {"signals": a.signals}, "options")
    run_stream_score(a, qcfg, ComplexityConfig() if a.complexity else None)
