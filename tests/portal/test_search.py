"""What a partner changes on the listing pages is what the search shows, right after the request."""
from __future__ import annotations

from referralnet.search.service import SearchQuery, search
from tests.conftest import form_token

ROOT = "/partner/listings"


def service_ids(query: SearchQuery) -> set[str]:
    return {hit.card["service_id"] for hit in search(query).hits}


def test_switching_accepting_off_takes_the_service_out_of_accepting_searches(client, partner):
    accepting = SearchQuery(text="Harbor Pantry", accepting_only=True)
    assert "svc-pantry" in service_ids(accepting)
    token = form_token(client, ROOT)
    assert client.post(f"{ROOT}/svc-pantry/accepting", data={"csrf_token": token, "accepting": "no"}).status_code == 302
    assert "svc-pantry" not in service_ids(accepting)
    assert "svc-pantry" in service_ids(SearchQuery(text="Harbor Pantry"))  # still found without the filter
    client.post(f"{ROOT}/svc-pantry/accepting", data={"csrf_token": token, "accepting": "yes"})
    assert "svc-pantry" in service_ids(accepting)


def test_a_capacity_change_shows_on_the_search_card(client, partner):
    def card():
        return next(h.card for h in search(SearchQuery(text="Harbor Shelter")).hits
                    if h.card["service_id"] == "svc-shelter")

    assert card()["capacity"] == {"available": 3, "maximum": 20, "unit": "beds"}
    url = f"{ROOT}/svc-shelter/capacity"
    response = client.post(url, data={"csrf_token": form_token(client, url), "available": "0", "maximum": "24",
                                      "unit": "cots"})
    assert response.status_code == 302
    assert card()["capacity"] == {"available": 0, "maximum": 24, "unit": "cots"}
    html = client.get("/search?q=Harbor+Shelter").get_data(as_text=True)
    assert "Full (cots)" in html


def test_a_refused_change_does_not_reach_the_search(client, partner):
    url = f"{ROOT}/svc-shelter/capacity"
    response = client.post(url, data={"csrf_token": form_token(client, url), "available": "30", "maximum": "24"})
    assert response.status_code == 400
    card = next(h.card for h in search(SearchQuery(text="Harbor Shelter")).hits)
    assert card["capacity"]["available"] == 3


def test_new_hours_show_in_the_search(client, partner):
    monday_noon = (0, 12 * 60)
    assert "svc-shelter" not in service_ids(SearchQuery(text="Harbor Shelter", open_at=monday_noon))
    url = f"{ROOT}/svc-shelter/hours/loc-main"
    data = {"csrf_token": form_token(client, url), "rows-0-day": "MO", "rows-0-opens": "09:00",
            "rows-0-closes": "17:00"}
    assert client.post(url, data=data).status_code == 302
    assert "svc-shelter" in service_ids(SearchQuery(text="Harbor Shelter", open_at=monday_noon))
