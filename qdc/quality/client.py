"""A small OpenAI-compatible chat-completions client: timeouts, retries with backoff, an on-disk cache.

The API key is read from an environment variable named by the caller and sent only in the Authorization
header; it is never logged, written, or put in an error message. Answers are cached by (model, prompt) in
a SQLite file, so re-running a judge over the same rows costs nothing.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class JudgeRequestError(Exception):
    """One request failed for good (after retries, or a non-retryable answer); the message says why."""


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    top_logprobs: list[dict[str, float]] | None = None
    """Per generated token: {token: logprob} of the alternatives, when the server returned logprobs."""


class AnswerCache:
    """(model, prompt) -> answer text, in SQLite (safe across threads with one lock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, text TEXT NOT NULL)")
        self._lock = threading.Lock()

    @staticmethod
    def key(model: str, prompt: str) -> str:
        return xxhash.xxh3_128_hexdigest(model.encode() + b"\0" + prompt.encode())

    def get(self, model: str, prompt: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT text FROM answers WHERE key = ?", (self.key(model, prompt),)).fetchone()
        return None if row is None else str(row[0])

    def put(self, model: str, prompt: str, text: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?)", (self.key(model, prompt), text))
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()


class ChatClient:
    """Posts to {base_url}/chat/completions; thread-safe (one httpx.Client shared by worker threads)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        max_tokens: int = 16,
        temperature: float = 0.0,
        logprobs: bool = False,
        seed: int = 0,
    ) -> None:
        import httpx

        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_retries = max_retries
        self.backoff = backoff
        self.body_extra: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
        if logprobs:
            self.body_extra.update(logprobs=True, top_logprobs=10)
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env) if api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), headers=headers)
        self._rng = random.Random(seed)  # jitter only; answers do not depend on it

    def close(self) -> None:
        self._http.close()

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2**attempt) * (0.5 + self._rng.random())
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(retry_after), 60.0))
        time.sleep(delay)

    def complete(self, prompt: str) -> ChatAnswer:
        """One user message -> the first choice's text; raises JudgeRequestError when it cannot."""
        import httpx

        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}], **self.body_extra}
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                resp = self._http.post(self.url, json=body)
            except httpx.TimeoutException:
                last = "timeout"
            except httpx.HTTPError as exc:
                last = f"connection error ({type(exc).__name__})"
            else:
                if resp.status_code == 200:
                    return _parse_answer(resp)
                last = f"HTTP {resp.status_code}"
                if resp.status_code not in RETRY_STATUS:
                    raise JudgeRequestError(last)
                if attempt < self.max_retries:
                    self._sleep(attempt, resp.headers.get("retry-after"))
                continue
            if attempt < self.max_retries:
                self._sleep(attempt, None)
        raise JudgeRequestError(f"{last} after {self.max_retries + 1} attempts")


def _parse_answer(resp: Any) -> ChatAnswer:
    try:
        data = resp.json()
    except ValueError:
        raise JudgeRequestError("the server's reply is not JSON") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices, list):
        raise JudgeRequestError("the reply has no choices")
    first = choices[0] if isinstance(choices[0], dict) else {}
    message = first.get("message") or {}
    text = message.get("content") if isinstance(message, dict) else None
    if not isinstance(text, str):
        raise JudgeRequestError("the first choice has no text content")
    tops: list[dict[str, float]] | None = None
    lp = first.get("logprobs")
    content = lp.get("content") if isinstance(lp, dict) else None
    if isinstance(content, list):
        tops = []
        for tok in content:
            alts = tok.get("top_logprobs") or [] if isinstance(tok, dict) else []
            tops.append(
                {
                    str(a.get("token")): float(a["logprob"])
                    for a in alts
                    if isinstance(a, dict) and isinstance(a.get("logprob"), (int, float))
                }
            )
    return ChatAnswer(text, tops)
