"""The `classifier` scorer: logistic regression on embeddings plus the heuristic signals.

`train` fits it on rows labelled good and bad (`qdc train-quality --good G --bad B -o MODEL.json`);
`predict` gives P(good) as the quality. The model file is plain JSON (weights as lists of floats, the
embedding model's name, the feature layout): loading it never executes code, unlike a pickle.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from qdc import schema
from qdc.embed import EmbedConfig, Embedder, embed_texts
from qdc.errors import ConfigError, DataError
from qdc.quality import modelfile
from qdc.quality.heuristic import SIGNALS, score_rows

FORMAT = "qdc-quality-classifier"
VERSION = 1


@dataclass
class ClassifierModel:
    """Everything needed to score rows: standardisation, weights, and how features were made."""

    embed_model: str
    embed_field: str
    signals: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: Any, where: str) -> ClassifierModel:
        modelfile.check_header(data, FORMAT, VERSION, "quality classifier", where)
        try:
            model = cls(
                str(data["embed_model"]),
                str(data["embed_field"]),
                [str(s) for s in data["signals"]],
                [float(v) for v in data["mean"]],
                [float(v) for v in data["scale"]],
                [float(v) for v in data["coef"]],
                float(data["intercept"]),
                dict(data.get("training", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: malformed classifier file ({exc})") from None
        n = len(model.coef)
        if not (len(model.mean) == len(model.scale) == n) or not all(map(math.isfinite, model.coef)):
            raise ConfigError(f"{where}: inconsistent classifier weights")
        numbers = [*model.mean, *model.scale, model.intercept]
        if not all(map(math.isfinite, numbers)) or any(v <= 0 for v in model.scale):
            # a zero scale or a NaN mean made every qdc_quality null, with exit 0
            raise ConfigError(f"{where}: classifier means, scales and intercept must be finite, scales positive")
        unknown = set(model.signals) - set(SIGNALS)
        if unknown:
            raise ConfigError(f"{where}: unknown signals {sorted(unknown)}")
        return model


def save(model: ClassifierModel, path: str | Path) -> None:
    """Write the model as JSON (atomically)."""
    from qdc.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")


def load(path: str | Path) -> ClassifierModel:
    """Read a model written by `save` (JSON only)."""
    data = modelfile.read(path, "quality classifier", "no such classifier file (train one with `qdc train-quality`)")
    return ClassifierModel.from_json(data, str(path))


def features(df: pl.DataFrame, embed_cfg: EmbedConfig, embedder: Embedder | None, signals: list[str]) -> np.ndarray:
    """[embedding | heuristic signal scores | log words of response | log words of prompt] per row."""
    from qdc.embed import FIELD_COLUMNS

    schema.require_columns(df, schema.PROMPT, schema.RESPONSE)
    prompts, responses = df[schema.PROMPT].to_list(), df[schema.RESPONSE].to_list()
    column = FIELD_COLUMNS[embed_cfg.field]
    x_emb = embed_texts(df[column].to_list(), embed_cfg, embedder)
    _, cols = score_rows(prompts, responses, signals)
    sig = np.stack([cols[s] for s in signals], axis=1) if signals else np.zeros((df.height, 0))
    lengths = np.array(
        [
            [math.log1p(len((r or "").split())), math.log1p(len((p or "").split()))]
            for p, r in zip(prompts, responses, strict=True)
        ],
        dtype=np.float64,
    )
    lengths = lengths.reshape(df.height, 2)
    return np.hstack([x_emb.astype(np.float64), sig, lengths])


def train(
    good: pl.DataFrame,
    bad: pl.DataFrame,
    embed_cfg: EmbedConfig | None = None,
    embedder: Embedder | None = None,
    c: float = 1.0,
    seed: int = 0,
) -> ClassifierModel:
    """Fit logistic regression (balanced classes, L2 with inverse strength `c`) on good vs bad rows."""
    from sklearn.linear_model import LogisticRegression

    if good.height < 2 or bad.height < 2:
        raise DataError(f"train-quality needs at least 2 good and 2 bad rows (got {good.height} and {bad.height})")
    embed_cfg = embed_cfg or EmbedConfig()
    signals = list(SIGNALS)
    x = np.vstack([features(good, embed_cfg, embedder, signals), features(bad, embed_cfg, embedder, signals)])
    y = np.r_[np.ones(good.height), np.zeros(bad.height)]
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)
    clf.fit((x - mean) / scale, y)
    acc = float(clf.score((x - mean) / scale, y))
    folds, cv = _cross_validated(clf, (x - mean) / scale, y, seed)
    return ClassifierModel(
        embed_cfg.model,
        embed_cfg.field,
        signals,
        mean.tolist(),
        scale.tolist(),
        clf.coef_[0].tolist(),
        float(clf.intercept_[0]),
        {
            "good": good.height,
            "bad": bad.height,
            "C": c,
            "train_accuracy": round(acc, 4),
            "cv_accuracy": cv,
            "cv_folds": folds,
        },
    )


def _cross_validated(clf: Any, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[int, float | None]:
    """(folds, mean accuracy on held-out folds): what to expect on new rows, unlike the training accuracy,
    which a model with more features than rows puts at 1.0. Stratified, seeded; None under 2 rows a class."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = int(min(5, (y == 1).sum(), (y == 0).sum()))
    if folds < 2:
        return folds, None
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return folds, round(float(cross_val_score(clone(clf), x, y, cv=split).mean()), 4)


def predict(
    model: ClassifierModel, df: pl.DataFrame, embed_cfg: EmbedConfig | None = None, embedder: Embedder | None = None
) -> np.ndarray:
    """P(good) per row. Embeds with the model's own embedding model (other embed settings are kept)."""
    base = embed_cfg or EmbedConfig()
    cfg = base.model_copy(update={"model": model.embed_model, "field": model.embed_field})
    x = features(df, cfg, embedder, model.signals)
    if x.shape[1] != len(model.coef):
        raise ConfigError(
            f"classifier expects {len(model.coef)} features, the rows give {x.shape[1]} "
            f"(was it trained with another embedding model than {model.embed_model}?)"
        )
    z = ((x - np.asarray(model.mean)) / np.asarray(model.scale)) @ np.asarray(model.coef) + model.intercept
    return modelfile.sigmoid(z)
