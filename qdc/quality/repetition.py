"""Signal `repetition`: Gopher-style repetition rules on the response.

Measured (thresholds from Gopher / datatrove `GopherRepetitionFilter`, see peers.md §10):
- duplicate-line fraction > 0.3 and characters in duplicate lines > 0.2 (responses with 3+ lines);
- top n-gram character fraction > 0.20 / 0.18 / 0.16 for n = 2 / 3 / 4;
- duplicated n-gram character fraction > 0.15, 0.14, 0.13, 0.12, 0.11, 0.10 for n = 5 ... 10.
The n-gram rules apply from 20 words on (below that a single repeated phrase is a large fraction by chance);
responses of 6-19 words are flagged when one word fills at least half of them and at most a third of the
words are distinct (a short loop such as "positive positive positive ..."), or when they are one phrase of 2-3
words repeated end to end 4+ times ("it may . it may . it may ...": score 0).
Score: the worst ratio r = value / threshold; 1 when r <= 1, falling linearly to 0 at r = 2 (twice the
threshold), so mild excess costs little and a looping response scores 0.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from qdc.quality._row import RowText

TOP_NGRAM = {2: 0.20, 3: 0.18, 4: 0.16}
DUP_NGRAM = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
DUP_LINES, DUP_LINE_CHARS = 0.3, 0.2
MIN_WORDS = 20
SHORT_LOOP_WORDS = 6


def short_period(words: list[str], longest: int = 3) -> int:
    """The length p <= `longest` of a phrase that `words` repeats end to end at least 4 times (the last
    repeat may stop early), else 0."""
    for p in range(1, longest + 1):
        if len(words) >= 4 * p and all(words[i] == words[i - p] for i in range(p, len(words))):
            return p
    return 0


def line_stats(lines: list[str]) -> tuple[float, float]:
    """(fraction of lines that repeat an earlier line, fraction of line characters in such lines)."""
    seen: set[str] = set()
    dup = dup_chars = total_chars = 0
    for ln in lines:
        total_chars += len(ln)
        if ln in seen:
            dup += 1
            dup_chars += len(ln)
        else:
            seen.add(ln)
    if not lines:
        return 0.0, 0.0
    return dup / len(lines), dup_chars / max(total_chars, 1)


def _second(item: tuple[tuple[str, ...], int]) -> int:
    return item[1]


def top_ngram_fraction(words: list[str], lens: list[int], n: int, total: int) -> float:
    """Characters covered by the most frequent n-gram (counted at each occurrence) / all word characters."""
    if len(words) < n + 1:
        return 0.0
    counts = Counter(zip(*(words[i:] for i in range(n)), strict=False))
    gram, c = max(counts.items(), key=_second)
    if c < 2:
        return 0.0
    return c * sum(len(w) for w in gram) / total


def dup_ngram_fraction(words: list[str], lens: list[int], n: int, total: int) -> float:
    """Characters of words inside an n-gram that already occurred earlier / all word characters."""
    if len(words) < 2 * n:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    marked = [False] * len(words)
    for i, gram in enumerate(zip(*(words[j:] for j in range(n)), strict=False)):
        if gram in seen:
            for k in range(i, i + n):
                marked[k] = True
        else:
            seen.add(gram)
    return sum(ln for ln, m in zip(lens, marked, strict=True) if m) / total


class NgramIndex:
    """Collision-free integer ids of a word list's n-grams, built incrementally with numpy (for long texts,
    where per-tuple Python loops dominate the scorer's time)."""

    def __init__(self, words: list[str], lens: list[int]) -> None:
        vocab: dict[str, int] = {}
        self.ids = np.fromiter((vocab.setdefault(w, len(vocab)) for w in words), dtype=np.int64, count=len(words))
        self.lens = np.asarray(lens, dtype=np.int64)
        self.total = int(self.lens.sum())
        self.base = len(vocab) + 1
        self.keys = {1: self.ids}

    def grams(self, n: int) -> np.ndarray:
        """Dense ids of the n-grams at positions 0 .. len - n (equal ids = equal n-grams)."""
        if n not in self.keys:
            prev = self.grams(n - 1)
            raw = prev[:-1] * self.base + self.ids[n - 1 :]
            self.keys[n] = np.unique(raw, return_inverse=True)[1].astype(np.int64)
        return self.keys[n]

    def top_fraction(self, n: int) -> float:
        keys = self.grams(n)
        if keys.size < 2:
            return 0.0
        counts = np.bincount(keys)
        top = int(counts.max())
        if top < 2:
            return 0.0
        first = int(np.flatnonzero(counts[keys] == top)[0])  # ties: the n-gram that occurs first
        return float(top * self.lens[first : first + n].sum() / self.total)

    def dup_fraction(self, n: int) -> float:
        keys = self.grams(n)
        if keys.size < n:
            return 0.0
        _, first = np.unique(keys, return_index=True)
        dup = np.ones(keys.size, dtype=bool)
        dup[first] = False
        pos = np.flatnonzero(dup)
        size = self.ids.size + n + 1
        cover = np.cumsum(np.bincount(pos, minlength=size) - np.bincount(pos + n, minlength=size))
        return float(self.lens[cover[: self.ids.size] > 0].sum() / self.total)


LONG = 300  # words: from here on the numpy path is faster than Python tuples


def _ngram_rules(words: list[str], details: dict[str, object], worst: float, why: str) -> tuple[float, str]:
    """The top and duplicated n-gram character fractions against their thresholds: the worst ratio so far
    (`worst`, named `why`) and the rule that set it."""
    lens = [len(w) for w in words]
    total = sum(lens)
    index = NgramIndex(words, lens) if len(words) >= LONG else None
    for n, thr in TOP_NGRAM.items():
        v = index.top_fraction(n) if index else top_ngram_fraction(words, lens, n, total)
        if v / thr > worst:
            worst, why = v / thr, f"top {n}-gram"
    # The duplicated fraction can only fall as n grows, so when the 5-gram one is at most 0.10 (the
    # smallest threshold) no longer n can fail: skip them (exact, and most rows stop here).
    v5 = index.dup_fraction(5) if index else dup_ngram_fraction(words, lens, 5, total)
    details["dup_5gram_chars"] = round(v5, 3)
    if v5 / DUP_NGRAM[5] > worst:
        worst, why = v5 / DUP_NGRAM[5], "duplicated 5-grams"
    if v5 > DUP_NGRAM[10]:
        for n in (6, 7, 8, 9, 10):
            v = index.dup_fraction(n) if index else dup_ngram_fraction(words, lens, n, total)
            if v / DUP_NGRAM[n] > worst:
                worst, why = v / DUP_NGRAM[n], f"duplicated {n}-grams"
    return worst, why


def measure(row: RowText) -> tuple[float, dict[str, object]]:
    worst, why = 0.0, ""
    details: dict[str, object] = {}
    lines = row.lines
    if len(lines) >= 3:
        frac, chars = line_stats(lines)
        details["dup_lines"] = round(frac, 3)
        for r, name in ((frac / DUP_LINES, "duplicate lines"), (chars / DUP_LINE_CHARS, "duplicate line chars")):
            if r > worst:
                worst, why = r, name
    words = row.words
    if len(words) >= MIN_WORDS:
        worst, why = _ngram_rules(words, details, worst, why)
    elif len(words) >= SHORT_LOOP_WORDS:
        # Short loops ("positive positive positive ...", "12 12 12 ..."): the n-gram rules need 20 words,
        # so below that flag a response whose most common word fills half of it and that has few distinct
        # words. Ratio 2 (score 0) when one word is everything.
        top = Counter(words).most_common(1)[0][1]
        distinct = len(set(words)) / len(words)
        details["top_word_share"] = round(top / len(words), 3)
        if top >= 4 and top / len(words) >= 0.5 and distinct <= 0.34:
            worst, why = max(worst, 1.0 + top / len(words)), "one word repeated"
        period = short_period(words)
        if period > 1:  # "it may . it may . it may ...": a 2-3 word phrase over and over (ratio 2, score 0)
            worst, why = 2.0, f"a {period}-word phrase repeated"
    details["worst_ratio"] = round(worst, 3)
    if worst <= 1.0:
        return 1.0, details
    details["reason"] = why
    return max(0.0, 2.0 - worst), details
