"""The streaming options (`--stream` on dedup, select and score-quality; `qdc scale embed|score`) and the one
path every streamed command takes: check the flags and files, run the engine, write the bad rows, report."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qdc.cli._common import State, show
from qdc.cli._options import Args, Opt, check_outputs
from qdc.errors import ConfigError
from qdc.progress import notice

if TYPE_CHECKING:
    from qdc.io import ReadReport
    from qdc.scale.options import RunOptions


def _s(flags: str, type_: Any, help: str, default: Any = None) -> Opt:
    """An option of the streamed path only."""
    return Opt(flags, type_, default, help, panel="Streaming", stream=True)


STREAM = Opt("--stream", bool, False, "Read a file larger than memory in batches.", panel="Streaming")
EMBEDDINGS = _s("--embeddings -e", str | None, "With --stream: (n, d) float16/float32 .npy, row i embeds row i.")
BATCH_ROWS = _s("--batch-rows", int | None, "With --stream: rows read at a time [default: 100,000].")
MAX_MEMORY = _s("--max-memory", str | None, "With --stream: memory limit, e.g. 16G (smaller batches, else exit 2).")
EXECUTOR = _s("--executor", str, "With --stream: local, or ray (needs qdc[ray]).", "local")
RAY_ADDRESS = _s("--ray-address", str | None, "Existing Ray cluster, e.g. auto [default: start a local one].")
RAY_CPUS = _s("--ray-cpus", int | None, "CPUs of the local Ray instance [default: all].")
STREAMING = (BATCH_ROWS, MAX_MEMORY, EXECUTOR, RAY_ADDRESS, RAY_CPUS)


def run_options(a: Args) -> RunOptions:
    """The engines' shared run options: batch rows, memory limit, executor and Ray settings."""
    from qdc.scale.options import RunOptions

    return RunOptions.parse(a.batch_rows, a.max_memory, a.executor, a.get("ray_address"), a.get("ray_cpus"))


def streamed(
    a: Args, name: str, engine: Callable[[ReadReport, Any], dict[str, Any]], say: Callable[..., str], rows: bool = True
) -> None:
    """Run `engine(report, on_estimate)` over the one INPUT file (read twice, so not stdin), write the bad
    rows as every command does, and report `say(stats)` on stderr or the stats with --json. `rows`: -o takes
    rows (not `embed --stream`'s .npy)."""
    from qdc.io import IOConfig, Quarantine

    if a.input == "-" or not isinstance(a.input, str):
        raise ConfigError("streaming runs read one INPUT file twice: pass a file, not '-' (or run without --stream)")
    if rows:
        check_outputs(a)
    est = None if State.quiet else lambda e: notice(f"{name}: {e.describe()}")  # JSON under --log-json
    quarantine = Quarantine(IOConfig(), a.get("output"), a.get("bad_rows_file"))
    stats = engine(quarantine.report(), est)
    if not a.get("dry_run") and "output" in a:
        quarantine.finish()
    show(a, stats, say(stats))
