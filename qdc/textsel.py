"""Moved to `qdc.io.text`; this name stays for existing imports."""

from __future__ import annotations

from qdc.io.text import (
    DEFAULT_TEXT_FIELD,
    PAIR_SCHEMES,
    PROMPT_ROLES,
    SHAREGPT_ROLES,
    RowTextError,
    TextSpec,
    check_template,
    detect,
    resolve,
)

__all__ = [
    "DEFAULT_TEXT_FIELD",
    "PAIR_SCHEMES",
    "PROMPT_ROLES",
    "SHAREGPT_ROLES",
    "RowTextError",
    "TextSpec",
    "check_template",
    "detect",
    "resolve",
]
