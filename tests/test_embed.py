"""Embedding: normalisation, the cache, reuse of existing vectors, the real default model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from qdc import schema
from qdc.embed import EmbedConfig, HashingEmbedder, embed, embed_texts
from qdc.embed.models import load_embedder


class CountingEmbedder(HashingEmbedder):
    """The hashing model, counting how many texts reach it."""

    def __init__(self) -> None:
        super().__init__(32)
        self.seen: list[str] = []

    def encode(self, texts, batch_size=0):  # type: ignore[no-untyped-def]
        self.seen.extend(texts)
        return super().encode(texts, batch_size)


def test_hash_embedder_is_unit_norm_and_deterministic() -> None:
    a = HashingEmbedder(64).encode(["hello world", "hello world!", "completely different"])
    b = HashingEmbedder(64).encode(["hello world", "hello world!", "completely different"])
    assert a.dtype == np.float32 and a.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    assert np.array_equal(a, b)
    assert a[0] @ a[1] > a[0] @ a[2]  # near-identical texts are closer than unrelated ones


def test_cache_embeds_only_new_texts(tmp_path: Path) -> None:
    cfg = EmbedConfig(cache_dir=tmp_path)
    model = CountingEmbedder()
    first = embed_texts(["a b c", "d e f", "a b c"], cfg, model)
    assert model.seen == ["a b c", "d e f"] or sorted(model.seen) == ["a b c", "d e f"]
    model.seen.clear()
    second = embed_texts(["d e f", "g h i", "a b c"], cfg, model)
    assert model.seen == ["g h i"]
    np.testing.assert_array_equal(second[2], first[0])
    np.testing.assert_array_equal(second[0], first[1])


def test_cache_is_keyed_by_model_identity(tmp_path: Path) -> None:
    cfg = EmbedConfig(cache_dir=tmp_path)
    embed_texts(["x y z"], cfg, HashingEmbedder(16))
    other = CountingEmbedder()  # 32-d: a different identity, so nothing is reused
    embed_texts(["x y z"], cfg, other)
    assert other.seen == ["x y z"]


def test_no_cache_writes_nothing(tmp_path: Path) -> None:
    embed_texts(["x"], EmbedConfig(cache=False, cache_dir=tmp_path), HashingEmbedder(16))
    assert not (tmp_path / "embeddings.sqlite").exists()


def test_embed_adds_fixed_size_float32_column(frame, fake_embed_cfg) -> None:  # type: ignore[no-untyped-def]
    df = embed(frame([{"text": "one"}, {"text": "two"}]), fake_embed_cfg)
    assert df.schema[schema.EMBEDDING] == pl.Array(pl.Float32, 64)


def test_embed_reuses_existing_embeddings_unless_forced(frame, fake_embed_cfg) -> None:  # type: ignore[no-untyped-def]
    df = embed(frame([{"text": "one"}, {"text": "two"}]), fake_embed_cfg)
    marked = df.with_columns(
        pl.Series(schema.EMBEDDING, np.ones((2, 64), np.float32) / 8.0, dtype=pl.Array(pl.Float32, 64))
    )
    assert embed(marked, fake_embed_cfg)[schema.EMBEDDING].to_list() == marked[schema.EMBEDDING].to_list()
    forced = embed(marked, fake_embed_cfg.model_copy(update={"force": True}))
    assert forced[schema.EMBEDDING].to_list() == df[schema.EMBEDDING].to_list()


def test_embed_field_prompt_only(frame, fake_embed_cfg) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {"instruction": "Same question", "output": "answer one"},
        {"instruction": "Same question", "output": "a totally different answer"},
    ]
    x = embed(frame(rows), fake_embed_cfg.model_copy(update={"field": "prompt"}))[schema.EMBEDDING].to_numpy()
    assert np.allclose(x[0], x[1])


@pytest.mark.model
def test_real_default_model_loads_offline_and_embeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = EmbedConfig(cache_dir=tmp_path, device="cpu")
    model = load_embedder("default", "cpu", tmp_path)
    x = embed_texts(
        ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse."], cfg, model
    )
    assert x.shape == (3, 384) and x.dtype == np.float32
    # sentence-transformers' README similarities for all-MiniLM-L6-v2 (documented in environment.md)
    assert abs(float(x[0] @ x[1]) - 0.7553) < 0.05
    assert float(x[0] @ x[1]) > float(x[0] @ x[2])
    assert model.identity.startswith("st:all-MiniLM-L6-v2:")


def test_cuda_without_gpu_falls_back_with_one_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from qdc.embed.models import resolve_device
    from qdc.progress import use_reporter

    class Capture:
        def __init__(self) -> None:
            self.notices: list[str] = []

        def progress(self, task: str, done: int, total: int | None) -> None:
            pass

        def notice(self, message: str) -> None:
            self.notices.append(message)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cap = Capture()
    with use_reporter(cap):
        assert resolve_device("cuda") == "cpu"
        assert resolve_device("auto") == "cpu"
        assert resolve_device("cpu") == "cpu"
    assert cap.notices == ["--device cuda: no CUDA GPU is visible; embedding on the CPU instead"]


def test_unknown_device_is_a_usage_error() -> None:
    from qdc.embed.models import resolve_device
    from qdc.errors import ConfigError

    with pytest.raises(ConfigError):
        resolve_device("tpu")


class _ChunkSensitive:
    """A fake model whose vectors depend on the whole chunk (as padding does in a real model's batches)."""

    identity = "test:chunk-sensitive"
    dim = 4

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        self.calls.append(list(texts))
        longest = max(len(t) for t in texts)
        return np.asarray([[len(t), longest, batch_size, 1.0] for t in texts], dtype=np.float32)


def test_chunk_encoder_gets_exactly_the_local_chunks() -> None:
    texts = [("x" * (i % 450 % 37)) + f" {i % 450}" for i in range(600)]  # 450 distinct, many equal lengths
    cfg = EmbedConfig(batch_size=16, cache=False)
    local_model = _ChunkSensitive()
    local = embed_texts(texts, cfg, local_model)
    remote_model, seen = _ChunkSensitive(), []

    def encode_chunks(chunks: list[list[str]]) -> Iterator[np.ndarray]:
        seen.extend(chunks)
        return iter([remote_model.encode(c, cfg.batch_size) for c in reversed(chunks)][::-1])

    other = embed_texts(texts, cfg, _ChunkSensitive(), encode_chunks=encode_chunks)
    assert seen == local_model.calls
    assert [len(c) for c in seen] == [16, 256, 178]  # deduplicated; one batch first, then max(8 x 16, 256)
    assert np.array_equal(other, local)


def test_progress_from_the_first_batch_and_same_batches() -> None:
    from qdc.progress import use_reporter

    class Capture:
        def __init__(self) -> None:
            self.steps: list[int] = []

        def progress(self, task: str, done: int, total: int | None) -> None:
            self.steps.append(done)

        def notice(self, message: str) -> None:
            pass

    texts = [f"row {i} " + "w" * (i % 97) for i in range(700)]
    cap, model = Capture(), _ChunkSensitive()
    with use_reporter(cap):
        embed_texts(texts, EmbedConfig(batch_size=64, cache=False), model)
    assert cap.steps[:2] == [0, 64]  # a step after the first model batch, not after 512 rows
    assert cap.steps[-1] == 700
    # every chunk but the last is a whole number of model batches, so batches match one long chunk
    assert all(len(c) % 64 == 0 for c in model.calls[:-1])


@pytest.mark.parametrize("name", ["nosuchmodel", "org/nosuchmodel"])
def test_unknown_model_fails_at_once_with_the_list(tmp_path: Path, name: str) -> None:
    from qdc.errors import ConfigError

    with pytest.raises(ConfigError, match=r"no such model.*Available: default"):
        load_embedder(name, "cpu", tmp_path)


def test_local_folder_and_known_names_are_accepted(tmp_path: Path) -> None:
    from qdc.embed.models import check_model_name

    for name in ("default", "minilm", "static", "hash", "hash:16", str(tmp_path)):
        check_model_name(name)


@pytest.mark.model
def test_onnx_backend_matches_torch(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    texts = ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse.", "x " * 400]
    torch_x = load_embedder("default", "cpu", tmp_path).encode(texts, 2)
    onnx = load_embedder("minilm-onnx", "cpu", tmp_path)
    x = onnx.encode(texts, 2)
    assert x.shape == (4, 384) and x.dtype == np.float32
    assert np.min(np.sum(x * torch_x, axis=1)) > 0.9999  # the same network (the long row is cut at 256 tokens)
    int8 = load_embedder("minilm-onnx-int8", "cpu", tmp_path).encode(texts, 2)
    agree = np.sum(int8 * torch_x, axis=1)  # int8 weights: close, not equal (0.97 on sentences)
    assert np.min(agree[:3]) > 0.95 and agree[3] > 0.8
    assert float(int8[0] @ int8[1]) > float(int8[0] @ int8[2])
    assert onnx.identity != load_embedder("minilm-onnx-int8", "cpu", tmp_path).identity
