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
        """True when the response holds a fenced code block or is code without a fence (`unfenced_code`)."""
        return "```" in self.response or self.unfenced_code

    @cached_property
    def unfenced_code(self) -> bool:
        """True when the response, outside any code fence, is source code, a regular expression or a data
        literal: what code sets give as an answer without a fence.

        The rule: at least 40% of the non-empty lines are code lines (`code_line`: a keyword, preprocessor
        line or shebang first; `;`, `{` or `}` last; an assignment; a call that ends the line; a list or
        object literal whose brackets balance) and at least two of them; or, when all its brackets balance
        (`balanced`), 40% of the lines and at least one: a one-line answer (`char[] abc = {'A','B'};`,
        `System.out.println(a + b);`) or a shebang line and one command; or the whole response is a
        regular expression (`^...$` or `/.../flags`) whose brackets balance. Symbol soup fails the balance
        (judge-gaming strings open brackets they never close, or close ones never opened) and keyboard
        soup has no code line.
        """
        text = self.prose.strip()
        if "```" in self.response:  # the prose's lines: fenced blocks taken out
            flags = [code_line(ln.strip()) for ln in text.splitlines() if ln.strip()]
        else:  # prose is the response: its lines are `lines` (stripping the whole text drops only blank ones)
            flags = self.code_lines
        if not flags:
            return False
        codey = sum(flags)
        if codey >= max(2, 0.4 * len(flags)):
            return True
        if codey < max(1, 0.4 * len(flags)) and not _REGEX.fullmatch(text):
            return False
        return balanced(text)

    @cached_property
    def code_lines(self) -> list[bool]:
        """`code_line` of each of `lines` (read by `unfenced_code` and by the soup's word salad)."""
        return [code_line(ln) for ln in self.lines]


def code_line(line: str) -> bool:
    """A stripped line that reads as code (see `RowText.unfenced_code`)."""
    if _CODE_LINE.search(line):
        return True
    if line[:1] not in "[{" or not _LITERAL.fullmatch(line) or not _DATUM.search(line, 1):
        return False
    return not _TWO_WORDS.search(_QUOTED.sub("", line)) and balanced(line)


_CODE_LINE = re.compile(
    r"(^(def|class|import|from|return|if|for|while|elif|else|try|except|public|private|static|function|var|"
    r"let|const|#include|#define|SELECT|INSERT|UPDATE|CREATE|<\w+|//|/\*|\*/)\b)|(^#!/)|([;{}]\s*$)|"
    r"(^\s*[\w.\[\]]+\s*=\s*\S)|(\w+\(.*\)\s*:?\s*$)"
)
_LITERAL = re.compile(r"[\[{].*[\]}][;,]?")
"""A list, array or object literal line (`[1, 2]`, `{"a": 1},`): bracketed, with a number, a quote or a
nested bracket inside (`_DATUM`) and no two words in a row outside quotes (`[Your Name]` is a placeholder)."""
_DATUM = re.compile(r"[\d\"'\[{]")
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
_TWO_WORDS = re.compile(r"[^\W\d_]{2,} [^\W\d_]{2,}")
_REGEX = re.compile(r"\^\S.*\$|/\S.*/[a-z]*", re.DOTALL)
"""A whole response that is a regular expression: anchored `^...$`, or between slashes with flags."""
_PAIRS = {")": "(", "]": "[", "}": "{"}


def balanced(text: str) -> bool:
    """Every (, [ and { is closed in order and nothing else is closed; a backslash escapes the next character
    (regular expressions' literal brackets). Text without brackets is balanced."""
    stack: list[str] = []
    escaped = False
    for c in text:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in "([{":
            stack.append(c)
        elif c in _PAIRS and (not stack or stack.pop() != _PAIRS[c]):
            return False
    return not stack
