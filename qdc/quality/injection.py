"""Signal `injection`: the response carries instructions aimed at the model or the judge reading it.

An answer is for the user; text that tells a model to drop its instructions, addresses an evaluator, asks
for a score or carries chat-template control tokens is an attack on whoever reads the data next (the
pipeline's judge, a reward model, the model trained on it). The phrase classes are the published ones,
written as families of phrasings rather than copied strings:

- context ignoring / goal hijacking and prompt leaking: "ignore (any) previous (and following)
  instructions", "print the previous instructions" (Perez & Ribeiro 2022, "Ignore Previous Prompt:
  Attack Techniques For Language Models"; Liu et al. 2023, "Prompt Injection attack against
  LLM-integrated Applications", the separator/disruptor components of HouYi);
- indirect injection that addresses the model or a human-looking authority and fakes a new policy or
  turn (Greshake et al. 2023, "Not what you've signed up for");
- judge gaming: text addressed to the evaluator that asks for a verdict or a score (Zheng et al. 2024,
  "Cheating Automatic LLM Benchmarks: Null Models Achieve High Win Rates"; Raina et al. 2024, universal
  adversarial phrases against LLM-as-a-judge);
- mode switches of in-the-wild jailbreaks ("developer mode", DAN: Shen et al. 2023, "Do Anything Now");
- chat-template control tokens (`<|im_start|>`, `[INST]`, `</system>`): no answer to a user contains them.

The measure is a count of matches (clipped at 3); its weight comes from the learned scorer, trained on
TUNE injection texts written for that purpose (benchmarks/bench_quality.py), never on the held-out ones.
Honest answers about prompt injection will match; that is the known cost, and why this is a feature
weighed with the others, not a gate.
"""

from __future__ import annotations

import polars as pl

from qdc.quality._text import R

_ATTACKS = (
    # context ignoring: a verb of dismissal, then what is dismissed (the earlier instructions or context)
    r"\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:(?:all|any|the|your|my|these|those|of|everything)\s+)*"
    r"(?:previous|prior|above|preceding|earlier|following|original|initial|system|rest of|instructions?|directions?)\b",
    # prompt leaking: asking for the hidden prompt or the instructions themselves
    r"\b(?:print|repeat|reveal|output|show|spell[- ]check)\s+(?:me\s+)?(?:the\s+|your\s+)?(?:previous|hidden|initial"
    r"|system|original|secret)\s+(?:instructions?|prompt)\b",
    # addressing the evaluator / a model reading the text
    r"\b(?:note|message|instructions?|reminder)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?(?:evaluators?|graders?"
    r"|judges?|reviewers?|assessors?|raters?|annotators?|ai|llms?|language models?|assistants?)\b",
    r"\b(?:evaluators?|graders?|judges?|reviewers?|raters?)\s+(?:must|should|shall|is instructed|are instructed)\b",
    # asking for the verdict or the score
    r"\b(?:rate|score|grade|rank|select|choose|prefer|pick|mark)\s+(?:this|my)\s+(?:response|answer|output|reply)\b",
    r"\b(?:assign|give|award)\s+(?:it\s+|this\s+|me\s+)?(?:the\s+|a\s+)?(?:maximum|highest|perfect|full|top)\s+"
    r"(?:score|rating|marks?|grade)\b",
    # fake policy or turn, mode switches
    r"\b(?:new|updated|override)\s+(?:system\s+)?(?:instructions?|policy|rules)\s*:",
    r"\b(?:developer|dan|god|jailbreak|unrestricted)\s+mode\b|\bsystem\s+(?:prompt|override)\b",
    # chat-template control tokens and role tags
    r"<\|[a-z_]{2,20}\|>|</?(?:system|instruction|response|assistant|user)>|\[/?inst\]",
)
PATTERN = "|".join(f"(?:{a})" for a in _ATTACKS)
"""Lower-case alternatives, matched against the lower-cased response: the same matches as "(?i)" on the
text (the pattern is ASCII), nine times faster in polars' regex engine (17 ms against 155 ms for 3,000
answers on one thread)."""


def columns() -> list[pl.Expr]:
    """`injection`: how many attack phrases the response holds (0 to 3)."""
    return [R.str.to_lowercase().str.count_matches(PATTERN).clip(0, 3).cast(pl.Float64).alias("injection")]
