"""The report pages: /reports (the signed-in user's scope), one CSV per report table, the
printable monthly summary of an organization, and the images of their charts (reports.charts).

Thin: parse the period and filters, work out the scope (reports.services.report_scope, which
refuses anyone without reports), build the report, render or write CSV.
"""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, render_template, request
from flask_login import current_user, login_required

from referralnet.config import network_timezone
from referralnet.errors import ValidationFailed
from referralnet.reports import services as rs
from referralnet.reports.charts import chart_svg, report_charts
from referralnet.reports.periods import ReportFilters, default_period, month_period
from referralnet.web import spreadsheet_safe

bp = Blueprint("reports", __name__)

MONTHLY_SECTIONS = ("funnel", "outcomes", "service-level", "responsiveness", "loop-closure", "verified-outcomes",
                    "volume-by-need", "reasons", "unmet-declines")


def _scope():
    organization = rs.get_report_organization(current_user, request.args.get("organization"))
    return rs.report_scope(current_user, organization), organization


@bp.get("/reports")
@login_required
def report_page():
    """The outcome report of the user's scope (an admin may pick an organization), for a period and filters."""
    scope, organization = _scope()
    errors = {}
    try:
        filters = rs.parse_report_filters(scope, request.args)
    except ValidationFailed as exc:
        errors = exc.errors
        filters = ReportFilters(default_period(network_timezone()))
    report = rs.build_report(scope, filters)
    return render_template("reports/report.html", report=report, charts=report_charts(report), errors=errors,
                           raw=request.args, choices=rs.filter_choices(scope, filters), dimensions=rs.DIMENSIONS,
                           organization=organization, organizations=rs.organizations_for_reports(current_user),
                           cell=lambda c: rs.display_value(c, report)), 400 if errors else 200


@bp.get("/reports/<section>.csv")
@login_required
def report_csv(section: str):
    """One report table as CSV (the same rows and values as the page; 404 for an unknown table)."""
    scope, organization = _scope()
    filters = rs.parse_report_filters(scope, request.args)
    report = rs.build_report(scope, filters, [section])
    table = report.tables[section]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([label for _, label in table.columns])
    for row in table.rows:
        writer.writerow([spreadsheet_safe(rs.export_value(c, report)) for c in row])
    period = filters.period
    filename = f"referralnet-{section}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/reports/monthly")
@login_required
def monthly_summary():
    """A printable one-month summary of an organization's referrals (the user's own; any for the network office)."""
    scope, organization = _scope()
    period = month_period(request.args.get("month"), network_timezone())
    report = rs.build_report(scope, ReportFilters(period), MONTHLY_SECTIONS)
    charts = report_charts(report)
    return render_template("reports/monthly.html", report=report, charts=charts, organization=organization,
                           month=period.start, cell=lambda c: rs.display_value(c, report))


@bp.get("/reports/charts/<token>.svg")
@login_required
def chart_image(token: str):
    """A chart of a report page, drawn (404 for a link not made for this user's page)."""
    response = Response(chart_svg(token, current_user.get_id()), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"  # the same link, the same image
    return response
