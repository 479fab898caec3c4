"""What a stage config says about its keys: each field's docstring (the string under it) and default.

One reading of the source serves both ways in: `field_docs` on an imported class (`qdc stages --keys`, the
`--set` hint of a flag that became a key), and `static_field_help`, which reads a config module's file without
importing it, so a command's `--help` stays instant (importing CheckConfig loaded qdc.measure -> quality,
complexity, numpy: ~0.4 s). The source answers for a field written `name: type = <literal>` (or
`Field(default=<literal>)` / `Field(default_factory=list)`) in a class directly under `StageConfig`, and for a
key in a section written `judge: JudgeConfig = JudgeConfig(rubric="complexity6")`; anything else (a default
that is a name or another call) returns None and `field_help` imports the class. tests/test_cli_help.py
checks that every source answer equals the imported one.
"""

from __future__ import annotations

import ast
import functools
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qdc.config import StageConfig

_FACTORIES: dict[str, Any] = {"list": list, "dict": dict, "tuple": tuple, "set": set}
_NOT_READ = object()


def _documented(body: list[ast.stmt]) -> Iterator[tuple[str, ast.expr | None, str | None]]:
    """(name, default expression, docstring or None) of each annotated field of a class body."""
    for stmt, nxt in zip(body, [*body[1:], None], strict=True):
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            doc = nxt.value.value if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) else None
            yield stmt.target.id, stmt.value, " ".join(doc.split()) if isinstance(doc, str) else None


@functools.cache
def field_docs(model: type) -> dict[str, str]:
    """The attribute docstrings of a config class and its bases (the string under each field)."""
    import inspect
    import textwrap

    docs: dict[str, str] = {}
    for klass in reversed([k for k in model.__mro__ if k.__module__.startswith("qdc")]):
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body  # type: ignore[attr-defined]
        docs.update((name, doc) for name, _, doc in _documented(body) if doc is not None)
    return docs


def config_class(spec: str) -> type[StageConfig]:
    """The config class of a 'module:Class' spec (imported now)."""
    module, _, cls_name = spec.partition(":")
    cls: type[StageConfig] = getattr(importlib.import_module(module), cls_name)
    return cls


def field_help(spec: str, key: str) -> tuple[str, Any]:
    """(docstring, default) of the config field at the dotted `key`, from the imported class."""
    model: Any = config_class(spec)
    *outer, last = key.split(".")
    node = None  # the default of the section walked into (ComplexityConfig.judge's rubric is complexity6)
    for part in outer:
        node = getattr(node, part) if node is not None else model.model_fields[part].get_default()
        model = type(node)
    default = (
        getattr(node, last) if node is not None else model.model_fields[last].get_default(call_default_factory=True)
    )
    return field_docs(model).get(last, ""), default


def option_help(spec: str, key: str) -> tuple[str, Any]:
    """(docstring, default) of a key: from the source when it says, else from the imported class."""
    found = static_field_help(spec, key)
    return found if found is not None else field_help(spec, key)


def config_keys(model: Any, node: Any = None, prefix: str = "") -> list[dict[str, Any]]:
    """Every key a config takes (sections flattened: bandit.alpha), with its default and its docstring: what
    `--config`, `--set` and a pipeline file may set (`qdc stages --keys`)."""
    from pydantic import BaseModel

    out, docs = [], field_docs(model)
    for name, f in model.model_fields.items():
        value = getattr(node, name) if node is not None else f.get_default(call_default_factory=True)
        if isinstance(value, BaseModel):
            out += config_keys(type(value), value, f"{prefix}{name}.")
        else:
            out.append({"key": prefix + name, "default": value, "help": docs.get(name, "")})
    return out


def set_items(keys: list[str], flag: str) -> list[str]:
    """The `--set` items among dotted `keys` that a flag names, in `keys` order (`--alpha` ->
    'bandit.alpha=VALUE', `--no-verify` -> 'verify=false', `--method` -> 'methods=VALUE'); [] when none."""
    name = flag.lstrip("-").replace("-", "_")
    for want, value in ((name, "VALUE"), (name.removeprefix("no_"), "false")):
        hits = [k for k in keys if k.rsplit(".", 1)[-1] in (want, want + "s")]  # --method: methods
        if hits:
            return [f"{k}={value}" for k in hits]
    return []


def as_set_item(spec: str, flag: str) -> str | None:
    """The `--set` item of a flag that is a config key, not an option; None when no key has its name. The
    first key in field order wins."""
    items = set_items([k["key"] for k in config_keys(config_class(spec))], flag)
    return items[0] if items else None


# ------------------------------------------------------------------------ from the source, not imported


@functools.cache
def _tree(module: str) -> ast.Module | None:
    """The parsed source of a qdc module, found by its path (importing nothing: not even its package)."""
    root, *parts = module.split(".")
    if root != "qdc":
        return None
    base = Path(__file__).resolve().parents[1].joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return ast.parse(path.read_text(encoding="utf-8"))
    return None


def _imported_from(tree: ast.Module, module: str, name: str) -> tuple[str, str] | None:
    """(module, name) that `name` is imported from (`from X import Y as name`, anywhere in the module)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module != module:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return node.module, alias.name
    return None


def _class_node(module: str, name: str, depth: int = 0) -> tuple[str, ast.ClassDef] | None:
    """The module defining `module.name` and its class statement, following `from X import name` (a package
    that re-exports it)."""
    tree = _tree(module)
    if tree is None or depth > 3:
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return module, node
    found = _imported_from(tree, module, name)
    return None if found is None else _class_node(*found, depth + 1)


def _constant(module: str, name: str, depth: int = 0) -> Any:
    """The literal value of the module-level constant `module.name` (`NAME = <literal>`, or imported by
    `from X import NAME`), or `_NOT_READ`."""
    tree = _tree(module)
    if tree is None or depth > 3:
        return _NOT_READ
    values = []
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        target = node.target if isinstance(node, ast.AnnAssign) else target
        if isinstance(target, ast.Name) and target.id == name:
            values.append(node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None)
    if values:  # a name assigned twice is not a constant
        return _literal(module, values[0], depth + 1) if len(values) == 1 else _NOT_READ
    found = _imported_from(tree, module, name)
    return _NOT_READ if found is None else _constant(*found, depth + 1)


def _literal(module: str, value: ast.expr | None, depth: int = 0) -> Any:
    """The value of a literal, a module constant or a constant's item (`TOP["seed"]`), else `_NOT_READ`."""
    if value is None:
        return _NOT_READ
    if isinstance(value, ast.Name):
        return _constant(module, value.id, depth)
    if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
        outer = _constant(module, value.value.id, depth)
        key = _literal(module, value.slice, depth)
        try:
            return _NOT_READ if outer is _NOT_READ or key is _NOT_READ else outer[key]
        except (KeyError, IndexError, TypeError):
            return _NOT_READ
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError):
        return _NOT_READ


def _default(module: str, value: ast.expr | None) -> Any:
    """The default an annotated field assignment gives, or `_NOT_READ` when it is not read from the source."""
    if value is None:
        return _NOT_READ  # a required field
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "Field":
        if value.args:
            return _literal(module, value.args[0])
        for kw in value.keywords:
            if kw.arg == "default":
                return _literal(module, kw.value)
            if kw.arg == "default_factory" and isinstance(kw.value, ast.Name) and kw.value.id in _FACTORIES:
                return _FACTORIES[kw.value.id]()
        return _NOT_READ
    return _literal(module, value)


@functools.cache
def _fields(spec: str) -> dict[str, tuple[str, Any]] | None:
    """Field name -> (docstring, default) of the class at 'module:Class', for the fields whose default is a
    literal; None when the class is not a direct `StageConfig` subclass found in the source."""
    found = _class_node(*spec.partition(":")[::2])
    if found is None:
        return None
    home, node = found
    if [ast.unparse(b) for b in node.bases] != ["StageConfig"] or node.keywords:
        return None
    out: dict[str, tuple[str, Any]] = {}
    for name, value, doc in _documented(node.body):
        default = _default(home, value)
        if default is not _NOT_READ:  # no docstring: "" (as `field_docs` says)
            out[name] = (doc or "", default)
    return out


@functools.cache
def _section(spec: str, name: str) -> tuple[str, dict[str, Any]] | None:
    """The section field `name` of the class at `spec`, written `name: Cls = Cls(key=<literal>, ...)`: (the spec
    of Cls, the keys its default sets); None when it is written otherwise."""
    found = _class_node(*spec.partition(":")[::2])
    if found is None:
        return None
    home, node = found
    for field, value, _ in _documented(node.body):
        if field == name and isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and not value.args:
            sets = {kw.arg: _literal(home, kw.value) for kw in value.keywords if kw.arg is not None}
            if len(sets) == len(value.keywords) and not any(v is _NOT_READ for v in sets.values()):
                return f"{home}:{value.func.id}", sets
    return None


def static_field_help(spec: str, key: str) -> tuple[str, Any] | None:
    """(docstring, default) of the field at the dotted `key` of the config at `spec`, read from source (a key in
    a section: the section's class, with what the section's default sets); None: import it."""
    *outer, last = key.split(".")
    sets: dict[str, Any] = {}
    try:
        for part in outer:
            found = _section(spec, part)
            if found is None:
                return None
            spec, sets = found
        fields = _fields(spec)
    except (OSError, SyntaxError, ValueError):
        return None
    if fields is None or last not in fields:
        return None
    doc, default = fields[last]
    return doc, sets.get(last, default)


FILE_KEYS = ("judge.rubric", "lm.model")
"""Config keys that name an input file (whichever layer set them: --config, --set, a pipeline file)."""


def config_files(cfg: Any) -> dict[str, str]:
    """{key: path} of the FILE_KEYS the built config `cfg` sets (an output must not overwrite them)."""
    files = {}
    for key in FILE_KEYS:
        value = cfg
        for part in key.split("."):
            value = getattr(value, part, None)
        if isinstance(value, str) and value:
            files[key] = value
    return files
