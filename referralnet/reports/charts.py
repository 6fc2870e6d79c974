"""Charts of a report's tables, drawn on the server as SVG by pygal.

Why pygal: it renders plain SVG in Python (no browser library, no request to anyone at run
time), and the page shows each chart as an `<img>` with a `data:` URL, which the site's CSP
(`img-src 'self' data:`) already allows: no script and no inline style reach the page itself.
pygal's own JavaScript (tooltips, fetched from its website by default) is switched off.

Readable without colour: the trend lines differ by dash pattern as well as colour, stacked bars
keep the legend's order from the bottom up (and the page says so), every bar and point carries
its number, the palette is ordered by lightness, and each chart is followed by its table.
Values hidden by the small-cell rule are left out of a chart (the table says "fewer than 11").

Drawing is most of a chart's cost (tens of milliseconds each): an image is a pure function of
its kind, labels and series, so the last few drawn are kept (`_data_url`, keyed by all of them) and
a report looked at again with the same numbers is not drawn again.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import pygal
from pygal.style import Style

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
    data_url: str


def _config(**extra) -> dict:
    config = dict(style=STYLE, js=[], disable_xml_declaration=True, width=820, height=380, legend_at_bottom=True,
                  print_values=True, print_zeroes=False, show_y_guides=True, truncate_legend=-1, truncate_label=-1,
                  margin=16)
    config.update(extra)
    return config


# (label, values, stroke style as sorted items): hashable, for the cache of drawn charts.
Series = tuple[str, tuple[Optional[float], ...], tuple]


@lru_cache(maxsize=64)
def _data_url(kind: str, config: tuple, x_labels: tuple, series: tuple[Series, ...]) -> str:
    """A pygal chart of `kind` (the class name) with `config` (extra options as items), drawn as a `data:` URL."""
    chart = getattr(pygal, kind)(**_config(**dict(config)))
    chart.x_labels = list(x_labels)
    for label, values, stroke in series:
        chart.add(label, list(values), **({"stroke_style": dict(stroke)} if stroke else {}))
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


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
                 _data_url("StackedBar", (("x_label_rotation", 30), ("show_legend", True)),
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
                 _data_url("Line", (("x_label_rotation", 30), ("dots_size", 4), ("print_values", False)),
                           tuple(row[0].value for row in table.rows), tuple(series)))


def funnel_chart(report: Report) -> Optional[Chart]:
    table = report.tables.get("funnel")
    if table is None:
        return None
    rows = list(reversed(table.rows))  # pygal draws the first label at the bottom: sent goes on top
    return Chart("chart-funnel", "From sending to a closed loop",
                 "Horizontal bars, one per stage, from sent at the top to loop closed at the bottom.",
                 table.id, _data_url("HorizontalBar", (("show_legend", False), ("height", 300)),
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
