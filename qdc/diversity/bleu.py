"""Self-BLEU (Zhu et al. 2018): the mean BLEU of each document against all the others as references.

BLEU here is NLTK's `sentence_bleu` with uniform weights over 1..N-grams and smoothing method 1
(a zero n-gram match count becomes 0.1 / count), brevity penalty against the closest reference length
(ties to the shorter one), and 0 when no unigram matches. Re-implemented (no NLTK data needed) and made
fast: for every n-gram we keep its largest and second-largest count over documents, so "max count over all
other documents" is O(1). Higher self-BLEU = less diverse.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from qdc.diversity.lexical import ngrams


def self_bleu(docs: Sequence[Sequence[str]], max_n: int = 3) -> float:
    """Mean over documents of BLEU-max_n(doc, references = every other doc). Needs 2+ documents."""
    m = len(docs)
    if m < 2:
        return 0.0
    counts = [[Counter(ngrams(toks, n)) for n in range(1, max_n + 1)] for toks in docs]
    # For each n-gram: (best count, its document, second-best count) over all documents.
    top: list[dict[tuple[str, ...], tuple[int, int, int]]] = [{} for _ in range(max_n)]
    for i, per_n in enumerate(counts):
        for k, c in enumerate(per_n):
            table = top[k]
            for g, v in c.items():
                best, who, second = table.get(g, (0, -1, 0))
                if v > best:
                    table[g] = (v, i, best)
                elif v > second:
                    table[g] = (best, who, v)
    lengths = [len(t) for t in docs]
    refs = closest_other_lengths(lengths)
    total = 0.0
    weight = 1.0 / max_n
    for i, per_n in enumerate(counts):
        hyp_len = lengths[i]
        log_sum = 0.0
        no_unigram = False
        for k, c in enumerate(per_n):
            table = top[k]
            matched = 0
            for g, v in c.items():
                best, who, second = table[g]
                ref_max = second if who == i else best
                matched += min(v, ref_max)
            denom = max(1, sum(c.values()))
            if k == 0 and matched == 0:
                no_unigram = True
                break
            p = matched / denom if matched else 0.1 / denom
            log_sum += weight * math.log(p)
        if no_unigram or hyp_len == 0:
            continue  # BLEU 0
        ref_len = refs[i]
        bp = 1.0 if hyp_len > ref_len else math.exp(1.0 - ref_len / hyp_len)
        total += bp * math.exp(log_sum)
    return total / m


def closest_other_lengths(lengths: Sequence[int]) -> list[int]:
    """For each document, the length closest to its own among the other documents' (ties to the shorter): the
    reference length of its brevity penalty. From the sorted distinct lengths, O(m log m) instead of a scan
    of every pair (250,000 tuples at m = 500). Needs 2+ documents."""
    own = np.asarray(lengths, dtype=np.int64)
    values, counts = np.unique(own, return_counts=True)
    pos = np.searchsorted(values, own)
    far = 1 << 62
    shorter = np.where(pos > 0, values[np.maximum(pos - 1, 0)], -far)
    longer = np.where(pos + 1 < values.size, values[np.minimum(pos + 1, values.size - 1)], far)
    nearest = np.where(own - shorter <= longer - own, shorter, longer)
    return np.where(counts[pos] > 1, own, nearest).tolist()  # type: ignore[no-any-return]
