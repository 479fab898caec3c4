"""Signal `placeholder`: template text left in place of an answer.

Scores: a response that is only a template tag ("<response>", "[answer]", "{output}") 0.1; filler that
stands for missing content ("lorem ipsum", "[insert ... here]", "<your answer here>",
"TODO: write ...", "placeholder text") 0.1; a bare "..." or "N/A"-style non-answer of 1-2 tokens 0.2;
fill-in slots typical of generated letters ("[Your Name]", "[Company Name]", "[Date]") 0.8 each, down to 0.5
(they are often acceptable in letter templates, so they cost little).
"""

from __future__ import annotations

import re

from qdc.quality._row import RowText

FILLER = re.compile(
    r"lorem ipsum|\[(?:insert|add|put|fill in|your (?:answer|response|text|code) )[^\]]{0,60}\]|"
    r"<(?:insert|your (?:answer|response|text|code))[^>]{0,60}>|\{(?:insert|placeholder)[^}]{0,60}\}|"
    r"\b(?:TODO|FIXME)\b:? *(?:write|add|fill|implement|complete)|placeholder (?:text|content|answer)|"
    r"\((?:insert|add) [^)]{0,60} here\)|your (?:answer|response) (?:goes )?here",
    re.IGNORECASE,
)
SLOT = re.compile(
    r"\[(?:your |the |recipient'?s? |company'?s? |insert |employer'?s? )?(?:full |first |last )?"
    r"(?:name|date|address|company(?: name)?|phone(?: number)?|email(?: address)?|title|position|"
    r"job title|city|state|location|"
    r"contact (?:information|details)|signature|organi[sz]ation(?: name)?)\](?!\()",
    re.IGNORECASE,
)
NON_ANSWER = re.compile(r"^(?:\.{2,}|…|n/?a|none|null|nan|tbd|-+|\?+)$", re.IGNORECASE)
# A response that is nothing but a template tag: "<response>", "[answer]", "{output}", "<|assistant|>".
BARE_TAG = re.compile(r"^(?:<\|?[\w ./-]{1,30}\|?>|\[[\w ./-]{1,30}\]|\{\{?[\w ./-]{1,30}\}?\})$")


def measure(row: RowText) -> tuple[float, dict[str, object]]:
    text = row.stripped
    if NON_ANSWER.match(text):
        return 0.2, {"reason": f"non-answer {text[:10]!r}"}
    if BARE_TAG.match(text):
        return 0.1, {"reason": f"a bare template tag {text[:30]!r}"}
    low = row.response.lower()
    cues = ("lorem", "insert", "your ", "todo", "fixme", "placeholder", "add ", "fill")
    m = FILLER.search(row.response) if any(c in low for c in cues) else None
    if m:
        return 0.1, {"reason": "placeholder text", "found": m.group(0)}
    slots = SLOT.findall(row.response) if "[" in row.response else []
    if slots:
        return max(0.5, 0.8 ** len(set(slots))), {"slots": sorted(set(slots))[:5]}
    return 1.0, {}
