"""Every CLI default equals its config default (issue 16: `--alpha` once drifted from `SelectConfig`).

A command option whose name is a field of the command's config (top level, or inside a nested section such
as `SelectConfig.bandit` or `ComplexityConfig.judge`) must default to the config's value, or to None,
which every command reads as "not given: the config decides". Required config fields are not compared.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer
from pydantic import BaseModel

from qdc.check import CheckConfig
from qdc.cli import app
from qdc.cluster import ClusterConfig
from qdc.complexity import ComplexityConfig
from qdc.dedup import DedupConfig
from qdc.diversity import DiversityConfig
from qdc.embed import EmbedConfig
from qdc.quality import QualityConfig
from qdc.select import SelectConfig

COMMANDS: dict[str, type[BaseModel]] = {
    "dedup": DedupConfig,
    "select": SelectConfig,
    "score-quality": QualityConfig,
    "score-complexity": ComplexityConfig,
    "cluster": ClusterConfig,
    "embed": EmbedConfig,
    "diversity": DiversityConfig,
    "check": CheckConfig,
}
# `qdc scale dedup|select` are aliases of `qdc dedup|select --stream`: their options are those commands'.


def _defaults(cls: type[BaseModel], default: BaseModel | None = None) -> dict[str, Any]:
    """Field name -> default, nested sections flattened (a top-level name wins over a nested one)."""
    out: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        if default is None and field.is_required():
            continue
        value = getattr(default, name) if default is not None else field.get_default(call_default_factory=True)
        if isinstance(value, BaseModel):
            for k, v in _defaults(type(value), value).items():
                nested.setdefault(k, v)
        else:
            out[name] = value
    return {**nested, **out}


def _normal(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return value


def _command(path: str) -> Any:
    cmd: Any = typer.main.get_command(app)
    for part in path.split():
        cmd = cmd.commands[part]  # a group (typer may vendor its own click, so no isinstance check)
    return cmd


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_cli_default_is_the_config_default(path: str) -> None:
    config = _defaults(COMMANDS[path])
    declared = _declared(path)
    keyed = {o.param for o in declared[0] if o.key is not None and not o.given_only} if declared else set()
    shared, drift = 0, []
    for param in _command(path).params:
        if param.name not in config:
            continue
        if param.name not in keyed and param.name not in COMMANDS[path].model_fields:
            continue  # not a config option here (score-quality's --batch-size is the embedder's, not lm.batch_size)
        shared += 1
        if param.default is not None and _normal(param.default) != _normal(config[param.name]):
            drift.append(f"{param.name}: CLI {param.default!r}, config {config[param.name]!r}")
    assert drift == []
    assert shared > 0  # the command and its config do share options, so the check looked at something


def test_the_check_finds_a_drift() -> None:
    class Cfg(BaseModel):
        alpha: float = 1.0

    assert _defaults(Cfg) == {"alpha": 1.0}
    assert _normal(0.2) != _normal(_defaults(Cfg)["alpha"])


def _default_at(cls: type[BaseModel], key: str) -> Any:
    """The config's default at a dotted key (a nested section's default is a model instance)."""
    head, _, rest = key.partition(".")
    value = cls.model_fields[head].get_default(call_default_factory=True)
    for part in rest.split(".") if rest else []:
        value = getattr(value, part)
    return value


def _declared(path: str) -> tuple[tuple[Any, ...], type[BaseModel]] | None:
    """A command's declared options and its config class (commands built by qdc.cli._options.command)."""
    import importlib

    declared = getattr(_command(path).callback, "qdc_options", None)
    if declared is None or declared[1] is None:
        return None
    module, _, name = declared[1].partition(":")
    return declared[0], getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_declared_option_default_is_the_config_default_at_its_key(path: str) -> None:
    """Stronger than the name match above: each option's default, converted as the command converts it, equals
    the config's default at the key the option sets (`--no-cache` False -> judge.cache True; --judge-model ->
    judge.model)."""
    declared = _declared(path)
    assert declared is not None, f"qdc {path} is not declared with qdc.cli._options.command"
    options, cls = declared
    compared, drift = 0, []
    for opt in options:
        if opt.key is None or opt.default is None or opt.given_only:
            continue  # a given_only option's default is another setting's (score-quality --batch-size: the embedder)
        for key in opt.key.split(","):
            if cls.model_fields[key.split(".")[0]].is_required():
                continue
            value = opt.convert(opt.default) if opt.convert is not None else opt.default
            compared += 1
            if _normal(value) != _normal(_default_at(cls, key)):
                drift.append(f"{opt.flags} -> {key}: CLI {value!r}, config {_default_at(cls, key)!r}")
    assert drift == []
    assert [o for o in options if o.key is not None]
    # Most options default to None (the config decides); the test below checks what --help shows for them.
    assert compared > 0 or path in ("check", "cluster", "diversity", "probe", "score-complexity")


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_shows_the_config_doc_and_default_of_options_left_to_the_config(path: str) -> None:
    """An option that defaults to None shows, in --help, its config field's docstring and the config default
    (so `--threshold` reads `[default: 0.8]` from DedupConfig, `--scorer` learned on score-quality)."""
    declared = _declared(path)
    assert declared is not None
    options, cls = declared
    cmd = _command(path)
    cmd.get_help(typer.Context(cmd, info_name=path))  # fills the help of the config's options
    helps = {p.name: p.help for p in cmd.params}
    shown = 0
    for opt in options:
        if opt.key is None or opt.default is not None:
            continue
        assert helps[opt.param], f"{opt.flags}: no help (give the config field a docstring)"
        value = _default_at(cls, opt.key.split(",")[0])
        worth = value is not None and (bool(value) or isinstance(value, (int, float)))  # not "", [], {}
        if worth and not isinstance(value, BaseModel) and not opt.given_only:
            shown += 1
            assert f"[default: {_normal(value)}]" in helps[opt.param], (opt.flags, helps[opt.param])
    assert shown > 0 or path in ("check", "cluster", "diversity")  # their flags' keys default to None (auto)


def test_the_declared_check_finds_a_drift() -> None:
    from qdc.cli._options import Opt, negate

    opt = Opt("--no-verify", bool, True, "", key="verify", convert=negate)  # would turn verification off
    assert opt.convert is not None
    assert _normal(opt.convert(opt.default)) != _normal(_default_at(DedupConfig, "verify"))
