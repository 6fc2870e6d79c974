"""The search service on real data (San Mateo) and the demo agencies: text, synonyms, spelling,
filters, distance, hours in each place's time zone, and the index following the database."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from referralnet.directory import models as m
from referralnet.directory.hours import SLOT_MINUTES, WEEK_SLOTS, build_hours, slot_name
from referralnet.directory.sdoh import sdoh_terms
from referralnet.errors import ValidationFailed
from referralnet.geo import distance_miles, locate
from referralnet.search.backend import current_backend
from referralnet.search.service import SearchQuery, search


def names(results) -> list[str]:
    return [h.service_name for h in results.hits]


def all_hits(**kwargs):
    return search(SearchQuery(per_page=100, **kwargs))


# --- text ----------------------------------------------------------------------------------------

def test_import_commit_indexes_every_active_service(demo):
    active = demo.session.scalars(select(m.Service).where(m.Service.status == "active")).all()
    assert current_backend().document_count() >= len(active)
    indexed = {h.service_id for h in all_hits().hits} | {
        h.service_id for page in range(2, 4) for h in search(SearchQuery(per_page=100, page=page)).hits}
    assert {s.id for s in active} == indexed


def test_free_text_with_stemming(demo):
    # "pantries" finds "Pantry" through the stemmer; the San Mateo data's meal programs through "meals".
    assert "Weekly Grocery Pantry" in names(all_hits(text="pantries"))
    assert "Meals on Wheels - South County" in names(all_hits(text="meal"))


def test_name_matches_rank_above_description_matches(demo):
    results = all_hits(text="shelter")
    assert results.hits[0].service_name.lower().count("shelter") >= 1


@pytest.mark.parametrize("lay,expected", [
    ("food stamps", "CalFresh Application Help"),
    ("rent help", "Emergency Rental Assistance"),
    ("ride to the doctor", "Senior Rides to Appointments"),
])
def test_lay_language_synonyms(demo, lay, expected):
    results = all_hits(text=lay)
    assert expected in names(results)
    assert results.expanded  # the page can say what the words were taken to mean


def test_typo_gets_results_and_did_you_mean(demo):
    results = all_hits(text="fod pantry")
    assert results.corrected_from == "fod pantry"
    assert results.did_you_mean == "food pantry"
    assert "Weekly Grocery Pantry" in names(results)


def test_correct_spelling_gets_no_suggestion(demo):
    results = all_hits(text="shelter")
    assert results.did_you_mean is None and results.total > 0


# --- filters --------------------------------------------------------------------------------------

def test_domain_filter_and_facets(demo):
    food = all_hits(domains=["food-insecurity"])
    assert food.total >= 3
    for hit in food.hits:
        assert "food-insecurity" in hit.domains
    everything = all_hits()
    # Facets leave the domain filter out: each count is what choosing that domain gives.
    assert food.facets["food-insecurity"] == food.total
    assert food.facets == everything.facets
    assert everything.facets["homelessness"] == all_hits(domains=["homelessness"]).total


def test_words_alone_count_their_total_and_facets_exactly(demo):
    """A search of words alone counts its matches and their domains from its postings (postgres:
    their domain bits, migration 0024): each total and facet is what the hits themselves say, with
    one domain, several, or a domain no service has."""
    for words in ("food", "food pantry", "help paying rent", "legal aid", "comida", "job training"):
        everything = all_hits(text=words)
        assert everything.total == len(everything.hits) > 0, words
        domains_of = [set(h.domains) for h in everything.hits]
        assert everything.facets == {code: sum(code in d for d in domains_of)
                                     for code in set().union(*domains_of)}, words
        codes = sorted(everything.facets)
        several = [codes[:2], codes[-2:], ["digital-literacy", codes[0]], ["digital-literacy"]]
        for wanted in [[c] for c in codes] + several:
            narrowed = all_hits(text=words, domains=wanted)
            kept = [h.doc_id for h, d in zip(everything.hits, domains_of) if d & set(wanted)]
            assert narrowed.total == len(narrowed.hits) == len(kept), (words, wanted)
            assert [h.doc_id for h in narrowed.hits] == kept
            assert narrowed.facets == everything.facets


def test_language_filter_by_code_or_name(demo):
    by_code = all_hits(language="vi")
    by_name = all_hits(language="Vietnamese")
    assert by_code.total > 0 and by_code.total == by_name.total
    for hit in by_code.hits:
        assert "Vietnamese" in hit.languages


def test_accepting_and_free_filters(demo):
    service = demo.session.scalar(select(m.Service).where(m.Service.name == "Weekly Grocery Pantry"))
    service.accepting_referrals = False
    demo.session.commit()
    accepting = names(all_hits(text="pantry", accepting_only=True))
    assert "Weekly Grocery Pantry" not in accepting
    assert "Weekly Grocery Pantry" in names(all_hits(text="pantry"))
    for hit in all_hits(free_only=True).hits:
        assert hit.free is True
    assert all_hits(free_only=True).total < all_hits().total


def test_age_filter(demo):
    seniors_only = {h.service_name for h in all_hits(age=25).hits}
    for hit in all_hits(age=25).hits:
        assert (hit.min_age or 0) <= 25 <= (hit.max_age if hit.max_age is not None else 200)
    kid = all_hits(age=8)
    assert kid.total < all_hits().total
    assert seniors_only != {h.service_name for h in kid.hits}


def test_radius_keeps_only_places_inside_and_sorts_by_distance(demo):
    origin = locate("94063")
    results = all_hits(near="94063", radius_miles=3, sort="distance")
    assert results.total > 0
    distances = [h.distance_miles for h in results.hits]
    assert distances == sorted(distances)
    assert all(d <= 3 for d in distances)
    # Every place within 3 miles is found: check against the database.
    inside = set()
    for loc in demo.session.scalars(select(m.Location).where(m.Location.latitude.is_not(None))):
        if distance_miles((origin.latitude, origin.longitude), (loc.latitude, loc.longitude)) <= 3 \
                and not loc.address_confidential:
            inside.add(loc.id)
    found = {h.location_id for h in results.hits}
    served = {sal.location_id for sal in demo.session.scalars(select(m.ServiceAtLocation))
              if sal.service and sal.service.status == "active"}
    assert found == inside & served


def test_near_accepts_address_city_and_coordinates(demo):
    a = all_hits(near="2600 Middlefield Road, Redwood City, CA 94063", radius_miles=2)
    b = all_hits(near="94063", radius_miles=2)
    assert {h.doc_id for h in a.hits} == {h.doc_id for h in b.hits}
    c = all_hits(near="37.4815, -122.2091", radius_miles=2)
    assert {h.doc_id for h in c.hits} == {h.doc_id for h in b.hits}
    assert all_hits(near="Half Moon Bay, CA", radius_miles=3).total > 0


def test_bad_place_is_a_validation_error(demo):
    with pytest.raises(ValidationFailed) as info:
        search(SearchQuery(near="00000", radius_miles=5))
    assert "near" in info.value.errors
    with pytest.raises(ValidationFailed):
        search(SearchQuery(radius_miles=5))
    with pytest.raises(ValidationFailed):
        search(SearchQuery(near="94063", radius_miles=5000))


def test_a_radius_finds_the_places_on_every_side_of_a_grid_line(db):
    """The postgres backend reads a radius search's postings by the grid cells (0.05 degrees) its
    circle covers: places a few feet apart on either side of a cell corner are all found, and
    ranked as without the radius."""
    corner = (37.5, -122.25)  # a corner of four cells
    for name, dlat, dlon in (("Zebra NE", 1, 1), ("Zebra NW", 1, -1), ("Zebra SE", -1, 1), ("Zebra SW", -1, -1)):
        _make_service(db, name=name, tz_zip="94063", lat=corner[0] + dlat * 1e-4, lon=corner[1] + dlon * 1e-4)
    _make_service(db, name="Zebra Far", tz_zip="94063", lat=corner[0] + 0.1, lon=corner[1])  # 6.9 miles north
    near = f"{corner[0]},{corner[1]}"
    within = search(SearchQuery(text="zebra", near=near, radius_miles=1))
    assert sorted(names(within)) == ["Zebra NE", "Zebra NW", "Zebra SE", "Zebra SW"]
    everywhere = [h for h in search(SearchQuery(text="zebra", near=near)).hits if h.service_name != "Zebra Far"]
    assert [(h.service_name, h.score) for h in within.hits] == [(h.service_name, h.score) for h in everywhere]


# --- hours -------------------------------------------------------------------------------------

def _make_service(db, *, name, tz_zip, lat, lon, byday="MO,TU,WE,TH,FR", opens="09:00", closes="17:00", **extra):
    org = m.Organization(name=f"{name} Org", description="test")
    db.session.add(org)
    db.session.flush()
    loc = m.Location(name=f"{name} site", organization_id=org.id, latitude=lat, longitude=lon, **extra)
    db.session.add(loc)
    db.session.flush()
    db.session.add(m.Address(location_id=loc.id, address_1="1 Main St", city="X", state_province="NY",
                             postal_code=tz_zip, country="US"))
    svc = m.Service(name=name, organization_id=org.id, status="active", description="zebra services")
    db.session.add(svc)
    db.session.flush()
    db.session.add(m.ServiceAtLocation(service_id=svc.id, location_id=loc.id))
    db.session.add(m.Schedule(service_id=svc.id, freq="WEEKLY", byday=byday, opens_at=opens, closes_at=closes))
    db.session.commit()
    return svc


def test_open_now_respects_each_places_time_zone(db):
    _make_service(db, name="Zebra East", tz_zip="10001", lat=40.75, lon=-73.99)  # New York
    _make_service(db, name="Zebra West", tz_zip="94063", lat=37.48, lon=-122.21)  # California
    # Monday 2026-11-23 15:00 UTC = 10:00 in New York (open), 07:00 in California (closed).
    monday_3pm_utc = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
    assert names(search(SearchQuery(text="zebra", open_now=True, now=monday_3pm_utc))) == ["Zebra East"]
    # 18:30 UTC = 13:30 New York, 10:30 California: both open.
    both = search(SearchQuery(text="zebra", open_now=True, now=datetime(2026, 11, 23, 18, 30, tzinfo=timezone.utc)))
    assert sorted(names(both)) == ["Zebra East", "Zebra West"]
    # 23:00 UTC = 18:00 New York (closed), 15:00 California (open).
    assert names(search(SearchQuery(text="zebra", open_now=True,
                                    now=datetime(2026, 11, 23, 23, 0, tzinfo=timezone.utc)))) == ["Zebra West"]


def test_daylight_saving_time_is_respected(db):
    _make_service(db, name="Zebra DST", tz_zip="94063", lat=37.48, lon=-122.21)
    # 16:30 UTC is 09:30 PDT in July (open) but 08:30 PST in November (closed).
    july = datetime(2026, 7, 6, 16, 30, tzinfo=timezone.utc)
    november = datetime(2026, 11, 23, 16, 30, tzinfo=timezone.utc)
    assert names(search(SearchQuery(text="zebra", open_now=True, now=july))) == ["Zebra DST"]
    assert names(search(SearchQuery(text="zebra", open_now=True, now=november))) == []


def test_open_now_knows_a_seasons_weekly_hours(db):
    """Weekly hours that hold only between dates (a summer program) count only in their season."""
    summer = _make_service(db, name="Zebra Summer", tz_zip="94063", lat=37.48, lon=-122.21)
    schedule = db.session.scalars(select(m.Schedule).where(m.Schedule.service_id == summer.id)).one()
    schedule.valid_from, schedule.valid_to = date(2026, 6, 1), date(2026, 8, 31)
    db.session.commit()
    _make_service(db, name="Zebra Always", tz_zip="94063", lat=37.48, lon=-122.21)
    july = datetime(2026, 7, 6, 17, 0, tzinfo=timezone.utc)  # a Monday, 10:00 in California
    november = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)  # a Monday, 10:00
    assert sorted(names(search(SearchQuery(text="zebra", open_now=True, now=july)))) == ["Zebra Always", "Zebra Summer"]
    in_november = search(SearchQuery(text="zebra", open_now=True, now=november))
    assert names(in_november) == ["Zebra Always"] and in_november.total == 1


def test_open_at_a_chosen_day_and_time(db):
    _make_service(db, name="Zebra Weekend", tz_zip="94063", lat=37.48, lon=-122.21, byday="SA", opens="10:00",
                  closes="14:00")
    assert names(search(SearchQuery(text="zebra", open_at=(5, 11 * 60)))) == ["Zebra Weekend"]
    assert names(search(SearchQuery(text="zebra", open_at=(5, 15 * 60)))) == []
    assert names(search(SearchQuery(text="zebra", open_at=(0, 11 * 60)))) == []


def test_open_at_and_open_now_find_a_place_exactly_in_the_half_hours_it_is_open_through(db):
    """Opening hours are indexed as blocks of half hours (schema.slot_blocks): at half-hour
    boundaries, past midnight, across the end of the week and in two zones, a place is found in
    exactly the half hours of a typical week it is open the whole of (WeeklyHours.weekly_slots)."""
    west = {"tz_zip": "94063", "lat": 37.48, "lon": -122.21}
    made = {
        "Zebra Quarter": dict(west, byday="MO,WE", opens="09:15", closes="16:45"),
        "Zebra Saturday Night": dict(west, byday="SA", opens="22:00", closes="02:00"),
        "Zebra Sunday Night": dict(west, byday="SU", opens="20:30", closes="03:00"),  # into Monday
        "Zebra Always": dict(west, byday="MO,TU,WE,TH,FR,SA,SU", opens="00:00", closes="23:59"),
        "Zebra East Short": dict(byday="TU", opens="10:00", closes="10:30", tz_zip="10001", lat=40.75, lon=-73.99),
    }
    for name, kw in made.items():
        _make_service(db, name=name, **kw)

    def open_at(day, hour, minute=0):
        return set(names(search(SearchQuery(text="zebra", open_at=(day, hour * 60 + minute), per_page=50))))

    always = {"Zebra Always"}
    assert open_at(0, 9, 15) == always  # 09:00-09:30 is not open all through
    assert open_at(0, 9, 30) == open_at(2, 16, 29) == always | {"Zebra Quarter"}
    assert open_at(0, 16, 30) == open_at(1, 12) == always
    assert open_at(5, 22) == open_at(5, 23, 59) == open_at(6, 0) == open_at(6, 1, 59) == \
        always | {"Zebra Saturday Night"}
    assert open_at(6, 2) == open_at(5, 21, 59) == always
    assert open_at(6, 20, 30) == open_at(0, 0) == open_at(0, 2, 59) == always | {"Zebra Sunday Night"}
    assert open_at(0, 3) == always
    assert open_at(6, 23, 59) == always | {"Zebra Sunday Night"}
    # Open now, each place in its own zone: Tuesday 10:10 in New York is 07:10 in California.
    tuesday = datetime(2026, 11, 24, 15, 10, tzinfo=timezone.utc)
    assert set(names(search(SearchQuery(text="zebra", open_now=True, now=tuesday)))) == always | {"Zebra East Short"}
    assert set(names(search(SearchQuery(text="zebra", open_now=True, now=tuesday.replace(minute=30))))) == always
    # Every half hour of the week: found exactly where the place's weekly slots say.
    weekly = {name: build_hours([{"freq": "WEEKLY", "byday": kw["byday"], "opens_at": kw["opens"],
                                  "closes_at": kw["closes"]}]).weekly_slots() for name, kw in made.items()}
    for number in range(WEEK_SLOTS):
        day, minute = divmod(number * SLOT_MINUTES, 1440)
        expected = {name for name, slots in weekly.items() if slot_name(number) in slots}
        assert open_at(day, 0, minute) == expected, slot_name(number)


def test_holiday_closure_is_respected_by_open_now(db):
    svc = _make_service(db, name="Zebra Holiday", tz_zip="94063", lat=37.48, lon=-122.21)
    db.session.add(m.Schedule(service_id=svc.id, valid_from=date(2026, 11, 26), valid_to=date(2026, 11, 27),
                              description="Closed for Thanksgiving"))
    db.session.commit()
    thursday_noon = datetime(2026, 11, 26, 20, 0, tzinfo=timezone.utc)
    wednesday_noon = datetime(2026, 11, 25, 20, 0, tzinfo=timezone.utc)
    assert names(search(SearchQuery(text="zebra", open_now=True, now=thursday_noon))) == []
    hit = search(SearchQuery(text="zebra", now=thursday_noon)).hits[0]
    assert hit.open_now is False and hit.next_open.date() == date(2026, 11, 30)
    assert names(search(SearchQuery(text="zebra", open_now=True, now=wednesday_noon))) == ["Zebra Holiday"]


def test_a_closure_yesterday_ends_its_overnight_hours_for_open_now(db):
    """Hours past midnight belong to the day they start on: closed on Friday (a holiday), a place
    open Friday 20:00-02:00 is closed at 01:00 on Saturday, though its typical week is open then."""
    svc = _make_service(db, name="Zebra Night Shelter", tz_zip="94063", lat=37.48, lon=-122.21, byday="FR",
                        opens="20:00", closes="02:00")
    db.session.add(m.Schedule(service_id=svc.id, valid_from=date(2026, 12, 25), valid_to=date(2026, 12, 25),
                              description="Closed for the holiday"))
    db.session.commit()
    saturday_1am = datetime(2026, 12, 26, 9, 0, tzinfo=timezone.utc)  # 01:00 in California
    assert names(search(SearchQuery(text="zebra", open_now=True, now=saturday_1am))) == []
    assert names(search(SearchQuery(text="zebra", open_now=True, now=saturday_1am - timedelta(days=7)))) == [
        "Zebra Night Shelter"]
    assert names(search(SearchQuery(text="zebra", open_now=True, now=saturday_1am + timedelta(days=7)))) == [
        "Zebra Night Shelter"]


# --- what must never be shown ------------------------------------------------------------------

def test_inactive_and_defunct_services_are_not_found(demo):
    inactive = demo.session.scalars(select(m.Service).where(m.Service.status != "active")).all()
    assert inactive
    found = {h.service_id for page in range(1, 4) for h in search(SearchQuery(per_page=100, page=page)).hits}
    assert not found & {s.id for s in inactive}
    service = demo.session.scalar(select(m.Service).where(m.Service.name == "Weekly Grocery Pantry"))
    service.status = "defunct"
    demo.session.commit()
    assert "Weekly Grocery Pantry" not in names(all_hits(text="grocery pantry"))


def test_confidential_address_never_leaks(db):
    svc = _make_service(db, name="Zebra Safe House", tz_zip="94063", lat=37.48, lon=-122.21,
                        address_confidential=True)
    hit = search(SearchQuery(text="zebra safe house")).hits[0]
    assert hit.address is None and hit.lat is None and hit.lon is None and hit.confidential is True
    assert "1 Main St" not in str(hit.card)
    # Not findable by distance (that would reveal where it is).
    assert search(SearchQuery(text="zebra", near="94063", radius_miles=50)).total == 0
    assert svc.id


# --- the index follows the database ------------------------------------------------------------

def test_index_follows_create_edit_delete(db):
    svc = _make_service(db, name="Zebra Crossing Aid", tz_zip="94063", lat=37.48, lon=-122.21)
    assert names(search(SearchQuery(text="zebra crossing"))) == ["Zebra Crossing Aid"]
    svc = db.session.get(m.Service, svc.id)
    svc.name = "Okapi Crossing Aid"
    db.session.commit()
    assert names(search(SearchQuery(text="okapi"))) == ["Okapi Crossing Aid"]
    assert search(SearchQuery(text="zebra crossing aid")).total == 0 or \
        "Zebra Crossing Aid" not in names(search(SearchQuery(text="zebra crossing aid")))
    # A change on the location moves the document.
    loc = db.session.scalar(select(m.Location).where(m.Location.name == "Zebra Crossing Aid site"))
    loc.latitude, loc.longitude = 37.6879, -122.4702  # Daly City
    db.session.commit()
    assert search(SearchQuery(text="okapi", near="94014", radius_miles=2)).total == 1
    # A new SDOH attribute is searchable as a domain.
    db.session.add(m.Attribute(link_entity="service", link_id=svc.id, link_type="sdoh_domain",
                               taxonomy_term_id=_sdoh_term(db, "digital-access")))
    db.session.commit()
    assert names(search(SearchQuery(domains=["digital-access"], text="okapi"))) == ["Okapi Crossing Aid"]
    db.session.delete(db.session.get(m.Service, svc.id))
    db.session.commit()
    assert search(SearchQuery(text="okapi")).total == 0


def test_rolled_back_changes_are_not_indexed(db):
    svc = _make_service(db, name="Zebra Rollback", tz_zip="94063", lat=37.48, lon=-122.21)
    db.session.get(m.Service, svc.id).name = "Never Saved Name"
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert search(SearchQuery(text="never saved")).total == 0
    assert names(search(SearchQuery(text="zebra rollback"))) == ["Zebra Rollback"]


def test_reindex_gives_the_same_results(demo):
    queries = [SearchQuery(text="food"), SearchQuery(domains=["homelessness"]),
               SearchQuery(near="94401", radius_miles=5, sort="distance"), SearchQuery(text="legal", language="es")]
    before = [[h.doc_id for h in search(q).hits] for q in queries]
    current_backend().rebuild()
    after = [[h.doc_id for h in search(q).hits] for q in queries]
    assert before == after


def test_pagination(demo):
    first = search(SearchQuery(per_page=10, page=1))
    second = search(SearchQuery(per_page=10, page=2))
    assert first.total == second.total > 20
    assert not {h.doc_id for h in first.hits} & {h.doc_id for h in second.hits}
    assert first.pages == -(-first.total // 10)


def _sdoh_term(db, code):
    if db.session.get(m.TaxonomyTerm, sdoh_terms()[code]["id"]) is None:
        from referralnet.directory.importer import import_path
        from referralnet.directory.sdoh import DOMAINS_FILE

        import_path(DOMAINS_FILE)
        db.session.commit()
    return sdoh_terms()[code]["id"]


def test_every_kind_of_search_works_on_an_empty_directory(db):
    """A new installation has no services yet: searches answer with nothing, never an error."""
    from referralnet.search.service import search_matches

    for q in [SearchQuery(text="food"), SearchQuery(near="94063", radius_miles=5, sort="distance"),
              SearchQuery(open_now=True), SearchQuery(domains=["homelessness"], near="94063")]:
        assert search(q).total == 0
        assert search_matches(q) == []


def test_facets_count_what_the_radius_really_keeps(demo):
    """Each domain's count near a place is exactly what choosing that domain would show."""
    near = all_hits(near="94401", radius_miles=4)
    assert near.facets
    for code, count in near.facets.items():
        assert count == all_hits(near="94401", radius_miles=4, domains=[code]).total, code
