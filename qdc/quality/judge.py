"""The `judge` scorer: an LLM behind any OpenAI-compatible endpoint rates each row with a rubric prompt.

Rubrics live in `configs/prompts/` (or any file given by path). A rubric file starts with a header block

    ---
    scale: 1 6
    ---

followed by the prompt, in which `{instruction}` and `{response}` are replaced by the row's parts. The
answer's first integer inside the scale is the score (a JSON {"score": N} works too); when the server returns
log-probabilities for the first token, the score is the probability-weighted mean of the scale's digits
(DEITA's expected score). Requests run in a bounded thread pool, retry on 429 / 5xx / timeouts with
exponential backoff, and are cached by (model, prompt). A row whose request fails or whose answer cannot be
parsed gets no score and an error message; the run never stops for it.
"""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from qdc.config import StageConfig
from qdc.errors import ConfigError, DataError
from qdc.progress import notice, progress
from qdc.quality.client import AnswerCache, ChatAnswer, ChatClient, JudgeRequestError

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "configs" / "prompts"
RUBRICS = {"quality6": "quality_1to6.txt", "quality10": "quality_1to10.txt", "complexity6": "complexity_1to6.txt"}
HEADER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
JSON_SCORE = re.compile(r'"score"\s*:\s*"?(\d+(?:\.\d+)?)')
NUMBER = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)(?![\d.])")


class JudgeConfig(StageConfig):
    """Where and how to ask an LLM judge."""

    base_url: str = "http://127.0.0.1:8000/v1"
    """OpenAI-compatible API root, e.g. http://localhost:8000/v1."""
    model: str = ""
    """Judge model name."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key (the key itself is never stored)."""
    rubric: str = "quality6"
    """quality6 (DEITA-style 1-6), quality10 (1-10), complexity6, or a path to a rubric file."""
    concurrency: int = 8
    """Requests in flight at once."""
    timeout: float = 60.0
    """Seconds per request."""
    max_retries: int = 4
    """Retries on 429/5xx/timeouts (exponential backoff)."""
    backoff: float = 1.0
    logprobs: bool = False
    cache: bool = True
    cache_dir: Path | None = None
    on_error: Literal["fallback", "null"] = "fallback"
    """Rows the judge cannot score: 'fallback' uses the heuristic score, 'null' leaves the quality empty."""


@dataclass(frozen=True)
class Rubric:
    name: str
    template: str
    low: int
    high: int

    def render(self, instruction: str, response: str) -> str:
        return self.template.replace("{instruction}", instruction).replace("{response}", response)


def load_rubric(name_or_path: str) -> Rubric:
    """A built-in rubric by name, or a rubric file."""
    path = PROMPTS_DIR / RUBRICS[name_or_path] if name_or_path in RUBRICS else Path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(f"rubric {name_or_path!r}: cannot read {path} (built-in: {', '.join(RUBRICS)})") from None
    m = HEADER.match(text)
    if not m:
        raise ConfigError(f"{path}: a rubric starts with a '---' header holding 'scale: LOW HIGH'")
    scale = re.search(r"scale:\s*(\d+)\s+(\d+)", m.group(1))
    if not scale or int(scale.group(1)) >= int(scale.group(2)):
        raise ConfigError(f"{path}: the header needs 'scale: LOW HIGH' with LOW < HIGH")
    return Rubric(path.stem, text[m.end() :], int(scale.group(1)), int(scale.group(2)))


def parse_score(answer: ChatAnswer, low: int, high: int) -> float | None:
    """The rubric score in an answer, or None when there is none inside [low, high]."""
    if answer.top_logprobs and high <= 9:
        for alts in answer.top_logprobs[:3]:
            probs = {
                int(t.strip()): math.exp(lp)
                for t, lp in alts.items()
                if t.strip().isdigit() and low <= int(t.strip()) <= high
            }
            if probs and sum(probs.values()) > 0.5:
                total = sum(probs.values())
                return sum(k * p for k, p in probs.items()) / total
    text = answer.text
    m = JSON_SCORE.search(text)
    candidates = [m.group(1)] if m else NUMBER.findall(text)
    for c in candidates:
        v = float(c)
        if low <= v <= high:
            return v
    return None


class Judge:
    """Scores prompts with a rubric; reuse one instance for many calls (the cache stays open)."""

    def __init__(self, cfg: JudgeConfig, default_rubric: str | None = None) -> None:
        if not cfg.model:
            raise ConfigError("the judge scorer needs a model name (--model / judge.model)")
        if cfg.concurrency < 1:
            raise ConfigError(f"judge concurrency must be at least 1 (got {cfg.concurrency})")
        self.cfg = cfg
        self.rubric = load_rubric(default_rubric or cfg.rubric)
        self.client = ChatClient(
            cfg.base_url, cfg.model, cfg.api_key_env, cfg.timeout, cfg.max_retries, cfg.backoff, logprobs=cfg.logprobs
        )
        cache_dir = cfg.cache_dir
        if cache_dir is None:
            from qdc.embed.cache import default_cache_dir

            cache_dir = default_cache_dir()
        self.cache = AnswerCache(Path(cache_dir) / "judge.sqlite") if cfg.cache else None

    def close(self) -> None:
        self.client.close()
        if self.cache:
            self.cache.close()

    def _one(self, prompt: str) -> tuple[float | None, str | None]:
        cached = self.cache.get(self.cfg.model, prompt) if self.cache else None
        if cached is not None:
            answer = ChatAnswer(cached)
        else:
            try:
                answer = self.client.complete(prompt)
            except JudgeRequestError as exc:
                return None, str(exc)
        score = parse_score(answer, self.rubric.low, self.rubric.high)
        if score is None:
            scale = f"{self.rubric.low}..{self.rubric.high}"
            return None, f"no score in {scale} in the answer {answer.text[:80]!r}"
        if self.cache and cached is None:
            self.cache.put(self.cfg.model, prompt, answer.text if not answer.top_logprobs else str(score))
        return score, None

    def score(self, instructions: list[str], responses: list[str]) -> tuple[np.ndarray, list[str | None]]:
        """(scores scaled to [0, 1] with NaN where missing, per-row error or None)."""
        prompts = [self.rubric.render(i, r) for i, r in zip(instructions, responses, strict=True)]
        n = len(prompts)
        raw: list[tuple[float | None, str | None]] = [(None, None)] * n
        with ThreadPoolExecutor(max_workers=self.cfg.concurrency) as pool:
            for i, result in enumerate(pool.map(self._one, prompts)):
                raw[i] = result
                done = i + 1
                progress("judge", done, n)
        span = self.rubric.high - self.rubric.low
        scores = np.array([np.nan if s is None else (s - self.rubric.low) / span for s, _ in raw])
        errors = [e for _, e in raw]
        failed = sum(e is not None for e in errors)
        if failed:
            first = next(e for e in errors if e is not None)
            if failed == n:  # nothing came back: a wrong base_url or model, not a few bad answers to fall back on
                raise DataError(
                    f"judge at {self.cfg.base_url} (model {self.cfg.model!r}): none of the {n} rows got a score "
                    f"(first: {first}); check judge.base_url and judge.model"
                )
            notice(f"judge: {failed} of {n} rows got no score (first: {first})")
        return scores, errors
