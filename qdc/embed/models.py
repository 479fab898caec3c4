"""Embedding models: the bundled MiniLM (sentence-transformers), a distilled static model, a hashing model.

Every model returns L2-normalised float32 rows and has an `identity` string that changes whenever its
weights change; the embedding cache is keyed by it.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qdc.embed.base import Embedder, _dir_identity, bundled_model_path, l2_normalise, quiet_model_loading
from qdc.errors import ConfigError, MissingDependencyError
from qdc.progress import notice, progress

__all__ = [
    "DEFAULT_MODEL",
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "StaticEmbedder",
    "bundled_model_path",
    "l2_normalise",
    "load_embedder",
    "quiet_model_loading",
]

DEFAULT_MODEL = "default"
DEFAULT_MODEL_ALIASES = frozenset({"default", "minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})
STATIC_MODEL = "static"
HASH_PREFIX = "hash"
ONNX_MODELS = {"minilm-onnx": False, "minilm-onnx-int8": True}  # name -> int8


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'; 'cuda' without a GPU falls back with a notice."""
    if device not in {"auto", "cpu", "cuda"} and not device.startswith("cuda:"):
        raise ConfigError(f"--device {device!r}: expected auto, cpu or cuda")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda" if device == "auto" else device
    if device != "auto":
        notice(f"--device {device}: no CUDA GPU is visible; embedding on the CPU instead")
    return "cpu"


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; the default is the bundled all-MiniLM-L6-v2, loaded offline."""

    def __init__(self, name: str = DEFAULT_MODEL, device: str = "auto") -> None:
        self.name = name
        self.device = device
        self._model: Any = None
        if name in DEFAULT_MODEL_ALIASES:
            self.path: Path | None = bundled_model_path()
            self.identity = f"st:all-MiniLM-L6-v2:{_dir_identity(self.path)}"
            self.dim = 384
        elif Path(name).is_dir():
            self.path = Path(name).resolve()
            self.identity = f"st:{self.path.name}:{_dir_identity(self.path)}"
            self.dim = -1  # known once loaded
        else:
            self.path = None
            self.identity = f"st:{name}"
            self.dim = -1
        self.offline = self.path is not None or hub_cache_has(name)

    def _load(self) -> Any:
        if self._model is None:
            quiet_model_loading(offline=self.offline)
            # Said before the import: it takes 8-20 s and holds the GIL, so nothing else can report meanwhile.
            progress(f"loading embedding model {self.name}", 0, None)
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise MissingDependencyError(
                    "embedding needs sentence-transformers: pip install sentence-transformers"
                ) from None
            device = resolve_device(self.device)
            target = str(self.path) if self.path is not None else self.name
            try:
                self._model = SentenceTransformer(target, device=device)
            except Exception as exc:
                raise ConfigError(
                    f"could not load embedding model {self.name!r} ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:200]}); pass a local model folder or 'default'"
                ) from None
            dim_fn = (
                getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
            )
            self.dim = int(dim_fn() or 0)
        return self._model

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        model = self._load()
        out = model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return l2_normalise(out)


def static_model_dir(cache_dir: Path) -> Path:
    return cache_dir / "models" / "static-minilm-l6-pca256"


class StaticEmbedder:
    """A model2vec static model distilled once, offline, from the bundled MiniLM (PCA to 256 dims).

    Token embeddings are looked up and averaged, so it runs at tens of thousands of rows per second on
    one core; the quality cost is measured in benchmarks/README.md.
    """

    def __init__(self, cache_dir: Path, path: Path | None = None) -> None:
        self.path = path or static_model_dir(cache_dir)
        if not (self.path / "model.safetensors").exists():
            build_static_model(self.path)
        self.identity = f"static:{_dir_identity(self.path)}"
        quiet_model_loading(offline=True)
        from model2vec import StaticModel

        self._model = StaticModel.from_pretrained(str(self.path))
        self.dim = int(self._model.dim)

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        out = self._model.encode(list(texts), batch_size=max(batch_size, 1024), show_progress_bar=False)
        return l2_normalise(out)


def build_static_model(target: Path, pca_dims: int = 256) -> None:
    """Distil the static model from the bundled MiniLM into `target` (once: 20 s on a quiet machine, a few
    minutes on 2 busy cores)."""
    notice(f"building the static embedding model once (a few minutes) into {target}")
    quiet_model_loading(offline=True)
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise MissingDependencyError(
            f"--model static needs model2vec with its distill extra: pip install 'model2vec[distill]' ({exc})"
        ) from None
    model = distill(model_name=str(bundled_model_path()), pca_dims=pca_dims)
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(tmp))
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished first: use theirs
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


class HashingEmbedder:
    """A model-free embedder: signed hashes of word-bounded character 3-grams, log term weights.

    Deterministic across processes and machines. Near-identical texts land close together, unrelated
    texts far apart; there is no notion of meaning (paraphrases are not close). Used by tests and by
    `--model hash` when no transformer may run.
    """

    def __init__(self, dim: int = 256) -> None:
        if dim < 8:
            raise ConfigError("hash model needs at least 8 dimensions (e.g. --model hash:256)")
        self.dim = dim
        self.identity = f"hash:{dim}:v1"

    def encode(self, texts: Sequence[str], batch_size: int = 0) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            padded = " " + " ".join(text.lower().split()) + " "
            counts: dict[int, int] = {}
            for j in range(len(padded) - 2):
                h = zlib.crc32(padded[j : j + 3].encode("utf-8"))
                counts[h] = counts.get(h, 0) + 1
            for h, c in counts.items():
                out[i, h % self.dim] += (1.0 if (h >> 16) & 1 else -1.0) * (1.0 + np.log(c))
        return l2_normalise(out)


AVAILABLE_MODELS = (
    "default (bundled all-MiniLM-L6-v2; also 'minilm')",
    "minilm-onnx / minilm-onnx-int8 (the bundled MiniLM on ONNX Runtime, exported once)",
    "static (distilled once from the bundled MiniLM)",
    "hash or hash:DIM (no model)",
    "a local sentence-transformers folder",
    "a model already in the Hugging Face cache (HF_HOME)",
)


def hub_cache_has(name: str) -> bool:
    """True when a hub model `org/name` was downloaded before (a snapshot in the Hugging Face cache)."""
    home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    hub = Path(os.environ.get("HF_HUB_CACHE") or home / "hub")
    candidates = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    for cand in candidates:
        snapshots = hub / f"models--{cand.replace('/', '--')}" / "snapshots"
        if snapshots.is_dir() and any(snapshots.iterdir()):
            return True
    return False


def check_model_name(model: str) -> None:
    """Fail at once, listing what is available, for a model name that is neither bundled, a folder nor cached
    (qdc never waits on a model hub)."""
    known = model in DEFAULT_MODEL_ALIASES or model in ONNX_MODELS
    known = known or model == STATIC_MODEL or model.startswith("static:")
    known = known or model == HASH_PREFIX or model.startswith(HASH_PREFIX + ":")
    if known or Path(model).is_dir() or hub_cache_has(model):
        return
    raise ConfigError(
        f"--model {model!r}: no such model here (qdc does not download models). Available: "
        + "; ".join(AVAILABLE_MODELS)
    )


def load_embedder(model: str, device: str, cache_dir: Path) -> Embedder:
    """The embedder for a `--model` value: default, static, hash[:DIM], or a sentence-transformers name/path."""
    check_model_name(model)
    if model in ONNX_MODELS:
        from qdc.embed.onnx import OnnxEmbedder

        return OnnxEmbedder(cache_dir, int8=ONNX_MODELS[model])
    if model == STATIC_MODEL:
        return StaticEmbedder(cache_dir)
    if model == HASH_PREFIX or model.startswith(HASH_PREFIX + ":"):
        _, _, dim = model.partition(":")
        try:
            return HashingEmbedder(int(dim) if dim else 256)
        except ValueError:
            raise ConfigError(f"--model {model!r}: expected hash or hash:DIM") from None
    if model.startswith("static:"):
        return StaticEmbedder(cache_dir, Path(model.split(":", 1)[1]))
    return SentenceTransformerEmbedder(model, device)
