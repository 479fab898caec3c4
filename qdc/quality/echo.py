"""Signal `echo`: the response restates the instruction instead of answering it.

Measured on word 3-grams: c_r = share of the response's 3-grams found in the prompt, c_p = share of the
prompt's distinct 3-grams found in the response; echo = c_r * min(1, c_p / 0.5). A response that copies
a small span (an extracted entity, an option label such as "positive") has a small c_p and is not an
echo. Score: 1 while echo <= 0.5, falling linearly to 0 at echo >= 0.9; an exact copy of the prompt
scores 0. Responses under 4 words are never echoes.
"""

from __future__ import annotations

from qdc.quality._row import RowText

LOW, HIGH = 0.5, 0.9


def trigrams(words: list[str]) -> list[tuple[str, str, str]]:
    return list(zip(words, words[1:], words[2:], strict=False))


def measure(row: RowText) -> tuple[float, dict[str, object]]:
    rw, pw = row.words, row.prompt_words
    if len(rw) < 4 or len(pw) < 3:
        return 1.0, {}
    if rw == pw:
        return 0.0, {"reason": "response repeats the prompt exactly"}
    rg = trigrams(rw)
    pset = set(trigrams(pw))
    hit = sum(1 for g in rg if g in pset)
    c_r = hit / len(rg)
    c_p = len(pset.intersection(rg)) / len(pset)
    echo = c_r * min(1.0, c_p / 0.5)
    details: dict[str, object] = {"from_prompt": round(c_r, 3), "prompt_covered": round(c_p, 3)}
    if echo <= LOW:
        return 1.0, details
    details["reason"] = "response mostly copies the prompt"
    return max(0.0, 1.0 - (echo - LOW) / (HIGH - LOW)), details
