"""The admin directory pages, through the test client with real CSRF tokens.

Lists (filter, pagination), record pages, create and edit of organizations,
services and locations, every kind of validation error (400, the message next
to its field, nothing written), 404s, and who may not use the pages at all.
"""
from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from datetime import date, datetime, timezone

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from referralnet.directory import models as m
from referralnet.directory.importer import import_path
from referralnet.directory.sdoh import DOMAINS_FILE
from tests.conftest import csrf_token_from, form_token

ROOT = "/admin/directory"


# --- helpers ------------------------------------------------------------------------------------

@pytest.fixture()
def sdoh(db) -> dict[str, m.TaxonomyTerm]:
    """The Gravity SDOH domains taxonomy, imported from seed_data/sdoh_domains.json; terms by code."""
    import_path(DOMAINS_FILE)
    db.session.commit()
    return {t.code: t for t in db.session.scalars(select(m.TaxonomyTerm))}


@pytest.fixture()
def admin(login_as):
    return login_as("admin")


def add_org(db, name: str = "Harbor Food Pantry", **fields) -> m.Organization:
    org = m.Organization(id=fields.pop("id", None) or str(uuid.uuid4()), name=name,
                         description=fields.pop("description", f"{name} helps people."), **fields)
    db.session.add(org)
    db.session.commit()
    return org


def add_location(db, org: m.Organization | None, name: str, *, city: str | None = None,
                 latitude: float | None = None, longitude: float | None = None, **fields) -> m.Location:
    loc = m.Location(id=str(uuid.uuid4()), organization_id=org.id if org else None, name=name,
                     latitude=latitude, longitude=longitude, **fields)
    if city:
        loc.addresses.append(m.Address(id=str(uuid.uuid4()), address_1="1 Main St", city=city,
                                       state_province="CA", postal_code="94401", country="US"))
    db.session.add(loc)
    db.session.commit()
    return loc


def add_service(db, org: m.Organization, name: str, *, locations=(), **fields) -> m.Service:
    service = m.Service(id=str(uuid.uuid4()), organization_id=org.id, name=name, **fields)
    for loc in locations:
        service.service_at_locations.append(m.ServiceAtLocation(id=str(uuid.uuid4()), location_id=loc.id))
    db.session.add(service)
    db.session.commit()
    return service


COUNTED = (m.Organization, m.Service, m.Location, m.Address, m.ServiceAtLocation, m.Attribute)


def counts(db) -> dict[str, int]:
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) for model in COUNTED}


def fresh(db, model, record_id):
    """The record as the database has it now (the pages write through their own session)."""
    db.session.expire_all()
    return db.session.get(model, record_id)


class _FormReader(HTMLParser):
    """The values a browser would submit from a page's forms (text inputs, textareas, selects)."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str | list[str]] = {}
        self._select: str | None = None
        self._multiple = False
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "checkbox", "radio"):
            self.values[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""
        elif tag == "select" and name:
            self._select, self._multiple, self._first_option = name, "multiple" in attrs, None
            self.values[name] = [] if self._multiple else None
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in attrs:
                if self._multiple:
                    self.values[self._select].append(value)
                else:
                    self.values[self._select] = value

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea:
            # The HTML parser of a browser drops the newline right after <textarea>.
            self.values[self._textarea] = self.values[self._textarea].removeprefix("\n")
            self._textarea = None
        elif tag == "select" and self._select:
            if self.values[self._select] is None:  # a single select submits its first option by default
                self.values[self._select] = self._first_option or ""
            self._select = None


def post(client, url: str, changes: dict):
    """Submit the form at `url` as a browser would: what the page shows (CSRF token included), with `changes`."""
    reader = _FormReader()
    reader.feed(client.get(url).get_data(as_text=True))
    return client.post(url, data={**reader.values, **changes})


def page_text(response) -> str:
    return response.get_data(as_text=True)


def body_rows(html: str) -> int:
    return html.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr>") if "<tbody>" in html else 0


def assert_field_error(html: str, field: str, message: str) -> None:
    """The message is in the error summary and next to its field, which is marked invalid."""
    assert 'class="error-summary"' in html
    summary = html.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert f'href="#{field}"' in summary and str(escape(message)) in summary
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', html, re.S)
    assert match, f"no error shown next to {field}"
    assert str(escape(message)) in match.group(1)
    assert re.search(rf'<(input|select|textarea)[^>]*aria-invalid="true"[^>]*id="{field}"', html)


def assert_accessible_basics(html: str) -> None:
    """One h1; every visible form control has a label; tables have column headers and a caption."""
    assert html.count("<h1") == 1
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        if 'type="hidden"' in tag:
            continue
        control_id = re.search(r'\bid="([^"]+)"', tag)
        assert control_id and f'<label for="{control_id.group(1)}"' in html, f"unlabelled control: {tag}"
    for table in re.findall(r"<table.*?</table>", html, re.S):
        assert "<caption" in table and '<th scope="col">' in table
    assert "<script" not in html.split("<main", 1)[1].split("</main>", 1)[0]  # the page works without scripts


# --- lists --------------------------------------------------------------------------------------

def test_organization_list_shows_counts_filters_and_paginates(client, db, admin):
    for i in range(55):
        add_org(db, f"Agency {i:02d}")
    pantry = add_org(db, "Harbor Food Pantry")
    add_service(db, pantry, "Groceries")
    add_location(db, pantry, "Warehouse")
    add_location(db, pantry, "Storefront")

    first = client.get(f"{ROOT}/organizations")
    html = page_text(first)
    assert first.status_code == 200
    assert_accessible_basics(html)
    assert body_rows(html) == 50
    assert "Agency 00" in html and "Harbor Food Pantry" not in html
    assert f'href="{ROOT}/organizations?page=2"' in html.replace("&amp;", "&")
    # The sub-nav links the three lists; this one is the current page.
    subnav = html.split('<nav aria-label="Directory"', 1)[1].split("</nav>", 1)[0]
    assert f'<a href="{ROOT}/organizations" aria-current="page">Organizations</a>' in subnav
    assert f'<a href="{ROOT}/services">Services</a>' in subnav and f'<a href="{ROOT}/locations">Locations</a>' in subnav

    second = page_text(client.get(f"{ROOT}/organizations?page=2"))
    assert body_rows(second) == 6 and "Harbor Food Pantry" in second and "Agency 00" not in second

    # Case-insensitive "contains" on the name; the counts are per organization.
    found = page_text(client.get(f"{ROOT}/organizations?q=fOoD"))
    assert body_rows(found) == 1
    row = found.split("<tbody>", 1)[1]
    assert re.search(r"Harbor Food Pantry</a></td>\s*<td>1</td>\s*<td>2</td>", row)
    assert 'value="fOoD"' in found  # the search box keeps the query
    assert body_rows(page_text(client.get(f"{ROOT}/organizations?q=nothing-like-this"))) == 0
    # LIKE wildcards are searched for literally.
    assert body_rows(page_text(client.get(f"{ROOT}/organizations?q=%25"))) == 0


@pytest.mark.parametrize("bad_page", ["abc", "0", "-1", "1.5", "999", "99999999999999999999999", ""])
def test_bad_page_numbers_show_the_first_page(client, db, admin, bad_page):
    for i in range(51):
        add_org(db, f"Agency {i:02d}")
    for kind in ("organizations", "services", "locations"):
        response = client.get(f"{ROOT}/{kind}", query_string={"page": bad_page})
        assert response.status_code == 200
    html = page_text(client.get(f"{ROOT}/organizations", query_string={"page": bad_page}))
    assert "Agency 00" in html and body_rows(html) == 50


def test_service_and_location_lists(client, db, admin):
    org = add_org(db, "Bayview Housing")
    for i in range(51):
        add_service(db, org, f"Service {i:02d}")
        add_location(db, org, f"Place {i:02d}")
    add_service(db, org, "Rental Assistance", status="temporarily closed", assured_date=date(2024, 3, 9))
    mapped = add_location(db, org, "Main Office", city="Redwood City", latitude=37.48, longitude=-122.23)
    add_location(db, None, "Main Street Kiosk")

    services = page_text(client.get(f"{ROOT}/services"))
    assert_accessible_basics(services)
    assert body_rows(services) == 50
    assert f'<a href="{ROOT}/services" aria-current="page">Services</a>' in services
    places_nav = page_text(client.get(f"{ROOT}/locations")).split('<nav aria-label="Directory"', 1)[1]
    assert f'<a href="{ROOT}/locations" aria-current="page">Locations</a>' in places_nav.split("</nav>", 1)[0]
    assert body_rows(page_text(client.get(f"{ROOT}/services?page=2"))) == 2
    rental = page_text(client.get(f"{ROOT}/services?q=RENTAL"))
    assert body_rows(rental) == 1
    assert "Bayview Housing" in rental and "Temporarily closed" in rental and "2024-03-09" in rental
    assert "Last verified" in rental

    places = page_text(client.get(f"{ROOT}/locations"))
    assert_accessible_basics(places)
    assert body_rows(places) == 50
    assert body_rows(page_text(client.get(f"{ROOT}/locations?page=2"))) == 3
    main = page_text(client.get(f"{ROOT}/locations?q=main"))
    assert body_rows(main) == 2
    office_row = main.split(f'{ROOT}/locations/{mapped.id}"', 1)[1].split("</tr>", 1)[0]
    assert "Bayview Housing" in office_row and "Redwood City" in office_row and "<td>Yes</td>" in office_row
    kiosk_row = main.split("Main Street Kiosk", 1)[1].split("</tr>", 1)[0]
    assert "<td>No</td>" in kiosk_row and "No address" in kiosk_row


# --- organizations ------------------------------------------------------------------------------

def test_admin_creates_and_edits_an_organization(client, db, admin):
    form = client.get(f"{ROOT}/organizations/new")
    assert form.status_code == 200
    assert_accessible_basics(page_text(form))

    created = post(client, f"{ROOT}/organizations/new", {
        "name": "  Coastside Hope  ", "alternate_name": "CS Hope", "description": "Food and shelter on the coast.",
        "email": "info@coastsidehope.example.org", "website": "https://coastsidehope.example.org",
        "tax_id": "94-1234567", "legal_status": "501(c)(3)", "year_incorporated": "1993",
    })
    assert created.status_code == 302
    org_id = created.headers["Location"].rsplit("/", 1)[1]
    assert uuid.UUID(org_id).version == 4
    org = fresh(db, m.Organization, org_id)
    assert (org.name, org.alternate_name, org.description) == ("Coastside Hope", "CS Hope",
                                                               "Food and shelter on the coast.")
    assert (org.email, org.website) == ("info@coastsidehope.example.org", "https://coastsidehope.example.org")
    assert (org.tax_id, org.legal_status, org.year_incorporated) == ("94-1234567", "501(c)(3)", 1993)

    shown = client.get(created.headers["Location"])
    html = page_text(shown)
    assert shown.status_code == 200 and "Organization “Coastside Hope” created." in html
    assert '<dl class="details">' in html and "94-1234567" in html
    assert_accessible_basics(html)

    edit_form = page_text(client.get(f"{ROOT}/organizations/{org_id}/edit"))
    assert 'value="Coastside Hope"' in edit_form and 'value="1993"' in edit_form
    assert_accessible_basics(edit_form)
    before = counts(db)
    edited = post(client, f"{ROOT}/organizations/{org_id}/edit", {
        "name": "Coastside Hope Center", "description": "Food, shelter and legal help.",
        "alternate_name": "", "email": "", "website": "http://hope.example.org/about", "year_incorporated": "",
    })
    assert edited.status_code == 302 and edited.headers["Location"].endswith(f"/organizations/{org_id}")
    org = fresh(db, m.Organization, org_id)
    assert (org.name, org.description, org.email) == ("Coastside Hope Center", "Food, shelter and legal help.", None)
    assert (org.website, org.year_incorporated, org.alternate_name) == ("http://hope.example.org/about", None, None)
    assert (org.tax_id, org.legal_status) == ("94-1234567", "501(c)(3)")  # untouched fields keep their values
    assert counts(db) == before


# --- services -----------------------------------------------------------------------------------

def test_admin_creates_and_edits_a_service_with_locations_and_sdoh_domains(client, db, admin, sdoh):
    org = add_org(db, "Peninsula Family Service")
    north = add_location(db, org, "North Office", city="Daly City")
    south = add_location(db, org, "South Office", city="Redwood City")
    east = add_location(db, org, "East Office", city="San Mateo")
    elsewhere = add_location(db, add_org(db, "Other Agency"), "Other Place")

    form = client.get(f"{ROOT}/services/new", query_string={"organization_id": org.id})
    html = page_text(form)
    assert form.status_code == 200
    assert_accessible_basics(html)
    assert "North Office — Daly City" in html and "Other Place" not in html  # this organization's locations
    assert "Food Insecurity" in html and "Housing Instability" in html
    assert re.search(rf'<option selected value="{org.id}">', html)

    before = datetime.now(timezone.utc)
    created = post(client, f"{ROOT}/services/new", {
        "organization_id": org.id, "name": "Senior Meals", "alternate_name": "Meals on Wheels",
        "description": "Hot lunches for seniors.", "status": "active",
        "eligibility_description": "Age 60 or over.", "application_process": "Call to enroll.",
        "fees_description": "Free; donations welcome.", "url": "https://pfs.example.org/meals",
        "email": "meals@pfs.example.org", "minimum_age": "60", "maximum_age": "", "assured_date": "2024-05-01",
        "alert": "Closed on holidays.",
        "location_ids": [north.id, south.id],
        "sdoh_term_ids": [sdoh["food-insecurity"].id, sdoh["social-connection"].id],
    })
    assert created.status_code == 302, page_text(created)
    service_id = created.headers["Location"].rsplit("/", 1)[1]
    assert uuid.UUID(service_id).version == 4
    service = fresh(db, m.Service, service_id)
    assert (service.organization_id, service.name, service.status) == (org.id, "Senior Meals", "active")
    assert (service.minimum_age, service.maximum_age, service.assured_date) == (60, None, date(2024, 5, 1))
    assert (service.url, service.email, service.alert) == ("https://pfs.example.org/meals", "meals@pfs.example.org",
                                                           "Closed on holidays.")
    assert service.eligibility_description == "Age 60 or over." and service.fees_description.startswith("Free")
    assert service.last_modified >= before
    assert {link.location_id for link in service.service_at_locations} == {north.id, south.id}
    attributes = db.session.scalars(select(m.Attribute).where(m.Attribute.link_id == service_id)).all()
    assert {(a.link_entity, a.link_type, a.taxonomy_term_id) for a in attributes} == {
        ("service", "sdoh_domain", sdoh["food-insecurity"].id),
        ("service", "sdoh_domain", sdoh["social-connection"].id)}

    shown = page_text(client.get(created.headers["Location"]))
    assert "Service “Senior Meals” created." in shown
    for text in ("Hot lunches for seniors.", "Age 60 or over.", "Call to enroll.", "Free; donations welcome.",
                 "2024-05-01", "meals@pfs.example.org", "https://pfs.example.org/meals", "North Office",
                 "South Office", "Food Insecurity", "Social Connection"):
        assert str(escape(text)) in shown, text
    assert "East Office" not in shown

    # Another taxonomy's attribute on the service must survive SDOH edits.
    other_term = m.TaxonomyTerm(id="oe-101", name="Emergency Food", description="Open Eligibility term")
    db.session.add(other_term)
    db.session.add(m.Attribute(id="attr-oe", link_entity="service", link_type="taxonomy", link_id=service_id,
                               taxonomy_term_id=other_term.id))
    db.session.commit()
    south_link = next(link.id for link in fresh(db, m.Service, service_id).service_at_locations
                      if link.location_id == south.id)
    first_modified = service.last_modified

    edit_form = page_text(client.get(f"{ROOT}/services/{service_id}/edit"))
    assert_accessible_basics(edit_form)
    assert re.search(rf'<option selected value="{north.id}">', edit_form)
    assert re.search(rf'<option selected value="{sdoh["food-insecurity"].id}">', edit_form)
    assert "Other Place" not in edit_form

    edited = post(client, f"{ROOT}/services/{service_id}/edit", {
        "organization_id": org.id, "name": "Senior Meals & Groceries", "status": "temporarily closed",
        "description": "Hot lunches and grocery bags.", "minimum_age": "55", "maximum_age": "99",
        "assured_date": "2024-06-15", "alert": "", "location_ids": [south.id, east.id],
        "sdoh_term_ids": [sdoh["transportation-insecurity"].id],
    })
    assert edited.status_code == 302, page_text(edited)
    service = fresh(db, m.Service, service_id)
    assert (service.name, service.status, service.minimum_age, service.maximum_age) == (
        "Senior Meals & Groceries", "temporarily closed", 55, 99)
    assert service.alert is None and service.email == "meals@pfs.example.org"
    assert service.last_modified > first_modified
    links = {link.location_id: link.id for link in service.service_at_locations}
    assert set(links) == {south.id, east.id}
    assert links[south.id] == south_link  # a kept location keeps its row (and its schedules)
    assert db.session.scalar(select(func.count()).select_from(m.ServiceAtLocation)) == 2
    terms = set(db.session.scalars(select(m.Attribute.taxonomy_term_id).where(m.Attribute.link_id == service_id)))
    assert terms == {sdoh["transportation-insecurity"].id, other_term.id}

    # Unticking everything removes every link.
    post(client, f"{ROOT}/services/{service_id}/edit", {"location_ids": [], "sdoh_term_ids": []})
    service = fresh(db, m.Service, service_id)
    assert service.service_at_locations == []
    assert set(db.session.scalars(select(m.Attribute.taxonomy_term_id).where(m.Attribute.link_id == service_id))) \
        == {other_term.id}
    assert fresh(db, m.Location, elsewhere.id) is not None


def test_editing_keeps_an_imported_link_to_another_organizations_location(client, db, admin):
    org = add_org(db, "Library Outreach")
    own = add_location(db, org, "Outreach Van")
    library = add_location(db, add_org(db, "County Library"), "Central Library")
    service = add_service(db, org, "Tax Help", locations=[library])

    html = page_text(client.get(f"{ROOT}/services/{service.id}/edit"))
    assert re.search(rf'<option selected value="{library.id}">Central Library \(at County Library\)', html)
    response = post(client, f"{ROOT}/services/{service.id}/edit", {
        "organization_id": org.id, "name": "Tax Help", "status": "active", "location_ids": [library.id, own.id]})
    assert response.status_code == 302
    assert {link.location_id for link in fresh(db, m.Service, service.id).service_at_locations} == {library.id, own.id}


def test_removing_a_location_removes_the_services_hours_there(client, db, admin):
    org = add_org(db, "Harbor Help")
    dock, depot = add_location(db, org, "Dock"), add_location(db, org, "Depot")
    service = add_service(db, org, "Pantry", locations=[dock, depot])
    at_dock = next(link for link in service.service_at_locations if link.location_id == dock.id)
    db.session.add(m.Schedule(id="dock-hours", service_at_location_id=at_dock.id, byday="MO", opens_at="09:00"))
    db.session.add(m.Schedule(id="pantry-hours", service_id=service.id, byday="TU", opens_at="10:00"))
    db.session.commit()
    assert post(client, f"{ROOT}/services/{service.id}/edit", {"location_ids": [depot.id]}).status_code == 302
    db.session.expire_all()
    assert set(db.session.scalars(select(m.Schedule.id))) == {"pantry-hours"}
    assert fresh(db, m.Location, dock.id) is not None  # the place itself stays


def test_lists_sort_names_regardless_of_case(client, db, admin):
    for name in ("zebra Aid", "Apple Aid", "banana Aid"):
        add_org(db, name)
    html = page_text(client.get(f"{ROOT}/organizations"))
    assert html.index("Apple Aid") < html.index("banana Aid") < html.index("zebra Aid")


def test_new_service_without_organization_offers_locations_grouped_by_organization(client, db, admin):
    add_location(db, add_org(db, "Alpha Agency"), "Alpha Hall")
    add_location(db, add_org(db, "Beta Agency"), "Beta Hall")
    html = page_text(client.get(f"{ROOT}/services/new"))
    assert '<optgroup label="Alpha Agency">' in html and '<optgroup label="Beta Agency">' in html
    # No SDOH taxonomy imported: the form says how to get it instead of showing an empty list.
    assert "sdoh_domains.json" in html and 'id="sdoh_term_ids"' not in html


# --- locations ----------------------------------------------------------------------------------

def test_admin_creates_and_edits_a_location(client, db, admin):
    org = add_org(db, "Samaritan House")
    form = client.get(f"{ROOT}/locations/new", query_string={"organization_id": org.id})
    assert form.status_code == 200
    assert_accessible_basics(page_text(form))
    assert 'id="country" name="country" type="text" value="US"' in page_text(form)

    created = post(client, f"{ROOT}/locations/new", {
        "organization_id": org.id, "name": "Main Office", "description": "Front desk on the ground floor.",
        "location_type": "physical", "latitude": "37.5630", "longitude": "-122.3255",
        "transportation": "SamTrans 292.", "address_1": "4031 Pacific Blvd", "address_2": "Suite 2",
        "city": "San Mateo", "state_province": "CA", "postal_code": "94403", "country": "us",
    })
    assert created.status_code == 302, page_text(created)
    location_id = created.headers["Location"].rsplit("/", 1)[1]
    assert uuid.UUID(location_id).version == 4
    location = fresh(db, m.Location, location_id)
    assert (location.organization_id, location.name, location.location_type) == (org.id, "Main Office", "physical")
    assert (location.latitude, location.longitude) == (pytest.approx(37.563), pytest.approx(-122.3255))
    assert location.transportation == "SamTrans 292."
    [address] = location.addresses
    assert (address.address_type, address.address_1, address.address_2, address.city) == (
        "physical", "4031 Pacific Blvd", "Suite 2", "San Mateo")
    assert (address.state_province, address.postal_code, address.country) == ("CA", "94403", "US")
    shown = page_text(client.get(created.headers["Location"]))
    assert "Location “Main Office” created." in shown and "4031 Pacific Blvd" in shown and "37.563" in shown

    edit_form = page_text(client.get(f"{ROOT}/locations/{location_id}/edit"))
    assert_accessible_basics(edit_form)
    assert 'value="4031 Pacific Blvd"' in edit_form and 'value="94403"' in edit_form
    address_id = address.id
    edited = post(client, f"{ROOT}/locations/{location_id}/edit", {
        "latitude": "", "longitude": "", "description": "", "address_2": "", "postal_code": "94403-1234"})
    assert edited.status_code == 302, page_text(edited)
    location = fresh(db, m.Location, location_id)
    assert (location.latitude, location.longitude, location.description) == (None, None, None)
    [address] = location.addresses
    assert (address.id, address.postal_code, address.address_2) == (address_id, "94403-1234", None)

    # A virtual location may drop its address; the form's address lines all empty removes it.
    edited = post(client, f"{ROOT}/locations/{location_id}/edit", {
        "organization_id": "", "name": "Online Intake", "location_type": "virtual",
        **{name: "" for name in ("address_1", "address_2", "city", "state_province", "postal_code")}})
    assert edited.status_code == 302, page_text(edited)
    location = fresh(db, m.Location, location_id)
    assert (location.name, location.location_type, location.organization_id, location.addresses) == (
        "Online Intake", "virtual", None, [])
    assert db.session.scalar(select(func.count()).select_from(m.Address)) == 0


def test_editing_a_location_leaves_its_postal_address_alone(client, db, admin):
    location = add_location(db, None, "Drop-in Center", city="Menlo Park")
    db.session.add(m.Address(id="postal-1", location_id=location.id, address_type="postal", address_1="PO Box 9",
                             city="Menlo Park", state_province="CA", postal_code="94025", country="US"))
    db.session.commit()
    response = post(client, f"{ROOT}/locations/{location.id}/edit", {
        "name": "Drop-in Center", "location_type": "physical", "address_1": "2 Oak Ave", "city": "Menlo Park",
        "state_province": "CA", "postal_code": "94025", "country": "US"})
    assert response.status_code == 302
    addresses = {a.address_type: a.address_1 for a in fresh(db, m.Location, location.id).addresses}
    assert addresses == {"physical": "2 Oak Ave", "postal": "PO Box 9"}


# --- validation ---------------------------------------------------------------------------------

GOOD_ORG = {"name": "Harbor Help", "description": "Helps.", "email": "", "website": "", "year_incorporated": ""}
GOOD_SERVICE = {"name": "Pantry", "status": "active", "minimum_age": "", "maximum_age": ""}
GOOD_LOCATION = {"name": "Depot", "location_type": "physical", "latitude": "", "longitude": "",
                 "address_1": "1 Bay St", "city": "San Mateo", "state_province": "CA", "postal_code": "94401",
                 "country": "US"}

ORG_ERRORS = [
    ({"name": "  "}, "name", "Enter the organization's name."),
    ({"description": ""}, "description", "Enter a short description of the organization (HSDS requires one)."),
    ({"email": "info@"}, "email", "Enter a valid email address, like info@example.org."),
    ({"email": "two words@example.org"}, "email", "Enter a valid email address, like info@example.org."),
    ({"website": "example.org"}, "website", "Enter a full web address starting with http:// or https://"),
    ({"website": "javascript:alert(1)"}, "website", "Enter a full web address starting with http:// or https://"),
    ({"website": "ftp://files.example.org"}, "website", "Enter a full web address starting with http://"),
    ({"year_incorporated": "1700"}, "year_incorporated", "Enter the year of incorporation as a year from 1800 to"),
    ({"year_incorporated": "3000"}, "year_incorporated", "Enter the year of incorporation as a year from 1800 to"),
    ({"year_incorporated": "nineteen"}, "year_incorporated", "Enter the year as a number, like 1987."),
]
SERVICE_ERRORS = [
    ({"organization_id": ""}, "organization_id", "Choose the organization that provides this service."),
    ({"organization_id": "no-such-org"}, "organization_id", "That organization no longer exists."),
    ({"name": ""}, "name", "Enter the name of the service."),
    ({"status": "closed forever"}, "status", "Choose a status: active, inactive, defunct, temporarily closed."),
    ({"email": "meals at pfs"}, "email", "Enter a valid email address"),
    ({"url": "www.example.org"}, "url", "Enter a full web address starting with http:// or https://"),
    ({"minimum_age": "30", "maximum_age": "18"}, "maximum_age",
     "The maximum age (18) cannot be lower than the minimum age (30)."),
    ({"minimum_age": "-1"}, "minimum_age", "Enter the minimum age as a whole number from 0 to 130."),
    ({"maximum_age": "9999999999999"}, "maximum_age", "Enter the maximum age as a whole number from 0 to 130."),
    ({"minimum_age": "ten"}, "minimum_age", "Enter the minimum age as a whole number, like 18."),
    ({"assured_date": "2999-01-01"}, "assured_date", "cannot be in the future."),
    ({"assured_date": "31/12/2024"}, "assured_date", "Enter the date as YYYY-MM-DD"),
    ({"location_ids": ["OTHER"]}, "location_ids", "is not a location of Harbor Help."),
    ({"location_ids": ["no-such-location"]}, "location_ids", "One of the chosen locations no longer exists."),
    ({"sdoh_term_ids": ["not-a-domain"]}, "sdoh_term_ids", "Choose SDOH domains from the list."),
]
LOCATION_ERRORS = [
    ({"name": ""}, "name", "Enter a name for the location."),
    ({"latitude": "37.5"}, "longitude",
     "Enter the longitude too: coordinates need both latitude and longitude, or neither."),
    ({"longitude": "-122.3"}, "latitude",
     "Enter the latitude too: coordinates need both latitude and longitude, or neither."),
    ({"latitude": "95", "longitude": "10"}, "latitude", "Enter the latitude as a number from -90 to 90"),
    ({"latitude": "nan", "longitude": "10"}, "latitude", "Enter the latitude as a number from -90 to 90"),
    ({"latitude": "10", "longitude": "-181"}, "longitude", "Enter the longitude as a number from -180 to 180"),
    ({"latitude": "north", "longitude": "10"}, "latitude", "Enter the latitude as a number, like 37.5630."),
    ({"postal_code": "9440"}, "postal_code", "Enter a 5-digit ZIP code, like 94401 or 94401-1234."),
    ({"postal_code": "94401-12"}, "postal_code", "Enter a 5-digit ZIP code"),
    ({"address_1": "", "city": "", "state_province": "", "postal_code": ""}, "address_1",
     "Enter the street address: a physical location needs one."),
    ({"city": ""}, "city", "Enter the city."),
    ({"country": "USA"}, "country", "Enter the country as a two-letter code, like US."),
    ({"location_type": "castle"}, "location_type", "Choose a location type: physical, postal, virtual."),
    ({"organization_id": "no-such-org"}, "organization_id", "That organization no longer exists."),
]


def _fill(values: dict, ids: dict) -> dict:
    return {k: ([ids.get(x, x) for x in v] if isinstance(v, list) else ids.get(v, v)) for k, v in values.items()}


@pytest.mark.parametrize("kind, change, field, message", [
    *[("organization", *case) for case in ORG_ERRORS],
    *[("service", *case) for case in SERVICE_ERRORS],
    *[("location", *case) for case in LOCATION_ERRORS],
])
def test_invalid_input_is_refused_on_create_with_nothing_written(client, db, admin, sdoh, kind, change, field,
                                                                 message):
    org = add_org(db, "Harbor Help")
    other = add_location(db, add_org(db, "Elsewhere"), "Other Place")
    ids = {"OTHER": other.id}
    good = {"organization": GOOD_ORG, "service": {**GOOD_SERVICE, "organization_id": org.id},
            "location": GOOD_LOCATION}[kind]
    before = counts(db)
    response = post(client, f"{ROOT}/{kind}s/new", {**good, **_fill(change, ids)})
    html = page_text(response)
    assert response.status_code == 400
    assert_field_error(html, field, message)
    assert html.count("<h1") == 1
    assert counts(db) == before


def test_a_physical_location_without_an_address_names_every_missing_line(client, db, admin):
    response = post(client, f"{ROOT}/locations/new", {"name": "Depot", "location_type": "physical", "country": "US"})
    html = page_text(response)
    assert response.status_code == 400
    for field, message in (("address_1", "Enter the street address: a physical location needs one."),
                           ("city", "Enter the city."), ("state_province", "Enter the state."),
                           ("postal_code", "Enter the ZIP code.")):
        assert_field_error(html, field, message)
    # Without a US country the ZIP format is not imposed; a postal location needs no address.
    assert post(client, f"{ROOT}/locations/new", {**GOOD_LOCATION, "country": "CA",
                                                   "postal_code": "K1A 0B1"}).status_code == 302
    assert post(client, f"{ROOT}/locations/new", {"name": "Mail", "location_type": "postal",
                                                   "country": "US"}).status_code == 302


def test_every_problem_is_reported_at_once(client, db, admin):
    response = post(client, f"{ROOT}/services/new", {"organization_id": "", "name": "", "status": "active",
                                                      "email": "nope", "minimum_age": "9", "maximum_age": "3"})
    html = page_text(response)
    assert response.status_code == 400
    for field in ("organization_id", "name", "email", "maximum_age"):
        assert f'id="{field}-error"' in html
    # The entered values are shown again.
    assert 'value="nope"' in html and 'value="9"' in html


def test_invalid_edits_change_nothing(client, db, admin, sdoh):
    org = add_org(db, "Harbor Help", email="old@example.org")
    a = add_location(db, org, "Dock A", city="San Mateo")
    b = add_location(db, org, "Dock B")
    service = add_service(db, org, "Pantry", locations=[a], minimum_age=5)
    before = counts(db)

    response = post(client, f"{ROOT}/organizations/{org.id}/edit", {**GOOD_ORG, "name": "Renamed", "email": "bad@"})
    assert response.status_code == 400
    assert_field_error(page_text(response), "email", "Enter a valid email address")
    assert "<h1>Edit Harbor Help</h1>" in page_text(response)  # the heading keeps the stored name
    assert (fresh(db, m.Organization, org.id).name, fresh(db, m.Organization, org.id).email) == (
        "Harbor Help", "old@example.org")

    # Valid location and domain changes in the same submission must not be half-applied.
    response = post(client, f"{ROOT}/services/{service.id}/edit", {
        "organization_id": org.id, "name": "Renamed", "status": "active", "minimum_age": "40", "maximum_age": "20",
        "location_ids": [b.id], "sdoh_term_ids": [sdoh["food-insecurity"].id]})
    assert response.status_code == 400
    assert_field_error(page_text(response), "maximum_age",
                       "The maximum age (20) cannot be lower than the minimum age (40).")
    stored = fresh(db, m.Service, service.id)
    assert (stored.name, stored.minimum_age, stored.last_modified) == ("Pantry", 5, None)
    assert [link.location_id for link in stored.service_at_locations] == [a.id]

    response = post(client, f"{ROOT}/locations/{a.id}/edit", {**GOOD_LOCATION, "name": "Renamed",
                                                               "postal_code": "ABCDE"})
    assert response.status_code == 400
    assert_field_error(page_text(response), "postal_code", "Enter a 5-digit ZIP code")
    stored = fresh(db, m.Location, a.id)
    assert stored.name == "Dock A" and stored.addresses[0].postal_code == "94401"
    assert counts(db) == before


# --- record pages -------------------------------------------------------------------------------

def test_record_pages_show_related_records(client, db, admin, sdoh):
    org = add_org(db, "Coastside Hope", email="info@hope.example.org", website="https://hope.example.org",
                  year_incorporated=1993)
    office = add_location(db, org, "Half Moon Bay Office", city="Half Moon Bay", latitude=37.46, longitude=-122.43,
                          transportation="Bus 17.")
    db.session.add(m.Address(id="addr-postal", location_id=office.id, address_type="postal", address_1="PO Box 1",
                             city="Half Moon Bay", state_province="CA", postal_code="94019", country="US"))
    service = add_service(db, org, "Emergency Food", locations=[office], description="Groceries twice a week.",
                          eligibility_description="Coastside residents.", application_process="Walk in.",
                          fees_description="None.", minimum_age=18, maximum_age=99, status="active",
                          assured_date=date(2024, 2, 29), url="https://hope.example.org/food",
                          email="food@hope.example.org")
    link = service.service_at_locations[0]
    db.session.add_all([
        m.Phone(id="p-org", organization_id=org.id, number="650-555-0100", type="voice"),
        m.Phone(id="p-svc", service_id=service.id, number="650-555-0111", extension=12),
        m.Schedule(id="s-svc", service_id=service.id, freq="WEEKLY", byday="MO,WE", opens_at="09:00",
                   closes_at="12:00"),
        m.Schedule(id="s-sal", service_at_location_id=link.id, freq="WEEKLY", byday="FR", opens_at="13:00",
                   closes_at="16:30", description="Produce day"),
        m.Schedule(id="s-loc", location_id=office.id, freq="WEEKLY", byday="TU", opens_at="08:00", closes_at="17:00"),
        m.Language(id="l-es", service_id=service.id, name="Spanish", code="es"),
        m.Attribute(id="a-food", link_entity="service", link_type="sdoh_domain", link_id=service.id,
                    taxonomy_term_id=sdoh["food-insecurity"].id),
    ])
    db.session.commit()

    org_page = page_text(client.get(f"{ROOT}/organizations/{org.id}"))
    assert_accessible_basics(org_page)
    assert f'href="{ROOT}/services/{service.id}"' in org_page and f'href="{ROOT}/locations/{office.id}"' in org_page
    assert "650-555-0100" in org_page and "1993" in org_page and 'href="https://hope.example.org"' in org_page
    assert f'{ROOT}/services/new?organization_id={org.id}' in org_page

    service_page = page_text(client.get(f"{ROOT}/services/{service.id}"))
    assert_accessible_basics(service_page)
    for text in ("Groceries twice a week.", "Coastside residents.", "Walk in.", "None.", "<dd>18</dd>", "<dd>99</dd>",
                 "2024-02-29", "https://hope.example.org/food", "food@hope.example.org", "Active",
                 "Half Moon Bay Office", "Monday, Wednesday", "09:00–12:00", "Friday", "13:00–16:30",
                 "Produce day", "Spanish", "650-555-0111 ext. 12", "Food Insecurity"):
        assert text in service_page, text

    location_page = page_text(client.get(f"{ROOT}/locations/{office.id}"))
    assert_accessible_basics(location_page)
    for text in ("1 Main St, Half Moon Bay, CA 94401", "PO Box 1, Half Moon Bay, CA 94019", "37.46, -122.43",
                 "Bus 17.", "Emergency Food",
                 "Tuesday", "08:00–17:00", "13:00–16:30", "Coastside Hope"):
        assert text in location_page, text


def test_user_data_is_escaped(client, db, admin):
    org = add_org(db, '<script>alert("x")</script>', website="javascript:alert(1)")
    html = page_text(client.get(f"{ROOT}/organizations/{org.id}"))
    assert "&lt;script&gt;" in html and '<script>alert("x")' not in html
    assert 'href="javascript:' not in html
    assert "&lt;script&gt;" in page_text(client.get(f"{ROOT}/organizations"))


def test_records_with_arbitrary_string_ids(client, db, admin):
    org = add_org(db, "Imported Agency", id="ORG 42:ä?#%")
    page = client.get(f"{ROOT}/organizations/ORG%2042:%C3%A4%3F%23%25")
    assert page.status_code == 200 and "Imported Agency" in page_text(page)
    response = post(client, f"{ROOT}/organizations/ORG%2042:%C3%A4%3F%23%25/edit",
                    {**GOOD_ORG, "name": "Imported Agency (edited)"})
    assert response.status_code == 302
    assert fresh(db, m.Organization, org.id).name == "Imported Agency (edited)"


@pytest.mark.parametrize("path", [
    "organizations/no-such-id", "organizations/no-such-id/edit",
    "services/no-such-id", "services/no-such-id/edit",
    "locations/no-such-id", "locations/no-such-id/edit",
])
def test_unknown_ids_give_404(client, db, admin, path):
    response = client.get(f"{ROOT}/{path}")
    assert response.status_code == 404 and "Page not found" in page_text(response)
    if path.endswith("/edit"):
        token = form_token(client, f"{ROOT}/organizations/new")
        response = client.post(f"{ROOT}/{path}", data={**GOOD_ORG, "csrf_token": token})
        assert response.status_code == 404


# --- who may use the pages ----------------------------------------------------------------------

def directory_routes(app, ids: dict[str, str]) -> tuple[list[str], list[str]]:
    """Every GET and POST URL of the directory blueprint, with real ids filled in."""
    gets, posts = [], []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("directory."):
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda mt: ids[mt.group(1)], rule.rule)
        if "GET" in rule.methods:
            gets.append(url)
        if "POST" in rule.methods:
            posts.append(url)
    return gets, posts


@pytest.fixture()
def records(db):
    org = add_org(db, "Harbor Help")
    location = add_location(db, org, "Dock", city="San Mateo")
    service = add_service(db, org, "Pantry", locations=[location])
    return {"org_id": org.id, "service_id": service.id, "location_id": location.id}


def test_the_route_list_covers_every_page(app, records):
    gets, posts = directory_routes(app, records)
    assert len(gets) == 12 and len(posts) == 6


ATTACK = {"name": "Hacked", "description": "Hacked", "status": "active", "location_type": "virtual",
          "organization_id": "", "country": "US"}


@pytest.mark.parametrize("role", ["coordinator", "partner"])
def test_coordinators_and_partners_are_refused(app, client, db, login_as, records, role):
    login_as(role)
    # A token valid for this very session (the sign-out form's), so only the role check can refuse.
    token = csrf_token_from(page_text(client.get("/")))
    gets, posts = directory_routes(app, records)
    before = counts(db)
    for url in gets:
        assert client.get(url).status_code == 403, url
    for url in posts:
        response = client.post(url, data={**ATTACK, "csrf_token": token})
        assert response.status_code == 403, url
    assert counts(db) == before
    assert fresh(db, m.Organization, records["org_id"]).name == "Harbor Help"
    # The token was good: signing out with it works.
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def test_visitors_are_sent_to_sign_in(app, client, db, records):
    token = csrf_token_from(page_text(client.get("/login")))
    gets, posts = directory_routes(app, records)
    before = counts(db)
    for url in gets:
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url
    for url in posts:
        response = client.post(url, data={**ATTACK, "csrf_token": token})
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url
    assert counts(db) == before


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_a_post_without_a_valid_csrf_token_is_rejected(client, db, admin, records, token):
    before = counts(db)
    data = {**GOOD_ORG, "name": "Forged"}
    if token:
        data["csrf_token"] = token
    for url in (f"{ROOT}/organizations/new", f"{ROOT}/organizations/{records['org_id']}/edit"):
        assert client.post(url, data=data).status_code == 400, url
    assert client.post(f"{ROOT}/services/{records['service_id']}/edit",
                       data={**GOOD_SERVICE, "organization_id": records["org_id"]}).status_code == 400
    assert counts(db) == before
    assert fresh(db, m.Organization, records["org_id"]).name == "Harbor Help"
