"""`qdc dedup`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import State, console, show, table
from qdc.cli._stream import EMBEDDINGS, STREAM, STREAMING, _s, run_options, streamed

if TYPE_CHECKING:
    from qdc.dedup import DedupConfig
    from qdc.io import IOConfig

_MH, K = "MinHash", o.K
# Help and defaults come from DedupConfig (--help reads them); every other key (num_perm, ngram, eps, ...:
# `qdc stages --keys`) through --set.
DEDUP = (
    K("--method -m", str, "methods"),
    K("--keep", str, "keep"),
    K("--field", str, "field"),
    K("--threshold", float, "threshold", panel=_MH),
    o.M("--explain", bool, False, "Print the LSH S-curve and the memory estimate first.", panel=_MH),
    o.SEED,
)


def _explain(cfg: DedupConfig, frames: list[Any]) -> None:
    """The LSH S-curve (MinHash) and the memory estimate of the input and reference frames (`qdc.dedup.plan`)."""
    from qdc.dedup import plan

    known = plan(frames, cfg)
    if "s_curve" in known:
        b, r = known["bands"]
        title = f"MinHash LSH: {b} bands x {r} rows ({b * r} of {cfg.num_perm} permutations), word {cfg.ngram}-grams"
        points = [(f"{p['jaccard']:.2f}", f"{p['p_candidate']:.4f}") for p in known["s_curve"]]
        check = "checked by true Jaccard" if cfg.verify else "checked by the signature estimate"
        caption = f"threshold {cfg.threshold}; pairs that become candidates are then {check}"
        console.print(table(title, points, ("Jaccard", "P(candidate)"), caption))
    console.print(f"memory estimate for {known['rows']} rows: {known['memory_estimate']}")


def _summary(stats: dict[str, Any]) -> list[Any]:
    verb = "would remove" if stats["dry_run"] else "removed"
    rate = f"{100 * stats['duplicate_rate']:.1f}%" if "duplicate_rate" in stats else ""
    head = f"{verb} {stats['rows_removed']} of {stats['rows_in']} rows ({rate}); kept {stats['rows_kept']}"
    if "group_sizes" not in stats:  # a streamed run: one line
        per = ", ".join(f"{m} {info['removed']}" for m, info in stats["methods"].items())
        return [
            f"{verb} {stats['rows_removed']} of {stats['rows_in']} rows ({per}); kept {stats['rows_kept']} in "
            f"{stats['seconds']['total']} s"
        ]
    rows = []
    for name, info in stats["methods"].items():
        settings = ", ".join(f"{k}={v}" for k, v in info.items() if k not in ("removed", "rate", "seconds"))
        rows.append((name, info["removed"], f"{100 * info['rate']:.2f}%", info["seconds"], settings))
    sizes = ", ".join(f"{k}: {v}" for k, v in stats["group_sizes"].items() if v)
    out = [head, table("by method", rows, ("method", "removed", "rate", "seconds", "settings"))]
    out.append(f"group sizes: {sizes or 'no groups'}; memory estimate {stats['memory_estimate']}")
    for g in stats["largest_groups"][:3]:
        out.append(f"  group of {g['size']}, kept {g['kept_id']}: {g['kept_text']}")
        out += [f"    - {ex['id']} ({ex['method']} {ex['similarity']}): {ex['text']}" for ex in g["examples"][:2]]
    return out


def _stream(a: o.Args, cfg: DedupConfig, io: IOConfig) -> None:
    """`--stream`: exact + MinHash (+ semantic over --embeddings) in two passes over the file."""
    from qdc.dedup.stream import StreamOptions, stream_dedup

    opts = StreamOptions(run_options(a), a.partitions, a.work_dir, embeddings=a.embeddings)
    out, removed = (None, None) if a.dry_run else (a.output, a.removed)

    def engine(report: Any, est: Any) -> dict[str, Any]:
        stats = stream_dedup(a.input, cfg, io, opts, output=out, removed=removed, report=report, on_estimate=est)
        return {**stats, "dry_run": a.dry_run}

    streamed(a, "dedup", engine, lambda s: _summary(s)[0])


@o.command(
    app,
    "dedup",
    (
        *DEDUP,
        o.MODEL,
        o.BATCH,
        o.DEVICE,
        o.NO_CACHE,
        o.M("--against", list[str] | None, None, "Reference file (repeatable): remove input rows that duplicate it."),
        o.Opt("--removed", str | None, None, "Write every removed row here, with the qdc_dup_* columns."),
        o.Opt("--dry-run", bool, False, "Report what would be removed; write nothing."),
        STREAM.with_(help="A file larger than memory: two passes in batches, band keys on disk (see docs/scale.md)."),
        EMBEDDINGS,
        *STREAMING,
        _s("--partitions", int | None, "With --stream: band-key partition files [default: ~4M records each]."),
        _s("--work-dir", str | None, "With --stream: folder for temporary files [default: the system temp folder]."),
    ),
    config="qdc.dedup:DedupConfig",
    rows=True,
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

    if not a.stream:  # the streamed path checks its outputs itself (`_stream.streamed`)
        o.check_outputs(a)
    if cfg.against_only and not a.against:
        raise ConfigError("against_only needs --against FILE")
    if a.embeddings is not None and "semantic" not in cfg.methods:
        raise ConfigError("--embeddings is for the semantic method; add semantic to --method")
    inputs = o.read_inputs(a)
    if a.stream:
        return _stream(a, cfg, inputs.io)
    ecfg = o.embedding(a, cfg.field) if "semantic" in cfg.methods else None
    df = inputs.read(a.input)
    refs = [inputs.read(path) for path in (a.against or [])]
    if a.explain and not State.quiet:
        _explain(cfg, [df, *refs])
    result = dedup(df, cfg, ecfg, against=refs)
    if not a.dry_run:
        o.write_rows(a, result.kept)
        if a.removed is not None:
            write_records(result.removed, a.removed)
        inputs.finish()
    stats = {**result.stats, "dry_run": a.dry_run}
    show(a, stats, *_summary(stats))
