"""Charts of a report's tables, drawn on the server as SVG by pygal.

Why pygal: it renders plain SVG in Python (no browser library, no request to anyone at run
time). pygal's own JavaScript (tooltips, fetched from its website by default) is switched off.

A chart is an image the page links, `/reports/charts/<token>.svg`, drawn when the browser asks for it:
the page does not wait for the drawing (tens of milliseconds a chart, more than the rest of a page
for an organization), and the images load side by side after it. The token carries what the chart
shows -- its kind, labels and series, the numbers already past the small-cell rule -- signed with the
app's secret and bound to the user the page was made for: nobody can have a chart drawn from numbers
the server did not show them, and a copied link shows nothing to anyone else. The same token is the
same image, so the browser keeps it (Cache-Control: private, immutable), and the server keeps the last
few drawn (`_svg`).

Readable without colour: the trend lines differ by dash pattern as well as colour, stacked bars
keep the legend's order from the bottom up (and the page says so), every bar and point carries
its number, the palette is ordered by lightness, and each chart is followed by its table.
Values hidden by the small-cell rule are left out of a chart (the table says "fewer than 11").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

import pygal
from flask import current_app, url_for
from flask_login import current_user
from itsdangerous import BadData, URLSafeSerializer
from pygal.style import Style

from referralnet.errors import NotFound
from referralnet.reports.services import STATUS_GROUPS, Report, Table, export_value

# Dark to light, distinguishable with the common colour-vision deficiencies (Okabe-Ito based).
PALETTE = ("#0b3d91", "#009e73", "#d55e00", "#cc79a7", "#e6c229")
DASHES = ("", "8, 4", "2, 3")

STYLE = Style(background="#ffffff", plot_background="#ffffff", foreground="#1b1b1b", foreground_strong="#1b1b1b",
              foreground_subtle="#6b6b6b", colors=PALETTE, font_family="system-ui, sans-serif",
              label_font_size=13, major_label_font_size=13, value_font_size=12, legend_font_size=14,
              title_font_size=16, opacity="1", opacity_hover="1",
              # Numbers on the bars: white on the two darkest colours, black on the light ones (contrast 4.5:1+).
              value_colors=("#ffffff", "#000000", "#000000", "#000000", "#000000"))


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str  # what the image shows, for its alt text (the numbers are in the table)
    table_id: str
    src: Optional[str]  # the URL of its image; None when every number in it is zero or hidden


def _config(**extra) -> dict:
    config = dict(style=STYLE, js=[], disable_xml_declaration=True, width=820, height=380, legend_at_bottom=True,
                  print_values=True, print_zeroes=False, show_y_guides=True, truncate_legend=-1, truncate_label=-1,
                  margin=16)
    config.update(extra)
    return config


# (label, values, stroke style as sorted items): hashable, for the cache of drawn charts.
Series = tuple[str, tuple[Optional[float], ...], tuple]
KINDS = ("StackedBar", "Line", "HorizontalBar")
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="report-chart")


def _src(kind: str, config: tuple, x_labels: tuple, series: tuple[Series, ...]) -> Optional[str]:
    """The URL of the image of a pygal chart of `kind` with `config` (extra options as items), for the signed-in user;
    None when there is nothing to draw (every value zero, or hidden by the small-cell rule)."""
    if not any(value for _, values, _ in series for value in values):
        return None
    return url_for("reports.chart_image", token=_signer().dumps([current_user.get_id(), kind, config, x_labels, series]))


def chart_svg(token: str, user_id: Optional[str]) -> str:
    """The SVG of the chart `token` describes. Raises NotFound for a token this app did not sign, or signed for
    a page of another user than `user_id`."""
    try:
        owner, kind, config, x_labels, series = _signer().loads(token)
    except (BadData, ValueError, TypeError):
        raise NotFound("No such chart.") from None
    if owner is None or owner != user_id or kind not in KINDS:
        raise NotFound("No such chart.")
    return _svg(kind, _frozen(config), _frozen(x_labels), _frozen(series))


def _frozen(value: Any) -> Any:
    """JSON's lists as tuples again (the cache's keys must be hashable)."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


@lru_cache(maxsize=64)
def _svg(kind: str, config: tuple, x_labels: tuple, series: tuple[Series, ...]) -> str:
    chart = getattr(pygal, kind)(**_config(**dict(config)))
    chart.x_labels = list(x_labels)
    for label, values, stroke in series:
        chart.add(label, list(values), **({"stroke_style": dict(stroke)} if stroke else {}))
    # pygal writes its settings into a <script> even with no JavaScript asked for: an image never runs it,
    # and the CSP would stop it in a chart opened as a page, but nothing needs it.
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def forget_drawn() -> None:
    """Empty the cache of drawn charts (a benchmark timing the drawing)."""
    _svg.cache_clear()


def _number(cell, report: Report) -> Optional[float]:
    value = export_value(cell, report)
    return value if isinstance(value, (int, float)) else None


def _column(table: Table, key: str) -> int:
    return [k for k, _ in table.columns].index(key)


def weekly_status_chart(report: Report) -> Optional[Chart]:
    table = report.tables.get("volume-by-week")
    if table is None or not table.rows:
        return None
    series = tuple((label, tuple(_number(row[_column(table, key)], report) for row in table.rows), ())
                   for key, label, _ in STATUS_GROUPS)
    order = ", ".join(label for _, label, _ in STATUS_GROUPS)
    return Chart("chart-weekly-status", "Referrals sent each week, by status now",
                 f"Stacked bars, one per week; each bar stacks from the bottom: {order}.", table.id,
                 _src("StackedBar", (("x_label_rotation", 30), ("show_legend", True)),
                           tuple(row[0].value for row in table.rows), series))


def trend_chart(report: Report) -> Optional[Chart]:
    table = report.tables.get("volume-by-week")
    if table is None or not table.rows:
        return None
    series = []
    for (key, label), dash in zip((("sent", "Sent"), ("accepted", "Accepted"), ("completed_now", "Completed")),
                                  DASHES):
        index = _column(table, key)
        style = {"width": 3, "dasharray": dash} if dash else {"width": 3}
        series.append((f"{label} ({'solid' if not dash else 'dashed' if dash == '8, 4' else 'dotted'} line)",
                       tuple(_number(row[index], report) for row in table.rows), tuple(sorted(style.items()))))
    return Chart("chart-trend", "Weekly trend: sent, accepted and completed",
                 "Three lines over the weeks: sent (solid), accepted (dashed) and completed (dotted).", table.id,
                 _src("Line", (("x_label_rotation", 30), ("dots_size", 4), ("print_values", False)),
                           tuple(row[0].value for row in table.rows), tuple(series)))


def funnel_chart(report: Report) -> Optional[Chart]:
    table = report.tables.get("funnel")
    if table is None:
        return None
    rows = list(reversed(table.rows))  # pygal draws the first label at the bottom: sent goes on top
    return Chart("chart-funnel", "From sending to a closed loop",
                 "Horizontal bars, one per stage, from sent at the top to loop closed at the bottom.",
                 table.id, _src("HorizontalBar", (("show_legend", False), ("height", 300)),
                                     tuple(row[0].value for row in rows),
                                     (("Referrals", tuple(_number(row[1], report) for row in rows), ()),)))


def report_charts(report: Report) -> dict[str, Chart]:
    """The charts of the report's tables, by the id of the table each one draws (drawn tables only)."""
    charts = {}
    for make in (weekly_status_chart, trend_chart, funnel_chart):
        chart = make(report)
        if chart is not None:
            charts.setdefault(chart.table_id, []).append(chart)
    return charts
