"""Search: parameters -> a query over what the token's organization may see, paged into a Bundle.

Rules, so that a partner system can rely on them:

- Repeating a parameter means AND, commas within one value mean OR (FHIR's rules).
- Unknown parameters, modifiers and bad values answer 400 (we do not silently ignore a filter:
  a misspelt `_lastUpdated` would otherwise return everything). `_lastupdated`, as written in the
  SDOHCC "checking task status" page, is accepted as `_lastUpdated`.
- `_lastUpdated` takes the prefixes eq (default), gt, ge, lt, le and a date or date-time; the
  value's precision is its range (`gt2026-01-01` is from 2026-01-02 on). A date-time without a
  zone is UTC.
- Results are ordered oldest change first (`_sort=_lastUpdated`, or `-_lastUpdated`), then by id.
  `_count` 0..100 (default 20; 0 gives only the total), `_page` from 1.
- Polling: search `_lastUpdated=gt<Bundle.meta.lastUpdated of your previous search>`. The Bundle's
  meta.lastUpdated is the search time minus POLL_OVERLAP, so that a change whose transaction was
  still committing during the search is not missed; a resource may therefore come twice (compare
  meta.versionId and meta.lastUpdated).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Optional
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from werkzeug.datastructures import MultiDict

from referralnet.api.fhir.common import FhirError, base_url, instant
from referralnet.api.fhir.ids import hsds_id, network_id
from referralnet.api.fhir.resources import SDOHCC_CODES
from referralnet.db import utcnow
from referralnet.directory import models as m
from referralnet.extensions import db
from referralnet.referrals.access import visible_referrals
from referralnet.referrals.models import Referral, Status

DEFAULT_COUNT = 20
MAX_COUNT = 100
POLL_OVERLAP = timedelta(seconds=10)
COMMON = ("_count", "_page", "_sort", "_format", "_lastUpdated")
ALIASES = {"_lastupdated": "_lastUpdated"}

TASK_PARAMS = COMMON + ("_id", "owner", "requester", "status", "status:not", "patient", "subject", "focus",
                        "code", "intent", "_include")
SERVICE_REQUEST_PARAMS = COMMON + ("_id", "subject", "patient", "category", "status", "requester", "performer")
TASK_INCLUDES = ("Task:focus",)

SR_STATUSES = {"active": (Status.REQUESTED, Status.ACCEPTED, Status.IN_PROGRESS, Status.ON_HOLD),
               "completed": (Status.COMPLETED,),
               "revoked": (Status.REJECTED, Status.FAILED, Status.CANCELLED),
               "entered-in-error": (Status.ENTERED_IN_ERROR,),
               "draft": (), "on-hold": (), "unknown": ()}


def bad(param: str, message: str) -> FhirError:
    return FhirError(400, f"Bad search parameter {param}: {message}", errors={param: [message]})


def normalized(args: MultiDict, allowed: tuple[str, ...]) -> MultiDict:
    """`args` with aliases applied and blank values dropped; 400 for unknown parameters."""
    clean = MultiDict()
    for key, value in args.items(multi=True):
        key = ALIASES.get(key, key)
        if key not in allowed:
            raise bad(key, f"not supported here; use {', '.join(sorted(p for p in allowed if p != '_format'))}.")
        if value.strip():
            clean.add(key, value.strip())
    return clean


def or_values(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def reference_id(param: str, value: str, resource_type: str) -> Optional[str]:
    """The id in `Type/id`, an absolute `.../Type/id` URL, or a bare id; None if it names another type."""
    parts = value.rstrip("/").split("/")
    if len(parts) == 1:
        return parts[0]
    if parts[-2] != resource_type:
        return None
    if len(parts) > 2 and not value.startswith(("http://", "https://")):
        raise bad(param, f"“{value}” is not a reference (Type/id or an absolute URL).")
    return parts[-1]


def token_code(value: str) -> tuple[Optional[str], str]:
    """`system|code`, `|code` or `code` -> (system or None, code)."""
    if "|" in value:
        system, _, code = value.partition("|")
        return system or None, code
    return None, value


# --- _lastUpdated --------------------------------------------------------------------------------

_DATE_RE = re.compile(r"^(ge|gt|le|lt|eq|ne|sa|eb|ap)?(\d{4}(-\d{2}(-\d{2})?)?(T.*)?)$", re.S)


def _range(param: str, text: str) -> tuple[datetime, datetime]:
    """[start, end) that a FHIR date/dateTime value covers at its precision."""
    try:
        if "T" not in text:
            if len(text) == 4:
                start = datetime(int(text), 1, 1, tzinfo=timezone.utc)
                return start, start.replace(year=start.year + 1)
            if len(text) == 7:
                year, month = int(text[:4]), int(text[5:7])
                start = datetime(year, month, 1, tzinfo=timezone.utc)
                return start, (start.replace(year=year + 1, month=1) if month == 12 else start.replace(month=month + 1))
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            return start, start + timedelta(days=1)
        # A "+02:00" offset sent unencoded arrives as " 02:00" (a + in a query string is a space).
        value = text.replace(" ", "+").replace("Z", "+00:00")
        fraction = re.search(r"T\d{2}:\d{2}(:\d{2})?(\.(\d+))?", value)
        if not fraction or fraction.group(1) is None:
            # hh:mm without seconds is not a FHIR dateTime.
            raise ValueError
        digits = fraction.group(3) or ""
        if len(digits) > 6:  # Python keeps microseconds
            value = value.replace("." + digits, "." + digits[:6], 1)
            digits = digits[:6]
        start = datetime.fromisoformat(value)
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        step = timedelta(microseconds=10 ** (6 - len(digits))) if digits else timedelta(seconds=1)
        return start.astimezone(timezone.utc), start.astimezone(timezone.utc) + step
    except ValueError:
        raise bad(param, f"“{text}” is not a FHIR date or dateTime (like 2026-01-01T00:00:00Z).") from None


def date_filter(param: str, value: str, column) -> ColumnElement:
    match = _DATE_RE.match(value)
    if not match:
        raise bad(param, f"“{value}” is not a date with an optional prefix (gt, ge, lt, le, eq).")
    prefix = match.group(1) or "eq"
    if prefix not in ("gt", "ge", "lt", "le", "eq"):
        raise bad(param, f"the prefix “{prefix}” is not supported; use gt, ge, lt, le or eq.")
    start, end = _range(param, match.group(2))
    return {"gt": column >= end, "ge": column >= start, "lt": column < start, "le": column < end,
            "eq": and_(column >= start, column < end)}[prefix]


# --- paging and the Bundle -------------------------------------------------------------------------

@dataclass
class Page:
    count: int
    page: int
    descending: bool = False


def page_of(args: MultiDict) -> Page:
    def integer(name: str, default: int, low: int, high: int) -> int:
        values = args.getlist(name)
        if not values:
            return default
        if len(values) > 1:
            raise bad(name, "give it once.")
        try:
            number = int(values[0])
        except ValueError:
            raise bad(name, f"“{values[0]}” is not a whole number.") from None
        if not low <= number <= high:
            raise bad(name, f"must be between {low} and {high}.")
        return number

    sort = args.getlist("_sort")
    if len(sort) > 1 or (sort and sort[0] not in ("_lastUpdated", "-_lastUpdated")):
        raise bad("_sort", "only _lastUpdated or -_lastUpdated.")
    return Page(count=integer("_count", DEFAULT_COUNT, 0, MAX_COUNT), page=integer("_page", 1, 1, 100000),
                descending=bool(sort) and sort[0].startswith("-"))


@dataclass
class Found:
    rows: list
    total: int
    includes: list[dict] = field(default_factory=list)


def run(query: Select, page: Page) -> Found:
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    order = (Referral.updated_at.desc(), Referral.id.desc()) if page.descending else \
        (Referral.updated_at, Referral.id)
    offset = (page.page - 1) * page.count
    rows = [] if page.count == 0 or offset >= total else \
        list(db.session.scalars(query.order_by(*order).limit(page.count).offset(offset)))
    return Found(rows=rows, total=total)


def bundle(resource_type: str, args: MultiDict, page: Page, found: Found,
           build: Callable[[object], dict], now: Optional[datetime] = None) -> dict:
    base = base_url()

    def link(relation: str, number: int) -> dict:
        params = [(k, v) for k, v in args.items(multi=True) if k not in ("_page", "_format")]
        params.append(("_page", str(number)))
        return {"relation": relation, "url": f"{base}/{resource_type}?{urlencode(params)}"}

    links = [link("self", page.page)]
    if page.count and page.page * page.count < found.total:
        links.append(link("next", page.page + 1))
    if page.page > 1 and page.count:
        links.append(link("previous", page.page - 1))
    entries = []
    for row in found.rows:
        resource = build(row)
        entries.append({"fullUrl": f"{base}/{resource_type}/{resource['id']}", "resource": resource,
                        "search": {"mode": "match"}})
    for resource in found.includes:
        entries.append({"fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}", "resource": resource,
                        "search": {"mode": "include"}})
    return {"resourceType": "Bundle", "meta": {"lastUpdated": instant((now or utcnow()) - POLL_OVERLAP)},
            "type": "searchset", "total": found.total, "link": links, "entry": entries}


# --- Task and ServiceRequest filters --------------------------------------------------------------------

def _any(clauses: list[ColumnElement]) -> ColumnElement:
    return or_(*clauses) if clauses else Referral.id.is_(None)  # an OR of nothing matches nothing


def _ids(param: str, value: str, resource_type: str) -> list[int]:
    ids = []
    for item in or_values(value):
        found = reference_id(param, item, resource_type)
        if found is not None and found.isdigit() and 0 < int(found) <= 2**31 - 1:
            ids.append(int(found))
    return ids


def _common_filters(query: Select, args: MultiDict) -> Select:
    for value in args.getlist("_lastUpdated"):
        query = query.where(date_filter("_lastUpdated", value, Referral.updated_at))
    for value in args.getlist("_id"):
        query = query.where(_any([Referral.id.in_(_ids("_id", value, "Task"))]))
    for name in ("patient", "subject"):
        for value in args.getlist(name):
            query = query.where(_any([Referral.client_id.in_(_ids(name, value, "Patient"))]))
    for value in args.getlist("requester"):
        members = [network_id(reference_id("requester", v, "Organization") or "") for v in or_values(value)]
        query = query.where(_any([Referral.sending_organization_id.in_([n for n in members if n])]))
    return query


def _organizations(param: str, value: str) -> list[str]:
    found = []
    for item in or_values(value):
        fhir = reference_id(param, item, "Organization")
        directory = hsds_id(m.Organization, fhir) if fhir else None
        if directory is not None:
            found.append(directory)
    return found


def _statuses(param: str, value: str) -> list[str]:
    codes = or_values(value)
    unknown = [c for c in codes if c not in {s.value for s in Status} | {"draft", "ready", "received"}]
    if unknown:
        raise bad(param, f"“{', '.join(unknown)}” is not a Task status.")
    return codes


def task_query(actor, args: MultiDict) -> Select:
    query = _common_filters(visible_referrals(actor), args)
    for value in args.getlist("owner"):
        query = query.where(_any([Referral.receiving_organization_id.in_(_organizations("owner", value))]))
    for value in args.getlist("status"):
        query = query.where(Referral.status.in_(_statuses("status", value)))
    for value in args.getlist("status:not"):
        query = query.where(Referral.status.not_in(_statuses("status:not", value)))
    for value in args.getlist("focus"):
        query = query.where(_any([Referral.id.in_(_ids("focus", value, "ServiceRequest"))]))
    for value in args.getlist("code"):
        if not any(token_code(v)[1] == "fulfill" for v in or_values(value)):
            query = query.where(Referral.id.is_(None))
    for value in args.getlist("intent"):
        if "order" not in or_values(value):
            query = query.where(Referral.id.is_(None))
    for value in args.getlist("_include"):
        if value not in TASK_INCLUDES:
            raise bad("_include", f"only {', '.join(TASK_INCLUDES)} is supported.")
    return query


def service_request_query(actor, args: MultiDict) -> Select:
    query = _common_filters(visible_referrals(actor), args)
    for value in args.getlist("category"):
        codes = []
        for item in or_values(value):
            system, code = token_code(item)
            if system in (None, SDOHCC_CODES):
                codes.append(code)
        query = query.where(_any([Referral.category.in_(codes)]))
    for value in args.getlist("status"):
        statuses = []
        for code in or_values(value):
            if code not in SR_STATUSES:
                raise bad("status", f"“{code}” is not a ServiceRequest status.")
            statuses += [s.value for s in SR_STATUSES[code]]
        query = query.where(_any([Referral.status.in_(statuses)]))
    for value in args.getlist("performer"):
        clauses = []
        for item in or_values(value):
            if "HealthcareService/" in item:
                fhir = reference_id("performer", item, "HealthcareService")
                service = hsds_id(m.Service, fhir) if fhir else None
                if service:
                    clauses.append(Referral.service_id == service)
            else:
                orgs = _organizations("performer", item)
                if orgs:
                    clauses.append(Referral.receiving_organization_id.in_(orgs))
        query = query.where(_any(clauses))
    return query
