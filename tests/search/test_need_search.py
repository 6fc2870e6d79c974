"""Search that understands everyday words, on the demo directory: several words where only some
match, Spanish, spelling that leaves real words alone, crisis lines, and why each result matched."""
from __future__ import annotations

import pytest

from referralnet.search.service import SearchQuery, search, search_matches


def top(text: str, n: int = 5, **kwargs) -> list[str]:
    return [h.service_name for h in search(SearchQuery(text=text, per_page=n, **kwargs)).hits]


@pytest.mark.parametrize("text,expected", [
    ("cheap dentist", "Project Smile"),  # "cheap" is in no dental record: it only adds weight
    ("help paying rent", "Emergency Rental Assistance"),
    ("i am getting evicted and need a lawyer", "Eviction Defense"),
    ("food for my kids tonight", "Weekly Grocery Pantry"),
    ("somewhere to sleep tonight", "Emergency Shelter Beds"),
])
def test_several_words_find_the_services_that_match_the_important_ones(demo, text, expected):
    assert expected in top(text)


def test_every_word_is_not_required_but_matching_more_of_them_ranks_higher(demo):
    results = search(SearchQuery(text="dentist okapi", per_page=5))
    assert results.total > 0  # "okapi" is nowhere in the directory
    assert "Project Smile" in [h.service_name for h in results.hits]
    both = search(SearchQuery(text="rides dialysis", per_page=100))
    names = [h.service_name for h in both.hits]
    assert names[0] == "Rides to Medical Appointments"  # the one place that says both
    assert len(names) > 1  # ...and services that only give rides follow


def test_ride_to_the_doctor_near_a_zip(demo):
    results = search(SearchQuery(text="ride to the doctor", near="94401", radius_miles=10))
    assert results.total and "Rides to Medical Appointments" in [h.service_name for h in results.hits]


@pytest.mark.parametrize("text,expected", [
    ("comida", "Weekly Grocery Pantry"),
    ("no tengo para comer", "Weekly Grocery Pantry"),
    ("ayuda para pagar la renta", "Emergency Rental Assistance"),
    ("me van a desalojar", "Eviction Defense"),
    ("necesito un abogado de inmigracion", "Immigration Legal Consultations"),
    ("dentista barato", "Project Smile"),
])
def test_spanish_queries(demo, text, expected):
    assert expected in top(text)


def test_a_real_word_is_never_corrected_and_a_typo_is(demo):
    for text in ["cheap dentist", "help paying rent", "comida"]:
        results = search(SearchQuery(text=text))
        assert results.did_you_mean is None and results.corrected_from is None, text
    results = search(SearchQuery(text="emergancy sheltr"))
    assert results.corrected_from == "emergancy sheltr" and results.did_you_mean == "emergency shelter"
    assert "Emergency Shelter Beds" in [h.service_name for h in results.hits]


def test_crisis_queries_show_the_crisis_line_first(demo):
    results = search(SearchQuery(text="my husband hits me"))
    assert [c.name for c in results.crisis] == ["National Domestic Violence Hotline"]
    assert results.crisis[0].phone == "1-800-799-7233"
    assert search(SearchQuery(text="i want to kill myself")).crisis[0].phone == "988"
    assert search(SearchQuery(text="food pantry")).crisis == []


def test_each_result_says_why_it_matched(demo):
    results = search(SearchQuery(text="eviction", per_page=20))
    why = {h.service_name: h.why for h in results.hits}
    assert why["Eviction Defense"] == ["eviction"]  # the word itself
    assert any(reasons == ["eviction → tenant legal help"] for reasons in why.values())  # what it was taken to mean
    assert results.expanded == [("eviction", ["tenant legal help"])]
    matches = search_matches(SearchQuery(text="eviction"))
    assert all(m.why for m in matches)


def test_the_page_shows_crisis_lines_explanations_and_corrections(client, demo, login_as):
    login_as("coordinator")
    page = client.get("/search?q=my+husband+hits+me").get_data(as_text=True)
    assert "If someone is in danger right now, call 911." in page
    assert page.index("National Domestic Violence Hotline") < page.index('id="results-heading"')
    assert 'href="tel:18007997233"' in page
    page = client.get("/search?q=eviction").get_data(as_text=True)
    assert "Understood as: eviction → tenant legal help" in page
    assert "Matched: eviction → tenant legal help" in page and "Matched: eviction<" in page
    assert "call 911" not in page
    page = client.get("/search?q=dentis").get_data(as_text=True)
    assert "Showing results for “dentist” (spelling corrected from “dentis”)." in page


@pytest.mark.parametrize("text", ["cheap dentist", "help paying rent", "no tengo para comer", "rides dialysis okapi"])
def test_scoring_only_the_found_documents_ranks_as_scoring_the_whole_index(demo, monkeypatch, text, whoosh_only):
    from referralnet.search import service
    from referralnet.search.engine import clear_caches
    from referralnet.search.index import forget_searchers

    def ranked(sparse_max):
        monkeypatch.setattr(service, "SPARSE_MAX", sparse_max)
        clear_caches()
        forget_searchers()  # a new searcher: nothing of the last ranking kept
        return [(h.doc_id, round(h.score, 9)) for h in search(SearchQuery(text=text, per_page=100)).hits]

    whole, sparse = ranked(0), ranked(10**9)
    assert whole and whole == sparse
