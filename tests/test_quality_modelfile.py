"""The learned and classifier model files are read and checked by one helper (qdc.quality.modelfile)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qdc.errors import ConfigError
from qdc.quality import classifier, learned, modelfile


@pytest.mark.parametrize(("load", "what"), [(learned.load, "learned quality model"), (classifier.load, "classifier")])
def test_both_model_files_refuse_the_same_way(tmp_path: Path, load, what) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"bad\.json: cannot read the .*{what}"):
        load(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something-else", "version": 1}), encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"other\.json: not a qdc .*{what}"):
        load(other)
    fmt = learned.FORMAT if load is learned.load else classifier.FORMAT
    other.write_text(json.dumps({"format": fmt, "version": 99}), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{what} version 99 is not supported"):
        load(other)


def test_missing_files_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="train one with `qdc train-quality`"):
        classifier.load(tmp_path / "none.json")
    with pytest.raises(ConfigError, match=r"none\.json: cannot read the learned quality model"):
        learned.load(tmp_path / "none.json")


def test_sigmoid_is_bounded_and_monotone() -> None:
    p = modelfile.sigmoid(np.array([-1e9, -1.0, 0.0, 1.0, 1e9]))
    assert p[2] == 0.5 and np.all(np.diff(p) > 0) and 0.0 < p[0] < 1e-20 and p[-1] == 1.0
