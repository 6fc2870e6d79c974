"""What the patient's status page shows and what a patient can report from it.

The page is reached with the referral's token only; it shows the agency, how to reach
it, its hours, the plain-language status, what to bring and the patient-visible
timeline — and nothing about the patient (no name, no date of birth, no contact
details): whoever holds the link sees only what the agency is and what happens next.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from babel.dates import get_day_names
from flask_babel import format_date, format_datetime, format_time, gettext as _, lazy_gettext as _l
from sqlalchemy import select, update

from referralnet.db import utcnow
from referralnet.directory.hours import WeeklyHours
from referralnet.directory.public import PlaceView, ServiceView, get_service_view
from referralnet.errors import NotFound, ValidationFailed
from referralnet.extensions import db
from referralnet.referrals.events import record_event
from referralnet.referrals.forms import PATIENT_REPORT_LABELS
from referralnet.referrals.models import PATIENT_REPORTS, Referral, ReferralEvent, Status
from referralnet.referrals.states import TERMINAL
from referralnet.audit.services import audit
from referralnet.referrals.services import is_overdue

REPORT_LABELS = PATIENT_REPORT_LABELS  # the page's buttons
REPORT_THANKS = {
    "contacted": _l("Thank you. We told your care team that the agency contacted you."),
    "got-help": _l("Thank you. We are glad you got help; your care team will see your message."),
    "not-heard-back": _l("Thank you. Your care team will follow up with the agency and with you."),
    "no-longer-needed": _l("Thank you. Your care team will close this referral."),
}
# The same report again within this time is the same report (recorded once).
REPORT_REPEAT_WINDOW = timedelta(days=1)
# A finished referral (completed, failed, declined, cancelled) takes no more reports: there is nothing
# left for the agency to do, and the care team talks with the patient about what comes next.
REPORTS_SHOWN_FROM = frozenset(s for s in Status if s not in TERMINAL)


@dataclass
class StatusView:
    referral: Referral
    service: ServiceView | None
    place: PlaceView | None
    headline: str
    detail: str
    timeline: list[tuple[datetime, str]]
    can_report: bool


def view_for(referral: Referral, now: Optional[datetime] = None) -> StatusView:
    """Everything the status page shows, in the current locale. NotFound for a referral entered in error."""
    now = now or utcnow()
    status = Status(referral.status)
    if status == Status.ENTERED_IN_ERROR:
        raise NotFound("No such page.")
    try:
        service = get_service_view(referral.service_id, now=now, contact_only=True)  # what the page shows
    except NotFound:  # the service closed since: the page still explains the referral
        service = None
    place = _place_for(service, referral.location_id)
    agency = referral.receiving_organization.name
    headline, detail = _plain_status(referral, agency, now)
    return StatusView(referral=referral, service=service, place=place, headline=headline, detail=detail,
                      timeline=_timeline(referral, agency), can_report=status in REPORTS_SHOWN_FROM)


@dataclass
class ReportRecorded:
    """What became of a patient's report: its event, and whether the same one had been sent already."""

    event: ReferralEvent
    already_sent: bool


def record_report(referral: Referral, code: str, *, now: Optional[datetime] = None) -> ReportRecorded:
    """A report from the patient's status page: a patient-visible event on the timeline (flushes).

    Reports of a problem put the referral on the coordinator's worklist (see referrals.worklists).
    The same report again within REPORT_REPEAT_WINDOW (a double tap, a reload, a second try the
    next morning) records nothing new and tells the coordinator nothing twice: the earlier event
    comes back with `already_sent`. Two identical reports at the same moment record one (the
    referral's row is locked before looking). Raises ValidationFailed for an unknown report.
    """
    if code not in PATIENT_REPORTS:
        raise ValidationFailed("Choose one of the buttons.", {"report": ["Choose one of the buttons."]})
    if Status(referral.status) not in REPORTS_SHOWN_FROM:
        raise ValidationFailed("This referral is finished: call your care team to tell them about it.",
                               {"report": ["This referral is finished."]})
    now = now or utcnow()
    _lock_referral(referral)
    earlier = db.session.scalar(
        select(ReferralEvent).where(ReferralEvent.referral_id == referral.id, ReferralEvent.kind == "report",
                                    ReferralEvent.report_code == code,
                                    ReferralEvent.at > now - REPORT_REPEAT_WINDOW)
        .order_by(ReferralEvent.at.desc()).limit(1))
    if earlier is not None:
        return ReportRecorded(earlier, already_sent=True)
    event = record_event(referral, "report", actor=None, actor_kind="patient", at=now, report_code=code,
                         patient_visible=True)
    audit(None, "referral.patient_report", "referral", referral.id, report=code, now=event.at)
    return ReportRecorded(event, already_sent=False)


def _lock_referral(referral: Referral) -> None:
    """Take the referral's row lock (PostgreSQL) or the write lock (SQLite) for the rest of the transaction,
    without changing the row: `updated_at` set to itself, so neither `version` nor the time moves."""
    db.session.execute(update(Referral).where(Referral.id == referral.id)
                       .values(updated_at=Referral.updated_at).execution_options(synchronize_session=False))


def _place_for(service: ServiceView | None, location_id: Optional[str]) -> PlaceView | None:
    if service is None or not service.places:
        return None
    for place in service.places:
        if place.location is not None and place.location.id == location_id:
            return place
    return service.places[0]


def _plain_status(referral: Referral, agency: str, now: datetime) -> tuple[str, str]:
    status = Status(referral.status)
    if status == Status.REQUESTED:
        if is_overdue(referral, now):
            return (_("Sent to %(agency)s", agency=agency),
                    _("%(agency)s should have contacted you by now. If they have not, tell us below.", agency=agency))
        return (_("Sent to %(agency)s", agency=agency),
                _("%(agency)s should contact you by %(day)s.", agency=agency,
                  day=patient_date(referral.response_due_at)))
    messages = {
        Status.ACCEPTED: (_("Accepted"), _("%(agency)s accepted your referral and will contact you.", agency=agency)),
        Status.IN_PROGRESS: (_("In progress"), _("%(agency)s is working with you.", agency=agency)),
        Status.ON_HOLD: (_("On hold"), _("%(agency)s paused your referral for now. Call them if you have questions.",
                                         agency=agency)),
        Status.COMPLETED: (_("Completed"), _("%(agency)s finished helping you with this referral.", agency=agency)),
        Status.FAILED: (_("Closed"), _("%(agency)s could not help this time. Your care team will talk with you "
                                       "about other options.", agency=agency)),
        Status.REJECTED: (_("Not accepted"), _("%(agency)s cannot take this referral. Your care team will help you "
                                               "find another place.", agency=agency)),
        Status.CANCELLED: (_("Cancelled"), _("This referral was cancelled. Contact your care team if you still "
                                             "need help.")),
    }
    return messages[status]


def _timeline(referral: Referral, agency: str) -> list[tuple[datetime, str]]:
    labels = {
        Status.REQUESTED: _("Your care team sent the referral to %(agency)s.", agency=agency),
        Status.ACCEPTED: _("%(agency)s accepted the referral.", agency=agency),
        Status.IN_PROGRESS: _("%(agency)s started working with you.", agency=agency),
        Status.ON_HOLD: _("The referral was put on hold."),
        Status.COMPLETED: _("%(agency)s completed the referral.", agency=agency),
        Status.FAILED: _("%(agency)s could not complete the referral.", agency=agency),
        Status.REJECTED: _("%(agency)s could not take the referral.", agency=agency),
        Status.CANCELLED: _("The referral was cancelled."),
    }
    out = []
    for event in referral.events:
        if not event.patient_visible:
            continue
        if event.kind == "status" and event.to_status:
            text = labels.get(Status(event.to_status))
        elif event.kind == "viewed":
            text = _("%(agency)s opened your referral.", agency=agency)
        elif event.kind == "report" and event.report_code:
            text = _("You told us: “%(report)s”.", report=REPORT_LABELS[event.report_code])
        else:
            text = None
        if text:
            out.append((event.at, text))
    return out


def localized_hours(hours: WeeklyHours, locale: str) -> list[tuple[str, str]]:
    """[(day name, '9:00 – 17:00'), ...] Monday first, in the page's language (24-hour clock in Spanish)."""
    names = get_day_names("wide", locale=locale)
    out = []
    for index in range(7):
        spans = sorted((i.opens, i.closes) for i in hours.intervals if i.weekday == index)
        if spans:
            out.append((names[index].capitalize(), ", ".join(f"{_clock(o, locale)} – {_clock(c, locale)}"
                                                             for o, c in spans)))
    return out


def _clock(minutes: int, locale: str) -> str:
    minutes %= 1440
    if minutes == 1439:
        minutes = 0
    h, m = divmod(minutes, 60)
    if locale == "en":
        return f"{(h % 12) or 12}:{m:02d} {'AM' if h < 12 else 'PM'}"
    return f"{h}:{m:02d}"


def when_label(at: datetime) -> str:
    return format_datetime(at, "EEE d MMM, h:mm a") if at else ""


def patient_date(at) -> str:
    """A date as staff pages show it ("Nov 24, 2026"), in the page's language ("24 nov 2026")."""
    return format_date(at, "medium") if at else ""


def patient_datetime(at: datetime) -> str:
    """A time as staff pages show it ("Nov 24, 2026, 9:05 AM"), in the page's language ("24 nov 2026, 9:05");
    in the network's time zone, as on staff pages."""
    return f"{format_date(at, 'medium')}, {format_time(at, 'short')}" if at else ""
