"""Test data, built in one place: small functions that add rows to a session, written directly.

The `world` fixtures (tests/referrals/conftest.py, tests/portal/conftest.py) describe their
scenarios with these; tests add what they need with them too. Rows are added, not flushed,
unless a builder says so. These are set-up, not the services under test: a referral is
created *in* a status (see `referral`), users get a fixed password hash (hashing a real
password per user per test would make the 405-case transition table take minutes).
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Optional

from sqlalchemy.orm import Session

from referralnet.accounts.models import NetworkOrganization, User
from referralnet.db import utcnow
from referralnet.directory.models import Address, Location, Organization, Service
from referralnet.referrals.models import Client, Consent, Referral, Status

FIXED_PASSWORD_HASH = "not-a-real-hash"  # nobody signs in with it: check_password() is False

# Reason and outcome that make a move to each status valid, so that a refusal is about the move.
VALID_DETAILS = {
    Status.REJECTED: {"reason": "no-capacity"},
    Status.CANCELLED: {"reason": "client-request"},
    Status.ON_HOLD: {"reason": "waitlist"},
    Status.FAILED: {"reason": "could-not-contact", "outcome": "did-not-get-help"},
    Status.COMPLETED: {"outcome": "got-help"},
}


# --- directory ---------------------------------------------------------------------------------------

def directory_org(s: Session, org_id: str, name: str, description: Optional[str] = None) -> Organization:
    org = Organization(id=org_id, name=name, description=description or f"{name} (test)")
    s.add(org)
    return org


def service(s: Session, service_id: str, org: Organization, name: str, *, status: str = "active",
            **fields) -> Service:
    svc = Service(id=service_id, organization=org, name=name, status=status, **fields)
    s.add(svc)
    return svc


def place(s: Session, loc_id: str, org: Organization, name: str, *, postal_code: Optional[str] = None,
          city: str = "San Mateo", latitude: Optional[float] = None, longitude: Optional[float] = None) -> Location:
    """A location; with a `postal_code`, a physical one with its address at 1 Main St."""
    loc = Location(id=loc_id, organization=org, name=name, latitude=latitude, longitude=longitude,
                   location_type="physical" if postal_code else None)
    if postal_code:
        loc.addresses.append(Address(id=f"{loc_id}-address", address_1="1 Main St", city=city, state_province="CA",
                                     postal_code=postal_code, country="US", address_type="physical"))
    s.add(loc)
    return loc


# --- accounts ----------------------------------------------------------------------------------------

def network_org(s: Session, name: str, kind: str, directory: Optional[Organization] = None) -> NetworkOrganization:
    org = NetworkOrganization(name=name, kind=kind, directory_organization=directory, active=True)
    s.add(org)
    return org


def user(s: Session, role: str, org: NetworkOrganization, n: int) -> User:
    person = User(email=f"{role}{n}@example.org", name=f"{role.title()} {n}", role=role, organization=org,
                  password_hash=FIXED_PASSWORD_HASH, active=True)
    s.add(person)
    return person


# --- referrals ---------------------------------------------------------------------------------------

def client(s: Session, org: NetworkOrganization, created_by: User, n: int, **fields) -> Client:
    """A client of `org` (flushed), contactable by phone unless `fields` say otherwise."""
    values = dict(given_name=f"Given{n}", family_name=f"Family{n}", date_of_birth=date(1980, 1, n),
                  phone="(415) 555-0100", contact_preference="phone", preferred_language="en")
    values.update(fields)
    person = Client(organization=org, created_by=created_by, **values)
    s.add(person)
    s.flush()
    return person


def consent(s: Session, person: Client, org: Organization, recorded_by: User) -> Consent:
    """The client's verbal consent to share with `org` (flushed)."""
    row = Consent(client=person, receiving_organization=org, method="verbal", recorded_by_id=recorded_by.id,
                  recorded_at=utcnow())
    s.add(row)
    s.flush()
    return row


def referral(s: Session, status: Status | str, *, person: Client, to: Service, consent_row: Consent,
             sending_org: NetworkOrganization, sender: User) -> Referral:
    """A referral created directly *in* `status` (flushed): the row as it would look after the moves
    that lead there, with the reason and outcome those need (VALID_DETAILS)."""
    status = Status(status)
    now = utcnow()
    details = VALID_DETAILS.get(status, {})
    row = Referral(
        client=person, service=to, receiving_organization_id=to.organization_id, sending_organization=sending_org,
        sender=sender, consent=consent_row, category="food-insecurity", priority="routine", status=status.value,
        status_reason_code=details.get("reason"), outcome=details.get("outcome"),
        requested_at=now, response_due_at=now + timedelta(days=2),
        responded_at=None if status == Status.REQUESTED else now,
    )
    s.add(row)
    s.flush()
    return row
