"""`qdc report`: the report's data, its HTML structure (self-contained, escaped), and a headless Chromium
render without console errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from conftest import make_frame, write_jsonl

from qdc.cli import app
from qdc.embed import EmbedConfig
from qdc.report import ReportOptions, build_report, render_html
from qdc.report.data import pca2
from qdc.stage import StageContext

EVIL = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
TOPICS = ["prime numbers", "sorting lists", "french cooking", "tax forms", "bird migration", "jazz chords"]
SECTIONS = ("metrics", "projection", "histograms", "tradeoff", "duplicates", "clusters")


def dataset() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(36):
        t = TOPICS[i % len(TOPICS)]
        out.append(
            {
                "id": f"r{i:03d}",
                "instruction": f"Explain {t} for case {i}.",
                "input": "",
                "output": f"{t.capitalize()} follow rule {i * 7 % 13}; that explains case {i} well.",
            }
        )
    out[4] = {**out[2], "id": "r004"}
    out[7] = {"id": "r007", "instruction": f"Repeat this: {EVIL}", "input": "", "output": f"Sure: {EVIL}"}
    return out


@pytest.fixture
def ctx() -> StageContext:
    return StageContext(seed=1, embed=EmbedConfig(model="hash:64", cache=False))


@pytest.fixture
def report(ctx: StageContext) -> dict[str, object]:
    df = make_frame(dataset())
    subset = make_frame(dataset()[::3])
    opts = ReportOptions(budgets=(0.25, 0.5), strategies=("random", "top", "kmq"))
    return build_report(df, ctx, subset, opts, source="pool.jsonl", other_source="subset.jsonl")


def test_report_data_structure(report: dict) -> None:
    m = report["metrics"]
    assert m["rows"] == 36 and 1 <= m["vendi"] <= 36 and 0 <= m["mean_quality"] <= 1
    assert m["dup_rate"] == pytest.approx(1 / 36, abs=1e-4)
    assert len(report["projection"]["points"]) == 36
    assert sum(c["size"] for c in report["clusters"]) == 36
    assert all(c["examples"] for c in report["clusters"])
    group = report["duplicates"]["groups"][0]
    assert group["kept_id"] == "r002" and group["members"][0]["id"] == "r004"
    assert len(report["quality_hist"]) == 20 and sum(report["quality_hist"]) == 36
    assert sum(report["complexity_hist"]) == 36
    t = report["tradeoff"]
    assert t["budgets"] == [9, 18] and set(t["curves"]) == {"random", "top", "kmq"}
    for pts in t["curves"].values():
        assert [p["rows"] for p in pts] == [9, 18]
    # `top` by quality has the highest mean quality at the smallest budget.
    top, rnd = t["curves"]["top"][0]["mean_quality"], t["curves"]["random"][0]["mean_quality"]
    assert top >= rnd
    c = report["compare"]
    assert c["rows"] == 12 and c["overlap_ids"] == 12 and len(c["points"]) == 12
    assert sum(s["after"] for s in c["cluster_share"]) == pytest.approx(1.0, abs=1e-3)
    assert json.dumps(report)  # JSON-able


def test_report_is_deterministic(ctx: StageContext) -> None:
    df = make_frame(dataset())
    opts = ReportOptions(budgets=(0.5,), strategies=("random",))
    a, b = build_report(df, ctx, None, opts), build_report(df, ctx, None, opts)
    a.pop("generated"), b.pop("generated")
    assert a == b


def test_pca_signs_are_fixed() -> None:
    x = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    _, comps, explained = pca2(x)
    assert comps.shape == (2, 8) and explained[0] >= explained[1]
    for row in comps:
        assert row[np.argmax(np.abs(row))] > 0


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_and_escaped(report: dict) -> None:
    page = render_html(report)
    parser = _Tags()
    parser.feed(page)
    names = [t for t, _ in parser.tags]
    assert "script" not in names and "img" not in names and "link" not in names and "iframe" not in names
    assert not any(("src" in a or "href" in a) for _, a in parser.tags)
    ids = {a.get("id") for _, a in parser.tags}
    assert set(SECTIONS) | {"compare"} <= ids
    assert names.count("svg") >= 5  # projection, 2 histograms, trade-off, cluster shares
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert "Content-Security-Policy" in page
    assert '<script>alert("x")</script>' not in page and "&lt;script&gt;" in page
    assert any('<script>alert("x")</script>' in t for t in parser.text)  # shown as text, not run


def test_cli_report_writes_html_and_json(runner, tmp_path: Path) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", dataset())
    sub = write_jsonl(tmp_path / "sub.jsonl", dataset()[:10])
    out = tmp_path / "r.html"
    res = runner.invoke(
        app,
        [
            "report",
            str(pool),
            "-o",
            str(out),
            "--compare",
            str(sub),
            "--model",
            "hash:64",
            "--budgets",
            "0.5,20",
            "--strategies",
            "random,kcenter",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["compare"]["rows"] == 10 and doc["tradeoff"]["budgets"] == [18, 20]
    assert out.read_text().startswith("<!DOCTYPE html>")
    bad = runner.invoke(app, ["report", str(pool), "-o", str(out), "--budgets", "x"])
    assert bad.exit_code == 2


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_dump(page: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    """Load `page` in headless Chromium (fresh profile, no background network) and dump the DOM; console
    messages go to stderr as ':CONSOLE' lines."""
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium_without_console_errors(report: dict, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    proc = chromium_dump(page, tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # no script errors, no blocked (external) loads
    dom = proc.stdout
    for section in (*SECTIONS, "compare"):
        assert f'id="{section}"' in dom
    assert dom.count("<svg") >= 5 and "<circle" in dom


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)")
def test_chromium_check_catches_an_external_load(tmp_path: Path) -> None:
    """The console check above can fail: a page that loads a network image is reported."""
    page = tmp_path / "bad.html"
    html = render_html_with_external_image()
    page.write_text(html, encoding="utf-8")
    proc = chromium_dump(page, tmp_path / "profile")
    assert any(":CONSOLE" in line for line in proc.stderr.splitlines())


def render_html_with_external_image() -> str:
    from qdc.report.html import CSP

    return (
        f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="{CSP}"></head>'
        '<body><img src="http://example.invalid/x.png"></body></html>'
    )
