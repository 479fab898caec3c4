"""The work directory of `qdc run`: one artifact per finished stage, keyed by what produced it.

A stage's key is a hash chain: ``key_0`` hashes the qdc version, the input's content hash, the io section,
the seed and the embedding settings; ``key_i = H(key_{i-1}, stage name, stage config)``. Changing the input
or any config up to stage i changes key_i and every later key, so those stages run again; stages before the
change keep their keys and are reused.

Layout (all writes atomic: a temporary file renamed into place)::

    WORKDIR/stages/<key>.parquet          rows after the stage (hidden columns included)
    WORKDIR/stages/<key>.removed.parquet  rows the stage removed, with reason columns (if any)
    WORKDIR/stages/<key>.json             the stage record; written last, so it marks the stage done

A run killed mid-stage leaves at most a stray temporary file (ignored and cleaned); the next run finds the
longest chain of finished stages and resumes after it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import xxhash

from qdc.errors import DataError

_TMP_SUFFIX = ".qdc-tmp"


def hash_bytes_of_file(path: Path, chunk: int = 1 << 22) -> str:
    """xxh3-128 of a file's bytes, streamed."""
    h = xxhash.xxh3_128()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def hash_lines(lines: Iterator[bytes]) -> str:
    """xxh3-128 of a sequence of lines (each terminated by a newline)."""
    h = xxhash.xxh3_128()
    for line in lines:
        h.update(line)
        h.update(b"\n")
    return h.hexdigest()


def hash_json(obj: Any) -> str:
    """xxh3-128 of an object's canonical JSON (keys sorted)."""
    return xxhash.xxh3_128_hexdigest(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS, default=str))


def chain_key(previous: str, name: str, config: dict[str, Any]) -> str:
    """The key of a stage: its predecessor's key, its name and its config."""
    return hash_json({"prev": previous, "stage": name, "config": config})


@contextmanager
def _atomic(target: Path) -> Iterator[Path]:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=_TMP_SUFFIX, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class WorkDir:
    """Stage artifacts under `root/stages`, addressed by chain key."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.stages = self.root / "stages"
        try:
            self.stages.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"work directory {self.root}: cannot create it ({exc})") from None
        for stray in self.stages.glob(f".*{_TMP_SUFFIX}"):
            stray.unlink(missing_ok=True)  # left by a killed run

    def _path(self, key: str, suffix: str) -> Path:
        return self.stages / f"{key}{suffix}"

    def has(self, key: str) -> bool:
        """True when the stage with this key finished (its record exists and its rows are there)."""
        return self._path(key, ".json").is_file() and self._path(key, ".parquet").is_file()

    def record(self, key: str) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self._path(key, ".json").read_bytes())
        return data

    def frame(self, key: str) -> pl.DataFrame:
        return pl.read_parquet(self._path(key, ".parquet"))

    def removed(self, key: str) -> pl.DataFrame | None:
        p = self._path(key, ".removed.parquet")
        return pl.read_parquet(p) if p.is_file() else None

    def save(self, key: str, df: pl.DataFrame, removed: pl.DataFrame | None, record: dict[str, Any]) -> None:
        """Store a finished stage: rows, removed rows, then the record (the done marker) last."""
        with _atomic(self._path(key, ".parquet")) as tmp:
            df.write_parquet(tmp)
        rpath = self._path(key, ".removed.parquet")
        if removed is not None and removed.height:
            with _atomic(rpath) as tmp:
                removed.write_parquet(tmp)
        else:
            rpath.unlink(missing_ok=True)
        with _atomic(self._path(key, ".json")) as tmp:
            opt = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
            tmp.write_bytes(orjson.dumps(record, option=opt, default=str))

    def forget(self, key: str) -> None:
        """Drop a stage's artifacts (used by --force)."""
        for suffix in (".json", ".parquet", ".removed.parquet"):
            self._path(key, suffix).unlink(missing_ok=True)
