"""`qdc run`: stages composed in one process, resumable, with a manifest and a removal ledger.

- `qdc.pipeline.stage`: the stage interface (`StageContext`, `StageResult`);
- `qdc.pipeline.stages`: the typed adapter of every library stage, registered by reference;
- `qdc.pipeline.config`: pipeline files, the stage registry and `--set` overrides;
- `qdc.pipeline.layers`: one stage's config from defaults, a `--config` file, `--set` items and flags;
- `qdc.pipeline.fields`: what a config's keys are and say (docstrings, defaults), read from source for `--help`;
- `qdc.pipeline.workdir`: content-keyed stage artifacts in the work directory;
- `qdc.pipeline.manifest`: run manifests and the per-stage resource meter;
- `qdc.pipeline.run`: running the stages (resume, accounting, the ledger frame);
- `qdc.pipeline.files`: `run_file`, which commits a run's output, ledger and manifest together.

The library packages never import this package; it imports them. Names are re-exported lazily so that
importing `qdc.pipeline.stage` does not load every stage.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "STAGES": "config",
    "Pipeline": "config",
    "PipelineStage": "config",
    "StageSpec": "stage",
    "stage_spec": "stage",
    "available_stages": "config",
    "clean_workdir": "workdir",
    "flag_names": "layers",
    "load_pipeline": "config",
    "load_stage": "config",
    "parse_pipeline": "config",
    "register_stage": "config",
    "DEFAULT_WORKDIR": "run",
    "RunResult": "run",
    "StageRun": "run",
    "input_hash": "run",
    "run_file": "files",
    "RunFiles": "files",
    "run_pipeline": "run",
    "stage_keys": "run",
    "StageContext": "stage",
    "StageResult": "stage",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qdc.pipeline' has no attribute {name!r}")
    return getattr(importlib.import_module(f"qdc.pipeline.{module}"), name)
