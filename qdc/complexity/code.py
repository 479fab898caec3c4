"""Code presence and the size of Python code (AST node count) in a text.

Code is found in fenced blocks (```lang ... ```); a text without fences that parses as Python on its own
and has code-like lines counts as one block (Code Alpaca answers are bare code). Each block tagged python
(or untagged) that parses contributes its `ast.walk` node count; blocks in other languages count as code
but add no nodes. Parsing uses `ast.parse` only: nothing is executed.
"""

from __future__ import annotations

import ast
import re
import warnings

FENCED = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
CODE_HINT = re.compile(
    r"^\s*(?:def |class |import |from \w+ import |for .+:\s*$|while .+:\s*$|if .+:\s*$|"
    r"return\b|print\(|\w+\s*=\s*\S)",
    re.MULTILINE,
)
PYTHON_TAGS = frozenset({"", "python", "py", "python3", "py3"})
MAX_CHARS = 20_000  # a longer block is counted as code but not parsed (bounds time per row)


def _nodes(source: str) -> int | None:
    if len(source) > MAX_CHARS:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in user code are not our business
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return sum(1 for _ in ast.walk(tree))


def code_stats(text: str) -> tuple[int, int]:
    """(number of code blocks, total AST nodes of the Python ones that parse)."""
    if "```" in text:
        blocks = 0
        nodes = 0
        for tag, body in FENCED.findall(text):
            blocks += 1
            if tag.lower() in PYTHON_TAGS:
                nodes += _nodes(body) or 0
        return blocks, nodes
    hints = len(CODE_HINT.findall(text))
    if hints >= 2:
        n = _nodes(text)
        if n is not None and n > 5:
            return 1, n
    return 0, 0
