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
from typer.testing import CliRunner

from qdc.cli import app
from qdc.embed import EmbedConfig
from qdc.pipeline.stage import StageContext
from qdc.report import ReportOptions, build_report, render_html
from qdc.report.data import pca2

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
    data_name = tmp_path / "r.json"  # a data file's name: the page is not written into it (it was)
    named = runner.invoke(app, ["report", str(pool), "-o", str(data_name), "--model", "hash:64"])
    assert named.exit_code == 2 and "--json prints its data" in named.stderr and not data_name.exists()


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


def _rows_file(path: Path, n: int, dim: int | None = None) -> Path:
    import orjson

    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        row: dict[str, object] = {"id": f"r{i}", "text": f"row {i} about topic {i % 4} and more words {i * 7}"}
        if dim is not None:
            v = rng.standard_normal(dim)
            row["qdc_embedding"] = (v / np.linalg.norm(v)).round(6).tolist()
        lines.append(orjson.dumps(row))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_compare_with_another_models_dimension_is_refused_before_embedding(tmp_path: Path) -> None:
    sub = _rows_file(tmp_path / "sub.jsonl", 12, dim=16)
    mix = _rows_file(tmp_path / "mix.jsonl", 30)
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", str(sub), "-o", str(out), "--compare", str(mix), "--model", "hash:32"])
    assert result.exit_code == 2, result.output
    assert "carries 16-d embeddings but --model hash:32 gives 32-d" in result.stderr
    assert "embedding" not in result.stderr.split("Error")[0]  # refused before anything was embedded
    assert not out.exists()
    both = _rows_file(tmp_path / "both.jsonl", 30, dim=8)
    result = CliRunner().invoke(app, ["report", str(sub), "-o", str(out), "--compare", str(both)])
    assert result.exit_code == 2
    assert "carries 16-d embeddings and" in result.stderr


def test_compare_says_what_it_embeds_and_uses_the_matching_model(tmp_path: Path) -> None:
    sub = _rows_file(tmp_path / "sub.jsonl", 12, dim=16)
    mix = _rows_file(tmp_path / "mix.jsonl", 30)
    out = tmp_path / "r.html"
    argv = ["report", str(sub), "-o", str(out), "--compare", str(mix), "--model", "hash:16", "--strategies", "random"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert f"embedding 30 rows of {mix} with --model hash:16" in result.stderr
    assert out.exists()


def test_report_bytes_are_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _rows_file(tmp_path / "in.jsonl", 20, dim=8)
    base = ["report", str(src), "--strategies", "random", "--budgets", "0.5"]
    pages = []
    for name, extra in [("a", ["--reproducible"]), ("b", ["--reproducible"])]:
        assert CliRunner().invoke(app, [*base, "-o", str(tmp_path / f"{name}.html"), *extra]).exit_code == 0
        pages.append((tmp_path / f"{name}.html").read_bytes())
    assert pages[0] == pages[1]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert CliRunner().invoke(app, [*base, "-o", str(tmp_path / "c.html")]).exit_code == 0
    assert b"2023-11-14T22:13:20+00:00" in (tmp_path / "c.html").read_bytes()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "soon")
    result = CliRunner().invoke(app, [*base, "-o", str(tmp_path / "d.html")])
    assert result.exit_code == 2
