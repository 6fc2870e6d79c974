"""What needs attention: the coordinator's worklist and the partner's inbox.

Both are lists of named views over `access.visible_referrals(user)`, each a SQL
condition, so the counts shown on the tabs and the rows listed under them come from
the same definition. Views are exclusive and checked in order: a referral appears
under the first view it matches.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Callable, Optional

from sqlalchemy import ColumnElement, and_, bindparam, case, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import aliased, joinedload

from referralnet.accounts.models import User
from referralnet.accounts.routes import DeliveryRoute
from referralnet.db import UTCDateTime, utcnow
from referralnet.extensions import db
from referralnet.referrals.access import visible_referrals
from referralnet.referrals.models import PRIORITIES, Referral, ReferralEvent, Status
from referralnet.referrals.services import overdue_clause

PER_PAGE = 25
S = Status


@dataclass(frozen=True)
class View:
    key: str
    label: str
    help: str
    condition: Callable[[ColumnElement[datetime]], ColumnElement[bool]]  # given the time as a bound parameter


def _followed_up() -> ColumnElement[bool]:
    """A later referral was sent for the same need ("refer elsewhere" was used)."""
    later = aliased(Referral)
    return exists(select(later.id).where(later.previous_referral_id == Referral.id))


# Patient reports that need the coordinator: the agency never called, or the need went away.
PROBLEM_REPORTS = ("not-heard-back", "no-longer-needed")


def patient_reported_clause() -> ColumnElement[bool]:
    """The patient reported a problem (from their status page) after the coordinators last acted."""
    patient = aliased(ReferralEvent)
    coordinator = aliased(ReferralEvent)
    last_coordinator_action = (select(func.max(coordinator.at))
                               .where(coordinator.referral_id == Referral.id, coordinator.actor_kind == "coordinator")
                               .scalar_subquery())
    return exists(select(patient.id).where(
        patient.referral_id == Referral.id, patient.kind == "report", patient.report_code.in_(PROBLEM_REPORTS),
        patient.on_behalf_of.is_(None),  # what the client told the coordinator is not news to them
        or_(last_coordinator_action.is_(None), patient.at > last_coordinator_action)))


def _status_in(*statuses: Status) -> ColumnElement[bool]:
    return Referral.status.in_([s.value for s in statuses])


_NOT_CLOSED = Referral.loop_closed_at.is_(None)

# The coordinator's worklist, most urgent first.
WORKLIST: tuple[View, ...] = (
    View("refer-elsewhere", "Rejected or failed",
         "The agency could not help. Refer the client elsewhere, or close the loop.",
         lambda now: and_(_NOT_CLOSED, _status_in(S.REJECTED, S.FAILED), not_(_followed_up()))),
    View("patient-reported", "Patient reported a problem",
         "The patient told us something on their status page since we last acted.",
         lambda now: and_(_NOT_CLOSED, _status_in(*(s for s in S if s != S.ENTERED_IN_ERROR)),
                          patient_reported_clause())),
    View("follow-up", "Follow up with the agency",
         "You track these (the agency is not in the network and has no email on file) and its response time "
         "has passed: call the agency and the client, and record what they tell you.",
         lambda now: and_(overdue_clause(now), Referral.delivery_route == DeliveryRoute.TRACKED.value)),
    View("overdue", "Overdue for a response",
         "The agency has not accepted or declined in time. Call them, or cancel and refer elsewhere.",
         lambda now: overdue_clause(now)),
    View("to-close", "Finished, loop not closed",
         "Check with the client how it went and record the verified outcome.",
         lambda now: and_(_NOT_CLOSED, _status_in(S.COMPLETED, S.CANCELLED, S.REJECTED, S.FAILED))),
    View("waiting", "With the agency",
         "Sent and being worked on; nothing to do unless the client asks.",
         lambda now: _status_in(S.REQUESTED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD)),
    View("closed", "Closed",
         "The loop is closed, or the referral was entered in error.",
         lambda now: or_(Referral.loop_closed_at.is_not(None), _status_in(S.ENTERED_IN_ERROR))),
)
ATTENTION_KEYS = ("refer-elsewhere", "patient-reported", "follow-up", "overdue", "to-close")

# The partner's inbox.
INBOX: tuple[View, ...] = (
    View("overdue", "Overdue for a response", "Past the response time: accept or decline now.",
         lambda now: overdue_clause(now)),
    View("new", "New", "Waiting for you to accept or decline.",
         lambda now: _status_in(S.REQUESTED)),
    View("accepted", "Accepted", "Accepted; start work when you reach the client.",
         lambda now: _status_in(S.ACCEPTED)),
    View("in-progress", "In progress", "You are working with the client.",
         lambda now: _status_in(S.IN_PROGRESS)),
    View("on-hold", "On hold", "Paused; resume or finish them.",
         lambda now: _status_in(S.ON_HOLD)),
    View("finished", "Finished", "Completed, failed, declined or cancelled.",
         lambda now: _status_in(S.COMPLETED, S.FAILED, S.REJECTED, S.CANCELLED)),
)
INBOX_ATTENTION_KEYS = ("overdue", "new")


@dataclass
class Filters:
    """Optional narrowing of a list; the values come from the page's GET form (validated there)."""

    category: Optional[str] = None
    priority: Optional[str] = None
    receiving_organization_id: Optional[str] = None
    mine: bool = False  # the coordinator's own referrals only

    def clause(self, user: User) -> ColumnElement[bool]:
        parts = [true()]
        if self.category:
            parts.append(Referral.category == self.category)
        if self.priority in PRIORITIES:
            parts.append(Referral.priority == self.priority)
        if self.receiving_organization_id:
            parts.append(Referral.receiving_organization_id == self.receiving_organization_id)
        if self.mine:
            parts.append(Referral.sender_id == user.id)
        return and_(*parts)


@dataclass
class Listing:
    views: tuple[View, ...]
    counts: dict[str, int]
    current: View
    referrals: list[Referral]
    page: int
    pages: int
    total: int


# The views' conditions are built once per process with the time as a bound parameter (given its value
# when the query runs): building them, the CASE of every view and each view "minus the ones before
# it", took ~40% of a worklist request's CPU when it was done per request (in-process profile).
_NOW = "worklist_now"


@dataclass(frozen=True)
class _Compiled:
    view_of: ColumnElement  # CASE: the first view each referral matches, labelled "view"
    exclusive: dict[str, ColumnElement[bool]]  # each view's condition minus the views before it


@cache
def _compiled(views: tuple[View, ...]) -> _Compiled:
    now = bindparam(_NOW, type_=UTCDateTime())
    conditions = [(view.key, view.condition(now)) for view in views]
    exclusive, earlier = {}, false()
    for key, condition in conditions:
        exclusive[key] = and_(condition, not_(earlier))
        earlier = or_(earlier, condition)
    return _Compiled(case(*((condition, key) for key, condition in conditions), else_=None).label("view"),
                     exclusive)


def counts(user: User, views: tuple[View, ...], filters: Filters, now: Optional[datetime] = None) -> dict[str, int]:
    """How many of the user's referrals each view holds: one query, each referral counted under the
    first view it matches (a CASE evaluates each view's condition at most once per referral)."""
    view_of = _compiled(views).view_of
    visible = visible_referrals(user).where(filters.clause(user))
    rows = db.session.execute(select(view_of, func.count()).select_from(Referral).where(visible.whereclause)
                              .group_by(view_of), {_NOW: now or utcnow()}).all()
    found = {key: n for key, n in rows if key is not None}
    return {v.key: found.get(v.key, 0) for v in views}


def listing(user: User, views: tuple[View, ...], key: Optional[str], filters: Filters, page: int = 1,
            now: Optional[datetime] = None) -> Listing:
    """Counts for every view and one page of the chosen view (the first one with rows, by default)."""
    now = now or utcnow()
    view_counts = counts(user, views, filters, now)
    current = next((v for v in views if v.key == key), None) or \
        next((v for v in views if view_counts[v.key]), views[0])
    total = view_counts[current.key]
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    query = (visible_referrals(user).where(filters.clause(user), _compiled(views).exclusive[current.key])
             .options(joinedload(Referral.client), joinedload(Referral.service),
                      joinedload(Referral.receiving_organization), joinedload(Referral.sending_organization))
             .order_by(*_ordering(current.key)).limit(PER_PAGE).offset((page - 1) * PER_PAGE))
    return Listing(views, view_counts, current, list(db.session.scalars(query, {_NOW: now})), page, pages, total)


# Views of finished referrals: no response is due any more (their lists show how each one ended instead).
FINISHED_VIEWS = frozenset({"closed", "finished", "to-close", "refer-elsewhere"})


def _ordering(key: str):
    if key in ("overdue", "new", "follow-up"):
        return (Referral.response_due_at, Referral.id)
    if key in FINISHED_VIEWS:
        return (Referral.updated_at.desc(), Referral.id.desc())
    return (Referral.requested_at.desc(), Referral.id.desc())


def attention_count(user: User, now: Optional[datetime] = None) -> int:
    """How many of the coordinator's referrals need them now (the worklist's first four views)."""
    view_counts = counts(user, WORKLIST, Filters(), now)
    return sum(view_counts[k] for k in ATTENTION_KEYS)
