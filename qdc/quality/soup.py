"""Signal `soup`: token soup, word salad and broken text in the response.

Sub-measures (each 1 under its threshold, falling linearly to 0 at its `zero` value; the signal is their
product). Code is left out of the symbol and word-shape measures: fenced blocks, and a response that is
code without a fence (`RowText.unfenced_code`: mostly code lines, or a one-line statement, data literal or
regular expression whose brackets balance; soup's brackets do not); word salad is then measured on its
non-code lines only (`a = a + b` is no "a and"). Markdown table markup and URLs are taken out before the
symbol and word-shape measures (`plain_words`): a table's bars and a link's ID are not soup, the cells'
and sentences' words are still measured. All scripts count as letters (Devanagari vowel signs, Japanese,
... are not symbols).
- symbol tokens: share of whitespace tokens with no letter or digit (lone math operators and table bars
  of 1-2 characters not counted); threshold 0.25, zero at 0.6 (NeMo's non-alphanumeric cap is 0.25).
  8+ tokens;
- punctuation characters: share of non-space characters that are not letters or digits; prose has
  3-8%, arithmetic and tables up to 30%; threshold 0.35, zero at 0.7. 20+ characters;
- symbol characters: share of non-space characters in Unicode symbol / private-use / control categories,
  common signs (°, ±, €, →, ≤, •, ...) and ASCII punctuation excluded; threshold 0.15, zero at 0.5.
  20+ characters;
- non-words: share of tokens that look like hashes or noise: 4+ letter/digit alternations ("x7q9z2"),
  a symbol such as # $ % = between letters ("wo#rd"), or 30+ characters that are not a URL or path;
  threshold 0.15, zero at 0.5;
- broken unicode: U+FFFD, mojibake ("Ã©", "â€™") and control characters per 100 characters; any costs
  0.1, 1 per 100 characters or more scores 0;
- word salad: among determiners ("the", "a", "an") the share followed by a function word ("the of",
  "a and"). 0.2% in real LLM answers (measured on three datasets here), about 40% in shuffled text. 8+
  determiners; threshold 0.15, zero at 0.4;
- stop words: share of words that are common function words; English prose has 35-50%, random vocabulary
  soup almost none. Only for 40+ words of prose (lines averaging 12+ words, not code); threshold 0.1 (below
  it is soup), zero at 0.03;
- mean length of alphabetic words outside 2.5 ... 12 on 20+ such words (Gopher: 3 ... 10 for web pages);
- vowelless words: share of lower-case letter runs of 3+ letters without a vowel (a, e, i, o, u, y), on 4+
  such runs (URLs and a few vowelless words such as "html", "mph", "gcd" left out); keyboard-mash soup is
  nearly all vowelless, prose almost never; threshold 0.3, zero at 0.6. 4 runs, not 6: a 12-token mash of
  consonants and symbols has 4-5 runs of 3+ letters (chosen on planted garbage: caught 85% -> 98%, false
  alarms unchanged on 59,242 real rows once "gcd" and the like joined the word list;
  `benchmarks/results/quality_soup_vowels.md`).
"""

from __future__ import annotations

import itertools
import re
import unicodedata

from qdc.quality._row import WORD_RE, RowText


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


DETERMINERS = frozenset({"the", "a", "an"})
FUNCTION = _words(
    "the a an of to in and or is are was were for on with as by at from that this it be but not if then "
    "than so its their his her our your my we they he she you i"
)
STOP = _words(
    "the a an of to in and or is are was were for on with as by at from that this it be but not if then than "
    "so its their his her our your my we they he she you i can will have has had do does which these those "
    "there what when how all more one also into about"
    # the commonest function words of Spanish, French, German, Portuguese and Italian, so Latin-script
    # answers in those languages are not taken for soup
    " de la el en que y los se del las un una por con no su para es al lo como pero le les des du et est "
    "qui dans pour pas sur au avec ce il elle ne par plus sont ou der die das und ist zu den von mit sich "
    "auf nicht ein eine als auch es er dass em os um uma il di che non per della sono"
)
MATH_OR_TABLE = frozenset("=+-*/×÷<>≤≥≈≠?|:()^%#.,")
FRIENDLY_SIGNS = set("°±×÷€£¥©®™→←↑↓≤≥≠≈√π∞•µ·§¶✓✔★☆")
MOJIBAKE = re.compile(r"Ã[\x80-\xbf©¨§ª«®±²³´µ¶·¸¹º»¼½¾¿]|â€|Â[\xa0-\xbf]|\ufffd")
HAS_DIGIT = re.compile(r"\w*\d\w*")
ALTERNATION = re.compile(r"(?:[^\W\d_]+\d+){2}[^\W\d_]|(?:\d+[^\W\d_]+){2}\d")
INSIDE_CHARS = frozenset("#$%^&*=~|\\<>{}[]")
SYMBOL_INSIDE = re.compile(r"[^\W\d_][#$%^&*=~|\\<>{}\[\]][^\W_]")
URLISH = re.compile(r"^(?:https?://|www\.|[/~.]|[\w.-]+\.[a-z]{2,}\b)")
ALPHA_WORD = re.compile(r"[^\W\d_]+")
SYMBOL_TOKEN = re.compile(r"(?<!\S)[^\w\s]+(?!\S)")
LONG_TOKEN = re.compile(r"(?<!\S)\S{31,}")
PUNCT_CHAR = re.compile(r"[^\w\s]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
NON_ASCII = re.compile(r"[^\x00-\x7f]")
ALPHA_RUN = re.compile(r"(?<![A-Za-z])[a-z]+(?![A-Za-z])")
URL_RE = re.compile(r"\S*(?:https?://|www\.|\.(?:com|org|net|io|html?)\b)\S*")
TABLE_RULE = re.compile(r"(?m)^[ \t]*\|(?:[ \t]*:?-+:?[ \t]*\|)+[ \t]*$")
"""A markdown table's separator row (`|---|:---:|`)."""
TABLE_ROW = re.compile(r"(?m)^[ \t]*\|(.*)\|[ \t]*$")
# Real words and abbreviations with no vowel letter.
CONSONANT_WORDS = _words(
    "www http https html htm xml css sql pdf png jpg gif svg mph kph kmh mpg nth hmm shh "
    "psst brr grr tsk pst cwd pwd src std dst ctx cfg msg tmp pkg lbs kgs mrs gcd lcm npm pnpm nvm ssh cmd dvd"
)
VOWELS = frozenset("aeiouy")


def _ramp(value: float, threshold: float, zero: float) -> float:
    if value <= threshold:
        return 1.0
    return max(0.0, 1.0 - (value - threshold) / (zero - threshold))


def salad_rate(words: list[str]) -> tuple[float, int]:
    """(share of determiners followed by a function word, number of determiners seen)."""
    n = bad = 0
    for a, b in itertools.pairwise(words):
        if a in DETERMINERS:
            n += 1
            if b in FUNCTION:
                bad += 1
    return (bad / n if n else 0.0), n


def _odd_char(c: str) -> bool:
    """A non-ASCII character in a symbol, private-use or unassigned category (friendly signs excepted)."""
    if c in FRIENDLY_SIGNS:
        return False
    cat = unicodedata.category(c)
    return cat[0] == "S" or cat in ("Co", "Cn", "Cc", "Cs")


def _token_shares(text: str, toks: list[str], details: dict[str, object]) -> float:
    """Symbol-only tokens and hash-like non-words, as shares of the tokens (8+ tokens)."""
    if len(toks) < 8:
        return 1.0
    # Whole-text regex passes (C speed) instead of per-token Python loops: this signal is the hot spot.
    sym = sum(1 for t in SYMBOL_TOKEN.findall(text) if len(t) > 2 or not MATH_OR_TABLE.issuperset(t))
    long_tokens = sum(1 for t in LONG_TOKEN.findall(text) if not URLISH.match(t))
    noise = long_tokens + sum(1 for t in HAS_DIGIT.findall(text) if len(t) >= 5 and ALTERNATION.search(t))
    if not INSIDE_CHARS.isdisjoint(text):
        noise += len(SYMBOL_INSIDE.findall(text))
    noise = min(noise, len(toks))
    details["symbol_tokens"] = round(sym / len(toks), 3)
    details["non_words"] = round(noise / len(toks), 3)
    return _ramp(sym / len(toks), 0.25, 0.6) * _ramp(noise / len(toks), 0.15, 0.5)


def _char_shares(text: str, toks: list[str], details: dict[str, object], score: float) -> float:
    """`score` times the punctuation and odd Unicode symbol character ramps (shares of 20+ non-space
    characters)."""
    n_chars = sum(map(len, toks))
    if n_chars < 20:
        return score
    punct = len(PUNCT_CHAR.findall(text)) / n_chars
    details["punct_chars"] = round(punct, 3)
    score *= _ramp(punct, 0.35, 0.7)
    odd = 0
    if not text.isascii():
        odd = sum(1 for c in NON_ASCII.findall(text) if _odd_char(c))
    details["symbol_chars"] = round(odd / n_chars, 3)
    return score * _ramp(odd / n_chars, 0.15, 0.5)


def _word_shape(text: str, row: RowText, toks: list[str], details: dict[str, object], score: float) -> float:
    """`score` times the ramps of the stop-word share of prose, vowel-less letter runs and mean word length
    (Latin-script text only)."""
    alpha = ALPHA_WORD.findall(text.lower())
    joined = "".join(alpha)
    # Word-shape measures only make sense for Latin-script prose (marks split Indic words, CJK has no
    # spaces), so they run when nearly all letters are ASCII.
    latin = bool(joined) and (joined.isascii() or len(NON_ASCII.findall(joined)) <= 0.1 * len(joined))
    if not latin:
        return score
    per_line = len(toks) / max(len(row.lines), 1)
    if len(alpha) >= 40 and len(alpha) >= 0.5 * len(toks) and per_line >= 12:
        stop = sum(map(STOP.__contains__, alpha)) / len(alpha)
        details["stop_words"] = round(stop, 3)
        score *= 1.0 if stop >= 0.1 else _ramp(0.1 - stop, 0.0, 0.07)
    # Keyboard-mash soup: lower-case letter runs of 3+ with no vowel at all ("zpj", "kdfvkd").
    # English prose has almost none ("nth", "rhythm" has y); acronyms are upper case and code is
    # left out by the caller.
    runs = [w for w in ALPHA_RUN.findall(text) if len(w) >= 3 and w not in CONSONANT_WORDS]  # URLs: out already
    if len(runs) >= 4:
        share = sum(1 for w in runs if not VOWELS.intersection(w)) / len(runs)
        details["vowelless_words"] = round(share, 3)
        score *= _ramp(share, 0.3, 0.6)
    if len(alpha) >= 20:
        mean_len = len(joined) / len(alpha)
        details["mean_word_length"] = round(mean_len, 2)
        if mean_len < 2.5:
            score *= _ramp(2.5 - mean_len, 0.0, 1.0)
        elif mean_len > 12:
            score *= _ramp(mean_len - 12, 0.0, 8.0)
    return score


def plain_words(text: str) -> str:
    """`text` as the symbol and word-shape measures read it: markdown table markup (separator rows, cell bars of
    rows that start and end with `|`) and URLs (their IDs look like hashes) taken out; the cells' and the
    sentences' words stay, so a table or a link list of soup is still soup."""
    if "|" in text:
        text = TABLE_RULE.sub("", text)
        text = TABLE_ROW.sub(lambda m: m.group(1).replace("|", " "), text)
    return URL_RE.sub(" ", text)


def measure(row: RowText) -> tuple[float, dict[str, object]]:
    text = row.prose
    details: dict[str, object] = {}
    score = 1.0
    if not text.strip():
        return 1.0, {}
    if not row.looks_like_code:
        plain = plain_words(text)
        toks = plain.split()
        score *= _token_shares(plain, toks, details)
        score = _word_shape(plain, row, toks, details, _char_shares(plain, toks, details, score))
    bad = len(CONTROL.findall(text)) + (0 if text.isascii() else len(MOJIBAKE.findall(text)))
    broken = bad * 100.0 / max(len(text), 1)
    if broken:
        details["broken_per_100_chars"] = round(broken, 3)
        score *= min(0.9, _ramp(broken, 0.0, 1.0))
    # word salad in the prose lines only: code's one-letter names (`a = a + b`) are no "a and"
    words = row.words
    if row.unfenced_code:
        prose = (ln for ln, code in zip(row.lines, row.code_lines, strict=True) if not code)
        words = WORD_RE.findall("\n".join(prose).lower())
    rate, n_det = salad_rate(words)
    if n_det >= 8:
        details["salad_rate"] = round(rate, 3)
        score *= _ramp(rate, 0.15, 0.4)
    if score < 1.0:
        details["reason"] = "token soup / broken text"
    return score, details
