"""Output files: atomic replacement, temporaries of killed runs, unwritable places, and output aliasing."""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from qdc.errors import ConfigError, DataError
from qdc.io.formats import STDIO

PathGroup = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


def _same_file(a: str, b: str) -> bool:
    """True when two names reach one file: equal after resolving links and '..', or one inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def _flat(group: PathGroup) -> list[str]:
    if group is None:
        return []
    if isinstance(group, (str, os.PathLike)):
        return [str(group)]
    return [str(p) for p in group]


def check_distinct_paths(inputs: dict[str, PathGroup], outputs: dict[str, PathGroup]) -> None:
    """Refuse (ConfigError, exit 2) an output that is one of the inputs or another output.

    Keys are the names shown to the user ('-o', '--removed', 'the input'); '-' (stdin/stdout) never clashes.
    Writing over an input loses the rows nobody selected; two outputs on one file keep only the last.
    """
    seen: list[tuple[str, str]] = [(name, p) for name, g in inputs.items() for p in _flat(g) if p != STDIO]
    n_inputs = len(seen)
    for name, group in outputs.items():
        for path in _flat(group):
            if path == STDIO:
                continue
            for k, (other, prev) in enumerate(seen):
                if _same_file(path, prev):
                    what = "the same file as" if k < n_inputs else "also the path of"
                    kind = "input" if k < n_inputs else "output"
                    raise ConfigError(
                        f"{name} {path}: is {what} {other} {prev}; writing it would lose that {kind}. "
                        "Write to another path"
                    )
            seen.append((name, path))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


TMP_SUFFIX = ".qdc-tmp"


# Errors of writing that are about the place, not about qdc: said with the user's path, not the temporary's.
_WRITE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists (ours, or another user's)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def sweep_stale(folder: Path, pattern: str, pid_at: int) -> int:
    """Delete the entries of `folder` matching `pattern` whose pid (field `pid_at` of the name split on '.'
    or '-') belongs to no running process: temporaries left by a killed qdc. Returns how many were removed."""
    removed = 0
    for entry in folder.glob(pattern):
        fields = re.split(r"[.-]", entry.name)
        try:
            pid = int(fields[pid_at])
        except (IndexError, ValueError):
            continue
        if pid_alive(pid):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                import shutil

                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
        except OSError:
            continue  # not ours to remove (permissions): leave it
    return removed


def write_error(path: str | os.PathLike[str], exc: OSError) -> DataError:
    """A DataError for a failed write that names the user's path and the reason ('No space left on device')."""
    return DataError(f"{path}: cannot write it ({exc.strerror or exc})")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it into place only if the block succeeds.

    The temporary is named `.NAME.PID.XXXXXX.qdc-tmp`; those of dead processes (a kill -9) are swept here,
    the next time the same target is written. A read-only folder or a full disk is a DataError naming `path`.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.exists():
        raise DataError(f"{path}: folder {folder} does not exist")
    sweep_stale(folder, f".{glob_escape(target.name)}.*{TMP_SUFFIX}", -4)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise write_error(path, exc) from None
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates the file private (0600); give it the mode a plain open() would have.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.errno in _WRITE_ERRNOS or isinstance(exc, IsADirectoryError):
            raise write_error(path, exc) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def glob_escape(name: str) -> str:
    """A file name with glob metacharacters taken literally."""
    import glob

    return glob.escape(name)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
