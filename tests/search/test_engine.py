"""The fast evaluation (engine.py) gives what Whoosh itself gives: the same documents, the same
scores, concept tags exactly where the phrase queries match, exact facets and totals."""
from __future__ import annotations

import math
import random
from datetime import datetime, timezone

import pygeohash
import pytest
from whoosh.query import And, Every, Or, Term

from referralnet.directory import models as m
from referralnet.geo import CELL_PRECISIONS, MILES_PER_DEGREE_LAT, cells_covering
from referralnet.search.concepts import concept_queries, text_parser
from referralnet.search.engine import bits_to_list, snapshot
from referralnet.search.index import searcher, update_services
from referralnet.search.schema import TEXT_FIELDS
from referralnet.search.service import SearchQuery, search, search_matches


# engine.py's bitsets and BM25F tables against Whoosh itself: meaningless for another backend.
pytestmark = pytest.mark.usefixtures("whoosh_only")


def _docs(s, q) -> set[int]:
    return set(q.docs(s))


def test_concept_terms_tag_exactly_the_documents_the_phrases_match(demo):
    s = searcher()
    queries = concept_queries(s.schema)
    assert "nutrition assistance" in queries and "emergency shelter" in queries
    found_any = False
    for meaning, phrase_q in queries.items():
        tagged = _docs(s, Term("concepts", meaning))
        assert tagged == _docs(s, phrase_q), meaning
        found_any = found_any or bool(tagged)
    assert found_any


def test_body_holds_exactly_the_words_of_the_text_fields(demo):
    s = searcher()
    snap = snapshot(s)
    for word in ["food", "pantri", "shelter", "legal", "senior", "calfresh", "ride", "nosuchword"]:
        spread = Or([Term(f, word) for f in TEXT_FIELDS])
        assert set(bits_to_list(snap.match(Term("body", word)))) == _docs(s, spread), word


def test_matching_and_scores_agree_with_whoosh(demo):
    s = searcher()
    snap = snapshot(s)
    parser = text_parser(s.schema)
    for text in ["food pantry", "shelter", "legal aid", "medi-cal", "rent OR housing", "meals -wheels",
                 '"food pantry"']:
        q = parser.parse(text)
        expected = {hit.docnum: hit.score for hit in s.search(q, limit=None)}
        assert set(bits_to_list(snap.match(q))) == set(expected), text
        scores = snap.scores(q, set(expected))
        assert set(scores) == set(expected), text
        for docnum, score in expected.items():
            assert math.isclose(scores[docnum], score, rel_tol=1e-6), (text, docnum)


def test_lay_phrase_finds_a_meaning_only_its_concept_has(db):
    org = m.Organization(name="Okapi Org", description="test")
    db.session.add(org)
    db.session.flush()
    svc = m.Service(name="Okapi Benefits Desk", organization_id=org.id, status="active",
                    description="We help families apply for nutrition assistance.")
    db.session.add(svc)
    db.session.commit()
    results = search(SearchQuery(text="food stamps"))
    assert "Okapi Benefits Desk" in [h.service_name for h in results.hits]
    assert results.total == 1 and results.facets == {}
    # "nutrition" and "assistance" in different places is not the phrase.
    svc.description = "Nutrition for families. Assistance with forms."
    db.session.commit()
    assert search(SearchQuery(text="food stamps")).total == 0


def test_deleted_documents_are_never_matched(demo):
    s = searcher()
    before = snapshot(s).match(Every()).bit_count()
    assert before == s.doc_count()
    some = [h.service_id for h in search(SearchQuery(text="food", per_page=5)).hits]
    update_services(some)  # deletes and re-adds: the old documents stay in the segment, marked deleted
    s2 = searcher()
    assert s2 is not s and s2.doc_count() == before
    snap = snapshot(s2)
    live = set(bits_to_list(snap.match(Every())))
    assert len(live) == before and all(not s2.reader().is_deleted(d) for d in live)
    # "mateo" is no lexicon phrasing: the service looks for the word alone, as Whoosh does here.
    assert {h.doc_id for h in search(SearchQuery(text="mateo", per_page=100)).hits} == \
        {h["id"] for h in s2.search(text_parser(s2.schema).parse("mateo"), limit=None)}


def test_facets_and_totals_are_exact_with_every_filter(demo):
    now = datetime(2026, 11, 24, 19, 0, tzinfo=timezone.utc)  # a Tuesday, 11:00 in California
    base = dict(near="94063", radius_miles=10, open_now=True, now=now, language="es", per_page=100)
    everything = search(SearchQuery(**base))
    assert everything.total > 0 and everything.facets
    for code, count in everything.facets.items():
        narrowed = search(SearchQuery(domains=[code], **base))
        assert narrowed.total == count == len(narrowed.hits), code
        assert narrowed.facets == everything.facets
        assert all(h.open_now for h in narrowed.hits)
        assert all(h.distance_miles <= 10 + 1e-6 for h in narrowed.hits)
    assert sum(1 for _ in search_matches(SearchQuery(**{k: v for k, v in base.items() if k != "per_page"}))) \
        == everything.total


def test_cells_covering_skips_only_precisions_that_cannot_fit():
    def enumerate_all(lat, lon, radius, max_cells=64):
        dlat = radius / MILES_PER_DEGREE_LAT
        dlon = radius / max(1e-6, MILES_PER_DEGREE_LAT * math.cos(math.radians(lat)))
        box = pygeohash.BoundingBox(max(-90.0, lat - dlat), max(-180.0, lon - dlon),
                                    min(90.0, lat + dlat), min(180.0, lon + dlon))
        for precision in sorted(CELL_PRECISIONS, reverse=True):
            cells = pygeohash.geohashes_in_box(box, precision=precision)
            if len(cells) <= max_cells:
                return cells
        return pygeohash.geohashes_in_box(box, precision=min(CELL_PRECISIONS))

    rng = random.Random(3)
    for _ in range(300):
        lat, lon = rng.uniform(-70, 70), rng.uniform(-179, 179)
        radius = rng.choice([0.5, 2, 3, 5, 8, 10, 25, 100, rng.uniform(0.1, 250)])
        assert cells_covering(lat, lon, radius) == enumerate_all(lat, lon, radius)


def test_and_of_filters_matches_whoosh(demo):
    s = searcher()
    snap = snapshot(s)
    q = And([Term("languages", "es"), Or([Term("domains", "food-insecurity"), Term("domains", "homelessness")]),
             Term("accepting", True)])
    assert set(bits_to_list(snap.match(q))) == _docs(s, q)


# --- per-segment caches across commits ---------------------------------------------------------

def _fresh_evaluation(q: SearchQuery):
    """The same search with every cache dropped (per-segment and per-generation)."""
    from referralnet.search.engine import clear_caches

    s = searcher()
    if hasattr(s, "_referralnet_snapshot"):
        del s._referralnet_snapshot
    clear_caches()
    return search(q)


def _summary(results):
    return results.total, results.facets, [(h.doc_id, round(h.score, 9), h.distance_miles) for h in results.hits]


def test_a_result_changed_or_deleted_in_an_old_segment_changes_at_once(demo):
    text_q = SearchQuery(text="food", per_page=100)
    before = search(text_q)
    assert before.total > 2
    snap = snapshot(searcher())
    assert snap.term_bits("body", "food")  # per-segment caches warm
    first, second = before.hits[0], before.hits[1]
    service = demo.session.get(m.Service, first.service_id)
    service.name = "Zyzzyva Harbor Desk"
    service.description = "Help with forms."
    demo.session.commit()  # the commit hook re-indexes it: a new segment, a deletion in the old one
    after = search(text_q)
    assert snapshot(searcher()) is not snap
    for hit in after.hits:
        if hit.service_id == first.service_id:
            assert hit.service_name == "Zyzzyva Harbor Desk"
    assert _summary(after) == _summary(_fresh_evaluation(text_q))
    renamed = search(SearchQuery(text="zyzzyva"))
    assert renamed.total >= 1 and {h.service_name for h in renamed.hits} == {"Zyzzyva Harbor Desk"}
    # deleting a service removes its documents from results immediately
    gone = demo.session.get(m.Service, second.service_id)
    gone.status = "inactive"
    demo.session.commit()
    after2 = search(text_q)
    assert second.service_id not in {h.service_id for h in after2.hits}
    assert after2.total < after.total
    assert _summary(after2) == _summary(_fresh_evaluation(text_q))


def test_a_new_document_in_a_new_segment_is_found(demo):
    assert search(SearchQuery(text="quokka")).total == 0
    snapshot(searcher()).term_bits("body", "quokka")  # cache the (empty) postings of the old segments
    org = m.Organization(name="Quokka Org", description="test")
    demo.session.add(org)
    demo.session.flush()
    svc = m.Service(name="Quokka Meals", organization_id=org.id, status="active", description="Hot meals daily.")
    demo.session.add(svc)
    demo.session.commit()
    s = searcher()
    assert len(list(s.leaf_searchers())) > 1  # the new document lives in a segment of its own
    found = search(SearchQuery(text="quokka"))
    assert [h.service_name for h in found.hits] == ["Quokka Meals"]
    meals = SearchQuery(text="meals", per_page=100)
    assert "Quokka Meals" in [h.service_name for h in search(meals).hits]
    assert _summary(search(meals)) == _summary(_fresh_evaluation(meals))


def test_facets_totals_and_scores_stay_exact_across_commits(demo):
    now = datetime(2026, 11, 24, 19, 0, tzinfo=timezone.utc)
    queries = [SearchQuery(text="food", per_page=100), SearchQuery(text="legal aid", per_page=100),
               SearchQuery(per_page=100),
               SearchQuery(near="94063", radius_miles=10, open_now=True, now=now, language="es", per_page=100),
               SearchQuery(text="shelter", near="94063", radius_miles=25, sort="distance", per_page=100),
               SearchQuery(text="food", age=70, free_only=True, per_page=100)]
    rng = random.Random(5)
    service_ids = [sid for (sid,) in demo.session.query(m.Service.id).filter(m.Service.status == "active")]
    for round_ in range(4):
        warm = [_summary(search(q)) for q in queries]  # warms the per-segment caches
        changed = rng.sample(service_ids, 3)
        update_services(changed)  # a new generation: new segment, deletions in old ones
        if round_ == 2:  # and a real change: one service stops taking referrals, one becomes free
            a, b = (demo.session.get(m.Service, sid) for sid in changed[:2])
            a.description = (a.description or "") + " Now also food."
            b.status = "inactive"
            demo.session.commit()
        live = set(bits_to_list(snapshot(searcher()).match(Every())))
        assert len(live) == searcher().doc_count()
        for q in queries:
            got = _summary(search(q))
            assert got == _summary(_fresh_evaluation(q)), (round_, q)
        if round_ != 2:
            assert [_summary(search(q)) for q in queries][:1][0][0] == warm[0][0]


def test_bm25_tables_kept_across_a_small_commit_keep_the_ranking(demo, monkeypatch):
    """A term's BM25F table keeps the collection statistics of the generation where it was built
    while the index changed by less than STATS_TOLERANCE (here forced high: the demo index is small,
    where any commit rebuilds the tables). Scores then differ from Whoosh's by a hair; the ranking
    does not change, and rebuilding (tolerance back to normal) gives Whoosh's exact scores."""
    from referralnet.search import engine

    monkeypatch.setattr(engine, "STATS_TOLERANCE", 0.5)
    queries = [SearchQuery(text="food", per_page=100), SearchQuery(text="legal aid", per_page=100),
               SearchQuery(text="shelter", near="94063", radius_miles=25, per_page=100)]
    before = [search(q) for q in queries]
    kept_for = [h for r in before for h in r.hits][0].service_id
    other = next(sid for (sid,) in demo.session.query(m.Service.id).filter(m.Service.status == "active")
                 if sid != kept_for)
    update_services([other])  # one document re-indexed: a new segment, a deletion in an old one
    for q, old in zip(queries, before):
        new = search(q)
        assert [h.doc_id for h in new.hits] == [h.doc_id for h in old.hits], q.text
        for a, b in zip(new.hits, old.hits):
            assert math.isclose(a.score, b.score, rel_tol=0.02), q.text
    monkeypatch.setattr(engine, "STATS_TOLERANCE", 0.0)  # stale now: rebuilt with the exact statistics
    s = searcher()
    snap = snapshot(s)
    q = text_parser(s.schema).parse("food pantry")
    expected = {hit.docnum: hit.score for hit in s.search(q, limit=None)}
    scores = snap.scores(q, set(expected))
    assert set(scores) == set(expected)
    for docnum, score in expected.items():
        assert math.isclose(scores[docnum], score, rel_tol=1e-6)
