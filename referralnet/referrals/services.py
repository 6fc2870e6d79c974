"""Referral operations: plain functions that take the acting user explicitly, flush, never commit.

They raise DomainError subclasses (NotPermitted, InvalidTransition, Conflict,
ValidationFailed) and write nothing when they do. Objects come in already fetched
through `referrals.access` (which answers 404 for anything the user may not see);
these functions check what the user may *do* with them.

Every change, and every view of a client's details, appends an audit row through
`audit.services.audit()`. Views call `record_client_view()` on a client page and `mark_viewed()` on
every view of a referral page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Mapping, Optional

from flask import current_app, has_app_context
from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import joinedload, selectinload

from referralnet.accounts.models import Role, User
from referralnet.accounts.routes import DeliveryRoute, directory_email, is_network_member, usable_email
from referralnet.audit.services import audit
from referralnet.db import Page, bookkeeping, paginate, utcnow
from referralnet.directory.models import Organization, Service, ServiceAtLocation
from referralnet.directory.services import clean_text
from referralnet.directory.sdoh import sdoh_terms
from referralnet.errors import (Conflict, InvalidTransition, NotPermitted, NotReady, UnknownReference,
                                ValidationFailed, refusal)
from referralnet.extensions import db
from referralnet.referrals import states, timing
from referralnet.referrals.access import visible_clients, visible_referrals
from referralnet.referrals.actors import Actor, OnBehalf, acting_user, audit_as
from referralnet.referrals.calendar import add_business_days
from referralnet.referrals.events import record_event
from referralnet.referrals.models import (CLOSABLE_STATUSES, CONSENT_METHODS, CONTACT_PREFERENCES, MAX_TEXT,
                                          PATIENT_REPORTS, PRIORITIES, VERIFIED_OUTCOMES, Client, Closure, Consent,
                                          Referral, ReferralEvent, ReferralMessage, report_flags_after)
from referralnet.referrals.states import Party, Status, parties_of

DEFAULT_RESPONSE_BUSINESS_DAYS = 2
MAX_AVAILABILITY = 1000
MAX_ADDRESS = 500
MAX_NAME = 100
MAX_AGE_YEARS = 125
REFER_ELSEWHERE_FROM = (Status.REJECTED, Status.FAILED, Status.CANCELLED)
OPEN_STATUSES = tuple(s for s in Status if s not in states.TERMINAL)


# --- clients -----------------------------------------------------------------------------------

CLIENT_FIELDS = ("given_name", "family_name", "date_of_birth", "phone", "email", "preferred_language",
                 "contact_preference", "zip_code", "address")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().-]+$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")  # ISO 639 code, optionally with BCP 47 subtags
_ZIP = re.compile(r"^\d{5}(-\d{4})?$")


def create_client(actor: User, **fields) -> Client:
    """Record a new client of the actor's organization and return them.

    Fields: given_name, family_name, date_of_birth (date or ISO string) are required;
    phone, email, preferred_language (default "en"), contact_preference, zip_code, address.
    Without a contact_preference, the client is contacted by phone if they gave one, else by
    email, else not at all. Check `find_possible_duplicates` first: this does not.
    Raises NotPermitted (not a coordinator), ValidationFailed naming each bad field.
    """
    _require_coordinator(actor, "Only care coordinators can add clients.")
    _check_field_names(fields)
    clean = _clean_client({"preferred_language": "en", **fields})
    client = Client(organization_id=actor.organization_id, created_by_id=actor.id, **clean)
    db.session.add(client)
    db.session.flush()
    audit(actor, "client.create", "client", client.id, fields=sorted(k for k, v in clean.items() if v is not None))
    return client


def update_client(actor: User, client: Client, **changes) -> Client:
    """Change some of a client's details (same fields and rules as create_client).

    Raises NotPermitted (not a coordinator of the client's organization), ValidationFailed.
    """
    _require_coordinator(actor, "Only the client's coordinating organization can change their details.",
                         organization_id=client.organization_id)
    _check_field_names(changes)
    current = {name: getattr(client, name) for name in CLIENT_FIELDS}
    if "contact_preference" not in changes and current["contact_preference"] == "do-not-contact":
        current["contact_preference"] = None  # re-derive: they may just have given a phone number
    clean = _clean_client({**current, **changes})
    changed = sorted(k for k, v in clean.items() if getattr(client, k) != v)
    for name in changed:
        setattr(client, name, clean[name])
    db.session.flush()
    if changed:
        audit(actor, "client.update", "client", client.id, fields=changed)
    return client


def find_clients(actor: User, q: str, page, *, per_page: int) -> tuple[Page, dict[int, int]]:
    """One page of the actor's organization's clients whose names contain each of the first four
    words of `q`, by family name; and the number of open referrals of each client on the page."""
    query = visible_clients(actor)
    for word in q.split()[:4]:
        pattern = f"%{word.lower()}%"
        query = query.where(func.lower(Client.given_name).like(pattern) | func.lower(Client.family_name).like(pattern))
    result = paginate(query.order_by(Client.family_name, Client.given_name, Client.id), page, per_page=per_page)
    ids = [c.id for c in result.items]
    open_counts = dict(db.session.execute(
        select(Referral.client_id, func.count()).where(Referral.client_id.in_(ids),
                                                       Referral.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(Referral.client_id)).all()) if ids else {}
    return result, open_counts


def list_client_referrals(actor: User, client: Client) -> list[Referral]:
    """The client's referrals that the actor may see, newest first, with their timelines."""
    return list(db.session.scalars(
        visible_referrals(actor).where(Referral.client_id == client.id)
        # The timelines, service, agency and closure joined: one round trip (a client has a few referrals
        # of a few events each; the timelines by a query of their own were one more on the client's page).
        .options(joinedload(Referral.events), joinedload(Referral.service),
                 joinedload(Referral.receiving_organization), joinedload(Referral.closure))
        .order_by(Referral.requested_at.desc(), Referral.id.desc())).unique())


def list_followups(actor: User, referral: Referral) -> list[Referral]:
    """The referrals (that the actor may see) that referred the client elsewhere after this one."""
    return list(db.session.scalars(visible_referrals(actor).where(Referral.previous_referral_id == referral.id)))


@bookkeeping
def record_client_view(actor: User, client: Client, *, now: Optional[datetime] = None) -> None:
    """Audit that `actor` saw `client`'s details (call it from every page or API that shows them).

    Bookkeeping (`db.bookkeeping`): when the database is busy, it is written after the response.
    """
    audit(actor, "client.view", "client", client.id, now=now)


def find_possible_duplicates(actor: User, given_name: str, family_name: str, date_of_birth) -> list[Client]:
    """Clients of the actor's organization with the same names (ignoring case) and date of birth.

    The page warns and offers them before creating a new one. An unreadable date gives none.
    Names are compared in Python with casefold(): SQLite's lower() only folds ASCII letters.
    """
    try:
        dob = _as_date(date_of_birth)
    except ValueError:
        return []
    if dob is None:
        return []
    wanted = ((given_name or "").strip().casefold(), (family_name or "").strip().casefold())
    candidates = db.session.scalars(
        visible_clients(actor).where(Client.organization_id == actor.organization_id,
                                     Client.date_of_birth == dob).order_by(Client.id))
    return [c for c in candidates if (c.given_name.casefold(), c.family_name.casefold()) == wanted]


def _check_field_names(fields: dict) -> None:
    unknown = set(fields) - set(CLIENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown client fields: {', '.join(sorted(unknown))}")


def _as_date(value) -> Optional[date]:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    # As US staff type it (month first: 04/23/1980, 4/23/1980, 04-23-1980), or ISO (1980-04-23).
    # A two-digit year is refused: 04/23/80 could be 1880, 1980 or 2080.
    if match := _US_DATE.fullmatch(text):
        month, day, year = (int(part) for part in match.groups())
        return date(year, month, day)
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(text)
    return date.fromisoformat(text)


_US_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _clean_client(values: dict) -> dict:
    """Validated, normalized client fields; raises ValidationFailed naming each bad field."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for field, label in (("given_name", "given name"), ("family_name", "family name")):
        value = clean_text(values.get(field))
        if value is None:
            errors[field] = [f"Enter the client's {label}."]
        elif len(value) > MAX_NAME:
            errors[field] = [f"Keep the {label} under {MAX_NAME} characters."]
        clean[field] = value

    try:
        dob = _as_date(values.get("date_of_birth"))
    except ValueError:
        dob, errors["date_of_birth"] = None, ["Enter the date of birth as month/day/year with a 4-digit year, like 04/23/1980 "
                                                "(or 1980-04-23)."]
    else:
        today = utcnow().date()
        if dob is None:
            errors["date_of_birth"] = ["Enter the client's date of birth."]
        elif dob > today:
            errors["date_of_birth"] = ["The date of birth cannot be in the future."]
        elif dob.year < today.year - MAX_AGE_YEARS:
            errors["date_of_birth"] = [f"Check the year: that would make the client over {MAX_AGE_YEARS}."]
    clean["date_of_birth"] = dob

    phone = clean_text(values.get("phone"))
    if phone is not None:
        digits = re.sub(r"\D", "", phone)
        if not _PHONE.match(phone) or not 10 <= len(digits) <= 15:
            errors["phone"] = ["Enter a phone number with its area code, like (415) 555-0123."]
    clean["phone"] = phone

    email = clean_text(values.get("email"))
    if email is not None:
        email = email.lower()
        if len(email) > 254 or not _EMAIL.match(email):
            errors["email"] = ["Enter an email address like name@example.org."]
    clean["email"] = email

    language = clean_text(values.get("preferred_language")) or "en"
    primary, _, rest = language.partition("-")
    language = primary.lower() + ("-" + rest if rest else "")
    if len(language) > 35 or not _LANGUAGE.match(language):
        errors["preferred_language"] = ["Choose a language code, like en or es."]
    clean["preferred_language"] = language

    preference = clean_text(values.get("contact_preference"))
    if preference is None:
        preference = "phone" if phone else "email" if email else "do-not-contact"
    if preference not in CONTACT_PREFERENCES:
        errors["contact_preference"] = [f"Choose one of: {', '.join(CONTACT_PREFERENCES)}."]
    elif preference in ("sms", "phone") and phone is None:
        errors.setdefault("phone", []).append("Enter a phone number to contact the client by "
                                              f"{'text message' if preference == 'sms' else 'phone'}.")
    elif preference == "email" and email is None:
        errors.setdefault("email", []).append("Enter an email address to contact the client by email.")
    clean["contact_preference"] = preference

    zip_code = clean_text(values.get("zip_code"))
    if zip_code is not None and not _ZIP.match(zip_code):
        errors["zip_code"] = ["Enter a 5-digit ZIP code, like 94110."]
    clean["zip_code"] = zip_code

    address = clean_text(values.get("address"))
    if address is not None and len(address) > MAX_ADDRESS:
        errors["address"] = [f"Keep the address under {MAX_ADDRESS} characters."]
    clean["address"] = address

    if errors:
        raise ValidationFailed("The client's details need correcting.", errors)
    return clean


# --- consent -----------------------------------------------------------------------------------

def record_consent(actor: User, client: Client, receiving_organization_id: str, method: str,
                   note: Optional[str] = None, *, now: Optional[datetime] = None) -> Consent:
    """Record the client's consent to share their information with a directory organization.

    Raises NotPermitted (not a coordinator of the client's organization), ValidationFailed
    (unknown organization or method, note too long).
    """
    _require_coordinator(actor, "Only the client's coordinating organization can record their consent.",
                         organization_id=client.organization_id)
    errors: dict[str, list[str]] = {}
    org = db.session.get(Organization, receiving_organization_id) if receiving_organization_id else None
    if org is None:
        errors["receiving_organization_id"] = ["Choose an organization from the directory."]
    kinds: set[type[ValidationFailed]] = {UnknownReference} if errors else set()
    if method not in CONSENT_METHODS:
        errors["method"] = [f"Choose how consent was given: {', '.join(CONSENT_METHODS)}."]
    note = clean_text(note)
    if note is not None and len(note) > MAX_TEXT:
        errors["note"] = [f"Keep the note under {MAX_TEXT} characters."]
    if set(errors) - {"receiving_organization_id"}:
        kinds.add(ValidationFailed)
    if errors:
        raise refusal(kinds)("The consent was not recorded.", errors)
    consent = Consent(client_id=client.id, receiving_organization_id=org.id, method=method,
                      recorded_by_id=actor.id, recorded_at=now or utcnow(), note=note)
    db.session.add(consent)
    db.session.flush()
    audit(actor, "consent.record", "consent", consent.id, client_id=client.id,
          receiving_organization_id=org.id, method=method, now=now)
    return consent


@dataclass
class ConsentWithdrawal:
    """A withdrawn consent and the referrals its withdrawal cancelled."""

    consent: Consent
    cancelled: list[Referral]


def revoke_consent(actor: User, consent: Consent, *, now: Optional[datetime] = None) -> ConsentWithdrawal:
    """Record that the client withdrew this consent, and act on it.

    No new referral can rely on the consent. Once the client has no consent left to share with
    that organization (they may have given it twice), every referral of theirs to it that the
    agency has not accepted yet (status requested) is cancelled with the reason "consent
    withdrawn" (through states.py, so the agency is told as for any cancellation), and the agency
    stops seeing the client's details on the referrals it never accepted. Referrals it accepted
    go on: it keeps what it needs to finish serving the client, until the referral has been
    finished for WITHDRAWN_CONSENT_ACCESS_DAYS (referrals.access.client_details_shared).
    Revoking twice is harmless (and cancels nothing more). Raises NotPermitted (not a
    coordinator of the client's organization).
    """
    _require_coordinator(actor, "Only the client's coordinating organization can record a withdrawal of consent.",
                         organization_id=consent.client.organization_id)
    if consent.revoked_at is not None:
        return ConsentWithdrawal(consent, [])
    now = now or utcnow()
    consent.revoked_at = now
    db.session.flush()
    audit(actor, "consent.revoke", "consent", consent.id, client_id=consent.client_id, now=now)
    if has_consent(consent.client, consent.receiving_organization_id):
        return ConsentWithdrawal(consent, [])
    waiting = list(db.session.scalars(
        select(Referral).where(Referral.client_id == consent.client_id,
                               Referral.receiving_organization_id == consent.receiving_organization_id,
                               Referral.status == Status.REQUESTED.value)
        .order_by(Referral.id).with_for_update()))
    for referral in waiting:
        event = states.cancel_for_withdrawn_consent(referral, actor, now=now)
        audit(actor, "referral.transition", "referral", referral.id, from_status=Status.REQUESTED.value,
              to_status=event.to_status, reason=event.reason_code, outcome=None, consent_id=consent.id, now=now)
    return ConsentWithdrawal(consent, waiting)


def find_client_consent(client: Client, consent_id: int) -> Optional[Consent]:
    """One of the client's consents, or None for any other id."""
    return db.session.scalar(select(Consent).where(Consent.id == consent_id, Consent.client_id == client.id))


def current_consent(client: Client, receiving_organization_id: str) -> Optional[Consent]:
    """The client's latest unrevoked consent to share with this organization, if any."""
    return db.session.scalar(
        select(Consent).where(Consent.client_id == client.id,
                              Consent.receiving_organization_id == receiving_organization_id,
                              Consent.revoked_at.is_(None))
        .order_by(Consent.recorded_at.desc(), Consent.id.desc()).limit(1))


def has_consent(client: Client, receiving_organization_id: str) -> bool:
    """True if the client has an unrevoked consent to share with this organization."""
    return current_consent(client, receiving_organization_id) is not None


# --- sending -----------------------------------------------------------------------------------

@dataclass
class _Checked:
    """A referral that passed every check and can be written."""

    service: Service
    location_id: Optional[str]
    consent: Consent
    category: str
    priority: str
    note_to_partner: Optional[str]
    client_availability: Optional[str]
    route: DeliveryRoute
    agency_email: Optional[str]  # with the secure-link route


def response_business_days() -> int:
    """Business days a partner has to respond (setting REFERRAL_RESPONSE_BUSINESS_DAYS, default 2)."""
    if not has_app_context():
        return DEFAULT_RESPONSE_BUSINESS_DAYS
    return int(current_app.config.get("REFERRAL_RESPONSE_BUSINESS_DAYS", DEFAULT_RESPONSE_BUSINESS_DAYS))


def send_referral(actor: User, client: Client, service_id: str, *, location_id: Optional[str] = None,
                  category: str, priority: str = "routine", note_to_partner: Optional[str] = None,
                  client_availability: Optional[str] = None, previous_referral: Optional[Referral] = None,
                  agency_email: Optional[str] = None, track: bool = False,
                  now: Optional[datetime] = None) -> Referral:
    """Send a referral of `client` to a directory service; returns it, status requested.

    The service's organization receives it, by the route decided now (accounts.routes):
    a member agency in its inbox; an agency outside the network by a secure link emailed to
    `agency_email`, else to the directory's address for the service; otherwise, or with
    `track`, the coordinator tracks it (no electronic contact). Its response is due after
    `response_business_days()` business days (weekends skipped), whatever the route.
    Raises NotPermitted (not a coordinator, or not the client's organization),
    ValidationFailed (unknown, inactive or not-accepting service, unusable agency_email,
    location not of this service, unknown category or priority, text too long, no consent
    to share with the receiving organization),
    Conflict (the client already has an open referral to this service).
    """
    checked = _check_send(actor, client, service_id, location_id=location_id, category=category,
                          priority=priority, note_to_partner=note_to_partner,
                          client_availability=client_availability, previous_referral=previous_referral,
                          agency_email=agency_email, track=track)
    return _write_referral(actor, client, checked, previous_referral, now or utcnow())


def send_referrals(actor: User, client: Client, service_ids: Iterable[str], *,
                   agency_emails: Optional[Mapping[str, Optional[str]]] = None, tracked: Iterable[str] = (),
                   **common) -> list[Referral]:
    """Send one referral per service, all or nothing: if any is refused, none is written.

    `common` are send_referral's keyword arguments, the same for every referral (so a
    location_id makes sense only with one service); `agency_emails` and `tracked` are its
    agency_email and track per service id. Raises what send_referral raises;
    refusals of single services are gathered into one ValidationFailed whose `errors`
    map each refused service id to its messages.
    """
    agency_emails, tracked = dict(agency_emails or {}), set(tracked)
    ids = list(dict.fromkeys(sid for sid in service_ids if sid))
    if not ids:
        raise ValidationFailed("Choose at least one service.", {"service_ids": ["Choose at least one service."]})
    now = common.pop("now", None) or utcnow()
    previous = common.pop("previous_referral", None)
    checked, errors = [], {}
    for sid in ids:
        try:
            checked.append(_check_send(actor, client, sid, previous_referral=previous,
                                       agency_email=agency_emails.get(sid), track=sid in tracked, **common))
        except (ValidationFailed, Conflict) as exc:
            errors[sid] = [exc.message]
    if errors:
        raise ValidationFailed("Nothing was sent. " + " ".join(m for ms in errors.values() for m in ms), errors)
    return [_write_referral(actor, client, c, previous, now) for c in checked]


def send_referrals_with_consent(actor: User, client: Client, service_ids: list[str], *,
                                consent_organization_ids: Iterable[str] = (), consent_method: Optional[str] = None,
                                previous_referral: Optional[Referral] = None, **common) -> list[Referral]:
    """Record the consents the coordinator just took, then send one referral per service: the send page.

    `consent_organization_ids` are the receiving organizations the client agreed to share with
    now (the ticked boxes): consent is recorded (with `consent_method`) for those that a chosen
    service needs and that have none on file. With `previous_referral`, each referral refers the
    client elsewhere after it. `common` are send_referral's other keyword arguments.
    Raises ValidationFailed with `consent_org_ids` when a chosen service's organization has no
    consent on file and none was given now; otherwise what record_consent, send_referrals and
    refer_elsewhere raise. It writes consents before it knows the referrals can be sent: when it
    raises, the request must roll back (as every failed request does), so nothing stays.
    """
    chosen = list_services_in_order(service_ids)
    chosen_orgs = {s.organization_id: s.organization for s in chosen}
    consented = {org_id for org_id in chosen_orgs if has_consent(client, org_id)}
    ticked = set(consent_organization_ids or ())
    missing = [org.name for org_id, org in chosen_orgs.items() if org_id not in consented and org_id not in ticked]
    if missing:
        message = (f"Record the client's consent to share with {', '.join(missing)} (tick the box once they agreed), "
                   "or leave that service out.")
        raise ValidationFailed(message, {"consent_org_ids": [message]})
    for org_id in sorted(set(chosen_orgs) & ticked - consented):
        record_consent(actor, client, org_id, consent_method)
    if previous_referral is not None:
        emails, tracked = dict(common.pop("agency_emails", None) or {}), set(common.pop("tracked", ()))
        return [refer_elsewhere(actor, previous_referral, sid, agency_email=emails.get(sid), track=sid in tracked,
                                **common) for sid in service_ids]
    return send_referrals(actor, client, service_ids, **common)


def list_services_in_order(service_ids: list[str], limit: int = 20) -> list[Service]:
    """The directory services with these ids (the first `limit`), in the order given; unknown ids are skipped."""
    if not service_ids:
        return []
    rows = db.session.scalars(select(Service).where(Service.id.in_(service_ids[:limit]))
                              .options(selectinload(Service.organization))).all()
    order = {sid: i for i, sid in enumerate(service_ids)}
    return sorted(rows, key=lambda s: order[s.id])


def refer_elsewhere(actor: User, previous: Referral, service_id: str, *, location_id: Optional[str] = None,
                    category: Optional[str] = None, priority: Optional[str] = None,
                    note_to_partner: Optional[str] = None, client_availability: Optional[str] = None,
                    agency_email: Optional[str] = None, track: bool = False,
                    now: Optional[datetime] = None) -> Referral:
    """After a rejected, failed or cancelled referral, send the same client to another service.

    The new referral links back through `previous_referral_id`; category and priority
    default to the previous referral's. Raises NotPermitted (not a coordinator of the sending
    organization), InvalidTransition (the previous referral is still open, completed or in
    error), and whatever send_referral raises.
    """
    if Party.SENDING_COORDINATOR not in parties_of(actor, previous):
        raise NotPermitted("Only the sending organization's coordinators can refer a client elsewhere.")
    return send_referral(actor, previous.client, service_id, location_id=location_id,
                         category=category or previous.category, priority=priority or previous.priority,
                         note_to_partner=note_to_partner, client_availability=client_availability,
                         previous_referral=previous, agency_email=agency_email, track=track, now=now)


def _require_coordinator(actor: User, message: str, *, organization_id: Optional[int] = None) -> None:
    if (actor is None or actor.role != Role.COORDINATOR.value or not actor.active or not actor.organization.active
            or (organization_id is not None and actor.organization_id != organization_id)):
        raise NotPermitted(message)


def _check_send(actor: User, client: Client, service_id: str, *, category: str, location_id: Optional[str] = None,
                priority: str = "routine", note_to_partner: Optional[str] = None,
                client_availability: Optional[str] = None, previous_referral: Optional[Referral] = None,
                agency_email: Optional[str] = None, track: bool = False) -> _Checked:
    _require_coordinator(actor, "Only care coordinators can send referrals.")
    if client.organization_id != actor.organization_id:
        raise NotPermitted("You can send referrals only for your own organization's clients.")
    errors: dict[str, list[str]] = {}
    kinds: set[type[ValidationFailed]] = set()  # what kind of refusal each error is (errors.refusal)

    service = db.session.get(Service, service_id) if service_id else None
    org = service.organization if service is not None else None
    if service is None or org is None:
        errors["service_id"] = ["Choose a service from the directory."]
        kinds.add(UnknownReference)
    elif service.status != "active":
        errors["service_id"] = [f"{service.name} is {service.status} in the directory, so it cannot receive referrals."]
        kinds.add(NotReady)
    elif not service.accepting_referrals:
        errors["service_id"] = [f"{service.name} is not accepting referrals right now."]
        kinds.add(NotReady)
    route, address = _route_for(service, org, agency_email, track, errors) if org is not None else (None, None)
    if "agency_email" in errors:
        kinds.add(ValidationFailed)

    if location_id and service is not None and db.session.scalar(
            select(ServiceAtLocation.id).where(ServiceAtLocation.service_id == service.id,
                                               ServiceAtLocation.location_id == location_id).limit(1)) is None:
        errors["location_id"] = ["Choose one of the places where this service is offered."]
        kinds.add(UnknownReference)
    before = set(errors)
    if category not in sdoh_terms():
        errors["category"] = ["Choose the social need this referral addresses."]
    if priority not in PRIORITIES:
        errors["priority"] = [f"Choose a priority: {', '.join(PRIORITIES)}."]
    note_to_partner, client_availability = clean_text(note_to_partner), clean_text(client_availability)
    if note_to_partner is not None and len(note_to_partner) > MAX_TEXT:
        errors["note_to_partner"] = [f"Keep the note under {MAX_TEXT} characters."]
    if client_availability is not None and len(client_availability) > MAX_AVAILABILITY:
        errors["client_availability"] = [f"Keep this under {MAX_AVAILABILITY} characters."]
    if set(errors) != before:
        kinds.add(ValidationFailed)
    if previous_referral is not None:
        if previous_referral.client_id != client.id or \
                previous_referral.sending_organization_id != actor.organization_id:
            errors["previous_referral"] = ["The earlier referral is for another client."]
            kinds.add(NotReady)
        elif Status(previous_referral.status) not in REFER_ELSEWHERE_FROM:
            raise InvalidTransition("Only a rejected, failed or cancelled referral can be referred elsewhere; "
                                    f"this one is {Status(previous_referral.status).label}.")
    if errors:
        raise refusal(kinds)("The referral was not sent. " + " ".join(m for ms in errors.values() for m in ms),
                             errors)

    consent = current_consent(client, org.id)
    if consent is None:
        message = f"Record the client's consent to share with {org.name} first."
        raise NotReady(message, {"consent": [message]})
    already = db.session.scalar(
        select(Referral.id).where(Referral.client_id == client.id, Referral.service_id == service.id,
                                  Referral.status.in_([s.value for s in OPEN_STATUSES])).limit(1))
    if already is not None:
        raise Conflict(f"This client already has an open referral to {service.name}.", {"referral_id": already})
    return _Checked(service=service, location_id=location_id or None, consent=consent, category=category,
                    priority=priority, note_to_partner=note_to_partner, client_availability=client_availability,
                    route=route, agency_email=address)


def _route_for(service: Service, org: Organization, agency_email: Optional[str], track: bool,
               errors: dict[str, list[str]]) -> tuple[DeliveryRoute, Optional[str]]:
    """The route a referral to `service` takes now, and the address its secure link goes to."""
    if is_network_member(org.id):
        return DeliveryRoute.NETWORK, None
    if track:
        return DeliveryRoute.TRACKED, None
    entered = clean_text(agency_email)
    if entered is not None:
        address = usable_email(entered)
        if address is None:
            errors["agency_email"] = [f"Enter {org.name}'s email address like intake@agency.org, "
                                      "or choose to track the referral yourself."]
        return DeliveryRoute.LINK, address
    address = directory_email(service, org)
    return (DeliveryRoute.LINK, address) if address else (DeliveryRoute.TRACKED, None)


def _write_referral(actor: User, client: Client, checked: _Checked, previous: Optional[Referral],
                    now: datetime) -> Referral:
    referral = Referral(
        client_id=client.id, service_id=checked.service.id, location_id=checked.location_id,
        receiving_organization_id=checked.service.organization_id, sending_organization_id=actor.organization_id,
        sender_id=actor.id, consent_id=checked.consent.id, category=checked.category, priority=checked.priority,
        note_to_partner=checked.note_to_partner, client_availability=checked.client_availability,
        requested_at=now, response_due_at=add_business_days(now, response_business_days()),
        previous_referral_id=previous.id if previous is not None else None,
        delivery_route=checked.route.value, agency_email=checked.agency_email,
    )
    db.session.add(referral)
    states.mark_requested(referral, actor, now=now)
    db.session.flush()
    from referralnet.referrals.patient_links import ensure_link

    ensure_link(referral, now=now)  # the patient's status-page link exists from the start
    if checked.route == DeliveryRoute.LINK:
        # The outbox has queued the agency's email (on the requested event); its link is filled in at delivery.
        from referralnet.referrals.agency_links import issue_link

        issue_link(actor, referral, checked.agency_email, now=now)
    audit(actor, "referral.send", "referral", referral.id, client_id=client.id, service_id=checked.service.id,
          receiving_organization_id=referral.receiving_organization_id, category=checked.category,
          priority=checked.priority, previous_referral_id=referral.previous_referral_id,
          delivery_route=checked.route.value, now=now)
    return referral


# --- status changes -----------------------------------------------------------------------------

def change_status(referral: Referral, to: Status | str, actor: Actor, *, reason: Optional[str] = None,
                  reason_text: Optional[str] = None, outcome: Optional[str] = None, note: Optional[str] = None,
                  expected_version: Optional[int] = None, now: Optional[datetime] = None) -> ReferralEvent:
    """Move `referral` to status `to` on behalf of `actor` and audit it; returns the event recorded.

    The one status change the pages, the REST API and FHIR all call. Which details a move
    takes (`states.details_for`): a reason (from states.REASONS[to], "other" with
    reason_text) to reject, put on hold, fail or cancel; an outcome (states.OUTCOMES) to
    complete or fail; reason_text alone for entered-in-error; a note for any.
    `actor` may also be an agency acting through its secure link, or a coordinator recording the
    agency's move on its behalf (referrals.actors).
    Raises what states.transition raises: NotPermitted (wrong party), Conflict (stale
    expected_version or a concurrent change), InvalidTransition (not allowed from the current
    status), ValidationFailed (unknown status, reason or outcome missing, unknown or not
    taken by this move).
    """
    before = referral.status
    event = states.transition(referral, to, actor, reason=reason, reason_text=reason_text, outcome=outcome,
                              note=note, expected_version=expected_version, now=now)
    audit_as(actor, "referral.transition", "referral", referral.id, from_status=before, to_status=event.to_status,
             reason=event.reason_code, outcome=referral.outcome, now=event.at)
    return event


# --- viewing, closing, messages ----------------------------------------------------------------

@bookkeeping
def mark_viewed(actor: Actor, referral: Referral, *, now: Optional[datetime] = None) -> bool:
    """Record a view of the referral; call it on every view of a referral's page.

    Bookkeeping (`db.bookkeeping`): when the database is busy, the page still shows and the view
    is recorded after the response, with the time it happened (returns None then).

    Every call is audited (the page shows the client's details). The first view by the
    receiving agency also sets `first_viewed_at` and adds a "viewed" event (not a status);
    returns True then. Done as one conditional UPDATE, so that two partner staff opening it
    at once record one first view, and without bumping `version`: a view is not a change
    that should make someone else's open page stale.
    """
    now = now or utcnow()
    audit_as(actor, "referral.view", "referral", referral.id, now=now)
    if Party.RECEIVING_PARTNER not in parties_of(actor, referral, now) or referral.first_viewed_at is not None:
        return False
    result = db.session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.first_viewed_at.is_(None))
        .values(first_viewed_at=now, **timing.durations(referral.requested_at, {"first_viewed_at": now}),
                report_flags=report_flags_after({"first_viewed_at": now}))
        .execution_options(synchronize_session=False))
    db.session.expire(referral, ["first_viewed_at", "updated_at", "report_flags", *timing.ENDS["first_viewed_at"]])
    if result.rowcount != 1:
        return False
    record_event(referral, "viewed", actor=actor, actor_kind="partner", at=now, patient_visible=True)
    return True


def close_loop(actor: User, referral: Referral, verified_outcome: str, note: Optional[str] = None, *,
               now: Optional[datetime] = None) -> Closure:
    """The sending coordinator closes the loop on a finished referral with the outcome they verified.

    Possible once the referral is completed, failed, rejected or cancelled, and only once.
    Raises NotPermitted (not a coordinator of the sending organization), Conflict (already
    closed, or closed at the same moment by someone else), InvalidTransition (not finished),
    ValidationFailed (unknown outcome, note too long).
    """
    if Party.SENDING_COORDINATOR not in parties_of(actor, referral):
        raise NotPermitted("Only a coordinator of the sending organization can close the loop.")
    if referral.loop_closed_at is not None:
        raise Conflict(f"The loop on this referral was already closed on {referral.loop_closed_at:%b %-d, %Y}.",
                       {"loop_closed_at": referral.loop_closed_at.isoformat()})
    status = Status(referral.status)
    if status not in CLOSABLE_STATUSES:
        raise InvalidTransition("The loop can be closed once the referral is finished (completed, failed, "
                                f"rejected or cancelled); it is {status.label}.")
    errors: dict[str, list[str]] = {}
    if verified_outcome not in VERIFIED_OUTCOMES:
        errors["verified_outcome"] = [f"Choose the outcome you verified: {', '.join(VERIFIED_OUTCOMES)}."]
    note = clean_text(note)
    if note is not None and len(note) > MAX_TEXT:
        errors["note"] = [f"Keep the note under {MAX_TEXT} characters."]
    if errors:
        raise ValidationFailed("The loop was not closed. " + " ".join(m for ms in errors.values() for m in ms),
                               errors)
    now = now or utcnow()
    closure = Closure(referral=referral, verified_outcome=verified_outcome, note=note, closed_by_id=actor.id,
                      closed_at=now)
    referral.loop_closed_at = now  # bumps version: two coordinators closing at once cannot both win
    db.session.add(closure)
    record_event(referral, "closed", actor=actor, actor_kind="coordinator", at=now)  # flushes
    audit(actor, "referral.close", "referral", referral.id, verified_outcome=verified_outcome, now=now)
    return closure


def post_message(actor: Actor, referral: Referral, body: str, *, now: Optional[datetime] = None) -> ReferralMessage:
    """A message about the referral between its sending coordinators and the receiving agency.

    The agency may write through its secure link (referrals.actors.AgencyLinkActor). Not shown to
    the patient. Raises NotPermitted (not party to the referral), ValidationFailed (empty, or over
    4000 characters).
    """
    parties = parties_of(actor, referral)
    if not parties:
        raise NotPermitted("Only the sending coordinators and the receiving agency can write about this referral.")
    body = clean_text(body)
    if body is None:
        raise ValidationFailed("Write a message first.", {"body": ["Write a message first."]})
    if len(body) > MAX_TEXT:
        message = f"Keep the message under {MAX_TEXT} characters (it has {len(body)})."
        raise ValidationFailed(message, {"body": [message]})
    now = now or utcnow()
    user = acting_user(actor)
    message = ReferralMessage(referral=referral, author_id=user.id if user is not None else None,
                              agency_link_id=None if user is not None else actor.link.id, body=body, created_at=now)
    db.session.add(message)
    record_event(referral, "message", actor=actor, at=now,
                 actor_kind="coordinator" if Party.SENDING_COORDINATOR in parties else "partner")
    audit_as(actor, "referral.message", "referral", referral.id, message_id=message.id, now=now)
    return message


def record_report_for_client(actor: User, referral: Referral, code: str, note: Optional[str] = None, *,
                             now: Optional[datetime] = None) -> ReferralEvent:
    """The sending coordinator records what the client told them (the status page's reports), for them.

    For a referral outside the network, where the coordinator follows up by phone. The event
    is the client's report, marked as recorded by the coordinator on their behalf.
    Raises NotPermitted (not a sending coordinator), ValidationFailed (unknown report, note too long),
    InvalidTransition (entered in error).
    """
    if Party.SENDING_COORDINATOR not in parties_of(actor, referral):
        raise NotPermitted("Only a coordinator of the sending organization can record what the client said.")
    if code not in PATIENT_REPORTS:
        message = f"Choose what the client told you: {', '.join(PATIENT_REPORTS)}."
        raise ValidationFailed(message, {"report": [message]})
    note = clean_text(note)
    if note is not None and len(note) > MAX_TEXT:
        raise ValidationFailed(f"Keep the note under {MAX_TEXT} characters.",
                               {"note": [f"Keep the note under {MAX_TEXT} characters."]})
    if referral.status == Status.ENTERED_IN_ERROR.value:
        raise InvalidTransition("This referral was entered in error.")
    behalf = OnBehalf(actor, "patient")
    event = record_event(referral, "report", actor=behalf, actor_kind="patient", at=now or utcnow(),
                         report_code=code, note=note, patient_visible=True)
    audit_as(behalf, "referral.patient_report", "referral", referral.id, report=code, now=event.at)
    return event


# --- service levels ----------------------------------------------------------------------------

def is_overdue(referral: Referral, now: Optional[datetime] = None) -> bool:
    """True while a requested referral is past its response due time."""
    return referral.status == Status.REQUESTED.value and (now or utcnow()) > referral.response_due_at


def overdue_clause(now: Optional[datetime | ColumnElement[datetime]] = None) -> ColumnElement[bool]:
    """The SQL condition of is_overdue, to filter a query: `visible_referrals(u).where(overdue_clause())`.
    `now` may be a bound parameter (the worklists build their conditions once, the time given at run time)."""
    return and_(Referral.status == Status.REQUESTED.value,
                Referral.response_due_at < (utcnow() if now is None else now))
