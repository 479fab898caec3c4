"""MTLD, the Measure of Textual Lexical Diversity (McCarthy & Jarvis 2010), per algorithms.md §3.4.6.

Tokens (as the `lexicalrichness` package makes them): lower-case, digits removed, hyphens and dashes removed
(joining "hyphen-here" into one word), other punctuation turned into spaces, split on whitespace.
One direction: walk the tokens keeping a running type-token ratio; each time it falls to the threshold
(0.72) count a factor and restart; the remainder adds a partial factor (1 - TTR) / (1 - threshold).
MTLD = mean of the forward and backward values of tokens / factors.
"""

from __future__ import annotations

import re
import string

THRESHOLD = 0.72
_DIGITS = re.compile(r"\d+")
_DASHES = re.compile(r"[-–—]+")
_PUNCT = re.compile("[" + re.escape(string.punctuation) + "]")


def tokens(text: str) -> list[str]:
    """The lexicalrichness-style word list of `text`."""
    text = _DASHES.sub("", _DIGITS.sub("", text.lower()))
    return _PUNCT.sub(" ", text).split()


def _one_direction(words: list[str], threshold: float) -> float:
    factors = 0.0
    types: set[str] = set()
    count = 0
    ttr = 1.0
    for w in words:
        count += 1
        types.add(w)
        ttr = len(types) / count
        if ttr <= threshold:
            factors += 1
            types = set()
            count = 0
    if count > 0:
        factors += (1.0 - ttr) / (1.0 - threshold)
    if factors == 0:
        # Every word was new: the text is one (unfinished) factor long.
        factors = 1.0
    return len(words) / factors


def mtld(words: list[str], threshold: float = THRESHOLD) -> float:
    """MTLD of a token list (0 for no tokens)."""
    if not words:
        return 0.0
    return (_one_direction(words, threshold) + _one_direction(words[::-1], threshold)) / 2.0


def mtld_text(text: str, threshold: float = THRESHOLD) -> float:
    """MTLD of a text, tokenised with `tokens`."""
    return mtld(tokens(text), threshold)
