"""`qdc scale dedup --backend ray`: the same kept rows as the local backend (skipped without Ray)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qdc.dedup import DedupConfig
from qdc.dedup.stream import StreamOptions, stream_dedup
from qdc.scale.options import RunOptions
from tests.conftest import write_jsonl
from tests.test_scale import _rows

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    with contextlib.suppress(AttributeError):  # older Ray versions name it differently
        ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.mark.parametrize("keep", ["first", "longest"])
def test_ray_backend_keeps_the_local_rows(tmp_path: Path, local_ray: Any, keep: str) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", _rows(300, seed=3))
    cfg = DedupConfig(keep=keep)
    local = stream_dedup(
        str(src),
        cfg,
        opts=StreamOptions(RunOptions(batch_rows=64), partitions=4),
        output=str(tmp_path / "l.jsonl"),
        removed=str(tmp_path / "l_removed.jsonl"),
    )
    dist = stream_dedup(
        str(src),
        cfg,
        opts=StreamOptions(RunOptions(batch_rows=64, backend="ray")),
        output=str(tmp_path / "r.jsonl"),
        removed=str(tmp_path / "r_removed.jsonl"),
    )
    assert local["methods"]["minhash"]["removed"] > 3
    assert dist["backend"] == "ray"
    assert dist["methods"]["minhash"]["duplicate_pairs"] == local["methods"]["minhash"]["duplicate_pairs"]
    assert (tmp_path / "r.jsonl").read_bytes() == (tmp_path / "l.jsonl").read_bytes()
    assert (tmp_path / "r_removed.jsonl").read_bytes() == (tmp_path / "l_removed.jsonl").read_bytes()


def test_ray_select_assignment_matches_local(tmp_path: Path, local_ray: Any, monkeypatch: Any) -> None:
    from qdc.select import stream as select_stream
    from qdc.select.stream import ScaleSelectConfig, stream_select
    from tests.test_scale import _select_input

    monkeypatch.setattr(select_stream, "RANGE_ROWS", 100)  # 7 tasks over the 700 rows
    src, emb = _select_input(tmp_path, n=700)
    cfg = ScaleSelectConfig(budget=90, seed=2)
    local = stream_select(str(src), str(emb), cfg, output=str(tmp_path / "l.jsonl"), run=RunOptions(batch_rows=200))
    dist = stream_select(
        str(src), str(emb), cfg, output=str(tmp_path / "r.jsonl"), run=RunOptions(batch_rows=200, backend="ray")
    )
    assert dist["backend"] == "ray" and dist["selected"] == local["selected"] == 90
    assert (tmp_path / "r.jsonl").read_bytes() == (tmp_path / "l.jsonl").read_bytes()


def test_ray_embedding_batch_map_matches_local(tmp_path: Path, local_ray: Any) -> None:
    import numpy as np

    from qdc.embed import EmbedConfig
    from qdc.embed.stream import stream_embed

    src = write_jsonl(tmp_path / "in.jsonl", _rows(120, seed=5))
    cfg = EmbedConfig(model="hash:32", cache=False)
    local = stream_embed(str(src), tmp_path / "l.npy", cfg, dtype="float32", run=RunOptions(batch_rows=50))
    dist = stream_embed(
        str(src), tmp_path / "r.npy", cfg, dtype="float32", run=RunOptions(batch_rows=50, backend="ray", ray_cpus=2)
    )
    assert dist["backend"] == "ray" and dist["rows"] == local["rows"] == 120
    assert np.array_equal(np.load(tmp_path / "r.npy"), np.load(tmp_path / "l.npy"))


def test_ray_scoring_batch_map_matches_local(tmp_path: Path, local_ray: Any) -> None:
    from qdc.complexity import ComplexityConfig
    from qdc.io import IOConfig
    from qdc.quality import QualityConfig
    from qdc.quality.stream import stream_score
    from tests.test_scale import _score_rows

    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(_score_rows()) + b"\n")
    io = IOConfig(on_bad_rows="skip")
    kw: dict[str, Any] = {"quality": QualityConfig(), "complexity": ComplexityConfig()}
    local = stream_score(str(src), io, output=str(tmp_path / "l.jsonl"), run=RunOptions(batch_rows=15), **kw)
    dist = stream_score(
        str(src), io, output=str(tmp_path / "r.jsonl"), run=RunOptions(batch_rows=15, backend="ray"), **kw
    )
    assert dist["backend"] == "ray" and dist["rows"] == local["rows"] == 40 and dist["batches"] == 3
    assert dist["quality"] == local["quality"] and dist["complexity"] == local["complexity"]
    assert (tmp_path / "r.jsonl").read_bytes() == (tmp_path / "l.jsonl").read_bytes()


@pytest.mark.model
def test_ray_embedding_with_the_real_model_is_byte_identical(tmp_path: Path, local_ray: Any) -> None:
    # The real model pads each batch to its longest text: a different grouping changes the vectors in the
    # last float32 bits, so equality here shows the Ray workers encode exactly the local chunks.
    import numpy as np

    from qdc.embed import EmbedConfig
    from qdc.embed.stream import stream_embed

    rng = np.random.default_rng(0)
    words = [
        "the",
        "a",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "data",
        "model",
        "row",
        "text",
        "selection",
    ]
    rows = [{"id": i, "text": " ".join(rng.choice(words, size=int(rng.integers(2, 40))))} for i in range(300)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    cfg = EmbedConfig(model="default", device="cpu", cache=False, batch_size=16)
    stream_embed(str(src), tmp_path / "l.npy", cfg, dtype="float32", run=RunOptions(batch_rows=1000))
    stream_embed(
        str(src), tmp_path / "r.npy", cfg, dtype="float32", run=RunOptions(batch_rows=1000, backend="ray", ray_cpus=2)
    )
    assert np.array_equal(np.load(tmp_path / "r.npy"), np.load(tmp_path / "l.npy"))
