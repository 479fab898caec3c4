"""The README stays true: its Python example runs, and it mentions every command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer.main

from qdc.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_python_api_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start = README.index("```python\n") + len("```python\n")
    code = README[start : README.index("```", start)]
    # Same code, with the model-free embedder (no torch in unit tests) and the output in tmp.
    code = code.replace('model="static"', 'model="hash:64"')
    code = code.replace('"subset.parquet"', repr(str(tmp_path / "s.parquet")))
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})  # our own README's example
    assert (tmp_path / "s.parquet").exists()


def test_readme_tour_mentions_every_command() -> None:
    from tests.test_cli_foundation import _leaf_commands

    paths = [" ".join(p) for p in _leaf_commands(typer.main.get_command(app))]
    missing = [p for p in paths if f"qdc {p}" not in README]
    assert missing == []


def test_readme_setup_commands_exist_in_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "make demo" in README and "make test" in README
    assert "\ndemo:" in makefile and "\ntest:" in makefile
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
    # CI runs `make check`: lint, format, types, then the README's `make test`.
    assert "\nmake check\n" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "\ncheck: lint test\n" in makefile
