"""Typed per-stage configs and YAML loading.

Each stage has a `<Stage>Config` (a pydantic model that rejects unknown keys). A pipeline YAML has a
top-level `io`, `seed` and an ordered `stages` list; each stage gets only its own section.
"""

from __future__ import annotations

import functools
import math
import re
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from qdc.errors import ConfigError, opening, quote

# Seeds reach numpy's legacy RandomState, scikit-learn and datasketch, which take 32 bits (faiss takes 31 and
# gets the seed folded); a larger or negative seed is a usage error, not a crash deep inside a library.
MAX_SEED = 2**32 - 1


def check_seed(seed: Any, where: str) -> int:
    """The seed as an int, or ConfigError (exit 2) naming `where`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{where}: 'seed' must be a whole number from 0 to {MAX_SEED} (got {quote(seed)})")
    return seed


class SecretValueError(ValueError):
    """A refused value that must not be quoted back (it may be a credential)."""


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def looks_like_a_key(value: str) -> bool:
    """True for a value that cannot be an environment variable's name, or that reads like a token: long, with
    lower-case letters and digits mixed (names are conventionally OPENAI_API_KEY-like)."""
    if not _ENV_NAME.fullmatch(value):
        return bool(value)
    return len(value) >= 24 and any(c.islower() for c in value) and any(c.isdigit() for c in value)


class StageConfig(BaseModel):
    """Base of every stage config: frozen, unknown keys rejected, seeds in range."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("seed", check_fields=False)
    @classmethod
    def _seed_in_range(cls, value: int) -> int:
        if not 0 <= value <= MAX_SEED:
            raise ValueError(f"must be from 0 to {MAX_SEED}")
        return value

    @model_validator(mode="after")
    def _meaningful_numbers(self) -> StageConfig:
        """Rules every stage shares, so a new option is covered by its name: no NaN or infinite numbers
        (`--budget nan`), rates (`*_rate`) within [0, 1], row counts (`*_rows`) not negative, budgets
        (`budget*`) positive, `temperature` not negative."""
        if isinstance(key_env := getattr(self, "api_key_env", None), str) and looks_like_a_key(key_env):
            raise SecretValueError(
                "'api_key_env' must name an environment variable (e.g. OPENAI_API_KEY), and the value given "
                "looks like a key itself (not shown); put the key in a variable and name the variable",
            )
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"'{name}' must be a finite number (got {value})")
            if name.endswith("_rate") and not 0 <= value <= 1:
                raise ValueError(f"'{name}' is a fraction of rows: give a value from 0 to 1 (got {value})")
            if name.endswith("_rows") and value < 0:
                raise ValueError(f"'{name}' counts rows: it cannot be negative (got {value})")
            if name.startswith("budget") and value <= 0:  # `budget_tokens: 0` wrote an empty output, exit 0
                raise ValueError(f"'{name}' must be positive (got {value})")
            if name == "temperature" and value < 0:
                raise ValueError(f"'temperature' cannot be negative (got {value})")
        return self


# Loaded documents are bounded (and values quoted in messages, see errors.quote): a 560-byte YAML of nested
# anchors expands to millions of values (72 MB in one error message), though the parser shares the repeats.
MAX_YAML_VALUES = 1_000_000


S = TypeVar("S", bound=StageConfig)


def unknown_key(key: str, allowed: Iterable[str]) -> str:
    """The message for a key no config has: the closest allowed name when one is close (difflib's ratio >= 0.75),
    then all of them: "unknown key 'facilty' (did you mean 'facility'?; allowed: ...)"."""
    import difflib

    names = sorted(allowed)
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], names, n=1, cutoff=0.75)
    hint = f"did you mean {quote(close[0])}?; " if close else ""
    return f"unknown key {quote(key)} ({hint}allowed: {', '.join(names)})"


def _error_key(cls: type[BaseModel], loc: tuple[Any, ...]) -> tuple[str, Iterable[str]]:
    """The dotted key a validation error is about, without pydantic's union member tags ('budget', not
    'budget.int'), and the keys allowed beside it (a nested section's own fields)."""
    model: Any = cls
    parts: list[str] = []
    allowed: Iterable[str] = cls.model_fields
    skip = False
    for part in loc:
        if skip:  # the union member pydantic tried ('int', 'float'): not a key the user wrote
            skip = False
            continue
        parts.append(str(part))
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue  # inside a dict or list: keep its keys
        allowed = model.model_fields
        field = model.model_fields.get(str(part))
        model = field.annotation if field else None
        if typing.get_origin(model) in (typing.Union, types.UnionType):  # X | None is not tagged; X | Y is
            members = [m for m in typing.get_args(model) if m is not type(None)]
            model, skip = members[0], len(members) > 1
    return ".".join(parts), allowed


def validate_config(cls: type[S], data: dict[str, Any], where: str) -> S:
    """Build `cls` from a dict, turning validation errors into one ConfigError naming key and file."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        errs = exc.errors()
        err = errs[0]
        key, allowed = _error_key(cls, err["loc"])
        key = key or "(section)"
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"{where}: {unknown_key(key, allowed)}") from None
        tried = [str(e["msg"]).split(",")[0] for e in errs if _error_key(cls, e["loc"])[0] == key]
        msg = " or ".join(dict.fromkeys(tried)).replace(" or Input should be ", " or ") if len(tried) > 1 else ""
        msg = msg or str(err["msg"]).removeprefix("Value error, ")
        if isinstance(err.get("ctx", {}).get("error"), SecretValueError):  # never echo a pasted API key
            raise ConfigError(f"{where}: {msg}") from None
        if not err["loc"]:  # a rule over the whole section names its key itself
            raise ConfigError(f"{where}: {msg}") from None
        raise ConfigError(f"{where}: {quote(key)}: {msg} (got {quote(err.get('input'))})") from None


@functools.cache
def _strict_loader() -> Any:
    """The YAML loader class (yaml is imported here: a command that reads no YAML does not pay for it)."""
    import yaml

    class _StrictLoader(yaml.SafeLoader):
        """safe_load that refuses a key given twice in one mapping (YAML keeps the last one silently)."""

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *base': its keys may be overridden
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.get(key)
                    seen[key] = key_node.start_mark.line + 1
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {quote(key)} (first at line {first})", key_node.start_mark
                    )
            return super().construct_mapping(node, deep=deep)

    return _StrictLoader


def expanded_size(data: Any, limit: int = MAX_YAML_VALUES) -> int:
    """How many values `data` holds with every shared (aliased) part counted each time it is used.

    Computed once per distinct object, so a bomb is measured without being expanded; stops above `limit`.
    """
    memo: dict[int, int] = {}

    def size(v: Any) -> int:
        if not isinstance(v, (dict, list)):
            return 1
        if id(v) in memo:
            return memo[id(v)]
        memo[id(v)] = limit + 1  # a cycle (a recursive alias) counts as too big
        items = list(v.keys()) + list(v.values()) if isinstance(v, dict) else v
        n = 1
        for item in items:
            n += size(item)
            if n > limit:
                break
        memo[id(v)] = min(n, limit + 1)
        return memo[id(v)]

    return size(data)


def parse_yaml(text: str, where: str) -> Any:
    """Parse YAML text: safe types only, duplicate keys refused, bounded expansion of anchors."""
    import yaml

    try:
        data = yaml.load(text, Loader=_strict_loader())  # a SafeLoader subclass: safe types only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{where}:{mark.line + 1}" if mark is not None else where
        raise ConfigError(f"{at}: invalid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if expanded_size(data) > MAX_YAML_VALUES:
        raise ConfigError(
            f"{where}: the document expands to more than {MAX_YAML_VALUES:,} values through anchors and "
            "aliases; refusing it (write the values out)"
        )
    return data


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file and line."""
    p = Path(path)
    try:
        with opening(path, ConfigError, "config file"):
            text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = p.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte {exc.object[exc.start]:#04x}); save it as UTF-8"
        ) from None
    data = parse_yaml(text.removeprefix("\ufeff"), str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


_NOT_PLAIN = object()
# YAML 1.1's plain words that are not strings (PyYAML's bool and null resolvers).
_YAML_WORDS = frozenset(
    w for word in ("yes", "no", "true", "false", "on", "off", "null") for w in (word, word.title(), word.upper())
)


def _plain_scalar(raw: str) -> Any:
    """What YAML makes of `raw` when it is a plain decimal integer, a simple decimal float or a word, read
    without importing yaml (12 ms of a short command's start-up); `_NOT_PLAIN` for anything else."""
    digits = raw[1:] if raw[:1] == "-" else raw
    if digits.isascii() and digits.isdigit() and (digits == "0" or digits[0] != "0"):
        return int(raw)  # '007' is octal to YAML 1.1: not taken here
    whole, dot, frac = digits.partition(".")
    if dot and whole.isascii() and whole.isdigit() and frac.isascii() and frac.isdigit():
        return float(raw)
    if raw.isascii() and raw[:1].isalpha() and raw.replace("_", "").isalnum() and raw not in _YAML_WORDS:
        return raw
    return _NOT_PLAIN


def parse_override(item: str) -> tuple[list[str], Any]:
    """'select.budget=400' -> (['select', 'budget'], 400); the value is parsed as YAML."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key.path=value")
    key, _, raw = item.partition("=")
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise ConfigError(f"--set {item!r}: empty key")
    plain = _plain_scalar(raw)
    if plain is not _NOT_PLAIN:
        return path, plain
    try:
        value = parse_yaml(raw, f"--set {key}") if raw.strip() else ""
    except ConfigError as exc:
        if "expands to" in str(exc):
            raise
        value = raw
    return path, value
