"""The report's junk section: how many rows score below the junk threshold, by the signal that put them
there (`qdc_q_reason`, best culprit first), and the lowest rows with where they are."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from qdc import schema
from qdc.report.svg import esc

LOWEST = 5


def junk_section(df: pl.DataFrame, text_width: int = 120) -> dict[str, Any] | None:
    """Counts by reason and the `LOWEST` lowest rows (unscored rows first, then by quality; ties by input
    order); None without qdc_quality. Junk is `qdc.quality.is_junk`: an unscored row (null qdc_quality) is
    junk here as in the report's junk-rate card and `qdc check`; its reason is 'unscored'."""
    from qdc.quality import JUNK_THRESHOLD, REASON, is_junk

    if schema.QUALITY not in df.columns:
        return None
    q = df[schema.QUALITY].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    junk = np.flatnonzero(is_junk(df[schema.QUALITY])).tolist()
    unscored = np.isnan(q)
    has_reason = REASON in df.columns
    reasons: dict[str, int] = {}
    if has_reason:
        col = df[REASON].cast(pl.String).fill_null("").to_list()
        for i in junk:
            first = "unscored" if unscored[i] else col[i].split(",")[0] if col[i] else "unstated"
            reasons[first] = reasons.get(first, 0) + 1
        reasons = dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    order = sorted(junk, key=lambda i: (not unscored[i], 0.0 if unscored[i] else q[i], i))[:LOWEST]
    part = schema.RESPONSE if schema.RESPONSE in df.columns else schema.TEXT
    texts = df[part].to_list() if part in df.columns else [""] * df.height
    lowest = [
        {
            "where": schema.where(df, i),
            "id": df[schema.ROW_ID][i] if schema.ROW_ID in df.columns else str(i),
            "quality": None if unscored[i] else round(float(q[i]), 4),
            "reason": "unscored" if unscored[i] else (df[REASON][i] or "") if has_reason else "",
            "text": _short(texts[i] or (df[schema.TEXT][i] if schema.TEXT in df.columns else ""), text_width),
        }
        for i in order
    ]
    return {
        "threshold": JUNK_THRESHOLD,
        "rows": len(junk),
        "share": round(len(junk) / df.height, 4) if df.height else 0.0,
        "reasons": reasons if has_reason else None,
        "lowest": lowest,
    }


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _quality(q: float | None) -> str:
    return "unscored" if q is None else f"{q:.3g}"


def render_junk(j: dict[str, Any] | None) -> str:
    """The section's HTML ('' when the rows have no qdc_quality)."""
    if j is None:
        return ""
    head = f'<section id="junk"><h2>Junk (qdc_quality &lt; {j["threshold"]})</h2>'
    if not j["rows"]:
        return head + '<p class="muted">No row scores below the junk threshold.</p></section>'
    body = [f"<p>{j['rows']} rows ({j['share']:.1%}) score below {j['threshold']} or have no score."]
    if j["reasons"] is None:
        body.append(" Their reasons are not on the rows (qdc_q_reason is missing: another scorer made them).</p>")
    else:
        body.append(" By the signal that weighed most (the first name of qdc_q_reason):</p><table>")
        body.append("<tr><th>signal</th><th>rows</th></tr>")
        body += [f'<tr><td>{esc(k)}</td><td class="num">{v}</td></tr>' for k, v in j["reasons"].items()]
        body.append("</table>")
    body.append("<p>The lowest rows:</p><table><tr><th>where</th><th>quality</th><th>reason</th><th>text</th></tr>")
    body += [
        f'<tr><td>{esc(r["where"])}</td><td class="num">{_quality(r["quality"])}</td><td>{esc(r["reason"])}</td>'
        f'<td><div class="text">{esc(r["text"])}</div></td></tr>'
        for r in j["lowest"]
    ]
    body.append("</table>")
    return head + "".join(body) + "</section>"
