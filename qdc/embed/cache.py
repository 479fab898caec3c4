"""A content-addressed embedding cache: (model identity, xxh3-128 of the text) -> float32 vector.

SQLite in WAL mode, so concurrent qdc processes can share it. A re-run, or a run on overlapping data,
embeds only the texts it has not seen with that model.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xxhash

_CHUNK = 900  # SQLite's default limit on host parameters is 999


def default_cache_dir() -> Path:
    """$QDC_CACHE_DIR, else ~/.cache/qdc."""
    env = os.environ.get("QDC_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qdc"


def text_key(text: str) -> bytes:
    return xxhash.xxh3_128_digest(text.encode("utf-8"))


class EmbeddingCache:
    """Get and put vectors by text for one model."""

    def __init__(self, cache_dir: Path, identity: str) -> None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.identity = identity
        self.db = sqlite3.connect(cache_dir / "embeddings.sqlite", timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS emb (model TEXT NOT NULL, key BLOB NOT NULL, dim INTEGER NOT NULL, "
            "vec BLOB NOT NULL, PRIMARY KEY (model, key)) WITHOUT ROWID"
        )

    def get(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT key, dim, vec FROM emb WHERE model = ? AND key IN ({marks})", [self.identity, *chunk]
            )
            for key, dim, vec in rows:
                arr = np.frombuffer(vec, dtype=np.float32)
                if arr.shape[0] == dim:
                    found[key] = arr
        return found

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO emb (model, key, dim, vec) VALUES (?, ?, ?, ?)",
                [(self.identity, k, vectors.shape[1], vectors[i].tobytes()) for i, k in enumerate(keys)],
            )

    def close(self) -> None:
        self.db.close()
