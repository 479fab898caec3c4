"""Shared pieces of the streaming commands (`qdc dedup --stream`, `qdc scale ...`): their option types,
flag checks, the estimate line and the streaming dedup run itself. Not a command module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from qdc.cli._common import Inputs, State, check_output_path, console, print_json

if TYPE_CHECKING:  # the library loads only when a command runs
    from qdc.dedup import DedupConfig
    from qdc.dedup.stream import StreamOptions
    from qdc.io import IOConfig

_RUN = "Streaming"
_SEM = "Semantic"
BatchRowsOpt = Annotated[
    int, typer.Option("--batch-rows", help="Rows read and processed at a time.", rich_help_panel=_RUN)
]
MaxMemoryOpt = Annotated[
    str | None,
    typer.Option(
        "--max-memory",
        help="Memory limit, e.g. 16G: smaller batches when the estimate exceeds it, exit 2 when even those do not fit.",
        rich_help_panel=_RUN,
    ),
]
WorkDirOpt = Annotated[
    str | None,
    typer.Option(
        "--work-dir", help="Folder for temporary files [default: the system temp folder].", rich_help_panel=_RUN
    ),
]


BackendOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        "--backend",
        help="local, or ray (needs qdc[ray]): dedup signs and groups band keys with Ray Data; select "
        "assigns rows to centroids on Ray workers. (--backend is the old name.)",
        rich_help_panel=_RUN,
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Existing Ray cluster, e.g. auto or ray://head:10001 [default: start a local one].",
        rich_help_panel=_RUN,
    ),
]
RayCpusOpt = Annotated[
    int | None, typer.Option("--ray-cpus", help="CPUs of the local Ray instance [default: all].", rich_help_panel=_RUN)
]


def executor_name(backend: str) -> str:
    from qdc.errors import ConfigError

    if backend not in ("local", "ray"):
        raise ConfigError(f"--executor {backend!r}: expected local or ray")
    if backend == "ray":
        from qdc.scale.ray import require_ray

        require_ray()
    return backend


def file_input(path: str) -> None:
    from qdc.errors import ConfigError

    if path == "-":
        raise ConfigError("streaming runs read the input twice: pass a file, not '-'")


def memory_limit(max_memory: str | None) -> int | None:
    from qdc.scale.memory import parse_size

    return None if max_memory is None else parse_size(max_memory)


def announce(command: str) -> Any:
    """The on_estimate of a scale command: print its memory/disk estimate before the run (unless -q)."""
    if State.quiet:
        return None
    return lambda est: console.print(f"qdc scale {command} {est.describe()}", markup=False)


def finish_bad_rows(report: Any, bad_rows_file: str | None, output: str) -> None:
    """Write the quarantined lines of a streamed run as every command does (`Inputs.finish`)."""
    from qdc.io import IOConfig

    inputs = Inputs(IOConfig(), bad_rows_file, output)
    inputs.reports.append(report)
    inputs.finish()


def stream_options(
    executor: str,
    max_memory: str | None,
    embeddings: str | None,
    cfg: DedupConfig,
    batch_rows: int = 100_000,
    partitions: int | None = None,
    work_dir: str | None = None,
    ray_address: str | None = None,
    ray_cpus: int | None = None,
) -> StreamOptions:
    """The `StreamOptions` of `qdc dedup --stream` / `qdc scale dedup` from their flags."""
    from qdc.dedup.stream import StreamOptions
    from qdc.errors import ConfigError

    if embeddings is not None and "semantic" not in cfg.methods:
        raise ConfigError("--embeddings is for the semantic method; add semantic to --method")
    return StreamOptions(
        batch_rows=batch_rows,
        partitions=partitions,
        work_dir=work_dir,
        max_memory=memory_limit(max_memory),
        backend=executor_name(executor),  # type: ignore[arg-type]
        ray_address=ray_address,
        ray_cpus=ray_cpus,
        embeddings=embeddings,
    )


def dedup_streamed(
    stream: bool,
    flags: dict[str, Any],
    input: str,
    output: str,
    removed: str | None,
    cfg: DedupConfig,
    io_cfg: IOConfig,
    bad_rows_file: str | None,
    dry_run: bool,
    json: bool,
) -> bool:
    """`qdc dedup --stream`: run the streaming engine and return True; without --stream refuse its flags
    (--executor, --max-memory, --embeddings) and return False."""
    from qdc.errors import ConfigError

    if not stream:
        if flags["executor"] != "local" or flags["max_memory"] is not None or flags["embeddings"] is not None:
            raise ConfigError("--executor, --max-memory and --embeddings go with --stream")
        return False
    if flags["against"]:
        raise ConfigError("--stream does not take --against; deduplicate against references in memory")
    opts = stream_options(flags["executor"], flags["max_memory"], flags["embeddings"], cfg)
    run_stream_dedup(input, output, removed, cfg, io_cfg, opts, bad_rows_file=bad_rows_file, dry_run=dry_run, json=json)
    return True


def run_stream_dedup(
    input: str,
    output: str,
    removed: str | None,
    cfg: DedupConfig,
    io_cfg: IOConfig,
    opts: StreamOptions,
    *,
    bad_rows_file: str | None,
    dry_run: bool,
    json: bool,
) -> None:
    """Streaming dedup of a file and its report: the engine of `qdc dedup --stream` and `qdc scale dedup`."""
    from qdc.dedup.stream import stream_dedup
    from qdc.errors import ConfigError
    from qdc.io import ReadReport

    file_input(input)
    if not dry_run:
        check_output_path(output)
        if json and output == "-":
            raise ConfigError("--json prints a summary on stdout; pass -o FILE for the rows (or --dry-run)")
        if removed is not None:
            check_output_path(removed)
    report = ReadReport()
    stats = stream_dedup(
        input,
        cfg,
        io_cfg,
        opts,
        output=None if dry_run else output,
        removed=None if dry_run else removed,
        report=report,
        on_estimate=announce("dedup"),
    )
    if not dry_run:
        finish_bad_rows(report, bad_rows_file, output)
    stats["dry_run"] = dry_run
    if json:
        print_json(stats)
    elif not State.quiet:
        verb = "would remove" if dry_run else "removed"
        per = ", ".join(f"{m} {info['removed']}" for m, info in stats["methods"].items())
        console.print(
            f"{verb} {stats['rows_removed']} of {stats['rows_in']} rows ({per}); kept "
            f"{stats['rows_kept']} in {stats['seconds']['total']} s",
            markup=False,
        )
