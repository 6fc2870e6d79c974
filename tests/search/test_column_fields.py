"""Fields the search reads only as columns (coordinates, ages, the name order) have no postings,
and the filters and orders that read them answer exactly as the postings did: the age filter finds
the services whose age range holds the age (also in an index of several segments with deleted
documents), the radius and the distance order use the coordinates' columns."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from referralnet.directory import models as m
from referralnet.search.documents import active_service_ids, documents_for
from referralnet.search.index import open_index, rebuild_index, update_services
from referralnet.search.schema import SCHEMA_VERSION, ColumnID, ColumnNUMERIC, build_schema
from referralnet.search.service import SearchQuery, search_matches

COLUMN_ONLY = ("id", "lat", "lon", "min_age", "max_age", "name_sort")


@pytest.fixture(autouse=True)
def whoosh_backend(app, monkeypatch, whoosh_only):
    monkeypatch.setitem(app.config, "SEARCH_BACKEND", "whoosh")


def _ranges() -> dict[str, tuple[int, int]]:
    return {d["id"]: (d["min_age"], d["max_age"]) for d in documents_for(active_service_ids())}


def _expected_for_age(age: int, ranges: dict | None = None) -> set[str]:
    """Document ids whose age range holds `age`, from the documents themselves."""
    return {doc_id for doc_id, (low, high) in (ranges or _ranges()).items() if low <= age <= high}


def _found_for_age(age: int) -> set[str]:
    return {h.doc_id for h in search_matches(SearchQuery(age=age))}


def _edge_ages(ranges: dict) -> list[int]:
    """Every age at or next to an age limit of the directory (the filter accepts 0 to 130)."""
    ages = {0, 130}
    for pair in ranges.values():
        for a in pair:
            ages.update({a - 1, a, a + 1})
    return sorted(a for a in ages if 0 <= a <= 130)


def test_column_only_fields_have_columns_and_no_postings(demo):
    rebuild_index()
    schema = build_schema()
    assert int(SCHEMA_VERSION) >= 8  # an index of version 7 (with these postings) is rebuilt when opened
    with open_index().searcher() as s:
        r = s.reader()
        indexed = set(r.indexed_field_names())
        for name in COLUMN_ONLY:
            assert isinstance(schema[name], (ColumnNUMERIC, ColumnID))
            assert name not in indexed
            assert list(r.lexicon(name)) == []
            assert r.has_column(name)
        assert "location_id" not in indexed  # stored only
        # The ages and ids are still stored (hits, result cards and the API read them).
        stored = next(fields for _, fields in r.iter_docs() if fields.get("location_id"))
        assert isinstance(stored["min_age"], int) and isinstance(stored["max_age"], int)
        assert stored["id"] and stored["service_id"]


def test_the_age_filter_finds_exactly_the_services_whose_range_holds_the_age(demo):
    ranges = _ranges()
    ages = _edge_ages(ranges)
    assert len(ages) > 6  # the demo directory has services with age limits
    narrowed = 0
    for age in ages:
        expected = _expected_for_age(age, ranges)
        assert _found_for_age(age) == expected, age
        narrowed += len(expected) < len(ranges)
    assert narrowed  # some age leaves some services out


def test_the_age_filter_follows_changes_in_a_new_segment(demo):
    """A changed service is re-indexed in a new segment (its old document deleted): the filter reads
    each segment's columns with its deletions."""
    rebuild_index()
    svc = demo.session.scalars(select(m.Service).where(m.Service.status == "active")
                               .order_by(m.Service.id)).first()
    svc.minimum_age, svc.maximum_age = 41, 43
    demo.session.commit()
    update_services([svc.id])
    assert len(open_index()._read_toc().segments) >= 2
    for age in (40, 41, 42, 43, 44):
        found = _found_for_age(age)
        assert found == _expected_for_age(age), age
        mine = {d["id"] for d in documents_for([svc.id])}
        assert (mine <= found) == (41 <= age <= 43), age
    # The old document's ages (deleted in its segment) no longer match.
    assert not mine & _found_for_age(0)


def test_an_age_search_combines_with_text_and_other_filters(demo):
    ranges = _ranges()
    for age in (8, 25, 70):
        with_text = {h.doc_id for h in search_matches(SearchQuery(text="food", age=age))}
        text_only = {h.doc_id for h in search_matches(SearchQuery(text="food"))}
        assert with_text == text_only & _expected_for_age(age, ranges)


def test_distance_order_and_radius_read_the_coordinate_columns(demo):
    from referralnet.geo import distance_miles, locate

    origin = locate("94063")
    results = search_matches(SearchQuery(near="94063", radius_miles=5, sort="distance"))
    expected = set()
    for d in documents_for(active_service_ids()):
        if "lat" in d and distance_miles((origin.latitude, origin.longitude), (d["lat"], d["lon"])) <= 5:
            expected.add(d["id"])
    assert {h.doc_id for h in results} == expected
    distances = [h.distance_miles for h in results]
    assert distances == sorted(distances) and distances
