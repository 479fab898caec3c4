"""Signal `truncation`: the response stops mid-sentence, inside a code fence, or with open brackets.

Scores (lower = more surely cut off):
- 0.05: the last word is a function word that cannot end a sentence ("the", "and", "of", ...);
- 0.1: the response ends with ',', ':', ';', a dash or an opening bracket (a final HTML entity such as
  `&gt;` counts as the character it stands for);
- 0.1: an odd number of ``` fences (a code block was never closed);
- 0.3: more opening than closing brackets of one kind (outside a closed code block);
- 0.25: a response of 12+ words whose last line ends without final punctuation in a sentence fragment of
  2+ words after a full stop on that line, or is a 4+ word line without one (hashtags, links, list items,
  code, quote attributions and "= result" lines excepted);
- 0.4: a one-line sentence of 6-11 words that starts with a capital and stops on a lower-case word
  without final punctuation;
- 0.3: the last item of a list stops without the final punctuation that 80%+ of the other items have.
- 1.0 otherwise. Short answers ("positive", "42", "Paris") never count as truncated: they need no full stop.
"""

from __future__ import annotations

import html
import re

from qdc.quality._row import CODE_BLOCK_RE, FENCE_RE, RowText

_DANGLING = (
    "the a an and or of to in with for that is are was were by as from on at but which this these their its "
    "be will can your my our than into such whose if because while when where who has have had been being"
)
DANGLING = frozenset(_DANGLING.split())
GOOD_END = set(".!?。！？…\"'”’)]}>*_`|~%°")
BAD_END = set(",:;-–—([{\\&=")
LIST_ITEM = re.compile(r"^(?:[-*•+]|\d+[.)]|[a-zA-Z][.)]|#+)\s")
WORD_AT_END = re.compile(r"([^\W_]+)\W*$")
SENTENCE_END = re.compile(r"[.!?。！？]['\"”’)]*\s")
PAIRS = (("(", ")"), ("[", "]"), ("{", "}"))
ENTITY_AT_END = re.compile(r"&(?:[A-Za-z]{2,8}|#\d{2,5}|#x[0-9A-Fa-f]{2,4});$")


def _unbalanced(row: RowText, text: str) -> tuple[float, dict[str, object]] | None:
    """An odd number of code fences, or an opening bracket never closed outside code; None when balanced."""
    fences = len(FENCE_RE.findall(text))
    if fences % 2 == 1:
        return 0.1, {"reason": "unclosed code fence", "fences": fences}
    outside = CODE_BLOCK_RE.sub(" ", text) if fences else text
    for op, cl in PAIRS:
        gap = outside.count(op) - outside.count(cl)
        if gap > 0 and not row.looks_like_code:
            return 0.3, {"reason": f"unclosed '{op}'", "open": gap}
    if fences and text.endswith(("```", "~~~")):
        return 1.0, {"end": "code block"}
    return None


def measure(row: RowText) -> tuple[float, dict[str, object]]:
    text = row.stripped
    if not text:
        return 1.0, {}  # the empty signal covers this
    entity = ENTITY_AT_END.search(text)
    if entity:  # HTML-escaped text ("...&lt;/FONT&gt;") ends on the escaped character, not on ';'
        text = text[: entity.start()] + html.unescape(entity.group(0))
    found = _unbalanced(row, text)
    if found is not None:
        return found
    last = text[-1]
    if last in GOOD_END or not (last.isalnum() or last in BAD_END):
        return 1.0, {"end": repr(last)}
    m = WORD_AT_END.search(text[-40:])
    last_word = m.group(1).lower() if m else ""
    if last_word in DANGLING and len(row.words) >= 3:
        return 0.05, {"reason": f"ends with the function word '{last_word}'"}
    if last in BAD_END:
        return 0.1, {"reason": f"ends with {last!r}"}
    return _last_line(row, text, last)


def _last_line(row: RowText, text: str, last: str) -> tuple[float, dict[str, object]]:
    """How the last line ends, for a text ending on a letter or digit: list items, hashtags, links, code
    and short answers pass; a prose fragment after the last sentence end reads as cut off."""
    n_words = len(row.words)
    last_line = row.lines[-1] if row.lines else text
    last_token = last_line.split()[-1] if last_line.split() else ""
    if LIST_ITEM.match(last_line) and not row.looks_like_code:
        # A list whose other items end with punctuation but whose last item does not was cut off.
        items = [ln for ln in row.lines[:-1] if LIST_ITEM.match(ln)]
        punctuated = sum(1 for ln in items if ln[-1] in ".!?:;")
        if len(items) >= 2 and punctuated >= 0.8 * len(items) and len(last_line.split()) >= 3:
            return 0.3, {"reason": "last list item ends without the punctuation the others have"}
    if last_token.startswith(("#", "@", "http", "www.")) or LIST_ITEM.match(last_line) or row.looks_like_code:
        return 1.0, {"end": "hashtag, link, list item or code"}
    # The fragment after the last sentence end: a cut-off sentence leaves several words there; a quote's
    # attribution ("-C.S. Lewis") or a result ("= 98.9°C") leaves a few or contains '='.
    pieces = SENTENCE_END.split(last_line)
    fragment = pieces[-1].strip()
    # After a full stop on the same line 2 words are enough; a whole line (a sign-off, a name) needs 4.
    need = 2 if len(pieces) > 1 else 4
    if (
        n_words >= 12
        and len(fragment.split()) >= need
        and "=" not in fragment
        and not fragment.startswith(("-", "—", "–", "~"))
    ):
        return 0.25, {"reason": "prose ends without punctuation", "last": fragment[-40:]}
    # A one-line sentence of 6-11 words that starts with a capital and stops on a lower-case word
    # ("Start with 42 and subtract the 15 given") reads as cut off; a label or number answer is shorter.
    if (
        6 <= n_words < 12
        and len(row.lines) <= 1
        and fragment[:1].isupper()
        and last_token.isalpha()
        and last_token.islower()
        and "=" not in fragment
    ):
        return 0.4, {"reason": "sentence stops without punctuation", "last": fragment[-40:]}
    return 1.0, {"end": repr(last)}
