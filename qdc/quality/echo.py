"""Signal `echo`: the response restates the instruction instead of answering it.

Measured on word 3-grams: c_r = share of the response's 3-grams found in the prompt, c_p = share of the
prompt's distinct 3-grams found in the response; echo = c_r * clip((c_p - 0.6) / 0.25, 0, 1). A response
that copies a span (an extracted entity, an option label, the sentence a rewrite task gave it) covers a part
of the prompt and is not an echo; one that restates the whole request (or its first paragraph, the request
itself) is. Score: 1 while echo <= 0.5, falling linearly to 0 at echo >= 0.9; an exact copy of the prompt
scores 0. Responses under 4 words are never echoes.
"""

from __future__ import annotations

from qdc.quality._row import WORD_RE, RowText

LOW, HIGH = 0.5, 0.9
# How much of the prompt the response must reproduce before copying counts as an echo. A rewrite or
# extraction task copies its input (half of the prompt or less); an echo restates the whole request.
COVER_LOW, COVER_HIGH = 0.6, 0.85


def trigrams(words: list[str]) -> list[tuple[str, str, str]]:
    return list(zip(words, words[1:], words[2:], strict=False))


def _echo(rw: list[str], pw: list[str]) -> tuple[float, float, float]:
    """(echo, c_r, c_p) of response words against one prompt's words."""
    rg = trigrams(rw)
    pset = set(trigrams(pw))
    if not rg or not pset:
        return 0.0, 0.0, 0.0
    c_r = sum(1 for g in rg if g in pset) / len(rg)
    c_p = len(pset.intersection(rg)) / len(pset)
    return c_r * min(1.0, max(0.0, (c_p - COVER_LOW) / (COVER_HIGH - COVER_LOW))), c_r, c_p


def measure(row: RowText) -> tuple[float, dict[str, object]]:
    rw, pw = row.words, row.prompt_words
    if len(rw) < 4 or len(pw) < 3:
        return 1.0, {}
    if rw == pw:
        return 0.0, {"reason": "response repeats the prompt exactly"}
    echo, c_r, c_p = _echo(rw, pw)
    # The prompt's first paragraph is the request itself (Alpaca: instruction, then input; chat: the first
    # turn), so restating it is an echo even when a long input makes the whole prompt large.
    head = WORD_RE.findall(row.prompt.strip().split("\n\n", 1)[0].lower())
    if len(head) >= 3 and len(head) < len(pw):
        echo = max(echo, _echo(rw, head)[0])
    details: dict[str, object] = {"from_prompt": round(c_r, 3), "prompt_covered": round(c_p, 3)}
    if echo <= LOW:
        return 1.0, details
    details["reason"] = "response mostly copies the prompt"
    return max(0.0, 1.0 - (echo - LOW) / (HIGH - LOW)), details
