"""Options declared once: each command lists its options in a table (`Opt`: flags, type, default, help, and
the config key it sets) and `command()` turns the table into typer parameters.

A command with a stage config also takes `--config FILE` and `--set KEY=VALUE` (dotted keys into the stage
config, e.g. `bandit.alpha=0.5`) and receives its config built in layers: option defaults < --config < --set <
flags given on the command line (`qdc.pipeline.layers`). The shared entries (INPUT, OUTPUT, IO, EMBED, SEED,
WRITE, JSON) and the input helpers every command uses are here too.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from qdc.cli._common import State, check_paths, handle_errors, resume_gc
from qdc.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl

    from qdc.embed import EmbedConfig
    from qdc.io import IOConfig, Quarantine


@dataclass(frozen=True)
class Opt:
    """One option: `flags` as typer takes them ("--method -m", "--quality/--no-quality", or an upper-case
    name for the positional argument), the python type and default, help, and the dotted config `key` it sets
    (None: the command reads it itself; several keys separated by commas). `convert` turns the flag's value into
    the config's. An option with a key and no help shows its config field's docstring and default (`K`)."""

    flags: str
    type: Any
    default: Any
    help: str | None
    key: str | None = None
    panel: str | None = None
    convert: Callable[[Any], Any] | None = None
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more typer.Option settings: hidden, min, max
    given_only: bool = False  # set the key only when the flag is given (its default is another setting's)
    stream: bool | None = None  # where the command has --stream: True only with it, False only without it

    @property
    def param(self) -> str:
        """The python parameter name: `name`, else the first flag's ('--no-verify' -> 'no_verify')."""
        if self.name is not None:
            return self.name
        return self.flags.split()[0].split("/")[0].lstrip("-").replace("-", "_").lower()

    def parameter(self) -> inspect.Parameter:
        decls = self.flags.split()
        if decls[0].isupper():
            info: Any = typer.Argument(help=self.help, show_default=True)
        else:
            info = typer.Option(*decls, help=self.help, rich_help_panel=self.panel, **self.extra)
        default = inspect.Parameter.empty if self.default is ... else self.default
        return inspect.Parameter(
            self.param, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[self.type, info]
        )

    def with_(self, **changes: Any) -> Opt:
        """A copy with some fields changed (a shared option with another default or help)."""
        return dataclasses.replace(self, **changes)


def K(flags: str, type_: Any, key: str, help: str | None = None, **kw: Any) -> Opt:
    """An option that sets the config field `key`. Its default is None (not given: the config decides) and
    --help shows the field's docstring and the config's default, so neither is typed twice."""
    return Opt(flags, type_ | None, None, help, key=key, **kw)


def M(flags: str, type_: Any, default: Any, help: str | None, **kw: Any) -> Opt:
    """An option of the in-memory path only: refused with --stream (`qdc.cli._stream._s` is the streamed path's)."""
    return Opt(flags, type_, default, help, stream=False, **kw)


class _Command(TyperCommand):
    """A command whose config options take their help from the config, read only when help is shown."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from qdc.pipeline.fields import option_help  # reads the config's source, imports it only when needed

        options, spec = getattr(self.callback, "qdc_options", ((), ""))
        by_name = {o.param: o for o in options}
        for param in self.params if spec else ():
            opt = by_name.get(param.name or "")
            if opt is not None and opt.key is not None and getattr(param, "help", "") in (None, "", opt.help):
                doc, default = option_help(spec, opt.key.split(",")[0])
                shown = ",".join(map(str, default)) if isinstance(default, (tuple, list)) else default
                worth = default is not None and (bool(default) or isinstance(default, (int, float)))  # not "", [], {}
                more = f" [default: {shown}]" if param.default is None and worth else ""
                param.help = f"{opt.help or doc}{more}"  # type: ignore[attr-defined]
        super().format_help(ctx, formatter)


class Args(dict[str, Any]):
    """A command's option values by parameter name, also readable as attributes (`a.output`)."""

    given: frozenset[str] = frozenset()
    """The parameters given on the command line (set by `command()`)."""
    flags: dict[str, str] = {}  # noqa: RUF012  # each parameter's first flag (set by `command()`)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


# ------------------------------------------------------------------------------------- shared tables

_IN = "Input"
_EMB = "Embedding"
INPUT = Opt(
    "INPUT",
    list[str] | None,
    None,
    "Input: .jsonl, .json (lines or one array), .jsonl.gz, .jsonl.zst, .parquet, a folder, a quoted glob, or - "
    "[default: -]. Several are read in order as one dataset (ids unique across them).",
)
"""The rows to read; the command sees one path (str) or, for several, a list (`qdc.io.read_records` reads both)."""
ONE_INPUT = Opt("INPUT", str, ..., "Input file (.jsonl, .jsonl.gz, .jsonl.zst, .parquet); read twice, so not '-'.")
OUTPUT = Opt("--output -o", str, "-", "Output file or '-' for stdout (JSONL).")
SEED = Opt("--seed", int, 0, "Seed for every random step.", key="seed", extra={"min": 0, "max": 4_294_967_295})
JSON = Opt("--json", bool, False, "Print a JSON summary on stdout.")
TEXT = (
    Opt(
        "--text-field",
        str | None,
        None,
        "Field with the text to analyse [default: text, else instruction/output, else messages].",
        panel=_IN,
    ),
    Opt("--template", str | None, None, "Build the text from fields, e.g. '{instruction}\\n\\n{output}'.", panel=_IN),
    Opt("--roles", str, "user,assistant", "Chat rows: which roles' turns form the text.", panel=_IN),
    Opt("--id-field", str, "id", "Field with row ids; rows without one get a content hash id.", panel=_IN),
)
ON_BAD = Opt(
    "--on-bad-rows", str, "error", "error: stop at the first bad line; skip: quarantine bad lines and go on.", panel=_IN
)
BAD_FILE = Opt(
    "--bad-rows-file",
    str | None,
    None,
    "Where --on-bad-rows skip writes bad lines [default: OUTPUT.bad-rows.jsonl].",
    panel=_IN,
)
IO = (*TEXT, ON_BAD, BAD_FILE)
MODEL = Opt(
    "--model",
    str,
    "default",
    "default (bundled all-MiniLM-L6-v2), static, hash[:DIM], or a sentence-transformers name or folder.",
    panel=_EMB,
)
BATCH = Opt("--batch-size", int, 64, "Rows per model batch.", panel=_EMB)
DEVICE = Opt("--device", str, "auto", "auto, cpu or cuda.", panel=_EMB)
NO_CACHE = Opt("--no-cache", bool, False, "Do not read or write the embedding cache.", panel=_EMB)
EMBED_FIELD = Opt("--embed-field", str, "text", "Part of each row to embed: text, prompt or response.", panel=_EMB)
EMBED = (MODEL, BATCH, DEVICE, NO_CACHE, EMBED_FIELD)

COLUMNS = Opt(
    "--columns",
    str | None,
    None,
    "Keep only these qdc_ columns in the output (comma-separated names or globs, e.g. 'qdc_quality,qdc_cluster*'); "
    "input fields are always kept.",
    panel="Output",
    stream=False,
)
DROP_QDC = Opt(
    "--drop-qdc",
    bool,
    False,
    "Write no qdc_ columns (embeddings, scores): the input rows as they were.",
    panel="Output",
    stream=False,
)
WRITE = (COLUMNS, DROP_QDC)
CONFIG = Opt(
    "--config",
    str | None,
    None,
    "YAML file with this stage's options (its section of a `qdc run` config, or a whole pipeline file); "
    "--set and the flags given override it.",
    panel="Config",
)
SET = Opt(
    "--set",
    list[str] | None,
    None,
    "KEY=VALUE into the stage config (dotted, e.g. bandit.alpha=0.5; repeatable); above --config, below flags.",
    name="set_",
    panel="Config",
)


def negate(value: Any) -> bool:
    """For a `--no-X` flag that sets the config key X."""
    return not value


# ------------------------------------------------------------------------------------- the builder


def command(
    parent: typer.Typer, name: str, options: Sequence[Opt], config: str | None = None, rows: bool = False
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register `fn(a: Args[, cfg])` as command `name` with `options` (+ --config/--set when `config`, a
    'module:Class' path imported only when the command runs, names the stage config; `rows`: a command that
    reads and writes rows, so INPUT, -o, --columns, --drop-qdc, the input options and --json around them; an
    option of `options` named as one of those takes its place). Flags of the other path of a command with
    --stream are refused (`Opt.stream`). Returns the command as typer calls it (keyword arguments and `ctx`)."""
    if rows:
        own, head, tail = {o.param: o for o in options}, (INPUT, OUTPUT, *WRITE), (*IO, JSON)
        shared = {o.param for o in (*head, *tail)}
        mine = [o for o in options if o.param not in shared]
        options = [*(own.get(o.param, o) for o in head), *mine, *(own.get(o.param, o) for o in tail)]
    opts = [*options, CONFIG, SET] if config else list(options)
    params = [o.parameter() for o in opts]
    params.append(inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context))
    many = INPUT in opts
    flag_names = {o.param: o.flags.split()[0].split("/")[0] for o in opts}

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(fn)
        def run(**kwargs: Any) -> None:
            ctx = kwargs.pop("ctx")
            if many:  # INPUT...: none is stdin, one a path, several a list
                paths = kwargs["input"] or ()
                kwargs["input"] = list(paths) if len(paths) > 1 else paths[0] if paths else "-"
            a = Args(kwargs)
            a.given = frozenset(p for p in kwargs if _given(ctx, p))  # flags given on the command line
            a.flags = flag_names
            try:
                built = () if config is None else (_build_config(config, name, opts, a),)
            except Exception:
                check_paths(a)  # an error in the config must not hide an output over an input
                raise
            check_paths(a, *built)  # once: the parameters' files and those the config reads, whichever layer set them
            if "stream" in a:
                _refuse_other_path(a, opts)
            if State.alias:
                from qdc.progress import notice

                notice(State.alias)
                State.alias = None
            resume_gc()
            return fn(a, *built)

        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        run.qdc_options = (tuple(opts), config)  # type: ignore[attr-defined]  # read by tests/test_cli_defaults.py
        registered = handle_errors(run)
        parent.command(name, cls=_Command)(registered)
        return registered  # inspect.signature shows the command's options

    return decorate


def _refuse_other_path(a: Args, opts: Sequence[Opt]) -> None:
    """One line for flags of the other path: streaming ones without --stream, in-memory ones with it."""
    wrong = ", ".join(a.flags[o.param] for o in opts if o.param in a.given and o.stream is (not a.stream))
    if wrong and not a.stream:
        raise ConfigError(f"{wrong}: only with --stream (they go with --stream)")
    if wrong:
        raise ConfigError(f"--stream does not take {wrong}; run without --stream")


def _given(ctx: typer.Context, param: str) -> bool:
    source = ctx.get_parameter_source(param)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT")


def _build_config(spec: str, section: str, opts: Sequence[Opt], a: Args) -> Any:
    """The stage config: option defaults < --config < --set < flags given on the command line."""
    from qdc.pipeline.layers import put, stage_config

    layers: tuple[dict[str, Any], dict[str, Any]] = ({}, {})  # option defaults, flags given
    for o in opts:
        given = o.param in a.given
        if o.key is None or (not given and (a[o.param] is None or o.given_only)):
            continue
        value = o.convert(a[o.param]) if o.convert is not None else a[o.param]
        for key in o.key.split(","):
            put(layers[given], key.split("."), value)
    return stage_config(spec, section, layers[0], a.config, a.set_ or (), layers[1])


# ------------------------------------------------------------------------------------- helpers


def io_config(text_field: str | None, template: str | None, roles: str, id_field: str, on_bad_rows: str) -> IOConfig:
    from qdc.io import IOConfig

    if on_bad_rows not in ("error", "skip"):
        raise ConfigError(f"--on-bad-rows {on_bad_rows!r}: expected error or skip")
    role_list = tuple(r.strip() for r in roles.split(",") if r.strip())
    if not role_list:
        raise ConfigError("--roles: name at least one role, e.g. user,assistant")
    return IOConfig(
        text_field=text_field,
        template=template,
        roles=role_list,
        id_field=id_field,
        on_bad_rows=on_bad_rows,  # type: ignore[arg-type]
    )


def check_output_path(output: str) -> None:
    """Fail early (exit 2) on an output name whose format is unknown or whose folder is missing."""
    from qdc.io import detect_format

    detect_format(output)
    if output != "-" and not Path(output).parent.exists():
        raise ConfigError(f"-o {output}: folder {Path(output).parent} does not exist")


def read_inputs(a: Args, output: str | None = None) -> Quarantine:
    """The reader of the io options (`finish` writes the bad-rows file, by default next to `output`)."""
    from qdc.io import Quarantine

    io = io_config(a.text_field, a.template, a.roles, a.id_field, a.get("on_bad_rows", "error"))
    reader = Quarantine(io, output if output is not None else a.get("output", "-"), a.get("bad_rows_file"))
    from qdc.cli._read_notes import noting

    noting(reader, a)  # what the rows make of the options (a moot --model or --roles, chats without answers)
    return reader


def embedding(a: Args, field: str | None = None) -> EmbedConfig:
    """The embedding config of the embedding options (EmbedConfig checks them: --batch-size 0 is exit 2)."""
    from qdc.config import validate_config
    from qdc.embed import EmbedConfig

    keys = {"model": a.get("model", "default"), "device": a.get("device", "auto"), "force": a.get("force", False)}
    data = {**keys, "batch_size": a.batch_size, "cache": not a.no_cache, "field": field or a.get("embed_field", "text")}
    cfg: EmbedConfig = validate_config(EmbedConfig, data, "options")
    return cfg


def transform(a: Args, call: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
    """The one path of a command that reads and writes rows: check the outputs, read INPUT, `call` the library,
    write the rows (--columns / --drop-qdc), then the bad-rows file. Returns the rows written."""
    check_outputs(a)
    inputs = read_inputs(a)
    out = call(inputs.read(a.input))
    write_rows(a, out)
    inputs.finish()
    return out


def column_names(a: Args) -> list[str] | None:
    """--columns as a list (None: not given); usage error with --drop-qdc too."""
    if a.columns is not None and a.drop_qdc:
        raise ConfigError("--columns and --drop-qdc: give one")
    return [c.strip() for c in a.columns.split(",") if c.strip()] if a.columns is not None else None


def write_rows(a: Args, df: pl.DataFrame) -> None:
    """Write the command's rows to -o, trimmed by --columns / --drop-qdc (`qdc.io.output_columns`)."""
    from qdc.io import output_columns, write_records

    write_records(output_columns(df, column_names(a), a.drop_qdc), a.output)


def shown(paths: str | list[str]) -> str:
    """INPUT as people read it: the path, or several joined by commas."""
    return paths if isinstance(paths, str) else ", ".join(paths)


def check_outputs(a: Args) -> None:
    """Fail early (exit 2) on the output files (-o, --removed) and on --json with the rows on stdout (stdout
    carries one kind of data); nothing to check with --dry-run."""
    if a.get("dry_run"):
        return
    for path in (a.get("output"), a.get("removed")):
        if path is not None:
            check_output_path(path)
    if a.get("json") and a.get("output") == "-":
        hint = " (or --dry-run)" * ("dry_run" in a)
        raise ConfigError(f"--json prints a summary on stdout; pass -o FILE for the rows{hint}")
