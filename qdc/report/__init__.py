"""`qdc report`: one self-contained HTML page about a dataset (and, with a second file, before/after).

`build_report` computes every section's data (JSON-able, see `qdc.report.data`); `render_html` turns it
into a static page with inline SVG charts and CSS, no scripts and no network assets.
"""

from __future__ import annotations

from qdc.report.data import ReportOptions, build_report
from qdc.report.html import render_html

__all__ = ["ReportOptions", "build_report", "render_html"]
