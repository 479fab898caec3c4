"""Signal `refusal`: the response refuses, or carries AI-assistant boilerplate instead of an answer.

Scores: a refusal in the first 200 characters of a short response (< 60 words) 0.05, of a longer one 0.3
(it refuses, then partly answers); each boilerplate phrase anywhere ("As an AI language model", "my
knowledge cutoff", ...) multiplies by 0.6. Requests that ought to be refused are rare in instruction-tuning
sets; when they are the point of a dataset, drop this signal with `--signals`.
"""

from __future__ import annotations

import re

from qdc.quality._row import RowText

_WORD_NOT_BUT_OR_ING = (
    r"(?:\w*[^\Wbgtu]|\w+b|u|\w*[^\Wb]u|\w+bu|g|\w*[^\Wn]g|ng|\w*[^\Wi]ng|t|\w*[^\Wu]t|ut|\w*[^\Wb]ut|\w+but)\b"
)
"""A whole word that is neither 'but' (nor 'b' or 'bu', a head cut inside it) nor ends in 'ing', spelt out by its
last letters (no look-ahead)."""
HELP_AS_REFUSAL = r"help(?:$|[^ ]| $| \W| " + _WORD_NOT_BUT_OR_ING + ")"
"""'help' as a refusal verb: any 'help' except the idioms 'help but' and 'help <verb>ing' ("I can't help but
smile" and "I can't help feeling sad" are no refusals, "I cannot help build a bomb" is one). Written without
look-ahead, because polars' regex engine (Rust `regex`) has none and the learned scorer matches REFUSAL
there: after 'help' comes the end of the text, a character other than a space, or a space and then a
non-word character or a whole word that is not 'but' ('butter' is not 'but') and does not end in 'ing'
(refusals say "help with writing", not "help writing"). A head cut inside the next word ('help b', 'help
feeli') is matched only when the cut word so far qualifies."""
REFUSAL = re.compile(
    r"(?i)\b(?:i(?:'m| am) sorry,? but|i apologi[sz]e,? but|i (?:cannot|can't|can not|won't|will not|"
    r"am unable to|'m unable to|am not able to|'m not able to) "
    r"(?:" + HELP_AS_REFUSAL + r"|assist|provide|fulfil+|comply|answer|complete|"
    r"generate|create|write|do that|support|engage)|i must (?:decline|refuse)|it(?: is|'s) not appropriate "
    r"(?:for me )?to|i(?:'m| am) not (?:comfortable|permitted|allowed)|i (?:don't|do not) feel comfortable)"
)
"""Case-insensitive by its own `(?i)`, so the same pattern string means the same in Python's `re` and in
polars (`str.contains(REFUSAL.pattern)`)."""
SHORT_WORDS = 60
"""A refusal phrase near the start of a response shorter than this is a refusal, not a hedge before an answer."""
REFUSED_SCORE = 0.05
"""The score of such a pure refusal: well under the junk threshold."""
BOILERPLATE = re.compile(
    r"(?i)\b(?:as an? (?:ai|artificial intelligence)(?: language model| assistant| model)?|as a language model|"
    r"i(?:'m| am) (?:just |only )?an ai|i (?:don't|do not) have (?:personal )?(?:opinions|feelings|emotions|"
    r"beliefs|experiences|preferences|access to real-time|the ability to browse)|my (?:knowledge|training) "
    r"(?:cutoff|cut-off)|as of my last (?:update|knowledge|training)|i was trained by|openai's guidelines)"
)
"""Case-insensitive by its own `(?i)`, like REFUSAL."""


def measure(row: RowText) -> tuple[float, dict[str, object]]:
    text = row.response
    head = text[:200]
    score, found = 1.0, []
    m = REFUSAL.search(head)
    if m:
        found.append(m.group(0))
        score = REFUSED_SCORE if len(row.words) < SHORT_WORDS else 0.3
    for b in BOILERPLATE.finditer(text):
        found.append(b.group(0))
        score *= 0.6
    if not found:
        return 1.0, {}
    return max(score, 0.0), {"phrases": found[:5]}
