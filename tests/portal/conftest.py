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

Built with `tests.factories`; everything is committed, so the search hooks index the active services.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest

from referralnet.directory.models import Location, Organization, Schedule, ServiceAtLocation, ServiceCapacity
from tests import factories as f

HARBOR_AGENCY = "Harbor Food Bank (network)"
BAYSIDE_AGENCY = "Bayside Housing (network)"
UNLINKED_AGENCY = "Unlinked Aid (network)"


def _place(s, loc_id: str, org: Organization, name: str, postal_code: str, city: str) -> Location:
    return f.place(s, loc_id, org, name, postal_code=postal_code, city=city, latitude=37.56, longitude=-122.32)


@pytest.fixture()
def world(db):
    s = db.session
    harbor = f.directory_org(s, "org-harbor", "Harbor Food Bank", "Food and shelter.")
    bayside = f.directory_org(s, "org-bayside", "Bayside Housing", "Housing help.")
    main = _place(s, "loc-main", harbor, "Harbor Main St", "94401", "San Mateo")
    annex = _place(s, "loc-annex", harbor, "Harbor Annex", "10001", "New York")
    bay_site = _place(s, "loc-bay", bayside, "Bayside Office", "94401", "San Mateo")
    pantry = f.service(s, "svc-pantry", harbor, "Harbor Pantry", description="Groceries every weekday.")
    shelter = f.service(s, "svc-shelter", harbor, "Harbor Shelter", description="Emergency beds for adults.")
    old = f.service(s, "svc-old", harbor, "Harbor Old Program", status="inactive", description="No longer offered.")
    bay_service = f.service(s, "svc-bay", bayside, "Bayside Rapid Rehousing", description="Rehousing for families.")
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
    agency = f.network_org(s, HARBOR_AGENCY, "partner", harbor)
    bay_agency = f.network_org(s, BAYSIDE_AGENCY, "partner", bayside)
    unlinked_agency = f.network_org(s, UNLINKED_AGENCY, "partner")
    s.commit()
    return SimpleNamespace(harbor=harbor, bayside=bayside, main=main, annex=annex, bay_site=bay_site,
                           pantry=pantry, shelter=shelter, old=old, bay_service=bay_service, agency=agency,
                           bay_agency=bay_agency, unlinked_agency=unlinked_agency)


@pytest.fixture()
def partner(world, login_as):
    """Partner staff of Harbor Food Bank, signed in."""
    return login_as("partner", org_name=HARBOR_AGENCY)
