"""A small directory for the partner listing pages.

- directory organization "Harbor Food Bank" (`harbor`) with
  - "Harbor Pantry" (`pantry`): offered at the Main St site (`main`, ZIP 94401), service-wide
    hours Monday–Friday 09:00–17:00 in one HSDS row (byday MO,TU,WE,TH,FR) plus a dated
    holiday closure, no capacity;
  - "Harbor Shelter" (`shelter`): offered at Main St and at the Annex (`annex`, ZIP 10001, New
    York), 3 of 20 beds available, no hours of its own (the Annex has general hours of its own);
  - "Harbor Old Program" (`old`): inactive;
- partner agency "Harbor Food Bank (network)" (`agency`) linked to it;
- "Bayside Housing" (`bayside`) with "Bayside Rapid Rehousing" (`bay_service`) at its own site,
  and its partner agency "Bayside Housing (network)" (`bay_agency`);
- partner agency "Unlinked Aid (network)" (`unlinked_agency`), linked to no directory organization.

Everything is committed, so the search hooks index the active services.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest

from referralnet.accounts.models import NetworkOrganization
from referralnet.directory.models import (
    Address, Location, Organization, Schedule, Service, ServiceAtLocation, ServiceCapacity,
)

HARBOR_AGENCY = "Harbor Food Bank (network)"
BAYSIDE_AGENCY = "Bayside Housing (network)"
UNLINKED_AGENCY = "Unlinked Aid (network)"


def _place(loc_id: str, org: Organization, name: str, postal_code: str, city: str) -> Location:
    loc = Location(id=loc_id, organization=org, name=name, location_type="physical",
                   latitude=37.56, longitude=-122.32)
    loc.addresses.append(Address(id=f"{loc_id}-address", address_1="1 Main St", city=city, state_province="CA",
                                 postal_code=postal_code, country="US", address_type="physical"))
    return loc


@pytest.fixture()
def world(db):
    s = db.session
    harbor = Organization(id="org-harbor", name="Harbor Food Bank", description="Food and shelter.")
    bayside = Organization(id="org-bayside", name="Bayside Housing", description="Housing help.")
    main = _place("loc-main", harbor, "Harbor Main St", "94401", "San Mateo")
    annex = _place("loc-annex", harbor, "Harbor Annex", "10001", "New York")
    bay_site = _place("loc-bay", bayside, "Bayside Office", "94401", "San Mateo")
    pantry = Service(id="svc-pantry", organization=harbor, name="Harbor Pantry", status="active",
                     description="Groceries every weekday.")
    shelter = Service(id="svc-shelter", organization=harbor, name="Harbor Shelter", status="active",
                      description="Emergency beds for adults.")
    old = Service(id="svc-old", organization=harbor, name="Harbor Old Program", status="inactive",
                  description="No longer offered.")
    bay_service = Service(id="svc-bay", organization=bayside, name="Bayside Rapid Rehousing", status="active",
                          description="Rehousing for families.")
    s.add_all([harbor, bayside, main, annex, bay_site, pantry, shelter, old, bay_service])
    s.flush()  # schedules and capacities name their parents by id only: the parents go in first
    s.add_all([
        ServiceAtLocation(id="sal-pantry-main", service=pantry, location=main),
        ServiceAtLocation(id="sal-shelter-main", service=shelter, location=main),
        ServiceAtLocation(id="sal-shelter-annex", service=shelter, location=annex),
        ServiceAtLocation(id="sal-bay", service=bay_service, location=bay_site),
        Schedule(id="sch-pantry-week", service_id="svc-pantry", freq="WEEKLY", wkst="MO",
                 byday="MO,TU,WE,TH,FR", opens_at="09:00", closes_at="17:00"),
        Schedule(id="sch-pantry-holiday", service_id="svc-pantry", valid_from=date(2030, 12, 25),
                 valid_to=date(2030, 12, 25), description="Closed on Christmas Day"),
        Schedule(id="sch-annex", location_id="loc-annex", freq="WEEKLY", byday="SA", opens_at="10:00",
                 closes_at="14:00"),
        Schedule(id="sch-bay", service_id="svc-bay", freq="WEEKLY", byday="MO", opens_at="08:00",
                 closes_at="12:00"),
        ServiceCapacity(id="cap-shelter", service_id="svc-shelter", available=3, maximum=20, unit="beds",
                        description="Adults only", updated=datetime(2024, 1, 2, 3, 4, tzinfo=timezone.utc)),
        ServiceCapacity(id="cap-bay", service_id="svc-bay", available=1, maximum=4, unit="units",
                        updated=datetime(2024, 1, 2, 3, 4, tzinfo=timezone.utc)),
    ])
    agency = NetworkOrganization(name=HARBOR_AGENCY, kind="partner", directory_organization=harbor, active=True)
    bay_agency = NetworkOrganization(name=BAYSIDE_AGENCY, kind="partner", directory_organization=bayside,
                                     active=True)
    unlinked_agency = NetworkOrganization(name=UNLINKED_AGENCY, kind="partner", active=True)
    s.add_all([agency, bay_agency, unlinked_agency])
    s.commit()
    return SimpleNamespace(harbor=harbor, bayside=bayside, main=main, annex=annex, bay_site=bay_site,
                           pantry=pantry, shelter=shelter, old=old, bay_service=bay_service, agency=agency,
                           bay_agency=bay_agency, unlinked_agency=unlinked_agency)


@pytest.fixture()
def partner(world, login_as):
    """Partner staff of Harbor Food Bank, signed in."""
    return login_as("partner", org_name=HARBOR_AGENCY)
