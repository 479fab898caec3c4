"""Notices after reading rows, for options the rows make moot (silent before): an explicit `--model` when the
rows carry qdc_embedding (the command uses those; only `qdc embed --force` re-embeds), and `--roles` when the rows
are read by their instruction/output (or text) fields, not as chat turns; and chat rows whose last turn is
the user's (DPO/KTO files keep the answers elsewhere), whose response is empty."""

from __future__ import annotations

from typing import Any


def noting(reader: Any, a: Any) -> None:
    """Wrap `reader.read` (a Quarantine's) so each input read says what of `a`'s given options it ignores."""
    read = reader.read
    model = a.model if "model" in a.given and a.flags.get("model") == "--model" and "force" not in a else None
    roles = a.roles if "roles" in a.given else None

    def read_and_note(path: Any) -> Any:
        from qdc import schema

        df = read(path)
        name = " ".join(map(str, path)) if isinstance(path, list | tuple) else str(path)
        dim = schema.stored_dim(df) if model is not None else None
        if dim is not None:
            _notice(
                f"{name}: rows carry {dim}-d qdc_embedding, which this command uses where it needs embeddings; "
                f"--model {model} is not run (`qdc embed --force` re-embeds)"
            )
        scheme = reader.reports[-1].text_scheme if reader.reports else ""
        chat = next((c for c in ("messages", "conversations") if c in df.columns), None)
        if roles is not None and chat is not None and not scheme.startswith("chat:"):
            _notice(
                f"--roles {roles}: {name} is read by its {scheme.partition(':')[2] or scheme} fields, not as chat "
                "turns; "
                f"add --text-field {chat} to read the turns"
            )
        if scheme.startswith("chat:"):
            _unanswered(df, name)
        return df

    reader.read = read_and_note


def _unanswered(df: Any, name: str) -> None:
    from qdc import schema

    empty = int((df[schema.RESPONSE] == "").sum()) if schema.RESPONSE in df.columns else 0
    if empty:
        _notice(
            f"{name}: {empty} of {df.height} rows have no assistant turn after the user's, so their response is "
            "empty (scored as such); answers in other fields (DPO: chosen)? --template '{instruction}\\n\\n{chosen}'"
        )


def _notice(message: str) -> None:
    from qdc.progress import notice

    notice(message)
