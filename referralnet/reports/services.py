"""The outcome reports: every measure as SQL aggregates over the referrals one scope may see.

Scopes (`report_scope`), as the rest of the app scopes referrals (referrals.access):
- the network office (network admins, and API tokens of the network organization) sees
  every referral of the network;
- a referring organization's coordinators see the referrals their organization sent;
- an agency's staff see the referrals sent to their agency, and how the agency compares with
  the network *median across agencies* (never another agency by name).
Outside the network office, counts from 1 to REPORT_MIN_CELL_SIZE - 1 (default 1..10) are shown
as "fewer than 11", and so are the rates and times computed from so few referrals (the CMS
cell-size rule): `Cell.suppressed`.

A referral belongs to a period when it was sent in it; entered-in-error referrals are not
referrals and count nowhere. Every measure is a function of the rows in the period, the scope
and the filters (`DIMENSIONS`); `build_report(scope, filters, sections)` computes the sections
asked for, each a `Table` (what the page shows, the CSV file and the JSON document say).

Definitions (also on the page):
- viewed: the agency opened it (or answered it); accepted: the agency accepted it (at any
  time: it may since be in progress, on hold, completed, failed or cancelled); declined:
  rejected by the agency; completed / failed / cancelled: its status now;
- times are from sending; median and 90th percentile are nearest-rank; business time leaves
  weekends out (the service level counts business days in the network's time zone);
- answered within the service level: answered by its response due time, of the referrals
  answered or already past due; overdue now: still unanswered past due, of all sent;
- loop-closure rate: loop closed ÷ finished (declined, completed, failed or cancelled);
- refer elsewhere: referrals sent to follow one that did not work out; a follow-up succeeded
  when it was completed with the client helped (fully or partly), of the finished follow-ups.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Optional

from flask import current_app
from sqlalchemy import and_, case, func, select

from referralnet.accounts.models import NetworkOrganization, OrgKind, Role, User
from referralnet.accounts.routes import DeliveryRoute
from referralnet.config import network_timezone
from referralnet.db import utcnow
from referralnet.directory.models import Address, Attribute, Location, Organization, Service, ServiceAtLocation
from referralnet.directory.sdoh import sdoh_terms
from referralnet.errors import NotFound, NotPermitted, ValidationFailed
from referralnet.extensions import db
from referralnet.geo import Points, zip_place
from referralnet.referrals.models import (CANCEL_REASONS, CLOSABLE_STATUSES, FAIL_REASONS, PATIENT_REPORTS,
                                          PRIORITIES, REJECT_REASONS, VERIFIED_OUTCOMES, Referral,
                                          ReferralEvent, Status)
from referralnet.reports import sql
from referralnet.reports.models import SearchGap
from referralnet.referrals.timing import FLAGS, day_number
from referralnet.reports.periods import Period, ReportFilters, parse_period
from referralnet.search.understanding import lexicon

DEFAULT_MIN_CELL_SIZE = 11
NEARBY_MILES = 10.0
UNMET_REASONS = ("no-capacity", "not-eligible")
MIN_AGENCIES_FOR_MEDIAN = 3

S = Status
_FINISHED = [s.value for s in CLOSABLE_STATUSES]


# --- dimensions: what reports group and filter by ---------------------------------------------------

@dataclass(frozen=True)
class Dimension:
    """A column of `referral` that reports group and filter by. One more grouping (say, how a referral
    was delivered) is one more entry in DIMENSIONS: it becomes a filter on every report and a choice
    of the page's filter form."""

    name: str
    label: str
    column: Any
    labels: Callable[[Iterable[Any]], dict]  # values -> their display labels (one query at most)
    parse: Callable[[str], Any] = str  # raises ValueError for a value that cannot be one


def _domain_labels(codes: Iterable[str]) -> dict:
    terms = sdoh_terms()
    return {c: terms[c]["name"] if c in terms else c.replace("-", " ").capitalize() for c in codes}


def _network_org_labels(ids: Iterable[int]) -> dict:
    ids = [i for i in ids if i is not None]
    return dict(db.session.execute(select(NetworkOrganization.id, NetworkOrganization.name)
                                   .where(NetworkOrganization.id.in_(ids))).all()) if ids else {}


def _agency_labels(ids: Iterable[str]) -> dict:
    ids = [i for i in ids if i is not None]
    return dict(db.session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(ids))).all()) \
        if ids else {}


def _known(values: Iterable[str]):
    allowed = set(values)

    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(raw)
        return raw

    return parse


DIMENSIONS: dict[str, Dimension] = {d.name: d for d in (
    Dimension("category", "Need", Referral.category, _domain_labels, _known(sdoh_terms())),
    Dimension("priority", "Priority", Referral.priority, lambda vs: {v: v.capitalize() for v in vs},
              _known(PRIORITIES)),
    Dimension("sending_organization", "Sending organization", Referral.sending_organization_id,
              _network_org_labels, int),
    Dimension("receiving_organization", "Receiving agency", Referral.receiving_organization_id, _agency_labels,
              lambda raw: raw if 0 < len(raw) <= 64 else int("x")),
    Dimension("delivery_route", "Delivery route", Referral.delivery_route,
              lambda vs: {v: DeliveryRoute(v).label for v in vs}, _known(r.value for r in DeliveryRoute)),
)}


# --- who sees what ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """The referrals a report covers: the whole network, those one organization sent, or those sent to one agency."""

    kind: str  # "network" | "sent" | "received"
    name: str
    suppress: bool  # small counts hidden (views shared outside the network office)
    organization_id: Optional[int] = None  # the member organization (sent, received)
    agency_id: Optional[str] = None  # the directory organization (received)

    @property
    def fixed_dimensions(self) -> set[str]:
        return {"sent": {"sending_organization"}, "received": {"receiving_organization"}}.get(self.kind, set())

    def conditions(self, column: Callable[[Any], Any] = lambda c: c) -> list:
        """The scope as conditions on the referrals (each column passed through `column`)."""
        if self.kind == "sent":
            return [column(Referral.sending_organization_id) == self.organization_id]
        if self.kind == "received":
            return [column(Referral.receiving_organization_id) == self.agency_id]
        return []


def report_scope(actor: User, organization: Optional[NetworkOrganization] = None) -> Scope:
    """The scope of `actor`'s reports: their organization's, or (network admins only) `organization`'s
    or the whole network's. Raises NotPermitted for deactivated users or organizations and for an
    agency not linked to the directory yet; NotFound when a non-admin asks for another organization."""
    if actor is None or not actor.active or not actor.organization.active:
        raise NotPermitted("You do not have access to reports.")
    office = actor.organization.kind == OrgKind.NETWORK.value and actor.role == Role.ADMIN.value
    if organization is not None and organization.id != actor.organization_id and not office:
        raise NotFound("No such organization.")
    org = organization or actor.organization
    suppress = not office
    if org.kind == OrgKind.NETWORK.value:
        if not office:
            raise NotPermitted("You do not have access to reports.")
        return Scope("network", "the whole network", suppress=False)
    if org.kind == OrgKind.REFERRER.value:
        if not office and actor.role != Role.COORDINATOR.value:
            raise NotPermitted("You do not have access to reports.")
        return Scope("sent", org.name, suppress, organization_id=org.id)
    if not office and actor.role != Role.PARTNER.value:
        raise NotPermitted("You do not have access to reports.")
    if org.directory_organization_id is None:
        raise NotPermitted(f"{org.name} is not linked to a directory agency yet: there is nothing to report.")
    return Scope("received", org.name, suppress, organization_id=org.id, agency_id=org.directory_organization_id)


def min_cell_size() -> int:
    """Counts below this (and above 0) are shown as "fewer than N" outside the network office."""
    return int(current_app.config.get("REPORT_MIN_CELL_SIZE", DEFAULT_MIN_CELL_SIZE))


def parse_report_filters(scope: Scope, args, *, today=None) -> ReportFilters:
    """The period (`start`, `end`) and dimension filters from query arguments. A filter on the scope's
    own dimension (an agency filtering by receiving agency) is ignored. Raises ValidationFailed naming
    each wrong field."""
    errors: dict[str, list[str]] = {}
    try:
        period = parse_period(args.get("start"), args.get("end"), network_timezone(), today)
    except ValidationFailed as exc:
        errors.update(exc.errors)
        period = None
    values = {}
    for name, dimension in DIMENSIONS.items():
        raw = (args.get(name) or "").strip()
        if not raw or name in scope.fixed_dimensions:
            continue
        try:
            values[name] = dimension.parse(raw)
        except ValueError:
            errors[name] = [f"Choose a {dimension.label.lower()} from the list."]
    if errors:
        raise ValidationFailed("The report filters are not valid: " + " ".join(m[0] for m in errors.values()),
                               errors)
    return ReportFilters(period, values)


def filter_choices(scope: Scope, filters: ReportFilters) -> dict[str, list[tuple[Any, str]]]:
    """For each dimension the scope may filter by, the (value, label) pairs found in its referrals of the period."""
    choices = {}
    for name, dimension in DIMENSIONS.items():
        if name in scope.fixed_dimensions:
            continue
        if name == "category":
            values = list(sdoh_terms())
        elif name == "priority":
            values = list(PRIORITIES)
        elif name == "delivery_route":
            values = [r.value for r in DeliveryRoute]
        elif scope.kind == "network":  # every member organization: no pass over the referrals
            values = _member_values(name)
        else:
            values = list(db.session.scalars(select(dimension.column).distinct().where(
                *scope.conditions(), Referral.requested_at >= filters.period.start_utc,
                Referral.requested_at < filters.period.end_utc)))
        labels = dimension.labels(values)
        choices[name] = sorted(((v, labels.get(v, str(v))) for v in values), key=lambda p: p[1].lower())
    return choices


def _member_values(name: str) -> list:
    """The network's sending organizations or receiving agencies (member organizations, active or not)."""
    if name == "sending_organization":
        return list(db.session.scalars(select(NetworkOrganization.id)
                                       .where(NetworkOrganization.kind == OrgKind.REFERRER.value)))
    if name == "receiving_organization":
        return list(db.session.scalars(select(NetworkOrganization.directory_organization_id).where(
            NetworkOrganization.kind == OrgKind.PARTNER.value,
            NetworkOrganization.directory_organization_id.is_not(None))))
    return list(db.session.scalars(select(DIMENSIONS[name].column).distinct()))


# --- cells and tables ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One value of a table: text, a count, a percentage or a time in hours.

    `basis` holds the counts a computed value rests on (a rate's numerator and denominator, a
    percentile's number of referrals): when one of them is small, the value is suppressed too,
    or it would give the small count away."""

    value: Any
    kind: str = "text"  # text | count | percent | hours
    basis: tuple[int, ...] = ()

    def is_small(self, limit: int) -> bool:
        if self.kind == "count":
            return self.value is not None and 0 < self.value < limit
        return any(0 < b < limit for b in self.basis)


@dataclass
class Table:
    id: str
    title: str
    columns: list[tuple[str, str]]  # (key, label)
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""


def count(n: int) -> Cell:
    return Cell(int(n or 0), "count")


def rate(numerator: int, denominator: int) -> Cell:
    value = round(100.0 * numerator / denominator, 1) if denominator else None
    return Cell(value, "percent", (int(numerator or 0), int(denominator or 0)))


def hours(seconds: Optional[float], n: int) -> Cell:
    return Cell(None if seconds is None else round(seconds / 3600.0, 1), "hours", (n,))


def text(value: Any) -> Cell:
    return Cell(value, "text")


# --- the report ------------------------------------------------------------------------------------

SECTIONS = ("volume-by-week", "volume-by-need", "funnel", "responsiveness", "service-level", "outcomes",
            "reasons", "verified-outcomes", "loop-closure", "patient-reports", "refer-elsewhere",
            "unmet-declines", "unmet-searches", "unmet-distance", "comparison")

SECTION_TITLES = {
    "volume-by-week": "Referrals sent by week, by status now",
    "volume-by-need": "Referrals sent by need",
    "funnel": "From sending to a closed loop",
    "responsiveness": "Time to first view and to an answer",
    "service-level": "Answers within the service level",
    "outcomes": "Outcomes",
    "reasons": "Why referrals were declined, cancelled or failed",
    "verified-outcomes": "Verified outcomes at loop closure",
    "loop-closure": "Closing the loop",
    "patient-reports": "What patients reported on their status page",
    "refer-elsewhere": "Referred elsewhere: how the follow-up referrals went",
    "unmet-declines": "Needs most often declined for capacity or eligibility",
    "unmet-searches": "Searches that found nothing",
    "unmet-distance": f"Needs with no in-network service within {NEARBY_MILES:.0f} miles of the client's ZIP code",
    "comparison": "Your agency and the network median",
}

STATUS_GROUPS = (("open", "Open", (S.REQUESTED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD)),
                 ("completed", "Completed", (S.COMPLETED,)), ("failed", "Failed", (S.FAILED,)),
                 ("declined", "Declined", (S.REJECTED,)), ("cancelled", "Cancelled", (S.CANCELLED,)))

REASON_LABELS = {
    "not-eligible": "Not eligible", "no-capacity": "No capacity", "out-of-service-area": "Out of service area",
    "could-not-contact": "Could not contact the client", "client-declined": "Client declined",
    "client-request": "Client asked to cancel", "duplicate": "Duplicate", "referred-elsewhere": "Referred elsewhere",
    "no-longer-needed": "No longer needed", "other": "Other", None: "No reason given",
}
VERIFIED_LABELS = {"got-help": "Got help", "partly": "Partly helped", "did-not-get-help": "Did not get help",
                   "could-not-reach": "Could not reach the client"}
REPORT_LABELS = {"contacted": "The agency contacted me", "got-help": "I got help",
                 "not-heard-back": "I have not heard back", "no-longer-needed": "I no longer need this"}


@dataclass
class Report:
    scope: Scope
    filters: ReportFilters
    generated_at: datetime
    tables: dict[str, Table]
    min_cell_size: int


def build_report(scope: Scope, filters: ReportFilters, sections: Optional[Iterable[str]] = None, *,
                 now: Optional[datetime] = None) -> Report:
    """The report's tables for `sections` (all by default; `comparison` only for an agency).
    Raises NotFound for an unknown section. Reads only; nothing is written."""
    wanted = list(sections or SECTIONS)
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        raise NotFound(f"No such report: {unknown[0]}.")
    if scope.kind != "received" and "comparison" in wanted:
        if sections is not None and list(sections) == ["comparison"]:
            raise NotFound("No such report: comparison (only an agency's reports compare with the network).")
        wanted.remove("comparison")
    context = _Context(scope, filters, now or utcnow(), wanted)
    tables = {}
    context.start_reads()
    try:
        for section in wanted:
            tables[section] = _BUILDERS[section](context)
    finally:
        context.reads.finish()
    return Report(scope, filters, context.now, tables, min_cell_size())


# The durations each section reads from the shared durations pass (`_Context.durations`):
# (name, "calendar" | "business") -> the referral's stored duration (referrals.timing).
_DURATIONS_NEEDED: dict[str, dict[tuple[str, str], Any]] = {
    "responsiveness": {("view", "calendar"): Referral.seconds_to_view,
                       ("view", "business"): Referral.business_seconds_to_view,
                       ("answer", "calendar"): Referral.seconds_to_answer,
                       ("answer", "business"): Referral.business_seconds_to_answer},
    "loop-closure": {("close", "calendar"): Referral.seconds_to_close},
}


class _Context:
    """One report's shared inputs, and the passes over the referrals several sections read
    (each made once, when first asked, for every wanted section at the same time)."""

    def __init__(self, scope: Scope, filters: ReportFilters, now: datetime, sections: Iterable[str] = SECTIONS):
        self.scope, self.filters, self.now = scope, filters, now
        self.period: Period = filters.period
        self.sections = list(sections)
        self._groups = None
        self._totals = None
        self._durations = None
        self.reads = sql.SideReads()

    def start_reads(self) -> None:
        """Start the large passes over the referrals that the wanted sections read (`_PASSES`), side by
        side where the database can (sql.SideReads), the longest first."""
        wanted = {name for section in self.sections for name in _PASSES.get(section, ("counts",))}
        self.reads.start({name: getattr(self, f"_{name}_statement") for name in _PASS_ORDER if name in wanted})

    def _counts_statement(self):
        return _grouped_statement(self.where(by_day=True), self.now, _GROUP_COLUMNS)

    def _durations_statement(self):
        return sql.percentiles_statement(self._durations_where(), self._duration_measures())

    def _zips_statement(self):
        return select(Referral.category, Referral.client_zip_code.label("zip_code"), func.count().label("n")) \
            .where(*self.where(by_day=True, day_indexed=False, scope_indexed=True)) \
            .group_by(Referral.category, Referral.client_zip_code)

    def _agencies_statement(self):
        # In the order of the index on (agency, status, flags, sent_day, the filters): no sort (the period
        # as an expression, so that SQLite's planner takes that index rather than the period's and a sort).
        return _grouped_statement(
            self.where(skip={"receiving_organization"}, scoped=False, by_day=True, day_indexed=False), self.now,
            (Referral.receiving_organization_id, Referral.status, Referral.report_flags))

    def _medians_where(self) -> list:
        # Every agency's referrals (the comparison's medians), as the other filters select them.
        return self.where(skip={"receiving_organization"}, scoped=False)

    def _medians_statement(self):
        return sql.medians_statement(Referral.seconds_to_answer, Referral.receiving_organization_id,
                                     self._medians_where())

    def _durations_where(self) -> list:
        return self.where(by_day=True, day_indexed=False, scope_indexed=self.scope.kind != "network")

    def _duration_measures(self) -> dict:
        measures: dict[tuple[str, str], Any] = {}
        for section in self.sections:
            measures.update(_DURATIONS_NEEDED.get(section, {}))
        return measures

    def where(self, *, skip: Iterable[str] = (), scoped: bool = True, by_day: bool = False,
              day_indexed: bool = True, scope_indexed: bool = False) -> list:
        """The period, the scope (unless not `scoped`) and every filter but those in `skip`.

        The period is the referrals sent from its first local midnight to the one after it; `by_day`, the
        same referrals as a range of `sent_day` (the local date each was sent), for the reports' indexes,
        which hold the scope and filter columns too: on SQLite, which plans without statistics, those are
        then given as expressions no index serves (sql.unindexed), so that the reports' index is the only
        one it can take (the period's, or with `day_indexed` false the one that gives the order wanted); with
        `scope_indexed`, the scope's column stays as it is, for the scope's own index (an organization's
        referrals read through it rather than a pass over the whole network's)."""
        column = sql.unindexed if by_day and not scope_indexed else (lambda c: c)
        if by_day:
            day = Referral.sent_day if day_indexed else sql.unindexed(Referral.sent_day)
            conditions = [day.between(day_number(self.period.start), day_number(self.period.end))]
        else:
            sent = Referral.requested_at if scoped and self.scope.kind != "network" \
                else sql.whole_table(Referral.requested_at)
            conditions = [sent >= self.period.start_utc, sent < self.period.end_utc]
        conditions.append(Referral.status != S.ENTERED_IN_ERROR.value)
        if scoped:
            conditions += self.scope.conditions(column)
        for name, value in self.filters.values.items():
            if name not in skip:
                conditions.append(sql.unindexed(DIMENSIONS[name].column) == value)  # never an index's lead
        return conditions

    @property
    def groups(self) -> list[dict]:
        """The referrals counted in groups by week, status, need (category) and reason, with every count
        the count tables read (_COUNT_KEYS; "sent" is the number of referrals).

        One pass over the reports' index (referrals.models.REPORT_INDEX_COLUMNS), grouped in its order
        by day, status, need, reason and report flags -- no sort, no row of the table -- then each
        group's flags turned into the counts and its day into its week, here."""
        if self._groups is None:
            self._groups = _counted(self.reads.rows("counts", self._counts_statement), self.period)
        return self._groups

    def totals(self) -> dict[str, int]:
        """Every count over all the groups, and the referrals of each status now ("status:<code>"): added up
        once, read by most sections (not to be changed by them)."""
        if self._totals is None:
            total: dict[str, int] = defaultdict(int)
            for row in self.groups:
                for key in _COUNT_KEYS:
                    total[key] += row.get(key) or 0
                if "status" in row:
                    total["status:" + row["status"]] += row["sent"]
            self._totals = total
        return self._totals

    @property
    def durations(self) -> dict:
        """Percentiles of the times from sending to each end the wanted sections read
        (sql.duration_percentiles): {(name, "calendar" | "business"): ({p: seconds}, n)}; n, how many
        referrals reached that end, from the counts (`totals`)."""
        if self._durations is None:
            measures = self._duration_measures()
            reached = self.totals()
            counts = {key: reached[_REACHED[key[0]]] for key in measures}
            self._durations = sql.duration_percentiles(
                self._durations_where(), measures, counts, read_all=self.scope.kind != "network",
                read=lambda stmt: self.reads.rows("durations", lambda: stmt))
        return self._durations


# The large passes over the referrals (`_Context.start_reads`), the longest first, and those each section
# reads (a section not named here reads the counts only).
_PASS_ORDER = ("durations", "counts", "agencies", "zips", "medians")
_PASSES = {"responsiveness": ("counts", "durations"), "loop-closure": ("counts", "durations"),
           "unmet-searches": (), "unmet-distance": ("zips",), "comparison": ("agencies", "medians")}


# The count of referrals that have each duration (one is stored exactly when its end timestamp is).
_REACHED = {"view": "first_viewed", "answer": "answered", "close": "closed"}


def _sum(condition, name: str):
    return func.sum(case((condition, 1), else_=0)).label(name)


# The counts of the count tables, of the referrals of a period (each row of `_Context.groups` has them all):
# sent; viewed (opened or answered); accepted (answered, and not declined); completed; completed with the
# loop closed; finished (declined, completed, failed or cancelled); loop closed; answered on time (by the
# response due time); due (answered, or unanswered past due now); overdue now (unanswered past due);
# follow-ups (referred elsewhere), finished, and succeeded (completed, the client helped); opened by the
# agency; answered (accepted or declined); and closed with each verified outcome ("verified:got-help"...).
_VERIFIED_KEYS = tuple(f"verified:{code}" for code in VERIFIED_OUTCOMES)
_COUNT_KEYS = ("sent", "viewed", "accepted", "completed", "completed_closed", "finished", "closed", "on_time", "due",
               "overdue", "follow_ups", "follow_ups_finished", "follow_ups_succeeded", "first_viewed", "answered",
               *_VERIFIED_KEYS)
_FLAG = {name: bit for name, (bit, _) in FLAGS.items()}
# The reports' index order (referrals.models.REPORT_INDEX_COLUMNS): grouped by these, no sort is needed.
_GROUP_COLUMNS = (Referral.sent_day, Referral.status, Referral.category, Referral.status_reason_code,
                  Referral.report_flags)


@lru_cache(maxsize=None)
def _coefficients(status: str, flags: int) -> tuple[tuple[str, int, int], ...]:
    """For referrals of `status` and report `flags`: (count, times their number, times the overdue among them),
    for the counts they add to."""
    def has(name: str) -> bool:
        return bool(flags & _FLAG[name])

    finished, completed, follow_up = status in _FINISHED, status == S.COMPLETED.value, has("follow_up")
    per_referral = {"sent": True, "viewed": has("viewed"), "accepted": has("answered") and status != S.REJECTED.value,
                    "completed": completed, "completed_closed": completed and has("closed"), "finished": finished,
                    "closed": has("closed"), "on_time": has("on_time"), "due": has("answered"), "overdue": False,
                    "follow_ups": follow_up, "follow_ups_finished": follow_up and finished,
                    "follow_ups_succeeded": follow_up and completed and has("helped"),
                    "first_viewed": has("first_viewed"), "answered": has("answered"),
                    **{key: has(key) for key in _VERIFIED_KEYS}}
    per_overdue = {"due": not has("answered"), "overdue": True}
    return tuple((key, int(per_referral[key]), int(per_overdue.get(key, False))) for key in _COUNT_KEYS
                 if per_referral[key] or per_overdue.get(key, False))  # the counts it adds to


def _grouped_statement(where: list, now: datetime, by: tuple):
    """The referrals `where` selects, grouped by the columns `by` (status and report_flags among them, in an
    index's order): each group's other values, status, flags, referrals and overdue referrals (`_grouped`)."""
    overdue = _sum(and_(Referral.status == S.REQUESTED.value, Referral.response_due_at < now), "overdue")
    others = [column for column in by if column is not Referral.status and column is not Referral.report_flags]
    return select(*others, Referral.status, Referral.report_flags, func.count(), overdue).where(*where).group_by(*by)


def _grouped(rows: list, fold: Callable[[list, str], Any]) -> dict[Any, dict[str, int]]:
    """The groups of a `_grouped_statement` (its Core rows), each group's other values and status folded into a
    key by `fold` (a day into its week...): {key: its counts}. Groups of the same key, status and flags are added
    up first, then counted."""
    sums: dict[tuple, list[int]] = {}
    for *values, status, flags, n, late in rows:
        found = sums.setdefault((fold(values, status), status, flags), [0, 0])
        found[0] += n
        found[1] += late or 0
    merged: dict[tuple, dict[str, int]] = {}
    for (key, status, flags), (n, late) in sums.items():
        totals = merged.get(key)
        if totals is None:
            totals = merged[key] = dict.fromkeys(_COUNT_KEYS, 0)
        for name, per_referral, per_overdue in _coefficients(status, flags):
            totals[name] += n * per_referral + late * per_overdue
    return merged


def _counted(rows: list, period: Period) -> list[dict]:
    """The groups of the counting pass (`_Context._counts_statement`) as groups of (week, status, category,
    reason), with their counts."""
    first_monday = day_number(period.weeks()[0][0])
    merged = _grouped(rows,  # (day, category, reason), status -> (week, status, ...)
                      lambda v, status: ((v[0] - first_monday) // 7, status, v[1], v[2]))
    return [dict(week=week, status=status, category=category, reason=reason, **counts)
            for (week, status, category, reason), counts in merged.items()]


# --- the sections ----------------------------------------------------------------------------------

def _volume_by_week(c: _Context) -> Table:
    weeks = c.period.weeks()
    per_week = [defaultdict(int) for _ in weeks]
    for row in c.groups:
        bucket = per_week[row["week"]]
        bucket["sent"] += row["sent"]
        bucket["accepted"] += row["accepted"] or 0
        bucket["completed_count"] += row["completed"] or 0
        for key, _, statuses in STATUS_GROUPS:
            if row["status"] in {s.value for s in statuses}:
                bucket["now:" + key] += row["sent"]
    table = Table("volume-by-week", SECTION_TITLES["volume-by-week"],
                  [("week", "Week of"), ("sent", "Sent"), ("accepted", "Accepted"), ("completed_now", "Completed")]
                  + [(key, f"{label} now") for key, label, _ in STATUS_GROUPS],
                  note="Weeks start on Monday; the first and last weeks may be partial.")
    for (monday, _), bucket in zip(weeks, per_week):
        table.rows.append([text(max(monday, c.period.start).isoformat()), count(bucket["sent"]),
                           count(bucket["accepted"]), count(bucket["completed_count"])]
                          + [count(bucket["now:" + key]) for key, _, _ in STATUS_GROUPS])
    return table


def _volume_by_need(c: _Context) -> Table:
    by_need: dict[str, int] = defaultdict(int)
    for row in c.groups:
        by_need[row["category"]] += row["sent"]
    total = sum(by_need.values())
    labels = _domain_labels(by_need)
    table = Table("volume-by-need", SECTION_TITLES["volume-by-need"],
                  [("need", "Need"), ("sent", "Sent"), ("share", "Share of all sent")])
    for code, n in sorted(by_need.items(), key=lambda kv: (-kv[1], labels[kv[0]])):
        table.rows.append([text(labels[code]), count(n), rate(n, total)])
    return table


def _funnel(c: _Context) -> Table:
    t = c.totals()
    table = Table("funnel", SECTION_TITLES["funnel"], [("stage", "Stage"), ("referrals", "Referrals"),
                                                       ("share", "Share of sent")],
                  note="Each stage counts the referrals that reached it; loop closed counts completed referrals "
                       "whose loop the coordinator closed.")
    for label, key in (("Sent", "sent"), ("Viewed", "viewed"), ("Accepted", "accepted"), ("Completed", "completed"),
                       ("Loop closed", "completed_closed")):
        table.rows.append([text(label), count(t[key]), rate(t[key], t["sent"])])
    return table


def _responsiveness(c: _Context) -> Table:
    table = Table("responsiveness", SECTION_TITLES["responsiveness"],
                  [("measure", "Time from sending to"), ("referrals", "Referrals"), ("median", "Median (hours)"),
                   ("p90", "90th percentile (hours)"), ("median_business", "Median (business hours)"),
                   ("p90_business", "90th percentile (business hours)")],
                  note="Business hours leave weekends out, in the network's time zone.")
    found = c.durations
    for label, name in (("First view", "view"), ("Accept or decline", "answer")):
        (calendar, n), (business, _) = found[(name, "calendar")], found[(name, "business")]
        table.rows.append([text(label), count(n), hours(calendar[50], n), hours(calendar[90], n),
                           hours(business[50], n), hours(business[90], n)])
    return table


def _service_level(c: _Context) -> Table:
    t = c.totals()
    table = Table("service-level", SECTION_TITLES["service-level"],
                  [("measure", "Measure"), ("referrals", "Referrals"), ("of", "Of"), ("share", "Share")],
                  note="Answered on time: accepted or declined by the response due time, of the referrals answered "
                       "or already past due. Overdue now: not answered and past due today, of all sent.")
    table.rows.append([text("Answered within the service level"), count(t["on_time"]), count(t["due"]),
                       rate(t["on_time"], t["due"])])
    table.rows.append([text("Overdue now"), count(t["overdue"]), count(t["sent"]), rate(t["overdue"], t["sent"])])
    return table


def _outcomes(c: _Context) -> Table:
    t = c.totals()
    table = Table("outcomes", SECTION_TITLES["outcomes"],
                  [("outcome", "Outcome"), ("referrals", "Referrals"), ("rate", "Rate (of sent)")],
                  note="Accepted counts every referral the agency accepted, whatever happened next; the others are "
                       "the status now.")
    for label, n in (("Accepted", t["accepted"]), ("Declined", t["status:rejected"]),
                     ("Cancelled", t["status:cancelled"]), ("Completed", t["status:completed"]),
                     ("Failed", t["status:failed"]), ("Still open", sum(t["status:" + s.value] for s in
                                                                         STATUS_GROUPS[0][2]))):
        table.rows.append([text(label), count(n), rate(n, t["sent"])])
    return table


def _reasons(c: _Context) -> Table:
    statuses = {S.REJECTED.value: ("Declined", REJECT_REASONS), S.CANCELLED.value: ("Cancelled", CANCEL_REASONS),
                S.FAILED.value: ("Failed", FAIL_REASONS)}
    found: dict[tuple, int] = defaultdict(int)
    for row in c.groups:
        if row["status"] in statuses:
            found[(row["status"], row["reason"])] += row["sent"]
    totals = defaultdict(int)
    for (status, _), n in found.items():
        totals[status] += n
    table = Table("reasons", SECTION_TITLES["reasons"],
                  [("status", "Status"), ("reason", "Reason"), ("referrals", "Referrals"), ("share", "Share of status")])
    for status, (label, reasons) in statuses.items():
        for reason in reasons + ((None,) if (status, None) in found else ()):
            n = found.get((status, reason), 0)
            table.rows.append([text(label), text(REASON_LABELS[reason]), count(n), rate(n, totals[status])])
    return table


def _verified_outcomes(c: _Context) -> Table:
    t = c.totals()  # the verified outcome is a report flag (referrals.timing.FLAGS)
    rows = {code: t[f"verified:{code}"] for code in VERIFIED_OUTCOMES}
    total = sum(rows.values())
    table = Table("verified-outcomes", SECTION_TITLES["verified-outcomes"],
                  [("outcome", "Verified outcome"), ("referrals", "Referrals"), ("share", "Share of closed")],
                  note="What the coordinator confirmed with the client when closing the loop.")
    for code in VERIFIED_OUTCOMES:
        table.rows.append([text(VERIFIED_LABELS[code]), count(rows.get(code, 0)), rate(rows.get(code, 0), total)])
    return table


def _loop_closure(c: _Context) -> Table:
    t = c.totals()
    closing, n = c.durations[("close", "calendar")]
    table = Table("loop-closure", SECTION_TITLES["loop-closure"], [("measure", "Measure"), ("value", "Value")],
                  note="Finished: declined, completed, failed or cancelled. Times are from sending to closing.")
    table.rows += [[text("Finished referrals"), count(t["finished"])],
                   [text("Loops closed"), count(t["closed"])],
                   [text("Loop-closure rate (%)"), rate(t["closed"], t["finished"])],
                   [text("Median time to closure (hours)"), hours(closing[50], n)],
                   [text("90th percentile time to closure (hours)"), hours(closing[90], n)]]
    return table


def _patient_reports(c: _Context) -> Table:
    rows = dict(db.session.execute(
        select(ReferralEvent.report_code, func.count(func.distinct(ReferralEvent.referral_id)))
        .join(Referral, Referral.id == ReferralEvent.referral_id)
        .where(ReferralEvent.kind == "report", *c.where()).group_by(ReferralEvent.report_code)).all())
    table = Table("patient-reports", SECTION_TITLES["patient-reports"],
                  [("report", "Patient said"), ("referrals", "Referrals")],
                  note="Referrals whose patient gave this answer at least once on their status page.")
    for code in PATIENT_REPORTS:
        table.rows.append([text(REPORT_LABELS[code]), count(rows.get(code, 0))])
    return table


def _refer_elsewhere(c: _Context) -> Table:
    t = c.totals()
    table = Table("refer-elsewhere", SECTION_TITLES["refer-elsewhere"], [("measure", "Measure"), ("value", "Value")],
                  note="A follow-up succeeded when it was completed with the client helped (fully or partly).")
    table.rows += [[text("Follow-up referrals sent"), count(t["follow_ups"])],
                   [text("Follow-ups finished"), count(t["follow_ups_finished"])],
                   [text("Follow-ups that succeeded"), count(t["follow_ups_succeeded"])],
                   [text("Success rate of finished follow-ups (%)"),
                    rate(t["follow_ups_succeeded"], t["follow_ups_finished"])]]
    return table


def _unmet_declines(c: _Context) -> Table:
    by_need: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    unmet = {(status, reason): name for status in (S.REJECTED.value, S.FAILED.value)
             for reason, name in (("no-capacity", "capacity"), ("not-eligible", "eligibility"))}
    for row in c.groups:
        need = by_need[row["category"]]
        need["sent"] += row["sent"]
        if (row["status"], row["reason"]) in unmet:
            need[unmet[(row["status"], row["reason"])]] += row["sent"]
    labels = _domain_labels(by_need)
    table = Table("unmet-declines", SECTION_TITLES["unmet-declines"],
                  [("need", "Need"), ("capacity", "Declined or failed: no capacity"),
                   ("eligibility", "Declined or failed: not eligible"), ("sent", "Sent"),
                   ("share", "Share of the need's referrals")])
    ranked = sorted(((code, n) for code, n in by_need.items() if n["capacity"] + n["eligibility"]),
                    key=lambda kv: (-(kv[1]["capacity"] + kv[1]["eligibility"]), labels[kv[0]]))
    for code, n in ranked:
        table.rows.append([text(labels[code]), count(n["capacity"]), count(n["eligibility"]), count(n["sent"]),
                           rate(n["capacity"] + n["eligibility"], n["sent"])])
    return table


def _unmet_searches(c: _Context) -> Table:
    conditions = [SearchGap.day >= c.period.start, SearchGap.day <= c.period.end]
    if c.scope.kind != "network":
        conditions.append(SearchGap.organization_id == c.scope.organization_id)
    if "category" in c.filters.values:
        conditions.append(SearchGap.domain == c.filters.values["category"])
    rows = db.session.execute(select(SearchGap.need, SearchGap.domain, SearchGap.zip3,
                                     func.sum(SearchGap.count).label("n"))
                              .where(*conditions).group_by(SearchGap.need, SearchGap.domain, SearchGap.zip3)).all()
    domain_labels = _domain_labels(r.domain for r in rows if r.domain)
    need_labels = _need_labels()
    table = Table("unmet-searches", SECTION_TITLES["unmet-searches"],
                  [("need", "Need searched for"), ("domain", "Domain"), ("zip3", "ZIP3 area"),
                   ("searches", "Searches")],
                  note="Staff searches whose first page was empty, counted by need, domain and the first three "
                       "digits of the ZIP code searched near. The words typed are never kept."
                       + (" Searches by your organization's staff." if c.scope.kind != "network" else ""))
    for row in sorted(rows, key=lambda r: (-r.n, r.need, r.domain, r.zip3)):
        table.rows.append([text(need_labels.get(row.need, row.need) or "Words matching no known need"),
                           text(domain_labels.get(row.domain, "—")), text(row.zip3 or "—"), count(row.n)])
    return table


def _need_labels() -> dict[str, str]:
    return {need.id: need.label_en for need in lexicon().needs.values()}


def _unmet_distance(c: _Context) -> Table:
    rows = c.reads.rows("zips", c._zips_statement)  # by need and the client's ZIP code (kept by referrals.models)
    places_by_domain = _in_network_places()
    unmet: dict[tuple[str, str], int] = defaultdict(int)
    unknown_zip = 0
    places = {}  # ZIP code -> its centroid (each looked up once: it comes once per need)
    for row in rows:
        if row.zip_code not in places:
            places[row.zip_code] = zip_place(row.zip_code or "")
        place = places[row.zip_code]
        if place is None:
            unknown_zip += row.n
            continue
        if not places_by_domain.get(row.category, _NOWHERE).any_within((place.latitude, place.longitude),
                                                                        NEARBY_MILES):
            unmet[(row.category, row.zip_code[:3])] += row.n
    labels = _domain_labels(code for code, _ in unmet)
    table = Table("unmet-distance", SECTION_TITLES["unmet-distance"],
                  [("need", "Need"), ("zip3", "Clients' ZIP3 area"), ("referrals", "Referrals")],
                  note=f"Referrals for a need with no active in-network service of that SDOH domain within "
                       f"{NEARBY_MILES:.0f} miles of the client's ZIP code (its centroid), by ZIP3 area. "
                       f"Referrals of clients without a known ZIP code: {unknown_zip}.")
    for (code, zip3), n in sorted(unmet.items(), key=lambda kv: (-kv[1], labels[kv[0][0]], kv[0][1])):
        table.rows.append([text(labels[code]), text(zip3), count(n)])
    return table


_NOWHERE = Points(())


def _in_network_places() -> dict[str, Points]:
    """SDOH domain code -> the coordinates of the active services of network partner agencies in that domain
    (their locations' coordinates, or their address's ZIP centroid)."""
    domain_by_term = {term["id"]: code for code, term in sdoh_terms().items()}
    partners = select(NetworkOrganization.directory_organization_id).where(
        NetworkOrganization.active.is_(True), NetworkOrganization.kind == OrgKind.PARTNER.value,
        NetworkOrganization.directory_organization_id.is_not(None))
    rows = db.session.execute(
        select(Attribute.taxonomy_term_id, Location.latitude, Location.longitude, Address.postal_code)
        .join(Service, Service.id == Attribute.link_id)
        .join(ServiceAtLocation, ServiceAtLocation.service_id == Service.id)
        .join(Location, Location.id == ServiceAtLocation.location_id)
        .outerjoin(Address, Address.location_id == Location.id)
        .where(Service.status == "active", Service.organization_id.in_(partners),
               Attribute.taxonomy_term_id.in_(list(domain_by_term)))).all()
    places: dict[str, set] = defaultdict(set)
    for term_id, lat, lon, postal in rows:
        if lat is not None and lon is not None:
            places[domain_by_term[term_id]].add((lat, lon))
        elif (place := zip_place(postal or "")) is not None:
            places[domain_by_term[term_id]].add((place.latitude, place.longitude))
    return {code: Points(points) for code, points in places.items()}


def _comparison(c: _Context) -> Table:
    """The agency's key measures beside the median of every agency's (same period and filters)."""
    by_agency = _grouped(c.reads.rows("agencies", c._agencies_statement), lambda v, status: v[0])
    rows = [SimpleNamespace(agency=a, **totals) for a, totals in by_agency.items()]
    response = sql.grouped_medians(Referral.seconds_to_answer, Referral.receiving_organization_id, c._medians_where(),
                                   {a: totals["answered"] for a, totals in by_agency.items()},
                                   read=lambda stmt: c.reads.rows("medians", lambda: stmt))
    measures = (("Acceptance rate (%)", lambda r: _pct(r.accepted, r.sent)),
                ("Answered within the service level (%)", lambda r: _pct(r.on_time, r.due)),
                ("Median time to accept or decline (hours)",
                 lambda r: None if r.agency not in response else round(response[r.agency] / 3600.0, 1)),
                ("Completion rate (%)", lambda r: _pct(r.completed, r.sent)),
                ("Loop-closure rate (%)", lambda r: _pct(r.closed, r.finished)))
    own = next((r for r in rows if r.agency == c.scope.agency_id), None)
    table = Table("comparison", SECTION_TITLES["comparison"],
                  [("measure", "Measure"), ("yours", "Your agency"), ("network_median", "Network median"),
                   ("agencies", "Agencies in the median")],
                  note="The network median is the middle value across all agencies that received referrals in the "
                       f"period (shown from {MIN_AGENCIES_FOR_MEDIAN} agencies up); no other agency is named.")
    for label, measure in measures:
        values = [v for v in (measure(r) for r in rows) if v is not None]
        mine = measure(own) if own is not None else None
        # With two agencies, the median would give the other one's value away.
        median = round(statistics.median(values), 1) if len(values) >= MIN_AGENCIES_FOR_MEDIAN else None
        basis = (own.sent,) if own is not None else ()
        table.rows.append([text(label), Cell(mine, "number", basis), Cell(median, "number"), text(len(values))])
    return table


def _pct(numerator, denominator) -> Optional[float]:
    return round(100.0 * (numerator or 0) / denominator, 1) if denominator else None


_BUILDERS: dict[str, Callable[[_Context], Table]] = {
    "volume-by-week": _volume_by_week, "volume-by-need": _volume_by_need, "funnel": _funnel,
    "responsiveness": _responsiveness, "service-level": _service_level, "outcomes": _outcomes,
    "reasons": _reasons, "verified-outcomes": _verified_outcomes, "loop-closure": _loop_closure,
    "patient-reports": _patient_reports, "refer-elsewhere": _refer_elsewhere,
    "unmet-declines": _unmet_declines, "unmet-searches": _unmet_searches, "unmet-distance": _unmet_distance,
    "comparison": _comparison,
}


# --- presenting cells ------------------------------------------------------------------------------

def suppressed_label(limit: int) -> str:
    return f"fewer than {limit}"


def export_value(cell: Cell, report: Report) -> Any:
    """A cell's value as CSV and JSON give it: the number (percent 0-100, hours), text, None when there is
    nothing to compute, or "fewer than 11" when small counts are hidden in this report."""
    if report.scope.suppress and report.min_cell_size > 1 and cell.is_small(report.min_cell_size):
        return suppressed_label(report.min_cell_size)
    return cell.value


def display_value(cell: Cell, report: Report) -> str:
    """A cell as the page shows it (the export value, formatted)."""
    value = export_value(cell, report)
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if cell.kind == "percent":
        return f"{value:.1f}%"
    if cell.kind in ("hours", "number"):
        return f"{value:.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table_records(table: Table, report: Report) -> list[dict]:
    """The table's rows as {column key: export value} (the JSON document's rows)."""
    keys = [key for key, _ in table.columns]
    return [dict(zip(keys, (export_value(cell, report) for cell in row))) for row in table.rows]


def organizations_for_reports(actor: User) -> list[NetworkOrganization]:
    """The member organizations whose reports `actor` may open (all active ones for the network office)."""
    if actor.organization.kind == OrgKind.NETWORK.value and actor.role == Role.ADMIN.value:
        return list(db.session.scalars(select(NetworkOrganization).where(
            NetworkOrganization.active.is_(True), NetworkOrganization.kind != OrgKind.NETWORK.value)
            .order_by(NetworkOrganization.name)))
    return [actor.organization]


def get_report_organization(actor: User, organization_id) -> Optional[NetworkOrganization]:
    """The organization `?organization=` names (None for none); NotFound when `actor` may not report on it."""
    if organization_id in (None, ""):
        return None
    try:
        wanted = int(organization_id)
    except (TypeError, ValueError):
        raise NotFound("No such organization.") from None
    for org in organizations_for_reports(actor):
        if org.id == wanted:
            return org
    raise NotFound("No such organization.")


__all__ = ["DIMENSIONS", "SECTIONS", "Cell", "Report", "Scope", "Table", "build_report", "display_value",
           "export_value", "filter_choices", "parse_report_filters", "report_scope", "table_records"]
