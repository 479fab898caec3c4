"""Small inline-SVG charts for the HTML report: scatter, histogram, grouped bars, lines.

Pure string building, no scripts and no external assets; every label passes through `esc`. Hover text uses
SVG <title> elements, which browsers show as tooltips without JavaScript.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#1f77b4",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#17becf",
)
W, H = 640, 360
M = {"l": 56, "r": 16, "t": 16, "b": 44}


def esc(text: object) -> str:
    """HTML/SVG-escape any value (quotes included)."""
    return html.escape(str(text), quote=True)


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)] if i >= 0 else "#999999"


def _scale(lo: float, hi: float, a: float, b: float) -> tuple[float, float]:
    span = hi - lo if hi > lo else 1.0
    k = (b - a) / span
    return k, a - lo * k


def _fmt(v: float) -> str:
    if v == int(v) and abs(v) < 1e7:
        return f"{int(v):,}"  # 1,000 rather than 1e+03
    return f"{v:.3g}"


def nice_ticks(lo: float, hi: float, ticks: int = 5) -> list[float]:
    """Round tick values inside [lo, hi]: multiples of 1, 2, 2.5 or 5 times a power of ten, about `ticks`
    intervals (0.2, 0.4, ... rather than 0.173, 0.346, ...)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 2.5, 5, 10)), key=lambda st: abs(math.log(st / raw)))
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append(round(v, 12) + 0.0)  # + 0.0: no '-0'
        v = first + step * len(out)
    return out


def _axes(x0: float, x1: float, y0: float, y1: float, xlabel: str, ylabel: str, ticks: int = 5) -> list[str]:
    kx, bx = _scale(x0, x1, M["l"], W - M["r"])
    ky, by = _scale(y0, y1, H - M["b"], M["t"])
    out = [
        f'<line class="axis" x1="{M["l"]}" y1="{H - M["b"]}" x2="{W - M["r"]}" y2="{H - M["b"]}"/>',
        f'<line class="axis" x1="{M["l"]}" y1="{M["t"]}" x2="{M["l"]}" y2="{H - M["b"]}"/>',
    ]
    for xv in nice_ticks(x0, x1, ticks):
        px = kx * xv + bx
        out.append(f'<text class="tick" x="{px:.1f}" y="{H - M["b"] + 14}" text-anchor="middle">{_fmt(xv)}</text>')
    for yv in nice_ticks(y0, y1, ticks):
        py = ky * yv + by
        out.append(f'<text class="tick" x="{M["l"] - 6}" y="{py + 4:.1f}" text-anchor="end">{_fmt(yv)}</text>')
        out.append(f'<line class="grid" x1="{M["l"]}" y1="{py:.1f}" x2="{W - M["r"]}" y2="{py:.1f}"/>')
    out.append(
        f'<text class="label" x="{(M["l"] + W - M["r"]) / 2}" y="{H - 8}" text-anchor="middle">{esc(xlabel)}</text>'
    )
    out.append(
        f'<text class="label" x="14" y="{(M["t"] + H - M["b"]) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(M["t"] + H - M["b"]) / 2})">{esc(ylabel)}</text>'
    )
    return out


LEGEND_W = 170  # the legend sits right of the plot, outside it, so it never covers a point


def _svg(body: list[str], title: str, legend: bool = False) -> str:
    width = W + LEGEND_W if legend else W
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {H}" role="img" '
        f'aria-label="{esc(title)}" class="chart">' + "".join(body) + "</svg>"
    )


def _range(values: Sequence[float], pad: float = 0.05) -> tuple[float, float]:
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    span = (hi - lo) or 1.0
    return lo - pad * span, hi + pad * span


def scatter(
    points: Sequence[tuple[float, float, int, str]],
    title: str,
    xlabel: str,
    ylabel: str,
    overlay: Sequence[tuple[float, float, str]] = (),
) -> str:
    """Points (x, y, group, hover text) coloured by group; `overlay` points drawn as black rings."""
    xs = [p[0] for p in points] + [p[0] for p in overlay]
    ys = [p[1] for p in points] + [p[1] for p in overlay]
    x0, x1 = _range(xs)
    y0, y1 = _range(ys)
    kx, bx = _scale(x0, x1, M["l"], W - M["r"])
    ky, by = _scale(y0, y1, H - M["b"], M["t"])
    body = _axes(x0, x1, y0, y1, xlabel, ylabel)
    for x, y, g, tip in points:
        body.append(
            f'<circle cx="{kx * x + bx:.1f}" cy="{ky * y + by:.1f}" r="2.6" fill="{colour(g)}" '
            f'fill-opacity="0.75"><title>{esc(tip)}</title></circle>'
        )
    for x, y, tip in overlay:
        body.append(
            f'<circle class="ring" cx="{kx * x + bx:.1f}" cy="{ky * y + by:.1f}" r="4.2">'
            f"<title>{esc(tip)}</title></circle>"
        )
    return _svg(body, title)


def histogram(series: Sequence[tuple[str, Sequence[int]]], edges: Sequence[float], title: str, xlabel: str) -> str:
    """Side-by-side bars per bin for one or more named count series over the same edges."""
    top = max([max(c) if len(c) else 0 for _, c in series] + [1])
    body = _axes(edges[0], edges[-1], 0, top, xlabel, "rows")
    kx, bx = _scale(edges[0], edges[-1], M["l"], W - M["r"])
    ky, by = _scale(0, top, H - M["b"], M["t"])
    k = max(len(series), 1)
    for si, (name, counts) in enumerate(series):
        for i, c in enumerate(counts):
            left, right = kx * edges[i] + bx, kx * edges[i + 1] + bx
            w = (right - left) / k
            x = left + si * w
            y = ky * c + by
            body.append(
                f'<rect x="{x + 0.5:.1f}" y="{y:.1f}" width="{max(w - 1, 0.5):.1f}" '
                f'height="{max(H - M["b"] - y, 0):.1f}" fill="{colour(si)}">'
                f"<title>{esc(name)}: {edges[i]:.2f}–{edges[i + 1]:.2f}: {c} rows</title></rect>"
            )
    body += _legend([name for name, _ in series]) if len(series) > 1 else []
    return _svg(body, title, legend=len(series) > 1)


def _legend(names: Sequence[str]) -> list[str]:
    """Swatches and names in the band right of the plot (`_svg(..., legend=True)` widens the chart for it)."""
    out = []
    for i, name in enumerate(names):
        y = M["t"] + 6 + 16 * i
        label = name if len(name) <= 24 else name[:23] + "…"
        out.append(f'<rect x="{W + 4}" y="{y - 9}" width="10" height="10" fill="{colour(i)}"/>')
        out.append(f'<text class="tick" x="{W + 19}" y="{y}"><title>{esc(name)}</title>{esc(label)}</text>')
    return out


def lines(
    curves: Sequence[tuple[str, Sequence[tuple[float, float, str]]]],
    title: str,
    xlabel: str,
    ylabel: str,
    marks: Sequence[tuple[float, float, str]] = (),
) -> str:
    """One polyline with dots per named curve of (x, y, hover text); `marks` are labelled black stars."""
    xs = [p[0] for _, pts in curves for p in pts] + [m[0] for m in marks]
    ys = [p[1] for _, pts in curves for p in pts] + [m[1] for m in marks]
    x0, x1 = _range(xs)
    y0, y1 = _range(ys)
    kx, bx = _scale(x0, x1, M["l"], W - M["r"])
    ky, by = _scale(y0, y1, H - M["b"], M["t"])
    body = _axes(x0, x1, y0, y1, xlabel, ylabel)
    for ci, (_, pts) in enumerate(curves):
        path = " ".join(f"{kx * x + bx:.1f},{ky * y + by:.1f}" for x, y, _ in pts)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour(ci)}" stroke-width="2"/>')
        for x, y, tip in pts:
            body.append(
                f'<circle cx="{kx * x + bx:.1f}" cy="{ky * y + by:.1f}" r="3.5" fill="{colour(ci)}">'
                f"<title>{esc(tip)}</title></circle>"
            )
    for x, y, tip in marks:
        px, py = kx * x + bx, ky * y + by
        body.append(
            f'<path class="mark" d="M{px - 5:.1f},{py - 5:.1f}L{px + 5:.1f},{py + 5:.1f}'
            f'M{px - 5:.1f},{py + 5:.1f}L{px + 5:.1f},{py - 5:.1f}"><title>{esc(tip)}</title></path>'
        )
    body += _legend([name for name, _ in curves])
    return _svg(body, title, legend=bool(curves))


def bars(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str, ylabel: str) -> str:
    """Grouped vertical bars: one group per label, one bar per named series."""
    top = max([max(v) if len(v) else 0 for _, v in series] + [1e-9])
    n = max(len(labels), 1)
    body = _axes(0, n, 0, top, "", ylabel, ticks=4)
    body = [b for b in body if 'class="tick" x="' not in b or 'text-anchor="end"' in b]  # no numeric x ticks
    kx, bx = _scale(0, n, M["l"], W - M["r"])
    ky, by = _scale(0, top, H - M["b"], M["t"])
    k = max(len(series), 1)
    for gi, label in enumerate(labels):
        left = kx * gi + bx
        w = kx / (k + 1)
        for si, (name, values) in enumerate(series):
            y = ky * values[gi] + by
            body.append(
                f'<rect x="{left + (si + 0.5) * w:.1f}" y="{y:.1f}" width="{w:.1f}" '
                f'height="{max(H - M["b"] - y, 0):.1f}" fill="{colour(si)}">'
                f"<title>{esc(label)}: {esc(name)} = {values[gi]:.3g}</title></rect>"
            )
        if n <= 40:
            body.append(
                f'<text class="tick" x="{left + kx / 2:.1f}" y="{H - M["b"] + 14}" '
                f'text-anchor="middle">{esc(label)}</text>'
            )
    body += _legend([name for name, _ in series])
    return _svg(body, title, legend=bool(series))
