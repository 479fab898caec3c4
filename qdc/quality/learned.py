"""The `learned` quality scorer (default): two small tree ensembles over the v2 signals, shipped as JSON.

    p_ok    = sigmoid(junk model)     P(not junk): gradient-boosted trees, honest vs junk (log-loss)
    grade   = grade model             how a judge ranks an honest answer (0..1): boosted regression trees
                                      on the rank of the judge's preference, monotone in response size
    quality = BASE + (1 - BASE) * grade     where p_ok >= CUT   (accepted: ordered by the grade)
    quality = BASE * p_ok / CUT              where p_ok <  CUT   (judged junk: below BASE, by p_ok)

So `junk_threshold` = BASE (0.3): a row below it is one the junk model rejects, and among accepted rows
the order is the grade's alone (the junk model's uncertainty does not scramble the judge ranking). CUT is
the 1st percentile of p_ok over honest training rows, each predicted by a model fit without its prompt
(out of fold), so about 1% of clean rows like those fall below it.

Both read the columns of `qdc.quality.features.feature_frame` (`qdc.quality.trees` walks the trees in
numpy). They were fit by `benchmarks/bench_quality_train.py` on public data, half of the
instructions of alpaca_eval_judged (real answers of 21 models with GPT-4-Turbo's preference as the
grade label; junk made from them by cutting, moving, shuffling, looping, character noise, refusal and
prompt-injection templates) plus half of eleven clean instruction sets (code_alpaca_2k, gsm8k and its
final answers, gpteacher codegen, llamafactory alpaca / DPO chosen / KTO desirable, and label answers to
sst2, sst5, subj and sms_spam) and junk made from them the same way; `training` in the JSON file says
exactly what. The other halves, four clean sources never seen (ag_news, gpteacher roleplay and
toolformer, self_instruct) and five other junk kinds are what benchmarks/bench_quality.py reports on.
The file holds numbers only: loading it runs no code (no pickle).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from qdc.errors import ConfigError
from qdc.quality import modelfile
from qdc.quality.features import feature_frame, matrix
from qdc.quality.refusal import REFUSED_SCORE, SHORT_WORDS
from qdc.quality.trees import Trees

FORMAT = "qdc-quality-learned"
VERSION = 1
DEFAULT_FILE = "quality_learned.json"


@dataclass(frozen=True)
class LearnedModel:
    """Feature names, the junk and grade models, the junk threshold on qdc_quality, and provenance."""

    features: tuple[str, ...]
    junk: Trees
    grade: Trees
    reference: tuple[float, ...]
    """Median of each feature over honest training rows (what `drivers` puts back to find a culprit)."""
    base: float
    cut: float
    """P(not junk) under which a row is judged junk."""
    junk_threshold: float
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "features": list(self.features),
            "junk": self.junk.to_json(),
            "grade": self.grade.to_json(),
            "reference": list(self.reference),
            "base": self.base,
            "cut": self.cut,
            "junk_threshold": self.junk_threshold,
            "training": self.training,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> LearnedModel:
        modelfile.check_header(data, FORMAT, VERSION, "learned quality model", where)
        feats = tuple(str(f) for f in data.get("features", []))
        try:
            ref = tuple(float(v) for v in data["reference"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: malformed quality model ({exc})") from None
        if len(ref) != len(feats):
            raise ConfigError(f"{where}: {len(ref)} reference values for {len(feats)} features")
        return cls(
            feats,
            Trees.from_json(data.get("junk"), len(feats), where),
            Trees.from_json(data.get("grade"), len(feats), where),
            ref,
            float(data.get("base", 0.3)),
            float(data.get("cut", 0.5)),
            float(data.get("junk_threshold", 0.3)),
            dict(data.get("training", {})),
        )


def load(path: str | Path) -> LearnedModel:
    """A model file written by the training script (JSON only)."""
    return LearnedModel.from_json(modelfile.read(path, "learned quality model"), str(path))


@cache
def load_default() -> LearnedModel:
    """The model shipped in qdc/data/."""
    ref = resources.files("qdc.data").joinpath(DEFAULT_FILE)
    return LearnedModel.from_json(json.loads(ref.read_text(encoding="utf-8")), f"qdc/data/{DEFAULT_FILE}")


def parts(model: LearnedModel, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(p_ok, grade) per row of a feature frame."""
    return _evaluate(model, frame)[2:]


def _evaluate(model: LearnedModel, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(feature matrix, junk log-odds, p_ok, grade) per row of a feature frame."""
    x = matrix(frame, model.features)
    raw = model.junk(x)
    return x, raw, modelfile.sigmoid(raw), np.clip(model.grade(x), 0.0, 1.0)


def predict(model: LearnedModel, frame: pl.DataFrame) -> np.ndarray:
    """qdc_quality in [0, 1] per row of a feature frame."""
    return _combine(model, *parts(model, frame))


def _combine(model: LearnedModel, p_ok: np.ndarray, grade: np.ndarray) -> np.ndarray:
    cut = model.cut
    return np.asarray(np.where(p_ok >= cut, model.base + (1.0 - model.base) * grade, model.base * p_ok / cut))


def score_texts(
    prompts: Sequence[str], responses: Sequence[str], model: LearnedModel | None = None, task: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(qdc_quality, P(not junk), grade, reason) for parallel prompts and responses (one batch): `score_frame`
    on their feature frame (the model's features and `refusal`). `task`: report progress under that name
    while the features are computed."""
    model = model or load_default()
    return score_frame(model, feature_frame(prompts, responses, (*model.features, "refusal"), task=task), responses)


def score_frame(
    model: LearnedModel, frame: pl.DataFrame, responses: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(qdc_quality, P(not junk), grade, reason) from a feature frame that holds the model's features and
    `refusal` (e.g. the whole `feature_frame`, as --explain shows it), with the responses it was made from.

    A response with no letter or digit at all (empty, whitespace, pure symbol strings) is junk by
    definition, as in v1's `empty` gate, whatever the trees make of a text unlike their training rows.
    So is a short pure refusal: v1's `refusal` rule (a refusal phrase in the first 200 characters, the
    frame's `refusal` feature, of a response under 60 words), which the trees, fit on five refusal
    templates only, rank just above the cut ('As an AI language model, I cannot help with that request.':
    P(not junk) 0.19, cut 0.13).
    """
    x, raw, p_ok, grade = _evaluate(model, frame)
    quality, reason = _combine(model, p_ok, grade), drivers(model, x, raw)
    text = pl.Series(list(responses), dtype=pl.String).fill_null("")
    blank = ~text.str.contains(r"[^\W_]").to_numpy()
    refused = (frame["refusal"].to_numpy() > 0) & (text.str.count_matches(r"\S+") < SHORT_WORDS).to_numpy() & ~blank
    if blank.any() or refused.any():
        p_ok = np.where(blank, 0.0, np.where(refused, np.minimum(p_ok, REFUSED_SCORE), p_ok))
        quality = np.where(blank, 0.0, np.where(refused, np.minimum(quality, REFUSED_SCORE), quality))
        reason = [
            "empty" if b else "refusal" if f else r
            for b, f, r in zip(blank.tolist(), refused.tolist(), reason, strict=True)
        ]
    return quality, p_ok, grade, reason


def drivers(model: LearnedModel, x: np.ndarray, raw: np.ndarray, top: int = 2) -> list[str]:
    """Per row judged junk (P(not junk) < cut), the features whose typical value would lift it most; `x`: the
    model's features as a matrix, `raw`: the junk model's log-odds of its rows.

    Each feature in turn is set to its median over honest training rows; the ones that raise the junk
    model's log-odds the most (by at least 0.5) are named, best first; when none gains that much (the
    verdict rests on several features at once) the single best is named, so a junk row always has a
    reason. '' for rows not judged junk. Ties break by feature order.
    """
    out = [""] * x.shape[0]
    low = np.flatnonzero(modelfile.sigmoid(raw) < model.cut)
    if low.size == 0:
        return out
    xl = x[low]
    gain = np.empty((low.size, len(model.features)), dtype=np.float64)
    for j, ref in enumerate(model.reference):
        moved = xl.copy()
        moved[:, j] = ref
        gain[:, j] = model.junk(moved) - raw[low]
    order = np.argsort(-gain, axis=1, kind="stable")[:, :top]
    for k, i in enumerate(low):
        named = [model.features[j] for j in order[k] if gain[k, j] >= 0.5]
        out[i] = ",".join(named or [model.features[order[k, 0]]])
    return out
