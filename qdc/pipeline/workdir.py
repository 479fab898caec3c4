"""The work directory of `qdc run`: one artifact per finished stage, keyed by what produced it.

A stage's key is a hash chain: ``key_0`` hashes the qdc version, the input's content hash, the io section,
the seed and the embedding settings; ``key_i = H(key_{i-1}, stage name, stage config)``. Changing the input
or any config up to stage i changes key_i and every later key, so those stages run again; stages before the
change keep their keys and are reused.

Layout (all writes atomic: a temporary file renamed into place)::

    WORKDIR/stages/<key>.parquet          rows after the stage (hidden columns included)
    WORKDIR/stages/<key>.removed.parquet  rows the stage removed, with reason columns (if any)
    WORKDIR/stages/<key>.json             the stage record; written last, so it marks the stage done
    WORKDIR/lock                          the pid of the run using the folder

A run killed mid-stage leaves at most a stray temporary file (ignored and cleaned); the next run finds the
longest chain of finished stages and resumes after it. The record holds each artifact's row count and
content hash: a stage whose files are missing, truncated or swapped is not "finished" and runs again.
Two runs never share a folder: the second finds the first one's live pid in the lock and refuses (exit 2);
a lock left by a dead process is taken over.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import xxhash

from qdc.errors import ConfigError, DataError
from qdc.io import atomic_path, pid_alive
from qdc.progress import notice

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


class WorkDir:
    """Stage artifacts under `root/stages`, addressed by chain key; held with a pid lock until `close()`."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.stages = self.root / "stages"
        self.lock = self.root / "lock"
        self._locked = False
        try:
            self.stages.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"work directory {self.root}: cannot create it ({exc})") from None
        self._acquire()
        for stray in self.stages.glob(f".*{_TMP_SUFFIX}"):
            stray.unlink(missing_ok=True)  # left by a killed run (the lock says no live run owns them)

    def _acquire(self) -> None:
        """Create the lock file holding our pid; refuse when a live process holds it, take over a dead one's."""
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self.lock.read_text(encoding="ascii").strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid_alive(pid):
                    raise ConfigError(
                        f"work directory {self.root} is in use by another qdc run (pid {pid}); "
                        "wait for it, or pass --workdir DIR"
                    ) from None
                notice(f"work directory {self.root}: taking over the lock of a run that ended (pid {pid})")
                self.lock.unlink(missing_ok=True)
                continue
            except OSError as exc:
                raise DataError(f"work directory {self.root}: cannot lock it ({exc})") from None
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(f"{os.getpid()}\n")
            self._locked = True
            return
        raise ConfigError(f"work directory {self.root}: another run took the lock first; try again")

    def close(self) -> None:
        """Release the lock (only ours: a lock another process took over is left alone)."""
        if not self._locked:
            return
        self._locked = False
        try:
            if int(self.lock.read_text(encoding="ascii").strip() or 0) == os.getpid():
                self.lock.unlink()
        except (OSError, ValueError):
            pass

    def __enter__(self) -> WorkDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _path(self, key: str, suffix: str) -> Path:
        return self.stages / f"{key}{suffix}"

    def has(self, key: str) -> bool:
        """True when the stage finished and its files are the ones it wrote (row counts and hashes match).

        A record without artifact hashes (an older qdc), a missing or truncated file, or another stage's
        file in its place: not finished, with a notice, so the stage runs again.
        """
        if not self._path(key, ".json").is_file():
            return False
        problem = self._check(key)
        if problem:
            notice(f"work directory {self.root}: stage artifact {problem}; running the stage again")
            return False
        return True

    def _check(self, key: str) -> str | None:
        """What is wrong with the stage's files, or None when they match the record."""
        try:
            arts = self.record(key).get("artifacts")
        except (OSError, ValueError):
            return f"{key}.json unreadable"
        if not isinstance(arts, dict):
            return f"{key}.json lists no artifact hashes"
        for suffix in (".parquet", ".removed.parquet"):
            want = arts.get(suffix)
            path = self._path(key, suffix)
            if want is None:
                if path.is_file():
                    return f"{path.name} is not in the stage record"
                continue
            if not path.is_file():
                return f"{path.name} is missing"
            if hash_bytes_of_file(path) != want.get("hash"):
                return f"{path.name} does not match its recorded hash (changed or truncated)"
        return None

    def record(self, key: str) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self._path(key, ".json").read_bytes())
        return data

    def frame(self, key: str) -> pl.DataFrame:
        return pl.read_parquet(self._path(key, ".parquet"))

    def removed(self, key: str) -> pl.DataFrame | None:
        p = self._path(key, ".removed.parquet")
        return pl.read_parquet(p) if p.is_file() else None

    def save(self, key: str, df: pl.DataFrame, removed: pl.DataFrame | None, record: dict[str, Any]) -> None:
        """Store a finished stage: rows, removed rows, then the record (the done marker, with each file's row
        count and hash) last."""
        self._path(key, ".json").unlink(missing_ok=True)  # not done until the new record lands
        arts: dict[str, dict[str, Any] | None] = {}
        for suffix, frame in ((".parquet", df), (".removed.parquet", removed)):
            path = self._path(key, suffix)
            if frame is None or (suffix != ".parquet" and frame.height == 0):
                path.unlink(missing_ok=True)
                arts[suffix] = None
                continue
            with atomic_path(path) as tmp:
                frame.write_parquet(tmp)
                digest = hash_bytes_of_file(tmp)
            arts[suffix] = {"rows": frame.height, "hash": digest}
        with atomic_path(self._path(key, ".json")) as tmp:
            opt = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
            tmp.write_bytes(orjson.dumps({**record, "artifacts": arts}, option=opt, default=str))


def clean_workdir(root: str | os.PathLike[str]) -> tuple[int, int]:
    """Delete a work directory of `qdc run`: (files removed, bytes freed).

    Only a folder that looks like one (a `stages` folder, an optional `lock`, nothing else) is removed, so a
    mistyped path never deletes someone's data. ConfigError when the folder is something else or a live run
    holds its lock; (0, 0) when it does not exist.
    """
    import shutil

    folder = Path(root)
    if not folder.exists():
        return 0, 0
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder")
    entries = {p.name for p in folder.iterdir()}
    stages = folder / "stages"
    if "stages" not in entries or not stages.is_dir() or entries - {"stages", "lock"}:
        other = ", ".join(sorted(entries - {"stages", "lock"})[:5]) or "no stages folder"
        raise ConfigError(f"{folder}: not a qdc work directory ({other}); nothing removed")
    lock = folder / "lock"
    if lock.is_file():
        try:
            pid = int(lock.read_text(encoding="ascii").strip() or 0)
        except (OSError, ValueError):
            pid = 0
        if pid_alive(pid) and pid != os.getpid():
            raise ConfigError(f"{folder}: in use by a qdc run (pid {pid}); nothing removed")
    files = [p for p in folder.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    shutil.rmtree(folder)
    return len(files), size
