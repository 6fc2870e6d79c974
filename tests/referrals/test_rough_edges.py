"""Issue 13's walkthrough, the staff side: each rough edge a new user hit, with the fix tested.

Search and referring (query kept, need preselected, "1 mile", dates of birth as US staff type them),
the referral page (reasons and outcomes in words, a refused move lands on the referral page), the
lists (no "Response due" on finished referrals), the directory pages (fax numbers, capacity times,
the hours form), the audit log, and `make run`'s output.
"""
from __future__ import annotations

import logging
import re
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from referralnet.demo import load_demo_data
from referralnet.directory.models import Address, Phone, ServiceCapacity
from referralnet.errors import ValidationFailed
from referralnet.referrals import services as sv
from referralnet.referrals.models import Client, Referral, Status
from tests.conftest import csrf_token_from
from tests.referrals.test_pages import act, text, web  # noqa: F401  (web: a fixture)


# --- search -> refer ---------------------------------------------------------------------------

@pytest.fixture()
def demo(db):
    load_demo_data(echo=lambda *_: None)
    db.session.commit()
    return db


def test_search_keeps_its_query_back_from_a_service_and_after_refer_with_nothing_ticked(client, demo, login_as):
    login_as("coordinator")
    search_url = "/search?q=food+pantry&near=94063&radius=1"
    page = text(client.get(search_url))
    # "1 mile", never "1 miles" (the radius option and the summary).
    assert ">1 mile<" in page and "1 miles" not in page
    # A result links to its service page with the way back; "Back to search" is that search.
    service_link = re.search(r'<h3><a href="(/services/[^"]+)">', page).group(1).replace("&amp;", "&")
    assert "back=" in service_link
    service_page = text(client.get(service_link))
    back = re.search(r'<a href="([^"]+)">Back to search</a>', service_page).group(1).replace("&amp;", "&")
    assert back == search_url
    # "Refer" with nothing ticked: back to the same search, saying what to do.
    form_back = re.search(r'<input type="hidden" name="back" value="([^"]+)">', page).group(1).replace("&amp;", "&")
    response = client.get("/referrals/new", query_string={"back": form_back})
    assert response.status_code == 302 and response.headers["Location"] == search_url
    assert "tick the ones that fit" in text(client.get(response.headers["Location"]))


def test_the_way_back_never_leaves_the_site(client, demo, login_as):
    login_as("coordinator")
    for evil in ("https://evil.example/search?q=x", "//evil.example/search", "/admin/users", "/\\evil.example"):
        response = client.get("/referrals/new", query_string={"back": evil})
        assert response.status_code == 302 and response.headers["Location"] == "/search", evil
        service = demo.session.scalar(select(Referral.service_id)) or "svc"
        page = text(client.get(f"/services/{service}", query_string={"back": evil}))
        assert "evil.example" not in page and 'href="/admin/users">Back' not in page


def test_the_need_is_preselected_from_the_searchs_domain(client, demo, login_as, db):
    user = login_as("coordinator")
    page = text(client.get("/search?q=food+pantry"))
    assert '<input type="hidden" name="need" value="food-insecurity">' in page
    service_id = re.search(r'name="service" value="([^"]+)"', page).group(1)
    person = sv.create_client(user, given_name="Ana", family_name="Ruiz", date_of_birth="04/23/1980")
    db.session.commit()
    form = text(client.get(f"/clients/{person.id}/refer", query_string={"service": service_id,
                                                                       "need": "food-insecurity"}))
    assert re.search(r'<option selected value="food-insecurity">|<option value="food-insecurity" selected', form)
    # Through "choose the client" too (the need travels with the ticked services).
    chooser = client.get("/referrals/new", query_string={"service": service_id, "need": "food-insecurity"})
    assert "need=food-insecurity" in chooser.headers["Location"]
    # A ticked domain filter wins; two domains (or none understood) preselect nothing.
    assert 'name="need" value="housing-instability"' in text(client.get("/search?q=help&domain=housing-instability"))
    two = text(client.get("/search?q=help&domain=housing-instability&domain=food-insecurity"))
    assert 'name="need"' not in two


@pytest.mark.parametrize("typed, expected", [
    ("04/23/1980", date(1980, 4, 23)), ("4/3/1980", date(1980, 4, 3)), ("04-23-1980", date(1980, 4, 23)),
    ("1980-04-23", date(1980, 4, 23)), (" 12/31/1999 ", date(1999, 12, 31)),
])
def test_dates_of_birth_as_us_staff_type_them_and_iso(db, world, typed, expected):
    person = sv.create_client(world.coordinator, given_name="Ana", family_name="Ruiz", date_of_birth=typed)
    assert person.date_of_birth == expected


@pytest.mark.parametrize("typed", ["23/04/1980", "04/23/80", "13/01/1980", "1980/04/23", "April 23"])
def test_an_unreadable_date_of_birth_says_how_to_type_it(db, world, typed):
    with pytest.raises(ValidationFailed) as refused:
        sv.create_client(world.coordinator, given_name="Ana", family_name="Ruiz", date_of_birth=typed)
    assert "month/day/year with a 4-digit year, like 04/23/1980" in refused.value.errors["date_of_birth"][0]
    assert db.session.scalar(select(Client).where(Client.given_name == "Ana")) is None


def test_the_client_form_accepts_mm_dd_yyyy(web, db):
    http = web.as_(web.coordinator)
    page = text(http.get("/clients/new"))
    assert "Month/day/year, for example 04/23/1980." in page
    response = http.post("/clients/new", data={"given_name": "Sam", "family_name": "Reyes",
                                               "date_of_birth": "04/23/1980", "contact_preference": "phone",
                                               "phone": "(650) 555-0100", "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302
    assert db.session.scalar(select(Client.date_of_birth).where(Client.family_name == "Reyes")) == date(1980, 4, 23)


# --- the referral page ---------------------------------------------------------------------------

def test_outcomes_and_reasons_are_words_never_codes(web, db, make_referral):
    referral = make_referral(Status.ACCEPTED)
    db.session.commit()
    partner = web.as_(web.partner)
    refused = act(partner, referral.id, "completed")
    page = text(partner.get(refused.headers["Location"]))
    assert "Choose an outcome." in page
    for code in ("got-help", "did-not-get-help", "(partly"):
        assert f"({code}" not in page and f"Choose an outcome ({code}" not in page
    with pytest.raises(ValidationFailed) as bad:
        sv.change_status(referral, Status.COMPLETED, web.partner, outcome="great")
    assert "“Got help”, “Partly helped”, “Did not get help”" in bad.value.message
    with pytest.raises(ValidationFailed) as bad:
        sv.change_status(referral, Status.ON_HOLD, web.partner, reason="bored")
    assert "“Waiting on the client”" in bad.value.message and "waiting-on-client" not in bad.value.message


def test_a_refused_move_lands_on_the_referral_page_with_what_was_typed(web, db, make_referral):
    referral = make_referral(Status.ACCEPTED)
    db.session.commit()
    partner = web.as_(web.partner)
    refused = act(partner, referral.id, "completed", note="Delivered groceries twice.")
    assert refused.status_code == 303 and refused.headers["Location"] == f"/referrals/{referral.id}"
    page = text(partner.get(refused.headers["Location"]))
    assert "Delivered groceries twice." in page  # the note typed is still there, to finish the form
    assert 'aria-invalid="true"' in page
    again = text(partner.get(f"/referrals/{referral.id}"))  # shown once
    assert "Delivered groceries twice." not in again and "Choose an outcome." not in again
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "accepted"


# --- lists ------------------------------------------------------------------------------------------

def test_finished_lists_show_how_each_ended_not_a_response_due(web, db, make_referral):
    make_referral(Status.COMPLETED)
    make_referral(Status.REQUESTED)
    db.session.commit()
    coordinator = web.as_(web.coordinator)
    to_close = text(coordinator.get("/worklist?view=to-close"))
    assert "Finished, loop not closed" in to_close
    assert "Response due" not in to_close and "How it ended" in to_close and "Got help" in to_close
    assert "Response due" in text(coordinator.get("/worklist?view=waiting"))
    finished = text(web.as_(web.partner).get("/inbox?view=finished"))
    assert "Response due" not in finished and "How it ended" in finished


# --- directory pages ------------------------------------------------------------------------------

def test_fax_numbers_are_labelled_and_never_tel_links(web, db, make_referral):
    db.session.add_all([Phone(id="ph-voice", service_id="svc-pantry", number="650 555 0101", type="voice"),
                        Phone(id="ph-fax", service_id="svc-pantry", number="650 555 0102", type="fax")])
    referral = make_referral()
    db.session.commit()
    page = text(web.as_(web.coordinator).get("/services/svc-pantry"))
    assert 'href="tel:6505550101"' in page
    assert "Fax: 650 555 0102" in page and "tel:6505550102" not in page
    from referralnet.referrals import patient_links

    token = patient_links.ensure_link(referral)
    db.session.commit()
    patient = text(web.http.get(f"/s/{token}?lang=en"))
    assert "tel:6505550102" not in patient


def test_capacity_updated_is_in_the_agencys_local_time(web, db):
    db.session.add(Address(id="addr-east", location_id="loc-eastside", address_1="1 Main St", city="Boston",
                           state_province="MA", postal_code="02108", country="US", address_type="physical"))
    db.session.add(ServiceCapacity(id="cap-1", service_id="svc-pantry", available=3, maximum=10, unit="boxes",
                                   updated=datetime(2026, 11, 23, 2, 30, tzinfo=timezone.utc)))
    db.session.commit()
    # 02:30 UTC on Nov 23 is 9:30 PM on Nov 22 in Boston (EST): the agency's day, not the server's.
    listings = text(web.as_(web.partner).get("/partner/listings"))
    assert "Nov 22, 2026, 9:30 PM EST" in listings and "UTC" not in listings
    service = text(web.as_(web.coordinator).get("/services/svc-pantry"))
    assert "capacity updated Nov 22, 2026, 9:30 PM EST" in service


def test_the_hours_form_has_24_hour_inputs_and_adds_rows_without_saving(web, db):
    partner = web.as_(web.partner)
    url = "/partner/listings/svc-pantry/hours/loc-eastside"
    page = text(partner.get(url))
    assert 'type="time"' not in page and 'placeholder="HH:MM"' in page
    rows = len(re.findall(r'name="rows-\d+-day"', page))
    data = {"csrf_token": csrf_token_from(page), "add_row": "1", "rows-0-day": "MO", "rows-0-opens": "09:00",
            "rows-0-closes": "17:00"}
    data.update({f"rows-{i}-day": "" for i in range(1, rows)})
    for _ in range(3):  # past the four blank rows, without saving
        response = partner.post(url, data=data)
        assert response.status_code == 200
        page = text(response)
        rows_now = len(re.findall(r'name="rows-\d+-day"', page))
        assert rows_now == rows + 1
        rows = rows_now
        data.update({f"rows-{rows - 1}-day": ""})
    assert 'value="09:00"' in page  # what was typed is kept
    from referralnet.directory.models import Schedule

    assert db.session.scalar(select(Schedule).where(Schedule.location_id == "loc-eastside")) is None


def test_the_hours_form_title_names_the_place_only_when_it_adds_something(web, db):
    from referralnet.directory.models import Location

    db.session.get(Location, "loc-eastside").name = "Eastside Pantry"  # the same as the service's name
    db.session.commit()
    page = text(web.as_(web.partner).get("/partner/listings/svc-pantry/hours/loc-eastside"))
    heading = re.search(r"<h1>(.*?)</h1>", page).group(1)
    assert heading == "Opening hours of Eastside Pantry"
    assert page.count("Eastside Pantry") <= 3  # title, heading, and no repeat in the lead paragraph


# --- the audit log and make run -----------------------------------------------------------------

def test_make_run_prints_no_per_event_lines_and_one_count(runner, db, app, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("referralnet.notifications.outbox"), "disabled", False)
    caplog.set_level(logging.INFO)
    loaded = runner.invoke(args=["demo", "load"])
    assert loaded.exit_code == 0, loaded.output
    assert not [r for r in caplog.records if r.levelno >= logging.INFO and "referral event" in r.getMessage()]
    active = int(re.search(r"Demo data loaded: (\d+) active services", loaded.output).group(1))
    indexed = runner.invoke(args=["search", "reindex"])
    assert indexed.exit_code == 0, indexed.output
    counts = re.findall(r"(\d+) active services", indexed.output)
    assert counts == [str(active)]  # the same number as the demo load said, said once
    assert "for 0 services" not in indexed.output and len(re.findall(r"Indexed \d+ documents", indexed.output)) == 1
