"""Searches that found nothing are counted in aggregate (need, domain, ZIP3, count), never with the
words typed or who was searched for, and reported to the network office and to the searching
organization only."""
from __future__ import annotations

from sqlalchemy import select

from referralnet.reports.models import SearchGap
from tests.reports.test_access import sign_in


def test_an_empty_search_is_counted_without_its_words(client, login, db, network, cell_size):
    cell_size(0)
    sign_in(client, login, network.coord_a)
    for _ in range(2):
        # No service of the network speaks Vietnamese: nothing found.
        assert client.get("/search?q=food+pantry+for+Maria+Lopez&near=94063&language=vi").status_code == 200
    assert client.get("/search?domain=digital-access").status_code == 200
    rows = db.session.execute(select(SearchGap.need, SearchGap.domain, SearchGap.zip3, SearchGap.count,
                                     SearchGap.organization_id)).all()
    by_need = {row.need: row for row in rows}
    food = [row for row in rows if row.domain == "food-insecurity"]
    assert food and all(row.zip3 == "940" and row.count == 2 for row in food)
    # No words, a domain filter, no place.
    assert (by_need[""].domain, by_need[""].zip3, by_need[""].count) == ("digital-access", "", 1)
    assert {row.organization_id for row in rows} == {network.clinic_a.id}
    stored = " ".join(str(value) for row in rows for value in row).lower()
    for word in ("maria", "lopez", "94063", "vi"):
        assert word not in stored
    page = client.get("/reports").get_data(as_text=True)
    assert "Searches that found nothing" in page and "940" in page
    # Another clinic does not see clinic A's searches; the network office does.
    sign_in(client, login, network.coord_b)
    assert "940" not in client.get("/reports/unmet-searches.csv").get_data(as_text=True)
    sign_in(client, login, network.admin)
    assert "940" in client.get("/reports/unmet-searches.csv").get_data(as_text=True)


def test_a_search_that_found_something_is_not_counted(client, login, db, network):
    from referralnet.search.service import SearchQuery, SearchResults
    from referralnet.search.signals import announce_search

    results = SearchResults(query=SearchQuery(text="food"), hits=[], total=3, page=1, per_page=20, facets={})
    announce_search(results, organization_id=network.clinic_a.id)
    later_page = SearchResults(query=SearchQuery(text="food", page=2), hits=[], total=0, page=2, per_page=20,
                               facets={})
    announce_search(later_page, organization_id=network.clinic_a.id)
    assert db.session.scalars(select(SearchGap)).all() == []
