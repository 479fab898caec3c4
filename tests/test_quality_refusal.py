"""The refusal pattern: 'help' is a refusal verb except in the idioms 'help but' and 'help <verb>ing', in Python's re
and polars alike."""

from __future__ import annotations

import polars as pl
import pytest

from qdc.quality import refusal
from qdc.quality._row import RowText
from qdc.quality.features import feature_frame
from qdc.quality.refusal import BOILERPLATE, REFUSAL

# Refusals (several as real chat models phrase them in ../shared/data: alpaca_eval_judged, sms_spam).
REFUSALS = [
    "I'm sorry, but I cannot help with that. It is important to always comply with the law.",
    "I cannot help with that.",
    "Sorry, I can't help you on this.",
    "I cannot help build a device meant to hurt people.",
    "I can't help buy prescription drugs without a prescription.",
    "I can't help bully a classmate.",
    "I CAN'T HELP WITH THAT REQUEST.",
    "Sorry, I can't help.",
    "I cannot help, but I can point you to the official documentation.",
    "I can't help butcher someone's reputation.",
    "I can't help write malware.",
    "I can't help - that request breaks the rules.",
]
# Ordinary sentences with 'help' (the first four are real lines of gpteacher roleplay and self_instruct).
NOT_REFUSALS = [
    "I am like a moth to a flame; I can't help but be drawn to her.",
    "Although its riddles and sly remarks perplex me, I can't help but feel intrigued.",
    "As I lay here, I can't help but\nthink about all the things I'll never do.",
    "I cannot help but wonder if there is a better way.",
    "Regular exercise can help build muscle and helps you buy time against ageing.",
    "I can help build the app: start with a Flask skeleton.",
    "Here is how to help a friend who is grieving.",
    "Watching the last scene, I can't help feeling that the ending was rushed.",
    "I CANNOT HELP THINKING about the old house.",
    "I can't help noticing how quiet the street has become.",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_caught_by_re_and_polars(text):
    assert REFUSAL.search(text) is not None
    assert pl.Series([text]).str.contains(REFUSAL.pattern)[0]


@pytest.mark.parametrize("text", NOT_REFUSALS)
def test_sentences_with_help_that_refuse_nothing_are_not_caught(text):
    assert REFUSAL.search(text) is None
    assert not pl.Series([text]).str.contains(REFUSAL.pattern)[0]


def test_the_pattern_carries_its_own_case_rule():
    assert REFUSAL.flags & 2 and BOILERPLATE.flags & 2  # re.IGNORECASE, from the pattern's own (?i)
    assert REFUSAL.pattern.startswith("(?i)") and BOILERPLATE.pattern.startswith("(?i)")
    assert pl.Series(["AS AN AI LANGUAGE MODEL, I have no body."]).str.contains(BOILERPLATE.pattern)[0]


def test_heuristic_signal_and_learned_feature_agree():
    texts = REFUSALS + NOT_REFUSALS
    feature = feature_frame(["Answer the question."] * len(texts), texts)["refusal"].to_list()
    signal = [refusal.measure(RowText("Answer the question.", t))[0] < 1.0 for t in texts]
    assert feature == [1.0] * len(REFUSALS) + [0.0] * len(NOT_REFUSALS)
    assert signal == [True] * len(REFUSALS) + [False] * len(NOT_REFUSALS)


def test_a_head_cut_inside_but_is_not_read_as_a_refusal():
    head = ("x" * 184 + " I can't help but smile")[:200]
    assert head.endswith("help bu") and REFUSAL.search(head) is None
