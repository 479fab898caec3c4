"""Ray start-up and resources: `require_ray`, `init`, `cluster_cpus` (Ray is the optional extra `qdc[ray]`).

The Ray Data operations sit beside the local code they parallelise, so the two stay one algorithm:
MinHash signatures and band grouping in `qdc.dedup.stream_minhash` (`candidate_codes`), nearest-centroid
assignment over row ranges of a memory-mapped ``.npy`` in `qdc.select.stream` (`ray_assign`), scoring
slices of a batch in `qdc.quality.stream` (`score_ray`), and model-holding encoders in `qdc.embed.stream`
(`embed_texts_ray`). `address` points at an existing cluster (``ray start --head`` prints it, e.g.
``ray://host:10001`` or ``auto``); without it a local Ray instance starts.
"""

from __future__ import annotations

from typing import Any

from qdc.errors import ConfigError


def require_ray() -> Any:
    """The ray module, or a ConfigError (exit 2) saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs Ray: pip install 'qdc[ray]' (or pip install 'ray[data]')") from None
    return ray


def init(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to `address` (a running cluster) or start a local instance with `num_cpus` workers."""
    import contextlib
    import logging

    ray = require_ray()
    with contextlib.suppress(ImportError):
        import ray.data  # configures its loggers on import: quiet them after, not before
    with contextlib.suppress(AttributeError):  # stderr is for qdc's own progress
        ray.data.DataContext.get_current().enable_progress_bars = False
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False, "ignore_reinit_error": True}
    if not ray.is_initialized():
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, **quiet)
    # Ray's start-up lines ('Started a local Ray instance', the auth-token WARNING) and Ray Data's per-dataset
    # INFO/WARNING lines reached qdc's stderr; errors still do.
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)


def cluster_cpus() -> int:
    """CPUs of the Ray instance this process is connected to (at least 1)."""
    ray = require_ray()
    return max(1, int(ray.cluster_resources().get("CPU", 1)))
