"""`qdc scale dedup | select | embed | score`: out-of-core dedup, kmq selection, embedding into a memmap and
heuristic scoring."""

from __future__ import annotations

from typing import Annotated

import typer

from qdc.cli import app
from qdc.cli._common import (
    BadRowsFileOpt,
    BatchSizeOpt,
    DeviceOpt,
    EmbedFieldOpt,
    IdFieldOpt,
    InputArg,
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
from qdc.cli._stream import (
    _RUN,
    _SEM,
    BackendOpt,
    BatchRowsOpt,
    MaxMemoryOpt,
    RayAddressOpt,
    RayCpusOpt,
    WorkDirOpt,
    announce,
    executor_name,
    file_input,
    finish_bad_rows,
    memory_limit,
    run_stream_dedup,
    stream_options,
)

scale_app = typer.Typer(
    name="scale",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="Out-of-core dedup, selection, embedding and scoring for inputs larger than memory (streamed in "
    "batches, temporary files on disk, memory-mapped embeddings).",
)
app.add_typer(scale_app, name="scale")


@scale_app.command("dedup")
@handle_errors
def scale_dedup_cmd(
    input: InputArg,
    output: OutputOpt = "-",
    method: Annotated[
        str,
        typer.Option(
            "--method",
            "-m",
            help="exact, minhash, semantic, in that order (any may be left out), e.g. exact,minhash,semantic.",
        ),
    ] = "exact,minhash",
    keep: Annotated[str, typer.Option("--keep", help="first, longest or best:COLUMN.")] = "first",
    field: Annotated[str, typer.Option("--field", help="text, prompt or response.")] = "text",
    normalize: Annotated[
        str, typer.Option("--normalize", help="Exact-match normalisation steps.")
    ] = "nfkc,case,punctuation,whitespace",
    threshold: Annotated[float, typer.Option("--threshold", help="MinHash Jaccard threshold.")] = 0.8,
    num_perm: Annotated[int, typer.Option("--num-perm", help="MinHash permutations.")] = 128,
    ngram: Annotated[int, typer.Option("--ngram", help="Words per shingle.")] = 3,
    embeddings: Annotated[
        str | None,
        typer.Option(
            "--embeddings",
            "-e",
            help="Semantic: (n, d) float16/float32 .npy, row i embeds input row i (memory-mapped; "
            "`qdc scale embed` writes it).",
            rich_help_panel=_SEM,
        ),
    ] = None,
    eps: Annotated[
        float, typer.Option("--eps", help="Semantic: cosine above 1 - eps is a duplicate.", rich_help_panel=_SEM)
    ] = 0.05,
    semantic_mode: Annotated[
        str,
        typer.Option(
            "--semantic-mode",
            help="faithful (compare with every earlier row) or greedy (only with rows still kept).",
            rich_help_panel=_SEM,
        ),
    ] = "faithful",
    semantic_order: Annotated[
        str,
        typer.Option(
            "--semantic-order", help="Order within a cluster: auto, hard, easy or keep.", rich_help_panel=_SEM
        ),
    ] = "auto",
    clusters: Annotated[
        int | None,
        typer.Option(
            "--clusters",
            help="Semantic k-means clusters [default: 1 (exhaustive) up to 10,000 rows, else sqrt(n)]; "
            "trained on a seeded sample, rows assigned in blocks.",
            rich_help_panel=_SEM,
        ),
    ] = None,
    removed: Annotated[str | None, typer.Option("--removed", help="Ledger of removed rows (as qdc dedup).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count duplicates; write nothing.")] = False,
    batch_rows: BatchRowsOpt = 100_000,
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions", help="Band-key partition files [default: ~4M records each].", rich_help_panel=_RUN
        ),
    ] = None,
    max_memory: MaxMemoryOpt = None,
    work_dir: WorkDirOpt = None,
    executor: BackendOpt = "local",
    ray_address: RayAddressOpt = None,
    ray_cpus: RayCpusOpt = None,
    seed: SeedOpt = 0,
    text_field: TextFieldOpt = None,
    template: TemplateOpt = None,
    roles: RolesOpt = "user,assistant",
    id_field: IdFieldOpt = "id",
    on_bad_rows: OnBadRowsOpt = "error",
    bad_rows_file: BadRowsFileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Exact + MinHash (+ semantic) dedup of a file larger than memory, with the ledger of `qdc dedup`.

    Reads the input twice in batches; shingles and LSH band keys go to temporary files (partitioned by key,
    grouped one partition at a time). Semantic (SemDeDup, last) reads a memory-mapped `--embeddings` .npy:
    k-means on a seeded sample, rows assigned in blocks, one cluster gathered at a time. Prints the memory
    and disk it expects first; `--max-memory` shrinks the batches to fit or refuses (exit 2).

    The same as `qdc dedup --stream`; this alias stays for one release.

    **Example:** `qdc scale dedup big.jsonl -o unique.jsonl --removed dups.jsonl --max-memory 8G`
    """
    from qdc.config import validate_config
    from qdc.dedup import DedupConfig
    from qdc.progress import notice

    notice("this command is now `qdc dedup --stream`; the `scale dedup` alias stays for one release")
    cfg: DedupConfig = validate_config(
        DedupConfig,
        {
            "methods": method,
            "keep": keep,
            "field": field,
            "normalize": normalize,
            "threshold": threshold,
            "num_perm": num_perm,
            "ngram": ngram,
            "eps": eps,
            "semantic_mode": semantic_mode,
            "semantic_order": semantic_order,
            "clusters": clusters,
            "seed": seed,
        },
        "options",
    )
    opts = stream_options(
        executor, max_memory, embeddings, cfg, batch_rows, partitions, work_dir, ray_address, ray_cpus
    )
    io_cfg = io_config(text_field, template, roles, id_field, on_bad_rows)
    run_stream_dedup(input, output, removed, cfg, io_cfg, opts, bad_rows_file=bad_rows_file, dry_run=dry_run, json=json)


@scale_app.command("select")
@handle_errors
def scale_select_cmd(
    input: InputArg,
    embeddings: Annotated[
        str,
        typer.Option(
            "--embeddings", "-e", help="(n, d) float16/float32 .npy file; row i embeds input row i (memory-mapped)."
        ),
    ],
    output: OutputOpt = "-",
    budget: Annotated[float, typer.Option("--budget", help="Rows to select, or a fraction (0 < f < 1).")] = 0.1,
    score: Annotated[
        str | None, typer.Option("--score", help="Score expression [default: qdc_quality when present].")
    ] = None,
    k: Annotated[int | None, typer.Option("--k", help="Clusters [default: clamp(B/10, 2, 1024)].")] = None,
    allocation: Annotated[str, typer.Option("--allocation", help="equal or proportional.")] = "equal",
    within: Annotated[str, typer.Option("--within", help="softmax, top or random.")] = "softmax",
    temperature: Annotated[float, typer.Option("--temperature", help="Softmax temperature on z-scores.")] = 0.2,
    cluster_quality: Annotated[
        bool,
        typer.Option(
            "--cluster-quality/--no-cluster-quality",
            help="Scale cluster shares by min(1, 2 x mean score percentile), as qdc select does.",
        ),
    ] = True,
    points_per_centroid: Annotated[
        int, typer.Option("--points-per-centroid", help="k-means trains on this many sampled rows per centroid.")
    ] = 64,
    batch_rows: BatchRowsOpt = 100_000,
    max_memory: MaxMemoryOpt = None,
    executor: BackendOpt = "local",
    ray_address: RayAddressOpt = None,
    ray_cpus: RayCpusOpt = None,
    seed: SeedOpt = 0,
    text_field: TextFieldOpt = None,
    template: TemplateOpt = None,
    roles: RolesOpt = "user,assistant",
    id_field: IdFieldOpt = "id",
    on_bad_rows: OnBadRowsOpt = "error",
    json: JsonOpt = False,
) -> None:
    """kMQ selection over memory-mapped embeddings: k-means on a seeded sample, assignment in blocks.

    Selects exactly min(budget, rows) rows with the allocation and sampling of `qdc select --strategy kmq`;
    writes them in input order with qdc_select_round and qdc_select_reason.

    **Example:** `qdc scale select big.jsonl --embeddings big.npy --budget 100000 -o picked.jsonl`
    """
    from qdc.config import validate_config
    from qdc.errors import ConfigError
    from qdc.select.stream import ScaleSelectConfig, stream_select

    file_input(input)
    check_output_path(output)
    if json and output == "-":
        raise ConfigError("--json prints a summary on stdout; pass -o FILE for the rows")
    value: int | float = int(budget) if budget >= 1 else budget
    if budget >= 1 and not float(budget).is_integer():
        raise ConfigError("--budget: a budget >= 1 must be a whole number of rows")
    cfg: ScaleSelectConfig = validate_config(
        ScaleSelectConfig,
        {
            "budget": value,
            "score": score,
            "k": k,
            "allocation": allocation,
            "within": within,
            "temperature": temperature,
            "cluster_quality": cluster_quality,
            "points_per_centroid": points_per_centroid,
            "seed": seed,
        },
        "options",
    )
    limit = memory_limit(max_memory)
    stats = stream_select(
        input,
        embeddings,
        cfg,
        io_config(text_field, template, roles, id_field, on_bad_rows),
        output=output,
        batch_rows=batch_rows,
        max_memory=limit,
        backend=executor_name(executor),
        ray_address=ray_address,
        ray_cpus=ray_cpus,
        on_estimate=announce("select"),
    )
    if json:
        print_json(stats)
    elif not State.quiet:
        console.print(
            f"selected {stats['selected']} of {stats['rows_in']} rows (k={stats['clusters']['k']}) in "
            f"{stats['seconds']['total']} s",
            markup=False,
        )


@scale_app.command("embed")
@handle_errors
def scale_embed_cmd(
    input: InputArg,
    out: Annotated[str, typer.Option("--out", "-o", help="The .npy file to write: row i embeds input row i.")],
    dtype: Annotated[str, typer.Option("--dtype", help="float16 (half the disk) or float32.")] = "float16",
    model: ModelOpt = "default",
    batch_size: BatchSizeOpt = 64,
    device: DeviceOpt = "auto",
    no_cache: NoCacheOpt = False,
    embed_field: EmbedFieldOpt = "text",
    batch_rows: BatchRowsOpt = 100_000,
    max_memory: MaxMemoryOpt = None,
    executor: Annotated[
        str,
        typer.Option(
            "--executor",
            "--backend",
            help="local, or ray (needs qdc[ray]): each batch is embedded by model-holding Ray workers.",
            rich_help_panel=_RUN,
        ),
    ] = "local",
    ray_address: RayAddressOpt = None,
    ray_cpus: Annotated[
        int, typer.Option("--ray-cpus", help="Ray embedding workers (and local Ray CPUs).", rich_help_panel=_RUN)
    ] = 2,
    text_field: TextFieldOpt = None,
    template: TemplateOpt = None,
    roles: RolesOpt = "user,assistant",
    id_field: IdFieldOpt = "id",
    on_bad_rows: OnBadRowsOpt = "error",
    json: JsonOpt = False,
) -> None:
    """Embed a large input into a memory-mapped .npy (the --embeddings of `qdc scale select`).

    Streams the input in batches; rows with qdc_embedding are copied, the others embedded (with the cache).
    Prints the memory and disk it expects first; `--max-memory` shrinks the batches to fit or refuses
    (exit 2).

    **Example:** `qdc scale embed big.jsonl -o big.npy --dtype float16 --max-memory 4G`
    """
    from qdc.embed.stream import stream_embed
    from qdc.errors import ConfigError

    file_input(input)
    if not out.endswith(".npy"):
        raise ConfigError(f"--out {out}: expected a .npy file name")
    if dtype not in ("float16", "float32"):
        raise ConfigError(f"--dtype {dtype!r}: expected float16 or float32")
    ecfg = embed_config(model, batch_size, device, no_cache, embed_field)
    limit = memory_limit(max_memory)
    stats = stream_embed(
        input,
        out,
        ecfg,
        io_config(text_field, template, roles, id_field, on_bad_rows),
        dtype=dtype,
        batch_rows=batch_rows,
        backend=executor_name(executor),
        ray_workers=ray_cpus,
        ray_address=ray_address,
        max_memory=limit,
        on_estimate=announce("embed"),
    )
    if json:
        print_json(stats)
    elif not State.quiet:
        console.print(
            f"embedded {stats['rows']} rows ({stats['dim']}-d {dtype}) into {out} in {stats['seconds']} s", markup=False
        )


@scale_app.command("score")
@handle_errors
def scale_score_cmd(
    input: InputArg,
    output: OutputOpt = "-",
    quality: Annotated[
        bool,
        typer.Option(
            "--quality/--no-quality",
            help="Add qdc_quality and the qdc_q_* signals (heuristic scorer, as `qdc score-quality`).",
        ),
    ] = True,
    complexity: Annotated[
        bool,
        typer.Option(
            "--complexity/--no-complexity",
            help="Add qdc_complexity and the qdc_c_* signals (as `qdc score-complexity`).",
        ),
    ] = True,
    signals: Annotated[
        str | None, typer.Option("--signals", help="Comma-separated quality signals to use [default: all].")
    ] = None,
    batch_rows: BatchRowsOpt = 100_000,
    max_memory: MaxMemoryOpt = None,
    executor: Annotated[
        str,
        typer.Option(
            "--executor",
            "--backend",
            help="local, or ray (needs qdc[ray]): each batch is scored as a Ray Data map_batches "
            "over slices of its rows.",
            rich_help_panel=_RUN,
        ),
    ] = "local",
    ray_address: RayAddressOpt = None,
    ray_cpus: RayCpusOpt = None,
    text_field: TextFieldOpt = None,
    template: TemplateOpt = None,
    roles: RolesOpt = "user,assistant",
    id_field: IdFieldOpt = "id",
    on_bad_rows: OnBadRowsOpt = "error",
    bad_rows_file: BadRowsFileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Heuristic quality and complexity scores of a file larger than memory, streamed in batches.

    Writes every row with the columns and values of `qdc score-quality` followed by `qdc score-complexity`
    (same bytes), in input order, whatever the batch size or backend. Prints the memory it expects first;
    `--max-memory` shrinks the batches to fit or refuses (exit 2).

    **Example:** `qdc scale score big.jsonl -o scored.jsonl --max-memory 4G`
    """
    from qdc.complexity import ComplexityConfig
    from qdc.config import validate_config
    from qdc.errors import ConfigError
    from qdc.io import ReadReport
    from qdc.quality import QualityConfig
    from qdc.quality.stream import stream_score

    file_input(input)
    check_output_path(output)
    if json and output == "-":
        raise ConfigError("--json prints a summary on stdout; pass -o FILE for the rows")
    if not quality and not complexity:
        raise ConfigError("nothing to score: --no-quality and --no-complexity together leave nothing")
    if signals is not None and not quality:
        raise ConfigError("--signals chooses quality signals; drop it or drop --no-quality")
    qcfg: QualityConfig | None = None
    if quality:
        data: dict[str, object] = {}
        if signals is not None:
            data["signals"] = signals
        qcfg = validate_config(QualityConfig, data, "options")
    ccfg = ComplexityConfig() if complexity else None
    limit = memory_limit(max_memory)
    report = ReadReport()
    stats = stream_score(
        input,
        io_config(text_field, template, roles, id_field, on_bad_rows),
        quality=qcfg,
        complexity=ccfg,
        output=output,
        batch_rows=batch_rows,
        max_memory=limit,
        backend=executor_name(executor),
        ray_address=ray_address,
        ray_cpus=ray_cpus,
        report=report,
        on_estimate=announce("score"),
    )
    finish_bad_rows(report, bad_rows_file, output)
    if json:
        print_json(stats)
    elif not State.quiet:
        means = ", ".join(f"mean {k} {stats[k]['mean']}" for k in ("quality", "complexity") if k in stats)
        console.print(f"scored {stats['rows']} rows in {stats['seconds']['total']} s ({means})", markup=False)
