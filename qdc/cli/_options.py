"""Options declared once: each command lists its options in a table (`Opt`: flags, type, default, help, and
the config key it sets) and `command()` turns the table into typer parameters.

A command with a stage config also takes `--config FILE` and `--set KEY=VALUE`. Its config is built in
layers, each above the last: the option defaults, the `--config` file, the `--set` items (in order), the
flags given on the command line. The file holds the stage's section as in a `qdc run` pipeline (for
`qdc select`, the keys of a pipeline's `select:` entry), or is a whole pipeline file, whose first stage of
that name is read (with the pipeline's `seed` when the stage sets none). `--set` takes dotted keys into the
stage config (`bandit.alpha=0.5`; values are parsed as YAML). An unknown key or a bad value is one
ConfigError (exit 2) that names it.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qdc.cli._common import Inputs, embed_config, handle_errors, io_config, trim_output
from qdc.errors import ConfigError, quote

if TYPE_CHECKING:
    import polars as pl
    from pydantic import BaseModel

    from qdc.config import StageConfig
    from qdc.embed import EmbedConfig


@dataclass(frozen=True)
class Opt:
    """One option: `flags` as typer takes them ("--method -m", "--junk-gate/--no-junk-gate", or an upper-case
    name for the positional argument), the python type and default, help, and the dotted config `key` it sets
    (None: the command reads it itself; several keys separated by commas). `convert` turns the flag's value into
    the config's."""

    flags: str
    type: Any
    default: Any
    help: str
    key: str | None = None
    panel: str | None = None
    convert: Callable[[Any], Any] | None = None
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more typer.Option settings: hidden, min, max
    given_only: bool = False  # set the key only when the flag is given (its default is another setting's)

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
        return type(self)(**{**self.__dict__, **changes})


class Args(dict[str, Any]):
    """A command's option values by parameter name, also readable as attributes (`a.output`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


# ------------------------------------------------------------------------------------- shared tables

_IN = "Input"
_EMB = "Embedding"
INPUT = Opt("INPUT", str, "-", "Input file (.jsonl, .jsonl.gz, .jsonl.zst, .parquet) or '-'.")
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
)
DROP_QDC = Opt(
    "--drop-qdc",
    bool,
    False,
    "Write no qdc_ columns (embeddings, scores): the input rows as they were.",
    panel="Output",
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
    parent: typer.Typer, name: str, options: Sequence[Opt], config: str | None = None, section: str | None = None
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register `fn(a: Args[, cfg])` as command `name` with `options` (+ --config/--set when `config`, a
    'module:Class' path imported only when the command runs, names the stage config). Returns the command
    as typer calls it (keyword arguments, one per option, and `ctx`)."""
    opts = [*options, CONFIG, SET] if config else list(options)
    params = [o.parameter() for o in opts]
    params.append(inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context))

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(fn)
        def run(**kwargs: Any) -> None:
            ctx = kwargs.pop("ctx")
            a = Args(kwargs)
            if config is None:
                return fn(a)
            return fn(a, build_config(config, section or name, opts, a, ctx))

        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        run.qdc_options = (tuple(opts), config)  # type: ignore[attr-defined]  # read by tests/test_cli_defaults.py
        registered = handle_errors(run)
        parent.command(name)(registered)
        return registered  # inspect.signature shows the command's options

    return decorate


def _given(ctx: typer.Context, param: str) -> bool:
    source = ctx.get_parameter_source(param)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT", "PROMPT")


def _put(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for part in path[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = target[part] = {}
        target = nxt
    target[path[-1]] = value


def _merge(target: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """`top` over `target`, section by section."""
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
    return target


def build_config(spec: str, section: str, opts: Sequence[Opt], a: Args, ctx: typer.Context) -> StageConfig:
    """The stage config: option defaults < --config < --set < flags given on the command line."""
    from qdc.config import validate_config

    module, _, cls_name = spec.partition(":")
    cls: type[StageConfig] = getattr(importlib.import_module(module), cls_name)
    defaults: dict[str, Any] = {}
    given: dict[str, Any] = {}
    for o in opts:
        if o.key is None or (not _given(ctx, o.param) and (a[o.param] is None or o.given_only)):
            continue
        value = o.convert(a[o.param]) if o.convert is not None else a[o.param]
        for key in o.key.split(","):
            _put(given if _given(ctx, o.param) else defaults, key.split("."), value)
    data = defaults
    if a.config is not None:
        from qdc.pipeline.config import flag_names  # `method:` reads as `methods:`, as in `qdc run` files

        _merge(data, flag_names(read_section(a.config, section, cls), cls, a.config))
    for item in a.set_ or ():
        path, value = _override(cls, section, item)
        _put(data, path, value)
    where = " + ".join([f"--config {a.config}"] * (a.config is not None) + ["--set"] * bool(a.set_) + ["flags"])
    return validate_config(cls, _merge(data, given), where)


def read_section(path: str, section: str, cls: type[StageConfig]) -> dict[str, Any]:
    """The stage section of a `--config` file: the file itself, or a pipeline file's `section` stage."""
    from qdc.config import load_yaml

    data = load_yaml(path)
    if "stages" not in data:
        return data
    for item in data.get("stages") or []:
        if item == section:
            body: Any = {}
        elif isinstance(item, dict) and section in item:
            body = item[section] if item[section] is not None else {}
        else:
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: stage '{section}': options must be a mapping (got {quote(body)})")
        section_data: dict[str, Any] = dict(body)
        if "seed" in data and "seed" in cls.model_fields:
            section_data.setdefault("seed", data["seed"])
        return section_data
    raise ConfigError(f"{path}: has no `{section}` stage to read options from")


def _override(cls: type[StageConfig], section: str, item: str) -> tuple[list[str], Any]:
    """A `--set` item as (key path, value), the key checked against the config ('select.budget' works too)."""
    from pydantic import BaseModel

    from qdc.config import parse_override
    from qdc.pipeline.config import flag_names

    path, value = parse_override(item)
    if path[0] == section and path[0] not in cls.model_fields and len(path) > 1:
        path = path[1:]
    path[0] = next(iter(flag_names({path[0]: None}, cls, f"--set {item}")))
    model: type[BaseModel] = cls
    for i, part in enumerate(path):
        fields = model.model_fields
        if part not in fields:
            key = ".".join(path[: i + 1])
            raise ConfigError(f"--set {item}: unknown key {quote(key)} (allowed: {', '.join(sorted(fields))})")
        ann = fields[part].annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        elif i < len(path) - 1 and "dict" not in str(ann):
            raise ConfigError(f"--set {item}: {quote(part)} is a value, not a section")
        else:
            break
    return path, value


# ------------------------------------------------------------------------------------- helpers


def read_inputs(a: Args, output: str | None = None) -> Inputs:
    """The reader of the io options (`Inputs.finish` writes the bad-rows file next to `output`)."""
    io = io_config(a.text_field, a.template, a.roles, a.id_field, a.get("on_bad_rows", "error"))
    return Inputs(io, a.get("bad_rows_file"), output if output is not None else a.get("output", "-"))


def embedding(a: Args, field: str | None = None) -> EmbedConfig:
    """The embedding config of the embedding options."""
    return embed_config(
        a.get("model", "default"),
        a.batch_size,
        a.get("device", "auto"),
        a.no_cache,
        field or a.get("embed_field", "text"),
        a.get("force", False),
    )


def write_rows(a: Args, df: pl.DataFrame) -> None:
    """Write the command's rows to -o, trimmed by --columns / --drop-qdc."""
    from qdc.io import write_records

    write_records(trim_output(df, a.columns, a.drop_qdc), a.output)


def rows_to_file(a: Args, hint: str = "") -> None:
    """Usage error for --json with the rows on stdout (stdout carries one kind of data)."""
    if a.json and a.output == "-":
        raise ConfigError(f"--json prints a summary on stdout; pass -o FILE for the rows{hint}")
