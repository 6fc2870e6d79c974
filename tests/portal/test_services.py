"""The partner listing service functions, without HTTP: ownership, validation, flush-not-commit."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from referralnet.directory import models as m
from referralnet.portal import listings as own
from referralnet.errors import NotFound, ValidationFailed
from tests.portal.conftest import BAYSIDE_AGENCY, HARBOR_AGENCY, UNLINKED_AGENCY


@pytest.fixture()
def harbor_partner(world, make_user):
    return make_user("partner", org_name=HARBOR_AGENCY)


def test_a_partner_reaches_only_their_own_services(db, world, harbor_partner, make_user):
    assert own.get_own_service(harbor_partner, "svc-old").id == "svc-old"
    assert [listing.service.id for listing in own.list_own_listings(harbor_partner)] == [
        "svc-pantry", "svc-shelter", "svc-old"]
    outsiders = [make_user("partner", org_name=BAYSIDE_AGENCY), make_user("partner", org_name=UNLINKED_AGENCY),
                 make_user("coordinator"), make_user("admin"), make_user("partner", org_name=HARBOR_AGENCY,
                                                                         active=False)]
    for actor in outsiders:
        for call in (lambda: own.set_accepting(actor, "svc-pantry", False),
                     lambda: own.update_capacity(actor, "svc-pantry", available=1, maximum=2),
                     lambda: own.set_weekly_hours(actor, "svc-pantry", [], location_id=None),
                     lambda: own.get_hours_for_edit(actor, "svc-pantry")):
            with pytest.raises(NotFound):
                call()
    assert own.list_own_listings(outsiders[1]) == [] and own.own_directory_organization(outsiders[1]) is None
    with pytest.raises(NotFound):
        own.get_own_service(harbor_partner, None)
    with pytest.raises(NotFound):
        own.get_own_service(harbor_partner, "svc-bay")


def test_a_deactivated_agency_reaches_nothing(db, world, harbor_partner):
    world.agency.active = False
    db.session.flush()
    with pytest.raises(NotFound):
        own.get_own_service(harbor_partner, "svc-pantry")


def test_changes_flush_but_do_not_commit(db, world, harbor_partner):
    own.set_accepting(harbor_partner, "svc-pantry", False)
    own.update_capacity(harbor_partner, "svc-pantry", available="4", maximum=None, unit=" slots ")
    own.set_weekly_hours(harbor_partner, "svc-pantry", [{"day": "mo", "opens": "08:00:00", "closes": "09:30"}])
    flushed = db.session.scalar(select(m.ServiceCapacity).where(m.ServiceCapacity.service_id == "svc-pantry"))
    assert (flushed.available, flushed.unit) == (4, "slots")
    db.session.rollback()
    assert db.session.get(m.Service, "svc-pantry").accepting_referrals is True
    assert db.session.scalar(select(m.ServiceCapacity).where(m.ServiceCapacity.service_id == "svc-pantry")) is None
    assert db.session.get(m.Schedule, "sch-pantry-week") is not None


def test_weekly_rows_are_written_as_the_importers_write_them(db, world, harbor_partner):
    created = own.set_weekly_hours(harbor_partner, "svc-shelter", [
        {"day": "FR", "opens": "13:00", "closes": "17:00"}, {"day": "fr", "opens": "08:00", "closes": "12:00"},
        {"day": "", "opens": "", "closes": ""}], location_id="loc-annex")
    assert [(s.byday, s.opens_at, s.closes_at, s.freq, s.wkst, s.service_at_location_id, s.service_id)
            for s in created] == [("FR", "08:00", "12:00", "WEEKLY", "MO", "sal-shelter-annex", None),
                                  ("FR", "13:00", "17:00", "WEEKLY", "MO", "sal-shelter-annex", None)]
    listing = next(item for item in own.list_own_listings(harbor_partner) if item.service.id == "svc-shelter")
    annex = next(place for place in listing.places if place.location.id == "loc-annex")
    assert annex.source == "location" and annex.tz_name == "America/New_York"
    assert dict(annex.week)["Friday"] == "8:00 AM – 12:00 PM, 1:00 PM – 5:00 PM"
    assert dict(annex.week)["Saturday"] == "Closed"  # the location's general hours no longer apply here


def test_clean_weekly_rows():
    assert own.clean_weekly_rows([{"day": "SU", "opens": "22:00", "closes": "00:00"},
                                  {"day": "MO", "opens": "09:00", "closes": "12:00"},
                                  {"day": "MO", "opens": "12:00", "closes": "13:00"}]) == [
        ("MO", 540, 720), ("MO", 720, 780), ("SU", 1320, 1440)]
    assert own.clean_weekly_rows([]) == []
    with pytest.raises(ValidationFailed) as caught:
        own.clean_weekly_rows([{"day": "MO", "opens": "09:00", "closes": "09:00"},
                               {"day": "Funday", "opens": "24:00", "closes": None}])
    assert set(caught.value.errors) == {"rows-0-closes", "rows-1-day", "rows-1-opens", "rows-1-closes"}
    with pytest.raises(ValidationFailed) as caught:
        own.clean_weekly_rows([{"day": "MO", "opens": "09:00", "closes": "10:00"}] * (own.MAX_HOURS_ROWS + 1))
    assert list(caught.value.errors) == ["rows"]
