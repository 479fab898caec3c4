"""The uniform stage interface that `qdc run` composes.

A stage is a `<Stage>Config(StageConfig)` and an adapter ``(df, cfg, ctx: StageContext) -> StageResult``
(`qdc.pipeline.stages`), bound together by `stage_spec`, which type-checks that the adapter takes that
config class. Stages add columns; a stage that removes rows (dedup, select) returns them in
`StageResult.removed` with columns saying why, so nothing is lost silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from qdc.config import StageConfig
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


C = TypeVar("C", bound=StageConfig)


@dataclass(frozen=True)
class StageSpec:
    """A registered stage: its config class and its adapter, held by reference (build it with `stage_spec`)."""

    name: str
    config: type[StageConfig]
    run: Callable[[pl.DataFrame, Any, StageContext], StageResult]
    summary: str = ""


def stage_spec(
    name: str, config: type[C], run: Callable[[pl.DataFrame, C, StageContext], StageResult], summary: str = ""
) -> StageSpec:
    """A stage from its config class and its adapter; mypy checks that `run` takes exactly `config`."""
    return StageSpec(name, config, run, summary)
