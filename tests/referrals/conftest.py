"""Fixtures for the referral core: a small network and a factory for referrals in any status.

The network (`world`):

- directory organization "Eastside Food Bank" with services "Eastside Pantry" (at one location)
  and "Eastside Hot Meals", plus an inactive and a not-accepting service;
- partner agency "Eastside Food Bank (network)" linked to it, with partner staff `partner`;
- referring clinic "Mission Clinic" with coordinator `coordinator`;
- another partner agency, "Westside Housing", linked to its own directory organization and
  service, with `other_partner`;
- another clinic, "Bayview Clinic", with `other_coordinator`;
- the network operator with `admin`;
- a directory organization that no partner agency is linked to ("Unlisted Aid").

Rows are built with `tests.factories` and flushed, not committed (tests that need other
sessions commit themselves); users get its fixed password hash. Nobody logs in here: these are
service-level tests.
"""
from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from referralnet.accounts.models import NetworkOrganization, User
from referralnet.directory.models import Location, Organization, Service, ServiceAtLocation
from referralnet.referrals.models import Client, Consent, Referral, Status
from tests import factories as f
from tests.factories import VALID_DETAILS  # noqa: F401  (tests import it from here)

ACTORS = ("sending_coordinator", "receiving_partner", "other_partner", "other_coordinator", "admin")


@pytest.fixture()
def world(db):
    s = db.session
    counter = itertools.count(1)

    def directory_org(org_id: str, name: str) -> Organization:
        return f.directory_org(s, org_id, name)

    def service(service_id: str, org: Organization, name: str, **kw) -> Service:
        return f.service(s, service_id, org, name, **kw)

    def network_org(name: str, kind: str, directory: Organization | None = None) -> NetworkOrganization:
        return f.network_org(s, name, kind, directory)

    def user(role: str, org: NetworkOrganization) -> User:
        return f.user(s, role, org, next(counter))

    eastside = directory_org("org-eastside", "Eastside Food Bank")
    pantry = service("svc-pantry", eastside, "Eastside Pantry")
    meals = service("svc-meals", eastside, "Eastside Hot Meals")
    closed = service("svc-closed", eastside, "Eastside Winter Coats", status="inactive")
    full = service("svc-full", eastside, "Eastside Diapers", accepting_referrals=False)
    site = Location(id="loc-eastside", organization=eastside, name="Eastside Food Bank, Main St")
    s.add(site)
    s.add(ServiceAtLocation(id="sal-pantry", service=pantry, location=site))
    westside = directory_org("org-westside", "Westside Housing")
    housing = service("svc-housing", westside, "Westside Rapid Rehousing")
    unlisted = directory_org("org-unlisted", "Unlisted Aid")
    unlisted_service = service("svc-unlisted", unlisted, "Unlisted Aid Vouchers")

    partner_org = network_org("Eastside Food Bank (network)", "partner", eastside)
    clinic = network_org("Mission Clinic", "referrer")
    other_partner_org = network_org("Westside Housing (network)", "partner", westside)
    other_clinic = network_org("Bayview Clinic", "referrer")
    operator = network_org("Network Operator", "network")

    w = SimpleNamespace(
        eastside=eastside, pantry=pantry, meals=meals, closed=closed, full=full, site=site,
        westside=westside, housing=housing, unlisted=unlisted, unlisted_service=unlisted_service,
        partner_org=partner_org, clinic=clinic, other_partner_org=other_partner_org, other_clinic=other_clinic,
        operator=operator,
        coordinator=user("coordinator", clinic), partner=user("partner", partner_org),
        other_partner=user("partner", other_partner_org), other_coordinator=user("coordinator", other_clinic),
        admin=user("admin", operator),
    )
    s.flush()
    w.actors = {"sending_coordinator": w.coordinator, "receiving_partner": w.partner,
                "other_partner": w.other_partner, "other_coordinator": w.other_coordinator, "admin": w.admin}
    return w


@pytest.fixture()
def make_client(db, world):
    """A client row of `org` (default Mission Clinic), written directly (services are tested elsewhere)."""
    counter = itertools.count(1)

    def make(org: NetworkOrganization | None = None, **fields) -> Client:
        org = org or world.clinic
        creator = world.coordinator if org is world.clinic else world.other_coordinator
        return f.client(db.session, org, creator, next(counter), **fields)

    return make


@pytest.fixture()
def consent_for(db, world):
    def make(client: Client, org: Organization | None = None) -> Consent:
        return f.consent(db.session, client, org or world.eastside, world.coordinator)

    return make


@pytest.fixture()
def make_referral(db, world, make_client, consent_for):
    """A referral from Mission Clinic to Eastside Pantry, created directly *in* `status`.

    This is test set-up, not a status change: the row is written as it would look after
    the moves that lead to `status` (with the reason and outcome those need).
    """

    def make(status: Status | str = Status.REQUESTED, *, client: Client | None = None, service: Service | None = None,
             sending_org: NetworkOrganization | None = None, sender: User | None = None) -> Referral:
        service = service or world.pantry
        client = client or make_client(sending_org)
        return f.referral(db.session, status, person=client, to=service,
                          consent_row=consent_for(client, service.organization),
                          sending_org=sending_org or world.clinic, sender=sender or world.coordinator)

    return make


def signed_in(app, user):
    """A browser of its own (a test client) signed in as `user` through the login form; the user's
    password hash must be a real one (tests set a fast hash of tests.conftest.PASSWORD)."""
    from tests.conftest import PASSWORD, complete_second_factor, csrf_token_from

    browser = app.test_client()
    token = csrf_token_from(browser.get("/login").get_data(as_text=True))
    response = browser.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    response = complete_second_factor(browser, response, user.email)  # admins sign in with two factors
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser
