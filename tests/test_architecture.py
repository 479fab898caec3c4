"""Layering rules: only qdc/cli imports typer and rich; the library never prints or exits."""

from __future__ import annotations

import ast
from pathlib import Path

QDC = Path(__file__).resolve().parent.parent / "qdc"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_cli_imports_typer_and_rich() -> None:
    offenders = [
        str(p.relative_to(QDC))
        for p in QDC.rglob("*.py")
        if "cli" not in p.relative_to(QDC).parts and _imports(p) & {"typer", "rich", "click"}
    ]
    assert offenders == []


def test_library_does_not_print_or_exit() -> None:
    offenders = []
    for p in QDC.rglob("*.py"):
        if "cli" in p.relative_to(QDC).parts or p.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                if (isinstance(f, ast.Name) and f.id in {"print", "exit", "input"}) or (
                    isinstance(f, ast.Attribute)
                    and f.attr == "exit"
                    and isinstance(f.value, ast.Name)
                    and f.value.id == "sys"
                ):
                    offenders.append(f"{p.relative_to(QDC)}:{node.lineno}")
    assert offenders == []
