"""Shared fixtures: a model-free embedder, frames built from dicts, JSONL files, a CLI runner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from typer.testing import CliRunner

from qdc.embed import EmbedConfig, HashingEmbedder
from qdc.io import IOConfig, prepare

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLE = ROOT / "sample_data" / "instructions.jsonl"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own embedding cache, so tests never see each other's vectors."""
    monkeypatch.setenv("QDC_CACHE_DIR", str(tmp_path_factory.mktemp("qdc-cache")))


@pytest.fixture
def fake_embed_cfg() -> EmbedConfig:
    """Embed with the deterministic hashing model (no torch, no download)."""
    return EmbedConfig(model="hash:64", cache=False)


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder(64)


def make_frame(rows: Sequence[dict[str, Any]], **io: Any) -> pl.DataFrame:
    """A prepared frame (hidden id/text columns added) from a list of dicts."""
    return prepare(pl.DataFrame(list(rows)), IOConfig(**io))


@pytest.fixture
def frame() -> Callable[..., pl.DataFrame]:
    return make_frame


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def read_jsonl(text: str | bytes) -> list[dict[str, Any]]:
    data = text.encode() if isinstance(text, str) else text
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
