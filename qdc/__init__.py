"""qdc: curate synthetic training data by quality, diversity and complexity.

The library API works on polars frames: read with `read_records`, call stages, write with
`write_records`. Heavy dependencies (torch, faiss, datasketch) load only when a stage needs them.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Lazy re-exports keep `import qdc` (and `qdc --help`) light. Stage functions live in their modules
# (`from qdc.embed import embed`): a re-export named like its submodule would be shadowed by it.
_EXPORTS = {
    "IOConfig": "qdc.io",
    "read_records": "qdc.io",
    "write_records": "qdc.io",
    "prepare": "qdc.io",
    "EmbedConfig": "qdc.embed",
    "embed_texts": "qdc.embed",
    "ClusterConfig": "qdc.cluster",
    "QdcError": "qdc.errors",
    "DataError": "qdc.errors",
    "ConfigError": "qdc.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qdc' has no attribute {name!r}")
