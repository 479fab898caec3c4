"""Notices after reading rows, for options the rows make moot (silent before): an explicit `--model` when the
rows carry qdc_embedding (used as they are; only `qdc embed --force` re-embeds), and `--roles` when the rows
are read by their instruction/output (or text) fields, not as chat turns."""

from __future__ import annotations

from typing import Any


def noting(reader: Any, a: Any) -> None:
    """Wrap `reader.read` (a Quarantine's) so each input read says what of `a`'s given options it ignores."""
    read = reader.read
    model = a.model if "model" in a.given and a.flags.get("model") == "--model" and "force" not in a else None
    roles = a.roles if "roles" in a.given else None

    def read_and_note(path: Any) -> Any:
        df = read(path)
        name = " ".join(map(str, path)) if isinstance(path, list | tuple) else str(path)
        if model is not None and "qdc_embedding" in df.columns:
            dim = df.schema["qdc_embedding"].size
            _notice(f"{name}: rows carry {dim}-d qdc_embedding, used as they are; --model {model} is not used")
        scheme = reader.reports[-1].text_scheme if reader.reports else ""
        chat = next((c for c in ("messages", "conversations") if c in df.columns), None)
        if roles is not None and chat is not None and not scheme.startswith("chat:"):
            _notice(
                f"--roles {roles}: {name} is read by its {scheme.partition(':')[2] or scheme} fields, not as chat "
                "turns; "
                f"add --text-field {chat} to read the turns"
            )
        return df

    reader.read = read_and_note


def _notice(message: str) -> None:
    from qdc.progress import notice

    notice(message)
