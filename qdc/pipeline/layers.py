"""A stage's config built in layers.

Each layer is above the last: defaults, a config file, `--set` items (in order), then values given explicitly
(a command's flags). The file holds the stage's section as in a `qdc run` pipeline, or is a whole pipeline
file, whose first stage of that name is read (with the pipeline's `seed` when the stage sets none). Keys may
be written as flags are (`method` for `methods`, `num-perm`), as in `qdc run` files. What the keys are and
say (docstrings, defaults) is `qdc.pipeline.fields`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qdc.errors import ConfigError, quote
from qdc.pipeline.fields import config_class

if TYPE_CHECKING:
    from qdc.config import StageConfig


def put(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for part in path[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = target[part] = {}
        target = nxt
    target[path[-1]] = value


def _merge(target: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """`top` over `target`, section by section."""
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
    return target


def stage_config(
    spec: str, section: str, defaults: dict[str, Any], file: str | None, sets: Sequence[str], given: dict[str, Any]
) -> StageConfig:
    """The config of `spec` ('module:Class'): `defaults` < the `file`'s section < `sets` < `given`."""
    from qdc.config import validate_config

    cls = config_class(spec)
    data = dict(defaults)
    if file is not None:
        _merge(data, flag_names(read_section(file, section, cls), cls, file))
    for item in sets:
        path, value = _override(cls, section, item)
        put(data, path, value)
    where = " + ".join([f"--config {file}"] * (file is not None) + ["--set"] * bool(sets) + ["flags"])
    return validate_config(cls, _merge(data, given), where)


def read_section(path: str, section: str, cls: type[StageConfig]) -> dict[str, Any]:
    """The stage section of a `--config` file: the file itself, the file's one `section:` mapping, or a
    pipeline file's `section` stage."""
    from qdc.config import load_yaml

    data = load_yaml(path)
    if "stages" not in data:
        own = data.get(section)
        if section not in cls.model_fields and isinstance(own, dict) and set(data) <= {section, "seed"}:
            # `select: {budget: 50}`: the section under its stage's name, as a user copies it from a pipeline.
            return {**({"seed": data["seed"]} if "seed" in data and "seed" in cls.model_fields else {}), **own}
        return data
    stages = data.get("stages") or []
    at = [i for i, item in enumerate(stages, 1) if item == section or (isinstance(item, dict) and section in item)]
    if len(at) > 1:  # taking the first would drop the others' options without a word
        raise ConfigError(
            f"{path}: has {len(at)} `{section}` stages (stages {', '.join(map(str, at))}); --config reads one: "
            f"put the options you mean in a file of their own, or run the whole file with qdc run"
        )
    for item in stages:
        if item == section:
            body: Any = {}
        elif isinstance(item, dict) and section in item:
            body = item[section] if item[section] is not None else {}
        else:
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: stage '{section}': options must be a mapping (got {quote(body)})")
        section_data: dict[str, Any] = dict(body)
        if "seed" in data and "seed" in cls.model_fields:
            section_data.setdefault("seed", data["seed"])
        return section_data
    raise ConfigError(f"{path}: has no `{section}` stage to read options from")


def set_keys(cls: type[StageConfig], section: str, items: Sequence[str]) -> set[str]:
    """The dotted config keys that `--set` items name, spelt as the config is built from them
    ('select.cluster-quality=false' -> 'cluster_quality')."""
    return {".".join(_override(cls, section, item)[0]) for item in items}


def _override(cls: type[StageConfig], section: str, item: str) -> tuple[list[str], Any]:
    """A `--set` item as (key path, value), the key checked against the config ('select.budget' works too)."""
    from pydantic import BaseModel

    from qdc.config import parse_override, unknown_key

    path, value = parse_override(item)
    if path[0] == section and path[0] not in cls.model_fields and len(path) > 1:
        path = path[1:]
    path[0] = next(iter(flag_names({path[0]: None}, cls, f"--set {item}")))
    model: type[BaseModel] = cls
    for i, part in enumerate(path):
        fields = model.model_fields
        if part not in fields:
            key = ".".join(path[: i + 1])
            raise ConfigError(f"--set {item}: {unknown_key(key, fields)}")
        ann = fields[part].annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        elif i < len(path) - 1 and "dict" not in str(ann):
            raise ConfigError(f"--set {item}: {quote(part)} is a value, not a section")
        else:
            break
    return path, value


def flag_names(body: dict[str, Any], cls: type[StageConfig], where: str) -> dict[str, Any]:
    """`body` with keys written as the command's flags renamed to the config's fields: `budget-tokens` ->
    `budget_tokens`, `method` -> `methods` (the flag is `--method`, the field `methods`), and the reverse.

    A key that is already a field stays; two keys that name one field are an error.
    """
    fields = cls.model_fields
    out: dict[str, Any] = {}
    for key, value in body.items():
        name = key.replace("-", "_") if isinstance(key, str) else key
        if isinstance(name, str) and name not in fields:
            if name + "s" in fields:
                name += "s"
            elif name.endswith("s") and name[:-1] in fields:
                name = name[:-1]
        if name in out:
            raise ConfigError(f"{where}: '{key}' and '{name}' name the same option; keep one")
        out[name] = value
    return out
