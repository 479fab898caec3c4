"""How a streamed run is executed, shared by every stream engine (dedup, select, quality, embed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from qdc.errors import ConfigError
from qdc.io.read import DEFAULT_BATCH_ROWS
from qdc.scale import memory


@dataclass(frozen=True)
class RunOptions:
    """Batch size, memory limit and executor of a streamed run: how it runs, never what it computes (the
    output is the same for every value)."""

    batch_rows: int = DEFAULT_BATCH_ROWS
    """Rows read at a time (shrunk to fit `max_memory`)."""
    max_memory: int | None = None
    """Memory limit in bytes: smaller batches, or ConfigError when nothing fits."""
    backend: Literal["local", "ray"] = "local"
    """ray: the engine hands its parallel step to Ray Data (`qdc.scale.ray`)."""
    ray_address: str | None = None
    """An existing Ray cluster (e.g. auto); default: start a local instance."""
    ray_cpus: int | None = None
    """CPUs of the local Ray instance (default: all; the embedder's model-holding workers: 2)."""

    def __post_init__(self) -> None:
        if self.backend not in ("local", "ray"):
            raise ConfigError(f"backend {self.backend!r}: expected local or ray")

    @classmethod
    def parse(
        cls,
        batch_rows: int | None,
        max_memory: str | None,
        executor: str,
        ray_address: str | None = None,
        ray_cpus: int | None = None,
    ) -> RunOptions:
        """From the command line's text (`--max-memory 16G`, `--executor ray`); Ray must be installed for ray."""
        if executor not in ("local", "ray"):
            raise ConfigError(f"--executor {executor!r}: expected local or ray")
        if executor == "ray":
            from qdc.scale.ray import require_ray

            require_ray()
        limit = None if max_memory is None else memory.parse_size(max_memory)
        return cls(batch_rows or DEFAULT_BATCH_ROWS, limit, executor, ray_address, ray_cpus)  # type: ignore[arg-type]

    @property
    def ray(self) -> bool:
        return self.backend == "ray"

    def start(self, num_cpus: int | None = None) -> None:
        """Connect to Ray (or start it with `num_cpus`, default `ray_cpus`) when the backend is ray."""
        if self.ray:
            from qdc.scale import ray as ray_backend

            ray_backend.init(self.ray_address, num_cpus or self.ray_cpus)

    def plan(
        self, make: Callable[[int], memory.Estimate], on_estimate: memory.OnEstimate | None
    ) -> tuple[memory.Estimate, int]:
        """(estimate, batch rows): `make(rows)` for `batch_rows`, shrunk to fit `max_memory` (or ConfigError);
        `on_estimate` hears the estimate, and a notice says when the batches were shrunk."""
        est, fitted = memory.plan(make, self.batch_rows, self.max_memory)
        memory.announce(est, fitted, self.batch_rows, self.max_memory, on_estimate)
        return est, fitted
