"""Typed per-stage configs and YAML loading.

Each stage has a `<Stage>Config` (a pydantic model that rejects unknown keys). A pipeline YAML has a
top-level `io`, `seed` and an ordered `stages` list; each stage gets only its own section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from qdc.errors import ConfigError


class StageConfig(BaseModel):
    """Base of every stage config: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def validate_config(cls: type[StageConfig], data: dict[str, Any], where: str) -> Any:
    """Build `cls` from a dict, turning validation errors into one ConfigError naming key and file."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(section)"
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(cls.model_fields))
            raise ConfigError(f"{where}: unknown key '{key}' (allowed: {allowed})") from None
        raise ConfigError(f"{where}: '{key}': {err['msg']} (got {err.get('input')!r})") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def parse_override(item: str) -> tuple[list[str], Any]:
    """'select.budget=400' -> (['select', 'budget'], 400); the value is parsed as YAML."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key.path=value")
    key, _, raw = item.partition("=")
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return path, value
