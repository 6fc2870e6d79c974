"""The HSDS 3.0 API under /hsds: every route and parameter, on the demo directory (San Mateo data and
the demo agencies) plus the official service_full.json example.

Every response is checked against the official schemas: page envelopes against openapi.json's
response schema for the path (its items are compiled/<entity>_list.json), documents against
<entity>.json.

The directory is loaded once for this module (it takes seconds) and the tests only read it; the
scenarios they need (a confidential place, known modification times) are set up with it.
"""
from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select, update

from referralnet.demo import load_demo_data
from referralnet.directory import models as m
from referralnet.directory.exporter import PARENT_PRIORITY
from referralnet.directory.hsds import BY_NAME
from referralnet.directory.importer import import_path
from referralnet.directory.sdoh import sdoh_terms
from referralnet.extensions import db as _db
from referralnet.geo import distance_miles, locate
from referralnet.search.service import SearchQuery, search
from tests.conftest import SHARED, counted_queries
from tests.hsds_schema import _registry, schema_errors

OLD = datetime(2020, 1, 1, tzinfo=timezone.utc)
TOUCHED = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)  # updated_at of one service
ASSURED = datetime(2024, 7, 1, tzinfo=timezone.utc)  # HSDS last_modified of another
MOVED = datetime(2024, 6, 15, tzinfo=timezone.utc)  # updated_at of one location
EXAMPLE_SERVICE_ID = "ac148810-d857-441c-9679-408f346de14b"  # hsds/examples/service_full.json
CONFIDENTIAL_PLACE = "Fair Oaks Branch"  # a real San Mateo location, made confidential here
CLOSED_STATUSES = ("inactive", "defunct", "temporarily closed")
METERS_PER_MILE = 1609.344


# --- the data -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def directory(app):
    """Demo directory + the official full example; one confidential place; known modification times."""
    with app.app_context():
        assert load_demo_data(echo=lambda *_: None)
        import_path(SHARED / "hsds/examples/service_full.json")
        _db.session.commit()  # the commit indexes search
        s = _db.session
        place = s.scalar(select(m.Location).where(m.Location.name == CONFIDENTIAL_PLACE))
        assert place.latitude is not None and place.addresses
        place.address_confidential = True
        # The demo directory holds no defunct service and none tagged with an Open Eligibility term (those
        # were the Ohana sample's placeholder records, dropped from it): one of each, made here.
        kept = ("CalFresh Application Help", "Emergency Rental Assistance")
        active = list(s.scalars(select(m.Service).where(m.Service.status == "active", m.Service.name.not_in(kept))
                                .order_by(m.Service.id).limit(2)))
        active[0].status = "defunct"
        open_eligibility = s.scalar(select(m.Taxonomy).where(m.Taxonomy.name == "Open Eligibility")) or \
            m.Taxonomy(name="Open Eligibility", description="Open Eligibility human services taxonomy")
        term = m.TaxonomyTerm(code="1102", name="Food Pantry", description="Food pantries", taxonomy=None,
                              taxonomy_id=None)
        s.add_all([open_eligibility, term])
        s.flush()
        term.taxonomy_id = open_eligibility.id
        s.add(m.Attribute(link_id=active[1].id, link_entity="service", link_type="service",
                          taxonomy_term_id=term.id))
        s.commit()
        # updated_at is set in every statement: otherwise its onupdate default would make it "now".
        s.execute(update(m.Service).values(updated_at=OLD, last_modified=None))
        for model in (m.ServiceAtLocation, m.Location):
            s.execute(update(model).values(updated_at=OLD))
        touched = s.scalar(select(m.Service.id).where(m.Service.name == "CalFresh Application Help"))
        assured = s.scalar(select(m.Service.id).where(m.Service.name == "Emergency Rental Assistance"))
        moved = s.scalar(select(m.Location.id).where(m.Location.name == "Main Library"))
        s.execute(update(m.Service).where(m.Service.id == touched).values(updated_at=TOUCHED))
        s.execute(update(m.Service).where(m.Service.id == assured).values(updated_at=OLD, last_modified=ASSURED))
        s.execute(update(m.Location).where(m.Location.id == moved).values(updated_at=MOVED))
        s.commit()
        info = {
            "confidential": {"id": place.id, "street": place.addresses[0].address_1,
                             "latitude": place.latitude, "longitude": place.longitude,
                             "transportation": place.transportation, "organization_id": place.organization_id},
            "touched": touched, "assured": assured, "moved": moved,
        }
        s.remove()
    yield info
    with app.app_context():
        from referralnet.search.backend import current_backend

        for table in reversed(_db.metadata.sorted_tables):
            _db.session.execute(table.delete())
        _db.session.commit()
        _db.session.remove()
        current_backend().clear()
        _db.session.remove()


@pytest.fixture()
def api(app, directory):
    """An anonymous client: nothing under /hsds needs a login."""
    return app.test_client()


@pytest.fixture()
def s(app, directory):
    """A database session for checking answers against the database."""
    with app.app_context():
        yield _db.session
        _db.session.remove()


# --- fetching and validating ----------------------------------------------------------------------

ENTITY = {"services": "service", "service_at_locations": "service_at_location", "organizations": "organization",
          "taxonomies": "taxonomy", "taxonomy_terms": "taxonomy_term"}
LIST_ITEM_SCHEMA = {"services": "compiled/service_list.json",
                    "service_at_locations": "compiled/service_at_location_list.json",
                    "organizations": "compiled/organization_list.json",
                    "taxonomies": "taxonomy.json", "taxonomy_terms": "taxonomy_term.json"}


def _openapi_errors(document, path: str) -> list[str]:
    """Errors against the 200 response schema openapi.json gives for GET `path`."""
    pointer = ("/paths/" + path.replace("~", "~0").replace("/", "~1")
               + "/get/responses/200/content/application~1json/schema")
    validator = Draft202012Validator({"$ref": f"openapi.local-refs.json#{pointer}"}, registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def _document_errors(document: dict, entity: str) -> list[str]:
    """A full document against <entity>.json, and what it nests that its schema does not describe."""
    errors = schema_errors(document, f"{entity}.json")
    if entity == "service_at_location" and "service" in document:
        errors += schema_errors(document["service"], "service.json")
    if entity == "organization":
        for service in document.get("services", []):
            errors += schema_errors(service, "service.json")
    return errors


def _item_errors(item: dict, collection: str, full: bool) -> list[str]:
    errors = schema_errors(item, LIST_ITEM_SCHEMA[collection])
    if full:
        errors += _document_errors(item, ENTITY[collection])
    return errors


def _collection(url: str) -> tuple[str | None, bool]:
    """('services', False) for /hsds/services, ('services', True) for /hsds/services/<id>."""
    parts = [p for p in urlsplit(url).path.split("/") if p][1:]
    return (parts[0] if parts else None), len(parts) > 1


def _full(url: str) -> bool:
    return bool(re.search(r"[?&](full|full_service)=true", url))


def hsds(api, url: str) -> dict:
    """GET a /hsds URL; assert 200 JSON and that the body validates against the official schemas."""
    response = api.get(url)
    assert response.status_code == 200, (url, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert not [node for node in walk(body) if None in node.values()]  # HSDS types are not nullable
    collection, single = _collection(url)
    if collection is None:
        errors = _openapi_errors(body, "/")
    elif single:
        errors = _document_errors(body, ENTITY[collection])
    else:
        errors = _openapi_errors(body, f"/{collection}")
        for item in body["contents"]:
            errors += _item_errors(item, collection, _full(url))
    assert not errors, (url, errors[:5])
    return body


def hsds_lines(api, url: str) -> list[dict]:
    """GET a list as ndjson; every line is one valid list item."""
    response = api.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/x-ndjson"
    collection, _ = _collection(url)
    items = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    for item in items:
        assert not [node for node in walk(item) if None in node.values()]
        errors = _item_errors(item, collection, _full(url))
        assert not errors, (url, errors[:5])
    return items


def hsds_error(api, url: str, status: int) -> dict:
    """GET a /hsds URL that must fail with the one error contract."""
    response = api.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and body["status"] == status
    return body


def every_page(api, url: str, per_page: int = 100) -> list[dict]:
    joiner = "&" if "?" in url else "?"
    first = hsds(api, f"{url}{joiner}per_page={per_page}")
    items = list(first["contents"])
    for page in range(2, first["total_pages"] + 1):
        items += hsds(api, f"{url}{joiner}per_page={per_page}&page={page}")["contents"]
    assert len(items) == first["total_items"]
    return items


def ids(items) -> list[str]:
    return [item["id"] for item in items]


def walk(node):
    """Every object inside a JSON document, the document included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def active_service_ids(s) -> set[str]:
    return set(s.scalars(select(m.Service.id).where(m.Service.status == "active")))


def service_named(s, name: str) -> m.Service:
    return s.scalar(select(m.Service).where(m.Service.name == name))


def search_service_ids(**kwargs) -> list[str]:
    """Service ids, best first, straight from the search service (what /hsds must agree with)."""
    out: list[str] = []
    page = 1
    while True:
        results = search(SearchQuery(per_page=100, page=page, **kwargs))
        out += [h.service_id for h in results.hits]
        if page >= results.pages:
            return list(dict.fromkeys(out))
        page += 1


# --- the base endpoint and access -----------------------------------------------------------------

def test_base_endpoint_says_what_the_api_is(api):
    body = hsds(api, "/hsds/")
    assert body["version"] == "3.0"
    assert body["openapi_url"] == "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/openapi.json"
    assert body["profile"].startswith("https://")


def test_no_endpoint_needs_a_login(app, api, s):
    """Every route of the blueprint answers an anonymous client with JSON (no redirect to /login)."""
    sample = {
        "service_id": service_named(s, "CalFresh Application Help").id,
        "sal_id": s.scalar(select(m.ServiceAtLocation.id).join(m.Service).where(m.Service.status == "active")),
        "org_id": s.scalar(select(m.Organization.id)),
        "taxonomy_id": s.scalar(select(m.Taxonomy.id)),
        "term_id": s.scalar(select(m.TaxonomyTerm.id)),
    }
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("hsds.")]
    assert len(rules) == 11
    for rule in rules:
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<{name}>", sample[name])
        hsds(api, url)


def test_unknown_path_is_a_json_404(api):
    assert hsds_error(api, "/hsds/nothing-here", 404)["code"] == "not_found"


# --- /services ------------------------------------------------------------------------------------

def test_services_lists_active_services_by_name_with_the_page_envelope(api, s):
    active = active_service_ids(s)
    first = hsds(api, "/hsds/services?per_page=10")
    assert first["total_items"] == len(active)
    assert first["total_pages"] == math.ceil(len(active) / 10)
    assert (first["page_number"], first["size"], first["first_page"], first["last_page"], first["empty"]) == \
        (1, 10, True, False, False)
    last = hsds(api, f"/hsds/services?per_page=10&page={first['total_pages']}")
    assert last["last_page"] is True and last["first_page"] is False
    assert last["size"] == len(active) - 10 * (first["total_pages"] - 1) == len(last["contents"])
    beyond = hsds(api, f"/hsds/services?per_page=10&page={first['total_pages'] + 1}")
    assert beyond["contents"] == [] and beyond["empty"] is True and beyond["size"] == 0
    assert beyond["total_items"] == len(active) and beyond["last_page"] is True

    items = every_page(api, "/hsds/services", per_page=10)
    assert len(ids(items)) == len(set(ids(items)))  # no service twice across pages
    assert set(ids(items)) == active
    names = [i["name"].lower() for i in items]
    assert names == sorted(names)
    assert hsds(api, "/hsds/services")["size"] == 20  # the default page size


def test_service_list_items_carry_one_to_one_fields_only(api):
    item = next(i for i in every_page(api, "/hsds/services") if i["id"] == EXAMPLE_SERVICE_ID)
    assert item["organization"]["name"] == "Example Organization Inc."
    assert item["program"]["name"]
    assert not any(isinstance(v, list) for v in item.values())
    assert "locations" not in item["organization"]
    for value in walk(item):
        assert None not in value.values()  # HSDS types are not nullable: empty fields are left out


def test_empty_result_envelope(api):
    body = hsds(api, "/hsds/services?taxonomy_term_id=no-such-term")
    assert body == {"total_items": 0, "total_pages": 0, "page_number": 1, "size": 0, "first_page": True,
                    "last_page": True, "empty": True, "contents": []}


def test_closed_services_are_not_published(api, s):
    closed = list(s.scalars(select(m.Service).where(m.Service.status.in_(CLOSED_STATUSES))))
    assert {c.status for c in closed} == set(CLOSED_STATUSES)
    closed_ids = {c.id for c in closed}
    assert not closed_ids & set(ids(every_page(api, "/hsds/services")))
    listed_sals = every_page(api, "/hsds/service_at_locations")
    assert not closed_ids & {sal["service_id"] for sal in listed_sals}
    for service in closed:
        assert hsds_error(api, f"/hsds/services/{service.id}", 404)["code"] == "not_found"
        for sal in service.service_at_locations:
            hsds_error(api, f"/hsds/service_at_locations/{sal.id}", 404)
        if service.organization_id:
            org = hsds(api, f"/hsds/organizations/{service.organization_id}")
            assert service.id not in ids(org.get("services", []))
            org = hsds(api, f"/hsds/organizations/{service.organization_id}?full_service=true")
            assert service.id not in ids(org.get("services", []))
    # Nor found by search, as in the coordinator's search.
    for service in closed:
        assert service.id not in ids(every_page(api, "/hsds/services?search=" + quote(service.name)))


def test_search_goes_through_the_search_service_synonyms(api):
    body = hsds(api, "/hsds/services?search=" + quote("food stamps"))
    assert "CalFresh Application Help" in [i["name"] for i in body["contents"]]


def test_a_text_search_says_why_each_entry_matched(api):
    for url in ("/hsds/services?search=" + quote("food stamps"), "/hsds/service_at_locations?search=eviction",
                "/hsds/organizations?search=shelter"):
        body = hsds(api, url)  # still valid HSDS: objects allow extra properties
        assert body["contents"] and all(item["match_reasons"] for item in body["contents"])
    body = hsds(api, "/hsds/services?search=" + quote("food stamps"))
    assert any("food stamps" in reason for item in body["contents"] for reason in item["match_reasons"])
    assert "match_reasons" not in hsds(api, "/hsds/services")["contents"][0]  # no text, no reasons


@pytest.mark.parametrize("text", ["shelter", "food", "legal help", "fod pantry"])
def test_search_ranks_as_the_search_service_does_one_entry_per_service(api, s, text):
    items = every_page(api, "/hsds/services?search=" + quote(text), per_page=7)
    assert ids(items) == search_service_ids(text=text)
    assert len(ids(items)) == len(set(ids(items)))


def test_a_service_at_several_places_is_listed_once(api, s):
    service = service_named(s, "Emergency Rental Assistance")
    assert len(service.service_at_locations) == 2
    found = ids(every_page(api, "/hsds/services?search=" + quote("rental assistance")))
    assert found.count(service.id) == 1


def test_taxonomy_term_filter_with_an_sdoh_domain(api, s):
    food = sdoh_terms()["food-insecurity"]["id"]
    items = every_page(api, f"/hsds/services?taxonomy_term_id={food}")
    assert len(items) >= 3
    tagged = set(s.scalars(select(m.Attribute.link_id).where(m.Attribute.link_entity == "service",
                                                             m.Attribute.taxonomy_term_id == food)))
    assert set(ids(items)) == tagged & active_service_ids(s)
    assert ids(items) == search_service_ids(term_ids=[food])
    # With text as well: both must hold.
    both = ids(every_page(api, f"/hsds/services?taxonomy_term_id={food}&search=pantry"))
    assert both and set(both) <= set(ids(items))
    assert service_named(s, "Weekly Grocery Pantry").id in both


def test_taxonomy_id_filter(api, s):
    sdoh = s.scalar(select(m.Taxonomy.id).where(m.Taxonomy.name == "Gravity SDOH Domains"))
    open_eligibility = s.scalar(select(m.Taxonomy.id).where(m.Taxonomy.name == "Open Eligibility"))
    by_sdoh = set(ids(every_page(api, f"/hsds/services?taxonomy_id={sdoh}")))
    sdoh_terms_ids = set(s.scalars(select(m.TaxonomyTerm.id).where(m.TaxonomyTerm.taxonomy_id == sdoh)))
    tagged = set(s.scalars(select(m.Attribute.link_id).where(m.Attribute.taxonomy_term_id.in_(sdoh_terms_ids))))
    assert by_sdoh == tagged & active_service_ids(s)
    by_oe = set(ids(every_page(api, f"/hsds/services?taxonomy_id={open_eligibility}")))
    assert by_oe and by_oe != by_sdoh
    food = sdoh_terms()["food-insecurity"]["id"]
    # A term of another taxonomy: nothing can match both.
    assert hsds(api, f"/hsds/services?taxonomy_id={open_eligibility}&taxonomy_term_id={food}")["total_items"] == 0
    assert hsds(api, f"/hsds/services?taxonomy_id={sdoh}&taxonomy_term_id={food}")["total_items"] >= 3
    assert hsds(api, "/hsds/services?taxonomy_id=no-such-taxonomy")["total_items"] == 0


def test_organization_filter(api, s):
    service = service_named(s, "CalFresh Application Help")
    org_id = service.organization_id
    expected = set(s.scalars(select(m.Service.id).where(m.Service.organization_id == org_id,
                                                        m.Service.status == "active")))
    items = every_page(api, f"/hsds/services?organization_id={org_id}")
    assert set(ids(items)) == expected and {i["organization_id"] for i in items} == {org_id}
    # Through the search service too.
    searched = ids(every_page(api, f"/hsds/services?organization_id={org_id}&search=calfresh"))
    assert searched == [service.id]
    assert hsds(api, "/hsds/services?organization_id=no-such-org")["total_items"] == 0


def test_modified_after(api, directory):
    body = hsds(api, "/hsds/services?modified_after=2024-01-01")
    assert set(ids(body["contents"])) == {directory["touched"], directory["assured"]}
    # On or after, in UTC; a zone offset is honoured.
    assert ids(hsds(api, "/hsds/services?modified_after=2024-06-01T12:00:00Z")["contents"]).count(
        directory["touched"]) == 1
    assert directory["touched"] not in ids(hsds(api, "/hsds/services?modified_after=2024-06-01T12:00:01Z")["contents"])
    assert directory["touched"] in ids(hsds(api, "/hsds/services?modified_after="
                                            + quote("2024-06-01T13:00:00+01:00"))["contents"])
    assert ids(hsds(api, "/hsds/services?modified_after=2024-06-02")["contents"]) == [directory["assured"]]
    assert hsds(api, "/hsds/services?modified_after=2024-07-02")["total_items"] == 0
    # last_modified shows the later of the HSDS value and the row's own change.
    shown = {i["id"]: i["last_modified"] for i in body["contents"]}
    assert shown[directory["touched"]] == "2024-06-01T12:00:00Z"
    assert shown[directory["assured"]] == "2024-07-01T00:00:00Z"
    # Combined with a search.
    found = hsds(api, "/hsds/services?search=" + quote("food stamps") + "&modified_after=2024-01-01")
    assert ids(found["contents"]) == [directory["touched"]]


def test_minimal_services(api, s):
    body = hsds(api, "/hsds/services?minimal=true&per_page=100")
    assert body["total_items"] == len(active_service_ids(s))
    for item in body["contents"]:
        assert set(item) == {"id", "name", "status", "last_modified"}
    lines = hsds_lines(api, "/hsds/services?minimal=true&format=ndjson")
    assert set(ids(lines)) == active_service_ids(s)


def test_full_services_in_the_list(api):
    body = hsds(api, "/hsds/services?full=true&search=calfresh")
    calfresh = next(i for i in body["contents"] if i["name"] == "CalFresh Application Help")
    assert calfresh["service_at_locations"] and calfresh["attributes"] and calfresh["organization"]["name"]
    plain = hsds(api, "/hsds/services?full=false&search=calfresh")
    assert "service_at_locations" not in plain["contents"][0]


def test_services_as_ndjson_stream_everything(api, s):
    lines = hsds_lines(api, "/hsds/services?format=ndjson&per_page=5&page=2")  # paging does not apply
    assert set(ids(lines)) == active_service_ids(s) and len(lines) == len(set(ids(lines)))
    full = hsds_lines(api, "/hsds/services?format=ndjson&full=true&search=shelter")
    assert ids(full) == search_service_ids(text="shelter")


def test_list_pages_load_children_in_batches(app, api):
    """Children are loaded per kind and level for the whole page: a full page of 100 services (each with
    places, phones, hours...) takes about as many queries as a page of 3, and never one per row."""
    with app.app_context():
        engine = _db.engine
    for url in ("/hsds/services?full=true", "/hsds/service_at_locations?full=true",
                "/hsds/organizations?full_service=true", "/hsds/services", "/hsds/service_at_locations",
                "/hsds/organizations", "/hsds/taxonomy_terms"):
        counts = []
        for per_page in (3, 100):
            with counted_queries(engine) as statements:
                body = hsds(api, f"{url}&per_page={per_page}" if "?" in url else f"{url}?per_page={per_page}")
            counts.append(len(statements))
        assert body["size"] >= 20  # the big page really is big
        assert counts[1] <= 60 and counts[1] - counts[0] <= 35, (url, counts)


# --- /services/{id} -------------------------------------------------------------------------------

# What each document nests: list key -> table, and nested objects (from the official full examples).
NESTED_LISTS = {
    "service": {"phones": "phone", "schedules": "schedule", "service_areas": "service_area",
                "service_at_locations": "service_at_location", "languages": "language", "funding": "funding",
                "cost_options": "cost_option", "required_documents": "required_document", "contacts": "contact",
                "capacities": "service_capacity"},
    "service_at_location": {"contacts": "contact", "phones": "phone", "schedules": "schedule"},
    "location": {"languages": "language", "addresses": "address", "contacts": "contact",
                 "accessibility": "accessibility", "phones": "phone", "schedules": "schedule"},
    "organization": {"funding": "funding", "contacts": "contact", "phones": "phone", "locations": "location",
                     "programs": "program", "organization_identifiers": "organization_identifier"},
    "contact": {"phones": "phone"},
    "phone": {"languages": "language"},
}
NESTED_OBJECTS = {"service": {"organization": "organization", "program": "program"},
                  "service_at_location": {"location": "location", "service": "service"}}


def home_children(s, child: str, parent: str, parent_id: str) -> set[str]:
    """Ids of `child` rows whose most specific parent (exporter.PARENT_PRIORITY) is this `parent` row."""
    model = BY_NAME[child].model
    column = next(c for c, table in PARENT_PRIORITY[child] if table == parent)
    rows = s.scalars(select(model).where(getattr(model, column) == parent_id))
    return {r.id for r in rows if next(c for c, _ in PARENT_PRIORITY[child] if getattr(r, c) is not None) == column}


def assert_nested_like_the_database(s, doc: dict, table: str, seen: set[str], skip: tuple[str, ...] = ()) -> None:
    """Every child row is in the document under its most specific parent, and nothing else is."""
    for key, child in NESTED_LISTS.get(table, {}).items():
        if key in skip:
            assert key not in doc
            continue
        expected = home_children(s, child, table, doc["id"])
        if table == "location" and key == "addresses" and s.get(m.Location, doc["id"]).address_confidential:
            expected = set()
        assert set(ids(doc.get(key, []))) == expected, (table, doc["id"], key)
        for item in doc.get(key, []):
            seen.add(key)
            assert_nested_like_the_database(s, item, child, seen)
    for key, target in NESTED_OBJECTS.get(table, {}).items():
        if key in doc:
            seen.add(key)
            # A service_at_location's service does not list the service's places again.
            assert_nested_like_the_database(s, doc[key], target, seen,
                                            ("service_at_locations",) if key == "service" else ())


def test_full_service_document_nests_everything(api, s):
    doc = hsds(api, f"/hsds/services/{EXAMPLE_SERVICE_ID}")
    seen: set[str] = set()
    assert_nested_like_the_database(s, doc, "service", seen)
    # The official example exercises nearly every kind of child.
    assert seen >= {"service_areas", "service_at_locations", "languages", "cost_options", "required_documents",
                    "contacts", "phones", "schedules", "addresses", "accessibility", "organization", "program",
                    "locations", "programs", "organization_identifiers", "funding"}, seen
    assert doc["organization"]["name"] == "Example Organization Inc." and doc["program"]["name"]
    assert doc["metadata"][0]["field_name"] == "name"
    assert doc["service_at_locations"][0]["location"]["addresses"][0]["address_1"]
    assert "services" not in doc["organization"]


def test_full_service_document_attributes_carry_their_taxonomy_term(api, s):
    service = service_named(s, "CalFresh Application Help")
    doc = hsds(api, f"/hsds/services/{service.id}")
    assert_nested_like_the_database(s, doc, "service", set())
    food = sdoh_terms()["food-insecurity"]["id"]
    attribute = next(a for a in doc["attributes"] if a["taxonomy_term_id"] == food)
    assert attribute["taxonomy_term"]["code"] == "food-insecurity"
    assert attribute["taxonomy_term"]["taxonomy_detail"]["name"] == "Gravity SDOH Domains"
    assert doc["capacities"]  # HSDS 3.1 service_capacity, ignored by 3.0 readers
    assert doc["schedules"] and doc["service_at_locations"][0]["location"]["addresses"]


def test_unknown_service_is_404(api):
    body = hsds_error(api, "/hsds/services/no-such-service", 404)
    assert body["code"] == "not_found" and "id" in body["errors"]


# --- /service_at_locations ------------------------------------------------------------------------

def test_service_at_locations_list(api, s):
    expected = set(s.scalars(select(m.ServiceAtLocation.id).join(m.Service).where(m.Service.status == "active")))
    items = every_page(api, "/hsds/service_at_locations", per_page=25)
    assert set(ids(items)) == expected and len(items) == len(expected)
    item = items[0]
    assert item["service"]["id"] == item["service_id"] and item["location"]["id"] == item["location_id"]
    assert "addresses" not in item["location"]  # one-to-one fields only
    first = hsds(api, "/hsds/service_at_locations?per_page=25")
    assert first["first_page"] and not first["last_page"] and first["total_pages"] == math.ceil(len(expected) / 25)


def test_service_at_locations_filters(api, s, directory):
    food = sdoh_terms()["food-insecurity"]["id"]
    by_term = every_page(api, f"/hsds/service_at_locations?taxonomy_term_id={food}")
    assert {i["service_id"] for i in by_term} == set(search_service_ids(term_ids=[food]))
    sdoh = s.scalar(select(m.Taxonomy.id).where(m.Taxonomy.name == "Gravity SDOH Domains"))
    assert {i["service_id"] for i in every_page(api, f"/hsds/service_at_locations?taxonomy_id={sdoh}")} >= \
        {i["service_id"] for i in by_term}
    searched = every_page(api, "/hsds/service_at_locations?search=" + quote("food stamps"))
    assert "CalFresh Application Help" in [i["service"]["name"] for i in searched]
    org_id = service_named(s, "Emergency Rental Assistance").organization_id
    by_org = every_page(api, f"/hsds/service_at_locations?organization_id={org_id}")
    assert by_org and {i["service"]["organization_id"] for i in by_org} == {org_id}
    # modified_after counts the service_at_location, its service and its location.
    changed = every_page(api, "/hsds/service_at_locations?modified_after=2024-01-01")
    expected = set(s.scalars(select(m.ServiceAtLocation.id).where(
        m.ServiceAtLocation.service_id.in_([directory["touched"], directory["assured"]])
        | (m.ServiceAtLocation.location_id == directory["moved"]))))
    assert set(ids(changed)) == expected
    changed_near = every_page(api, "/hsds/service_at_locations?modified_after=2024-01-01&postcode=94063")
    assert set(ids(changed_near)) <= expected


def test_postcode_and_proximity_in_meters(api, s, directory):
    origin = locate("94063")
    two_miles = every_page(api, f"/hsds/service_at_locations?postcode=94063&proximity={2 * METERS_PER_MILE}")
    assert two_miles
    places = {loc.id: loc for loc in s.scalars(select(m.Location))}
    distances = [distance_miles((origin.latitude, origin.longitude),
                                (places[i["location_id"]].latitude, places[i["location_id"]].longitude))
                 for i in two_miles]
    assert distances == sorted(distances) and max(distances) <= 2.0 + 1e-6
    # Everything within the radius is there (the confidential place is not: it cannot be found by distance).
    inside = set()
    for sal in s.scalars(select(m.ServiceAtLocation).join(m.Service).where(m.Service.status == "active")):
        loc = places.get(sal.location_id)
        if loc is not None and loc.latitude is not None and not loc.address_confidential and \
                distance_miles((origin.latitude, origin.longitude), (loc.latitude, loc.longitude)) <= 2:
            inside.add(sal.id)
    assert set(ids(two_miles)) == inside
    assert directory["confidential"]["id"] not in {i["location_id"] for i in two_miles}
    # Units may be written; the result is the same as in meters.
    assert ids(every_page(api, "/hsds/service_at_locations?postcode=94063&proximity=2mi")) == ids(two_miles)
    half = ids(every_page(api, "/hsds/service_at_locations?postcode=94063&proximity=800"))
    assert half and set(half) < set(ids(two_miles))
    five_km = ids(every_page(api, "/hsds/service_at_locations?postcode=94063&proximity=5km"))
    assert set(ids(two_miles)) < set(five_km)
    # The same as the search service gives for the same place and radius.
    results = search(SearchQuery(near="94063", radius_miles=2, sort="distance", per_page=100))
    assert ids(two_miles) == [h.doc_id for h in results.hits if not h.doc_id.startswith("service:")]
    # Postcode alone: ordered by distance, no radius.
    everywhere = every_page(api, "/hsds/service_at_locations?postcode=94063")
    assert ids(everywhere)[:len(two_miles)] == ids(two_miles) and len(everywhere) > len(two_miles)
    # With text and a domain.
    food = sdoh_terms()["food-insecurity"]["id"]
    near_food = every_page(api, f"/hsds/service_at_locations?postcode=94063&proximity=10mi&taxonomy_term_id={food}")
    assert near_food and set(i["service_id"] for i in near_food) <= set(search_service_ids(term_ids=[food]))


def test_service_at_locations_full_and_ndjson(api, s):
    full = hsds(api, "/hsds/service_at_locations?full=true&per_page=10")
    with_address = [i for i in full["contents"] if i.get("location", {}).get("addresses")]
    assert with_address and all("service" in i for i in full["contents"])
    lines = hsds_lines(api, "/hsds/service_at_locations?format=ndjson&postcode=94063&proximity=2mi")
    assert ids(lines) == ids(every_page(api, "/hsds/service_at_locations?postcode=94063&proximity=2mi"))


def test_service_at_location_document(api, s):
    sal = s.scalar(select(m.ServiceAtLocation).join(m.Service).where(m.Service.name == "Emergency Rental Assistance"))
    doc = hsds(api, f"/hsds/service_at_locations/{sal.id}")
    assert doc["service_id"] == sal.service_id and doc["location"]["id"] == sal.location_id
    assert doc["service"]["name"] == "Emergency Rental Assistance" and doc["service"]["organization"]["name"]
    assert_nested_like_the_database(s, doc, "service_at_location", set())
    assert "service_at_locations" not in doc["service"]
    assert hsds_error(api, "/hsds/service_at_locations/no-such-id", 404)["code"] == "not_found"


# --- confidential places --------------------------------------------------------------------------

def test_confidential_place_never_shows_where_it_is(api, directory):
    secret = directory["confidential"]
    bodies = []

    def check(document):
        text = json.dumps(document)
        assert str(secret["latitude"]) not in text and str(secret["longitude"]) not in text
        # (The street may be named in free text elsewhere, e.g. another branch's description: no address has it.)
        assert not [node for node in walk(document) if node.get("address_1") == secret["street"]]
        seen = [node for node in walk(document) if node.get("id") == secret["id"]]
        for node in seen:
            assert not {"addresses", "latitude", "longitude", "transportation"} & set(node)
        return seen

    sals = [i for i in every_page(api, "/hsds/service_at_locations") if i["location_id"] == secret["id"]]
    assert sals  # still listed (its services are real), only without where it is
    bodies += sals
    service_id = sals[0]["service_id"]
    bodies.append(hsds(api, f"/hsds/services/{service_id}"))
    bodies.append(hsds(api, f"/hsds/service_at_locations/{sals[0]['id']}"))
    bodies.append(hsds(api, f"/hsds/organizations/{secret['organization_id']}"))
    bodies.append(hsds(api, f"/hsds/organizations/{secret['organization_id']}?full_service=true"))
    bodies += every_page(api, "/hsds/services?full=true")
    bodies += every_page(api, "/hsds/service_at_locations?full=true")
    bodies += every_page(api, "/hsds/organizations?full_service=true")
    bodies += hsds_lines(api, "/hsds/service_at_locations?format=ndjson&full=true")
    bodies += every_page(api, "/hsds/service_at_locations?search=" + quote(CONFIDENTIAL_PLACE))
    assert sum(len(check(body)) for body in bodies) >= 8
    # Not findable by distance either.
    near = every_page(api, "/hsds/service_at_locations?postcode=94063&proximity=50mi")
    assert secret["id"] not in {i["location_id"] for i in near}


# --- /organizations -------------------------------------------------------------------------------

def test_organizations_list(api, s):
    all_orgs = set(s.scalars(select(m.Organization.id)))
    items = every_page(api, "/hsds/organizations", per_page=9)
    assert set(ids(items)) == all_orgs and len(items) == len(all_orgs)
    names = [i["name"].lower() for i in items]
    assert names == sorted(names)
    assert not any(isinstance(v, list) for i in items for v in i.values())
    full = hsds(api, "/hsds/organizations?full=true&per_page=100")
    with_services = [o for o in full["contents"] if o.get("services")]
    assert with_services and all("service_at_locations" not in svc for o in with_services for svc in o["services"])
    full_service = hsds(api, "/hsds/organizations?full_service=true&per_page=100")
    assert any(svc.get("service_at_locations") for o in full_service["contents"] for svc in o.get("services", []))
    assert set(ids(hsds_lines(api, "/hsds/organizations?format=ndjson"))) == all_orgs


def test_organization_search_goes_through_the_search_service(api, s):
    found = ids(every_page(api, "/hsds/organizations?search=" + quote("food stamps")))
    calfresh = service_named(s, "CalFresh Application Help")
    assert calfresh.organization_id in found
    hits = search(SearchQuery(text="shelter", per_page=100)).hits
    expected = list(dict.fromkeys(h.organization_id for h in hits))
    assert ids(every_page(api, "/hsds/organizations?search=shelter", per_page=3)) == expected


def test_organization_document(api, s):
    org = s.get(m.Organization, service_named(s, "Emergency Rental Assistance").organization_id)
    doc = hsds(api, f"/hsds/organizations/{org.id}")
    active = set(s.scalars(select(m.Service.id).where(m.Service.organization_id == org.id,
                                                      m.Service.status == "active")))
    assert set(ids(doc["services"])) == active
    assert all("service_at_locations" not in svc for svc in doc["services"])
    assert doc["locations"] and any(loc.get("addresses") for loc in doc["locations"])
    full = hsds(api, f"/hsds/organizations/{org.id}?full_service=true")
    assert any(svc.get("service_at_locations") for svc in full["services"])
    assert all("organization" not in svc for svc in full["services"])
    assert_nested_like_the_database(s, doc, "organization", set())
    example = hsds(api, "/hsds/organizations/d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610?full_service=true")
    assert_nested_like_the_database(s, example, "organization", set())
    assert ids(example["services"]) == [EXAMPLE_SERVICE_ID]
    assert_nested_like_the_database(s, example["services"][0], "service", set())
    assert hsds_error(api, "/hsds/organizations/no-such-org", 404)["code"] == "not_found"


# --- taxonomies and terms -------------------------------------------------------------------------

def test_taxonomies(api, s):
    body = hsds(api, "/hsds/taxonomies")
    assert {t["name"] for t in body["contents"]} >= {"Gravity SDOH Domains", "Open Eligibility"}
    assert body["total_items"] == len(list(s.scalars(select(m.Taxonomy.id))))
    searched = hsds(api, "/hsds/taxonomies?search=gravity")
    assert [t["name"] for t in searched["contents"]] == ["Gravity SDOH Domains"]
    assert hsds(api, "/hsds/taxonomies?search=" + quote("100%"))["total_items"] == 0  # LIKE wildcards are literal
    paged = hsds(api, "/hsds/taxonomies?per_page=1&page=2")
    assert paged["size"] == 1 and not paged["first_page"]
    assert hsds_lines(api, "/hsds/taxonomies?format=ndjson")
    sdoh = s.scalar(select(m.Taxonomy).where(m.Taxonomy.name == "Gravity SDOH Domains"))
    assert hsds(api, f"/hsds/taxonomies/{sdoh.id}")["name"] == "Gravity SDOH Domains"
    assert hsds_error(api, "/hsds/taxonomies/no-such-taxonomy", 404)["code"] == "not_found"


def test_taxonomy_terms(api, s):
    total = len(list(s.scalars(select(m.TaxonomyTerm.id))))
    items = every_page(api, "/hsds/taxonomy_terms")
    assert len(items) == total
    assert all(i["taxonomy_detail"]["id"] == i["taxonomy_id"] for i in items if "taxonomy_id" in i)
    sdoh = s.scalar(select(m.Taxonomy.id).where(m.Taxonomy.name == "Gravity SDOH Domains"))
    in_sdoh = every_page(api, f"/hsds/taxonomy_terms?taxonomy_id={sdoh}")
    assert {i["code"] for i in in_sdoh} == set(sdoh_terms())
    top = every_page(api, "/hsds/taxonomy_terms?top_only=true")
    assert top and all("parent_id" not in i for i in top)
    assert len(top) == len(list(s.scalars(select(m.TaxonomyTerm.id).where(m.TaxonomyTerm.parent_id.is_(None)))))
    parent = s.get(m.TaxonomyTerm, s.scalar(select(m.TaxonomyTerm.parent_id).where(
        m.TaxonomyTerm.parent_id.is_not(None)).order_by(m.TaxonomyTerm.id).limit(1)))
    children = every_page(api, f"/hsds/taxonomy_terms?parent_id={parent.id}")
    assert children and {i["parent_id"] for i in children} == {parent.id}
    assert hsds(api, f"/hsds/taxonomy_terms?parent_id={parent.id}&top_only=true")["total_items"] == 0
    searched = every_page(api, "/hsds/taxonomy_terms?search=food")
    assert "food-insecurity" in {i.get("code") for i in searched}
    assert all("food" in (i["name"] + i.get("code", "") + i["description"]).lower() for i in searched)
    food = sdoh_terms()["food-insecurity"]
    doc = hsds(api, f"/hsds/taxonomy_terms/{food['id']}")
    assert doc["code"] == "food-insecurity" and doc["taxonomy_detail"]["id"] == sdoh
    assert hsds_lines(api, f"/hsds/taxonomy_terms?format=ndjson&taxonomy_id={sdoh}")
    assert hsds_error(api, "/hsds/taxonomy_terms/no-such-term", 404)["code"] == "not_found"


# --- bad parameters -------------------------------------------------------------------------------

BAD = [
    ("/hsds/services?page=abc", "page"),
    ("/hsds/services?page=1.5", "page"),
    ("/hsds/services?page=0", "page"),
    ("/hsds/services?page=-2", "page"),
    ("/hsds/services?per_page=0", "per_page"),
    ("/hsds/services?per_page=101", "per_page"),
    ("/hsds/services?per_page=ten", "per_page"),
    ("/hsds/services?modified_after=yesterday", "modified_after"),
    ("/hsds/services?modified_after=2024-13-01", "modified_after"),
    ("/hsds/services?full=maybe", "full"),
    ("/hsds/services?minimal=sometimes", "minimal"),
    ("/hsds/services?minimal=true&full=true", "full"),
    ("/hsds/services?format=xml", "format"),
    ("/hsds/services?search=food&page=0", "page"),
    ("/hsds/service_at_locations?proximity=1000", "proximity"),
    ("/hsds/service_at_locations?postcode=00000", "postcode"),
    ("/hsds/service_at_locations?postcode=00000&proximity=1000", "postcode"),
    ("/hsds/service_at_locations?postcode=Redwood", "postcode"),
    ("/hsds/service_at_locations?postcode=94063&proximity=-5", "proximity"),
    ("/hsds/service_at_locations?postcode=94063&proximity=0", "proximity"),
    ("/hsds/service_at_locations?postcode=94063&proximity=near", "proximity"),
    ("/hsds/service_at_locations?postcode=94063&proximity=300mi", "proximity"),
    ("/hsds/service_at_locations?postcode=94063&proximity=5furlongs", "proximity"),
    ("/hsds/service_at_locations?page=x", "page"),
    ("/hsds/service_at_locations?per_page=1000", "per_page"),
    ("/hsds/service_at_locations?modified_after=2024-02-30", "modified_after"),
    ("/hsds/service_at_locations?full=2", "full"),
    ("/hsds/organizations?page=0", "page"),
    ("/hsds/organizations?full=yes-please", "full"),
    ("/hsds/organizations?full_service=perhaps", "full_service"),
    ("/hsds/organizations?search=food&per_page=500", "per_page"),
    ("/hsds/organizations/any-id?full_service=perhaps", "full_service"),
    ("/hsds/taxonomies?per_page=-1", "per_page"),
    ("/hsds/taxonomies?format=csv", "format"),
    ("/hsds/taxonomy_terms?top_only=sure", "top_only"),
    ("/hsds/taxonomy_terms?page=two", "page"),
]


@pytest.mark.parametrize("url,parameter", BAD)
def test_bad_parameters_are_400_naming_the_parameter(api, url, parameter):
    body = hsds_error(api, url, 400)
    assert body["code"] == "bad_request"
    assert parameter in body["errors"] and body["errors"][parameter]
    assert parameter in body["message"] or body["errors"][parameter][0] in body["message"]


def test_blank_parameters_are_ignored(api, s):
    body = hsds(api, "/hsds/services?page=&per_page=&search=&full=")
    assert body["page_number"] == 1 and body["size"] == 20
    assert body["total_items"] == len(active_service_ids(s))


JUNK_PAGES = ["abc", "1.5", "1.0", "0", "-1", "%2B3", "1_000", "\u0663", "0x10", "1e3", "100001",
              "99999999999999999999", "%00", "1%001", "%20%20", "[]", "true"]


@pytest.mark.parametrize("value", JUNK_PAGES)
@pytest.mark.parametrize("name", ["page", "per_page"])
def test_junk_page_values_are_400_saying_what_is_expected(api, name, value):
    if value == "%20%20":  # blank counts as absent
        assert api.get(f"/hsds/services?{name}={value}").status_code == 200
        return
    for endpoint in ("services", "service_at_locations", "organizations", "taxonomies", "taxonomy_terms"):
        body = hsds_error(api, f"/hsds/{endpoint}?{name}={value}", 400)
        assert body["code"] == "bad_request" and list(body["errors"]) == [name], body
        assert "whole number" in body["errors"][name][0] or "results per page" in body["errors"][name][0] \
            or "NUL" in body["errors"][name][0], body


@pytest.mark.parametrize("url,names", [
    ("/hsds/services?color=blue", ["color"]),
    ("/hsds/services?page=1&page=2", ["page"]),
    ("/hsds/services?per_page=5&per_page=abc", ["per_page"]),
    ("/hsds/service_at_locations?postcode=94063&radius=5", ["radius"]),
    ("/hsds/organizations?minimal=true", ["minimal"]),
    ("/hsds/taxonomies?taxonomy_id=x&parent=y", ["parent", "taxonomy_id"]),
    ("/hsds/?page=1", ["page"]),
    ("/hsds/services/any-id?full=true", ["full"]),
    ("/hsds/taxonomy_terms/any-id?x=1", ["x"]),
])
def test_parameters_an_endpoint_does_not_take_are_refused_naming_them(api, url, names):
    body = hsds_error(api, url, 400)
    assert body["code"] == "bad_request" and sorted(body["errors"]) == names, body
    for name in names:
        assert name in body["message"]
        message = body["errors"][name][0]
        assert message.startswith("This endpoint takes") or message == "Give this parameter once.", message


def test_unknown_parameter_message_lists_what_is_taken(api):
    body = hsds_error(api, "/hsds/service_at_locations?colour=blue", 400)
    assert "postcode" in body["errors"]["colour"][0] and "proximity" in body["errors"]["colour"][0]
    assert hsds_error(api, "/hsds/?x=1", 400)["errors"]["x"] == ["This endpoint takes no parameters."]


def test_boolean_parameters_accept_true_false_one_zero(api):
    assert "service_at_locations" in hsds(api, "/hsds/services?full=1&per_page=1")["contents"][0]
    assert "service_at_locations" not in hsds(api, "/hsds/services?full=0&per_page=1")["contents"][0]
    assert hsds(api, "/hsds/services?minimal=TRUE&per_page=1")["contents"][0].keys() <= {
        "id", "name", "status", "last_modified"}


def test_hsds_api_is_rate_limited(app, api):
    from referralnet.extensions import limiter

    limiter.reset()
    app.config["HSDS_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = [api.get("/hsds/taxonomies").status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        body = api.get("/hsds/taxonomies").get_json()
        assert body["status"] == 429 and body["code"]
    finally:
        app.config["HSDS_RATE_LIMIT"] = "100000 per minute"
        limiter.reset()
