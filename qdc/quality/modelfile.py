"""What the quality scorers' JSON model files share: reading one, checking its format and version, and the
logistic link that turns a model's log-odds into a probability. Model files hold numbers only (no pickle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from qdc.errors import ConfigError


def read(path: str | Path, what: str, missing: str | None = None) -> Any:
    """The parsed JSON of model file `path`; ConfigError naming `what` when it cannot be read (`missing`: the
    message for a file that does not exist, e.g. how to make one)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing is not None:
            raise ConfigError(f"{path}: {missing}") from None
        raise ConfigError(f"{path}: cannot read the {what} (no such file)") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc})") from None


def check_header(data: Any, fmt: str, version: int, what: str, where: str) -> None:
    """ConfigError unless `data` is a JSON object of format `fmt` and version `version`."""
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ConfigError(f"{where}: not a qdc {what} (expected format '{fmt}')")
    if data.get("version") != version:
        raise ConfigError(f"{where}: {what} version {data.get('version')} is not supported")


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z), clipped so that no exp overflows."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))))
