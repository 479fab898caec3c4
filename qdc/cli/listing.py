"""`qdc strategies`, `qdc stages`, `qdc clean`: what there is to choose from, and housekeeping."""

from __future__ import annotations

import typer

from qdc.cli import _options as o
from qdc.cli import app
from qdc.cli._common import print_json, show


@o.command(app, "strategies", (o.JSON,))
def strategies_cmd(a: o.Args) -> None:
    """List the selection strategies of `qdc select --strategy` (and the `select` stage's `strategy`).

    **Example:** `qdc strategies`
    """
    from qdc.select.defaults import STRATEGIES, STRATEGY_SUMMARIES, TOP

    default = TOP["strategy"]
    rows = [{"name": s, "default": s == default, "summary": STRATEGY_SUMMARIES[s]} for s in STRATEGIES]
    if a.json:
        print_json({"strategies": rows})
        return
    width = max(len(s) for s in STRATEGIES)
    for r in rows:
        typer.echo(f"{r['name']:<{width}}  {r['summary']}")


@o.command(
    app,
    "stages",
    (o.Opt("--keys", bool, False, "Also list each key with its default and help.", name="with_keys"), o.JSON),
)
def stages_cmd(a: o.Args) -> None:
    """List the stages a `qdc run` pipeline file may name, with their options (the config keys); `--keys`
    (and `--json`) also gives each key's default and help: the keys `--config FILE` and `--set KEY=VALUE` set,
    and the help their flags show.

    A stage's options are its command's flags with `_` for `-` (`budget_tokens`); the flag spelling
    (`budget-tokens`, `method` for `methods`) is accepted too.

    **Example:** `qdc stages --keys`
    """
    from qdc.pipeline import STAGES
    from qdc.pipeline.fields import config_keys

    rows = [
        {"name": name, "summary": spec.summary, "options": list(spec.config.model_fields)}
        | {"keys": config_keys(spec.config)}
        for name, spec in STAGES.items()
    ]
    if a.json:
        return print_json({"stages": rows})
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        typer.echo(f"{r['name']:<{width}}  {r['summary']}")
        typer.echo(f"{'':<{width}}  options: {', '.join(r['options'])}")
        for k in r["keys"] if a.with_keys else ():
            typer.echo(f"{'':<{width}}    {k['key']} = {k['default']!r}: {k['help']}")


@o.command(
    app,
    "clean",
    (o.Opt("WORKDIR", str, ".qdc-work", "Work directory of `qdc run` to delete (only a folder that is one)."), o.JSON),
)
def clean_cmd(a: o.Args) -> None:
    """Delete a `qdc run` work directory (stored stage artifacts; the next run starts from scratch).

    Refuses a folder that holds anything but a work directory's `stages/` and `lock`, and one a running
    `qdc run` holds.

    **Example:** `qdc clean .qdc-work`
    """
    from qdc.pipeline import clean_workdir
    from qdc.units import format_bytes

    files, size = clean_workdir(a.workdir)
    said = f"removed {a.workdir}: {files} files, {format_bytes(size)}"
    said = f"{a.workdir}: nothing to clean (no such folder, or empty)" if files == 0 and size == 0 else said
    show(a, {"workdir": a.workdir, "files_removed": files, "bytes_freed": size}, said)
