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


def select_input(tmp_path: Path, n: int, dim: int, seed: int) -> tuple[Path, Path]:
    """A JSONL file of n rows with a random qdc_quality, and their unit vectors in a float16 scale store
    (`--stream` selection's inputs)."""
    import numpy as np

    from qdc.scale.store import create

    rng = np.random.default_rng(seed)
    rows = [{"id": f"r{i}", "text": f"row {i}", "qdc_quality": float(rng.random())} for i in range(n)]
    src = write_jsonl(tmp_path / "sel.jsonl", rows)
    v = rng.normal(size=(n, dim))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    x = create(tmp_path / "emb.npy", n, dim, "float16")
    x[:] = v
    x.flush()
    return src, tmp_path / "emb.npy"


def read_jsonl(text: str | bytes) -> list[dict[str, Any]]:
    data = text.encode() if isinstance(text, str) else text
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


class Notes:
    """A progress reporter that records notices (`with qdc.progress.use_reporter(notes): ...`)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def progress(self, task: str, done: int, total: int | None) -> None:
        return None

    def notice(self, message: str) -> None:
        self.messages.append(message)
