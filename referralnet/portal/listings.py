"""A partner agency keeps its own listings current: "accepting referrals", capacity and weekly hours.

Every function takes the acting user first and reaches a service only through
`get_own_service`: a partner sees and changes the services of the directory
organization their network organization is linked to, and nothing else. Any
other id (another agency's, unknown, malformed) is NotFound, never NotPermitted,
as for referrals (`referrals/access.py`): a partner must not learn which ids exist.

Changes flush and write an audit row (ids and field names only); they never
commit. The request's one commit then re-indexes the touched services through
the search hooks, so the search shows a change at once.

Weekly hours are written the way the importers write them (`ohana.py`): one
`schedule` row per day and time range, `freq` WEEKLY, `wkst` MO, `byday` one
day code, `opens_at`/`closes_at` as HH:MM local time. Which rows apply to a
place is `directory.hours.ScheduleGroups.applicable` (the rule the search index
follows too): the service's rows at that location, else its service-wide rows,
else the location's own rows. The
time zone is the location's (from its ZIP code), not something a partner types.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence

from flask import current_app
from sqlalchemy import or_, select

from referralnet.accounts.models import Role
from referralnet.db import new_uuid, utcnow
from referralnet.directory.hours import (DAY_NAMES, DAYS, WeeklyHours, build_hours, fmt_minutes, group_schedules,
                                        parse_hhmm)
from referralnet.directory.importer import TIME_RE
from referralnet.directory.models import (
    Address, Location, Organization, Schedule, Service, ServiceAtLocation, ServiceCapacity,
)
# The admin listing code's own value checks, so both pages word and bound numbers and text alike.
from referralnet.directory.services import clean_text, raise_if_errors, whole_number
from referralnet.errors import NotFound
from referralnet.extensions import db
from referralnet.geo import timezone_for_zip
from referralnet.audit.services import audit

if TYPE_CHECKING:
    from referralnet.accounts.models import User

AUDIT_ACTION = "listing.update"
MAX_CAPACITY = 1_000_000
MAX_UNIT_LENGTH = 40
MAX_CAPACITY_DESCRIPTION = 500
MAX_HOURS_ROWS = 50
MIDNIGHT = 24 * 60
NOT_FOUND = "None of your organization's services has this id."
# A listing is due for verification when a person last confirmed it (HSDS `assured_date`) longer ago than
# this (setting LISTING_VERIFY_DAYS); 211 networks re-verify every six to twelve months.
DEFAULT_LISTING_VERIFY_DAYS = 180

Errors = dict[str, list[str]]


# --- whose listings -----------------------------------------------------------------------------

def own_directory_organization(actor: User | None) -> Organization | None:
    """The directory organization whose listings `actor` keeps: their agency's linked listing.

    None for anyone who keeps none: not partner staff, deactivated (user or
    organization), or an agency not linked to a directory organization.
    """
    if actor is None or actor.role != Role.PARTNER.value or not actor.active:
        return None
    agency = actor.organization
    if agency is None or not agency.active:
        return None
    return agency.directory_organization


def get_own_service(actor: User, service_id: Any) -> Service:
    """The service with this id if it belongs to the actor's own directory organization. Raises NotFound."""
    own = own_directory_organization(actor)
    service = db.session.get(Service, service_id) if own is not None and isinstance(service_id, str) else None
    if service is None or service.organization_id != own.id:
        raise NotFound(NOT_FOUND)
    return service


def _own_place(service: Service, location_id: str | None) -> ServiceAtLocation | None:
    """The service's link to `location_id` (None for service-wide). Raises NotFound if it is not offered there."""
    if location_id is None:
        return None
    link = db.session.scalar(select(ServiceAtLocation).where(ServiceAtLocation.service_id == service.id,
                                                             ServiceAtLocation.location_id == location_id))
    if link is None or link.location is None:
        raise NotFound("This service is not offered at that location.")
    return link


def _touch(service: Service) -> None:
    service.last_modified = utcnow()


# --- reading ------------------------------------------------------------------------------------

@dataclass
class PlaceHours:
    """The weekly hours that apply to a service at one place, as the search shows them."""

    location: Optional[Location]
    hours: WeeklyHours
    source: Optional[str]  # "location": set for the service there; "service": service-wide; "place": the location's
    tz_name: str

    @property
    def week(self) -> list[tuple[str, str]]:
        """[('Monday', '9:00 AM – 5:00 PM'), ..., ('Sunday', 'Closed')]; empty when no weekly hours are recorded."""
        if not self.hours.intervals:
            return []
        open_days = dict(self.hours.summary())
        return [(name, open_days.get(name, "Closed")) for name in DAY_NAMES]


@dataclass
class Listing:
    service: Service
    capacities: list[ServiceCapacity]  # latest first: the first is the one the search shows
    places: list[PlaceHours]
    has_service_wide_hours: bool

    @property
    def capacity(self) -> Optional[ServiceCapacity]:
        return self.capacities[0] if self.capacities else None

    @property
    def timezone(self):
        """The agency's own time zone (its first place's), for the times the page shows."""
        return self.places[0].hours.tz if self.places else None


def get_capacity(actor: User, service_id: Any) -> ServiceCapacity | None:
    """The latest capacity row of one of the actor's services (the one the search shows), if any. Raises NotFound."""
    service = get_own_service(actor, service_id)
    return _latest_capacity(service)


def _latest_capacity(service: Service) -> ServiceCapacity | None:
    # The order search/documents.py picks the card's capacity by.
    return db.session.scalar(select(ServiceCapacity).where(ServiceCapacity.service_id == service.id)
                             .order_by(ServiceCapacity.updated.desc(), ServiceCapacity.id).limit(1))


def _default_tz() -> str:
    return current_app.config.get("DEFAULT_TIMEZONE", "America/Los_Angeles")


def _tz_name(hours: WeeklyHours) -> str:
    return getattr(hours.tz, "key", None) or str(hours.tz)


def service_timezone(service: Service):
    """The agency's own time zone for `service`: its first place's (by its ZIP code), else the network's."""
    from zoneinfo import ZoneInfo

    links = db.session.scalars(select(ServiceAtLocation).where(ServiceAtLocation.service_id == service.id)
                               .order_by(ServiceAtLocation.id)).all()
    for link in links:
        iana = _iana_for(db.session.get(Location, link.location_id)) if link.location_id else None
        if iana:
            return ZoneInfo(iana)
    return ZoneInfo(_default_tz())


def _iana_for(location: Location | None, addresses: Iterable[Address] | None = None) -> str | None:
    # As the search index does: a confidential place's ZIP code is not used, its hours read in the default zone.
    if location is None or location.address_confidential:
        return None
    pool = location.addresses if addresses is None else addresses
    address = next((a for a in pool if a.address_type == "physical"), None)
    return timezone_for_zip(address.postal_code) if address else None


def list_own_listings(actor: User) -> list[Listing]:
    """The services of the actor's own directory organization, active ones first then by name.

    Each with its capacity rows and the weekly hours at each of its places. Empty
    for anyone who keeps no listings (see `own_directory_organization`).
    """
    own = own_directory_organization(actor)
    if own is None:
        return []
    services = list(db.session.scalars(select(Service).where(Service.organization_id == own.id)))
    services.sort(key=lambda s: (s.status != "active", s.name.lower(), s.id))
    ids = [s.id for s in services]
    links = db.session.scalars(select(ServiceAtLocation).where(ServiceAtLocation.service_id.in_(ids))).all()
    loc_ids = {link.location_id for link in links if link.location_id}
    locations = {loc.id: loc for loc in db.session.scalars(select(Location).where(Location.id.in_(loc_ids)))}
    addresses = _group(db.session.scalars(select(Address).where(Address.location_id.in_(loc_ids))),
                       lambda a: a.location_id)
    schedules = db.session.scalars(select(Schedule).where(or_(
        Schedule.service_id.in_(ids), Schedule.location_id.in_(loc_ids),
        Schedule.service_at_location_id.in_([link.id for link in links])))).all()
    groups = group_schedules(schedules)
    capacities = _group(db.session.scalars(select(ServiceCapacity).where(ServiceCapacity.service_id.in_(ids))
                                           .order_by(ServiceCapacity.updated.desc(), ServiceCapacity.id)),
                        lambda c: c.service_id)
    links_by_service = _group(links, lambda link: link.service_id)

    listings = []
    for service in services:
        places = []
        service_rows = groups.service_wide.get(service.id, [])
        service_links = [link for link in links_by_service.get(service.id, []) if link.location_id in locations]
        service_links.sort(key=lambda link: ((locations[link.location_id].name or "").lower(), link.location_id))
        for link in service_links or [None]:
            location = locations[link.location_id] if link else None
            rows, source = groups.applicable(service.id, link.id if link else None, location.id if location else None)
            iana = _iana_for(location, addresses.get(location.id, [])) if location else None
            hours = build_hours(rows, iana=iana, default_tz=_default_tz())
            places.append(PlaceHours(location, hours, source, _tz_name(hours)))
        listings.append(Listing(service, capacities.get(service.id, []), places,
                                has_service_wide_hours=any(_is_weekly(s) for s in service_rows)))
    return listings


def _group(rows, key) -> dict[Any, list]:
    out: dict[Any, list] = defaultdict(list)
    for row in rows:
        out[key(row)].append(row)
    return out


def _is_weekly(s: Schedule) -> bool:
    """A plain weekly row (the kind this page edits); dated exceptions, seasonal rows and notes are left alone."""
    return bool(s.byday) and (s.freq or "").upper() in ("", "WEEKLY") and s.valid_from is None \
        and s.valid_to is None


def _scope_rows(service: Service, link: ServiceAtLocation | None) -> list[Schedule]:
    if link is not None:
        where = Schedule.service_at_location_id == link.id
    else:
        where = (Schedule.service_id == service.id) & Schedule.service_at_location_id.is_(None)
    return list(db.session.scalars(select(Schedule).where(where).order_by(Schedule.id)))


@dataclass
class HoursForEdit:
    """What the hours form starts from for a service, at one location or service-wide."""

    service: Service
    location: Optional[Location]
    rows: list[dict[str, str]]  # {"day": "MO", "opens": "09:00", "closes": "17:00"}, by day then time
    inherited_from: Optional[str]  # rows copied from the hours that apply now: "service" or "place"
    tz_names: list[str]  # the time zone(s) the times are read in
    kept_rows: int = 0  # rows in this scope that are not plain weekly hours (exceptions, notes): left alone
    other_locations: list[Location] = field(default_factory=list)


def _form_rows(schedules: Iterable[Schedule]) -> list[dict[str, str]]:
    def hhmm(text: str | None) -> str:
        text = (text or "").strip()
        return text[:5] if TIME_RE.match(text) else text

    rows = []
    for s in schedules:
        if not _is_weekly(s):
            continue
        for day in (d.strip().upper() for d in s.byday.split(",")):
            if day in DAYS:
                rows.append({"day": day, "opens": hhmm(s.opens_at), "closes": hhmm(s.closes_at)})
    rows.sort(key=lambda r: (DAYS.index(r["day"]), parse_hhmm(r["opens"]) or 0))
    return rows


def _service_locations(service: Service) -> list[Location]:
    locations = {link.location.id: link.location for link in service.service_at_locations if link.location}
    return sorted(locations.values(), key=lambda loc: ((loc.name or "").lower(), loc.id))


def get_hours_for_edit(actor: User, service_id: Any, location_id: str | None = None) -> HoursForEdit:
    """The weekly hours of one of the actor's services, at `location_id` or service-wide (None).

    When that scope has no hours of its own, the rows are those that apply there
    now (so saving starts from what the search shows). Raises NotFound for a
    service that is not the actor's or a location where it is not offered.
    """
    service = get_own_service(actor, service_id)
    link = _own_place(service, location_id)
    own = _scope_rows(service, link)
    rows, inherited = _form_rows(own), None
    if link is not None and not own:
        groups = group_schedules(db.session.scalars(select(Schedule).where(or_(
            (Schedule.service_id == service.id) & Schedule.service_at_location_id.is_(None),
            Schedule.location_id == link.location_id)).order_by(Schedule.id)))
        effective, inherited = groups.applicable(service.id, None, link.location_id)
        rows = _form_rows(effective)
        if not rows:
            inherited = None
    places = [link.location] if link is not None else _service_locations(service)
    zones = sorted({_tz_name(build_hours([], iana=_iana_for(loc), default_tz=_default_tz())) for loc in places}
                   or {_default_tz()})
    return HoursForEdit(service=service, location=link.location if link else None, rows=rows,
                        inherited_from=inherited, tz_names=zones,
                        kept_rows=sum(1 for s in own if not _is_weekly(s)),
                        other_locations=[loc for loc in _service_locations(service)
                                         if link is None or loc.id != link.location_id])


@dataclass
class Freshness:
    """When a person last confirmed one of the partner's services was current, and whether that is too long ago."""

    service: Service
    last_verified: Optional[date]
    due: bool


def _local_today() -> date:
    """Today where the network works (DEFAULT_TIMEZONE): a US evening is already tomorrow in UTC."""
    return utcnow().astimezone(ZoneInfo(_default_tz())).date()


def listing_verify_days() -> int:
    """Days after which a listing needs verifying again (setting LISTING_VERIFY_DAYS, default 180)."""
    return int(current_app.config.get("LISTING_VERIFY_DAYS", DEFAULT_LISTING_VERIFY_DAYS))


def verify_cutoff(today: Optional[date] = None) -> date:
    """Listings last verified before this date (or never) are due for verification."""
    return (today or _local_today()) - timedelta(days=listing_verify_days())


def listings_to_verify(actor: User, today: Optional[date] = None) -> list[Freshness]:
    """The actor's own active services, the least recently verified first (never verified before all), each with
    its last verification date (`assured_date`) and whether it is due (never, or over LISTING_VERIFY_DAYS ago).
    Empty for anyone who keeps no listings (see `own_directory_organization`)."""
    own = own_directory_organization(actor)
    if own is None:
        return []
    cutoff = verify_cutoff(today)
    services = db.session.scalars(select(Service).where(Service.organization_id == own.id, Service.status == "active"))
    rows = [Freshness(s, s.assured_date, s.assured_date is None or s.assured_date < cutoff) for s in services]
    rows.sort(key=lambda f: (f.last_verified is not None, f.last_verified or date.min, f.service.name.lower()))
    return rows


# --- changing -----------------------------------------------------------------------------------

def confirm_listing(actor: User, service_id: Any, today: Optional[date] = None) -> Service:
    """Record that a person at the agency checked one of its services and it is current: its `assured_date`
    (the "last verified" date coordinators see) becomes today. Raises NotFound."""
    service = get_own_service(actor, service_id)
    service.assured_date = today or _local_today()
    _touch(service)
    db.session.flush()
    audit(actor, AUDIT_ACTION, "service", service.id, fields=["assured_date"])
    return service


def set_accepting(actor: User, service_id: Any, accepting: bool) -> Service:
    """Switch whether one of the actor's services accepts referrals now. Raises NotFound."""
    service = get_own_service(actor, service_id)
    if bool(service.accepting_referrals) != bool(accepting):
        service.accepting_referrals = bool(accepting)
        _touch(service)
    db.session.flush()
    audit(actor, AUDIT_ACTION, "service", service.id, fields=["accepting_referrals"], accepting=bool(accepting))
    return service


def update_capacity(actor: User, service_id: Any, *, available: int | str | None, maximum: int | str | None,
                    unit: str | None = None, description: str | None = None) -> ServiceCapacity:
    """Record how much of one of the actor's services is available now; `updated` becomes now.

    Updates the service's latest capacity row (the one the search shows), or adds
    one. Raises NotFound; ValidationFailed naming each bad field: available and
    maximum are whole numbers from 0, at least one of them given, available not
    above maximum; unit at most 40 characters, description at most 500. Nothing
    changes then.
    """
    service = get_own_service(actor, service_id)
    errors: Errors = defaultdict(list)
    message = "Enter the {} as a whole number from 0" + f" to {MAX_CAPACITY:,}, like 12."
    clean = {
        "available": whole_number(available, "available", 0, MAX_CAPACITY, message.format("number available"), errors),
        "maximum": whole_number(maximum, "maximum", 0, MAX_CAPACITY, message.format("maximum"), errors),
        "unit": clean_text(unit),
        "description": clean_text(description),
    }
    if clean["available"] is not None and clean["maximum"] is not None and clean["available"] > clean["maximum"]:
        errors["available"].append(f"The number available ({clean['available']}) cannot be more than the "
                                   f"maximum ({clean['maximum']}).")
    if clean["available"] is None and clean["maximum"] is None \
            and not (errors.get("available") or errors.get("maximum")):
        errors["available"].append("Enter how many are available now, the maximum, or both.")
    if clean["unit"] and len(clean["unit"]) > MAX_UNIT_LENGTH:
        errors["unit"].append(f"Keep the unit short (at most {MAX_UNIT_LENGTH} characters), like “beds”.")
    if clean["description"] and len(clean["description"]) > MAX_CAPACITY_DESCRIPTION:
        errors["description"].append(f"Keep the description to {MAX_CAPACITY_DESCRIPTION} characters or fewer.")
    raise_if_errors(errors, "The capacity could not be saved.")

    capacity = _latest_capacity(service)
    if capacity is None:
        capacity = ServiceCapacity(id=new_uuid(), service_id=service.id)
        db.session.add(capacity)
    changed = [name for name, value in clean.items() if getattr(capacity, name) != value]
    for name, value in clean.items():
        setattr(capacity, name, value)
    capacity.updated = utcnow()  # also when nothing else changed: the partner confirmed the figures now
    _touch(service)
    db.session.flush()
    audit(actor, AUDIT_ACTION, "service", service.id, fields=sorted(changed) or ["updated"],
          capacity_id=capacity.id)
    return capacity


def clean_weekly_rows(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, int, int]]:
    """Check rows of {"day", "opens", "closes"} and return (day code, opens, closes) in minutes after midnight.

    Blank rows are skipped. Times are HH:MM on a 24-hour clock, as the importer
    accepts them; a closing time of 00:00 means midnight. Raises ValidationFailed
    with one message per bad field, keyed "rows-<position>-<field>" (the
    position in `rows`), or "rows" for the list as a whole: unknown day, missing
    or malformed time, closing not after opening, ranges that overlap on a day.
    """
    errors: Errors = defaultdict(list)
    if len(rows) > MAX_HOURS_ROWS:
        errors["rows"].append(f"Enter at most {MAX_HOURS_ROWS} time ranges.")
        raise_if_errors(errors, "The hours could not be saved.")
    clean: list[tuple[int, str, int, int]] = []
    for position, row in enumerate(rows):
        day, opens, closes = (clean_text(row.get(name)) for name in ("day", "opens", "closes"))
        if day is None and opens is None and closes is None:
            continue
        key = f"rows-{position}-"
        if day is None:
            errors[key + "day"].append("Choose the day these hours are for.")
        elif day.upper() not in DAYS:
            errors[key + "day"].append("Choose a day of the week from the list.")
        start = _time_of_day(opens, key + "opens", "opening", errors)
        end = _time_of_day(closes, key + "closes", "closing", errors)
        if start is not None and end is not None:
            end = MIDNIGHT if end == 0 else end
            if end <= start:
                errors[key + "closes"].append(
                    f"The closing time ({closes}) must be later than the opening time ({opens}). "
                    "For midnight, enter 00:00.")
            elif not errors.get(key + "day"):
                clean.append((position, day.upper(), start, end))
    by_day: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for position, day, start, end in clean:
        by_day[day].append((start, end, position))
    for day, spans in by_day.items():
        spans.sort()
        for (start, end, _), (next_start, next_end, position) in zip(spans, spans[1:]):
            if next_start < end:
                errors[f"rows-{position}-opens"].append(
                    f"These hours overlap {fmt_minutes(start)} – {fmt_minutes(end)} on "
                    f"{DAY_NAMES[DAYS.index(day)]}. Enter each time range once.")
    raise_if_errors(errors, "The hours could not be saved.")
    return sorted(((day, start, end) for _, day, start, end in clean), key=lambda r: (DAYS.index(r[0]), r[1]))


def _time_of_day(text: str | None, key: str, which: str, errors: Errors) -> int | None:
    if text is None:
        errors[key].append(f"Enter the {which} time, like {'09:00' if which == 'opening' else '17:00'}.")
        return None
    if not TIME_RE.match(text):
        errors[key].append(f"Enter the {which} time as HH:MM on a 24-hour clock, like "
                           f"{'09:00' if which == 'opening' else '17:30'}.")
        return None
    return parse_hhmm(text)


def _hhmm(minutes: int) -> str:
    minutes %= MIDNIGHT  # midnight is written 00:00: a closing time at or before opening runs past midnight
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def set_weekly_hours(actor: User, service_id: Any, rows: Sequence[Mapping[str, Any]], *,
                     location_id: str | None = None) -> list[Schedule]:
    """Replace the weekly hours of one of the actor's services at `location_id`, or service-wide (None).

    `rows` are {"day": "MO".."SU", "opens": "HH:MM", "closes": "HH:MM"}; several
    per day are allowed, and a day without rows is closed. Only plain weekly rows
    of that scope are replaced: dated exceptions and notes stay. No rows at all
    removes the scope's weekly hours, so the service-wide (or the location's own)
    hours apply again. Raises NotFound; ValidationFailed as `clean_weekly_rows`
    does, and nothing changes then. Returns the new schedule rows.
    """
    service = get_own_service(actor, service_id)
    link = _own_place(service, location_id)
    clean = clean_weekly_rows(rows)
    replaced = [s for s in _scope_rows(service, link) if _is_weekly(s)]
    # Keep an HSDS UTC offset the old rows carried: it is the zone of last resort when the place has no ZIP code.
    offset = next((s.timezone for s in replaced if s.timezone is not None), None)
    for old in replaced:
        db.session.delete(old)
    created = []
    for day, start, end in clean:
        row = Schedule(id=new_uuid(), freq="WEEKLY", wkst="MO", byday=day, opens_at=_hhmm(start),
                       closes_at=_hhmm(end), timezone=offset,
                       service_id=None if link else service.id,
                       service_at_location_id=link.id if link else None)
        db.session.add(row)
        created.append(row)
    _touch(service)
    db.session.flush()
    audit(actor, AUDIT_ACTION, "service", service.id, fields=["schedule"],
          location_id=location_id, rows=len(created))
    return created
