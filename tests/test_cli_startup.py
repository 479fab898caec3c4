"""What start-up leaves out must still work when it is needed: the progress bar (rich.progress is imported only
when a terminal shows one)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from qdc.cli import _common
from qdc.config import parse_yaml


def test_a_terminal_still_gets_its_progress_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(_common, "console", Console(file=out, force_terminal=True, width=100))
    reporter = _common.RichReporter(quiet=False)
    assert not reporter.plain
    bar = reporter._bar()
    bar.add_task("embedding", total=10, completed=4)
    bar.stop()
    assert "embedding" in out.getvalue() and "4/10" in out.getvalue()


def test_the_root_help_does_not_load_the_progress_bar() -> None:
    code = (
        "import sys\nfrom qdc.cli import app\n"
        "try:\n    app(['--help'], prog_name='qdc')\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(repr([m for m in ('rich.progress', 'polars', 'numpy') if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Curate synthetic instruction data" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("flags", [["--json"], ["-q"], []])
def test_a_summary_table_is_built_only_when_shown(tmp_path: Path, flags: list[str]) -> None:
    """`table()` defers rich.table until the table is printed: --json and -q never print it."""
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "one row of text"}\n{"id": "b", "text": "another row"}\n')
    args = ["diversity", str(src), "--model", "hash:8", *flags]  # -q after the command: hoisted
    code = (
        f"import sys\nfrom qdc.cli import app\ntry:\n    app({args!r}, prog_name='qdc')\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('\\nTABLE ' + repr('rich.table' in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    shown = not flags
    assert out.stderr.strip().splitlines()[-1] == f"TABLE {shown}"
    assert ("Vendi q=0.5" in out.stderr) is shown


_WORDS = st.sampled_from(["yes", "No", "ON", "off", "true", "FALSE", "null", "~", "y", "n", "inf", ".nan", "<<", "="])
_NUMBERS = st.from_regex(r"\A[-+]?[0-9_]{0,4}(\.[0-9_]{0,3})?([eE][-+]?[0-9]{1,2})?\Z")
_NAMES = st.from_regex(r"\A[A-Za-z0-9_.,:\- ]{1,8}\Z")


@settings(max_examples=400, deadline=None)
@given(st.one_of(_WORDS, _NUMBERS, _NAMES, st.text(max_size=6)))
def test_plain_set_values_read_as_yaml_reads_them(raw: str) -> None:
    """A --set value read without yaml (a number or a word) is exactly what YAML makes of it (type too)."""
    from qdc.config import _NOT_PLAIN, _plain_scalar, parse_override

    got = _plain_scalar(raw)
    if got is _NOT_PLAIN:
        return
    want = parse_yaml(raw, "--set k")
    assert type(got) is type(want) and got == want
    assert parse_override(f"k={raw}") == (["k"], want)


def test_a_plain_set_value_does_not_import_yaml(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "one row of text here"}\n{"id": "b", "text": "one row of text here"}\n')
    code = (
        "import sys\nfrom qdc.cli import app\n"
        f"try:\n    app(['-q', 'dedup', {str(src)!r}, '--method', 'minhash', '--set', 'ngram=2', '--set',"
        " 'threshold=0.5', '--set', 'keep=first', '-o', '-'], prog_name='qdc')\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('\\nYAML ' + repr('yaml' in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip().splitlines()[-1] == "YAML False"
    assert out.stdout.count("\n") == 1  # the two rows are one: the values were read


def test_the_entry_point_pauses_the_gc_for_start_up_only(tmp_path: Path) -> None:
    """`qdc` (main) runs start-up with the cyclic GC off and the command with it on, start-up's objects
    frozen; the app called directly (CliRunner, tests) leaves the GC alone."""
    src = tmp_path / "in.jsonl"
    src.write_text('{"instruction": "say hi", "output": "hi"}\n')
    code = f"""
import atexit, gc, sys
import qdc.cli._options as options
import qdc.complexity as complexity
seen = []
check, score = options.check_paths, complexity.score_complexity
def check_spy(*args):
    seen.append(("start-up", gc.isenabled()))
    return check(*args)
def score_spy(*args, **kw):
    seen.append(("command", gc.isenabled(), gc.get_freeze_count() > 0))
    return score(*args, **kw)
options.check_paths, complexity.score_complexity = check_spy, score_spy
atexit.register(lambda: sys.stderr.write("SEEN " + repr(seen) + "\\n"))  # also keeps the normal exit
from qdc.cli import main
sys.argv = ["qdc", "score-complexity", {str(src)!r}, "-o", {str(tmp_path / "o.jsonl")!r}, "-q"]
main()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines()[-1] == "SEEN [('start-up', False), ('command', True, True)]"
