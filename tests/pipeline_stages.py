"""Test-only pipeline stages: a stage that fails or kills its process on demand, and one that drops rows
silently. Registered by the pipeline tests (and by the subprocess of the SIGKILL test)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import polars as pl

from qdc.config import StageConfig
from qdc.pipeline.stage import StageContext, StageResult


class TripConfig(StageConfig):
    """`trip`: counts its runs in `counter`; fails (or kills the process) while `marker` exists."""

    counter: str
    marker: str
    mode: str = "raise"  # raise | kill


def run_stage(df: pl.DataFrame, cfg: TripConfig, ctx: StageContext) -> StageResult:
    counter = Path(cfg.counter)
    counter.write_text(str(int(counter.read_text() or 0) + 1 if counter.exists() else 1))
    if Path(cfg.marker).exists():
        if cfg.mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError("simulated crash")
    return StageResult(df, summary={"tripped": False})


class DropConfig(StageConfig):
    """`drop-silently`: removes every third row without reporting it."""

    every: int = 3


def run_drop(df: pl.DataFrame, cfg: DropConfig, ctx: StageContext) -> StageResult:
    keep = [i for i in range(df.height) if i % cfg.every]
    return StageResult(df[keep])


def register() -> None:
    from qdc.pipeline import register_stage

    register_stage("trip", TripConfig, run_stage)
    register_stage("drop-silently", DropConfig, run_drop)
