"""The service view coordinators and patients see (directory/public.get_service_view): each place with
its own address, phones and languages, and a number of queries that does not grow with the places."""
from __future__ import annotations

from referralnet.directory import models as m
from referralnet.directory.public import get_service_view
from tests import factories as f
from tests.conftest import counted_queries


def _service_at(db, service_id: str, places: int):
    s = db.session
    org = f.directory_org(s, f"org-{service_id}", f"Agency {service_id}")
    service = f.service(s, service_id, org, f"Pantry {service_id}")
    for n in range(places):
        loc = f.place(s, f"{service_id}-loc{n}", org, f"Site {n}", postal_code=f"9440{n}")
        s.add(m.ServiceAtLocation(id=f"{service_id}-sal{n}", service=service, location=loc))
        s.flush()  # the phone and language rows name the location by id
        s.add(m.Phone(id=f"{service_id}-phone{n}", location_id=loc.id, number=f"(650) 555-010{n}"))
        s.add(m.Language(id=f"{service_id}-lang{n}", location_id=loc.id, name=["Spanish", "Tagalog", "Chinese", "Russian"][n]))
    term = m.TaxonomyTerm(id=f"term-{service_id}", name="Senior meals", description="Meals for older adults")
    s.add(term)
    s.flush()
    s.add(m.Attribute(id=f"attr-{service_id}", link_entity="service", link_id=service_id, taxonomy_term_id=term.id))
    s.flush()
    s.expunge_all()  # as a new request finds it: nothing loaded yet


def _statements(db, service_id: str, **options) -> tuple[int, object]:
    with counted_queries(db.engine) as statements:
        view = get_service_view(service_id, **options)
    return len(statements), view


def test_each_place_has_its_own_address_phones_and_languages(db):
    _service_at(db, "svc-four", 4)
    _, view = _statements(db, "svc-four")
    by_site = {p.location.name: p for p in view.places}
    assert sorted(by_site) == ["Site 0", "Site 1", "Site 2", "Site 3"]
    for n, name in enumerate(["Spanish", "Tagalog", "Chinese", "Russian"]):
        place = by_site[f"Site {n}"]
        assert place.address.postal_code == f"9440{n}"
        assert [p.number for p in place.phones] == [f"(650) 555-010{n}"]
        assert place.languages == [name]
    assert view.languages == ["Chinese", "Russian", "Spanish", "Tagalog"]
    assert [t.name for t in view.other_terms] == ["Senior meals"]


def test_the_queries_do_not_grow_with_the_places(db):
    _service_at(db, "svc-one", 1)
    _service_at(db, "svc-four", 4)
    one, _ = _statements(db, "svc-one")
    four, _ = _statements(db, "svc-four")
    assert four == one  # before: four more statements for every further place


def test_the_patients_contact_view_has_the_same_places_phones_and_documents_with_fewer_queries(db):
    _service_at(db, "svc-four", 4)
    db.session.add(m.RequiredDocument(id="doc-svc-four", service_id="svc-four", document="Photo ID"))
    db.session.add(m.Phone(id="phone-svc-four", service_id="svc-four", number="(650) 555-0199"))
    db.session.flush()
    db.session.expunge_all()
    full_count, full = _statements(db, "svc-four")
    db.session.expunge_all()
    contact_count, contact = _statements(db, "svc-four", contact_only=True)

    def places(view):
        return [(p.location.id, p.address.postal_code, [ph.number for ph in p.phones], p.hours.known, p.open_now)
                for p in view.places]

    assert places(contact) == places(full)
    assert (contact.service.id, contact.organization.id) == (full.service.id, full.organization.id)
    assert [p.number for p in contact.phones] == [p.number for p in full.phones] == ["(650) 555-0199"]
    assert [d.document for d in contact.documents] == [d.document for d in full.documents] == ["Photo ID"]
    # What the status page does not show is not loaded.
    assert full.languages and full.other_terms
    assert (contact.languages, contact.other_terms, contact.domains, contact.costs, contact.areas, contact.capacity,
            [p.languages for p in contact.places]) == ([], [], [], [], [], None, [[]] * 4)
    assert contact_count <= full_count - 5
