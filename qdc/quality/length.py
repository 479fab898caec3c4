"""Signal `length`: how well the response length fits what the instruction asks for.

The instruction sets an expected scale `lo` (words) and a ceiling `hi`:
- an explicit ask ("in 50 words", "three sentences", "2 paragraphs", "5 bullet points"): lo = half the
  asked size, hi = twice it + 30 (sentences count 20 words, paragraphs 80, items 12);
- a short-answer task (options to pick from, classify / label / sentiment, yes-or-no, true-or-false, "one
  word", a short factual or arithmetic question): lo = 0.5, hi = 400 — "positive" or "42" fits perfectly;
- a request for brevity ("briefly", "concise", "short", "one sentence", "summarize"): lo = 8, hi = 200;
- an open-ended task ("write", "explain", "describe", "essay", "story", "compare", "code", "step by step",
  "how do/can", "why"): lo = 60, hi = 2,000;
- anything else: lo = 15, hi = 1,500;
- a response of at most 5 words that stands in the prompt as a list item (it picks one of the listed
  options: "positive or negative", "tones: worried, confident, ..."): as a short-answer task.
Score = (1 - exp(-2 w / lo)) * min(1, sqrt(hi / w)) for a response of w words: 0.86 at w = lo, 0.98 at
2 lo, saturating, so length is never rewarded beyond what the task calls for; far over `hi` it decays
slowly (4x hi -> 0.5). This is the graded part of `qdc_quality` (see `qdc.quality.heuristic`).
"""

from __future__ import annotations

import math
import re

from qdc.quality._row import RowText

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a single": 1,
    "single": 1,
    "a": 1,
    "twenty": 20,
    "fifty": 50,
    "hundred": 100,
}
UNIT_WORDS = {
    "word": 1,
    "sentence": 20,
    "paragraph": 80,
    "bullet": 12,
    "bullet point": 12,
    "item": 12,
    "point": 12,
    "line": 10,
    "example": 15,
    "tip": 20,
    "step": 15,
    "reason": 20,
    "idea": 15,
    "question": 15,
}
EXPLICIT = re.compile(
    r"\b(?:in|with|of|under|about|around|up to|at most|no more than|within|exactly|give|list|provide|write|"
    r"generate|name|suggest)\s+(?:me\s+)?(\d{1,4}|one|two|three|four|five|six|seven|eight|nine|ten|twenty|fifty|"
    r"hundred|a single|single|a)\s*(?:-\s*)?(?:\w+\s+){0,2}?(words?|sentences?|paragraphs?|bullet points?|"
    r"bullets?|items?|points?|lines?|examples?|tips?|steps?|reasons?|ideas?|questions?)\b",
    re.IGNORECASE,
)
SHORT = re.compile(
    r"\b(?:options?:|choices?:|choose (?:one|from|between|the)|pick (?:one|your answer|from|the)|"
    r"select (?:one|the (?:correct|best|right))|which of the following|classify|categori[sz]e|"
    r"label (?:the|this|each)|sentiment|"
    r"yes or no|true or false|answer with|one word|single word|a word|only (?:the|output|answer|respond)|"
    r"just (?:the|answer|output)|respond with|reply with|(?:is|was) (?:this|the) (?:review|tweet|sentence|"
    r"statement|text|review) (?:positive|negative)|the answer is|\(a\)|\ba\)|fill in the blank|what is the "
    r"(?:capital|sum|product|result|value|answer)|how many|how much|what number of|count the|calculate|compute|"
    r"evaluate|solve|which (?:topic|category|class|label|type|genre|option|language|one)\b|"
    r"\w[\w/-]*,\s*\w[\w/-]*,?\s+or\s+\w[\w/-]*\s*\?)",
    re.IGNORECASE,
)
BRIEF = re.compile(
    r"\b(?:briefly|brief|concise(?:ly)?|short|one sentence|a sentence|summari[sz]e|tl;?dr|"
    r"in a few words|headline|title for|tweet)\b",
    re.IGNORECASE,
)
OPEN = re.compile(
    r"\b(?:write|explain|describe|essay|story|article|blog|discuss|compare|contrast|elaborate|in detail|"
    r"detailed|step[- ]by[- ]step|how (?:do|can|does|to|would|should)|why|create|design|develop|plan|"
    r"generate a list|outline|analy[sz]e|code|program|function|implement|script|poem|letter|email|guide|"
    r"tutorial|strategies|advice|pros and cons)\b",
    re.IGNORECASE,
)


def expected(prompt: str) -> tuple[float, float, str]:
    """(lo, hi, kind) for an instruction; see the module docstring.

    Only the first 600 and last 400 characters are read: the task wording sits at the start or the end of
    a prompt; a long pasted input in between would only slow the patterns down.
    """
    if len(prompt) > 1000:
        prompt = prompt[:600] + "\n" + prompt[-400:]
    m = EXPLICIT.search(prompt)
    if m:
        raw = m.group(1).lower()
        count = int(raw) if raw.isdigit() else NUMBER_WORDS.get(raw, 1)
        unit = m.group(2).lower().rstrip("s")
        size = count * UNIT_WORDS.get(unit, UNIT_WORDS.get(unit.split()[0], 12))
        if size > 0:
            return max(0.5, size / 2), size * 2 + 30, f"asked for {count} {m.group(2).lower()}"
    words = len(prompt.split())
    if SHORT.search(prompt):
        return 0.5, 400.0, "short answer"
    if words <= 25 and prompt.rstrip().endswith("?") and not OPEN.search(prompt):
        return 0.5, 400.0, "short question"
    if BRIEF.search(prompt):
        return 8.0, 200.0, "brief"
    if OPEN.search(prompt):
        return 60.0, 2000.0, "open-ended"
    return 15.0, 1500.0, "default"


def fit(words: int, lo: float, hi: float) -> float:
    """The length-fit curve of the module docstring."""
    if words <= 0:
        return 0.0
    return (1.0 - math.exp(-2.0 * words / lo)) * min(1.0, math.sqrt(hi / words))


def _listed_option(answer: str, prompt: str) -> bool:
    """True when `answer` stands in the prompt as an item of a list: between commas, slashes, brackets,
    line breaks, a colon or "or" (e.g. "positive or negative", "tones: worried, confident, ...")."""
    if not answer or answer not in prompt:
        return False
    pattern = r"(?:^|[,(/:\n•*-]|\bor\b)\s*[\"'(]?" + re.escape(answer) + r"[\"')]?\s*(?:$|[,)/.;?\n]|\bor\b)"
    return re.search(pattern, prompt) is not None


def measure(row: RowText) -> tuple[float, dict[str, object]]:
    w = len(row.words)
    if 0 < w <= 5 and _listed_option(" ".join(row.words), row.prompt.lower()):
        # A short answer that is one of the options the prompt lists ("Confident" among named tones).
        return fit(w, 0.5, 400.0), {"words": w, "expected": "option from the prompt", "lo": 0.5, "hi": 400.0}
    lo, hi, kind = expected(row.prompt)
    return fit(w, lo, hi), {"words": w, "expected": kind, "lo": lo, "hi": hi}
