"""Pipeline configs: the stage registry, YAML/TOML loading, `--set` overrides and validation.

A pipeline file has a top-level ``io`` section (how rows are read), ``seed``, ``embed`` (embedding settings
shared by every stage that embeds) and an ordered ``stages`` list. Each entry names a registered stage and
holds only that stage's options, validated into the stage's typed config (unknown keys are errors naming
the key and the file)::

    io: {text_field: null, id_field: id}
    seed: 13
    embed: {model: default}
    stages:
      - embed
      - cluster: {k: 16}
      - select: {budget: 400}

Stages are registered by reference (`qdc.pipeline.stages`): the config class and the typed adapter.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from qdc.config import StageConfig, check_seed, load_yaml, parse_override, validate_config
from qdc.embed import EmbedConfig
from qdc.errors import ConfigError, opening
from qdc.io import IOConfig
from qdc.pipeline import stages as _stages
from qdc.pipeline.layers import flag_names
from qdc.pipeline.stage import C, StageContext, StageResult, StageSpec, stage_spec
from qdc.pipeline.workdir import hash_json

RunFn = Callable[[pl.DataFrame, Any, StageContext], StageResult]
"""A stage adapter as stored in the registry (`stage_spec` checks each one against its config class)."""

STAGES: dict[str, StageSpec] = {}


def register_stage(
    name: str, config: type[C], run: Callable[[pl.DataFrame, C, StageContext], StageResult], summary: str = ""
) -> None:
    """Make `name` usable in pipeline files (later registrations replace earlier ones); typed like `stage_spec`."""
    STAGES[name] = stage_spec(name, config, run, summary)


for _spec in _stages.BUILTIN:
    STAGES[_spec.name] = _spec


def load_stage(name: str) -> tuple[type[StageConfig], RunFn]:
    """The config class and adapter of a registered stage; ConfigError when there is none."""
    spec = STAGES.get(name)
    if spec is None:
        raise ConfigError(f"unknown stage '{name}' (known: {', '.join(STAGES)})")
    return spec.config, spec.run


def available_stages() -> list[str]:
    """Every registered stage, in registration order."""
    return list(STAGES)


class IOSection(StageConfig):
    """The `io` section: how rows are read (see `qdc.io.IOConfig`)."""

    text_field: str | None = None
    template: str | None = None
    roles: tuple[str, ...] | str = ("user", "assistant")
    id_field: str = "id"
    on_bad_rows: Literal["error", "skip"] = "error"

    def io_config(self) -> IOConfig:
        roles = self.roles.split(",") if isinstance(self.roles, str) else list(self.roles)
        role_list = tuple(r.strip() for r in roles if r.strip())
        if not role_list:
            raise ConfigError("io.roles: name at least one role, e.g. [user, assistant]")
        return IOConfig(self.text_field, self.template, role_list, self.id_field, self.on_bad_rows)


TOP_LEVEL = ("io", "seed", "embed", "stages", "input", "output", "workdir", "name", "description")


def run_set_items(flag: str) -> list[str]:
    """The `qdc run --set` items a stage command's flag stands for (`--budget` -> ['select.budget=VALUE'],
    `--k` -> cluster's and select's, `--text-field` -> 'io.text_field=VALUE'); [] when no key has its name.
    A stage's own keys come before keys inside its sections (`--model` is embed.model, not judge.model)."""
    from qdc.pipeline.fields import config_keys, set_items

    if flag.lstrip("-") == "seed":
        return ["seed=VALUE"]
    keys = [f"io.{k}" for k in IOSection.model_fields]
    keys += [f"{stage}.{k['key']}" for stage, spec in STAGES.items() for k in config_keys(spec.config)]
    items = set_items(keys, flag)
    own = [i for i in items if i.split("=", 1)[0].count(".") == 1]
    return (own or items)[:4]


@dataclass(frozen=True)
class PipelineStage:
    """One entry of the stages list, validated."""

    position: int  # 1-based, as shown in the summary table and accepted by --set stages.N.key
    name: str
    config: StageConfig
    run: RunFn


@dataclass(frozen=True)
class Pipeline:
    """A validated pipeline config."""

    source: str
    io: IOConfig
    seed: int
    embed: EmbedConfig
    stages: tuple[PipelineStage, ...]
    resolved: dict[str, Any]
    overrides: tuple[str, ...] = ()
    input: str | None = None
    output: str | None = None
    workdir: str | None = None

    @property
    def hash(self) -> str:
        return hash_json(self.resolved)

    def stage(self, name: str) -> StageConfig | None:
        """The config of the first stage called `name` (None when the pipeline has none)."""
        return next((s.config for s in self.stages if s.name == name), None)


def _entries(raw: Any, source: str) -> list[tuple[str, dict[str, Any]]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: 'stages' must be a list, e.g. [embed, {{cluster: {{k: 8}}}}]")
    out: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(raw, start=1):
        if isinstance(item, str):
            out.append((item, {}))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise ConfigError(
                f"{source}: stages[{i}]: expected a stage name or a one-key mapping 'name: {{options}}' (got {item!r})"
            )
        ((name, body),) = item.items()
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: stage {i} '{name}': options must be a mapping (got {body!r})")
        out.append((str(name), copy.deepcopy(body)))
    return out


def _set_nested(target: dict[str, Any], path: Sequence[str], value: Any, item: str) -> None:
    d = target
    for part in path[:-1]:
        nxt = d.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {item}: '{part}' is not a section")
        d = nxt
    d[path[-1]] = value


def _override_stage_n(entries: list[tuple[str, dict[str, Any]]], rest: Sequence[str], value: Any, item: str) -> None:
    """--set stages.N.key=value (the stage's name may follow N)."""
    if not rest or not rest[0].isdigit() or not 1 <= int(rest[0]) <= len(entries):
        raise ConfigError(f"--set {item}: expected stages.N.key with N in 1..{len(entries)}")
    name, body = entries[int(rest[0]) - 1]
    rest = rest[1:]
    if rest and rest[0] == name:
        rest = rest[1:]
    if not rest:
        raise ConfigError(f"--set {item}: name a key of stage '{name}'")
    _set_nested(body, rest, value, item)


def _override_section(
    data: dict[str, Any],
    matches: list[dict[str, Any]],
    top: str,
    rest: Sequence[str],
    value: Any,
    item: str,
    source: str,
) -> None:
    """--set io.key=value / embed.key=value (the embed stage's own options follow the embed section)."""
    section = data.setdefault(top, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: '{top}' must be a mapping")
    _set_nested(section, rest, value, item)
    for body in matches:
        if rest[0] in body:
            _set_nested(body, rest, value, item)


def _override_stage_name(
    entries: list[tuple[str, dict[str, Any]]], top: str, rest: Sequence[str], value: Any, item: str, source: str
) -> None:
    """--set NAME.key=value for the one stage called NAME."""
    matches = [body for name, body in entries if name == top]
    if len(matches) > 1:
        pos = [str(i) for i, (name, _) in enumerate(entries, start=1) if name == top]
        raise ConfigError(
            f"--set {item}: {source} has {len(matches)} '{top}' stages (positions "
            f"{', '.join(pos)}); address one as stages.N.{'.'.join(rest) or 'key'}"
        )
    if not rest:
        raise ConfigError(f"--set {item}: name a key of stage '{top}', e.g. --set {top}.KEY=VALUE")
    _set_nested(matches[0], rest, value, item)


def _apply_override(data: dict[str, Any], entries: list[tuple[str, dict[str, Any]]], item: str, source: str) -> None:
    path, value = parse_override(item)
    top, rest = path[0], path[1:]
    matches = [body for name, body in entries if name == top]
    if top == "stages":
        _override_stage_n(entries, rest, value, item)
    elif top in ("seed", "input", "output", "workdir", "name", "description"):
        if rest:
            raise ConfigError(f"--set {item}: '{top}' takes a value, not sub-keys")
        data[top] = value
    elif top in ("io", "embed") and rest:
        _override_section(data, matches, top, rest, value, item, source)
    elif matches:
        _override_stage_name(entries, top, rest, value, item, source)
    elif top in STAGES:
        have = ", ".join(name for name, _ in entries) or "none"
        raise ConfigError(f"--set {item}: {source} has no '{top}' stage (its stages: {have})")
    else:
        raise ConfigError(
            f"--set {item}: unknown key '{top}' (top-level keys: {', '.join(TOP_LEVEL)}; stages: {', '.join(STAGES)})"
        )


def _mapping(data: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    raw = data.get(key) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: '{key}' must be a mapping")
    return raw


def _validate_stages(
    entries: list[tuple[str, dict[str, Any]]], embed_raw: dict[str, Any], seed: int, source: str
) -> list[PipelineStage]:
    """Each entry validated into its stage's typed config (the embed stage starts from the embed section)."""
    stages: list[PipelineStage] = []
    for pos, (name, body) in enumerate(entries, start=1):
        if name not in STAGES:
            raise ConfigError(f"{source}: stage {pos}: unknown stage '{name}' (known: {', '.join(STAGES)})")
        cls, fn = load_stage(name)
        where = f"{source}: stage {pos} '{name}'"
        body = flag_names(body, cls, where)
        if name == "embed":
            body = {**flag_names(embed_raw, cls, f"{source}: embed"), **body}
        if "seed" in cls.model_fields and "seed" not in body:
            body = {**body, "seed": seed}  # the global seed flows into every seeded stage unless set
        stages.append(PipelineStage(pos, name, validate_config(cls, body, where), fn))
    return stages


def parse_pipeline(data: dict[str, Any], source: str = "<config>", overrides: Sequence[str] = ()) -> Pipeline:
    """Validate a pipeline document (after applying `--set` overrides)."""
    data = copy.deepcopy(data)
    unknown = [k for k in data if k not in TOP_LEVEL]
    if unknown:
        raise ConfigError(f"{source}: unknown key '{unknown[0]}' (allowed: {', '.join(TOP_LEVEL)})")
    entries = _entries(data.get("stages"), source)
    for item in overrides:
        _apply_override(data, entries, item, source)
    where = f"{source} + --set" if overrides else source  # a bad value may come from the file or from --set
    seed = check_seed(data.get("seed", 0), where)
    io_sec = validate_config(
        IOSection, flag_names(_mapping(data, "io", where), IOSection, f"{where}: io"), f"{where}: io"
    )
    embed_raw = flag_names(_mapping(data, "embed", where), EmbedConfig, f"{where}: embed")
    embed_cfg: EmbedConfig = validate_config(EmbedConfig, embed_raw, f"{where}: embed")
    stages = _validate_stages(entries, embed_raw, seed, where)
    for st in stages:
        if st.name == "embed" and isinstance(st.config, EmbedConfig):
            embed_cfg = st.config  # the last embed stage's settings embed for every later stage
    for key in ("input", "output", "workdir"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ConfigError(f"{source}: '{key}' must be a path string")
    resolved = {
        "io": io_sec.model_dump(mode="json"),
        "seed": seed,
        "embed": embed_cfg.model_dump(mode="json"),
        "stages": [{s.name: s.config.model_dump(mode="json")} for s in stages],
    }
    return Pipeline(
        source,
        io_sec.io_config(),
        seed,
        embed_cfg,
        tuple(stages),
        resolved,
        tuple(overrides),
        data.get("input"),
        data.get("output"),
        data.get("workdir"),
    )


def load_pipeline(path: str | Path, overrides: Sequence[str] = ()) -> Pipeline:
    """Read a pipeline file (.yaml/.yml, or .toml with [[stages]] tables) and validate it."""
    p = Path(path)
    if p.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise ConfigError(f"{path}: TOML configs need Python 3.11 or later; use YAML") from None
        try:
            with opening(path, ConfigError, "config file"):
                text = p.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    else:
        data = load_yaml(p)
    return parse_pipeline(data, str(path), overrides)
