"""A notice when an explicit `--model` is moot: rows that carry qdc_embedding are used as they are (only
`qdc embed --force` re-embeds), so vectors of another model would otherwise pass without a word."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def noting_reuse(read: Callable[[Any], Any], model: str) -> Callable[[Any], Any]:
    """`read` (a Quarantine's), saying once per input when its rows already carry qdc_embedding."""

    def read_and_note(path: Any) -> Any:
        df = read(path)
        if "qdc_embedding" in df.columns:
            from qdc.progress import notice

            name = " ".join(path) if isinstance(path, list | tuple) else str(path)
            dim = df.schema["qdc_embedding"].size
            notice(f"{name}: rows carry {dim}-d qdc_embedding, used as they are; --model {model} is not used")
        return df

    return read_and_note
