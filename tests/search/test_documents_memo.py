"""documents_for remembers, within one call, what depends only on a few values (a text field's
analysis and `body` words, a set of text fields' concept tags, a schedule pattern's hours, slot
blocks and card rows): the documents are exactly those built without remembering anything.

It reads the rows' needed columns (documents._rows), not whole ORM objects: the documents are
exactly those built from the whole objects, as it did before (the same rules read either)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from referralnet.directory import models as m
from referralnet.search import documents
from referralnet.search.documents import active_service_ids, documents_for
from referralnet.search.schema import ANALYZED, Memo


class _Forgetful(Memo):
    """A memo that never remembers: every value is computed for every document."""

    def remember(self, key, make):
        return make()

    def get(self, key, default=None):
        return default

    def __setitem__(self, key, value):
        pass


def _plain(doc: dict) -> tuple[dict, dict]:
    doc = dict(doc)
    analyzed = doc.pop(ANALYZED)
    return doc, {name: (a.tokens, a.spelling) for name, a in analyzed.items()}


def _all_service_ids(session) -> list[str]:
    return list(session.scalars(select(m.Service.id).order_by(m.Service.id)))


def _whole_objects(s, columns, *where, order_by=()):
    """documents._rows as it was: the whole ORM objects of the columns' table."""
    entity = columns[0].class_
    return s.scalars(select(entity).where(*where).order_by(*order_by)).all()


def _compare(session, monkeypatch) -> list[dict]:
    ids = _all_service_ids(session)
    remembered = [_plain(d) for d in documents_for(ids)]
    with monkeypatch.context() as mp:
        mp.setattr(documents, "Memo", _Forgetful)
        fresh = [_plain(d) for d in documents_for(ids)]
    assert remembered == fresh
    with monkeypatch.context() as mp:
        mp.setattr(documents, "_rows", _whole_objects)
        from_objects = [_plain(d) for d in documents_for(ids)]
    assert remembered == from_objects
    # Built in several calls sharing one memo (a rebuild's chunks): the same documents.
    memo = Memo()
    assert [_plain(d) for start in range(0, len(ids), 7) for d in documents_for(ids[start:start + 7], None, memo)] \
        == remembered
    return [doc for doc, _ in remembered]


def test_remembered_values_give_the_same_documents_on_the_demo_directory(demo, monkeypatch):
    docs = _compare(demo.session, monkeypatch)
    assert len(docs) > 50
    # Several documents share text, hours and concept tags (what is remembered is used).
    assert len({d["organization"] for d in docs}) < len(docs)
    assert len({tuple(d["slots"]) for d in docs}) < len(docs)


def test_remembered_values_give_the_same_documents_with_every_kind_of_field(demo, monkeypatch):
    """Hours with exceptions (closures, special hours), the same hours in two time zones, languages,
    ages, a confidential address and an inactive service."""
    s = demo.session
    services = s.scalars(select(m.Service).where(m.Service.status == "active").order_by(m.Service.id)).all()
    first, second, third = services[:3]
    # Exceptions: a holiday closure and special hours on two services that otherwise share hours.
    for svc in (first, second):
        s.add(m.Schedule(service_id=svc.id, freq="WEEKLY", byday="MO,TU,WE", opens_at="09:00", closes_at="17:00"))
    s.add(m.Schedule(service_id=first.id, valid_from=date(2026, 12, 25), valid_to=date(2026, 12, 25)))
    s.add(m.Schedule(service_id=second.id, valid_from=date(2026, 12, 24), valid_to=date(2026, 12, 24),
                     opens_at="09:00", closes_at="12:00"))
    # Ages and languages; an inactive service is left out.
    first.minimum_age, first.maximum_age = 18, 64
    s.add(m.Language(service_id=first.id, code="es", name="Spanish"))
    third.status = "inactive"
    # A confidential place.
    loc = s.scalars(select(m.Location).join(m.ServiceAtLocation, m.ServiceAtLocation.location_id == m.Location.id)
                    .where(m.ServiceAtLocation.service_id == second.id)).first()
    if loc is not None:
        loc.address_confidential = True
    # Two places in different time zones with the same hours (the zone comes from the ZIP code).
    fourth, fifth = services[3:5]
    for svc in (fourth, fifth):
        for sal in s.scalars(select(m.ServiceAtLocation).where(m.ServiceAtLocation.service_id == svc.id)):
            for row in s.scalars(select(m.Schedule).where(m.Schedule.service_at_location_id == sal.id)):
                s.delete(row)
        for row in s.scalars(select(m.Schedule).where(m.Schedule.service_id == svc.id)):
            s.delete(row)
        s.add(m.Schedule(service_id=svc.id, freq="WEEKLY", byday="TH", opens_at="10:00", closes_at="14:00"))
    east = s.scalars(select(m.Address).join(m.ServiceAtLocation,
                                            m.ServiceAtLocation.location_id == m.Address.location_id)
                     .where(m.ServiceAtLocation.service_id == fourth.id, m.Address.address_type == "physical")).first()
    east.postal_code = "10001"
    s.flush()

    docs = _compare(s, monkeypatch)
    by_service = {}
    for d in docs:
        by_service.setdefault(d["service_id"], []).append(d)
    assert third.id not in by_service
    assert all(d["has_exceptions"] for d in by_service[first.id] + by_service[second.id])
    assert any(d["min_age"] == 18 and d["max_age"] == 64 for d in by_service[first.id])
    assert any("es" in d["languages"].split(",") for d in by_service[first.id])
    assert any(d["card"]["confidential"] for d in docs)
    assert any(d["_open_slots"] for d in docs)
    zones = {d["tz"] for d in docs if d["service_id"] in (fourth.id, fifth.id)}
    assert "America/New_York" in zones and len(zones) == 2


@pytest.mark.parametrize("limit", [1, 3])
def test_a_full_memo_is_emptied_and_the_documents_stay_the_same(demo, monkeypatch, limit):
    ids = active_service_ids()
    expected = [_plain(d) for d in documents_for(ids)]
    monkeypatch.setattr(Memo, "LIMIT", limit)
    assert [_plain(d) for d in documents_for(ids)] == expected


def test_a_documents_phone_address_and_schedules_are_the_first_by_id_whatever_the_rows_order(db):
    """A service's rows are read in id order on every database and in every plan (a long IN-list may
    come in the table's order, a short one in its index's): its card shows the phone and address
    with the lowest id and lists its schedules by id, in a one-service update as in a rebuild's
    chunk, however the rows were inserted."""
    org = m.Organization(name="Order Org", description="x")
    db.session.add(org)
    db.session.flush()
    loc = m.Location(id="loc-order", name="Order site", organization_id=org.id, latitude=37.5, longitude=-122.2)
    svc = m.Service(id="svc-order", organization_id=org.id, name="Order Pantry", description="food", status="active")
    db.session.add_all([loc, svc])
    db.session.flush()
    db.session.add(m.ServiceAtLocation(id="sal-order", service_id=svc.id, location_id=loc.id))
    # Inserted last-id first: the table's order is not the ids' order.
    for suffix, number, street in (("c", "555-0103", "3 Third St"), ("b", "555-0102", "2 Second St"),
                                   ("a", "555-0101", "1 First St")):
        db.session.add(m.Phone(id=f"phone-{suffix}", service_id=svc.id, number=number))
        db.session.add(m.Address(id=f"addr-{suffix}", location_id=loc.id, address_1=street, city="San Mateo",
                                 state_province="CA", postal_code="94401", country="US", address_type="physical"))
        db.session.add(m.Schedule(id=f"sched-{suffix}", service_id=svc.id, freq="WEEKLY", byday="MO",
                                  opens_at=f"0{ord(suffix) - 90}:00", closes_at="17:00"))
    db.session.commit()
    alone = next(d for d in documents_for([svc.id]) if d["service_id"] == svc.id)
    among = next(d for d in documents_for(_all_service_ids(db.session)) if d["service_id"] == svc.id)
    for doc in (alone, among):
        assert doc["card"]["phone"] == "555-0101"
        assert doc["card"]["address"].startswith("1 First St")
        assert [s["opens_at"] for s in doc["card"]["schedules"]] == ["07:00", "08:00", "09:00"]
