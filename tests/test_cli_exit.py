"""The console entry point ends with `os._exit` once the command is done, when nothing is left for Python's
shutdown to do (`qdc.cli._exit_fast`); output, exit codes and other exit handlers must not notice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qdc.cli import app
from tests.conftest import read_jsonl, write_jsonl

# Runs `qdc.cli.main` with os._exit reporting itself on stderr ("FAST <code>") before it ends the process.
_PROBE = (
    "import os, sys\n"
    "real = os._exit\n"
    "def spy(code):\n"
    "    sys.stderr.write(f'FAST {code}\\n'); sys.stderr.flush(); real(code)\n"
    "os._exit = spy\n"
    "{extra}\n"
    "from qdc.cli import main\n"
    "sys.argv = ['qdc', *sys.argv[1:]]\n"
    "main()\n"
)


def _qdc(args: list[str], tmp_path: Path, extra: str = "") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "QDC_CACHE_DIR": str(tmp_path / "cache")}
    code = _PROBE.replace("{extra}", extra)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, env=env, cwd=tmp_path)


def _rows(tmp_path: Path) -> Path:
    rows = [{"id": str(i), "instruction": f"Say {i % 7}.", "output": f"Number {i % 7} is here."} for i in range(40)]
    return write_jsonl(tmp_path / "in.jsonl", rows)


def test_a_finished_command_exits_fast_with_all_its_rows_on_stdout(tmp_path: Path) -> None:
    src = _rows(tmp_path)
    args = ["dedup", str(src), "--method", "exact"]
    done = _qdc(args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert b"FAST 0" in done.stderr
    # The same bytes as the command run in-process (no fast exit there): nothing was lost in a buffer.
    inproc = CliRunner().invoke(app, ["-q", *args])
    assert inproc.exit_code == 0
    assert done.stdout == inproc.stdout_bytes
    assert len(read_jsonl(done.stdout)) == 7


def test_a_written_file_and_an_error_code_survive_the_fast_exit(tmp_path: Path) -> None:
    src = _rows(tmp_path)
    out = tmp_path / "out.jsonl"
    done = _qdc(["-q", "dedup", str(src), "-o", str(out), "--method", "exact"], tmp_path)
    assert done.returncode == 0 and b"FAST 0" in done.stderr
    assert len(read_jsonl(out.read_bytes())) == 7
    bad = _qdc(["dedup", str(src), "--json"], tmp_path)  # --json with rows on stdout: a usage error
    assert bad.returncode == 2 and b"FAST 2" in bad.stderr
    assert b"--json prints a summary on stdout" in bad.stderr
    assert bad.stdout == b""


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ("import atexit\natexit.register(lambda: sys.stderr.write('handler ran\\n'))", b"handler ran"),
        (  # a thread still at work (here: until the main thread ends) is waited for, as Python's exit does
            "import threading\n"
            "def late():\n    threading.main_thread().join(); sys.stderr.write('thread done\\n')\n"
            "threading.Thread(target=late).start()",
            b"thread done",
        ),
    ],
    ids=["atexit", "thread"],
)
def test_another_exit_handler_or_a_running_thread_gets_the_normal_exit(tmp_path: Path, extra: str, said: bytes) -> None:
    src = _rows(tmp_path)
    done = _qdc(["-q", "dedup", str(src), "--method", "exact"], tmp_path, extra)
    assert done.returncode == 0
    assert said in done.stderr and b"FAST" not in done.stderr


def test_a_thread_pool_is_finished_and_joined_then_the_fast_exit(tmp_path: Path) -> None:
    """An executor's worker (qdc's JSONL reader keeps one idle) is joined as Python's exit joins it: its pending
    task still runs to the end, and the exit is then the fast one."""
    src = _rows(tmp_path)
    extra = (
        "import time\nfrom concurrent.futures import ThreadPoolExecutor\n"
        "pool = ThreadPoolExecutor(1)\n"
        "pool.submit(lambda: (time.sleep(2.0), sys.stderr.write('task done\\n')))"
    )
    done = _qdc(["-q", "dedup", str(src), "--method", "exact"], tmp_path, extra)
    assert done.returncode == 0
    assert b"task done" in done.stderr and b"FAST 0" in done.stderr
    assert done.stderr.index(b"task done") < done.stderr.index(b"FAST 0")
