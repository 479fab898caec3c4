"""The LLM judge against a real chat-completions server on 127.0.0.1: answers, retries and failure modes."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from qdc import schema
from qdc.cli import app
from qdc.complexity import ComplexityConfig, score_complexity
from qdc.quality import QualityConfig, score_quality
from qdc.quality.client import ChatAnswer
from qdc.quality.judge import Judge, JudgeConfig, load_rubric, parse_score
from tests.conftest import read_jsonl, write_jsonl

KEY = "sk-test-secret-123"


class _Handler(BaseHTTPRequestHandler):
    calls: ClassVar[Counter[str]] = Counter()
    auth: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:  # keep test output clean
        return

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path.endswith("/chat/completions")
        _Handler.auth.append(self.headers.get("Authorization", ""))
        prompt = body["messages"][0]["content"]
        mode = prompt.split("MODE:", 1)[1].split()[0] if "MODE:" in prompt else "ok5"
        _Handler.calls[mode] += 1

        def answer(text: str) -> bytes:
            return json.dumps(
                {
                    "id": "x",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                }
            ).encode()

        if mode.startswith("ok"):
            self._send(200, answer(mode[2:]))
        elif mode == "json":
            self._send(200, answer('{"score": 8}'))
        elif mode == "flaky429":
            if _Handler.calls[mode] % 2 == 1:
                self._send(429, b'{"error": "slow down"}', {"Retry-After": "0"})
            else:
                self._send(200, answer("4"))
        elif mode == "always500":
            self._send(500, b'{"error": "boom"}')
        elif mode == "timeout":
            time.sleep(1.5)
            self._send(200, answer("5"))
        elif mode == "badjson":
            self._send(200, b"{not json")
        elif mode == "nochoices":
            self._send(200, b'{"choices": []}')
        elif mode == "words":
            self._send(200, answer("It is quite good, I would say."))
        elif mode == "badrequest":
            self._send(400, b'{"error": "bad"}')


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.calls = Counter()
    _Handler.auth = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _cfg(url: str, tmp_path, **kw: object) -> JudgeConfig:
    base = {
        "base_url": url,
        "model": "judge-1",
        "api_key_env": "QDC_TEST_KEY",
        "timeout": 0.5,
        "max_retries": 2,
        "backoff": 0.01,
        "concurrency": 4,
        "cache_dir": tmp_path,
    }
    return JudgeConfig(**{**base, **kw})


def test_scores_and_failure_modes(server, tmp_path, monkeypatch):
    monkeypatch.setenv("QDC_TEST_KEY", KEY)
    modes = ["ok6", "ok1", "flaky429", "always500", "timeout", "badjson", "nochoices", "words", "badrequest"]
    judge = Judge(_cfg(server, tmp_path))
    try:
        scores, errors = judge.score(["Say something."] * len(modes), [f"MODE:{m} reply" for m in modes])
    finally:
        judge.close()
    got = dict(zip(modes, zip(scores.tolist(), errors, strict=True), strict=True))
    assert got["ok6"] == (1.0, None) and got["ok1"] == (0.0, None)
    assert got["flaky429"][0] == pytest.approx(0.6) and _Handler.calls["flaky429"] == 2  # retried once
    assert "HTTP 500 after 3 attempts" in got["always500"][1] and _Handler.calls["always500"] == 3
    assert "timeout" in got["timeout"][1]
    assert "not JSON" in got["badjson"][1]
    assert "no choices" in got["nochoices"][1]
    assert "no score" in got["words"][1]
    assert got["badrequest"][1] == "HTTP 400" and _Handler.calls["badrequest"] == 1  # not retried
    assert all(a == f"Bearer {KEY}" for a in _Handler.auth)
    assert not any(KEY in (e or "") for e in errors)


def test_cache_avoids_second_request(server, tmp_path, frame):
    df = frame([{"instruction": "Q?", "output": "MODE:ok5 fine answer."}])
    cfg = QualityConfig(scorer="judge", judge=_cfg(server, tmp_path))
    first = score_quality(df, cfg)
    second = score_quality(df, cfg)
    assert _Handler.calls["ok5"] == 1
    assert first[schema.QUALITY][0] == second[schema.QUALITY][0] == pytest.approx(0.8)


def test_failed_rows_fall_back_or_stay_null(server, tmp_path, frame):
    df = frame(
        [{"instruction": "Q?", "output": "MODE:words but no number"}, {"instruction": "Q?", "output": "MODE:json ok"}]
    )
    out = score_quality(df, QualityConfig(scorer="judge", judge=_cfg(server, tmp_path, rubric="quality10")))
    assert out["qdc_q_judge"][0] is None and out["qdc_q_judge_error"][0].startswith("no score")
    assert out[schema.QUALITY][0] == pytest.approx(out["qdc_q_length"][0] * 0.6 + 0.4, abs=0.2)
    assert out[schema.QUALITY][1] == pytest.approx(7 / 9)
    nulls = score_quality(
        df, QualityConfig(scorer="judge", judge=_cfg(server, tmp_path, rubric="quality10", on_error="null"))
    )
    assert nulls[schema.QUALITY][0] is None


def test_complexity_judge(server, tmp_path, frame):
    df = frame([{"instruction": "MODE:ok3 Plan a trip.", "output": "Sure."}])
    out = score_complexity(df, ComplexityConfig(scorer="judge", judge=_cfg(server, tmp_path, rubric="complexity6")))
    assert out[schema.COMPLEXITY][0] == pytest.approx(0.4) and out["qdc_c_judge_error"][0] is None


def test_parse_score_and_rubrics(tmp_path):
    assert parse_score(ChatAnswer("Rating: 5"), 1, 6) == 5
    assert parse_score(ChatAnswer("7 out of 10... 9"), 1, 6) is None
    assert parse_score(ChatAnswer('{"score": 9}'), 1, 10) == 9
    lp = [{"5": -0.1053605, "4": -2.302585}]  # p(5)=0.9, p(4)=0.1
    assert parse_score(ChatAnswer("5", lp), 1, 6) == pytest.approx(4.9, abs=1e-6)
    for name in ("quality6", "quality10", "complexity6"):
        r = load_rubric(name)
        assert r.low == 1 and "{instruction}" in r.template
    bad = tmp_path / "r.txt"
    bad.write_text("no header")
    from qdc.errors import ConfigError

    with pytest.raises(ConfigError):
        load_rubric(str(bad))


def test_cli_judge_never_prints_key(server, tmp_path, runner, monkeypatch):
    monkeypatch.setenv("QDC_TEST_KEY", KEY)
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "1", "instruction": "Q?", "output": "MODE:ok4 answer"},
            {"id": "2", "instruction": "Q?", "output": "MODE:badjson x"},
        ],
    )
    res = runner.invoke(
        app,
        [
            "score-quality",
            str(src),
            "--scorer",
            "judge",
            "--base-url",
            server,
            "--judge-model",
            "judge-1",
            "--set",
            "judge.api_key_env=QDC_TEST_KEY",
            "--set",
            "judge.max_retries=0",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = read_jsonl(res.stdout)
    assert rows[0]["qdc_q_judge"] == pytest.approx(0.6) and rows[1]["qdc_q_judge_error"]
    assert KEY not in res.stdout and KEY not in res.stderr
    res = runner.invoke(app, ["score-quality", str(src), "--scorer", "judge"])
    assert res.exit_code == 2  # no model named
