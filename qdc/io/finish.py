"""Checks over a whole read that no single row shows (`finish_read`)."""

from __future__ import annotations

from qdc.errors import DataError
from qdc.io.rows import IOConfig, _RowBuilder
from qdc.io.text import DEFAULT_TEXT_FIELD, canonical_roles


def finish_read(builder: _RowBuilder) -> None:
    """Checks over a whole read that no single row shows: options that matched nothing.

    Raises ConfigError (exit 2) when `--roles` matched no message in any row, or a `--id-field` other than the
    default is in no row; DataError (exit 1) when every row's text is empty. Notices for the partial cases
    (some rows without an id, a role that matched nothing, some empty texts).
    """
    from qdc.errors import ConfigError
    from qdc.progress import notice

    cfg, n, src = builder.cfg, builder.n_rows, builder.source
    if n == 0:
        return
    chat = builder.spec is not None and builder.spec.scheme.startswith("chat:")
    if chat:
        wanted = canonical_roles(cfg.roles)
        missing = [r for r in wanted if r not in builder.roles_seen]
        have = ", ".join(sorted(builder.roles_seen)) or "none"
        if len(missing) == len(wanted):
            raise ConfigError(
                f"{src}: --roles {','.join(cfg.roles)} matched no message in {n} rows (roles in the file: {have}); "
                "every text would be empty"
            )
        if missing:
            notice(f"--roles: {', '.join(missing)} matched no message (roles in the file: {have})")
    if builder.n_empty == n:
        scheme = builder.spec.describe() if builder.spec is not None else "?"
        message = f"{src}: the text of every row ({n}) is empty (text from {scheme})"
        if builder.spec is not None and builder.spec.scheme == f"field:{DEFAULT_TEXT_FIELD}" and not cfg.text_field:
            notice(message + "; every row will look alike")  # the data's own field, not an option's choice
        else:
            raise DataError(message + "; pick another --text-field, --template or --roles")
    elif builder.n_empty:
        notice(f"{builder.n_empty} of {n} rows have empty text (first: {builder.first_empty})")
    if builder.n_derived == n and cfg.id_field != IOConfig.id_field:
        fields = ", ".join(builder.first_fields[:8]) or "none"
        raise ConfigError(f"{src}: --id-field {cfg.id_field}: no row has this field (fields: {fields})")
    if 0 < builder.n_derived < n:
        notice(f"{builder.n_derived} of {n} rows have no '{cfg.id_field}' field; they got content-hash ids (qdc_id)")
