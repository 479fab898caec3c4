"""`qdc dedup`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, List

import typer
from rich.table import Table

from qdc.cli import app
from qdc.cli._common import (
    BadRowsFileOpt,
    BatchSizeOpt,
    DeviceOpt,
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
from qdc.cli._stream import dedup_streamed

if TYPE_CHECKING:
    from qdc.dedup import DedupConfig

_MH = "MinHash"
_SEM = "Semantic"
_STREAM = "Streaming"


def _explain(cfg: DedupConfig, n: int, text_bytes: int, frame_bytes: int) -> None:
    from qdc.dedup import estimate_memory
    from qdc.dedup.lsh import s_curve
    from qdc.dedup.report import human_bytes

    if "minhash" in cfg.methods:
        b, r = cfg.minhash_params().band_rows()
        table = Table(
            title=f"MinHash LSH: {b} bands x {r} rows ({b * r} of {cfg.num_perm} permutations), "
            f"word {cfg.ngram}-grams, threshold {cfg.threshold}",
            title_justify="left",
        )
        table.add_column("Jaccard", justify="right")
        table.add_column("P(candidate)", justify="right")
        for point in s_curve(b, r):
            table.add_row(f"{point['jaccard']:.2f}", f"{point['p_candidate']:.4f}")
        table.caption = "pairs that become candidates are then " + (
            "checked by true Jaccard" if cfg.verify else "checked by the signature estimate"
        )
        console.print(table)
    need = estimate_memory(n, text_bytes, cfg, frame_bytes=frame_bytes)
    console.print(f"memory estimate for {n} rows: {human_bytes(need)}")


def _print_summary(stats: dict[str, Any], dry_run: bool) -> None:
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{verb} {stats['rows_removed']} of {stats['rows_in']} rows "
        f"({100 * stats['duplicate_rate']:.1f}%); kept {stats['rows_kept']}"
    )
    table = Table(title="by method", title_justify="left")
    for col in ("method", "removed", "rate", "seconds", "settings"):
        table.add_column(col)
    for name, info in stats["methods"].items():
        settings = {k: v for k, v in info.items() if k not in ("removed", "rate", "seconds")}
        table.add_row(
            name,
            str(info["removed"]),
            f"{100 * info['rate']:.2f}%",
            str(info["seconds"]),
            ", ".join(f"{k}={v}" for k, v in settings.items()),
        )
    console.print(table)
    sizes = ", ".join(f"{k}: {v}" for k, v in stats["group_sizes"].items() if v)
    console.print(f"group sizes: {sizes or 'no groups'}; memory estimate {stats['memory_estimate']}")
    for g in stats["largest_groups"][:3]:
        console.print(f"  group of {g['size']}, kept {g['kept_id']}: {g['kept_text']}", markup=False)
        for ex in g["examples"][:2]:
            console.print(f"    - {ex['id']} ({ex['method']} {ex['similarity']}): {ex['text']}", markup=False)


@app.command("dedup")
@handle_errors
def dedup_cmd(
    input: InputArg = "-",
    output: OutputOpt = "-",
    method: Annotated[
        str,
        typer.Option("--method", "-m", help="Methods, applied in order: exact, minhash, semantic (comma-separated)."),
    ] = "exact,minhash",
    keep: Annotated[
        str,
        typer.Option("--keep", help="Survivor of each group: first, longest or best:COLUMN (ties: the earlier row)."),
    ] = "first",
    field: Annotated[
        str, typer.Option("--field", help="Part of each row to compare: text, prompt or response.")
    ] = "text",
    normalize: Annotated[
        str,
        typer.Option("--normalize", help="Exact-match normalisation steps: nfkc,case,punctuation,whitespace or none."),
    ] = "nfkc,case,punctuation,whitespace",
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            help="Jaccard similarity of word n-gram sets that makes a near-duplicate.",
            rich_help_panel=_MH,
        ),
    ] = 0.8,
    num_perm: Annotated[int, typer.Option("--num-perm", help="MinHash permutations.", rich_help_panel=_MH)] = 128,
    ngram: Annotated[int, typer.Option("--ngram", help="Words per shingle.", rich_help_panel=_MH)] = 3,
    bands: Annotated[
        int | None, typer.Option("--bands", help="LSH bands [default: derived from --threshold].", rich_help_panel=_MH)
    ] = None,
    rows: Annotated[
        int | None,
        typer.Option("--rows", help="Rows per band [default: derived from --threshold].", rich_help_panel=_MH),
    ] = None,
    no_verify: Annotated[
        bool,
        typer.Option(
            "--no-verify", help="Trust the signature estimate instead of computing true Jaccard.", rich_help_panel=_MH
        ),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="Print the LSH S-curve and the memory estimate before running.", rich_help_panel=_MH
        ),
    ] = False,
    eps: Annotated[
        float, typer.Option("--eps", help="Semantic: cosine above 1 - eps is a duplicate.", rich_help_panel=_SEM)
    ] = 0.05,
    semantic_mode: Annotated[
        str,
        typer.Option(
            "--semantic-mode",
            help="faithful (SemDeDup: compare with every earlier row) or greedy (only with rows still kept).",
            rich_help_panel=_SEM,
        ),
    ] = "faithful",
    semantic_order: Annotated[
        str,
        typer.Option(
            "--semantic-order",
            help="Order within a cluster: auto, hard (farthest from centroid survives), "
            "easy, or keep (the --keep policy).",
            rich_help_panel=_SEM,
        ),
    ] = "auto",
    clusters: Annotated[
        int | None,
        typer.Option(
            "--clusters",
            help="k-means clusters [default: 1 (exhaustive) up to 10,000 rows, else sqrt(n)].",
            rich_help_panel=_SEM,
        ),
    ] = None,
    model: ModelOpt = "default",
    batch_size: BatchSizeOpt = 64,
    device: DeviceOpt = "auto",
    no_cache: NoCacheOpt = False,
    against: Annotated[
        List[str] | None,
        typer.Option(
            "--against",
            help="Reference file (repeatable): remove input rows that duplicate its rows; its rows are never written.",
        ),
    ] = None,
    against_only: Annotated[
        bool, typer.Option("--against-only", help="With --against: remove only rows that duplicate a reference row.")
    ] = False,
    removed: Annotated[
        str | None,
        typer.Option(
            "--removed",
            help="Write every removed row here, with qdc_dup_of, qdc_dup_method, qdc_dup_similarity and qdc_dup_ref.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be removed; write nothing.")] = False,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="A file larger than memory: two passes in batches, shingles and band keys on disk; semantic reads "
            "a memory-mapped --embeddings .npy (was `qdc scale dedup`).",
            rich_help_panel=_STREAM,
        ),
    ] = False,
    executor: Annotated[
        str, typer.Option("--executor", help="With --stream: local, or ray (needs qdc[ray]).", rich_help_panel=_STREAM)
    ] = "local",
    max_memory: Annotated[
        str | None,
        typer.Option("--max-memory", help="With --stream: memory limit, e.g. 16G.", rich_help_panel=_STREAM),
    ] = None,
    embeddings: Annotated[
        str | None,
        typer.Option("--embeddings", help="With --stream: the semantic method's (n, d) .npy.", rich_help_panel=_STREAM),
    ] = None,
    seed: SeedOpt = 0,
    text_field: TextFieldOpt = None,
    template: TemplateOpt = None,
    roles: RolesOpt = "user,assistant",
    id_field: IdFieldOpt = "id",
    on_bad_rows: OnBadRowsOpt = "error",
    bad_rows_file: BadRowsFileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Remove duplicate rows: exact (normalised text), near (MinHash-LSH) and semantic (SemDeDup).

    Methods run in order, each on the rows the previous kept; one row per group survives (`--keep`). The
    default, exact then MinHash at Jaccard 0.8 over word 3-grams, needs no model. `--removed` gets every
    removed row with the id it duplicates; `--against` decontaminates against reference files; `--dry-run
    --json` prints rates, group sizes, the largest groups and the memory needed, and writes nothing.

    **Example:** `qdc dedup data.jsonl -o unique.jsonl --method exact,minhash --removed dups.jsonl`
    """
    from qdc.config import validate_config
    from qdc.dedup import DedupConfig, dedup
    from qdc.errors import ConfigError
    from qdc.io import write_records

    if not dry_run:
        check_output_path(output)
        if json and output == "-":
            raise ConfigError("--json prints a summary on stdout; pass -o FILE for the rows (or --dry-run)")
    if removed is not None and not dry_run:
        check_output_path(removed)
    if against_only and not against:
        raise ConfigError("--against-only needs --against FILE")
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
            "bands": bands,
            "rows": rows,
            "verify": not no_verify,
            "eps": eps,
            "semantic_mode": semantic_mode,
            "semantic_order": semantic_order,
            "clusters": clusters,
            "against_only": against_only,
            "seed": seed,
        },
        "options",
    )
    io_cfg = io_config(text_field, template, roles, id_field, on_bad_rows)
    flags = {"executor": executor, "max_memory": max_memory, "embeddings": embeddings, "against": against}
    if dedup_streamed(stream, flags, input, output, removed, cfg, io_cfg, bad_rows_file, dry_run, json):
        return  # the out-of-core engine (qdc.dedup.stream), shared with `qdc scale dedup`
    ecfg = embed_config(model, batch_size, device, no_cache, field) if "semantic" in cfg.methods else None
    inputs = Inputs(io_cfg, bad_rows_file, output)
    df = inputs.read(input)
    refs = [inputs.read(path) for path in (against or [])]
    if explain and not State.quiet:
        from qdc.dedup import FIELD_COLUMNS

        col = FIELD_COLUMNS[cfg.field]
        n = df.height + sum(r.height for r in refs)
        text_bytes = int(df[col].str.len_bytes().sum() or 0) + sum(int(r[col].str.len_bytes().sum() or 0) for r in refs)
        _explain(cfg, n, text_bytes, int(df.estimated_size()) + sum(int(r.estimated_size()) for r in refs))
    result = dedup(df, cfg, ecfg, against=refs)
    if not dry_run:
        write_records(result.kept, output)
        if removed is not None:
            write_records(result.removed, removed)
        inputs.finish()
    stats = result.stats
    stats["dry_run"] = dry_run
    if json:
        print_json(stats)
    elif not State.quiet:
        _print_summary(stats, dry_run)
