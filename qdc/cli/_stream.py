"""Shared pieces of the streaming commands (`qdc dedup --stream`, `qdc scale ...`): their option types,
flag checks, the estimate line and the streaming dedup run itself. Not a command module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qdc.cli._common import State, console, print_json
from qdc.cli._options import Args, Inputs, Opt, check_output_path, read_inputs

if TYPE_CHECKING:  # the library loads only when a command runs
    from qdc.complexity import ComplexityConfig
    from qdc.dedup import DedupConfig
    from qdc.dedup.stream import StreamOptions
    from qdc.io import IOConfig, ReadReport
    from qdc.quality import QualityConfig
    from qdc.scale.memory import OnEstimate
    from qdc.select.stream import ScaleSelectConfig

_RUN = "Streaming"
_SEM = "Semantic"
STREAM = Opt(
    "--stream",
    bool,
    False,
    "A file larger than memory: two passes in batches, shingles and band keys on disk; semantic reads a "
    "memory-mapped --embeddings .npy (was `qdc scale dedup`).",
    panel=_RUN,
)
BATCH_ROWS = Opt("--batch-rows", int, 100_000, "Rows read and processed at a time.", panel=_RUN)
MAX_MEMORY = Opt(
    "--max-memory",
    str | None,
    None,
    "Memory limit, e.g. 16G: smaller batches when the estimate exceeds it, exit 2 when even those do not fit.",
    panel=_RUN,
)
WORK_DIR = Opt(
    "--work-dir", str | None, None, "Folder for temporary files [default: the system temp folder].", panel=_RUN
)
EXECUTOR = Opt(
    "--executor --backend",
    str,
    "local",
    "local, or ray (needs qdc[ray]): dedup signs and groups band keys with Ray Data; select assigns rows to "
    "centroids on Ray workers. (--backend is the old name.)",
    panel=_RUN,
)
RAY_ADDRESS = Opt(
    "--ray-address",
    str | None,
    None,
    "Existing Ray cluster, e.g. auto or ray://head:10001 [default: start a local one].",
    panel=_RUN,
)
RAY_CPUS = Opt("--ray-cpus", int | None, None, "CPUs of the local Ray instance [default: all].", panel=_RUN)
RAY = (RAY_ADDRESS, RAY_CPUS)


def executor_name(backend: str) -> str:
    from qdc.errors import ConfigError

    if backend not in ("local", "ray"):
        raise ConfigError(f"--executor {backend!r}: expected local or ray")
    if backend == "ray":
        from qdc.scale.ray import require_ray

        require_ray()
    return backend


def file_input(path: str | list[str]) -> None:
    from qdc.errors import ConfigError

    if path == "-":
        raise ConfigError("streaming runs read the input twice: pass a file, not '-'")
    if not isinstance(path, str):
        raise ConfigError("streaming runs read one INPUT file; give one (or run without --stream)")


def memory_limit(max_memory: str | None) -> int | None:
    from qdc.scale.memory import parse_size

    return None if max_memory is None else parse_size(max_memory)


def announce(command: str) -> OnEstimate | None:
    """The on_estimate of a scale command: print its memory/disk estimate before the run (unless -q)."""
    if State.quiet:
        return None
    return lambda est: console.print(f"qdc scale {command} {est.describe()}", markup=False)


def finish_bad_rows(report: ReadReport, bad_rows_file: str | None, output: str) -> None:
    """Write the quarantined lines of a streamed run as every command does (`Inputs.finish`)."""
    from qdc.io import IOConfig

    inputs = Inputs(IOConfig(), bad_rows_file, output)
    inputs.reports.append(report)
    inputs.finish()


def stream_options(a: Args, cfg: DedupConfig) -> StreamOptions:
    """The `StreamOptions` of `qdc dedup --stream` / `qdc scale dedup` from their flags."""
    from qdc.dedup.stream import StreamOptions
    from qdc.errors import ConfigError

    if a.embeddings is not None and "semantic" not in cfg.methods:
        raise ConfigError("--embeddings is for the semantic method; add semantic to --method")
    return StreamOptions(
        batch_rows=a.get("batch_rows", 100_000),
        partitions=a.get("partitions"),
        work_dir=a.get("work_dir"),
        max_memory=memory_limit(a.max_memory),
        backend=executor_name(a.executor),  # type: ignore[arg-type]
        ray_address=a.get("ray_address"),
        ray_cpus=a.get("ray_cpus"),
        embeddings=a.embeddings,
    )


def dedup_streamed(a: Args, cfg: DedupConfig, io_cfg: IOConfig) -> bool:
    """`qdc dedup --stream`: run the streaming engine and return True; without --stream refuse its flags
    (--executor, --max-memory, --embeddings) and return False."""
    from qdc.errors import ConfigError

    if not a.stream:
        if a.executor != "local" or a.max_memory is not None or a.embeddings is not None:
            raise ConfigError("--executor, --max-memory and --embeddings go with --stream")
        return False
    if a.against:
        raise ConfigError("--stream does not take --against; deduplicate against references in memory")
    run_stream_dedup(a, cfg, io_cfg, stream_options(a, cfg))
    return True


def run_stream_dedup(a: Args, cfg: DedupConfig, io_cfg: IOConfig, opts: StreamOptions) -> None:
    """Streaming dedup of a file and its report: the engine of `qdc dedup --stream` and `qdc scale dedup`."""
    from qdc.dedup.stream import stream_dedup
    from qdc.errors import ConfigError
    from qdc.io import ReadReport

    file_input(a.input)
    if not a.dry_run:
        check_output_path(a.output)
        if a.json and a.output == "-":
            raise ConfigError("--json prints a summary on stdout; pass -o FILE for the rows (or --dry-run)")
        if a.removed is not None:
            check_output_path(a.removed)
    report = ReadReport()
    stats = stream_dedup(
        a.input,
        cfg,
        io_cfg,
        opts,
        output=None if a.dry_run else a.output,
        removed=None if a.dry_run else a.removed,
        report=report,
        on_estimate=announce("dedup"),
    )
    if not a.dry_run:
        finish_bad_rows(report, a.bad_rows_file, a.output)
    stats["dry_run"] = a.dry_run
    if a.json:
        print_json(stats)
    elif not State.quiet:
        verb = "would remove" if a.dry_run else "removed"
        per = ", ".join(f"{m} {info['removed']}" for m, info in stats["methods"].items())
        console.print(
            f"{verb} {stats['rows_removed']} of {stats['rows_in']} rows ({per}); kept "
            f"{stats['rows_kept']} in {stats['seconds']['total']} s",
            markup=False,
        )


def run_options(a: Args) -> dict[str, Any]:
    """The streaming keywords that select and score share (`--stream`, `qdc scale select|score`)."""
    return {
        "batch_rows": a.get("batch_rows") or 100_000,
        "max_memory": memory_limit(a.max_memory),
        "backend": executor_name(a.executor),
        "ray_address": a.get("ray_address"),
        "ray_cpus": a.get("ray_cpus"),
    }


def refuse_unstreamed(a: Args, stream_only: tuple[str, ...], in_memory_only: tuple[str, ...]) -> None:
    """One line for flags of the other path: streaming ones without --stream, in-memory ones with it."""
    from qdc.errors import ConfigError

    def flags(params: tuple[str, ...]) -> str:
        return ", ".join(a.flags.get(p, p) for p in params if p in a.given)

    if not a.stream and flags(stream_only):
        raise ConfigError(f"{flags(stream_only)}: only with --stream")
    if a.stream and flags(in_memory_only):
        raise ConfigError(f"--stream does not take {flags(in_memory_only)}; run without --stream")


def run_stream_select(a: Args, cfg: ScaleSelectConfig, io_cfg: IOConfig) -> None:
    """Streaming kMQ over a memory-mapped --embeddings: `qdc select --stream` and `qdc scale select`."""
    from qdc.errors import ConfigError
    from qdc.select.stream import stream_select

    file_input(a.input)
    if a.embeddings is None:
        raise ConfigError("--stream selects over a memory-mapped --embeddings FILE.npy (`qdc scale embed` writes it)")
    check_output_path(a.output)
    if a.json and a.output == "-":
        raise ConfigError("--json prints a summary on stdout; pass -o FILE for the rows")
    stats = stream_select(
        a.input, a.embeddings, cfg, io_cfg, output=a.output, **run_options(a), on_estimate=announce("select")
    )
    if isinstance(cfg.budget, int) and cfg.budget > stats["rows_in"]:
        from qdc.progress import notice

        notice(f"--budget {cfg.budget} is more than the {stats['rows_in']} rows: all of them are selected")
    if a.json:
        print_json(stats)
    elif not State.quiet:
        console.print(
            f"selected {stats['selected']} of {stats['rows_in']} rows (k={stats['clusters']['k']}) in "
            f"{stats['seconds']['total']} s",
            markup=False,
        )


def run_stream_score(a: Args, quality: QualityConfig | None, complexity: ComplexityConfig | None) -> None:
    """Streamed model-free scoring: `qdc score-quality --stream` and `qdc scale score`."""
    from qdc.errors import ConfigError
    from qdc.io import ReadReport
    from qdc.quality.stream import stream_score

    file_input(a.input)
    check_output_path(a.output)
    if a.json and a.output == "-":
        raise ConfigError("--json prints a summary on stdout; pass -o FILE for the rows")
    report = ReadReport()
    stats = stream_score(
        a.input,
        read_inputs(a).io,
        quality=quality,
        complexity=complexity,
        output=a.output,
        **run_options(a),
        report=report,
        on_estimate=announce("score"),
    )
    finish_bad_rows(report, a.bad_rows_file, a.output)
    if a.json:
        print_json(stats)
    elif not State.quiet:
        means = ", ".join(f"mean {k} {stats[k]['mean']}" for k in ("quality", "complexity") if k in stats)
        console.print(f"scored {stats['rows']} rows in {stats['seconds']['total']} s ({means})", markup=False)
