"""What `qdc run` says, as plain data: the files it reads and writes (its plan, `--dry-run`), each stage's
summary as one line of notes, and the embedding, io and seed a `qdc check --config` takes from a pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: `qdc check` reads no pipeline file unless given one
    from qdc.embed import EmbedConfig
    from qdc.io import IOConfig
    from qdc.pipeline.config import Pipeline


@dataclass(frozen=True)
class RunPlan:
    """The files of a run: the input, the output, the work folder (None: none), the ledger and the manifest."""

    pipeline: Pipeline
    input: str
    output: str
    workdir: str | None
    ledger: str
    manifest: str

    @classmethod
    def resolve(
        cls,
        pipeline: Pipeline,
        input: str | None = None,
        output: str | None = None,
        workdir: str | None = None,
        no_workdir: bool = False,
        removed: str | None = None,
        manifest: str | None = None,
    ) -> RunPlan:
        """Each file from the command line, else the pipeline file, else the default ('-', `.qdc-work`, and
        the ledger and manifest beside the output: `files.side_paths`, what `run_file` writes)."""
        from qdc.pipeline.files import side_paths
        from qdc.pipeline.run import DEFAULT_WORKDIR

        out = output or pipeline.output or "-"
        ledger, manifest_file, _ = side_paths(out, removed, manifest)
        wd = None if no_workdir else (workdir or pipeline.workdir or DEFAULT_WORKDIR)
        return cls(pipeline, input or pipeline.input or "-", out, wd, ledger, manifest_file)

    def files(self) -> list[str]:
        """The plan's head: the config and the files, one line each."""
        p = self.pipeline
        return [
            f"plan for {p.source} (config valid; nothing was read or written)",
            f"  input:    {self.input}",
            f"  output:   {'stdout' if self.output == '-' else self.output}",
            f"  ledger:   {self.ledger}",
            f"  manifest: {self.manifest}",
            f"  workdir:  {self.workdir or 'none (--no-workdir)'}",
            f"  seed:     {p.seed}; embedding model: {p.embed.model}",
        ] + [f"  io:       {io}" for io in [self.io_changes()] if io]

    def io_changes(self) -> str:
        """How rows are read, where it differs from the defaults ('' when it does not)."""
        import dataclasses

        from qdc.io import IOConfig

        io, base = self.pipeline.io, IOConfig()
        changed = {
            f.name: getattr(io, f.name) for f in dataclasses.fields(io) if getattr(io, f.name) != getattr(base, f.name)
        }
        return ", ".join(f"{k}={','.join(v) if isinstance(v, tuple) else v}" for k, v in changed.items())

    def embedding_cache(self) -> str:
        """Where the embedding cache is ("off" when disabled): a config's cache_dir may point anywhere."""
        from qdc.embed.cache import default_cache_dir

        embed = self.pipeline.embed
        return "off" if not embed.cache else str(embed.cache_dir or default_cache_dir())

    def stages(self) -> list[str]:
        """One line per stage: the keys its config changes from the defaults (the global seed is in `files`)."""
        out = []
        for st in self.pipeline.stages:
            changed = st.config.model_dump(mode="json", exclude_defaults=True)
            changed.pop("seed", None)
            opts = ", ".join(f"{k}={v}" for k, v in sorted(changed.items())) or "defaults"
            out.append(f"  {st.position:>2} {st.name}: {opts}")
        return out


def stage_notes(summary: dict[str, Any]) -> str:
    """A stage's summary as `key=value` pairs, keys sorted (the same order on a fresh and a cached run);
    nested values left out."""
    return ", ".join(f"{k}={_value(summary[k])}" for k in sorted(summary) if not isinstance(summary[k], (dict, list)))


def _value(v: object) -> str:
    """Numbers to 4 significant digits, also a number a cached record kept as text ('0.964917'), so a
    cached run's notes read like the fresh run's."""
    if isinstance(v, int):  # bool included
        return str(v)
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(v)
    return str(v) if isinstance(v, str) and v.strip().isdigit() else f"{f:.4g}"


def check_context(config: str | None, io: IOConfig, io_given: bool) -> tuple[EmbedConfig, IOConfig, int]:
    """(embed config, io config, seed) of `qdc check`: a pipeline file's (`config` with `stages`; the io
    options win when given), else the defaults. Bad rows are always skipped and counted (`on_bad_rows=skip`)."""
    from qdc.config import load_yaml
    from qdc.embed import EmbedConfig

    if config is None or "stages" not in load_yaml(config):
        return EmbedConfig(), io, 0
    from qdc.pipeline.config import load_pipeline

    pipe = load_pipeline(config)
    base = io if io_given else pipe.io
    return pipe.embed, type(io)(base.text_field, base.template, base.roles, base.id_field, "skip"), pipe.seed
