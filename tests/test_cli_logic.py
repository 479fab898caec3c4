"""Library functions the CLI calls instead of computing in the shell (one implementation each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qdc.dedup import DedupConfig, dedup, plan
from qdc.errors import ConfigError
from qdc.scale.options import RunOptions
from tests.conftest import make_frame as frame


def _rows(n: int) -> list[dict[str, str]]:
    return [{"instruction": f"say {i % 7}", "output": f"the answer is {i % 7} and more words"} for i in range(n)]


@pytest.mark.parametrize("methods", [("exact", "minhash"), ("exact",)])
def test_dedup_plan_is_what_the_run_reports(methods: tuple[str, ...]) -> None:
    df, ref = frame(_rows(30)), frame(_rows(5))
    cfg = DedupConfig(methods=methods)
    known = plan([ref, df], cfg)
    stats = dedup(df, cfg, against=[ref]).stats
    assert known["rows"] == 35 and known["memory_estimate_bytes"] > 0
    assert stats["memory_estimate_bytes"] == known["memory_estimate_bytes"]
    assert stats["memory_estimate"] == known["memory_estimate"]
    assert ("s_curve" in stats) == ("minhash" in methods) == ("s_curve" in known)
    if "minhash" in methods:
        assert stats["s_curve"] == known["s_curve"] and known["bands"] == cfg.minhash_params().band_rows()
    assert plan([df], cfg)["memory_estimate_bytes"] < known["memory_estimate_bytes"]


def test_run_options_parse_and_refuse(tmp_path: Path) -> None:
    run = RunOptions.parse(None, "1G", "local")
    assert run == RunOptions(max_memory=1 << 30) and not run.ray
    assert RunOptions.parse(500, None, "local").batch_rows == 500
    with pytest.raises(ConfigError, match="--executor 'spark'"):
        RunOptions.parse(None, None, "spark")
    with pytest.raises(ConfigError, match="--max-memory"):
        RunOptions.parse(None, "lots", "local")
    with pytest.raises(ConfigError, match="backend 'dask'"):
        RunOptions(backend="dask")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        run.batch_rows = 3  # type: ignore[misc]  # frozen: one value for the whole run
