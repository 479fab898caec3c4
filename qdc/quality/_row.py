"""The per-row view that every heuristic signal reads: text parts and cheap derived pieces, computed once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
FENCE_RE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
CODE_BLOCK_RE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)


@dataclass
class RowText:
    """One instruction/response pair. `words` are lower-cased word tokens of the response."""

    prompt: str
    response: str
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    @cached_property
    def stripped(self) -> str:
        return self.response.strip()

    @cached_property
    def words(self) -> list[str]:
        return WORD_RE.findall(self.response.lower())

    @cached_property
    def tokens(self) -> list[str]:
        """Whitespace tokens of the response (case kept)."""
        return self.response.split()

    @cached_property
    def lines(self) -> list[str]:
        """Non-empty lines of the response, stripped."""
        return [ln.strip() for ln in self.response.splitlines() if ln.strip()]

    @cached_property
    def prompt_words(self) -> list[str]:
        return WORD_RE.findall(self.prompt.lower())

    @cached_property
    def prose(self) -> str:
        """The response without fenced code blocks (symbol-heavy code is not token soup)."""
        if "```" not in self.response:
            return self.response
        return CODE_BLOCK_RE.sub(" ", self.response)

    @cached_property
    def looks_like_code(self) -> bool:
        """True when the response is mostly source code (unfenced code answers are common in code sets)."""
        lines = self.lines
        if not lines:
            return False
        codey = sum(1 for ln in lines if _CODE_LINE.search(ln))
        return codey >= max(2, 0.4 * len(lines)) or "```" in self.response


_CODE_LINE = re.compile(
    r"(^(def|class|import|from|return|if|for|while|elif|else|try|except|public|private|static|function|var|"
    r"let|const|#include|SELECT|INSERT|UPDATE|CREATE|<\w+|//|/\*|\*/)\b)|([;{}]\s*$)|(^\s*[\w.\[\]]+\s*=\s*\S)|"
    r"(\w+\(.*\)\s*:?\s*$)"
)
