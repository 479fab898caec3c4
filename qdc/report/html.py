"""Render the report dict as one self-contained HTML page: inline CSS and SVG, no scripts, no network.

A Content-Security-Policy meta tag forbids every external load, so a report that tried one would show a
console error (the Chromium test checks there are none). All user text is escaped with `svg.esc`.
"""

from __future__ import annotations

from typing import Any

from qdc.report import svg
from qdc.report.junk import render_junk
from qdc.report.svg import esc

CSS = """
:root{--fg:#1d2330;--muted:#5b6472;--line:#d8dde5;--bg:#fafbfc;--card:#fff;--accent:#4e79a7}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:32px 0 8px;border-bottom:1px solid var(--line);
padding-bottom:4px}.muted{color:var(--muted)}.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:18px}.grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media (max-width:800px){.grid2{grid-template-columns:1fr}}
svg.chart{width:100%;height:auto;background:var(--card);border:1px solid var(--line);border-radius:6px}
svg .axis{stroke:#888}svg .grid{stroke:#eee}svg .tick{font-size:10px;fill:#555}
svg .label{font-size:11px;fill:#333}svg .ring{fill:none;stroke:#000;stroke-width:1.2}
svg .mark{stroke:#000;stroke-width:2.5}table{border-collapse:collapse;width:100%;background:var(--card)}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;word-break:break-word}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.note{background:#fff8e1;border:1px solid #f0d27a;padding:6px 10px;border-radius:4px;margin:6px 0}
.pass{color:#2f7d32}.fail{color:#b3261e}
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_LABELS = {
    "rows": "rows",
    "vendi": "Vendi",
    "mean_quality": "mean quality",
    "mean_complexity": "mean complexity",
    "junk_rate": "junk rate",
    "dup_rate": "duplicate rate",
    "clusters": "clusters",
    "cluster_entropy": "cluster entropy",
    "mean_length": "mean length (chars)",
}


def _num(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return esc(v)


def _cards(m: dict[str, Any]) -> str:
    return (
        '<div class="cards" id="metrics">'
        + "".join(
            f'<div class="card"><span class="muted">{esc(label)}</span><b>{_num(m[key])}</b></div>'
            for key, label in _LABELS.items()
            if key in m
        )
        + "</div>"
    )


def _projection(r: dict[str, Any]) -> str:
    p = r["projection"]
    pts = [(x, y, g, f"{rid} (cluster {g}): {text}") for x, y, g, rid, text in p["points"]]
    overlay = [
        (x, y, f"{rid} (in compared file): {text}") for x, y, rid, text in (r["compare"] or {}).get("points", [])
    ]
    ev = p["explained"] + [0.0, 0.0]
    note = " A seeded sample of the rows is drawn." if p["sampled"] else ""
    ring = " Black rings: rows of the compared file." if overlay else ""
    chart = svg.scatter(
        pts, "2-D projection of embeddings", f"PC1 ({ev[0]:.1%} of variance)", f"PC2 ({ev[1]:.1%})", overlay
    )
    return (
        f'<section id="projection"><h2>Embedding map</h2><p class="muted">PCA of the embeddings, '
        f"coloured by cluster; hover a point for its id and text.{note}{ring}</p>{chart}</section>"
    )


def _histograms(r: dict[str, Any]) -> str:
    edges = r["hist_edges"]
    parts = []
    comp = r["compare"] or {}
    for key, label in (("quality_hist", "qdc_quality"), ("complexity_hist", "qdc_complexity")):
        if r[key] is None:
            parts.append(f'<div><p class="muted">{esc(label)} not available.</p></div>')
            continue
        series = [("input", r[key])]
        if comp.get(key) is not None:
            series.append(("compared", comp[key]))
        parts.append("<div>" + svg.histogram(series, edges, f"{label} histogram", label) + "</div>")
    return (
        f'<section id="histograms"><h2>Quality and complexity</h2><div class="grid2">{"".join(parts)}</div></section>'
    )


def _short(p: dict[str, Any]) -> str:
    """A note when a strategy picked fewer rows than the budget (e.g. DEITA stops when no row is novel enough)."""
    return f" ({p['rows']} rows)" if p["rows"] < p["budget"] else ""


def _tradeoff(r: dict[str, Any]) -> str:
    t = r["tradeoff"]
    head = '<section id="tradeoff"><h2>Quality–diversity trade-off</h2>'
    curves = [
        (
            name,
            [
                (
                    p["vendi"],
                    p["mean_quality"],
                    f"{name}, {p['rows']} rows: Vendi {p['vendi']:.4g}, mean quality {p['mean_quality']:.4g}",
                )
                for p in pts
                if p["mean_quality"] is not None
            ],
        )
        for name, pts in t["curves"].items()
    ]
    curves = [c for c in curves if c[1]]
    skipped = "".join(f'<p class="note">{esc(k)}: not shown ({esc(v)})</p>' for k, v in t["skipped"].items())
    if not curves:
        return head + '<p class="muted">Needs qdc_quality scores.</p>' + skipped + "</section>"
    marks = []
    if t["full"]["mean_quality"] is not None:
        marks.append((t["full"]["vendi"], t["full"]["mean_quality"], f"all {t['full']['rows']} rows"))
    comp = r["compare"]
    if comp and comp["after"].get("mean_quality") is not None:
        marks.append((comp["after"]["vendi"], comp["after"]["mean_quality"], f"compared file ({comp['rows']} rows)"))
    chart = svg.lines(curves, "mean quality against Vendi", "Vendi of the subset", "mean qdc_quality", marks)
    rows = "".join(
        f"<tr><td>{esc(name)}</td>"
        + "".join(f'<td class="num">{_num(p["vendi"])} / {_num(p["mean_quality"])}{_short(p)}</td>' for p in pts)
        + "</tr>"
        for name, pts in t["curves"].items()
    )
    table = (
        "<table><tr><th>strategy</th>" + "".join(f"<th>{b} rows</th>" for b in t["budgets"]) + f"</tr>{rows}</table>"
    )
    return (
        head + '<p class="muted">Each line is a selection strategy; its points are budgets '
        f"{esc(', '.join(str(b) for b in t['budgets']))} rows (Vendi / mean quality in the table). "
        f"A cell names its row count when the strategy picked fewer rows than the budget. "
        f"Crosses mark the whole input and the compared file. Up and to the right is better.</p>"
        f"{chart}{table}"
        f"{skipped}</section>"
    )


def _duplicates(r: dict[str, Any]) -> str:
    d = r["duplicates"]
    head = '<section id="duplicates"><h2>Duplicate groups</h2>'
    if d is None:
        return head + '<p class="muted">Not measured.</p></section>'
    body = [
        f"<p>{d['removed']} rows ({d['rate']:.2%}) duplicate another row; method: {esc(d['method'])}. "
        f"The largest groups, with the row that is kept:</p>"
    ]
    if not d["groups"]:
        body.append('<p class="muted">No duplicates found.</p>')
    else:
        body.append("<table><tr><th>size</th><th>kept row</th><th>duplicates (method, similarity)</th></tr>")
        for g in d["groups"]:
            members = "".join(
                f'<div class="text">{esc(m["id"])} ({esc(m["method"])}, {_num(m["similarity"])}): '
                f"{esc(m['text'])}</div>"
                for m in g["members"]
            )
            body.append(
                f'<tr><td class="num">{g["size"]}</td><td><div class="text">{esc(g["kept_id"])}: '
                f"{esc(g['kept_text'])}</div></td><td>{members}</td></tr>"
            )
        body.append("</table>")
    return head + "".join(body) + "</section>"


def _clusters(r: dict[str, Any]) -> str:
    rows = []
    for c in r["clusters"]:
        ex = "".join(f'<div class="text">{esc(e["id"])}: {esc(e["text"])}</div>' for e in c["examples"])
        rows.append(
            f'<tr><td><span class="swatch" style="background:{svg.colour(c["cluster"])}"></span>'
            f'{c["cluster"]}</td><td class="num">{c["size"]}</td>'
            f'<td class="num">{c["share"]:.1%}</td>'
            f'<td class="num">{_num(c.get("mean_quality"))}</td>'
            f'<td class="num">{_num(c.get("mean_complexity"))}</td><td>{ex}</td></tr>'
        )
    return (
        '<section id="clusters"><h2>Clusters</h2><p class="muted">Largest first; examples are the rows '
        "nearest the cluster centre.</p><table><tr><th>cluster</th><th>rows</th><th>share</th>"
        "<th>mean quality</th><th>mean complexity</th><th>examples</th></tr>" + "".join(rows) + "</table></section>"
    )


def _compare(r: dict[str, Any]) -> str:
    c = r["compare"]
    if c is None:
        return ""
    keys = [k for k in _LABELS if k in c["before"] or k in c["after"]]
    rows = "".join(
        f'<tr><td>{esc(_LABELS[k])}</td><td class="num">{_num(c["before"].get(k))}</td>'
        f'<td class="num">{_num(c["after"].get(k))}</td></tr>'
        for k in keys
    )
    share = c["cluster_share"]
    chart = svg.bars(
        [str(s["cluster"]) for s in share],
        [("input", [s["before"] for s in share]), ("compared", [s["after"] for s in share])],
        "share of rows per cluster",
        "share of rows",
    )
    return (
        f'<section id="compare"><h2>Before / after: {esc(r["input"]["path"])} vs {esc(c["path"])}</h2>'
        f'<p class="muted">{c["rows"]} rows in the compared file, {c["overlap_ids"]} of them with ids '
        f"in the input; they cover {c['coverage']:.0%} of the input's clusters (each row assigned to "
        f"the nearest cluster centre).</p><table><tr><th>measure</th><th>input</th><th>compared</th></tr>"
        f"{rows}</table>"
        f"<p></p>{chart}</section>"
    )


def render_html(r: dict[str, Any]) -> str:
    """The whole page."""
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in r["notes"])
    model = r["model"]
    meta = (
        f"{r['input']['rows']} rows · model {esc(model['name'])} · seed {r['seed']} · qdc "
        f"{esc(r['qdc_version'])}" + (f" · {esc(r['generated'])}" if r.get("generated") else "")
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(r['title'])}</title><style>{CSS}</style></head><body><main>"
        f'<h1>{esc(r["title"])}</h1><p class="muted">{meta}</p>{_cards(r["metrics"])}{notes}'
        f"{_projection(r)}{_histograms(r)}{render_junk(r.get('junk'))}{_tradeoff(r)}{_duplicates(r)}{_clusters(r)}"
        f"{_compare(r)}"
        "</main></body></html>\n"
    )
