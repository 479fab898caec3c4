"""A command's --help reads its config fields' docs and defaults from source (`qdc.pipeline.fields`) without importing
the config's module; every answer it gives must equal the imported class's (`qdc.pipeline.fields.field_help`)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
import typer

from qdc.cli import app
from qdc.pipeline.fields import field_help, static_field_help


def _keyed_options() -> list[tuple[str, str, str]]:
    """(command, config spec, key) of every option that sets a config key, subcommands included."""
    out: list[tuple[str, str, str]] = []

    def walk(cmd: Any) -> None:
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)
        options, spec = getattr(cmd.callback, "qdc_options", ((), None)) if cmd.callback else ((), None)
        out.extend((cmd.name, spec, o.key.split(",")[0]) for o in options if spec and o.key)

    walk(typer.main.get_command(app))
    return out


def test_the_source_reading_equals_the_imported_config() -> None:
    keyed = _keyed_options()
    read = 0
    for name, spec, key in keyed:
        found = static_field_help(spec, key)
        if found is not None:
            read += 1
            assert found == field_help(spec, key), (name, key)
            assert type(found[1]) is type(field_help(spec, key)[1]), (name, key)
    # Every key an option sets is read from source, sections' keys (judge.model, lm.batch_size) included.
    assert read == len(keyed) and any("." in k[2] for k in keyed) and read > 20


def test_what_the_source_does_not_say_is_left_to_the_import() -> None:
    assert static_field_help("qdc.quality:QualityConfig", "judge.no_such_key") is None
    assert static_field_help("qdc.quality:QualityConfig", "scorer.model") is None  # not a section
    # A section's default that sets a key: the section's value, not the class's (complexity6, not quality6).
    assert static_field_help("qdc.complexity:ComplexityConfig", "judge.rubric")[1] == "complexity6"  # type: ignore[index]
    assert static_field_help("qdc.quality:NoSuchConfig", "x") is None
    assert static_field_help("qdc.nosuchmodule:X", "x") is None
    assert static_field_help("qdc.select:SelectConfig", "no_such_key") is None


@pytest.mark.parametrize("command", ["check", "score-quality", "score-complexity"])
def test_a_command_help_does_not_import_the_library(command: str) -> None:
    """`qdc check --help` once imported qdc.measure (quality, complexity, numpy) to read CheckConfig; the score
    commands' --help imported qdc.quality for their judge.* / lm.* keys."""
    code = (
        "import sys\n"
        "from qdc.cli import app\n"
        f"try:\n    app(['{command}', '--help'], prog_name='qdc')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('qdc.check', 'qdc.measure', 'qdc.quality', 'qdc.complexity', 'numpy', 'polars')"
        " if m in sys.modules]\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    env = {**os.environ, "COLUMNS": "250"}  # one line per option
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    # The help did read the config's docs and defaults.
    said = {
        "check": ["Fraction of rows the dedup stage would remove.", "text is empty or whitespace. [default: 0.0]"],
        "score-quality": ["Judge model name.", "[default: http://127.0.0.1:8000/v1]"],
        "score-complexity": ["Judge model name.", "[default: http://127.0.0.1:8000/v1]"],
    }[command]
    assert all(s in out.stdout for s in said), out.stdout
    assert out.stderr.strip().splitlines()[-1] == "[]"
