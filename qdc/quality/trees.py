"""A gradient-boosted tree ensemble as plain arrays: JSON in, numpy prediction out (no pickle, no sklearn).

Trained with scikit-learn's HistGradientBoosting* (benchmarks/bench_quality_train.py) and exported node by
node: feature index, threshold (`x <= threshold` goes left), children, leaf value. Prediction walks every
tree at once, level by level, over blocks of rows, so its cost is depth x trees vectorised numpy steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from qdc.errors import ConfigError


@dataclass(frozen=True)
class Trees:
    """All trees' nodes concatenated; `roots` holds each tree's first node. Raw score = baseline + leaves."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf: np.ndarray
    roots: np.ndarray
    baseline: float
    depth: int

    def __call__(self, x: np.ndarray, block: int = 4096) -> np.ndarray:
        """Raw scores (log-odds for a classifier) of the rows of x (n, d)."""
        out = np.empty(x.shape[0], dtype=np.float64)
        for lo in range(0, x.shape[0], block):
            xb = x[lo : lo + block]
            rows = np.arange(xb.shape[0])[:, None]
            node = np.broadcast_to(self.roots, (xb.shape[0], self.roots.size)).copy()
            for _ in range(self.depth):
                go_left = xb[rows, self.feature[node]] <= self.threshold[node]
                nxt = np.where(go_left, self.left[node], self.right[node])
                node = np.where(self.leaf[node], node, nxt)
            out[lo : lo + block] = self.baseline + self.value[node].sum(axis=1)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "depth": self.depth,
            "roots": self.roots.tolist(),
            "feature": self.feature.tolist(),
            "threshold": self.threshold.tolist(),
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "value": self.value.tolist(),
            "leaf": self.leaf.astype(int).tolist(),
        }

    @classmethod
    def from_json(cls, data: Any, n_features: int, where: str) -> Trees:
        try:
            t = cls(
                np.asarray(data["feature"], dtype=np.int64),
                np.asarray(data["threshold"], dtype=np.float64),
                np.asarray(data["left"], dtype=np.int64),
                np.asarray(data["right"], dtype=np.int64),
                np.asarray(data["value"], dtype=np.float64),
                np.asarray(data["leaf"], dtype=bool),
                np.asarray(data["roots"], dtype=np.int64),
                float(data["baseline"]),
                int(data["depth"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: malformed tree model ({exc})") from None
        n = t.feature.size
        sizes = {a.size for a in (t.threshold, t.left, t.right, t.value, t.leaf)}
        inner = ~t.leaf
        ok = (
            sizes == {n}
            and t.roots.size > 0
            and bool(np.all((t.roots >= 0) & (t.roots < n)))
            and bool(np.all((t.feature[inner] >= 0) & (t.feature[inner] < n_features)))
            and bool(np.all((t.left[inner] >= 0) & (t.left[inner] < n) & (t.right[inner] >= 0) & (t.right[inner] < n)))
            and bool(np.all(np.isfinite(t.value)))
            and math.isfinite(t.baseline)
            and 0 < t.depth <= 64
        )
        if not ok:
            raise ConfigError(f"{where}: inconsistent tree model")
        return t


def from_sklearn(model: Any, columns: list[int] | None = None) -> Trees:
    """Export a fitted HistGradientBoostingClassifier (binary) or Regressor; `columns` maps the model's
    feature indices to columns of the full feature matrix (when it was fit on a subset)."""
    cols = np.asarray(columns if columns is not None else np.arange(model.n_features_in_), dtype=np.int64)
    feats, thr, left, right, val, leaf, roots = [], [], [], [], [], [], []
    offset, depth = 0, 1
    for (pred,) in model._predictors:
        nodes = pred.nodes
        roots.append(offset)
        feats.append(np.where(nodes["is_leaf"] == 1, 0, cols[nodes["feature_idx"]]))
        thr.append(nodes["num_threshold"])
        left.append(np.where(nodes["is_leaf"] == 1, 0, nodes["left"].astype(np.int64) + offset))
        right.append(np.where(nodes["is_leaf"] == 1, 0, nodes["right"].astype(np.int64) + offset))
        val.append(np.where(nodes["is_leaf"] == 1, nodes["value"], 0.0))
        leaf.append(nodes["is_leaf"] == 1)
        depth = max(depth, int(nodes["depth"].max()) + 1)
        offset += len(nodes)
    return Trees(
        np.concatenate(feats).astype(np.int64),
        np.concatenate(thr).astype(np.float64),
        np.concatenate(left),
        np.concatenate(right),
        np.concatenate(val).astype(np.float64),
        np.concatenate(leaf),
        np.asarray(roots, dtype=np.int64),
        float(np.ravel(model._baseline_prediction)[0]),
        depth,
    )
