"""`qdc report` from files: its options, the page's time stamp, the embedder for rows without vectors
(checked against the vectors the files carry), and `write_report`, which reads, builds and writes the page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from qdc.embed import EmbedConfig
    from qdc.embed.models import Embedder
    from qdc.io import IOConfig
    from qdc.report.data import ReportOptions


def generated_at(reproducible: bool) -> str:
    """The report's time stamp: SOURCE_DATE_EPOCH when set (reproducible builds), none with --reproducible."""
    import os
    from datetime import datetime, timezone

    from qdc.errors import ConfigError

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None:
        try:
            return datetime.fromtimestamp(int(epoch), timezone.utc).isoformat(timespec="seconds")
        except (ValueError, OverflowError, OSError):
            raise ConfigError(f"SOURCE_DATE_EPOCH={epoch[:40]!r}: expected whole seconds since 1970") from None
    return "" if reproducible else datetime.now(timezone.utc).isoformat(timespec="seconds")


def embedder_for(
    df: pl.DataFrame, other: pl.DataFrame | None, ecfg: EmbedConfig, source: str, other_source: str
) -> Embedder | None:
    """The embedder for rows that lack vectors, after checking it matches the vectors the files carry.

    Vectors of different models cannot be compared: refuse at once (before minutes of embedding) when the
    two files carry different dimensions, or when --model gives another dimension than the file that has
    them. Say what will be embedded, and with which model, before doing it.
    """
    from qdc import schema
    from qdc.embed.cache import default_cache_dir
    from qdc.embed.models import load_embedder
    from qdc.errors import ConfigError
    from qdc.progress import notice

    files = [(source, df)] + ([(other_source, other)] if other is not None else [])
    carried = {name: f[schema.EMBEDDING].dtype.size for name, f in files if schema.EMBEDDING in f.columns}  # type: ignore[attr-defined]
    missing = [(name, f.height) for name, f in files if schema.EMBEDDING not in f.columns]
    if len(set(carried.values())) > 1:
        (a, da), (b, db) = carried.items()
        raise ConfigError(
            f"{a} carries {da}-d embeddings and {b} {db}-d: they come from different models and cannot be "
            f"compared; embed both with one model first (qdc embed FILE --force --model M)"
        )
    if not missing:
        return None
    embedder = load_embedder(ecfg.model, ecfg.device, ecfg.cache_dir or default_cache_dir())
    if carried and embedder.dim > 0 and embedder.dim not in carried.values():
        name, dim = next(iter(carried.items()))
        raise ConfigError(
            f"{name} carries {dim}-d embeddings but --model {ecfg.model} gives {embedder.dim}-d; pass the "
            f"--model that made them, or embed {missing[0][0]} with it first (qdc embed)"
        )
    what = " and ".join(f"{n} rows of {name}" for name, n in missing)
    also = f" ({', '.join(carried)} carries its own {next(iter(carried.values()))}-d vectors)" if carried else ""
    notice(f"embedding {what} with --model {ecfg.model}{also}")
    return embedder


def options(budgets: str, strategies: str) -> ReportOptions:
    """ReportOptions from the comma-separated `--budgets` (positive fractions or row counts) and
    `--strategies`; ConfigError (exit 2) on anything else."""
    from qdc.errors import ConfigError
    from qdc.report.data import ReportOptions

    try:
        budget_list = tuple(float(b) for b in budgets.split(",") if b.strip())
    except ValueError:
        raise ConfigError(f"--budgets {budgets!r}: expected numbers, e.g. 0.1,0.5,400") from None
    if not budget_list or any(b <= 0 for b in budget_list):
        raise ConfigError("--budgets: give positive fractions or row counts")
    names = tuple(s.strip() for s in strategies.split(",") if s.strip())
    from qdc.select.defaults import STRATEGIES

    unknown = [s for s in names if s not in STRATEGIES]
    if unknown or not names:
        raise ConfigError(f"--strategies {strategies!r}: expected some of {', '.join(STRATEGIES)}")
    return ReportOptions(budgets=budget_list, strategies=names)


def write_report(
    source: str | list[str],
    output: str,
    io: IOConfig,
    ecfg: EmbedConfig,
    *,
    seed: int = 0,
    compare: str | None = None,
    opts: ReportOptions | None = None,
    reproducible: bool = False,
) -> tuple[dict[str, Any], int]:
    """Read `source` (and `compare`), build the report and write its HTML page to `output` (atomically); the
    report's notes are said as notices. Returns (the report's data, the rows of `source`)."""
    from qdc.errors import ConfigError
    from qdc.io import atomic_path, read_records
    from qdc.measure import MeasureContext
    from qdc.progress import notice
    from qdc.report.data import build_report
    from qdc.report.html import render_html

    if output == "-":
        raise ConfigError("-o: the report is an HTML file; name one, e.g. -o report.html")
    if output.lower().endswith((".json", ".jsonl", ".parquet", ".gz", ".zst", ".csv")):
        raise ConfigError(f"-o {output}: the report is an HTML page (e.g. -o report.html); --json prints its data")
    generated = generated_at(reproducible)  # a bad SOURCE_DATE_EPOCH fails before any reading
    shown = source if isinstance(source, str) else ", ".join(source)
    df = read_records(source, io)
    other = read_records(compare, io) if compare is not None else None
    embedder = embedder_for(df, other, ecfg, shown, compare or "")
    ctx = MeasureContext(seed=seed, embed=ecfg, embedder=embedder)
    data = build_report(df, ctx, other, opts, source=shown, other_source=compare or "")
    data["generated"] = generated
    with atomic_path(output) as tmp:
        tmp.write_text(render_html(data), encoding="utf-8")
    for note in data["notes"]:
        notice(note)
    return data, df.height
