"""The coordinator's search page and service page over HTTP."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from referralnet.directory import models as m


def test_search_needs_sign_in(client, demo):
    response = client.get("/search?q=food")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    service = demo.session.scalar(select(m.Service).where(m.Service.status == "active"))
    assert client.get(f"/services/{service.id}").status_code == 302


@pytest.mark.parametrize("role", ["coordinator", "partner", "admin"])
def test_signed_in_users_can_search(client, demo, login_as, role):
    login_as(role)
    page = client.get("/search?q=food+stamps&near=94063&radius=10&sort=distance").get_data(as_text=True)
    assert "CalFresh Application Help" in page
    assert "Understood as: food stamps →" in page
    assert "Matched: food stamps →" in page  # each result says why it matched
    assert "miles" in page


def test_search_page_shows_did_you_mean_and_filters(client, demo, login_as):
    login_as("coordinator")
    page = client.get("/search?q=sheltr").get_data(as_text=True)
    assert "Showing results for “shelter” (spelling corrected from “sheltr”)." in page
    page = client.get("/search?q=&domain=homelessness&language=es&accepting=y").get_data(as_text=True)
    assert "Emergency Shelter Beds" in page


def test_bad_search_input_is_explained(client, demo, login_as):
    login_as("coordinator")
    response = client.get("/search?q=food&near=00000&radius=5")
    assert response.status_code == 400
    assert "00000 is not a known US ZIP code." in response.get_data(as_text=True)
    response = client.get("/search?q=food&when=at&day=2&time=25:99")
    assert response.status_code == 400
    assert "Enter the time as HH:MM" in response.get_data(as_text=True)
    response = client.get("/search?q=food&age=-4")
    assert response.status_code == 400 and "Enter an age from 0 to 130." in response.get_data(as_text=True)
    response = client.get("/search?q=food&language=klingon")
    assert response.status_code == 400
    assert client.get("/search?q=food&page=banana").status_code == 200


def test_pagination_links_keep_the_filters(client, demo, login_as):
    login_as("coordinator")
    page = client.get("/search?q=&domain=legal-needs&domain=homelessness&language=").get_data(as_text=True)
    assert "Next page" not in page or "domain=legal-needs" in page
    page = client.get("/search?when=any").get_data(as_text=True)
    assert "Next page" in page and "page=2" in page


def test_service_page_has_what_a_coordinator_needs(client, demo, login_as):
    login_as("coordinator")
    service = demo.session.scalar(select(m.Service).where(m.Service.name == "CalFresh Application Help"))
    page = client.get(f"/services/{service.id}").get_data(as_text=True)
    for needle in ["Who can get help", "How to apply", "What to bring", "Fees", "Opening hours", "Phone",
                   "410 Alder Grove Way", "Listing last verified"]:
        assert needle in page, needle
    docs = demo.session.scalars(select(m.RequiredDocument).where(m.RequiredDocument.service_id == service.id)).all()
    for doc in docs:
        assert doc.document in page


def test_service_page_hides_confidential_address(client, demo, login_as):
    login_as("coordinator")
    loc = demo.session.scalar(select(m.Location).where(m.Location.latitude.is_not(None)))
    loc.address_confidential = True
    demo.session.commit()
    sal = demo.session.scalar(select(m.ServiceAtLocation).where(m.ServiceAtLocation.location_id == loc.id))
    address = demo.session.scalar(select(m.Address).where(m.Address.location_id == loc.id))
    page = client.get(f"/services/{sal.service_id}").get_data(as_text=True)
    assert "Confidential location" in page
    assert address.address_1 not in page
    search_page = client.get("/search?q=" + sal.service.name.replace(" ", "+")).get_data(as_text=True)
    assert address.address_1 not in search_page


def test_inactive_or_unknown_service_page_is_404(client, demo, login_as):
    login_as("coordinator")
    inactive = demo.session.scalar(select(m.Service).where(m.Service.status == "inactive"))
    assert client.get(f"/services/{inactive.id}").status_code == 404
    assert client.get("/services/no-such-id").status_code == 404


def test_partner_turning_off_referrals_shows_at_once(client, demo, login_as):
    login_as("coordinator")
    service = demo.session.scalar(select(m.Service).where(m.Service.name == "CalFresh Application Help"))
    service.accepting_referrals = False
    demo.session.commit()
    page = client.get("/search?q=calfresh").get_data(as_text=True)
    assert "Not accepting referrals" in page
    assert "CalFresh Application Help" not in client.get("/search?q=calfresh&accepting=y").get_data(as_text=True)
