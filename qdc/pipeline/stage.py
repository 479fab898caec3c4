"""The uniform stage interface that `qdc run` composes.

Every stage module exposes a `<Stage>Config(StageConfig)` and
``run_stage(df, cfg, ctx) -> StageResult``. Stages add columns; a stage that removes rows (dedup,
select) returns them in `StageResult.removed` with columns saying why, so nothing is lost silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from qdc.embed import EmbedConfig, Embedder


@dataclass
class StageContext:
    """What every stage may use besides its own config."""

    seed: int = 0
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    """How to embed when a stage needs embeddings that are not there yet."""
    embedder: Embedder | None = None
    """A ready embedder (tests pass a fake one); None loads `embed.model` when needed."""
    workdir: Path | None = None


@dataclass
class StageResult:
    """Rows that continue, rows removed (with reason columns), and a JSON-able summary."""

    df: pl.DataFrame
    removed: pl.DataFrame | None = None
    summary: dict[str, Any] = field(default_factory=dict)
