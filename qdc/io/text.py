"""Which text of a row qdc analyses: a field, a template, or chat turns.

Resolution order when no `--text-field`/`--template` is given (documented in the README):
1. a string field ``text``;
2. Alpaca-style ``instruction`` / ``input`` / ``output`` (also ``prompt``/``response``,
   ``prompt``/``completion``, ``question``/``answer``): the non-empty parts joined by a blank line;
3. OpenAI-style ``messages`` (a list of ``{role, content}``) or ShareGPT ``conversations``
   (``{from, value}``): the contents of the chosen roles, joined by a blank line.

Each row yields three strings: the text to analyse, its prompt part and its response part.

Nulls follow one rule: a field the scheme requires (``text``, the instruction and the response of a pair) is
an error when null, exactly as when it is missing; an optional one (``input``, a message's content, a field
a --template names) reads as "".
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from qdc.errors import ConfigError, quote

# (prompt fields, response field) pairs tried in order.
PAIR_SCHEMES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("instruction", "input"), "output"),
    (("prompt",), "response"),
    (("prompt",), "completion"),
    (("question",), "answer"),
)
DEFAULT_TEXT_FIELD = "text"
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
}
PROMPT_ROLES = frozenset({"system", "user"})


class RowTextError(ValueError):
    """A row whose text cannot be resolved; the message says why (the reader adds file:line)."""


@dataclass(frozen=True)
class TextSpec:
    """How to get the text of a row."""

    text_field: str | None = None
    template: str | None = None
    roles: tuple[str, ...] = ("user", "assistant")
    # Filled in by `detect` from the first row when nothing was given explicitly.
    scheme: str = field(default="")

    def describe(self) -> str:
        if self.template:
            return f"template {self.template!r}"
        return self.scheme or f"field '{self.text_field or DEFAULT_TEXT_FIELD}'"


def detect(first_row: dict[str, Any], spec: TextSpec) -> TextSpec:
    """Fix the scheme (field / pair / chat) from the first row, so every row is read the same way."""
    if spec.template is not None:
        check_template(spec.template)
        return TextSpec(None, spec.template, spec.roles, "template")
    if spec.text_field is not None:
        if _is_chat(first_row.get(spec.text_field)):  # --text-field conversations: the turns of --roles
            return TextSpec(None, None, spec.roles, f"chat:{spec.text_field}")
        return TextSpec(spec.text_field, None, spec.roles, f"field:{spec.text_field}")
    if DEFAULT_TEXT_FIELD in first_row:
        return TextSpec(DEFAULT_TEXT_FIELD, None, spec.roles, f"field:{DEFAULT_TEXT_FIELD}")
    for prompts, response in PAIR_SCHEMES:
        if prompts[0] in first_row and response in first_row:
            return TextSpec(None, None, spec.roles, "pair:" + ",".join((*prompts, response)))
    for chat_key in ("messages", "conversations"):
        if chat_key in first_row:
            return TextSpec(None, None, spec.roles, f"chat:{chat_key}")
    keys = ", ".join(k if len(k) <= 40 else k[:37] + "..." for k in list(first_row)[:8]) or "none"
    raise RowTextError(
        f"no text to analyse: the row has no 'text', 'instruction'/'output', or 'messages' field "
        f"(fields: {keys}); pass --text-field NAME or --template"
    )


def check_template(template: str) -> None:
    """ConfigError (exit 2) unless `template` is text with ``{field}`` names only.

    Attribute access, indexing, conversions and format specs are refused: '{instruction.__class__.__mro__}'
    would print Python internals, and '{score:.2f}' fails on the first string value.
    """
    where = f"--template {quote(template)}"
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc} (write a literal brace as '{{{{' or '}}}}')") from None
    names = [(f, conv, spec) for _, f, spec, conv in parts if f is not None]
    if not names:
        raise ConfigError(f"{where} names no field; use e.g. '{{instruction}}\\n\\n{{output}}'")
    for name, conv, spec in names:
        if not name or name.isdigit() or any(c in name for c in ".[]") or conv or spec:
            shown = "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            raise ConfigError(f"{where}: {quote(shown)} is not a plain field name; use {{field}} only")


def _as_text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise RowTextError(f"field '{name}' is {_type_name(value)}, expected a string")


def _is_chat(value: Any) -> bool:
    """A list of chat turns ({role, content} or {from, value})."""
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], dict)
        and bool({"role", "from"} & set(value[0]))
    )


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _join(parts: list[str]) -> str:
    return "\n\n".join(p for p in parts if p.strip())


def _content(value: Any) -> str:
    """Message content: a string, or OpenAI content parts [{type: text, text: ...}]."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        out = []
        for part in value:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
            elif isinstance(part, str):
                out.append(part)
        return "\n".join(out)
    raise RowTextError(f"message content is {_type_name(value)}, expected a string")


def _from_template(row: dict[str, Any], spec: TextSpec) -> tuple[str, str, str]:
    assert spec.template is not None
    try:
        values = {k: ("" if v is None else v) for k, v in row.items()}
        text = spec.template.format_map(values)
    except KeyError as exc:
        raise RowTextError(f"--template names field {exc} that the row does not have") from exc
    except (ValueError, IndexError, AttributeError) as exc:
        raise RowTextError(f"--template could not be applied: {exc}") from exc
    return text, text, ""


def _from_field(row: dict[str, Any], name: str) -> tuple[str, str, str]:
    if name not in row:
        raise RowTextError(f"missing text field '{name}'")
    if row[name] is None:
        raise RowTextError(f"text field '{name}' is null")
    text = _as_text(row[name], name)
    return text, text, ""


def _from_pair(row: dict[str, Any], fields: str) -> tuple[str, str, str]:
    *prompt_fields, response_field = fields.split(",")
    for required in (prompt_fields[0], response_field):
        if required not in row:
            raise RowTextError(f"missing field '{required}'")
        if row[required] is None:
            raise RowTextError(f"field '{required}' is null")
    prompt = _join([_as_text(row.get(f), f) for f in prompt_fields])
    response = _as_text(row[response_field], response_field)
    return _join([prompt, response]), prompt, response


def canonical_roles(roles: tuple[str, ...]) -> tuple[str, ...]:
    """Role names as the rows' roles are read: ShareGPT's human/gpt are user/assistant (so `--roles human,gpt`
    picks the turns a ShareGPT user means, not none)."""
    return tuple(dict.fromkeys(SHAREGPT_ROLES.get(r, r) for r in roles))


def unescape_template(template: str) -> str:
    """`\\n`, `\\t` and `\\\\` typed literally (a single-quoted shell argument, a single-quoted YAML string) as
    the characters they name: the documented `--template '{instruction}\\n\\n{output}'` means a blank line."""
    if "\\" not in template:
        return template
    out, i = [], 0
    while i < len(template):
        c = template[i]
        if c == "\\" and i + 1 < len(template) and template[i + 1] in "nt\\":
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[template[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _from_chat(
    row: dict[str, Any], key: str, roles: tuple[str, ...], seen: set[str] | None = None
) -> tuple[str, str, str]:
    turns = row.get(key)
    if not isinstance(turns, list):
        raise RowTextError(
            f"field '{key}' is {'missing' if turns is None else _type_name(turns)}, expected a list of messages"
        )
    picked: list[str] = []
    prompt_parts: list[str] = []
    response_parts: list[str] = []
    for turn in turns:
        if not isinstance(turn, dict):
            raise RowTextError(f"a message in '{key}' is {_type_name(turn)}, expected an object")
        role = turn.get("role", turn.get("from"))
        role = SHAREGPT_ROLES.get(str(role), str(role))
        if seen is not None:
            seen.add(role)
        content = _content(turn.get("content", turn.get("value")))
        if role in roles:
            picked.append(content)
        if role in PROMPT_ROLES:
            prompt_parts.append(content)
        elif role == "assistant":
            response_parts.append(content)
    return _join(picked), _join(prompt_parts), _join(response_parts)


def resolve(row: dict[str, Any], spec: TextSpec, roles_seen: set[str] | None = None) -> tuple[str, str, str]:
    """(text, prompt, response) of one row under a detected spec; chat roles met are added to `roles_seen`."""
    kind, _, arg = spec.scheme.partition(":")
    if kind == "template":
        return _from_template(row, spec)
    if kind == "field":
        return _from_field(row, arg)
    if kind == "pair":
        return _from_pair(row, arg)
    if kind == "chat":
        return _from_chat(row, arg, spec.roles, roles_seen)
    raise RowTextError(f"unknown text scheme {spec.scheme!r}")
