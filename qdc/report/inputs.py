"""What `qdc report` needs before it builds: the page's time stamp, and the embedder for rows without vectors
(checked against the vectors the files carry)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from qdc.embed import EmbedConfig
    from qdc.embed.models import Embedder


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
