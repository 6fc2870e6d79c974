"""Admin pages: browse, filter and download the audit log.

Network admins only. The audit log holds ids, codes and field names, never patient data
(`audit.services.audit` enforces it), so showing it to admins, who may not see clients, leaks
none; these pages add nothing from other tables but user and organization names.

The filters are a GET form, so a filtered view can be bookmarked and paged. Values that
cannot be a filter (an unreadable date, a range that ends before it starts, an id that is
not a number, a choice that is not on the list) answer 400 with the message next to the
field, never a 500 and never a silently ignored filter.

The query for this read-only admin page over one table lives here, in `AuditFilters` and
`audit_query`, apart from the views.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Optional

from flask import Blueprint, Response, render_template, request
from flask_login import current_user
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from referralnet.accounts.models import NetworkOrganization, Role, User
from referralnet.accounts.permissions import role_required
from referralnet.db import Page, paginate, utcnow
from referralnet.extensions import db
from referralnet.audit.models import AuditLog
from referralnet.audit.services import audit
from referralnet.config import network_timezone
from referralnet.web import spreadsheet_safe

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

PER_PAGE = 50
CSV_MAX_ROWS = 50_000
SYSTEM = "system"  # the user filter's value for rows written by the system (no user)
MAX_ID_DIGITS = 18
MIN_YEAR, MAX_YEAR = 2000, 2999
FILTER_NAMES = ("user", "organization", "action", "object_type", "object_id", "date_from", "date_to")


# --- filters and the query ----------------------------------------------------------------------

@dataclass
class AuditFilters:
    """Parsed filters; `raw` keeps what was typed, to show it back in the form."""

    raw: dict[str, str] = field(default_factory=dict)
    user_id: Optional[int] = None
    system_only: bool = False
    organization_id: Optional[int] = None
    action: Optional[str] = None
    object_type: Optional[str] = None
    object_id: Optional[str] = None
    date_from: Optional[date] = None
    date_to: Optional[date] = None

    @property
    def active(self) -> list[str]:
        """The names of the filters in use (for links that keep them, and for the export's audit row)."""
        return [name for name in FILTER_NAMES if self.raw.get(name)]

    def query_args(self) -> dict[str, str]:
        return {name: self.raw[name] for name in self.active}


def distinct_actions() -> list[str]:
    return list(db.session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))


def distinct_object_types() -> list[str]:
    return list(db.session.scalars(select(AuditLog.object_type).distinct().order_by(AuditLog.object_type)))


def parse_filters(args) -> tuple[AuditFilters, dict[str, list[str]]]:
    """Filters from the query string, and the errors by field name (empty when all are usable)."""
    raw = {name: (args.get(name) or "").strip() for name in FILTER_NAMES}
    filters = AuditFilters(raw=raw)
    errors: dict[str, list[str]] = {}

    if raw["user"] == SYSTEM:
        filters.system_only = True
    elif raw["user"]:
        filters.user_id = _whole_number(raw["user"])
        if filters.user_id is None or db.session.get(User, filters.user_id) is None:
            errors["user"] = ["Choose a user from the list."]
    if raw["organization"]:
        filters.organization_id = _whole_number(raw["organization"])
        if filters.organization_id is None or db.session.get(NetworkOrganization, filters.organization_id) is None:
            errors["organization"] = ["Choose an organization from the list."]
    if raw["action"]:
        if raw["action"] not in distinct_actions():
            errors["action"] = ["Choose an action from the list."]
        filters.action = raw["action"]
    if raw["object_type"]:
        if raw["object_type"] not in distinct_object_types():
            errors["object_type"] = ["Choose an object type from the list."]
        filters.object_type = raw["object_type"]
    if raw["object_id"]:
        # Every audited object has an integer id; compare as text, the column's type, without leading zeros.
        number = _whole_number(raw["object_id"])
        if number is None:
            errors["object_id"] = ["Enter an object id as a whole number, like 42."]
        else:
            filters.object_id = str(number)
    for name in ("date_from", "date_to"):
        if raw[name]:
            try:
                day = date.fromisoformat(raw[name])
            except ValueError:
                errors[name] = ["Enter a date like 2026-03-31."]
                continue
            # Far-off years are typos, and date.max + 1 day would overflow.
            if not MIN_YEAR <= day.year <= MAX_YEAR:
                errors[name] = [f"Enter a date between {MIN_YEAR} and {MAX_YEAR}."]
            else:
                setattr(filters, name, day)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        errors["date_to"] = ["The end date must be on or after the start date."]
    return filters, {name: errors[name] for name in FILTER_NAMES if name in errors}  # in the form's order


def _whole_number(value: str) -> Optional[int]:
    if not value.isascii() or not value.isdigit() or len(value) > MAX_ID_DIGITS:
        return None
    return int(value)


def _local_midnight(day: date) -> datetime:
    """The start of `day` in the network's time zone (the dates admins type are local dates)."""
    return datetime.combine(day, time(0, 0), tzinfo=network_timezone())


def audit_query(filters: AuditFilters) -> Select[tuple[AuditLog]]:
    """A `select(AuditLog)` of the rows matching `filters`, newest first."""
    query = select(AuditLog)
    if filters.system_only:
        query = query.where(AuditLog.user_id.is_(None))
    elif filters.user_id is not None:
        query = query.where(AuditLog.user_id == filters.user_id)
    if filters.organization_id is not None:
        query = query.where(AuditLog.organization_id == filters.organization_id)
    if filters.action:
        query = query.where(AuditLog.action == filters.action)
    if filters.object_type:
        query = query.where(AuditLog.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditLog.object_id == filters.object_id)
    if filters.date_from:
        query = query.where(AuditLog.at >= _local_midnight(filters.date_from))
    if filters.date_to:  # inclusive: up to the end of that day
        query = query.where(AuditLog.at < _local_midnight(filters.date_to + timedelta(days=1)))
    return query.order_by(AuditLog.at.desc(), AuditLog.id.desc())


def list_audit_rows(filters: AuditFilters, page_arg) -> Page:
    """One page of matching rows; a page number that is not one of the pages shows the first."""
    return paginate(audit_query(filters).options(selectinload(AuditLog.user)), page_arg, per_page=PER_PAGE)


def organization_names() -> dict[int, str]:
    return dict(db.session.execute(select(NetworkOrganization.id, NetworkOrganization.name)).all())


# --- views ----------------------------------------------------------------------------------------

@bp.get("")
@role_required(Role.ADMIN)
def audit_log():
    """The audit log, filtered and paged; `?format=csv` downloads the filtered rows instead."""
    filters, errors = parse_filters(request.args)
    want_csv = request.args.get("format") == "csv"
    if errors:
        return _render(filters, errors, page=None), 400
    if want_csv:
        return _csv_response(filters)
    return _render(filters, errors, page=list_audit_rows(filters, request.args.get("page")))


def _render(filters: AuditFilters, errors: dict[str, list[str]], page: Optional[Page]) -> str:
    users = db.session.execute(
        select(User.id, User.name, User.email).order_by(func.lower(User.name), User.email)).all()
    organizations = db.session.execute(
        select(NetworkOrganization.id, NetworkOrganization.name).order_by(NetworkOrganization.name)).all()
    return render_template(
        "audit/log.html", filters=filters, errors=errors, page=page, users=users, organizations=organizations,
        org_names=organization_names(), actions=distinct_actions(), object_types=distinct_object_types(),
        csv_max_rows=CSV_MAX_ROWS, system=SYSTEM, when=_when, details_text=_details_text, action_label=action_label,
        query_args=filters.query_args())


# Each action as words (the log stores codes; the filter and the table show these). An action without a
# label here still reads as words: "referral.agency_link.issue" -> "Referral agency link issue".
ACTION_LABELS = {
    "api_token.create": "API token created", "api_token.revoke": "API token revoked", "api_token.use": "API token used",
    "audit.export": "Audit log exported", "client.create": "Client added", "client.update": "Client updated",
    "client.view": "Client viewed", "consent.record": "Consent recorded", "consent.revoke": "Consent withdrawn",
    "directory.import": "Directory imported", "directory.location.create": "Location added",
    "directory.location.update": "Location updated", "directory.organization.create": "Directory organization added",
    "directory.organization.update": "Directory organization updated", "directory.service.create": "Service added",
    "directory.service.update": "Service updated", "join_request.approve": "Request to join approved",
    "join_request.create": "Request to join received", "join_request.decline": "Request to join declined",
    "listing.update": "Listing updated by its agency",
    "organization.activate": "Organization reactivated", "organization.create": "Organization added",
    "organization.deactivate": "Organization deactivated", "organization.update": "Organization updated",
    "referral.agency_link.issue": "Agency link sent", "referral.agency_link.revoke": "Agency link revoked",
    "referral.close": "Loop closed", "referral.message": "Message sent", "referral.patient_link.issue": "Patient link issued",
    "referral.patient_link.revoke": "Patient link revoked", "referral.patient_report": "Patient report",
    "referral.remind": "Reminder sent", "referral.send": "Referral sent", "referral.transition": "Status changed",
    "referral.view": "Referral viewed", "user.activate": "User reactivated", "user.create": "User added",
    "user.deactivate": "User deactivated", "user.update": "User updated", "user.invite": "Invitation sent",
    "user.password_change": "Password changed", "user.password_reset_request": "Password reset link sent",
    "user.password_reset": "Password set from a link", "user.recovery_code_use": "Recovery code used",
    "user.recovery_codes_regenerate": "Recovery codes renewed", "user.two_factor_enroll": "Two-factor sign-in set up",
    "user.two_factor_reset": "Two-factor sign-in reset", "user.session_timeout": "Signed out after idle time",
}


def action_label(action: str) -> str:
    """The action as words."""
    return ACTION_LABELS.get(action) or re.sub(r"[._]+", " ", action).strip().capitalize()


def _when(at: datetime) -> str:
    return at.astimezone(network_timezone()).strftime("%b %-d, %Y %-I:%M:%S %p %Z")


def _details_text(details) -> str:
    """`key: value; key: a, b` — details are ids and codes only (services.audit)."""
    if not details:
        return ""
    parts = []
    for key, value in sorted(details.items()):
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{key}: {'—' if value is None else value}")
    return "; ".join(parts)


CSV_COLUMNS = ("at_utc", "user_id", "user_name", "user_email", "organization_id", "organization", "action",
               "object_type", "object_id", "details")
_cell = spreadsheet_safe


def _csv_response(filters: AuditFilters) -> Response:
    """The newest CSV_MAX_ROWS matching rows as CSV; the export is itself audited (filter names only)."""
    org_names = organization_names()
    users = {u.id: u for u in db.session.scalars(select(User))}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in db.session.scalars(audit_query(filters).limit(CSV_MAX_ROWS).execution_options(yield_per=1000)):
        user = users.get(row.user_id)
        writer.writerow([_cell(v) for v in (
            row.at.isoformat(), row.user_id, user.name if user else "System", user.email if user else "",
            row.organization_id, org_names.get(row.organization_id, ""), row.action, row.object_type,
            row.object_id, json.dumps(row.details or {}, sort_keys=True))])
        count += 1
    audit(current_user, "audit.export", "audit_log", "csv", rows=count, filters=filters.active)
    filename = f"audit-log-{utcnow():%Y%m%d-%H%M%S}.csv"
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Audit-Rows"] = str(count)
    response.headers["X-Audit-Row-Limit"] = str(CSV_MAX_ROWS)
    return response
