"""Outcome reports as JSON (scope reports:read): the same tables as the /reports pages and CSV files.

A token sees its organization's reports, as the organization's staff do: a clinic's token the
referrals it sent, an agency's token the referrals sent to it (with the network median), and a
network-office token the whole network (or, with `organization`, one member organization's).
Outside the network office, small counts are "fewer than 11" (`suppressed_below`).
"""
from __future__ import annotations

from marshmallow import Schema, fields

from referralnet.api.v1.common import actor, make_blueprint, scoped
from referralnet.reports import services as rs

bp = make_blueprint("api_v1_reports", "Outcome reports: volume, responsiveness, outcomes and unmet needs.")


class ReportArgs(Schema):
    start = fields.String(metadata={"description": "first day sent, YYYY-MM-DD (default: 90 days before `end`)"})
    end = fields.String(metadata={"description": "last day sent, YYYY-MM-DD (default: today, network time zone)"})
    category = fields.String(metadata={"description": "SDOH domain code of the need"})
    priority = fields.String(metadata={"description": "routine, urgent, asap or stat"})
    sending_organization = fields.String(metadata={"description": "member organization id of the sender"})
    receiving_organization = fields.String(metadata={"description": "directory organization id of the agency"})
    delivery_route = fields.String(metadata={"description": "network, link (secure link to an agency outside the "
                                                            "network) or tracked (by the coordinator)"})
    organization = fields.String(metadata={"description": "network-office tokens only: one member organization's "
                                                          "reports instead of the whole network's"})


class ColumnSchema(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)


class ReportTableSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    note = fields.String(required=True)
    columns = fields.List(fields.Nested(ColumnSchema), required=True)
    rows = fields.List(fields.Dict(), required=True, metadata={
        "description": "one object per row, by column key: numbers (percentages 0-100, times in hours), text, "
                       "null when there is nothing to compute, or \"fewer than 11\" for a hidden small count"})


class ReportSchema(Schema):
    scope = fields.Dict(required=True, metadata={"description": "kind (network, sent, received) and name"})
    period = fields.Dict(required=True, metadata={"description": "start, end (dates sent, both included), "
                                                                 "timezone"})
    filters = fields.Dict(required=True)
    suppressed_below = fields.Integer(allow_none=True, required=True, metadata={
        "description": "counts from 1 up to this minus one are hidden; null when nothing is hidden"})
    generated_at = fields.DateTime(required=True)
    tables = fields.List(fields.Nested(ReportTableSchema), required=True)


def _report(args: dict, sections=None) -> dict:
    who = actor()
    scope = rs.report_scope(who, rs.get_report_organization(who, args.get("organization")))
    filters = rs.parse_report_filters(scope, args)
    report = rs.build_report(scope, filters, sections)
    period = filters.period
    return {
        "scope": {"kind": scope.kind, "name": scope.name},
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat(), "timezone": period.tz.key},
        "filters": dict(filters.values),
        "suppressed_below": report.min_cell_size if scope.suppress and report.min_cell_size > 1 else None,
        "generated_at": report.generated_at,
        "tables": [{"id": t.id, "title": t.title, "note": t.note,
                    "columns": [{"key": k, "label": label} for k, label in t.columns],
                    "rows": rs.table_records(t, report)} for t in report.tables.values()],
    }


@bp.route("/reports", methods=["GET"])
@scoped("reports:read")
@bp.arguments(ReportArgs, location="query")
@bp.response(200, ReportSchema)
def all_reports(args: dict):
    """Every report table for the period and filters (as the /reports page shows them)."""
    return _report(args)


@bp.route("/reports/<section>", methods=["GET"])
@scoped("reports:read")
@bp.arguments(ReportArgs, location="query")
@bp.response(200, ReportSchema)
def one_report(args: dict, section: str):
    """One report table: volume-by-week, volume-by-need, funnel, responsiveness, service-level, outcomes,
    reasons, verified-outcomes, loop-closure, patient-reports, refer-elsewhere, unmet-declines,
    unmet-searches, unmet-distance, comparison (agencies only). Unknown names are 404."""
    return _report(args, [section])
