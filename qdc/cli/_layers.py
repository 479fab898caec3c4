"""How a command's options feed its stage config (`qdc.pipeline.layers` builds it): option defaults < --config <
--set < flags given on the command line (`qdc.cli._options.command` calls `build_config`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import typer

if TYPE_CHECKING:
    from qdc.config import StageConfig


class Keyed(Protocol):
    """An option as the layering reads it (`qdc.cli._options.Opt`)."""

    @property
    def param(self) -> str: ...
    @property
    def key(self) -> str | None: ...
    @property
    def convert(self) -> Callable[[Any], Any] | None: ...
    @property
    def given_only(self) -> bool: ...


def is_given(ctx: typer.Context, param: str) -> bool:
    source = ctx.get_parameter_source(param)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT")


def build_config(
    spec: str, section: str, opts: Sequence[Keyed], a: Mapping[str, Any], ctx: typer.Context
) -> StageConfig:
    """The stage config: option defaults < --config < --set < flags given on the command line."""
    from qdc.pipeline.layers import put, stage_config

    defaults: dict[str, Any] = {}
    given: dict[str, Any] = {}
    for o in opts:
        if o.key is None or (not is_given(ctx, o.param) and (a[o.param] is None or o.given_only)):
            continue
        value = o.convert(a[o.param]) if o.convert is not None else a[o.param]
        for key in o.key.split(","):
            put(given if is_given(ctx, o.param) else defaults, key.split("."), value)
    return stage_config(spec, section, defaults, a["config"], a["set_"] or (), given)
