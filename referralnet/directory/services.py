"""Listing management for the HSDS directory: organizations, services and locations.

Plain functions that take plain values and the acting user, validate everything
before touching the database, then add, flush and record who did it in the audit
log (ids and field names, never values). They never commit: the
request (or CLI command) that calls them commits once. Every validation problem
is collected and raised together as `ValidationFailed(message, {field: [messages]})`,
keyed by the same names as the function's parameters (address parts are keyed
`address_1`, `city`, `postal_code`...), so a form can show each message next to
its field and an API client can map them to its input.

The read functions used by the admin pages (paged lists, the records shown on a
detail page, the choices offered by the forms) live here too, so that the views
hold no query logic.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from referralnet.audit.services import audit
from referralnet.db import new_uuid, utcnow
from referralnet.directory.models import (
    LOCATION_TYPES, SERVICE_STATUSES, Address, Attribute, Language, Location, Organization, Phone,
    Schedule, Service, ServiceAtLocation, Taxonomy, TaxonomyTerm,
)
from referralnet.db import Page, get_or_404, paginate
from referralnet.errors import ValidationFailed
from referralnet.extensions import db

if TYPE_CHECKING:
    from referralnet.accounts.models import User

PER_PAGE = 50
SDOH_TAXONOMY_NAME = "Gravity SDOH Domains"
SDOH_LINK_TYPE = "sdoh_domain"
FIRST_INCORPORATION_YEAR = 1800
MAX_AGE = 130
US_POSTAL_CODE = re.compile(r"^\d{5}(-\d{4})?$")
COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
ADDRESS_FIELDS = ("address_1", "address_2", "city", "state_province", "postal_code", "country")

Errors = dict[str, list[str]]


# --- reading ------------------------------------------------------------------------------------

def _paginate(stmt: Select, page: Any, *, scalars: bool = True) -> Page:
    return paginate(stmt, page, per_page=PER_PAGE, scalars=scalars)


def _name_filter(stmt: Select, column, q: str | None) -> Select:
    q = (q or "").strip()
    # autoescape: a search for "100%" or "a_b" means those characters, not LIKE wildcards.
    return stmt.where(column.icontains(q, autoescape=True)) if q else stmt


def list_organization_listings(q: str | None = None, page: Any = 1) -> Page:
    """Directory organizations whose name contains `q` (any case), by name.

    Items are `(organization, number_of_services, number_of_locations)` rows.
    """
    services = (select(func.count(Service.id)).where(Service.organization_id == Organization.id)
                .correlate(Organization).scalar_subquery())
    locations = (select(func.count(Location.id)).where(Location.organization_id == Organization.id)
                 .correlate(Organization).scalar_subquery())
    stmt = select(Organization, services.label("services"), locations.label("locations"))
    stmt = _name_filter(stmt, Organization.name, q).order_by(func.lower(Organization.name), Organization.id)
    return _paginate(stmt, page, scalars=False)


def list_services(q: str | None = None, page: Any = 1) -> Page:
    """Services whose name contains `q` (any case), by name, with their organization loaded."""
    stmt = select(Service).options(selectinload(Service.organization))
    stmt = _name_filter(stmt, Service.name, q).order_by(func.lower(Service.name), Service.id)
    return _paginate(stmt, page)


def list_locations(q: str | None = None, page: Any = 1) -> Page:
    """Locations whose name contains `q` (any case), by name (unnamed ones last), with organization and addresses."""
    stmt = select(Location).options(selectinload(Location.organization), selectinload(Location.addresses))
    stmt = _name_filter(stmt, Location.name, q).order_by(Location.name.is_(None), func.lower(Location.name),
                                                          Location.id)
    return _paginate(stmt, page)


def get_organization_listing(org_id: str) -> Organization:
    """The directory organization with this HSDS id. Raises NotFound."""
    return get_or_404(Organization, org_id, "No directory organization has this id.")


def get_service(service_id: str) -> Service:
    """The service with this HSDS id. Raises NotFound."""
    return get_or_404(Service, service_id, "No service has this id.")


def get_location(location_id: str) -> Location:
    """The location with this HSDS id. Raises NotFound."""
    return get_or_404(Location, location_id, "No location has this id.")


@dataclass
class ScheduleEntry:
    """A schedule and, when it belongs to a service at one location, what that is (for a "applies to" column)."""

    schedule: Schedule
    applies_to: Optional[str] = None


@dataclass
class OrganizationDetails:
    organization: Organization
    phones: list[Phone]


@dataclass
class ServiceDetails:
    service: Service
    locations: list[Location]
    schedules: list[ScheduleEntry]
    languages: list[Language]
    phones: list[Phone]
    sdoh_domains: list[TaxonomyTerm]


@dataclass
class LocationDetails:
    location: Location
    services: list[Service]
    schedules: list[ScheduleEntry]
    phones: list[Phone]
    languages: list[Language] = field(default_factory=list)


def get_organization_details(org: Organization) -> OrganizationDetails:
    """What the organization page shows besides the record itself (its services and locations are relationships)."""
    phones = db.session.scalars(select(Phone).where(Phone.organization_id == org.id).order_by(Phone.number)).all()
    return OrganizationDetails(organization=org, phones=list(phones))


def _location_label(location: Location | None) -> str:
    if location is None:
        return "a location"
    return location.name or f"Unnamed location {location.id}"


def get_service_details(service: Service) -> ServiceDetails:
    """The service's locations, schedules (its own and those at one of its locations), languages, phones, domains."""
    links = db.session.scalars(
        select(ServiceAtLocation).where(ServiceAtLocation.service_id == service.id)
        .options(selectinload(ServiceAtLocation.location).selectinload(Location.addresses))
    ).all()
    where_by_link = {link.id: link.location for link in links}
    locations = sorted({link.location.id: link.location for link in links if link.location}.values(),
                       key=lambda loc: (loc.name or "").lower())
    schedules = db.session.scalars(
        select(Schedule).where(or_(Schedule.service_id == service.id,
                                   Schedule.service_at_location_id.in_(list(where_by_link))))
        .order_by(Schedule.opens_at, Schedule.id)
    ).all()
    entries = [ScheduleEntry(s, _location_label(where_by_link[s.service_at_location_id])
                             if s.service_at_location_id in where_by_link else None) for s in schedules]
    languages = db.session.scalars(select(Language).where(Language.service_id == service.id)
                                   .order_by(Language.name)).all()
    phones = db.session.scalars(
        select(Phone).where(or_(Phone.service_id == service.id,
                                Phone.service_at_location_id.in_(list(where_by_link))))
        .order_by(Phone.number)
    ).all()
    return ServiceDetails(service=service, locations=locations, schedules=entries, languages=list(languages),
                          phones=list(phones), sdoh_domains=[a.taxonomy_term for a in _sdoh_attributes(service)])


def get_location_details(location: Location) -> LocationDetails:
    """The services offered at the location, its schedules (its own and its services' there), phones, languages."""
    links = db.session.scalars(
        select(ServiceAtLocation).where(ServiceAtLocation.location_id == location.id)
        .options(selectinload(ServiceAtLocation.service))
    ).all()
    service_by_link = {link.id: link.service for link in links}
    services = sorted({link.service.id: link.service for link in links if link.service}.values(),
                      key=lambda s: s.name.lower())
    schedules = db.session.scalars(
        select(Schedule).where(or_(Schedule.location_id == location.id,
                                   Schedule.service_at_location_id.in_(list(service_by_link))))
        .order_by(Schedule.opens_at, Schedule.id)
    ).all()
    entries = []
    for s in schedules:
        svc = service_by_link.get(s.service_at_location_id)
        entries.append(ScheduleEntry(s, svc.name if svc else None))
    phones = db.session.scalars(select(Phone).where(Phone.location_id == location.id).order_by(Phone.number)).all()
    languages = db.session.scalars(select(Language).where(Language.location_id == location.id)
                                   .order_by(Language.name)).all()
    return LocationDetails(location=location, services=services, schedules=entries, phones=list(phones),
                           languages=list(languages))


def physical_address(location: Location) -> Address | None:
    """The location's (first) physical address: the one the admin form edits and the lists show."""
    return next((a for a in location.addresses if a.address_type == "physical"), None)


# --- choices offered by the forms ---------------------------------------------------------------

def list_organization_choices() -> list[tuple[str, str]]:
    """(id, name) of every directory organization, by name."""
    rows = db.session.execute(select(Organization.id, Organization.name)
                              .order_by(func.lower(Organization.name), Organization.id))
    return [(i, n) for i, n in rows]


def list_location_choices(organization_id: str | None, *,
                          keep: Iterable[str] = ()) -> list[tuple[str, str, str | None]]:
    """Locations a service may be offered at, as `(id, label, group)` rows.

    With an organization: its locations, plus those in `keep` (a service's
    current links, which imports may point at another organization's places),
    group None. Without one (a new service, no organization chosen yet): every
    location, grouped by its organization's name.
    """
    keep = set(keep)
    stmt = (select(Location).options(selectinload(Location.organization), selectinload(Location.addresses))
            .order_by(Location.name, Location.id))
    if organization_id:
        stmt = stmt.where(or_(Location.organization_id == organization_id, Location.id.in_(keep)))
        return [(loc.id, _choice_label(loc, other_org=loc.organization_id != organization_id), None)
                for loc in db.session.scalars(stmt)]
    rows = [(loc.id, _choice_label(loc), loc.organization.name if loc.organization else "No organization")
            for loc in db.session.scalars(stmt)]
    return sorted(rows, key=lambda row: row[2].lower())  # stable: by name within each group


def _choice_label(location: Location, *, other_org: bool = False) -> str:
    label = _location_label(location)
    address = physical_address(location)
    if address and address.city:
        label += f" — {address.city}"
    if other_org and location.organization:
        label += f" (at {location.organization.name})"
    return label


def list_sdoh_domain_terms() -> list[TaxonomyTerm]:
    """Terms of the Gravity SDOH Domains taxonomy (empty until seed_data/sdoh_domains.json is imported)."""
    return list(db.session.scalars(
        select(TaxonomyTerm).join(Taxonomy, TaxonomyTerm.taxonomy_id == Taxonomy.id)
        .where(Taxonomy.name == SDOH_TAXONOMY_NAME).order_by(TaxonomyTerm.name)
    ))


def _sdoh_attributes(service: Service) -> list[Attribute]:
    # Any link_type counts: HSDS JSON imports may link a service to an SDOH term without our "sdoh_domain" tag,
    # and the form must show (and be able to remove) those too.
    return list(db.session.scalars(
        select(Attribute).join(TaxonomyTerm, Attribute.taxonomy_term_id == TaxonomyTerm.id)
        .join(Taxonomy, TaxonomyTerm.taxonomy_id == Taxonomy.id)
        .where(Attribute.link_entity == "service", Attribute.link_id == service.id,
               Taxonomy.name == SDOH_TAXONOMY_NAME)
        .options(selectinload(Attribute.taxonomy_term)).order_by(TaxonomyTerm.name)
    ))


def get_service_location_ids(service: Service) -> list[str]:
    """Ids of the locations the service is offered at (its service_at_location rows)."""
    return [link.location_id for link in service.service_at_locations if link.location_id]


def get_service_sdoh_term_ids(service: Service) -> list[str]:
    """Ids of the SDOH domain terms the service is classified under."""
    return [a.taxonomy_term_id for a in _sdoh_attributes(service)]


# --- value cleaning -----------------------------------------------------------------------------

def clean_text(value: Any) -> str | None:
    """Stripped text, or None for missing or blank input."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _required(value: Any, name: str, message: str, errors: Errors) -> str | None:
    value = clean_text(value)
    if value is None:
        errors[name].append(message)
    return value


def _email(value: Any, name: str, errors: Errors) -> str | None:
    value = clean_text(value)
    if value is None:
        return None
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        errors[name].append("Enter a valid email address, like info@example.org.")
        return None


def _web_address(value: Any, name: str, errors: Errors) -> str | None:
    value = clean_text(value)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        parts, host = None, ""
    if (parts is None or parts.scheme.lower() not in ("http", "https") or "." not in host
            or any(ch.isspace() for ch in value)):
        errors[name].append("Enter a full web address starting with http:// or https://, like https://example.org.")
        return None
    return value


def whole_number(value: Any, name: str, lo: int, hi: int, message: str, errors: Errors) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if number is None or not lo <= number <= hi:
        errors[name].append(message)
        return None
    return number


def _number(value: Any, name: str, lo: float, hi: float, message: str, errors: Errors) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    # Written so that NaN (which float() accepts) fails the range check too.
    if not lo <= number <= hi:
        errors[name].append(message)
        return None
    return number


def _date(value: Any, name: str, errors: Errors) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[name].append("Enter a date as YYYY-MM-DD, like 2024-05-31.")
        return None


def _choice(value: Any, allowed: tuple[str, ...], name: str, message: str, errors: Errors) -> str | None:
    value = clean_text(value)
    if value not in allowed:
        errors[name].append(message)
        return None
    return value


def _unique_ids(ids: Iterable[Any] | None) -> list[str]:
    seen: dict[str, None] = {}
    for raw in ids or ():
        if (value := clean_text(raw)) is not None:
            seen.setdefault(value, None)
    return list(seen)


def _filled(values: Mapping[str, Any]) -> list[str]:
    """The names of the fields given a value (for the audit row: names, never values)."""
    return sorted(name for name, value in values.items() if value is not None)


def _changed(row, values: Mapping[str, Any]) -> list[str]:
    """The names of the fields whose value differs from the row's."""
    return sorted(name for name, value in values.items() if getattr(row, name) != value)


def raise_if_errors(errors: Errors, message: str) -> None:
    if errors:
        raise ValidationFailed(message, {k: v for k, v in errors.items() if v})


# --- organizations ------------------------------------------------------------------------------

def _clean_organization(values: Mapping[str, Any]) -> dict[str, Any]:
    errors: Errors = defaultdict(list)
    this_year = utcnow().year
    clean = {
        "name": _required(values.get("name"), "name", "Enter the organization's name.", errors),
        "alternate_name": clean_text(values.get("alternate_name")),
        "description": _required(values.get("description"), "description",
                                 "Enter a short description of the organization (HSDS requires one).", errors),
        "email": _email(values.get("email"), "email", errors),
        "website": _web_address(values.get("website"), "website", errors),
        "tax_id": clean_text(values.get("tax_id")),
        "legal_status": clean_text(values.get("legal_status")),
        "year_incorporated": whole_number(
            values.get("year_incorporated"), "year_incorporated", FIRST_INCORPORATION_YEAR, this_year,
            f"Enter the year of incorporation as a year from {FIRST_INCORPORATION_YEAR} to {this_year}.", errors),
    }
    raise_if_errors(errors, "The organization could not be saved.")
    return clean


def create_organization_listing(*, name: str | None, description: str | None, alternate_name: str | None = None,
                                email: str | None = None, website: str | None = None, tax_id: str | None = None,
                                legal_status: str | None = None, year_incorporated: int | str | None = None,
                                actor: User) -> Organization:
    """Add a directory organization with a new UUID id.

    Raises ValidationFailed naming each bad field (name and description are
    required; email, website and year_incorporated are checked); nothing is
    added then.
    """
    clean = _clean_organization(dict(
        name=name, description=description, alternate_name=alternate_name, email=email, website=website,
        tax_id=tax_id, legal_status=legal_status, year_incorporated=year_incorporated))
    org = Organization(id=new_uuid(), **clean)
    db.session.add(org)
    db.session.flush()
    audit(actor, "directory.organization.create", "organization", org.id, fields=_filled(clean))
    return org


def update_organization_listing(org: Organization, *, name: str | None, description: str | None,
                                alternate_name: str | None = None, email: str | None = None,
                                website: str | None = None, tax_id: str | None = None,
                                legal_status: str | None = None, year_incorporated: int | str | None = None,
                                actor: User) -> Organization:
    """Replace the editable fields of a directory organization (an optional field left out is cleared).

    Raises ValidationFailed as `create_organization_listing` does; the record is untouched then.
    """
    clean = _clean_organization(dict(
        name=name, description=description, alternate_name=alternate_name, email=email, website=website,
        tax_id=tax_id, legal_status=legal_status, year_incorporated=year_incorporated))
    changed = _changed(org, clean)
    for key, value in clean.items():
        setattr(org, key, value)
    db.session.flush()
    audit(actor, "directory.organization.update", "organization", org.id, fields=changed)
    return org


# --- services -----------------------------------------------------------------------------------

@dataclass
class _CleanService:
    fields: dict[str, Any]
    locations: Optional[list[Location]]  # None: leave the service's locations as they are
    sdoh_terms: Optional[list[TaxonomyTerm]]  # None: leave its SDOH domains as they are


def _clean_service(values: Mapping[str, Any], *, current: Service | None,
                   location_ids: Iterable[Any] | None, sdoh_term_ids: Iterable[Any] | None) -> _CleanService:
    errors: Errors = defaultdict(list)
    org = None
    org_id = clean_text(values.get("organization_id"))
    if org_id is None:
        errors["organization_id"].append("Choose the organization that provides this service.")
    elif (org := db.session.get(Organization, org_id)) is None:
        errors["organization_id"].append("That organization no longer exists. Choose another one.")
    age_message = f"Enter the {{}} age as a whole number from 0 to {MAX_AGE}."
    fields = {
        "organization_id": org.id if org else None,
        "name": _required(values.get("name"), "name", "Enter the name of the service.", errors),
        "alternate_name": clean_text(values.get("alternate_name")),
        "description": clean_text(values.get("description")),
        "status": _choice(values.get("status"), SERVICE_STATUSES, "status",
                          "Choose a status: " + ", ".join(SERVICE_STATUSES) + ".", errors),
        "eligibility_description": clean_text(values.get("eligibility_description")),
        "application_process": clean_text(values.get("application_process")),
        "fees_description": clean_text(values.get("fees_description")),
        "url": _web_address(values.get("url"), "url", errors),
        "email": _email(values.get("email"), "email", errors),
        "minimum_age": whole_number(values.get("minimum_age"), "minimum_age", 0, MAX_AGE,
                                age_message.format("minimum"), errors),
        "maximum_age": whole_number(values.get("maximum_age"), "maximum_age", 0, MAX_AGE,
                                age_message.format("maximum"), errors),
        "assured_date": _date(values.get("assured_date"), "assured_date", errors),
        "alert": clean_text(values.get("alert")),
    }
    low, high = fields["minimum_age"], fields["maximum_age"]
    if low is not None and high is not None and high < low:
        errors["maximum_age"].append(
            f"The maximum age ({high}) cannot be lower than the minimum age ({low}).")
    # No place on earth has reached a date later than today in UTC+14: such a date cannot have been verified yet.
    if fields["assured_date"] and fields["assured_date"] > (utcnow() + timedelta(hours=14)).date():
        errors["assured_date"].append("The date the service was last verified cannot be in the future.")

    locations = None
    if location_ids is not None:
        ids = _unique_ids(location_ids)
        found = {loc.id: loc for loc in db.session.scalars(select(Location).where(Location.id.in_(ids)))}
        already = set(get_service_location_ids(current)) if current else set()
        locations = []
        for loc_id in ids:
            loc = found.get(loc_id)
            if loc is None:
                errors["location_ids"].append("One of the chosen locations no longer exists. Choose again.")
            elif org is not None and loc.organization_id != org.id and loc_id not in already:
                # Existing links to another organization's place (imports make them) may stay; new ones may not.
                errors["location_ids"].append(
                    f"“{_location_label(loc)}” is not a location of {org.name}. Choose among its locations.")
            else:
                locations.append(loc)

    terms = None
    if sdoh_term_ids is not None:
        allowed = {t.id: t for t in list_sdoh_domain_terms()}
        terms = []
        for term_id in _unique_ids(sdoh_term_ids):
            if term_id in allowed:
                terms.append(allowed[term_id])
            else:
                errors["sdoh_term_ids"].append("Choose SDOH domains from the list.")
                break
    raise_if_errors(errors, "The service could not be saved.")
    return _CleanService(fields, locations, terms)


def _sync_locations(service: Service, locations: list[Location]) -> None:
    """Keep one service_at_location row per chosen location: add the missing ones, delete the unchosen."""
    wanted = {loc.id for loc in locations}
    have: set[str] = set()
    for link in list(service.service_at_locations):
        if link.location_id in wanted:
            have.add(link.location_id)
        else:
            service.service_at_locations.remove(link)
            db.session.delete(link)  # its own schedules and phones go with it (ON DELETE CASCADE)
    for loc in locations:
        if loc.id not in have:
            service.service_at_locations.append(ServiceAtLocation(id=new_uuid(), location_id=loc.id))


def _sync_sdoh_domains(service: Service, terms: list[TaxonomyTerm]) -> None:
    """Link the service to exactly these SDOH domain terms (other taxonomies' attributes are left alone)."""
    wanted = {t.id for t in terms}
    have: set[str] = set()
    for attribute in _sdoh_attributes(service):
        if attribute.taxonomy_term_id in wanted:
            have.add(attribute.taxonomy_term_id)
        else:
            db.session.delete(attribute)
    for term in terms:
        if term.id not in have:
            db.session.add(Attribute(id=new_uuid(), link_entity="service", link_type=SDOH_LINK_TYPE,
                                     link_id=service.id, taxonomy_term_id=term.id))


def create_service(*, organization_id: str | None, name: str | None, status: str = "active",
                   alternate_name: str | None = None, description: str | None = None,
                   eligibility_description: str | None = None, application_process: str | None = None,
                   fees_description: str | None = None, url: str | None = None, email: str | None = None,
                   minimum_age: int | str | None = None, maximum_age: int | str | None = None,
                   assured_date: date | str | None = None, alert: str | None = None,
                   location_ids: Iterable[str] = (), sdoh_term_ids: Iterable[str] = (),
                   actor: User) -> Service:
    """Add a service (new UUID id, last_modified now), offered at `location_ids` and classified under `sdoh_term_ids`.

    Raises ValidationFailed naming each bad field: organization and name are
    required; status must be an HSDS status; url, email, ages (0..130, maximum
    not below minimum) and assured_date (not in the future) are checked; the
    locations must belong to the organization; the terms must be SDOH domains.
    Nothing is added then.
    """
    clean = _clean_service(dict(
        organization_id=organization_id, name=name, status=status, alternate_name=alternate_name,
        description=description, eligibility_description=eligibility_description,
        application_process=application_process, fees_description=fees_description, url=url, email=email,
        minimum_age=minimum_age, maximum_age=maximum_age, assured_date=assured_date, alert=alert,
    ), current=None, location_ids=location_ids, sdoh_term_ids=sdoh_term_ids)
    service = Service(id=new_uuid(), last_modified=utcnow(), **clean.fields)
    db.session.add(service)
    _sync_locations(service, clean.locations or [])
    _sync_sdoh_domains(service, clean.sdoh_terms or [])
    db.session.flush()
    audit(actor, "directory.service.create", "service", service.id, organization_id=service.organization_id,
          fields=_filled(clean.fields), location_ids=[loc.id for loc in clean.locations or []],
          sdoh_term_ids=[term.id for term in clean.sdoh_terms or []])
    return service


def update_service(service: Service, *, organization_id: str | None, name: str | None, status: str | None,
                   alternate_name: str | None = None, description: str | None = None,
                   eligibility_description: str | None = None, application_process: str | None = None,
                   fees_description: str | None = None, url: str | None = None, email: str | None = None,
                   minimum_age: int | str | None = None, maximum_age: int | str | None = None,
                   assured_date: date | str | None = None, alert: str | None = None,
                   location_ids: Iterable[str] | None = None, sdoh_term_ids: Iterable[str] | None = None,
                   actor: User) -> Service:
    """Replace the editable fields of a service and set last_modified to now.

    `location_ids` / `sdoh_term_ids` replace the service's locations / SDOH
    domains (rows for unchosen ones are deleted); None leaves them as they are.
    A link to another organization's location that the service already has may
    be kept. Raises ValidationFailed as `create_service` does; nothing changes then.
    """
    clean = _clean_service(dict(
        organization_id=organization_id, name=name, status=status, alternate_name=alternate_name,
        description=description, eligibility_description=eligibility_description,
        application_process=application_process, fees_description=fees_description, url=url, email=email,
        minimum_age=minimum_age, maximum_age=maximum_age, assured_date=assured_date, alert=alert,
    ), current=service, location_ids=location_ids, sdoh_term_ids=sdoh_term_ids)
    changed = _changed(service, clean.fields)
    for key, value in clean.fields.items():
        setattr(service, key, value)
    service.last_modified = utcnow()
    if clean.locations is not None:
        _sync_locations(service, clean.locations)
    if clean.sdoh_terms is not None:
        _sync_sdoh_domains(service, clean.sdoh_terms)
    db.session.flush()
    audit(actor, "directory.service.update", "service", service.id, organization_id=service.organization_id,
          fields=changed,
          location_ids=None if clean.locations is None else [loc.id for loc in clean.locations],
          sdoh_term_ids=None if clean.sdoh_terms is None else [term.id for term in clean.sdoh_terms])
    return service


# --- locations ----------------------------------------------------------------------------------

@dataclass
class _CleanLocation:
    fields: dict[str, Any]
    address: Optional[dict[str, Any]]  # None: the location has no physical address


def _clean_address(raw: Mapping[str, Any], location_type: str | None, errors: Errors) -> dict[str, Any] | None:
    parts = {name: clean_text(raw.get(name)) for name in ADDRESS_FIELDS}
    country = (parts["country"] or "US").upper()
    # The country alone (it defaults to US) does not make an address.
    if not any(parts[name] for name in ADDRESS_FIELDS if name != "country"):
        if location_type == "physical":
            errors["address_1"].append("Enter the street address: a physical location needs one.")
            errors["city"].append("Enter the city.")
            errors["state_province"].append("Enter the state.")
            errors["postal_code"].append("Enter the ZIP code.")
        return None
    for name, message in (("address_1", "Enter the street address."), ("city", "Enter the city."),
                          ("state_province", "Enter the state or province."),
                          ("postal_code", "Enter the ZIP or postal code.")):
        if parts[name] is None:
            errors[name].append(message)
    if not COUNTRY_CODE.match(country):
        errors["country"].append("Enter the country as a two-letter code, like US.")
    elif country == "US" and parts["postal_code"] and not US_POSTAL_CODE.match(parts["postal_code"]):
        errors["postal_code"].append("Enter a 5-digit ZIP code, like 94401 or 94401-1234.")
    return {**parts, "country": country}


def _clean_location(values: Mapping[str, Any], address: Mapping[str, Any] | None) -> _CleanLocation:
    errors: Errors = defaultdict(list)
    org_id = clean_text(values.get("organization_id"))
    if org_id is not None and db.session.get(Organization, org_id) is None:
        errors["organization_id"].append("That organization no longer exists. Choose another one, or none.")
    location_type = _choice(values.get("location_type"), LOCATION_TYPES, "location_type",
                            "Choose a location type: " + ", ".join(LOCATION_TYPES) + ".", errors)
    latitude = _number(values.get("latitude"), "latitude", -90, 90,
                       "Enter the latitude as a number from -90 to 90, like 37.5630.", errors)
    longitude = _number(values.get("longitude"), "longitude", -180, 180,
                        "Enter the longitude as a number from -180 to 180, like -122.3255.", errors)
    if (latitude is None) != (longitude is None) and not (errors["latitude"] or errors["longitude"]):
        missing = "longitude" if longitude is None else "latitude"
        errors[missing].append(f"Enter the {missing} too: coordinates need both latitude and longitude, or neither.")
    fields = {
        "organization_id": org_id,
        # HSDS lets a location go unnamed; people choosing among places cannot, so the admin form requires one.
        "name": _required(values.get("name"), "name", "Enter a name for the location.", errors),
        "description": clean_text(values.get("description")),
        "location_type": location_type,
        "latitude": latitude,
        "longitude": longitude,
        "transportation": clean_text(values.get("transportation")),
    }
    clean_address = _clean_address(address or {}, location_type, errors)
    raise_if_errors(errors, "The location could not be saved.")
    return _CleanLocation(fields, clean_address)


def _apply_address(location: Location, address: dict[str, Any] | None) -> None:
    """Make the location's physical address match the form: update it, add one, or remove it when cleared."""
    current = physical_address(location)
    if address is None:
        if current is not None:
            location.addresses.remove(current)
            db.session.delete(current)
        return
    if current is None:
        current = Address(id=new_uuid(), address_type="physical")
        location.addresses.append(current)
    for key, value in address.items():
        setattr(current, key, value)


def create_location(*, name: str | None, organization_id: str | None = None, description: str | None = None,
                    location_type: str = "physical", latitude: float | str | None = None,
                    longitude: float | str | None = None, transportation: str | None = None,
                    address: Mapping[str, Any] | None = None, actor: User) -> Location:
    """Add a location (new UUID id) with at most one physical address.

    `address` holds address_1, address_2, city, state_province, postal_code and
    country (default US). Raises ValidationFailed naming each bad field: name is
    required; the organization, if any, must exist; latitude (-90..90) and
    longitude (-180..180) come both or neither; a physical location needs an
    address; a US address needs a 5-digit ZIP. Nothing is added then.
    """
    clean = _clean_location(dict(organization_id=organization_id, name=name, description=description,
                                 location_type=location_type, latitude=latitude, longitude=longitude,
                                 transportation=transportation), address)
    location = Location(id=new_uuid(), **clean.fields)
    db.session.add(location)
    _apply_address(location, clean.address)
    db.session.flush()
    audit(actor, "directory.location.create", "location", location.id, organization_id=location.organization_id,
          fields=_filled(clean.fields), has_address=clean.address is not None)
    return location


def update_location(location: Location, *, name: str | None, organization_id: str | None = None,
                    description: str | None = None, location_type: str | None = "physical",
                    latitude: float | str | None = None, longitude: float | str | None = None,
                    transportation: str | None = None, address: Mapping[str, Any] | None = None,
                    actor: User) -> Location:
    """Replace the editable fields of a location and its physical address (other addresses are left alone).

    An all-blank `address` removes the physical address (allowed unless the
    location is physical). Raises ValidationFailed as `create_location` does;
    nothing changes then.
    """
    clean = _clean_location(dict(organization_id=organization_id, name=name, description=description,
                                 location_type=location_type, latitude=latitude, longitude=longitude,
                                 transportation=transportation), address)
    changed = _changed(location, clean.fields)
    for key, value in clean.fields.items():
        setattr(location, key, value)
    _apply_address(location, clean.address)
    db.session.flush()
    audit(actor, "directory.location.update", "location", location.id, organization_id=location.organization_id,
          fields=changed, has_address=clean.address is not None)
    return location
