"""`qdc dedup`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import State, console, print_json
from qdc.cli._stream import EXECUTOR, MAX_MEMORY, STREAM, dedup_streamed

if TYPE_CHECKING:
    from qdc.dedup import DedupConfig

_MH = "MinHash"
_SEM = "Semantic"
# The options `qdc dedup` and `qdc scale dedup` share, with the DedupConfig key each sets.
DEDUP = (
    o.Opt(
        "--method -m",
        str,
        "exact,minhash",
        "Methods, applied in order: exact, minhash, semantic (comma-separated).",
        key="methods",
    ),
    o.Opt(
        "--keep",
        str,
        "first",
        "Survivor of each group: first, longest or best:COLUMN (ties: the earlier row).",
        key="keep",
    ),
    o.Opt("--field", str, "text", "Part of each row to compare: text, prompt or response.", key="field"),
    o.Opt(
        "--normalize",
        str,
        "nfkc,case,punctuation,whitespace",
        "Exact-match normalisation steps: nfkc,case,punctuation,whitespace or none.",
        key="normalize",
    ),
    o.Opt(
        "--threshold",
        float,
        0.8,
        "Jaccard similarity of word n-gram sets that makes a near-duplicate.",
        key="threshold",
        panel=_MH,
    ),
    o.Opt("--num-perm", int, 128, "MinHash permutations.", key="num_perm", panel=_MH),
    o.Opt("--ngram", int, 3, "Words per shingle.", key="ngram", panel=_MH),
    o.Opt("--eps", float, 0.05, "Semantic: cosine above 1 - eps is a duplicate.", key="eps", panel=_SEM),
    o.Opt(
        "--semantic-mode",
        str,
        "faithful",
        "faithful (SemDeDup: compare with every earlier row) or greedy (only with rows still kept).",
        key="semantic_mode",
        panel=_SEM,
    ),
    o.Opt(
        "--semantic-order",
        str,
        "auto",
        "Order within a cluster: auto, hard (farthest from centroid survives), easy, or keep (the --keep policy).",
        key="semantic_order",
        panel=_SEM,
    ),
    o.Opt(
        "--clusters",
        int | None,
        None,
        "k-means clusters [default: 1 (exhaustive) up to 10,000 rows, else sqrt(n); on a seeded sample].",
        key="clusters",
        panel=_SEM,
    ),
    o.SEED,
)
REMOVED = o.Opt(
    "--removed",
    str | None,
    None,
    "Write every removed row here, with qdc_dup_of, qdc_dup_method, qdc_dup_similarity and qdc_dup_ref.",
)
DRY_RUN = o.Opt("--dry-run", bool, False, "Report what would be removed; write nothing.")


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


@o.command(
    app,
    "dedup",
    (
        o.INPUT,
        o.OUTPUT,
        *o.WRITE,
        *DEDUP,
        o.Opt("--bands", int | None, None, "LSH bands [default: derived from --threshold].", key="bands", panel=_MH),
        o.Opt("--rows", int | None, None, "Rows per band [default: derived from --threshold].", key="rows", panel=_MH),
        o.Opt(
            "--no-verify",
            bool,
            False,
            "Trust the signature estimate instead of computing true Jaccard.",
            key="verify",
            convert=o.negate,
            panel=_MH,
        ),
        o.Opt("--explain", bool, False, "Print the LSH S-curve and the memory estimate before running.", panel=_MH),
        o.MODEL,
        o.BATCH,
        o.DEVICE,
        o.NO_CACHE,
        o.Opt(
            "--against",
            list[str] | None,
            None,
            "Reference file (repeatable): remove input rows that duplicate its rows; its rows are never written.",
        ),
        o.Opt(
            "--against-only",
            bool,
            False,
            "With --against: remove only rows that duplicate a reference row.",
            key="against_only",
        ),
        REMOVED,
        DRY_RUN,
        STREAM,
        EXECUTOR.with_(help="With --stream: local, or ray (needs qdc[ray]).", flags="--executor"),
        MAX_MEMORY.with_(help="With --stream: memory limit, e.g. 16G."),
        o.Opt("--embeddings", str | None, None, "With --stream: the semantic method's (n, d) .npy.", panel="Streaming"),
        *o.IO,
        o.JSON,
    ),
    config="qdc.dedup:DedupConfig",
)
def dedup_cmd(a: o.Args, cfg: DedupConfig) -> None:
    """Remove duplicate rows: exact (normalised text), near (MinHash-LSH) and semantic (SemDeDup).

    Methods run in order, each on the rows the previous kept; one row per group survives (`--keep`). The
    default, exact then MinHash at Jaccard 0.8 over word 3-grams, needs no model. `--removed` gets every
    removed row with the id it duplicates; `--against` decontaminates against reference files; `--dry-run
    --json` prints rates, group sizes, the largest groups and the memory needed, and writes nothing.

    **Example:** `qdc dedup data.jsonl -o unique.jsonl --method exact,minhash --removed dups.jsonl`
    """
    from qdc.dedup import dedup
    from qdc.errors import ConfigError
    from qdc.io import write_records

    if not a.dry_run:
        o.check_output_path(a.output)
        if a.json and a.output == "-":
            raise ConfigError("--json prints a summary on stdout; pass -o FILE for the rows (or --dry-run)")
        if a.removed is not None:
            o.check_output_path(a.removed)
    if cfg.against_only and not a.against:
        raise ConfigError("--against-only needs --against FILE")
    inputs = o.read_inputs(a)
    if dedup_streamed(a, cfg, inputs.io):
        return  # the out-of-core engine (qdc.dedup.stream), shared with `qdc scale dedup`
    ecfg = o.embedding(a, cfg.field) if "semantic" in cfg.methods else None
    df = inputs.read(a.input)
    refs = [inputs.read(path) for path in (a.against or [])]
    if a.explain and not State.quiet:
        from qdc.dedup import FIELD_COLUMNS

        col = FIELD_COLUMNS[cfg.field]
        n = df.height + sum(r.height for r in refs)
        text_bytes = int(df[col].str.len_bytes().sum() or 0) + sum(int(r[col].str.len_bytes().sum() or 0) for r in refs)
        _explain(cfg, n, text_bytes, int(df.estimated_size()) + sum(int(r.estimated_size()) for r in refs))
    result = dedup(df, cfg, ecfg, against=refs)
    if not a.dry_run:
        o.write_rows(a, result.kept)
        if a.removed is not None:
            write_records(result.removed, a.removed)
        inputs.finish()
    stats = result.stats
    stats["dry_run"] = a.dry_run
    if a.json:
        print_json(stats)
    elif not State.quiet:
        _print_summary(stats, a.dry_run)
