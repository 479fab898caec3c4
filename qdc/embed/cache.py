"""A content-addressed embedding cache: (model identity, xxh3-128 of the text) -> float32 vector.

SQLite in WAL mode, so concurrent qdc processes can share it. A re-run, or a run on overlapping data,
embeds only the texts it has not seen with that model.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from contextlib import suppress
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
    """Get and put vectors by text for one model.

    A cache that cannot be used (a read-only or full disk, a damaged file, a folder that cannot be made) is
    not an error: qdc says so once and carries on without it, since vectors can always be computed again.
    """

    def __init__(self, cache_dir: Path, identity: str) -> None:
        self.identity = identity
        self.path = cache_dir / "embeddings.sqlite"
        self.db: sqlite3.Connection | None = None
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=60)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS emb (model TEXT NOT NULL, key BLOB NOT NULL, dim INTEGER NOT NULL, "
                "vec BLOB NOT NULL, PRIMARY KEY (model, key)) WITHOUT ROWID"
            )
        except (OSError, sqlite3.Error) as exc:
            self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        from qdc.progress import notice

        if self.db is not None:
            with suppress(sqlite3.Error):
                self.db.close()
        self.db = None
        notice(f"embedding cache {self.path} cannot be used ({exc}); carrying on without it")

    def get(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        try:
            for start in range(0, len(unique), _CHUNK):
                if self.db is None:
                    break
                chunk = unique[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self.db.execute(
                    f"SELECT key, dim, vec FROM emb WHERE model = ? AND key IN ({marks})", [self.identity, *chunk]
                )
                for key, dim, vec in rows:
                    arr = np.frombuffer(vec, dtype=np.float32)
                    if arr.shape[0] == dim:
                        found[key] = arr
        except sqlite3.Error as exc:
            self._give_up(exc)
            return {}
        return found

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        if self.db is None:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        try:
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO emb (model, key, dim, vec) VALUES (?, ?, ?, ?)",
                    [(self.identity, k, vectors.shape[1], vectors[i].tobytes()) for i, k in enumerate(keys)],
                )
        except sqlite3.Error as exc:  # read-only, full, locked for a minute: the vectors are still good
            self._give_up(exc)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
