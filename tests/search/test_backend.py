"""The search backend seam: which backend answers, what a wrong setting says, when a backend is ready,
and (postgres) that search rows are part of the directory change's own transaction."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import select

from referralnet.directory import models as m
from referralnet.search import backend as seam
from referralnet.search.service import SearchQuery, search
from tests.conftest import counted_queries


def _service(db, name: str, org_name: str = "Backend Test Org") -> m.Service:
    org = m.Organization(name=org_name, description="x")
    db.session.add(org)
    db.session.flush()
    service = m.Service(organization_id=org.id, name=name, description="Fresh groceries every week", status="active")
    db.session.add(service)
    db.session.commit()
    return service


@contextmanager
def _downgraded(db, revision: str):
    """The database migrated down to `revision` inside the block, and back up to head after it."""
    from flask_migrate import downgrade, upgrade

    db.session.commit()
    db.session.remove()
    try:
        downgrade(revision=revision)
        yield
        db.session.remove()
    finally:
        upgrade()


def _has_column(db, table: str, column: str) -> bool:
    from sqlalchemy import text

    return bool(db.session.scalar(text("SELECT count(*) FROM information_schema.columns WHERE table_name = :t "
                                       "AND column_name = :c"), {"t": table, "c": column}))


def _postgres(db) -> bool:
    return db.engine.dialect.name == "postgresql"


def test_the_default_backend_follows_the_database(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "SEARCH_BACKEND", None)
    assert seam.backend_name() == ("postgres" if _postgres(db) else "whoosh")
    monkeypatch.setitem(app.config, "SEARCH_BACKEND", "whoosh")
    assert seam.current_backend().name == "whoosh"


def test_a_wrong_setting_says_what_is_wrong(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "SEARCH_BACKEND", "elastic")
    with pytest.raises(seam.BackendMisconfigured, match="SEARCH_BACKEND='elastic'"):
        seam.current_backend()
    ready, why = seam.is_ready()
    assert not ready and "whoosh, postgres" in why
    if not _postgres(db):
        monkeypatch.setitem(app.config, "SEARCH_BACKEND", "postgres")
        ready, why = seam.is_ready()
        assert not ready and "needs a PostgreSQL DATABASE_URL" in why


def test_the_active_backend_is_ready_and_says_so(db):
    seam.current_backend().rebuild()  # built from this database (a Whoosh index records which state it reflects)
    ready, why = seam.is_ready()
    assert ready, why
    assert seam.current_backend().name in why


def test_postgres_rows_are_written_in_the_changes_own_transaction(db):
    _pg_only()
    from sqlalchemy import text

    service = _service(db, "Quokka Grocery Hub")
    count = lambda: db.session.scalar(text(  # noqa: E731
        "SELECT count(*) FROM search_document WHERE service_id = :s"), {"s": service.id})
    assert count() == 1
    assert [h.service_name for h in search(SearchQuery(text="quokka")).hits] == ["Quokka Grocery Hub"]

    service.name = "Wombat Grocery Hub"
    db.session.flush()
    db.session.rollback()  # a failed request: neither the change nor its search row is kept
    assert [h.service_name for h in search(SearchQuery(text="quokka")).hits] == ["Quokka Grocery Hub"]
    assert search(SearchQuery(text="wombat")).total == 0

    service = db.session.scalar(select(m.Service).where(m.Service.id == service.id))
    service.status = "inactive"
    db.session.commit()
    assert count() == 0 and search(SearchQuery(text="quokka")).total == 0

    # Emptied rows while the directory has active services: not ready, and says how to fix it.
    _service(db, "Numbat Pantry", "Another Org")
    seam.current_backend().clear()
    ready, why = seam.is_ready()
    assert not ready and "flask search reindex" in why
    assert seam.current_backend().rebuild() == 1
    assert seam.is_ready()[0]
    assert [h.service_name for h in search(SearchQuery(text="numbat")).hits] == ["Numbat Pantry"]


def _pg_only():
    if seam.current_backend().name != "postgres":
        pytest.skip("the postgres backend's rows (TEST_DATABASE_URL on PostgreSQL)")


def _term_stats(db) -> dict[str, int]:
    from sqlalchemy import text

    return {t: n for t, n in db.session.execute(text("SELECT term, df FROM search_term")).all() if n}


def _recounted(db) -> dict[str, int]:
    """The collection statistics counted afresh from the rows."""
    from sqlalchemy import text

    out = dict(db.session.execute(text(
        "SELECT k, count(*) FROM search_document, jsonb_object_keys(tf) k GROUP BY k")).all())
    docs, length = db.session.execute(text("SELECT count(*), coalesce(sum(body_len), 0) FROM search_document")).one()
    out.update({" docs": docs, " length": length})
    return {t: n for t, n in out.items() if n}


def test_postgres_plan_asks_the_directory_once_per_kind_of_question(db):
    """Whether the words are the directory's, and their close words: one query each for all the words of
    the text (it was one per word), and none when the lexicon knows every word."""
    from referralnet.search import pg_backend

    _pg_only()
    _service(db, "Numbat Pantry")
    _service(db, "Quokka Shelter", "Quokka Org")
    seam.current_backend().rebuild()

    def asked(statements: list[str]) -> int:
        return sum("search_word" in s for s in statements)

    with counted_queries(db.engine) as statements:
        numbats = pg_backend.plan_for(db.session, "numbat quokka")
    known = asked(statements)
    with counted_queries(db.engine) as statements:
        misspelt = pg_backend.plan_for(db.session, "numbot quokkka pantri")
    spelt = asked(statements)
    with counted_queries(db.engine) as statements:
        pg_backend.plan_for(db.session, "food pantry")
    assert numbats.corrected is None and known == 1
    assert misspelt.corrections == {"numbot": "numbat", "quokkka": "quokka", "pantri": "pantry"} and spelt == 2
    assert asked(statements) == 0


def test_postgres_ranking_statistics_follow_every_change(db):
    """BM25F's collection statistics (documents per term, count, total length) are kept by each
    write in its own transaction: after adds, edits, a rolled-back edit and a deactivation they
    equal a fresh count of the rows, and a rebuild gives the same."""
    _pg_only()
    first = _service(db, "Quokka Grocery Hub")
    _service(db, "Wombat Tax Help", "Second Org")
    assert _term_stats(db) == _recounted(db) and _term_stats(db)[" docs"] == 2
    first.description = "Groceries and diapers, delivered"
    db.session.commit()
    assert _term_stats(db) == _recounted(db)
    assert _term_stats(db).get("diaper") == 1
    first.name = "Renamed Hub"
    db.session.flush()
    db.session.rollback()
    assert _term_stats(db) == _recounted(db)
    first = db.session.scalar(select(m.Service).where(m.Service.id == first.id))
    first.status = "inactive"
    db.session.commit()
    stats = _term_stats(db)
    assert stats == _recounted(db) and stats[" docs"] == 1 and "diaper" not in stats
    seam.current_backend().rebuild()
    assert _term_stats(db) == stats


def test_postgres_two_writers_of_a_new_document_count_it_once(db, app):
    """Two transactions writing the rows of a service that has none yet (just activated): the
    second waits for the first and replaces its rows, so the ranking statistics count the
    document once (they counted it twice when both inserted it)."""
    import threading

    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from referralnet.search import pg_backend

    _pg_only()
    service = _service(db, "Quokka Grocery Hub")
    db.session.execute(text("DELETE FROM search_posting"))
    db.session.execute(text("DELETE FROM search_document"))
    db.session.execute(text("DELETE FROM search_term"))
    db.session.commit()
    first, second = Session(db.engine), Session(db.engine)
    done = threading.Event()

    def write_second() -> None:
        with app.app_context():
            pg_backend.write_services(second, [service.id])
            second.commit()
            done.set()

    try:
        pg_backend.write_services(first, [service.id])
        thread = threading.Thread(target=write_second)
        thread.start()
        assert not done.wait(0.5)  # queued behind the first writer
        first.commit()
        thread.join(timeout=30)
        assert done.is_set()
    finally:
        first.close()
        second.close()
    stats = _term_stats(db)
    assert stats == _recounted(db)
    assert stats[" docs"] == 1 and stats["quokka"] == 1


def _ranked(text_: str) -> list[str]:
    from referralnet.search.service import search_matches

    return [x.service_id for x in search_matches(SearchQuery(text=text_))]


def test_postgres_ranks_as_the_whoosh_backend(db, app, monkeypatch, tmp_path):
    """The postgres backend scores as Whoosh does (BM25F: rarer words weigh more, a word in the name
    more than in the description, long documents less per occurrence): on one directory both
    backends list the same services in the same order."""
    _pg_only()
    for i in range(6):
        _service(db, f"Harbor Clinic {i}", f"Harbor Org {i}").description = "Harbor clinic for families " * (i + 1)
    _service(db, "Lantern Center", "Lantern Org").description = "Harbor ferry rides and lantern repair"
    _service(db, "Ferry Harbor Help", "Ferry Org").description = "Ferry tickets"
    _service(db, "Quiet Place", "Quiet Org").description = "A long description " * 30 + " ferry harbor"
    db.session.commit()
    queries = ["harbor ferry", "ferry", "harbor clinic", "lantern harbor", "families ferry"]
    postgres = {q: _ranked(q) for q in queries}
    assert all(postgres.values())
    monkeypatch.setitem(app.config, "SEARCH_BACKEND", "whoosh")
    monkeypatch.setitem(app.config, "SEARCH_INDEX_DIR", str(tmp_path / "index"))
    seam.current_backend().rebuild()
    whoosh = {q: _ranked(q) for q in queries}
    assert postgres == whoosh


def _postings(db) -> set[tuple]:
    from sqlalchemy import text

    return {(term, doc_id, tf, tuple(words) if words is not None else None, norm) for term, doc_id, tf, words, norm in
            db.session.execute(text("SELECT term, doc_id, tf, words, norm_len FROM search_posting")).all()}


def _postings_from_rows(db) -> set[tuple]:
    """The postings the rows' term frequencies call for, worked out afresh in Python: (term,
    document, frequency, for a concept tag the frequencies of its words, the document's length)."""
    from sqlalchemy import text

    from referralnet.search.pg_backend import body_terms

    def words(term: str, tfs: dict) -> tuple | None:
        if not term.startswith("~c:"):
            return None
        own = list(dict.fromkeys(body_terms(term[3:])))
        return tuple(float(tfs[w]) if w in tfs else None for w in own)

    return {(term, doc_id, float(tf), words(term, tfs), norm) for doc_id, tfs, norm in db.session.execute(text(
        "SELECT id, tf, norm_len FROM search_document WHERE tf IS NOT NULL")).all() for term, tf in tfs.items()}


def test_postgres_postings_follow_every_change(db):
    """The postings a search scores from (term, document, frequency) are written and removed with the
    rows, in the change's transaction: after adds, an edit, a rolled-back edit, a bulk update, a
    deactivation, a rebuild and a deleted service they are exactly the rows' frequencies, and
    a search ranks from them."""
    _pg_only()
    from sqlalchemy import text, update

    first = _service(db, "Quokka Grocery Hub")
    second = _service(db, "Wombat Tax Help", "Second Org")
    assert _postings(db) == _postings_from_rows(db) != set()
    first.description = "Groceries and diapers, delivered"
    db.session.commit()
    assert _postings(db) == _postings_from_rows(db)
    assert {d for t, d, *_ in _postings(db) if t == "diaper"} == {f"service:{first.id}"}  # no location: one document
    first.name = "Renamed Hub"
    db.session.flush()
    db.session.rollback()
    assert _postings(db) == _postings_from_rows(db)
    db.session.execute(update(m.Service).where(m.Service.id == second.id).values(description="Quokka tax returns"))
    db.session.commit()
    assert _postings(db) == _postings_from_rows(db)
    assert [h.service_name for h in search(SearchQuery(text="quokka")).hits] == [
        "Quokka Grocery Hub", "Wombat Tax Help"]  # in the name beats in the description
    first = db.session.scalar(select(m.Service).where(m.Service.id == first.id))
    first.status = "inactive"
    db.session.commit()
    assert _postings(db) == _postings_from_rows(db)
    assert not {t for t, *_ in _postings(db)} & {"diaper", "grocery"}
    seam.current_backend().rebuild()
    assert _postings(db) == _postings_from_rows(db) != set()
    # Rows whose postings are gone (a partial restore): `flask search backend` and /readyz say what to run.
    db.session.execute(text("DELETE FROM search_posting"))
    ready, why = seam.is_ready()
    assert ready and "no postings" in why and "flask search reindex" in why
    seam.current_backend().rebuild()
    assert seam.is_ready() == (True, "postgres search: 1 documents")
    db.session.delete(db.session.get(m.Service, second.id))
    db.session.commit()
    assert _postings(db) == set() == _postings_from_rows(db)


def test_postgres_postings_are_backfilled_by_their_migration(db, app):
    """Migration 0018 fills the postings from the rows already there, and its downgrade removes the
    table (and readiness says so) without touching the rows."""
    _pg_only()
    from sqlalchemy import text

    _service(db, "Quokka Grocery Hub")
    _service(db, "Wombat Tax Help", "Second Org")
    expected = _postings(db)
    ranked = _ranked("grocery tax")
    with _downgraded(db, "0017"):
        assert db.session.scalar(text("SELECT to_regclass('search_posting')")) is None
        ready, why = seam.is_ready()
        assert not ready and "flask db upgrade" in why
    assert _postings(db) == expected == _postings_from_rows(db)
    assert _ranked("grocery tax") == ranked and len(ranked) == 2


def test_postgres_concept_postings_carry_their_words_from_their_migration(db, app):
    """A concept tag's posting carries the frequencies of the tag's words (NULL for a word the
    document lacks), which score the concept's part without reading the words' own postings.
    Migration 0019 fills them from the rows already there (its downgrade drops them), and a
    search ranks the same from them as before."""
    _pg_only()
    from sqlalchemy import text

    pantry = _service(db, "Eastside Food Pantry")
    pantry.description = "A food pantry and hot meals for families"
    _service(db, "Westside Meals", "Second Org").description = "Hot meals every evening"
    db.session.commit()
    concepts = {(t, tuple(w)) for t, w in db.session.execute(text(
        "SELECT term, words FROM search_posting WHERE doc_id = :d AND term LIKE '~c:%'"), {"d": f"service:{pantry.id}"})}
    assert ("~c:food pantry", (db.session.scalar(text(
        "SELECT tf FROM search_posting WHERE term = 'food' AND doc_id = :d"), {"d": f"service:{pantry.id}"}),
        db.session.scalar(text("SELECT tf FROM search_posting WHERE term = 'pantri' AND doc_id = :d"),
                          {"d": f"service:{pantry.id}"}))) in concepts
    expected = _postings(db)
    assert expected == _postings_from_rows(db) and any(words for _, _, _, words, _ in expected)
    ranked = _ranked("food pantry")
    assert ranked[0] == pantry.id
    with _downgraded(db, "0018"):
        assert not _has_column(db, "search_posting", "words")
    assert _postings(db) == expected == _postings_from_rows(db)
    assert _ranked("food pantry") == ranked


def test_postgres_postings_carry_their_documents_length_from_their_migration(db, app):
    """A posting carries its document's length (each posting is scored on its own), and a row keeps
    only its small columns in the table's pages (the tsvector, card and frequencies moved out of
    line above 256 bytes). Migration 0020 fills the lengths and rewrites the rows already there,
    its downgrade undoes both, and a search ranks the same either way."""
    _pg_only()
    from sqlalchemy import text

    def storage() -> tuple:
        return (db.session.scalar(text("SELECT attstorage FROM pg_attribute WHERE attrelid = "
                                       "'search_document'::regclass AND attname = 'vector'")),
                db.session.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'search_document'")))

    pantry = _service(db, "Eastside Food Pantry")
    pantry.description = "A food pantry and hot meals for families"
    _service(db, "Westside Meals", "Second Org").description = "Hot meals every evening"
    db.session.commit()
    expected = _postings(db)
    assert expected == _postings_from_rows(db) and all(norm for *_, norm in expected)
    assert storage() == ("x", ["toast_tuple_target=256"])
    ranked = _ranked("hot meals")
    assert len(ranked) == 2 and ranked[1] == pantry.id  # "meals" in the other's name
    with _downgraded(db, "0019"):
        assert not _has_column(db, "search_posting", "norm_len")
        assert storage() == ("m", None)
    assert _postings(db) == expected == _postings_from_rows(db)
    assert storage() == ("x", ["toast_tuple_target=256"])
    assert _ranked("hot meals") == ranked


def test_postgres_rows_keep_their_exception_days_from_their_migration(db, app):
    """A row keeps the local dates of its place's holiday closures and special hours (open now
    checks exactly only the places with one today or yesterday); they follow the schedules, and
    migration 0021 fills them from the rows already there (its downgrade drops them)."""
    _pg_only()
    from datetime import date

    from sqlalchemy import text

    def days() -> dict[str, list]:
        return {name: list(d) for name, d in db.session.execute(text(
            "SELECT card ->> 'service_name', exception_days FROM search_document")).all()}

    closed = _service(db, "Holiday Pantry")
    _service(db, "Plain Pantry", "Second Org")
    db.session.add(m.Schedule(service_id=closed.id, valid_from=date(2026, 12, 24), valid_to=date(2026, 12, 25)))
    db.session.add(m.Schedule(service_id=closed.id, valid_from=date(2027, 1, 1), opens_at="10:00", closes_at="12:00"))
    db.session.commit()
    expected = {"Holiday Pantry": [date(2026, 12, 24), date(2026, 12, 25), date(2027, 1, 1)], "Plain Pantry": []}
    assert days() == expected
    with _downgraded(db, "0020"):
        assert not _has_column(db, "search_document", "exception_days")
    assert days() == expected


def test_postgres_postings_carry_their_places_grid_cell_from_their_migration(db, app):
    """A posting carries the grid cell of its document's place (-1 without one), which a radius
    search reads its postings by; migration 0022 fills the cells of the postings already there
    (its downgrade drops them), and they follow a place that moves."""
    _pg_only()
    from sqlalchemy import text

    from referralnet.search.pg_backend import radius_cells
    from referralnet.geo import Place

    def cells() -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        for doc_id, cell in db.session.execute(text("SELECT doc_id, cell FROM search_posting")).all():
            out.setdefault(doc_id, set()).add(cell)
        return out

    def cell_of(lat: float, lon: float) -> int:
        (cell,) = radius_cells(Place(lat, lon, "x"), 0.0001)
        return cell

    placed = _service(db, "Placed Pantry")
    loc = m.Location(name="Site", organization_id=placed.organization_id, latitude=37.4815, longitude=-122.2091)
    db.session.add(loc)
    db.session.flush()
    db.session.add(m.ServiceAtLocation(id="sal-cell", service_id=placed.id, location_id=loc.id))
    unplaced = _service(db, "Phone Line", "Second Org")
    db.session.commit()
    loc_id = loc.id
    expected = {"sal-cell": {cell_of(37.4815, -122.2091)}, f"service:{unplaced.id}": {-1}}
    assert cells() == expected
    with _downgraded(db, "0021"):
        assert not _has_column(db, "search_posting", "cell")
    assert cells() == expected
    db.session.get(m.Location, loc_id).latitude = 37.56  # (the session before the migrations is gone)
    db.session.commit()
    assert cells()["sal-cell"] == {cell_of(37.56, -122.2091)} != expected["sal-cell"]


def test_domain_bits_keep_their_order():
    """A posting's domain mask numbers the domains as seed_data/sdoh_domains.json orders them, and
    migration 0024 wrote the masks already there with the first 24: the file only appends."""
    import importlib.util
    from pathlib import Path

    from referralnet.search.pg_backend import domain_bits, domain_mask

    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0024_search_posting_domains.py"
    spec = importlib.util.spec_from_file_location("migration_0024", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert list(domain_bits())[:len(migration.CODES)] == list(migration.CODES)
    assert domain_mask(["housing-instability", "food-insecurity", "no-such-domain"]) == 0b11


def test_postgres_postings_carry_their_documents_domains_from_their_migration(db, app):
    """A posting carries its document's SDOH domains as bits (a search of words alone counts its
    total and facets from them); migration 0024 fills them for the postings already there (its
    downgrade drops them), and they follow a service's domains."""
    _pg_only()
    from sqlalchemy import text

    from referralnet.directory.importer import import_path
    from referralnet.directory.sdoh import DOMAINS_FILE, sdoh_terms
    from referralnet.search.pg_backend import domain_mask

    def masks() -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        for doc_id, mask in db.session.execute(text("SELECT doc_id, domain_mask FROM search_posting")).all():
            out.setdefault(doc_id, set()).add(mask)
        return out

    import_path(DOMAINS_FILE)
    both = _service(db, "Pantry and Shelter")
    for code in ("food-insecurity", "homelessness"):
        db.session.add(m.Attribute(link_entity="service", link_id=both.id, link_type="sdoh_domain",
                                   taxonomy_term_id=sdoh_terms()[code]["id"]))
    neither = _service(db, "Plain Groceries", "Second Org")
    db.session.commit()
    both_id = both.id
    expected = {f"service:{both_id}": {domain_mask(["food-insecurity", "homelessness"])}, f"service:{neither.id}": {0}}
    assert masks() == expected and 0 not in expected[f"service:{both_id}"]
    with _downgraded(db, "0023"):
        assert not _has_column(db, "search_posting", "domain_mask")
    assert masks() == expected
    found = search(SearchQuery(text="groceries"))
    assert found.total == 2 and found.facets == {"food-insecurity": 1, "homelessness": 1}
    db.session.delete(db.session.scalar(select(m.Attribute).where(
        m.Attribute.link_id == both_id, m.Attribute.taxonomy_term_id == sdoh_terms()["homelessness"]["id"])))
    db.session.commit()
    assert masks()[f"service:{both_id}"] == {domain_mask(["food-insecurity"])}
    assert search(SearchQuery(text="groceries", domains=["homelessness"])).total == 0


def test_postgres_words_alone_read_only_their_pages_rows(demo):
    """A search of words alone (a domain or not) counts its total and facets from its postings:
    of the search rows it reads only its page's, however many match; a filter on the rows reads
    its matches. (The search statement run again under EXPLAIN ANALYZE: the rows its plan's nodes
    read from search_document.)"""
    _pg_only()
    from sqlalchemy import event

    def rows_read(node: dict) -> int:
        own = node["Actual Rows"] * node["Actual Loops"] if node.get("Relation Name") == "search_document" else 0
        return own + sum(rows_read(child) for child in node.get("Plans", []))

    caught: list[tuple] = []

    def grab(_conn, _cursor, statement, parameters, *_):
        caught.append((statement, parameters))

    for words, filters in (("food", {}), ("comida", {}), ("food", {"domains": ["food-insecurity"]}),
                           ("food", {"language": "es"})):
        caught.clear()
        event.listen(demo.engine, "before_cursor_execute", grab)
        try:
            found = search(SearchQuery(text=words, per_page=3, **filters))
        finally:
            event.remove(demo.engine, "before_cursor_execute", grab)
        statement, parameters = max(caught, key=lambda c: len(c[0]))  # the search statement itself
        (plan,) = demo.session.connection().exec_driver_sql(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar()
        read = rows_read(plan["Plan"])
        assert found.total > 6 and len(found.hits) == 3, words
        if filters.get("language"):
            assert read >= found.total
        else:
            assert read == 3, (words, filters, read)


def test_postgres_rows_say_whether_their_hours_are_seasonal_from_their_migration(db, app):
    """A row whose place's weekly hours hold only in a season says so (open now checks it exactly
    whatever the day) and counts as having exceptions, its card too; migration 0023 flags the
    rows already there (its downgrade drops the flag)."""
    _pg_only()
    from datetime import date

    from sqlalchemy import text

    def flags() -> dict[str, tuple]:
        return {name: (seasonal, has, card_has) for name, seasonal, has, card_has in db.session.execute(text(
            "SELECT card ->> 'service_name', seasonal, has_exceptions, CAST(card ->> 'has_exceptions' AS boolean) "
            "FROM search_document")).all()}

    summer = _service(db, "Summer Meals")
    _service(db, "Plain Pantry", "Second Org")
    db.session.add(m.Schedule(service_id=summer.id, freq="WEEKLY", byday="MO,WE", opens_at="11:00", closes_at="13:00",
                              valid_from=date(2026, 6, 1), valid_to=date(2026, 8, 31)))
    db.session.commit()
    expected = {"Summer Meals": (True, True, True), "Plain Pantry": (False, False, False)}
    assert flags() == expected
    assert db.session.scalar(text("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_search_document_seasonal'"))
    with _downgraded(db, "0022"):
        assert not _has_column(db, "search_document", "seasonal")
        db.session.execute(text("UPDATE search_document SET has_exceptions = false, "
                                "card = card || CAST('{\"has_exceptions\": false}' AS jsonb)"))
        db.session.commit()  # as a row written before: seasonal hours were no exception
    assert flags() == expected
