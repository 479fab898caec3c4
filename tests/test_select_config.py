"""SelectConfig: nested sections, flat keys of earlier releases, and CLI defaults that are the config's."""

from __future__ import annotations

import inspect

import pytest

from qdc.cli.select import select_cmd
from qdc.config import validate_config
from qdc.errors import ConfigError
from qdc.select import defaults
from qdc.select.config import SECTIONS, SelectConfig, default_of

# CLI parameters that are not SelectConfig options (input/output, embedding and io options, outputs).
_NOT_CONFIG = {
    "input", "output", "manifest", "ledger", "model", "batch_size", "device", "no_cache", "embed_field",
    "text_field", "template", "roles", "id_field", "on_bad_rows", "bad_rows_file", "json", "config", "set_", "ctx",
    "columns", "drop_qdc",
    # --stream and its options (the `qdc scale select` engine, not SelectConfig)
    "stream", "embeddings", "points_per_centroid", "batch_rows", "max_memory", "executor", "ray_address", "ray_cpus",
}  # fmt: skip
_PARAMS = [p for p in inspect.signature(select_cmd).parameters.values() if p.name not in _NOT_CONFIG]


@pytest.mark.parametrize("param", _PARAMS, ids=[p.name for p in _PARAMS])
def test_every_cli_default_is_the_config_default(param: inspect.Parameter) -> None:
    cli_default = param.default
    if param.name == "weights" or param.name == "gap" or param.name == "budget":
        assert cli_default is None  # parsed from text by the CLI; None in the config too
        assert default_of(param.name) is None
        return
    expected = default_of(param.name)
    # None = "not given: the config decides" (the CLI shows the config's default in --help)
    assert cli_default is None or cli_default == expected, f"--{param.name}: CLI {cli_default!r} vs {expected!r}"


def test_the_defaults_table_is_the_config() -> None:
    # qdc.select.defaults (pydantic-free, read by the CLI) lists every default of SelectConfig and its sections
    assert set(defaults.TOP) == {n for n, f in SelectConfig.model_fields.items() if n not in SECTIONS}
    for section, model in SECTIONS.items():
        assert set(defaults.SECTIONS[section]) == set(model.model_fields)
        assert getattr(SelectConfig(budget=5), section) == model(**defaults.SECTIONS[section])
    for name in {*defaults.TOP, *(n for s in defaults.SECTIONS.values() for n in s)}:
        assert defaults.default_of(name) == default_of(name), name


def test_alpha_has_one_default() -> None:
    assert SelectConfig(budget=5).bandit.alpha == default_of("alpha") == 1.0


def test_flat_keys_move_into_sections() -> None:
    flat = SelectConfig.model_validate({"budget": 5, "alpha": 0.3, "rounds": 4, "ceiling": 0.8, "neighbours": 7})
    nested = SelectConfig.model_validate(
        {"budget": 5, "bandit": {"alpha": 0.3}, "iterative": {"rounds": 4}, "deita": {"ceiling": 0.8},
         "facility": {"neighbours": 7}}
    )  # fmt: skip
    assert flat == nested
    assert flat.bandit.alpha == 0.3 and flat.iterative.rounds == 4 and flat.facility.neighbours == 7
    # a flat key overrides the same key of its section; other section keys stay
    mixed = SelectConfig.model_validate({"budget": 5, "bandit": {"probe": 4}, "alpha": 0.5})
    assert mixed.bandit.probe == 4 and mixed.bandit.alpha == 0.5


def test_sections_reject_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ConfigError, match="bandit"):
        validate_config(SelectConfig, {"budget": 5, "bandit": {"nope": 1}}, "select")
    with pytest.raises(ValueError):
        SelectConfig(budget=5, rounds=0)
    with pytest.raises(ValueError):
        SelectConfig(budget=5, explore=1.5)
    assert set(SECTIONS) == {"iterative", "bandit", "deita", "facility"}


def test_budget_one_point_zero_is_refused_as_ambiguous() -> None:
    with pytest.raises(ValueError, match="ambiguous"):
        SelectConfig(budget=1.0)
    assert SelectConfig(budget=1).budget == 1
    assert SelectConfig(budget=0.5).budget == 0.5
    assert SelectConfig(budget=3.0).budget == 3


def test_zero_token_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="must be positive"):  # the StageConfig rule for counts
        SelectConfig(budget_tokens=0)
    assert SelectConfig(budget_tokens=1).budget_tokens == 1


def test_stream_config_swaps_unnamed_in_memory_defaults_and_refuses_what_it_cannot_stream() -> None:
    from qdc.select.stream import stream_config

    cfg = SelectConfig(budget=10, within="balanced")  # the in-memory default within
    assert stream_config(cfg, set()).within == "softmax"  # not named: the stream's own default
    assert stream_config(SelectConfig(budget=10, within="random"), {"within"}).within == "random"
    assert stream_config(cfg, set(), points_per_centroid=8).points_per_centroid == 8
    with pytest.raises(ConfigError, match=r"does not take --set facility\.tail_share"):
        stream_config(cfg, {"facility.tail_share"})
    with pytest.raises(ConfigError, match="runs kmq"):
        stream_config(SelectConfig(budget=10, strategy="random"), set(), strategy_named=True)
