"""Heuristic (v1) quality signals (a positive and a negative case each), scoring, explain, classifier, CLI.

The learned default scorer has its own tests in tests/test_quality_learned.py."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import orjson
import pytest

from qdc import schema
from qdc.cli import app
from qdc.errors import ConfigError, DataError
from qdc.quality import QualityConfig, explain, get_scorer, score_quality
from qdc.quality import classifier as clf
from qdc.quality._row import RowText
from qdc.quality.heuristic import GATES, score_rows
from qdc.quality.length import expected, fit
from tests.conftest import read_jsonl, write_jsonl

HEUR = QualityConfig(scorer="heuristic")

GOOD = (
    "Photosynthesis is the process by which plants turn light into chemical energy. Chlorophyll in the "
    "leaves absorbs sunlight, which drives the conversion of carbon dioxide and water into glucose. "
    "Oxygen is released as a by-product, and the glucose fuels the plant's growth."
)
ASK = "Explain how photosynthesis works."
_words = (
    GOOD + " The light reactions happen in the thylakoid membranes, and the Calvin cycle runs in the "
    "stroma of the chloroplast, where the enzyme captures carbon from the air."
).split()
random.Random(0).shuffle(_words)
SALAD = " ".join(_words)


def sig(name: str, response: str, prompt: str = ASK) -> float:
    return (
        GATES[name](RowText(prompt, response))[0]
        if name in GATES
        else __import__("qdc.quality.length", fromlist=["measure"]).measure(RowText(prompt, response))[0]
    )


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("empty", "   \n "),
        ("truncation", GOOD[:-60]),
        ("truncation", GOOD + "\n\n```python\nprint('hi')\n"),
        ("truncation", "The main reasons are the following: cost, speed, and the"),
        ("refusal", "I'm sorry, but I cannot help with that request."),
        ("refusal", "As an AI language model, I don't have personal opinions. " + GOOD),
        ("repetition", "\n".join(["The plant grows in the sun."] * 8)),
        ("repetition", " ".join(["light makes sugar in the leaf"] * 12)),
        ("echo", ASK + " " + ASK),
        ("soup", "ing the qz ## @@ ~~ %% ^^ !! ;; || xq7z9r2 pl0k8j3 &&& === ... ??? $$$ <<< >>> ** //"),
        ("soup", SALAD),  # word salad: real words, no syntax
        ("soup", "The result is Ã©tÃ© and â€™quoted â€™ text with \ufffd\ufffd broken bytes everywhere here."),
        ("placeholder", "Lorem ipsum dolor sit amet, consectetur adipiscing elit."),
        ("placeholder", "[Insert your answer here]"),
        ("length", "Light."),
    ],
)
def test_signal_flags_bad_and_passes_good(name, bad):
    assert sig(name, bad) < 0.6, f"{name} missed: {bad[:60]!r}"
    assert sig(name, GOOD) == 1.0 or (name == "length" and sig(name, GOOD) > 0.7)


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        ("Classify the sentiment of this review as positive or negative: 'I loved every minute.'", "positive"),
        ("What is 6 times 7?", "42"),
        ("What is the capital of France?", "Paris"),
        ("Is the following statement true or false? Water boils at 100 C at sea level.", "True"),
        ("Which tone fits this email best? Options: formal, casual, angry, worried", "formal"),
        ("Answer with one word: the opposite of hot.", "cold"),
    ],
)
def test_short_correct_answers_score_high(frame, prompt, answer):
    df = score_quality(frame([{"instruction": prompt, "output": answer}]), HEUR)
    assert df[schema.QUALITY][0] > 0.9, explain(df, df[schema.ROW_ID][0], HEUR)


def test_length_is_not_rewarded_beyond_the_task():
    lo, hi, kind = expected("Write an essay about the history of Rome.")
    assert kind == "open-ended" and lo == 60
    q, _ = score_rows([ASK] * 2, ["Light.", GOOD])
    assert q[0] < 0.6 < q[1]
    assert abs(fit(150, lo, hi) - fit(600, lo, hi)) < 0.01  # saturated: 4x longer earns nothing
    assert fit(1, 0.5, 400) > 0.98 and fit(1, 0.5, 400) == pytest.approx(fit(40, 0.5, 400), abs=0.02)
    assert fit(3000, 0.5, 400) < 0.5  # far longer than a short-answer task calls for
    lo, hi, kind = expected("Summarize this in 20 words: ...")
    assert (lo, hi) == (10, 70)


def test_junk_ranks_below_honest_answers(frame):
    rows = [
        {"instruction": ASK, "output": GOOD},
        {"instruction": ASK, "output": SALAD},
        {"instruction": ASK, "output": GOOD[: len(GOOD) // 2]},
        {"instruction": ASK, "output": "I'm sorry, but I can't assist with that."},
        {"instruction": ASK, "output": ASK},
    ]
    q = score_quality(frame(rows), HEUR)[schema.QUALITY].to_list()
    assert q[0] > 0.8 and max(q[1:]) < 0.35


def test_columns_range_and_rerun(frame):
    df = frame([{"instruction": ASK, "output": GOOD}, {"instruction": ASK, "output": ""}])
    out = score_quality(df, HEUR)
    cols = [c for c in out.columns if c.startswith("qdc_q_")]
    assert len(cols) == 8 and out[schema.QUALITY].to_list()[1] == 0.0
    assert all(0.0 <= v <= 1.0 for c in [*cols, schema.QUALITY] for v in out[c].to_list())
    again = score_quality(out, QualityConfig(scorer="heuristic", signals=("empty", "length")))
    assert [c for c in again.columns if c.startswith("qdc_q_")] == ["qdc_q_empty", "qdc_q_length"]


def test_explain_and_scorer(frame):
    df = frame([{"id": "a", "instruction": ASK, "output": GOOD}, {"id": "b", "instruction": ASK, "output": "x y"}])
    info = explain(score_quality(df, HEUR), "b", HEUR)
    assert info["where"].endswith(":2") and info["signals"]["length"]["expected"] == "open-ended"
    assert info["quality"] == pytest.approx(info["stored"]["qdc_quality"], abs=1e-4)
    with pytest.raises(ConfigError, match="no row has this id"):  # the argument is wrong, not the data
        explain(df, "zzz")
    scorer = get_scorer(HEUR)
    got = scorer(df[1:])
    assert got.shape == (1,) and got[0] == pytest.approx(score_quality(df, HEUR)[schema.QUALITY][1])
    assert scorer(df[:0]).shape == (0,)


def test_unknown_signal_rejected():
    with pytest.raises(ValueError, match="unknown signal"):
        QualityConfig(signals=("nope",))


def _pairs(n: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    topics = ["rivers", "volcanoes", "bees", "tides", "comets", "glaciers", "forests", "deserts"]
    good = [
        {"instruction": f"Explain {t} to a child.", "output": f"{t.title()} are fascinating. " + GOOD}
        for t in topics[:n]
    ]
    junk = " ".join(sorted(GOOD.split()))[:90]
    bad = [{"instruction": f"Explain {t} to a child.", "output": f"{t} {junk}"} for t in topics[:n]]
    return good, bad


def test_classifier_train_save_load_predict(tmp_path, frame, fake_embedder, fake_embed_cfg):
    good, bad = _pairs(8)
    model = clf.train(frame(good), frame(bad), fake_embed_cfg, fake_embedder)
    path = tmp_path / "m.json"
    clf.save(model, path)
    text = path.read_text()
    assert json.loads(text)["format"] == "qdc-quality-classifier"
    loaded = clf.load(path)
    p = clf.predict(loaded, frame(good[:2] + bad[:2]), fake_embed_cfg, fake_embedder)
    assert p[0] > 0.5 > p[3]
    path.write_text('{"format": "something else"}')
    with pytest.raises(ConfigError):
        clf.load(path)
    with pytest.raises(DataError):
        clf.train(frame(good[:1]), frame(bad), fake_embed_cfg, fake_embedder)


def test_cli_score_quality_explain_and_train(tmp_path: Path, runner):
    good, bad = _pairs(6)
    rows = [{"id": "g", **good[0]}, {"id": "b", **bad[0]}]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    res = runner.invoke(app, ["score-quality", str(src)])
    assert res.exit_code == 0, res.output
    out = read_jsonl(res.stdout)
    assert [r["id"] for r in out] == ["g", "b"] and out[0]["qdc_quality"] > out[1]["qdc_quality"]
    res = runner.invoke(app, ["score-quality", str(src), "--explain", "b", "--scorer", "heuristic"])
    info = orjson.loads(res.stdout)
    assert res.exit_code == 0 and info["id"] == "b" and "soup" in info["signals"]
    assert runner.invoke(app, ["score-quality", str(src), "--explain", "nope"]).exit_code == 2  # usage
    assert runner.invoke(app, ["score-quality", str(src), "--set", "signals=bogus"]).exit_code == 2
    assert (
        runner.invoke(app, ["score-quality", str(src), "--set", "signals=soup"]).exit_code == 2
    )  # learned: no signals
    res = runner.invoke(app, ["score-quality", str(src), "--set", "signals=soup, empty", "--scorer", "heuristic"])
    assert res.exit_code == 0, res.output
    assert sorted(k for k in read_jsonl(res.stdout)[0] if k.startswith("qdc_q_")) == ["qdc_q_empty", "qdc_q_soup"]
    g, b = write_jsonl(tmp_path / "g.jsonl", good), write_jsonl(tmp_path / "b.jsonl", bad)
    model = tmp_path / "q.json"
    res = runner.invoke(
        app,
        [
            "train-quality",
            "--good",
            str(g),
            "--bad",
            str(b),
            "-o",
            str(model),
            "--model",
            "hash:64",
            "--no-cache",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert orjson.loads(res.stdout)["good"] == 6 and model.exists()
    res = runner.invoke(
        app, ["score-quality", str(src), "--scorer", "classifier", "--classifier", str(model), "--no-cache"]
    )
    assert res.exit_code == 0, res.output
    scored = read_jsonl(res.stdout)
    assert scored[0]["qdc_quality"] > scored[1]["qdc_quality"] and "qdc_q_classifier" in scored[0]
    res = runner.invoke(app, ["score-quality", str(src), "--scorer", "classifier"])
    assert res.exit_code == 2  # no model file given


def test_score_rows_speed_shape():
    q, cols = score_rows(["p"] * 3, ["a b c.", "", "word " * 50])
    assert q.shape == (3,) and np.all((q >= 0) & (q <= 1)) and set(cols) >= {"empty", "soup"}


def test_numpy_ngram_path_matches_python_path():
    from qdc.quality.repetition import NgramIndex, dup_ngram_fraction, top_ngram_fraction

    rng = random.Random(1)
    for _ in range(20):
        vocab = ["a", "b", "c", "d", "e", "f", "the", "of", "plant", "light"]
        words = [rng.choice(vocab) for _ in range(rng.randint(12, 400))]
        lens = [len(w) for w in words]
        index, total = NgramIndex(words, lens), sum(lens)
        for n in (2, 3, 4):
            assert index.top_fraction(n) == pytest.approx(top_ngram_fraction(words, lens, n, total))
        for n in range(5, 11):
            assert index.dup_fraction(n) == pytest.approx(dup_ngram_fraction(words, lens, n, total))


@pytest.mark.parametrize(
    ("name", "prompt", "bad", "good"),
    [
        # a short loop of one word: below the 20 words the n-gram rules need
        ("repetition", "Classify the sentiment of this review.", "positive " * 12, "positive"),
        ("repetition", "What is 5 + 7?", "12 12 12 12 12 12 12 12 12 12", "5 + 7 = 12, so the answer is 12."),
        # a response that is nothing but a template tag
        ("placeholder", ASK, "<response>", "Plants turn light into sugar."),
        ("placeholder", ASK, "[answer]", "See the [1] reference below for details on light reactions."),
        # a short sentence that stops on a lower-case word
        (
            "truncation",
            "A box has 42 pens; 15 are given away. How many are left?",
            "Start with 42 and subtract the 15 given",
            "Start with 42 and subtract the 15 given away: 27.",
        ),
    ],
)
def test_short_junk_signals(name: str, prompt: str, bad: str, good: str) -> None:
    assert sig(name, bad, prompt) <= 0.4
    assert sig(name, good, prompt) == 1.0


def test_rewrite_of_the_input_is_not_an_echo_but_restating_the_request_is() -> None:
    instruction = "Rewrite the sentence with correct capitalisation and punctuation."
    sentence = "the library will close early on friday for maintenance"
    prompt = f"{instruction}\n\n{sentence}"
    assert sig("echo", "The library will close early on Friday for maintenance.", prompt) == 1.0
    assert sig("echo", instruction, instruction) == 0.0
    assert sig("echo", "Rewrite the sentence with correct capitalisation and punctuation please", prompt) < 0.5


def test_keyboard_mash_soup_is_caught_but_urls_and_units_are_not() -> None:
    mash = "zpj%#hb l^&* xwt ^kk bds# chr@& %rv ^kdvkdfj wrtz qnm"
    assert sig("soup", mash) <= 0.3
    prose = (
        "See https://www.example.com/docs.html for the spec; the car went 60 mph, then 72 mph, "
        "with the pdf and the html files attached as the brief asked."
    )
    assert sig("soup", prose) == 1.0


def test_a_final_html_entity_ends_on_the_character_it_stands_for() -> None:
    text = "Stocks closed higher on Friday as oil prices fell. &lt;B&gt;-The Daily Ledger&lt;/B&gt;"
    assert sig("truncation", text) == 1.0
    assert sig("truncation", "The main reasons are the following: cost, speed &amp;") < 0.5  # '&' still dangles
    assert sig("truncation", "Prices rose in the quarter and the company said it expects;") < 0.5


def test_a_short_phrase_looped_is_repetition_but_three_times_or_prose_is_not() -> None:
    assert sig("repetition", " ".join(["it may ."] * 8)) == 0.0  # 16 words: under the n-gram rules' 20
    assert sig("repetition", "Let it go, let it go, let it go, let it go!") == 0.0
    assert sig("repetition", "Let it go, let it go, let it go!") == 1.0  # three times: a chorus, not a loop
    assert sig("repetition", "No, no, no, I said no to that one.") == 1.0
